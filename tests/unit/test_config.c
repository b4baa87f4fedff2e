/* Unit tests for config validation: every error names the key path, syntax
 * errors name line and column, ${ENV} substitution works. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/config.h"
#include "../../lib/log.h"

#define KPI_OK "{\"name\":\"complaints\",\"metric\":\"complaints\",\"group_by\":[\"journey\"]}"

static void quiet(void)
{
    kw_log_set_level(KW_LOG_OFF);
}

Test(config, minimal_config_gets_defaults, .init = quiet)
{
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    int rc = kw_config_parse(&cfg, "{\"kpis\":[" KPI_OK "]}", "t.json", err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(cfg.nkpis, 1);
    cr_assert_eq(cfg.kpis[0].interval_ms, 300000, "interval defaults to 5m");
    cr_assert_eq(cfg.kpis[0].kind, KW_KIND_COUNT, "sum is a count");
    cr_assert_eq(cfg.kpis[0].alert.for_intervals, 1);
    cr_assert_str_eq(cfg.kpis[0].detector.type->name, "poisson", "counts default to poisson");
    cr_assert_eq(cfg.ingest.max_labels, 16);
    cr_assert_eq(cfg.nreceivers, 1, "a console receiver is added when none is configured");
    cr_assert_str_eq(cfg.receivers[0].type->name, "console");
    kw_config_release(&cfg);
}

Test(config, full_config_parses, .init = quiet)
{
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    int rc = kw_config_load(&cfg, "conf/kpiwatch.json", err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(cfg.ninputs, 1);
    cr_assert_eq(cfg.kpis[1].kind, KW_KIND_RATE);
    cr_assert_str_eq(cfg.kpis[1].detector.type->name, "binomial", "rates default to binomial");
    cr_assert_str_eq(cfg.kpis[1].denominator, "journey_step_entries");
    kw_config_release(&cfg);
}

/* Criterion may run each test in a re-executed process, so parameters hold
 * their text inline rather than pointers into this process's memory. */
struct error_case {
    char json[512];
    char expected[160]; /* substring of the error */
};

static struct error_case error_cases[] = {
    {"{\"kpis\":[" KPI_OK "," KPI_OK "]}", "kpis[1].name: \"complaints\" is already used by kpis[0]"},
    {"{\"kpis\":[]}", "kpis: must list at least one of KPIs"},
    {"{}", "kpis: is required"},
    {"{\"kpi\":[]}", "kpi: unknown key; did you mean \"kpis\"?"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"intervall\":\"5m\"}]}", "kpis[0].intervall: unknown key"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"interval\":\"5 minutes\"}]}", "kpis[0].interval: must be a duration"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"interval\":\"500ms\"}]}", "kpis[0].interval: must be 0 (native) or >= 1s"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":7}]}", "kpis[0].metric: must be a string"},
    {"{\"kpis\":[{\"name\":\"a\"}]}", "kpis[0].metric: is required"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"aggregation\":\"median\"}]}",
     "kpis[0].aggregation: must be one of: sum, count, mean, last, ratio, max, min"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"aggregation\":\"ratio\"}]}",
     "kpis[0].denominator: is required when aggregation is \"ratio\""},
    {"{\"kpis\":[" KPI_OK ",{\"name\":\"b\",\"metric\":\"m\"},{\"name\":\"c\",\"metric\":\"m\",\"detector\":{\"type\":\"mad\",\"window\":4}}]}",
     "kpis[2].detector.window: must be >= 8"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"detector\":{\"type\":\"prophet\"}}]}",
     "kpis[0].detector.type: unknown detector \"prophet\""},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"alert\":{\"for\":0}}]}", "kpis[0].alert.for: must be >= 1"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"alert\":{\"critical_severity\":101}}]}",
     "kpis[0].alert.critical_severity: must be <= 100"},
    {"{\"kpis\":[" KPI_OK "],\"ingest\":{\"max_labels\":99}}", "ingest.max_labels: must be <= 32"},
    {"{\"kpis\":[" KPI_OK "],\"agent\":{\"log_level\":\"loud\"}}", "agent.log_level: must be one of"},
    {"{\"kpis\":[" KPI_OK "],\"inputs\":[{\"name\":\"x\",\"endpoint\":\"localhost:5556\"}]}",
     "inputs[0].endpoint: must look like tcp://HOST:PORT"},
    {"{\"kpis\":[" KPI_OK "],\"inputs\":[{\"name\":\"x\",\"endpoint\":\"tcp://127.0.0.1:1\",\"socket\":\"pull\",\"topics\":[\"a\"]}]}",
     "inputs[0].topics: only a sub socket has topics"},
    {"{\"kpis\":[" KPI_OK "],\"receivers\":[{\"name\":\"r\",\"type\":\"pigeon\"}]}",
     "receivers[0].type: unknown notifier \"pigeon\""},
    {"{\"kpis\":[" KPI_OK "],\"receivers\":[{\"name\":\"r\",\"type\":\"console\",\"format\":\"xml\"}]}",
     "receivers[0].format: must be one of: text, json"},
    {"{\"kpis\":[" KPI_OK "],\"receivers\":[{\"name\":\"r\",\"type\":\"console\"}],\"route\":{\"receiver\":\"nobody\"}}",
     "route.receiver: no receiver is named \"nobody\""},
    {"{\"kpis\":[" KPI_OK "],\"receivers\":[{\"name\":\"r\",\"type\":\"console\"}],"
     "\"route\":{\"receiver\":\"r\",\"routes\":[{\"match\":{\"journey\":\"x\"},\"receiver\":\"s\"}]}}",
     "route.routes[0].receiver: no receiver is named \"s\""},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"description\":\"${KW_TEST_UNSET_VARIABLE}\"}]}",
     "kpis[0].description: environment variable KW_TEST_UNSET_VARIABLE is not set"},
};

ParameterizedTestParameters(config, errors_name_the_key_path)
{
    return cr_make_param_array(struct error_case, error_cases, sizeof error_cases / sizeof error_cases[0]);
}

ParameterizedTest(struct error_case *c, config, errors_name_the_key_path, .init = quiet)
{
    struct kw_config cfg;
    char err[KW_ERR_LEN] = "";
    cr_assert_eq(kw_config_parse(&cfg, c->json, "t.json", err, sizeof err), -1, "accepted: %s", c->json);
    cr_assert(strstr(err, c->expected) != NULL, "error \"%s\" lacks \"%s\"", err, c->expected);
    cr_assert(strncmp(err, "t.json: ", 8) == 0, "error names the file: %s", err);
}

Test(config, syntax_error_names_line_and_column, .init = quiet)
{
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    const char *text = "{\n  \"kpis\": [\n    {\"name\": \"a\" \"metric\": \"m\"}\n  ]\n}\n";
    cr_assert_eq(kw_config_parse(&cfg, text, "bad.json", err, sizeof err), -1);
    cr_assert(strncmp(err, "bad.json:3:18: JSON syntax error", 32) == 0, "%s", err);
}

Test(config, environment_substitution, .init = quiet)
{
    setenv("KW_TEST_JOURNEY_DESC", "Checkout complaints", 1);
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    const char *text = "{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"description\":\"${KW_TEST_JOURNEY_DESC} (${KW_NOT_SET:-all})\"}]}";
    cr_assert_eq(kw_config_parse(&cfg, text, "t.json", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(cfg.kpis[0].description, "Checkout complaints (all)");
    kw_config_release(&cfg);
}

/* A receiver that is off says why: the variable its "enabled" names, or the literal. */
Test(config, a_receiver_that_is_off_says_why, .init = quiet)
{
    unsetenv("KW_TEST_HOOK_UNSET");
    setenv("KW_TEST_HOOK_EMPTY", "", 1);
    setenv("KW_TEST_HOOK_SET", "https://hooks.example.com/x", 1);
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    const char *text = "{\"kpis\":[" KPI_OK "],\"receivers\":["
                       "{\"name\":\"a\",\"type\":\"console\",\"enabled\":\"${KW_TEST_HOOK_UNSET:+true}\"},"
                       "{\"name\":\"b\",\"type\":\"console\",\"enabled\":false},"
                       "{\"name\":\"c\",\"type\":\"console\",\"enabled\":\"${KW_TEST_HOOK_SET:+true}\"},"
                       "{\"name\":\"d\",\"type\":\"console\",\"enabled\":\"${KW_TEST_HOOK_EMPTY:+true}\"}]}";
    cr_assert_eq(kw_config_parse(&cfg, text, "t.json", err, sizeof err), 0, "%s", err);
    cr_assert(cfg.receivers[0].disabled);
    cr_assert_str_eq(cfg.receivers[0].off_reason, "KW_TEST_HOOK_UNSET is not set (\"enabled\": \"${KW_TEST_HOOK_UNSET:+true}\")");
    cr_assert_str_eq(cfg.receivers[1].off_reason, "\"enabled\" is false");
    cr_assert_not(cfg.receivers[2].disabled);
    cr_assert_str_eq(cfg.receivers[2].off_reason, "");
    cr_assert_str_eq(cfg.receivers[3].off_reason, "KW_TEST_HOOK_EMPTY is empty (\"enabled\": \"${KW_TEST_HOOK_EMPTY:+true}\")");
    kw_config_release(&cfg);
}

Test(config, continuous_default_falls_back_when_the_season_does_not_fit, .init = quiet)
{
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_config_parse(&cfg, "{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"aggregation\":\"mean\",\"interval\":\"5m\"},"
                                 "{\"name\":\"b\",\"metric\":\"m\",\"aggregation\":\"mean\",\"interval\":\"7m\"}]}",
                                 "t.json", err, sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(cfg.kpis[0].detector.type->name, "holt_winters");
    cr_assert_str_eq(cfg.kpis[1].detector.type->name, "mad", "a 1d season does not divide into 7m intervals");
    kw_config_release(&cfg);
    /* an explicit detector that cannot run is an error, not a silent swap */
    cr_assert_eq(kw_config_parse(&cfg, "{\"kpis\":[{\"name\":\"b\",\"metric\":\"m\",\"aggregation\":\"mean\",\"interval\":\"7m\","
                                 "\"detector\":{\"type\":\"holt_winters\"}}]}",
                                 "t.json", err, sizeof err),
                 -1);
    cr_assert(strstr(err, "kpis[0].detector:") != NULL, "%s", err);
}

Test(config, native_interval, .init = quiet)
{
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_config_parse(&cfg, "{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"aggregation\":\"last\",\"interval\":\"native\"}]}",
                                 "t.json", err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(cfg.kpis[0].interval_ms, 0);
    cr_assert_eq(cfg.kpis[0].kind, KW_KIND_CONTINUOUS);
    kw_config_release(&cfg);
}

Test(config, reference_lists_every_section, .init = quiet)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    kw_config_print_reference(f);
    fclose(f);
    cr_assert(strstr(buf, "| `max_series` | integer | 100000 |") != NULL);
    cr_assert(strstr(buf, "#### `kpis[].alert`") != NULL);
    cr_assert(strstr(buf, "#### detector `threshold`") != NULL);
    cr_assert(strstr(buf, "#### receiver `console`") != NULL);
    free(buf);
}

/* ${VAR:+word} and "enabled" let a config carry a receiver that turns on
 * only when its secret is in the environment. */
Test(config, receiver_enabled_only_when_its_variable_is_set, .init = quiet)
{
    const char *text = "{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\"}],\"receivers\":[{\"name\":\"c\",\"type\":\"console\"},"
                       "{\"name\":\"s\",\"type\":\"slack\",\"enabled\":\"${KW_TEST_HOOK:+true}\",\"webhook_url\":\"${KW_TEST_HOOK:-}\"}]}";
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    unsetenv("KW_TEST_HOOK");
    cr_assert_eq(kw_config_parse(&cfg, text, "t.json", err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.nreceivers, 2);
    cr_assert(cfg.receivers[1].disabled, "no variable: off, and its empty URL is not an error");
    kw_config_release(&cfg);
    setenv("KW_TEST_HOOK", "https://hooks.slack.com/services/T0/B0/x", 1);
    cr_assert_eq(kw_config_parse(&cfg, text, "t.json", err, sizeof err), 0, "%s", err);
    cr_assert_not(cfg.receivers[1].disabled);
    kw_config_release(&cfg);
    unsetenv("KW_TEST_HOOK");
}
