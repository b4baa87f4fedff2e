/* Golden tests, table-driven as in jq's test file: a recorded series plus a
 * config, replayed through the real binary, against the expected alert
 * transitions in tests/data/golden/NAME.expected. Also checks the --scores
 * output that backtests and the accuracy tooling rely on. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "harness.h"

struct golden_case {
    char name[64];
    char data[128];
};

static struct golden_case golden_cases[] = {
    {"complaints", "tests/data/golden/complaints.jsonl"},
    {"art_spike", "tests/data/art_spike.csv"},
};

/* "firing kpi a=1,b=2 since=... severity=..." for one alert JSON line. */
static void transition_line(const char *json_line, char *out, size_t len)
{
    cJSON *a = cJSON_Parse(json_line);
    cr_assert_not_null(a, "not JSON: %s", json_line);
    char labels[256] = "";
    size_t used = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItem(a, "labels"))
        used += (size_t)snprintf(labels + used, sizeof labels - used, "%s%s=%s", used ? "," : "", l->string, l->valuestring);
    snprintf(out, len, "%s %s %s since=%s severity=%s", cJSON_GetObjectItem(a, "status")->valuestring,
             cJSON_GetObjectItem(a, "kpi")->valuestring, used ? labels : "all",
             cJSON_GetObjectItem(a, "since")->valuestring, cJSON_GetObjectItem(a, "severity")->valuestring);
    cJSON_Delete(a);
}

ParameterizedTestParameters(replay, golden)
{
    return cr_make_param_array(struct golden_case, golden_cases, sizeof golden_cases / sizeof golden_cases[0]);
}

ParameterizedTest(struct golden_case *c, replay, golden, .timeout = 60)
{
    char cmd[512], expected_path[128];
    snprintf(cmd, sizeof cmd, "(%s replay --json -c tests/data/golden/%s.json %s 2>/dev/null)", harness_binary(), c->name,
             c->data);
    snprintf(expected_path, sizeof expected_path, "tests/data/golden/%s.expected", c->name);
    char *out;
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    char *expected = read_file(expected_path);
    char got[4096] = "";
    size_t used = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char t[512];
        transition_line(line, t, sizeof t);
        used += (size_t)snprintf(got + used, sizeof got - used, "%s\n", t);
    }
    cr_assert_str_eq(got, expected, "%s: transitions differ\n--- got\n%s--- expected\n%s", c->name, got, expected);
    free(expected);
    free(out);
}

Test(replay, scores_csv_has_one_row_per_interval, .timeout = 60)
{
    char cmd[512], *out;
    const char *scores = "/tmp/kpiwatch-scores-test.csv";
    snprintf(cmd, sizeof cmd, "%s replay --quiet --scores %s -c tests/data/golden/art_spike.json tests/data/art_spike.csv",
             harness_binary(), scores);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    free(out);
    char *csv = read_file(scores);
    const char *header = "timestamp,series,value,expected,lower,upper,score,anomaly_score,anomaly,firing\n";
    cr_assert(strncmp(csv, header, strlen(header)) == 0, "%.100s", csv);
    cr_assert_eq(count_text(csv, "\n"), 601, "header + one row per input point");
    cr_assert(strstr(csv, "\n2014-04-01 00:00:00,value,") != NULL, "NAB timestamp format");
    /* the spike row is flagged with a high anomaly_score */
    const char *spike = strstr(csv, "\n2014-04-02 13:30:00,");
    cr_assert_not_null(spike);
    char row[256];
    sscanf(spike + 1, "%255[^\n]", row);
    double fields[8];
    char *p = strchr(strchr(row, ',') + 1, ',') + 1; /* after timestamp,series, */
    for (int i = 0; i < 8; i++) {
        fields[i] = strtod(p, &p);
        if (*p == ',')
            p++;
    }
    cr_assert_gt(fields[5], 0.5, "anomaly_score at the spike: %s", row);
    cr_assert_eq(fields[6], 1, "anomaly flag at the spike: %s", row);
    free(csv);
    remove(scores);
}

/* The per-file summary is the command's output, not a log line: --quiet
 * prints it on stderr even with a config that logs warnings only. */
Test(replay, quiet_prints_the_summary_at_any_log_level, .timeout = 60)
{
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "(%s replay --quiet -c conf/examples/nab.json tests/data/art_spike.csv 2>&1 >/dev/null)",
             harness_binary());
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "tests/data/art_spike.csv: 600 points, 0 rejected, 1 series, 600 intervals, ") != NULL &&
                  strstr(out, " alert notifications, 0 of them silenced\n") != NULL,
              "no summary on stderr: \"%s\"", out);
    free(out);
}

Test(replay, bad_rows_are_counted_not_fatal, .timeout = 60)
{
    const char *data = "/tmp/kpiwatch-bad-rows.csv";
    FILE *f = fopen(data, "w");
    fputs("timestamp,value\n2014-04-01 00:00:00,1\nnot a time,2\n2014-04-01 00:10:00,abc\n"
          "2014-04-01 00:15:00,nan\n2014-04-01 00:20:00,5\n",
          f);
    fclose(f);
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "%s replay -c tests/data/nab-default.json %s", harness_binary(), data);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    remove(data);
    free(out);
    /* info lines are off in that config; rerun with the summary visible */
    const char *cfg = "/tmp/kpiwatch-bad-rows.json";
    f = fopen(cfg, "w");
    fputs("{\"kpis\":[{\"name\":\"v\",\"metric\":\"value\",\"aggregation\":\"last\",\"interval\":0,"
          "\"detector\":{\"type\":\"threshold\",\"high\":100}}]}", f);
    fclose(f);
    f = fopen(data, "w");
    fputs("timestamp,value\n2014-04-01 00:00:00,1\nnot a time,2\n2014-04-01 00:10:00,abc\n"
          "2014-04-01 00:15:00,nan\n2014-04-01 00:20:00,5\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s replay -c %s %s", harness_binary(), cfg, data);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "2 points, 3 rejected") != NULL, "%s", out);
    cr_assert(strstr(out, "rejected (bad_timestamp)") != NULL, "%s", out);
    cr_assert(strstr(out, "rejected (non_finite_value)") != NULL, "%s", out);
    free(out);
    remove(data);
    remove(cfg);
}

/* The README's config reference is generated from the option tables; a key
 * added or changed without regenerating it fails here. */
Test(cli, readme_reference_matches_the_option_tables, .timeout = 30)
{
    char cmd[256], *out;
    snprintf(cmd, sizeof cmd, "%s options", harness_binary());
    cr_assert_eq(run_capture(cmd, &out), 0);
    char *readme = read_file("README.md");
    int lines = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] != '|')
            continue;
        lines++;
        cr_assert(strstr(readme, line) != NULL, "README.md is missing (run tools/update-readme-options.sh):\n%s", line);
    }
    cr_assert_gt(lines, 80);
    free(readme);
    free(out);
}

/* Every shipped example config is valid. */
Test(cli, example_configs_are_valid, .timeout = 60)
{
    /* The notifier examples take their secrets from the environment. */
    setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T000/B000/XXXXXXXX", 1);
    setenv("SLACK_BOT_TOKEN", "xoxb-0000-0000-example", 1);
    setenv("TEAMS_WEBHOOK_URL", "https://example.webhook.office.com/workflows/0000", 1);
    setenv("WEBHOOK_HMAC_SECRET", "example-shared-secret", 1);
    setenv("PAGERDUTY_ROUTING_KEY", "0123456789abcdef0123456789abcdef", 1);
    setenv("OPSGENIE_API_KEY", "00000000-0000-0000-0000-000000000000", 1);
    setenv("SMTP_PASSWORD", "example-password", 1);
    setenv("KAFKA_PASSWORD", "example-password", 1);
    glob_t g;
    cr_assert_eq(glob("conf/examples/*.json", 0, NULL, &g), 0);
    cr_assert_geq(g.gl_pathc, 20, "one example per detector and notifier");
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char cmd[512], *out;
        snprintf(cmd, sizeof cmd, "%s check-config %s", harness_binary(), g.gl_pathv[i]);
        int rc = run_capture(cmd, &out);
        cr_assert_eq(rc, 0, "%s: %s", g.gl_pathv[i], out);
        free(out);
    }
    globfree(&g);
}

/* The README's example configuration is a working config. */
Test(cli, readme_example_config_is_valid, .timeout = 30)
{
    char *readme = read_file("README.md");
    const char *start = strstr(readme, "```json\n{\n  \"agent\":");
    cr_assert_not_null(start, "README has no example config");
    start += strlen("```json\n");
    const char *end = strstr(start, "```");
    cr_assert_not_null(end);
    const char *path = "/tmp/kpiwatch-readme-example.json";
    FILE *f = fopen(path, "w");
    fwrite(start, 1, (size_t)(end - start), f);
    fclose(f);
    char cmd[256], *out;
    snprintf(cmd, sizeof cmd, "%s check-config %s", harness_binary(), path);
    int rc = run_capture(cmd, &out);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    free(readme);
    remove(path);
}

/* The README shows the demo's config "in full": it must be the file. */
Test(replay, readme_shows_the_demo_config_as_it_is)
{
    char *readme = read_file("README.md"), *conf = read_file("conf/kpiwatch.json");
    const char *marker = "Here is the demo's config, `conf/kpiwatch.json`, in full:\n\n```json\n";
    char *at = strstr(readme, marker);
    cr_assert_not_null(at, "the README no longer shows the demo config");
    at += strlen(marker);
    char *end = strstr(at, "```\n");
    cr_assert_not_null(end);
    size_t n = strlen(conf);
    cr_assert(conf[n - 1] == '\n' && (size_t)(end - at) == n && memcmp(at, conf, n) == 0,
              "README.md's copy of conf/kpiwatch.json differs from the file");
    free(readme);
    free(conf);
}
