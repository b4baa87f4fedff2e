/* Config errors pinned word for word: an unknown key in every section, and
 * a section of the wrong JSON type, each name the key path and what is
 * valid. A change to any of these texts is a change users see. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/config.h"
#include "../../lib/log.h"

#define KPI "{\"name\":\"complaints\",\"metric\":\"complaints\",\"group_by\":[\"journey\"]}"
#define CONSOLE "\"receivers\":[{\"name\":\"r\",\"type\":\"console\"}]"

struct exact_case {
    char json[400];
    char error[240]; /* the whole message after "t.json: " */
};

static struct exact_case cases[] = {
    {"{\"kpis\":[" KPI "],\"agent\":{\"bogus\":1}}",
     "agent.bogus: unknown key (valid: log_level, log_format, state_dir, max_series, series_ttl, stats_interval)"},
    {"{\"kpis\":[" KPI "],\"ingest\":{\"bogus\":1}}",
     "ingest.bogus: unknown key (valid: max_labels, max_label_bytes, max_metric_bytes, max_message_bytes, receive_thread, queue_bytes, max_past, "
     "max_future)"},
    {"{\"kpis\":[" KPI "],\"inputs\":[{\"name\":\"x\",\"endpoint\":\"tcp://127.0.0.1:1\",\"bogus\":1}]}",
     "inputs[0].bogus: unknown key (valid: name, type, endpoint, mode, socket, topics, rcvhwm, format, precision)"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"bogus\":1}]}",
     "kpis[0].bogus: unknown key (24 keys are valid here; kpiwatch options lists them)"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"intervall\":\"5m\"}]}",
     "kpis[0].intervall: unknown key; did you mean \"interval\"?"},
    {"{\"kpi\":[]}", "kpi: unknown key; did you mean \"kpis\"?"},
    {"{\"kpis\":[" KPI "],\"agent\":{\"x\\n\\u001b[31mFORGED\":1}}",
     "agent.x\\n\\x1b[31mFORGED: unknown key (valid: log_level, log_format, state_dir, max_series, series_ttl, stats_interval)"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"alert\":{\"bogus\":1}}]}",
     "kpis[0].alert.bogus: unknown key (valid: for, resolve_after, critical_severity, min_severity, repeat_interval, "
     "keep_firing_for, flap_flips, flap_window, nodata_after)"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"detector\":{\"type\":\"mad\",\"bogus\":1}}]}",
     "kpis[0].detector.bogus: unknown key (valid: type, direction, min_delta, min_delta_rel, warmup, window, "
     "threshold, min_points)"},
    {"{\"kpis\":[" KPI "],\"receivers\":[{\"name\":\"r\",\"type\":\"console\",\"bogus\":1}]}",
     "receivers[0].bogus: unknown key (valid: name, type, format, stream, template, template_file, enabled, rate_limit, burst)"},
    {"{\"kpis\":[" KPI "]," CONSOLE ",\"route\":{\"receiver\":\"r\",\"bogus\":1}}",
     "route.bogus: unknown key (12 keys are valid here; kpiwatch options lists them)"},
    {"{\"kpis\":[" KPI "]," CONSOLE ",\"route\":{\"receiver\":\"r\",\"routes\":[{\"receiver\":\"r\",\"bogus\":1}]}}",
     "route.routes[0].bogus: unknown key (12 keys are valid here; kpiwatch options lists them)"},
    {"{\"kpis\":[" KPI "],\"agent\":[1]}", "agent: must be an object"},
    {"{\"kpis\":[" KPI "],\"http\":{\"port\":19520,\"port\":19521}}",
     "http.port: given more than once (which one is meant would be a guess)"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"detector\":{\"type\":\"mad\",\"window\":5,\"type\":\"zscore\"}}]}",
     "kpis[0].detector.type: given more than once (which one is meant would be a guess)"},
    {"{\"kpis\":[" KPI "],\"kpis\":[" KPI "]}", "kpis: given more than once (which one is meant would be a guess)"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"\"}]}", "kpis[0].metric: is required (a non-empty string)"},
    {"{\"kpis\":[{\"name\":\"\",\"metric\":\"m\"}]}", "kpis[0].name: is required (a non-empty string)"},
    {"{\"kpis\":[" KPI "],\"inputs\":[{\"name\":\"x\",\"endpoint\":\"\"}]}",
     "inputs[0].endpoint: is required (a non-empty string)"},
    {"{\"kpis\":[" KPI "]," CONSOLE ",\"route\":{\"receiver\":\"r\",\"routes\":[{\"receiver\":\"\"}]}}",
     "route.routes[0].receiver: must name a receiver (leave it out to inherit the parent's)"},
    {"{\"kpis\":[" KPI "]," CONSOLE ",\"route\":{\"receiver\":\"\"}}", "route.receiver: is required (the default receiver's name)"},
    {"{\"kpis\":[" KPI "],\"receivers\":[{\"name\":\"\",\"type\":\"console\"}]}",
     "receivers[0].name: is required (a non-empty string)"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"interval\":0.0004}]}", "kpis[0].interval: must be 0 (native) or >= 1s"},
    {"{\"kpis\":[" KPI "],\"receivers\":[{\"name\":\"r\",\"type\":\"console\",\"format\":\"${KW_TEST_SECRET_FORMAT}\"}]}",
     "receivers[0].format: must be one of: text, json (the value came from the environment)"},
    {"{\"kpis\":[" KPI "],\"inputs\":[" "{\"name\":\"i0\",\"endpoint\":\"tcp://127.0.0.1:1\"},{\"name\":\"i1\",\"endpoint\":\"tcp://127.0.0.1:1\"},"
     "{\"name\":\"i0\",\"endpoint\":\"tcp://127.0.0.1:2\"}]}", "inputs[2].name: \"i0\" is already used by inputs[0]"},
    {"{\"kpis\":[" KPI "],\"ingest\":[1]}", "ingest: must be an object"},
    {"{\"kpis\":[[1]]}", "kpis[0]: must be an object"},
    {"{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\",\"alert\":[1]}]}", "kpis[0].alert: must be an object"},
    {"{\"kpis\":[" KPI "],\"inputs\":[[1]]}", "inputs[0]: must be an object"},
    {"{\"kpis\":[" KPI "],\"inputs\":{\"name\":\"x\"}}", "inputs: must be an array of inputs"},
    {"{\"kpis\":[" KPI "],\"route\":[1]}", "route: must be an object"},
    {"{\"kpis\":[" KPI "]," CONSOLE ",\"route\":{\"receiver\":\"r\",\"routes\":[7]}}", "route.routes[0]: must be an object"},
    {"{\"kpis\":[" KPI "],\"receivers\":[[1]]}", "receivers[0]: must be an object with \"name\" and \"type\""},
};

ParameterizedTestParameters(config_text, pinned)
{
    return cr_make_param_array(struct exact_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct exact_case *c, config_text, pinned)
{
    kw_log_set_level(KW_LOG_OFF);
    setenv("KW_TEST_SECRET_FORMAT", "hunter2-secret-token", 1);
    struct kw_config cfg;
    char err[KW_ERR_LEN] = "", want[KW_ERR_LEN];
    cr_assert_eq(kw_config_parse(&cfg, c->json, "t.json", err, sizeof err), -1, "accepted: %s", c->json);
    snprintf(want, sizeof want, "t.json: %s", c->error);
    cr_assert_str_eq(err, want);
    cr_assert_null(strstr(err, "hunter2"), "a substituted secret leaked into the error");
}
