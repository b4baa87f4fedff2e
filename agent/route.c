/* route: the routing tree: parsing with inheritance, and the walk. */
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/escape.h"
#include "../lib/xmalloc.h"

#define MAX_NODES 1000
#define MAX_DEPTH 16

/* A node's own keys. Timings and group_by left out are inherited, so their
 * defaults are the root's; receiver is required on the root only. */
struct node_options {
    char *receiver;
    struct kw_string_list matchers;
    struct kw_string_map match;
    struct kw_string_list group_by;
    int64_t group_wait_ms, group_interval_ms, repeat_interval_ms;
    int64_t correlation_window_ms;
    bool cont;
    struct kw_string_list mute, active;
};

const struct kw_option kw_route_options[] = {
    {"receiver", KW_OPT_STRING, "", offsetof(struct node_options, receiver), KW_NORANGE,
     .desc = "Receiver name for the alerts this node takes; required on the root, inherited below."},
    {"matchers", KW_OPT_CUSTOM, "", offsetof(struct node_options, matchers), KW_NORANGE,
     .parse = kw_opt_parse_string_list, .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "Conditions that must all hold: \"journey=checkout\", \"severity!=warning\", \"step=~pay.*\", \"kpi!~test_.*\" "
             "(regexes anchored); the KPI name is label kpi, the severity label severity."},
    {"match", KW_OPT_CUSTOM, "", offsetof(struct node_options, match), KW_NORANGE,
     .parse = kw_opt_parse_string_map, .release = kw_opt_release_string_map, .type_name = "object",
     .desc = "Label equality matchers, {\"journey\": \"checkout\"}: the same as \"journey=checkout\" in matchers."},
    {"group_by", KW_OPT_CUSTOM, "", offsetof(struct node_options, group_by), KW_NORANGE,
     .parse = kw_opt_parse_string_list, .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "Labels whose values split alerts into groups, one notification per group (an incident). "
             "Root default [\"journey\"]; [] puts every alert of the node in one group; inherited when unset."},
    {"group_wait", KW_OPT_DURATION, "30s", offsetof(struct node_options, group_wait_ms), 0, 86400,
     .desc = "Event time a new group waits for more members before its first notification (inherited when unset)."},
    {"group_interval", KW_OPT_DURATION, "5m", offsetof(struct node_options, group_interval_ms), 0, 86400,
     .desc = "Event time between notifications of a group that changed (inherited when unset)."},
    {"repeat_interval", KW_OPT_DURATION, "4h", offsetof(struct node_options, repeat_interval_ms), 0, 604800,
     .desc = "Event time after which a still-firing, unchanged group is notified again; 0 = never (inherited when unset)."},
    {"correlation_window", KW_OPT_DURATION, "0", offsetof(struct node_options, correlation_window_ms), 0, 604800,
     .desc = "An alert joins an open group (incident) only when it started within this much event time of the "
             "group's first mover; a later one opens a new incident with the same group_by values. 0 = while any "
             "member fires, as Alertmanager groups (inherited when unset)."},
    {"continue", KW_OPT_BOOL, "false", offsetof(struct node_options, cont), KW_NORANGE,
     .desc = "Keep matching later sibling routes after this one matched."},
    {"mute_time_intervals", KW_OPT_CUSTOM, "", offsetof(struct node_options, mute), KW_NORANGE,
     .parse = kw_opt_parse_string_list, .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "Names of time_intervals in which this node sends nothing (its groups go on as if it had sent); "
             "inherited when unset, [] clears."},
    {"active_time_intervals", KW_OPT_CUSTOM, "", offsetof(struct node_options, active), KW_NORANGE,
     .parse = kw_opt_parse_string_list, .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "Names of time_intervals outside all of which this node sends nothing; [] = always active; "
             "inherited when unset."},
    KW_OPT_END,
};

static int receiver_index(const struct kw_receiver *receivers, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(receivers[i].name, name) == 0)
            return i;
    return -1;
}

static void copy_list(struct kw_string_list *dst, const struct kw_string_list *src)
{
    dst->items = xcalloc((size_t)src->n + 1, sizeof *dst->items);
    dst->n = src->n;
    for (int i = 0; i < src->n; i++)
        dst->items[i] = xstrdup(src->items[i]);
}

struct parse_ctx {
    struct kw_routing *rt;
    const struct kw_receiver *receivers;
    int nreceivers;
    const struct kw_time_intervals *intervals; /* may be NULL */
    char *err;
    size_t errlen;
};

/* The node's own interval list (names resolved to indexes) when obj has
 * key, else a copy of the parent's. Returns 0 or -1 with err. */
static int interval_list(struct parse_ctx *c, const cJSON *obj, const char *key, const struct kw_string_list *names,
                         const int *up, int nup, int **out, int *n, const char *path)
{
    bool own = cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
    *n = 0;
    *out = xcalloc((size_t)(own ? names->n : nup) + 1, sizeof **out);
    if (!own) {
        for (int i = 0; i < nup; i++)
            (*out)[i] = up[i];
        *n = nup;
        return 0;
    }
    for (int i = 0; i < names->n; i++) {
        int idx = c->intervals ? kw_time_intervals_find(c->intervals, names->items[i]) : -1;
        if (idx < 0) {
            char shown[96];
            snprintf(c->err, c->errlen, "%s.%s[%d]: no time interval is named \"%s\" (see time_intervals)", path, key, i,
                     kw_escape(shown, sizeof shown, names->items[i], 60));
            return -1;
        }
        (*out)[(*n)++] = idx;
    }
    return 0;
}

/* Parse obj as a node with parent (-1 for the root). Returns the node's
 * index or -1. */
static int parse_node(struct parse_ctx *c, const cJSON *obj, int parent, const char *path, int depth)
{
    struct kw_routing *rt = c->rt;
    if (!cJSON_IsObject(obj)) {
        snprintf(c->err, c->errlen, "%s: must be an object", path);
        return -1;
    }
    if (depth > MAX_DEPTH || rt->n >= MAX_NODES) {
        snprintf(c->err, c->errlen, "%s: the routing tree is deeper than %d or has more than %d routes", path,
                 MAX_DEPTH, MAX_NODES);
        return -1;
    }
    const struct kw_option *tables[] = {kw_route_options, NULL};
    static const char *const extra[] = {"routes", NULL};
    if (kw_opts_reject_unknown(obj, tables, extra, path, c->err, c->errlen))
        return -1;
    struct node_options o = {0};
    if (kw_opts_fill(kw_route_options, obj, &o, path, c->err, c->errlen)) {
        kw_opts_release(kw_route_options, &o);
        return -1;
    }
    int idx = rt->n++;
    rt->nodes = xrealloc(rt->nodes, (size_t)rt->n * sizeof *rt->nodes);
    struct kw_route_node *node = &rt->nodes[idx];
    memset(node, 0, sizeof *node);
    node->parent = parent;
    snprintf(node->path, sizeof node->path, "%s", path);
    node->cont = o.cont;
    const struct kw_route_node *up = parent >= 0 ? &rt->nodes[parent] : NULL;
    int rc = -1;

    /* receiver: own, else the parent's; the root must name one */
    const cJSON *rname = cJSON_GetObjectItemCaseSensitive(obj, "receiver");
    if (up && cJSON_IsString(rname) && !*rname->valuestring) {
        snprintf(c->err, c->errlen, "%s.receiver: must name a receiver (leave it out to inherit the parent's)", path);
        goto out;
    }
    if (o.receiver) {
        node->receiver = receiver_index(c->receivers, c->nreceivers, o.receiver);
        if (node->receiver < 0) {
            char shown[96];
            snprintf(c->err, c->errlen, "%s.receiver: no receiver is named \"%s\"", path,
                     kw_escape(shown, sizeof shown, o.receiver, 60));
            goto out;
        }
    } else if (up) {
        node->receiver = up->receiver;
    } else {
        snprintf(c->err, c->errlen, "%s.receiver: is required (the default receiver's name)", path);
        goto out;
    }
    /* timings and group_by: own when given, else inherited */
    if (!up || cJSON_GetObjectItemCaseSensitive(obj, "group_by"))
        copy_list(&node->group_by, &o.group_by);
    else
        copy_list(&node->group_by, &up->group_by);
    if (!up && !cJSON_GetObjectItemCaseSensitive(obj, "group_by")) {
        kw_opt_release_string_list(&node->group_by); /* root default: one incident per journey */
        node->group_by.items = xcalloc(2, sizeof *node->group_by.items);
        node->group_by.items[0] = xstrdup("journey");
        node->group_by.n = 1;
    }
    node->group_wait_ms = !up || cJSON_GetObjectItemCaseSensitive(obj, "group_wait") ? o.group_wait_ms : up->group_wait_ms;
    node->correlation_window_ms = !up || cJSON_GetObjectItemCaseSensitive(obj, "correlation_window")
                                      ? o.correlation_window_ms
                                      : up->correlation_window_ms;
    node->group_interval_ms =
        !up || cJSON_GetObjectItemCaseSensitive(obj, "group_interval") ? o.group_interval_ms : up->group_interval_ms;
    node->repeat_interval_ms =
        !up || cJSON_GetObjectItemCaseSensitive(obj, "repeat_interval") ? o.repeat_interval_ms : up->repeat_interval_ms;
    /* matchers: the strings, then the equality map */
    node->matchers = xcalloc((size_t)(o.matchers.n + o.match.n) + 1, sizeof *node->matchers);
    for (int i = 0; i < o.matchers.n; i++) {
        char mpath[KW_ERR_LEN];
        snprintf(mpath, sizeof mpath, "%s.matchers[%d]", path, i);
        if (kw_matcher_parse(&node->matchers[node->nmatchers], o.matchers.items[i], mpath, c->err, c->errlen))
            goto out;
        node->nmatchers++;
    }
    for (int i = 0; i < o.match.n; i++) {
        char mpath[KW_ERR_LEN];
        snprintf(mpath, sizeof mpath, "%s.match.%s", path, o.match.names[i]);
        if (kw_matcher_set(&node->matchers[node->nmatchers], o.match.names[i], "=", o.match.values[i], mpath, c->err,
                           c->errlen))
            goto out;
        node->nmatchers++;
    }
    if (interval_list(c, obj, "mute_time_intervals", &o.mute, up ? up->mute : NULL, up ? up->nmute : 0, &node->mute,
                      &node->nmute, path) ||
        interval_list(c, obj, "active_time_intervals", &o.active, up ? up->active : NULL, up ? up->nactive : 0,
                      &node->active, &node->nactive, path))
        goto out;
    if (!up && node->nmatchers > 0) {
        snprintf(c->err, c->errlen, "%s: the root route matches every alert; put matchers on its routes", path);
        goto out;
    }
    rc = idx;
out:
    kw_opts_release(kw_route_options, &o);
    if (rc < 0)
        return -1;
    /* children (node may move when nodes grows: use the index) */
    const cJSON *routes = cJSON_GetObjectItemCaseSensitive(obj, "routes"), *child;
    if (!routes || cJSON_IsNull(routes))
        return idx;
    if (!cJSON_IsArray(routes)) {
        snprintf(c->err, c->errlen, "%s.routes: must be an array", path);
        return -1;
    }
    int i = 0;
    cJSON_ArrayForEach(child, routes) {
        char cpath[KW_ROUTE_PATH];
        snprintf(cpath, sizeof cpath, "%s.routes[%d]", path, i++);
        int ci = parse_node(c, child, idx, cpath, depth + 1);
        if (ci < 0)
            return -1;
        struct kw_route_node *self = &rt->nodes[idx];
        self->children = xrealloc(self->children, (size_t)(self->nchildren + 1) * sizeof *self->children);
        self->children[self->nchildren++] = ci;
    }
    return idx;
}

int kw_routing_parse(struct kw_routing *rt, const cJSON *route, const struct kw_receiver *receivers, int nreceivers,
                     const struct kw_time_intervals *intervals, char *err, size_t errlen)
{
    memset(rt, 0, sizeof *rt);
    cJSON *fallback = NULL;
    if (!route || cJSON_IsNull(route)) {
        /* no route section: everything to the first receiver */
        fallback = cJSON_CreateObject();
        cJSON_AddStringToObject(fallback, "receiver", receivers[0].name);
        route = fallback;
    }
    struct parse_ctx c = {rt, receivers, nreceivers, intervals, err, errlen};
    int rc = parse_node(&c, route, -1, "route", 0) < 0 ? -1 : 0;
    cJSON_Delete(fallback);
    return rc;
}

void kw_routing_release(struct kw_routing *rt)
{
    for (int i = 0; i < rt->n; i++) {
        struct kw_route_node *node = &rt->nodes[i];
        for (int m = 0; m < node->nmatchers; m++)
            kw_matcher_release(&node->matchers[m]);
        free(node->matchers);
        kw_opt_release_string_list(&node->group_by);
        free(node->children);
        free(node->mute);
        free(node->active);
    }
    free(rt->nodes);
    memset(rt, 0, sizeof *rt);
}

static bool node_matches(const struct kw_route_node *node, const struct kw_alert *a)
{
    for (int i = 0; i < node->nmatchers; i++)
        if (!kw_matcher_matches(&node->matchers[i], a))
            return false;
    return true;
}

/* Where a goes below node idx (which matched): the deepest matching nodes. */
static void walk(const struct kw_routing *rt, int idx, const struct kw_alert *a, int *out, int n, int *count)
{
    const struct kw_route_node *node = &rt->nodes[idx];
    bool any = false;
    for (int i = 0; i < node->nchildren; i++) {
        const struct kw_route_node *child = &rt->nodes[node->children[i]];
        if (!node_matches(child, a))
            continue;
        any = true;
        walk(rt, node->children[i], a, out, n, count);
        if (!child->cont)
            break;
    }
    if (!any && *count < n)
        out[(*count)++] = idx;
}

int kw_routing_nodes(const struct kw_routing *rt, const struct kw_alert *a, int *out, int n)
{
    int count = 0;
    if (rt->n > 0 && n > 0)
        walk(rt, 0, a, out, n, &count);
    return count;
}

bool kw_route_muted(const struct kw_route_node *node, const struct kw_time_intervals *intervals, int64_t ms)
{
    for (int i = 0; i < node->nmute; i++)
        if (kw_time_interval_contains(&intervals->items[node->mute[i]], ms))
            return true;
    for (int i = 0; i < node->nactive; i++)
        if (kw_time_interval_contains(&intervals->items[node->active[i]], ms))
            return false;
    return node->nactive > 0;
}

int kw_routing_match(const struct kw_routing *rt, const struct kw_alert *a, int *out, int n)
{
    int nodes[64];
    int nn = kw_routing_nodes(rt, a, nodes, 64), count = 0;
    for (int i = 0; i < nn && count < n; i++) {
        int r = rt->nodes[nodes[i]].receiver;
        bool dup = false;
        for (int k = 0; k < count; k++)
            dup |= out[k] == r;
        if (!dup)
            out[count++] = r;
    }
    return count;
}
