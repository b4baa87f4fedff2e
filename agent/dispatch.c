/* dispatch: alert routing and delivery. */
#include "dispatch.h"

#include <stdio.h>
#include <string.h>

#include "../lib/log.h"

void kw_dispatcher_init(struct kw_dispatcher *d, const struct kw_config *cfg)
{
    memset(d, 0, sizeof *d);
    d->cfg = cfg;
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

int kw_dispatch_route(const struct kw_config *cfg, const struct kw_alert *a, int *out, int n)
{
    int count = 0;
    for (int i = 0; i < cfg->nroutes && count < n; i++) {
        const struct kw_route_config *r = &cfg->routes[i];
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
        out[count++] = cfg->default_receiver_index;
    return count;
}

void kw_dispatch_alert(struct kw_dispatcher *d, const struct kw_alert *a)
{
    int targets[16];
    int n = kw_dispatch_route(d->cfg, a, targets, 16);
    for (int i = 0; i < n; i++) {
        const struct kw_receiver *r = &d->cfg->receivers[targets[i]];
        char component[96];
        snprintf(component, sizeof component, "%s/%s", r->type->name, r->name);
        d->stats.notifications++;
        struct kw_notification note = {.alerts = (struct kw_alert *)a, .nalerts = 1,
                                       .kind = a->status == KW_ALERT_RESOLVED ? KW_NOTIFY_RESOLVED : KW_NOTIFY_FIRING};
        struct kw_send_outcome out = {0};
        r->type->send(r->cfg, &note, &out);
        if (out.result == KW_SEND_OK) {
            d->stats.sent++;
        } else {
            d->stats.failed++;
            kw_error(component, "could not deliver alert %s: %s", a->key, out.reason[0] ? out.reason : "failed");
        }
    }
}
