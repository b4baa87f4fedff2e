/* Incidents as the API and the status page show them: the outbox's groups,
 * one incident however many receivers it reached (receivers that are off
 * are not named), and alerts held back from notification grouped by
 * journey. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../checkout_alert.h"
#include "../../agent/status.h"
#include "../../lib/xmalloc.h"

static struct kw_alert alert(const char *key, const char *kpi, const char *journey, int64_t since)
{
    struct kw_alert a = journey_alert(key, kpi, journey);
    a.since_ms = since;
    return a;
}

static const char *const GROUPS =
    "{\"incidents\":["
    " {\"key\":\"k-slack\",\"receiver\":\"slack\",\"receiver_enabled\":false,\"group\":{\"journey\":\"checkout\"},"
    "  \"members\":[{\"resolved\":false,\"alert\":{\"key\":\"a1\"}},{\"resolved\":false,\"alert\":{\"key\":\"a2\"}}]},"
    " {\"key\":\"k-pd\",\"receiver\":\"pagerduty\",\"receiver_enabled\":true,\"group\":{\"journey\":\"checkout\"},"
    "  \"members\":[{\"resolved\":false,\"alert\":{\"key\":\"a2\"}},{\"resolved\":false,\"alert\":{\"key\":\"a1\"}}]},"
    " {\"key\":\"k-console\",\"receiver\":\"console\",\"receiver_enabled\":true,\"group\":{\"journey\":\"checkout\"},"
    "  \"members\":[{\"resolved\":false,\"alert\":{\"key\":\"a1\"}},{\"resolved\":false,\"alert\":{\"key\":\"a2\"}},"
    "   {\"resolved\":true,\"alert\":{\"key\":\"gone\"}}]}]}";

Test(status_incidents, engine_groups_merge_across_receivers_and_held_alerts_fall_back)
{
    struct kw_status *st = kw_status_new();
    kw_status_set_incidents(st, xstrdup(GROUPS));
    /* oldest first, as kw_status_active returns them; a3 is in no group (held back) */
    struct kw_alert active[3] = {alert("a1", "complaints", "checkout", 1000), alert("a2", "nps", "checkout", 2000),
                                 alert("a3", "complaints", "claims", 3000)};
    struct kw_status_incident *inc = NULL;
    size_t n = kw_status_incidents(st, active, 3, &inc);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(inc[0].key, "k-slack", "the first group's key");
    cr_assert_str_eq(inc[0].receivers, "pagerduty, console", "an off receiver is named: %s", inc[0].receivers);
    cr_assert_str_eq(inc[0].by, "journey");
    cr_assert_str_eq(inc[0].value, "checkout");
    cr_assert_eq(inc[0].n, 2);
    cr_assert_eq(inc[0].members[0], 0, "first mover first");
    cr_assert_eq(inc[0].since_ms, 1000);
    cr_assert_str_eq(inc[1].key, "", "the held-back alert is not an engine incident");
    cr_assert_str_eq(inc[1].value, "claims");
    cr_assert_eq(inc[1].n, 1);
    cr_assert_eq(inc[1].members[0], 2);
    kw_status_incidents_free(inc, n);
    kw_status_free(st);
}

Test(status_incidents, one_alert_in_many_groups_is_one_incident)
{
    struct kw_status *st = kw_status_new();
    kw_status_set_incidents(st, xstrdup(GROUPS));
    struct kw_alert active[1] = {alert("a1", "complaints", "checkout", 1000)};
    struct kw_status_incident *inc = NULL;
    size_t n = kw_status_incidents(st, active, 1, &inc);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(inc[0].receivers, "pagerduty, console");
    kw_status_incidents_free(inc, n);
    kw_status_free(st);
}
