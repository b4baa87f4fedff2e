/* route: which receivers an alert goes to. The route section names a
 * default receiver and a list of routes; each route matches alert labels
 * (the KPI name matches as label "kpi", the severity as "severity") by
 * equality and sends to its receiver. The first match wins unless it says
 * "continue"; no match means the default receiver. */
#ifndef KW_ROUTE_H
#define KW_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "../lib/opts.h"
#include "../notifiers/alert.h"
#include "../notifiers/notifier.h"

struct kw_route_config {
    struct kw_string_map match;
    char *receiver;
    int receiver_index;
    bool cont;
};

struct kw_routing {
    char *default_receiver;
    int default_index;
    struct kw_route_config *routes;
    int n;
};

/* The route.routes[] option table. */
extern const struct kw_option kw_route_options[];

/* Parse the "route" section (NULL = everything to receivers[0]) against
 * the configured receivers. Returns 0 or -1 with "route...: reason". */
int kw_routing_parse(struct kw_routing *rt, const cJSON *route, const struct kw_receiver *receivers, int nreceivers,
                     char *err, size_t errlen);
/* Free rt's contents. Safe on a zeroed struct. */
void kw_routing_release(struct kw_routing *rt);

/* Indexes of the receivers alert a goes to, into out (capacity n, no
 * duplicates). Returns how many (at least 1 when n > 0). */
int kw_routing_match(const struct kw_routing *rt, const struct kw_alert *a, int *out, int n);

#endif
