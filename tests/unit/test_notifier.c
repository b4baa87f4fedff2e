/* Unit tests for alert rendering: the one-line summary must tell a reader
 * what moved, where, by how much against what, since when, and the cost;
 * the JSON form must carry the same facts. The console notifier's delivery
 * is covered end to end by the integration tests. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../notifiers/http.h"
#include "../../notifiers/notifier.h"
#include "../checkout_alert.h"

Test(render, firing_summary_has_what_where_how_much_since_and_cost)
{
    struct kw_alert a = checkout_alert();
    char line[2048];
    kw_alert_summary(&a, line, sizeof line);
    const char *must[] = {"FIRING critical", "step_dropoff_rate", "journey=checkout, step=payment", "34.6%",
                          "6.0% expected", "+28.6 pts", "n=179", "normal 1.1%..12.3%",
                          "since 2024-11-23T09:00:00Z (10m)", "+93 lost customers over expected", "~4185 EUR",
                          "runbook https://wiki.example.com/runbooks/dropoff", "▁"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        cr_assert(strstr(line, must[i]) != NULL, "missing \"%s\" in: %s", must[i], line);
}

Test(render, resolved_summary_and_count_values)
{
    struct kw_alert a = checkout_alert();
    a.status = KW_ALERT_RESOLVED;
    a.kind = KW_KIND_COUNT;
    snprintf(a.unit, sizeof a.unit, "complaints");
    a.observed = 12;
    a.expected = 11;
    a.at_ms = a.since_ms + 5 * 300000;
    char line[2048];
    kw_alert_summary(&a, line, sizeof line);
    cr_assert(strstr(line, "RESOLVED | step_dropoff_rate [journey=checkout, step=payment] back to 12 (expected 11) after 30m") != NULL,
              "%s", line);
    cr_assert(strstr(line, "total +93 complaints over expected") != NULL, "%s", line);
}

/* The change reads as people read that kind of value: points of a rate, a
 * share of a positive count, and the plain difference for a score that can
 * be negative (an NPS of -83 against +36 is not "-332%"). Every notifier
 * and the templates' "change" show the same text. */
Test(render, change_fits_the_kind_of_value)
{
    struct kw_alert a = checkout_alert();
    char buf[128];
    cr_assert_str_eq(kw_alert_change_text(&a, buf, sizeof buf), "+28.6 pts");
    a.kind = KW_KIND_COUNT;
    snprintf(a.unit, sizeof a.unit, "complaints");
    a.observed = 12;
    a.expected = 4;
    cr_assert_str_eq(kw_alert_change_text(&a, buf, sizeof buf), "+200%");
    a.kind = KW_KIND_CONTINUOUS;
    snprintf(a.unit, sizeof a.unit, "NPS points");
    a.observed = -83.3;
    a.expected = 35.9;
    cr_assert_str_eq(kw_alert_change_text(&a, buf, sizeof buf), "-119 NPS points");
    char line[2048];
    kw_alert_summary(&a, line, sizeof line);
    cr_assert(strstr(line, "-83.3 vs 35.9 expected (-119 NPS points,") && !strstr(line, "%"), "%s", line);
    cr_assert(!strstr(line, "sustained"), "-83.3 is outside the band: %s", line);
    /* Inside the one-interval band, the alert says the evidence built up. */
    a.lower = -94.7;
    a.upper = 100;
    kw_alert_summary(&a, line, sizeof line);
    cr_assert(strstr(line, "normal -94.7..100 for one interval; a sustained shift) since"), "%s", line);
    a.unit[0] = '\0';
    a.expected = 0;
    a.observed = 2.5;
    cr_assert_str_eq(kw_alert_change_text(&a, buf, sizeof buf), "+2.5");
    a.expected = NAN;
    cr_assert_str_eq(kw_alert_change_text(&a, buf, sizeof buf), "");
}

/* An incident's total impact adds up extra events; the deviations of a
 * score (NPS points) summed over intervals are no total, and are left out. */
Test(render, total_impact_adds_events_not_scores)
{
    struct kw_alert al[2] = {checkout_alert(), checkout_alert()};
    al[1].kind = KW_KIND_CONTINUOUS;
    snprintf(al[1].unit, sizeof al[1].unit, "NPS points");
    al[1].impact = -944;
    al[1].cost_per_unit = 0;
    struct kw_notification n = {.alerts = al, .nalerts = 2};
    char buf[256];
    kw_notification_impact_text(&n, buf, sizeof buf);
    cr_assert_str_eq(buf, "+93 lost customers (~4185 EUR in all)");
    cr_assert_not(kw_alert_has_impact(&al[1]));
    cr_assert(kw_alert_has_impact(&al[0]));
}

/* A notification says what it is: a reminder (nothing changed) is "still
 * firing"; an update with news (a member joined, resolved, rose) is not. */
Test(render, status_word_tells_news_from_a_reminder)
{
    struct kw_alert a = checkout_alert();
    struct kw_notification n = {.alerts = &a, .nalerts = 1, .kind = KW_NOTIFY_FIRING};
    cr_assert_str_eq(kw_notification_status_word(&n), "FIRING");
    n.kind = KW_NOTIFY_UPDATE;
    cr_assert_str_eq(kw_notification_status_word(&n), "UPDATED");
    n.reminder = true;
    cr_assert_str_eq(kw_notification_status_word(&n), "STILL FIRING");
    n.kind = KW_NOTIFY_RESOLVED;
    cr_assert_str_eq(kw_notification_status_word(&n), "RESOLVED");
}

Test(render, json_carries_the_facts)
{
    struct kw_alert a = checkout_alert();
    cJSON *o = kw_alert_to_json(&a);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "key")->valuestring, "00112233aabbccdd");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "firing");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "kind")->valuestring, "rate");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "labels"), "step")->valuestring, "payment");
    cr_assert_float_eq(cJSON_GetObjectItem(o, "cost")->valuedouble, 93 * 45, 1e-9);
    cr_assert_str_eq(cJSON_GetObjectItem(o, "since")->valuestring, "2024-11-23T09:00:00Z");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "history")), 5);
    cJSON_Delete(o);
}

Test(render, sparkline_scales_to_range_and_marks_gaps)
{
    struct kw_alert a = {0};
    double h[] = {1, 2, NAN, 8};
    memcpy(a.history, h, sizeof h);
    a.nhistory = 4;
    char buf[64];
    cr_assert_str_eq(kw_alert_sparkline(&a, buf, sizeof buf), "▁▂ █");
}

/* Label values come from publishers: a newline in one must not start a
 * forged line in a text receiver. */
Test(render, label_values_cannot_forge_lines)
{
    struct kw_alert a = checkout_alert();
    snprintf(a.labels[0].value, sizeof a.labels[0].value, "checkout\nRESOLVED | all clear\x1b[2J");
    char line[2048];
    kw_alert_summary(&a, line, sizeof line);
    cr_assert_null(strchr(line, '\n'), "%s", line);
    cr_assert_null(strchr(line, '\x1b'), "%s", line);
    cr_assert(strstr(line, "journey=checkout\\nRESOLVED | all clear\\x1b[2J") != NULL, "%s", line);
}

/* A secret may travel over plain http only to this machine: loopback
 * addresses by their address, not by how their name starts. */
Test(http_url, plain_http_with_a_secret_only_to_loopback)
{
    cr_assert_eq(kw_http_check_url("https://hooks.slack.com/services/T/B/x", true, NULL), 0);
    cr_assert_eq(kw_http_check_url("http://127.0.0.1:8080/hook", true, NULL), 0);
    cr_assert_eq(kw_http_check_url("http://localhost:8080/hook", true, NULL), 0);
    cr_assert_eq(kw_http_check_url("http://[::1]:8080/hook", true, NULL), 0);
    cr_assert_eq(kw_http_check_url("http://127.evil.example/hook", true, NULL), -1);
    cr_assert_eq(kw_http_check_url("http://hooks.slack.com/services/T/B/x", true, NULL), -1);
    cr_assert_eq(kw_http_check_url("http://hooks.example.com/hook", false, NULL), 0, "no secret: plain http is the user's call");
}
