/* Inhibition rules: a firing source inhibits matching targets with equal
 * labels, never itself, and only while it fires. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../checkout_alert.h"
#include "../../agent/inhibit.h"
#include "../../lib/log.h"

static struct kw_alert alert(const char *key, const char *kpi, const char *journey, int status)
{
    struct kw_alert a = journey_alert(key, kpi, journey);
    a.status = status;
    return a;
}

static void parse(struct kw_inhibit_rule *r, const char *json)
{
    cJSON *j = cJSON_Parse(json);
    char err[256];
    memset(r, 0, sizeof *r);
    cr_assert_eq(kw_inhibit_parse(r, j, "inhibit_rules[0]", err, sizeof err), 0, "%s", err);
    cJSON_Delete(j);
}

Test(inhibit, source_inhibits_targets_with_equal_labels)
{
    struct kw_inhibit_rule r;
    parse(&r, "{\"source_matchers\":[\"kpi=journey_dropoff\"],\"target_matchers\":[\"kpi=step_dropoff_rate\"],"
              "\"equal\":[\"journey\"]}");
    struct kw_alert src = alert("a1", "journey_dropoff", "checkout", KW_ALERT_FIRING);
    struct kw_alert same = alert("a2", "step_dropoff_rate", "checkout", KW_ALERT_FIRING);
    struct kw_alert other = alert("a3", "step_dropoff_rate", "claims", KW_ALERT_FIRING);
    struct kw_alert unrelated = alert("a4", "complaints", "checkout", KW_ALERT_FIRING);
    cr_assert(kw_inhibit_applies(&r, &src, &same));
    cr_assert_not(kw_inhibit_applies(&r, &src, &other), "equal journey differs");
    cr_assert_not(kw_inhibit_applies(&r, &src, &unrelated), "not a target");
    cr_assert_not(kw_inhibit_applies(&r, &src, &src), "never itself");
    src.status = KW_ALERT_RESOLVED;
    cr_assert_not(kw_inhibit_applies(&r, &src, &same), "only while the source fires");
    kw_inhibit_release(&r);
}

Test(inhibit, errors_name_the_key)
{
    const char *bad[][2] = {
        {"{\"target_matchers\":[\"a=b\"]}", "inhibit_rules[0].source_matchers: is required"},
        {"{\"source_matchers\":[],\"target_matchers\":[\"a=b\"]}", "inhibit_rules[0].source_matchers: must list at least one matcher"},
        {"{\"source_matchers\":[\"a~b\"],\"target_matchers\":[\"a=b\"]}", "inhibit_rules[0].source_matchers[0]: must look like"},
        {"{\"source_matchers\":[\"a=b\"],\"target_matchers\":[\"a=b\"],\"equals\":[]}", "inhibit_rules[0].equals: unknown key; did you mean \"equal\"?"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *j = cJSON_Parse(bad[i][0]);
        struct kw_inhibit_rule r = {0};
        char err[256] = "";
        cr_assert_eq(kw_inhibit_parse(&r, j, "inhibit_rules[0]", err, sizeof err), -1, "%s", bad[i][0]);
        cr_assert(strncmp(err, bad[i][1], strlen(bad[i][1])) == 0, "got \"%s\" want \"%s\"", err, bad[i][1]);
        kw_inhibit_release(&r);
        cJSON_Delete(j);
    }
}
