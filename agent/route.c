/* route: label matchers from alerts to receivers. */
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/escape.h"
#include "../lib/xmalloc.h"

const struct kw_option kw_route_options[] = {
    {"match", KW_OPT_CUSTOM, "", offsetof(struct kw_route_config, match), KW_NORANGE,
     .parse = kw_opt_parse_string_map, .release = kw_opt_release_string_map, .type_name = "object",
     .desc = "Label equality matchers; the KPI name matches as label \"kpi\", the severity as \"severity\"."},
    {"receiver", KW_OPT_STRING, NULL, offsetof(struct kw_route_config, receiver), KW_NORANGE,
     .desc = "Receiver name for matching alerts."},
    {"continue", KW_OPT_BOOL, "false", offsetof(struct kw_route_config, cont), KW_NORANGE,
     .desc = "Keep matching later routes after this one matched."},
    KW_OPT_END,
};

static int receiver_index(const struct kw_receiver *receivers, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(receivers[i].name, name) == 0)
            return i;
    return -1;
}

int kw_routing_parse(struct kw_routing *rt, const cJSON *route, const struct kw_receiver *receivers, int nreceivers,
                     char *err, size_t errlen)
{
    memset(rt, 0, sizeof *rt);
    if (!route || cJSON_IsNull(route)) {
        rt->default_receiver = xstrdup(receivers[0].name);
        return 0;
    }
    if (!cJSON_IsObject(route)) {
        snprintf(err, errlen, "route: must be an object");
        return -1;
    }
    static const char *const extra[] = {"receiver", "routes", NULL};
    if (kw_opts_reject_unknown(route, NULL, extra, "route", err, errlen))
        return -1;
    const cJSON *recv = cJSON_GetObjectItemCaseSensitive(route, "receiver");
    if (!cJSON_IsString(recv) || !*recv->valuestring) {
        snprintf(err, errlen, "route.receiver: is required (the default receiver's name)");
        return -1;
    }
    rt->default_receiver = xstrdup(recv->valuestring);
    rt->default_index = receiver_index(receivers, nreceivers, recv->valuestring);
    if (rt->default_index < 0) {
        char shown[96];
        snprintf(err, errlen, "route.receiver: no receiver is named \"%s\"", kw_escape(shown, sizeof shown, recv->valuestring, 60));
        return -1;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(route, "routes"), *item;
    if (!arr)
        return 0;
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "route.routes: must be an array");
        return -1;
    }
    rt->routes = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *rt->routes);
    const struct kw_option *tables[] = {kw_route_options, NULL};
    cJSON_ArrayForEach(item, arr) {
        char path[KW_ERR_LEN];
        kw_path_index(path, sizeof path, "route.routes", rt->n);
        struct kw_route_config *r = &rt->routes[rt->n++];
        if (!cJSON_IsObject(item)) {
            snprintf(err, errlen, "%s: must be an object", path);
            return -1;
        }
        if (kw_opts_reject_unknown(item, tables, NULL, path, err, errlen) ||
            kw_opts_fill(kw_route_options, item, r, path, err, errlen))
            return -1;
        r->receiver_index = receiver_index(receivers, nreceivers, r->receiver);
        if (r->receiver_index < 0) {
            char shown[96];
            snprintf(err, errlen, "%s.receiver: no receiver is named \"%s\"", path, kw_escape(shown, sizeof shown, r->receiver, 60));
            return -1;
        }
    }
    return 0;
}

void kw_routing_release(struct kw_routing *rt)
{
    for (int i = 0; i < rt->n; i++)
        kw_opts_release(kw_route_options, &rt->routes[i]);
    free(rt->routes);
    free(rt->default_receiver);
    memset(rt, 0, sizeof *rt);
}

static const char *alert_label(const struct kw_alert *a, const char *name)
{
    if (strcmp(name, "kpi") == 0)
        return a->kpi;
    if (strcmp(name, "severity") == 0)
        return a->severity == KW_SEV_CRITICAL ? "critical" : "warning";
    for (int i = 0; i < a->nlabels; i++)
        if (strcmp(a->labels[i].name, name) == 0)
            return a->labels[i].value;
    return NULL;
}

static bool route_matches(const struct kw_route_config *r, const struct kw_alert *a)
{
    for (int i = 0; i < r->match.n; i++) {
        const char *v = alert_label(a, r->match.names[i]);
        if (!v || strcmp(v, r->match.values[i]) != 0)
            return false;
    }
    return true;
}

int kw_routing_match(const struct kw_routing *rt, const struct kw_alert *a, int *out, int n)
{
    int count = 0;
    for (int i = 0; i < rt->n && count < n; i++) {
        const struct kw_route_config *r = &rt->routes[i];
        if (!route_matches(r, a))
            continue;
        bool dup = false;
        for (int k = 0; k < count; k++)
            dup |= out[k] == r->receiver_index;
        if (!dup)
            out[count++] = r->receiver_index;
        if (!r->cont)
            return count;
    }
    if (count == 0 && n > 0)
        out[count++] = rt->default_index;
    return count;
}
