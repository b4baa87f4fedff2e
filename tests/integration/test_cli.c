/* The command line as a user meets it: every subcommand answers --help with
 * its own usage and exit 0; a usage error prints that same usage and exits
 * 2; numbers out of range are refused, not wrapped. Replay delivers through
 * the configured receivers, so a JSON console receiver prints JSON.
 * `template render` prints a receiver's rendered templates or its built-in
 * request body (secrets redacted), with exit codes 1, 2 and 3 for an unknown
 * receiver, a usage error and a template error. A receiver that is off is
 * named with why by check-config, test-notify (exit 1) and the startup log;
 * send refuses a payload in the other format than its input reads; without
 * -c a command falls back to the checkout's conf/kpiwatch.json. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const char *const subcommands[] = {"run", "check-config", "demo", "replay", "options", "silence"};

Test(cli, every_subcommand_has_help, .timeout = 30)
{
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        char cmd[256], want[64], *out;
        snprintf(cmd, sizeof cmd, "%s %s --help", harness_binary(), subcommands[i]);
        cr_assert_eq(run_capture(cmd, &out), 0, "%s: %s", cmd, out);
        snprintf(want, sizeof want, "Usage: kpiwatch %s ", subcommands[i]);
        cr_assert(strncmp(out, want, strlen(want)) == 0, "%s printed: %s", cmd, out);
        free(out);
    }
}

/* The usage printed after a usage error is exactly what --help prints. */
Test(cli, usage_error_prints_the_help_usage, .timeout = 30)
{
    const char *bad[][2] = {{"replay", "--bogus"}, {"run", "--bogus"}, {"demo", "--bogus"},
                            {"check-config", "--bogus"}, {"options", "extra"}, {"silence", "--bogus"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cmd[256], *help, *err;
        snprintf(cmd, sizeof cmd, "%s %s --help 2>&1", harness_binary(), bad[i][0]);
        cr_assert_eq(run_capture(cmd, &help), 0);
        snprintf(cmd, sizeof cmd, "%s %s %s 2>&1", harness_binary(), bad[i][0], bad[i][1]);
        cr_assert_eq(run_capture(cmd, &err), 2, "%s: %s", cmd, err);
        const char *usage = strstr(err, "Usage: ");
        cr_assert_not_null(usage, "%s: no usage in %s", cmd, err);
        cr_assert_str_eq(usage, help, "%s", cmd);
        free(help);
        free(err);
    }
}

Test(cli, numbers_out_of_range_are_refused, .timeout = 30)
{
    const char *args[] = {"run --seconds 9223372036854775807", "run --seconds -1", "run --seconds 12abc",
                          "demo --speed 0", "demo --speed 600001", "demo --seconds 99999999999999999999"};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        char cmd[256], *out;
        snprintf(cmd, sizeof cmd, "%s %s -c conf/kpiwatch.json 2>&1", harness_binary(), args[i]);
        cr_assert_eq(run_capture(cmd, &out), 2, "%s: %s", cmd, out);
        cr_assert(strstr(out, "must be a whole number") != NULL, "%s: %s", cmd, out);
        free(out);
    }
}

/* replay sends to the configured receivers: a console receiver in JSON
 * format prints JSON lines with no --json flag. */
Test(cli, replay_uses_the_configured_receivers, .timeout = 60)
{
    char dir[] = "/tmp/kw-cli-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char *golden = read_file("tests/data/golden/complaints.json");
    char *brace = strrchr(golden, '}');
    cr_assert_not_null(brace);
    *brace = '\0';
    char path[128];
    snprintf(path, sizeof path, "%s/c.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s, \"receivers\": [{\"name\": \"out\", \"type\": \"console\", \"format\": \"json\"}]}\n", golden);
    fclose(f);
    free(golden);
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "(%s replay -c %s tests/data/golden/complaints.jsonl 2>/dev/null)", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    int lines = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), lines++)
        cr_assert(line[0] == '{' && strstr(line, "\"kpi\":\"complaints\""), "not a JSON alert: %s", line);
    cr_assert_gt(lines, 0, "no alerts delivered");
    free(out);
    snprintf(cmd, sizeof cmd, "(%s replay --quiet -c %s tests/data/golden/complaints.jsonl 2>/dev/null)", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 0);
    cr_assert_str_eq(out, "", "--quiet delivers nothing");
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Replay the golden complaints data (its checkout incident starts at
 * 2023-11-16T01:00Z) with one config silence on journey, active as times
 * says (JSON: starts_at and/or ends_at), with the replay flags given.
 * Returns stdout, the JSON alert lines with --json (caller frees); the
 * summary, from stderr, into *summary when not NULL. */
static char *replay_silenced_at(const char *journey, const char *times, const char *flags, char **summary)
{
    char dir[] = "/tmp/kw-sil-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char *golden = read_file("tests/data/golden/complaints.json");
    char *brace = strrchr(golden, '}');
    *brace = '\0';
    char path[128], err_path[128];
    snprintf(path, sizeof path, "%s/c.json", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s, \"silences\": [{\"matchers\": [{\"name\": \"journey\", \"value\": \"%s\"}], %s,"
               " \"comment\": \"known\"}]}\n",
            golden, journey, times);
    fclose(f);
    free(golden);
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "(%s replay %s -c %s tests/data/golden/complaints.jsonl 2>%s)", harness_binary(), flags, path,
             err_path);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    if (summary)
        *summary = read_file(err_path);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    return out;
}

static char *replay_silenced(const char *journey)
{
    return replay_silenced_at(journey, "\"starts_at\": \"2000-01-01T00:00:00Z\", \"ends_at\": \"2090-01-01T00:00:00Z\"",
                              "--json", NULL);
}

/* A silence in the config holds back the notifications of the alerts it
 * matches, in a backtest as in the daemon; the others still go out. */
Test(cli, config_silences_apply_in_replay, .timeout = 60)
{
    char cmd[512], *all;
    snprintf(cmd, sizeof cmd, "(%s replay --json -c tests/data/golden/complaints.json tests/data/golden/complaints.jsonl 2>/dev/null)",
             harness_binary());
    cr_assert_eq(run_capture(cmd, &all), 0);
    int total = count_text(all, "\"status\"");
    cr_assert_gt(count_text(all, "\"journey\":\"checkout\""), 0, "the golden data has a checkout incident");
    char *silenced = replay_silenced("checkout");
    cr_assert_eq(count_text(silenced, "\"journey\":\"checkout\""), 0, "silenced alerts were sent: %s", silenced);
    char *other = replay_silenced("claims");
    cr_assert_eq(count_text(other, "\"status\""), total, "a silence on another journey held alerts back: %s", other);
    free(all);
    free(silenced);
    free(other);
}

/* A backtest mutes as the daemon would have at the data's time: a silence
 * over the recorded incident holds it back, one over today does not. */
Test(cli, replay_judges_silences_at_the_datas_time, .timeout = 60)
{
    const char *incident = "\"starts_at\": \"2023-11-16T00:00:00Z\", \"ends_at\": \"2023-11-16T03:00:00Z\"";
    char *then = replay_silenced_at("checkout", incident, "--json", NULL);
    cr_assert_eq(count_text(then, "\"journey\":\"checkout\""), 0, "an incident silenced at its time was sent: %s", then);
    /* no starts_at: it starts when the replay runs, long after 2023 */
    char *now = replay_silenced_at("checkout", "\"ends_at\": \"2090-01-01T00:00:00Z\"", "--json", NULL);
    cr_assert_eq(count_text(now, "\"journey\":\"checkout\""), 2, "today's silence held back a 2023 incident: %s", now);
    free(then);
    free(now);
}

/* The summary says how many alert notifications a silence held back, with
 * --json, --quiet or the configured receivers alike. */
Test(cli, replay_summary_counts_silenced_notifications, .timeout = 60)
{
    const char *incident = "\"starts_at\": \"2023-11-16T00:00:00Z\", \"ends_at\": \"2023-11-16T03:00:00Z\"";
    const char *flags[] = {"--json", "--quiet", ""};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char *summary;
        free(replay_silenced_at("checkout", incident, flags[i], &summary));
        cr_assert(strstr(summary, "complaints.jsonl: 864 points, 0 rejected, 2 series, 864 intervals, 4 anomalous, "
                                  "2 alert notifications, 2 of them silenced\n") != NULL,
                  "replay %s: %s", flags[i], summary);
        free(summary);
        free(replay_silenced_at("claims", incident, flags[i], &summary));
        cr_assert(strstr(summary, "2 alert notifications, 0 of them silenced\n") != NULL, "replay %s: %s", flags[i],
                  summary);
        free(summary);
    }
}

/* kpiwatch send publishes to a running agent: arguments and stdin lines. */
Test(cli, send_reaches_a_running_agent, .timeout = 60)
{
    struct agent_proc agent;
    agent_prepare(&agent, "{\"agent\":{\"stats_interval\":\"0\"},\"ingest\":{\"max_past\":\"0\",\"max_future\":\"0\"},"
                          "\"inputs\":[{\"name\":\"in\",\"endpoint\":\"%1$s\",\"socket\":\"pull\"}],"
                          "\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"group_by\":[\"journey\"]}]}");
    agent_start(&agent, "run");
    char cmd[1024], *out;
    snprintf(cmd, sizeof cmd,
             "%s send -e %s --push '{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":3,\"ts\":1700000000}' 2>&1",
             harness_binary(), agent.endpoint);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "1 message to") != NULL, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd,
             "printf '%%s\\n%%s\\n' '{\"metric\":\"complaints\",\"value\":1,\"ts\":1700000001}' '{not json' | %s send -e %s --push 2>&1",
             harness_binary(), agent.endpoint);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    free(out);
    sleep_ms(500);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
    char *err = read_file(agent.err_path);
    cr_assert(strstr(err, "messages=3 points_accepted=2 points_rejected=1") != NULL, "%s", err);
    free(err);
    agent_cleanup(&agent);
}

/* An inhibition rule in a backtest: the roll-up over all journeys fires and
 * holds back the per-journey alert of the same spike. */
Test(cli, inhibition_holds_back_children_of_a_firing_rollup, .timeout = 60)
{
    char dir[] = "/tmp/kw-inh-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/c.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"agent\":{\"log_level\":\"warn\"},\"kpis\":["
               "{\"name\":\"complaints\",\"metric\":\"complaints\",\"interval\":\"5m\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],"
               " \"detector\":{\"type\":\"mad\",\"window\":96,\"min_points\":24},\"alert\":{\"for\":2,\"resolve_after\":2}},"
               "{\"name\":\"complaints_total\",\"metric\":\"complaints\",\"interval\":\"5m\",\"lateness\":\"0s\",\"group_by\":[],"
               " \"detector\":{\"type\":\"mad\",\"window\":96,\"min_points\":24},\"alert\":{\"for\":1,\"resolve_after\":2}}],"
               "\"route\":{\"receiver\":\"console\",\"group_by\":[\"kpi\",\"journey\"],\"group_wait\":\"0s\"},"
               "\"receivers\":[{\"name\":\"console\",\"type\":\"console\",\"format\":\"json\"}],"
               "\"inhibit_rules\":[{\"source_matchers\":[\"kpi=complaints_total\"],\"target_matchers\":[\"kpi=complaints\"]}]}\n");
    fclose(f);
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "%s replay -c %s tests/data/golden/complaints.jsonl 2>&1", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert_gt(count_text(out, "\"kpi\":\"complaints_total\""), 0, "the roll-up fired: %s", out);
    cr_assert_eq(count_text(out, "\"kpi\":\"complaints\""), 0, "the per-journey alert was not held back: %s", out);
    free(out);
    /* without the rule, the per-journey alert goes out */
    f = fopen(path, "r+");
    char *text = read_file(path);
    char *cut = strstr(text, ",\"inhibit_rules\"");
    cr_assert_not_null(cut);
    strcpy(cut, "}\n");
    fclose(f);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert_gt(count_text(out, "\"kpi\":\"complaints\""), 0, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A config with a templated console and slack receiver, a pagerduty receiver
 * on its built-in rendering, and one that is off; returns its path in dir. */
static void template_config(char *dir, char *path, size_t len, const char *slack_template)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, len, "%s/c.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"kpis\": [{\"name\": \"complaints\", \"metric\": \"complaints\", \"interval\": \"5m\", \"aggregation\": \"sum\","
               " \"detector\": {\"type\": \"poisson\"}}],"
               " \"receivers\": ["
               "  {\"name\": \"ops\", \"type\": \"console\", \"template\": \"{{status}} {{lead.kpi}}:{{#alerts}} {{kpi}}={{observed}}{{/alerts}}\"},"
               "  {\"name\": \"cx\", \"type\": \"slack\", \"webhook_url\": \"https://hooks.slack.com/services/T0/B0/hooksecret\","
               "   \"template\": \"%s\"},"
               "  {\"name\": \"pager\", \"type\": \"pagerduty\", \"routing_key\": \"0123456789abcdef0123456789abcdef\"},"
               "  {\"name\": \"off\", \"type\": \"slack\", \"enabled\": false}]}\n", slack_template);
    fclose(f);
}

static int render_cmd(const char *args, char **out)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "(%s template render %s 2>/dev/null)", harness_binary(), args);
    return run_capture(cmd, out);
}

Test(cli, template_render_prints_what_a_receiver_would_send, .timeout = 30)
{
    char dir[] = "/tmp/kw-tpl-XXXXXX", path[128], args[256], *out;
    template_config(dir, path, sizeof path, "{{#firing}}FIRE{{/firing}}{{#resolved}}OK{{/resolved}} <{{lead.label.step}}> {{count}}");
    snprintf(args, sizeof args, "-c %s ops", path);
    cr_assert_eq(render_cmd(args, &out), 0, "%s", out);
    cr_assert_str_eq(out, "firing step_dropoff_rate: step_dropoff_rate=35.3% complaints=28\n");
    free(out);
    snprintf(args, sizeof args, "-c %s ops --resolved", path);
    cr_assert_eq(render_cmd(args, &out), 0, "%s", out);
    cr_assert_str_eq(out, "resolved step_dropoff_rate: step_dropoff_rate=6.1% complaints=6\n");
    free(out);
    /* the text as the receiver sends it: mrkdwn escaping for Slack */
    snprintf(args, sizeof args, "-c %s cx", path);
    cr_assert_eq(render_cmd(args, &out), 0, "%s", out);
    cr_assert_str_eq(out, "FIRE <payment> 2\n");
    free(out);

    /* a receiver on its built-in rendering: the request body, secrets redacted */
    snprintf(args, sizeof args, "-c %s pager", path);
    cr_assert_eq(render_cmd(args, &out), 0, "%s", out);
    cJSON *body = cJSON_Parse(out);
    cr_assert_not_null(body, "not the JSON body: %s", out);
    cr_assert_str_eq(cJSON_GetObjectItem(body, "event_action")->valuestring, "trigger");
    cr_assert_str_eq(cJSON_GetObjectItem(body, "routing_key")->valuestring, "[redacted]");
    cr_assert_null(strstr(out, "0123456789abcdef0123456789abcdef"), "the routing key was printed");
    cJSON_Delete(body);
    free(out);
    snprintf(args, sizeof args, "-c %s pager --resolved", path);
    cr_assert_eq(render_cmd(args, &out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "\"event_action\":\"resolve\""), "%s", out);
    free(out);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    cr_assert_eq(system(args), 0);
}

Test(cli, template_render_exit_codes, .timeout = 30)
{
    char dir[] = "/tmp/kw-tpl-XXXXXX", path[128], cmd[512], *help, *out;
    template_config(dir, path, sizeof path, "{{count}}");
    snprintf(cmd, sizeof cmd, "%s template --help", harness_binary());
    cr_assert_eq(run_capture(cmd, &help), 0);
    cr_assert(strncmp(help, "Usage: kpiwatch template render ", 32) == 0, "%s", help);

    /* usage errors: 2, with the same usage --help prints */
    const char *usage_errors[] = {"", "render", "show x", "render -c CFG --bogus ops", "render -c CFG ops extra"};
    for (size_t i = 0; i < sizeof usage_errors / sizeof usage_errors[0]; i++) {
        char args[256];
        snprintf(args, sizeof args, "%s", usage_errors[i]);
        char *cfg = strstr(args, "CFG");
        if (cfg) {
            char rest[128];
            snprintf(rest, sizeof rest, "%s", cfg + 3);
            snprintf(cfg, sizeof args - (size_t)(cfg - args), "%s%s", path, rest);
        }
        snprintf(cmd, sizeof cmd, "%s template %s", harness_binary(), args);
        cr_assert_eq(run_capture(cmd, &out), 2, "%s: %s", cmd, out);
        const char *usage = strstr(out, "Usage: ");
        cr_assert_not_null(usage, "%s: %s", cmd, out);
        cr_assert_str_eq(usage, help, "%s", cmd);
        free(out);
    }
    free(help);

    /* no such receiver, or one that is off: 1 */
    snprintf(cmd, sizeof cmd, "%s template render -c %s nobody", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 1, "%s", out);
    cr_assert_str_eq(out, "kpiwatch template render: nobody: no such receiver\n");
    free(out);
    snprintf(cmd, sizeof cmd, "%s template render -c %s off", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 1, "%s", out);
    cr_assert_str_eq(out, "kpiwatch template render: off: this receiver is off: \"enabled\" is false\n");
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);

    /* a template error is a config error (3) naming the key and the position */
    char dir2[] = "/tmp/kw-tpl-XXXXXX";
    template_config(dir2, path, sizeof path, "Incident at: {{#alerts}}");
    snprintf(cmd, sizeof cmd, "%s template render -c %s ops", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 3, "%s", out);
    cr_assert(strstr(out, "receivers[1].template: line 1, col 14: unclosed section \"alerts\"\n") != NULL, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir2);
    cr_assert_eq(system(cmd), 0);
}

/* A config with two receivers that are off, one by a variable that is not
 * set and one by a literal false, and one that is on; its path in dir. */
static void off_config(char *dir, char *path, size_t len)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, len, "%s/c.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"agent\": {\"stats_interval\": \"0\"},"
               " \"inputs\": [{\"name\": \"in\", \"endpoint\": \"tcp://127.0.0.1:19652\", \"socket\": \"pull\"}],"
               " \"kpis\": [{\"name\": \"complaints\", \"metric\": \"complaints\"}],"
               " \"receivers\": [{\"name\": \"ops\", \"type\": \"console\"},"
               "  {\"name\": \"cx-slack\", \"type\": \"slack\", \"enabled\": \"${KW_IT_NO_SUCH_HOOK:+true}\","
               "   \"webhook_url\": \"${KW_IT_NO_SUCH_HOOK:-}\"},"
               "  {\"name\": \"pager\", \"type\": \"pagerduty\", \"enabled\": false}]}\n");
    fclose(f);
}

/* check-config, test-notify and the startup log say which receivers are
 * off and why; a receiver that is off is not an invalid config. */
Test(cli, receivers_that_are_off_say_why, .timeout = 30)
{
    unsetenv("KW_IT_NO_SUCH_HOOK");
    char dir[] = "/tmp/kw-off-XXXXXX", path[128], cmd[512], *out;
    off_config(dir, path, sizeof path);
    snprintf(cmd, sizeof cmd, "%s check-config %s", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, ": ok (1 inputs, 1 KPIs, 3 receivers (2 off), 0 routes)\n"), "%s", out);
    cr_assert(strstr(out, "\n  receiver cx-slack is off: KW_IT_NO_SUCH_HOOK is not set "
                          "(\"enabled\": \"${KW_IT_NO_SUCH_HOOK:+true}\")\n"), "%s", out);
    cr_assert(strstr(out, "\n  receiver pager is off: \"enabled\" is false\n"), "%s", out);
    cr_assert_null(strstr(out, "receiver ops"), "%s", out);
    free(out);

    snprintf(cmd, sizeof cmd, "%s test-notify -c %s cx-slack", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 1, "off is not an invalid config: %s", out);
    cr_assert_str_eq(out, "kpiwatch test-notify: cx-slack: this receiver is off: KW_IT_NO_SUCH_HOOK is not set "
                          "(\"enabled\": \"${KW_IT_NO_SUCH_HOOK:+true}\")\n");
    free(out);
    snprintf(cmd, sizeof cmd, "%s test-notify -c %s nobody", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 3, "%s", out);
    free(out);

    snprintf(cmd, sizeof cmd, "%s run -c %s --seconds 1 2>&1", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "receiver cx-slack is off: KW_IT_NO_SUCH_HOOK is not set"), "%s", out);
    cr_assert(strstr(out, "receiver pager is off: \"enabled\" is false"), "%s", out);
    cr_assert(strstr(out, "running: 1 inputs, 1 KPIs, 3 receivers (2 off)\n"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A route matcher naming a KPI that does not exist never matches: the
 * config is valid (exit 0), and check-config and the startup log warn. */
Test(cli, matchers_that_never_match_are_warned, .timeout = 30)
{
    char dir[] = "/tmp/kw-lint-XXXXXX", path[128], cmd[512], *out;
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"agent\": {\"stats_interval\": \"0\"},"
               " \"inputs\": [{\"name\": \"in\", \"endpoint\": \"tcp://127.0.0.1:19653\", \"socket\": \"pull\"}],"
               " \"kpis\": [{\"name\": \"complaints\", \"metric\": \"complaints\", \"group_by\": [\"journey\"]}],"
               " \"receivers\": [{\"name\": \"ops\", \"type\": \"console\"}],"
               " \"route\": {\"receiver\": \"ops\", \"routes\": [{\"matchers\": [\"kpi=complains\"]}]}}\n");
    fclose(f);
    const char *warning = "route.routes[0]: matcher kpi=complains never matches: no KPI is named complains "
                          "(KPIs: complaints)\n";
    snprintf(cmd, sizeof cmd, "%s check-config %s", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    char want[256];
    snprintf(want, sizeof want, "\n  warning: %s", warning);
    cr_assert(strstr(out, want), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s run -c %s --seconds 1 2>&1", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, warning), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* send refuses, before sending anything, a payload whose format is not the
 * one the input reads: JSON to a line protocol input and the reverse. */
Test(cli, send_refuses_a_payload_of_the_other_format, .timeout = 30)
{
    char dir[] = "/tmp/kw-fmt-XXXXXX", path[128], cmd[1024], *out;
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/influx.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"inputs\": [{\"name\": \"in\", \"endpoint\": \"tcp://127.0.0.1:19651\", \"socket\": \"pull\","
               " \"format\": \"influx\"}], \"kpis\": [{\"name\": \"complaints\", \"metric\": \"complaints\"}]}\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s send -c %s '{\"metric\":\"complaints\",\"value\":3}' 2>&1", harness_binary(), path);
    cr_assert_eq(run_capture(cmd, &out), 2, "%s", out);
    cr_assert(strncmp(out, "kpiwatch send: message 1 is JSON, but the input reads InfluxDB line protocol", 76) == 0,
              "%s", out);
    cr_assert_null(strstr(out, "message to"), "something was sent: %s", out);
    free(out);
    /* with -e the input's format is what --format says (without it, unknown: sent as given) */
    snprintf(cmd, sizeof cmd, "printf 'complaints value=3\\n' | %s send -e tcp://127.0.0.1:19651 --push --format json 2>&1",
             harness_binary());
    cr_assert_eq(run_capture(cmd, &out), 2, "%s", out);
    cr_assert(strstr(out, "kpiwatch send: line 1 is not JSON (it starts \"complaints value=3\"), but the input reads JSON"),
              "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Without -c a command reads /etc/kpiwatch/kpiwatch.json, else
 * conf/kpiwatch.json of the directory it runs in. */
Test(cli, without_c_a_command_falls_back_to_the_checkout_config, .timeout = 30)
{
    if (access("/etc/kpiwatch/kpiwatch.json", F_OK) == 0)
        cr_skip_test("an installed config takes precedence here");
    char dir[] = "/tmp/kw-cwd-XXXXXX", cmd[1024], *out;
    cr_assert_not_null(mkdtemp(dir));
    char bin[512];
    cr_assert_not_null(realpath(harness_binary(), bin));
    snprintf(cmd, sizeof cmd, "mkdir %s/conf && cp conf/kpiwatch.json %s/conf/ && cd %s && %s routes test journey=checkout 2>&1",
             dir, dir, dir, bin);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "\ncx-console  via route.routes[1]"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
