/* Sample alerts shared by the unit tests (tests/unit/) and the delivery
 * tests (tests/delivery/rig.h): the checkout alert the notifier tests render
 * and send, and a bare one-journey alert.
 * Header-only, so neither suite links the other's objects. */
#ifndef KW_TEST_CHECKOUT_ALERT_H
#define KW_TEST_CHECKOUT_ALERT_H

#include <stdio.h>
#include <string.h>

#include "../notifiers/alert.h"

/* A bare alert of kpi for one journey, for tests that only group, route or
 * inhibit by labels. */
static inline struct kw_alert journey_alert(const char *key, const char *kpi, const char *journey)
{
    struct kw_alert a = {0};
    snprintf(a.key, sizeof a.key, "%s", key);
    snprintf(a.kpi, sizeof a.kpi, "%s", kpi);
    snprintf(a.labels[0].name, sizeof a.labels[0].name, "journey");
    snprintf(a.labels[0].value, sizeof a.labels[0].value, "%s", journey);
    a.nlabels = 1;
    return a;
}

/* A checkout payment drop-off rate up from 6% to 34.6% (n=179, 93 lost
 * customers at 45 EUR each) since 2024-11-23T09:00:00Z, as the alert
 * engine reports it. */
static inline struct kw_alert checkout_alert(void)
{
    struct kw_alert a = {0};
    snprintf(a.key, sizeof a.key, "00112233aabbccdd");
    snprintf(a.kpi, sizeof a.kpi, "step_dropoff_rate");
    snprintf(a.description, sizeof a.description, "Share of customers leaving at this step");
    snprintf(a.unit, sizeof a.unit, "lost customers");
    snprintf(a.currency, sizeof a.currency, "EUR");
    snprintf(a.detector, sizeof a.detector, "binomial");
    snprintf(a.runbook, sizeof a.runbook, "https://wiki.example.com/runbooks/dropoff");
    snprintf(a.dashboard, sizeof a.dashboard, "https://grafana.example.com/d/checkout");
    snprintf(a.labels[0].name, sizeof a.labels[0].name, "journey");
    snprintf(a.labels[0].value, sizeof a.labels[0].value, "checkout");
    snprintf(a.labels[1].name, sizeof a.labels[1].name, "step");
    snprintf(a.labels[1].value, sizeof a.labels[1].value, "payment");
    a.nlabels = 2;
    a.kind = KW_KIND_RATE;
    a.status = KW_ALERT_FIRING;
    a.severity = KW_SEV_CRITICAL;
    a.direction = 1;
    a.observed = 0.346;
    a.expected = 0.06;
    a.lower = 0.011;
    a.upper = 0.123;
    a.score = 30;
    a.severity_score = 91;
    a.denominator = 179;
    a.impact = 93;
    a.cost_per_unit = 45;
    a.since_ms = 1732352400000LL; /* 2024-11-23T09:00:00Z */
    a.at_ms = a.since_ms + 300000;
    a.interval_ms = 300000;
    a.intervals = 2;
    double h[] = {0.06, 0.058, 0.061, 0.3, 0.346};
    memcpy(a.history, h, sizeof h);
    a.nhistory = 5;
    return a;
}

#endif
