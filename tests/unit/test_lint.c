/* Config lint: a matcher that names a KPI, label or severity no alert can
 * carry never matches; check-config and every (re)load say so, naming where. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../agent/config.h"
#include "../../agent/lint.h"
#include "../../lib/log.h"

struct notes {
    char text[8][512];
    int n;
};

static void collect(void *ctx, const char *text)
{
    struct notes *ns = ctx;
    if (ns->n < 8)
        snprintf(ns->text[ns->n++], sizeof ns->text[0], "%s", text);
}

#define KPIS                                                                                                           \
    "\"kpis\":[{\"name\":\"complaints\",\"metric\":\"c\",\"group_by\":[\"journey\"]},"                                 \
    "{\"name\":\"step_dropoff_rate\",\"metric\":\"d\",\"aggregation\":\"ratio\",\"denominator\":\"e\","                 \
    "\"group_by\":[\"journey\",\"step\"],\"rollups\":[[\"journey\"]]}],"                                                 \
    "\"receivers\":[{\"name\":\"r\",\"type\":\"console\"},{\"name\":\"p\",\"type\":\"console\"}]"

static int lint(const char *json, struct notes *ns)
{
    struct kw_config cfg;
    char err[512];
    cr_assert_eq(kw_config_parse(&cfg, json, "t.json", err, sizeof err), 0, "%s", err);
    memset(ns, 0, sizeof *ns);
    int n = kw_config_lint(&cfg, collect, ns);
    kw_config_release(&cfg);
    return n;
}

Test(lint, matchers_that_name_what_no_alert_carries)
{
    kw_log_set_level(KW_LOG_OFF);
    struct notes ns;
    int n = lint("{" KPIS ",\"route\":{\"receiver\":\"r\",\"routes\":["
                 "{\"receiver\":\"p\",\"matchers\":[\"kpi=complains\"]},"
                 "{\"receiver\":\"p\",\"matchers\":[\"journy=checkout\"]},"
                 "{\"receiver\":\"p\",\"matchers\":[\"severity=page\"]}]},"
                 "\"inhibit_rules\":[{\"source_matchers\":[\"kpi=journey_dropoff_rate\"],"
                 "\"target_matchers\":[\"kpi=step_dropoff_rate\"],\"equal\":[\"jorney\"]}],"
                 "\"silences\":[{\"matchers\":[{\"name\":\"stepp\",\"value\":\"pay.*\",\"op\":\"=~\"}],"
                 "\"ends_at\":\"2090-01-01T00:00:00Z\"}]}",
                 &ns);
    const char *want[] = {
        "route.routes[0]: matcher kpi=complains never matches: no KPI is named complains (KPIs: complaints, "
        "step_dropoff_rate, step_dropoff_rate:journey)",
        "route.routes[1]: matcher journy=checkout never matches: no KPI has the label journy in its group_by",
        "route.routes[2]: matcher severity=page never matches: severity is critical or warning",
        "inhibit_rules[0].source_matchers: matcher kpi=journey_dropoff_rate never matches: no KPI is named "
        "journey_dropoff_rate (KPIs: complaints, step_dropoff_rate, step_dropoff_rate:journey)",
        "inhibit_rules[0].equal: no KPI has the label jorney in its group_by, so every source and target agree on it "
        "(both without it)",
        "silences[0]: matcher stepp=~pay.* never matches: no KPI has the label stepp in its group_by",
    };
    cr_assert_eq(n, 6, "%d warnings; first: %s", n, ns.text[0]);
    for (int i = 0; i < 6; i++)
        cr_assert_str_eq(ns.text[i], want[i]);
}

/* Matchers that can match raise nothing: real KPIs (roll-ups included),
 * labels, severities, negations of anything, regexes on the KPI, and
 * regexes on any label that match the empty value of an absent one. */
Test(lint, matchers_that_can_match_are_quiet)
{
    kw_log_set_level(KW_LOG_OFF);
    struct notes ns;
    int n = lint("{" KPIS ",\"route\":{\"receiver\":\"r\",\"routes\":["
                 "{\"receiver\":\"p\",\"matchers\":[\"kpi=complaints\",\"journey=checkout\",\"severity=critical\"]},"
                 "{\"receiver\":\"p\",\"matchers\":[\"kpi=step_dropoff_rate:journey\",\"step=~pay.*\"]},"
                 "{\"receiver\":\"p\",\"matchers\":[\"kpi=~nothing.*\",\"team!=x\",\"team!~y\",\"team=\"]},"
                 "{\"receiver\":\"p\",\"matchers\":[\"team=~.*\",\"region=~(eu|)\"]}]},"
                 "\"inhibit_rules\":[{\"source_matchers\":[\"kpi=step_dropoff_rate:journey\"],"
                 "\"target_matchers\":[\"kpi=step_dropoff_rate\"],\"equal\":[\"journey\"]}]}",
                 &ns);
    cr_assert_eq(n, 0, "%d warnings; first: %s", n, ns.text[0]);
}

/* The shipped configs are clean. */
Test(lint, shipped_config_is_clean)
{
    kw_log_set_level(KW_LOG_OFF);
    struct kw_config cfg;
    char err[512];
    cr_assert_eq(kw_config_load(&cfg, "conf/kpiwatch.json", err, sizeof err), 0, "%s", err);
    struct notes ns = {0};
    int n = kw_config_lint(&cfg, collect, &ns);
    cr_assert_eq(n, 0, "%s", ns.text[0]);
    kw_config_release(&cfg);
}
