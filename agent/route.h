/* route: the routing tree, as Alertmanager's. The "route" section is the
 * root node; each node has matchers, a receiver, group_by and timings, and
 * child "routes". Children inherit what they leave unset. An alert walks
 * the tree from the root: it descends into the first child that matches
 * (and on into later matching children too when that child says
 * "continue"); where no child matches, the node itself takes the alert. The
 * nodes an alert ends at decide its receivers and how it is grouped.
 * `kpiwatch routes test` walks the same tree. */
#ifndef KW_ROUTE_H
#define KW_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../lib/opts.h"
#include "../notifiers/alert.h"
#include "../notifiers/notifier.h"
#include "matcher.h"
#include "timeinterval.h"

#define KW_ROUTE_PATH 160

struct kw_route_node {
    int parent;                    /* -1 for the root */
    char path[KW_ROUTE_PATH];      /* "route", "route.routes[1].routes[0]": for logs and routes test */
    struct kw_matcher *matchers;   /* from "matchers" and "match"; all must hold */
    int nmatchers;
    int receiver;                  /* index into the config's receivers (inherited) */
    struct kw_string_list group_by;/* labels that split alerts into groups (inherited); "kpi" allowed */
    int64_t group_wait_ms;         /* event time a new group waits before its first notification */
    int64_t group_interval_ms;     /* event time between notifications of a changed group */
    int64_t repeat_interval_ms;    /* event time after which an unchanged firing group is notified again */
    int64_t correlation_window_ms; /* a member must start this close to the group's first mover; 0 = any */
    bool cont;                     /* keep matching later siblings after this one matched */
    int *mute, nmute;              /* indexes of time intervals in which it sends nothing (inherited) */
    int *active, nactive;          /* when any: it sends only inside one of these (inherited) */
    int *children;
    int nchildren;
};

struct kw_routing {
    struct kw_route_node *nodes;   /* nodes[0] is the root */
    int n;
};

/* The option table of a route node (for the reference). */
extern const struct kw_option kw_route_options[];

/* Parse the "route" section (NULL = everything to receivers[0]) against
 * the configured receivers and time intervals (NULL = none). Returns 0 or
 * -1 with "route...: reason". */
int kw_routing_parse(struct kw_routing *rt, const cJSON *route, const struct kw_receiver *receivers, int nreceivers,
                     const struct kw_time_intervals *intervals, char *err, size_t errlen);
/* Free rt's contents. Safe on a zeroed struct. */
void kw_routing_release(struct kw_routing *rt);

/* The nodes alert a ends at, into out (capacity n), in tree order. Returns
 * how many (at least 1 when n > 0: the root catches what nothing else does). */
int kw_routing_nodes(const struct kw_routing *rt, const struct kw_alert *a, int *out, int n);
/* Is node muted at UTC instant ms: inside one of its mute intervals, or
 * outside all of its active ones? intervals are the ones it was parsed with. */
bool kw_route_muted(const struct kw_route_node *node, const struct kw_time_intervals *intervals, int64_t ms);
/* Indexes of the receivers alert a goes to, into out (capacity n, no
 * duplicates). Returns how many. */
int kw_routing_match(const struct kw_routing *rt, const struct kw_alert *a, int *out, int n);

#endif
