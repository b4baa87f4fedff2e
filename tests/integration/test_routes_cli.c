/* `kpiwatch routes test` through the real binary: it lists each reached
 * node's mute and active time intervals, and with --at says whether the
 * node would send or be muted at that time (business hours in Berlin). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct agent_proc cfg;

static void fini(void)
{
    agent_cleanup(&cfg);
}

static const char *const CONFIG =
    "{\"kpis\": [{\"name\": \"complaints\", \"metric\": \"complaints\"}],"
    " \"receivers\": [{\"name\": \"cx-slack\", \"type\": \"console\"}, {\"name\": \"on-call\", \"type\": \"console\"}],"
    " \"time_intervals\": [{\"name\": \"business-hours\", \"time_intervals\": [{\"weekdays\": [\"monday:friday\"],"
    "   \"times\": [{\"start_time\": \"09:00\", \"end_time\": \"17:00\"}], \"location\": \"Europe/Berlin\"}]}],"
    " \"route\": {\"receiver\": \"cx-slack\", \"routes\": ["
    "   {\"matchers\": [\"severity=critical\"], \"receiver\": \"on-call\"},"
    "   {\"matchers\": [\"severity!=critical\"], \"active_time_intervals\": [\"business-hours\"]}]}}";

static char *routes_test(const char *args, int *rc)
{
    char cmd[1024], *out;
    snprintf(cmd, sizeof cmd, "%s routes test -c %s %s 2>&1", harness_binary(), cfg.config, args);
    *rc = run_capture(cmd, &out);
    return out;
}

Test(routes_cli, at_tells_whether_a_node_is_muted, .fini = fini, .timeout = 30)
{
    agent_prepare(&cfg, CONFIG);
    int rc;
    char *out = routes_test("journey=checkout", &rc);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_str_eq(out, "cx-slack  via route.routes[1]  group_by [journey]  active_time_intervals [business-hours]\n");
    free(out);
    /* Monday 10:00 in Berlin is 09:00 UTC: inside business hours */
    out = routes_test("--at 2026-03-09T09:00:00Z journey=checkout", &rc);
    cr_assert(rc == 0 && strstr(out, "sends at 2026-03-09T09:00:00Z"), "%s", out);
    free(out);
    /* Monday 08:30 UTC is 09:30 in Berlin, 16:30 UTC is 17:30: after hours */
    out = routes_test("--at 2026-03-09T08:30:00Z journey=checkout", &rc);
    cr_assert(rc == 0 && strstr(out, "sends at"), "%s", out);
    free(out);
    out = routes_test("--at 2026-03-09T16:30:00Z journey=checkout", &rc);
    cr_assert(rc == 0 && strstr(out, "muted at"), "%s", out);
    free(out);
    /* Saturday: muted; a critical alert goes to on-call, which has no intervals */
    out = routes_test("--at 2026-03-07T10:00:00+01:00 journey=checkout", &rc);
    cr_assert(rc == 0 && strstr(out, "muted at 2026-03-07T10:00:00+01:00"), "%s", out);
    free(out);
    out = routes_test("--at 2026-03-07T10:00:00+01:00 severity=critical", &rc);
    cr_assert_str_eq(out, "on-call  via route.routes[0]  group_by [journey]  sends at 2026-03-07T10:00:00+01:00\n");
    free(out);
    out = routes_test("--at tomorrow", &rc);
    cr_assert(rc == 2 && strstr(out, "--at takes an RFC 3339 time"), "%s", out);
    free(out);
}
