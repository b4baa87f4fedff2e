/* sample: the test-notify alert group. */
#include "sample.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../lib/xmalloc.h"

static void label(struct kw_alert *a, const char *name, const char *value)
{
    snprintf(a->labels[a->nlabels].name, sizeof a->labels[0].name, "%s", name);
    snprintf(a->labels[a->nlabels].value, sizeof a->labels[0].value, "%s", value);
    a->nlabels++;
}

void kw_sample_notification(struct kw_notification *n, const char *receiver, bool resolved, int64_t now_ms)
{
    memset(n, 0, sizeof *n);
    snprintf(n->receiver, sizeof n->receiver, "%s", receiver);
    snprintf(n->key, sizeof n->key, "test-notify-%s", receiver);
    n->kind = resolved ? KW_NOTIFY_RESOLVED : KW_NOTIFY_FIRING;
    n->created_ms = now_ms;
    n->nalerts = 2;
    n->alerts = xcalloc(2, sizeof *n->alerts);
    int64_t interval = 300000, at = now_ms / interval * interval - interval;

    struct kw_alert *a = &n->alerts[0];
    snprintf(a->key, sizeof a->key, "0000000000000001");
    snprintf(a->kpi, sizeof a->kpi, "step_dropoff_rate");
    snprintf(a->description, sizeof a->description, "Share of visitors who leave at a journey step (kpiwatch test-notify)");
    snprintf(a->unit, sizeof a->unit, "lost customers");
    snprintf(a->detector, sizeof a->detector, "binomial");
    snprintf(a->dashboard, sizeof a->dashboard, "https://grafana.example.com/d/journeys");
    snprintf(a->runbook, sizeof a->runbook, "https://wiki.example.com/runbooks/checkout-payment");
    snprintf(a->currency, sizeof a->currency, "EUR");
    label(a, "journey", "checkout");
    label(a, "step", "payment");
    a->kind = KW_KIND_RATE;
    a->severity = KW_SEV_CRITICAL;
    a->direction = 1;
    a->severity_score = 97;
    a->observed = resolved ? 0.061 : 0.353;
    a->expected = 0.06;
    a->lower = 0.038;
    a->upper = 0.088;
    a->score = resolved ? 0.2 : 31.8;
    a->peak_observed = 0.353;
    a->peak_expected = 0.06;
    a->denominator = 1509;
    a->impact = 443;
    a->cost_per_unit = 45;
    a->interval_ms = interval;
    a->at_ms = at;
    a->since_ms = at - 2 * interval;
    a->intervals = 3;
    a->status = resolved ? KW_ALERT_RESOLVED : KW_ALERT_FIRING;
    double h[] = {0.058, 0.061, 0.057, 0.06, 0.062, 0.059, 0.06, 0.058, 0.061, 0.06, 0.057, 0.059,
                  0.06, 0.062, 0.058, 0.06, 0.061, 0.059, 0.06, 0.058, 0.061, 0.33, 0.347, 0.353};
    memcpy(a->history, h, sizeof h);
    a->nhistory = 24;

    struct kw_alert *b = &n->alerts[1];
    snprintf(b->key, sizeof b->key, "0000000000000002");
    snprintf(b->kpi, sizeof b->kpi, "complaints");
    snprintf(b->description, sizeof b->description, "Customer complaints per journey (kpiwatch test-notify)");
    snprintf(b->unit, sizeof b->unit, "complaints");
    snprintf(b->detector, sizeof b->detector, "poisson");
    snprintf(b->runbook, sizeof b->runbook, "https://wiki.example.com/runbooks/complaints");
    snprintf(b->currency, sizeof b->currency, "EUR");
    label(b, "journey", "checkout");
    b->kind = KW_KIND_COUNT;
    b->severity = KW_SEV_WARNING;
    b->direction = 1;
    b->severity_score = 70;
    b->observed = resolved ? 6 : 28;
    b->expected = 5.2;
    b->lower = 0;
    b->upper = 11;
    b->score = resolved ? 0.1 : 11.5;
    b->peak_observed = 28;
    b->peak_expected = 5.2;
    b->denominator = NAN;
    b->impact = 54;
    b->cost_per_unit = 12;
    b->interval_ms = interval;
    b->at_ms = at;
    b->since_ms = at - interval;
    b->intervals = 2;
    b->status = a->status;
    double c[] = {4, 6, 5, 3, 7, 5, 4, 6, 5, 5, 6, 4, 5, 7, 4, 5, 6, 5, 4, 6, 5, 5, 23, 28};
    memcpy(b->history, c, sizeof c);
    b->nhistory = 24;
}
