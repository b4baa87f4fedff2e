/* Integration tests for `kpiwatch feedback`: a false alarm given while the
 * agent is stopped is learned at its next start (recorded and counted per
 * detector, not learned twice across restarts, and its stricter test is in
 * the saved detector state); one given while it runs is learned within
 * seconds, through its HTTP API when it has one, and the command says what
 * the agent made of it (exit 1 for a key that matches no series); bad input
 * is refused. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#include "../../agent/series.h"
#include "harness.h"

#define INTERVAL_S 300

static struct agent_proc agent;

static void fini(void)
{
    agent_cleanup(&agent);
}

/* %1$s endpoint, %2$s the agent's private directory. */
static const char *const CONFIG =
    "{\"agent\":{\"log_level\":\"info\",\"stats_interval\":\"0\",\"state_dir\":\"%2$s/state\"},"
    "\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"1h\"},"
    "\"inputs\":[{\"name\":\"in\",\"endpoint\":\"%1$s\",\"socket\":\"pull\"}],"
    "\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],"
    "  \"detector\":{\"type\":\"poisson\",\"season\":\"none\",\"min_points\":20}}],"
    "\"receivers\":[{\"name\":\"out\",\"type\":\"console\",\"format\":\"json\"}]}";

static void send_history(const char *endpoint, int64_t start, int from, int to, int spike_at)
{
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(s, endpoint), 0);
    uint32_t rng = 99u + (uint32_t)from;
    char msg[256];
    for (int i = from; i < to; i++) {
        int v = i >= spike_at && i < spike_at + 3 ? 60 : harness_rand(&rng, 7, 13);
        snprintf(msg, sizeof msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":%d,\"ts\":%lld}",
                 v, (long long)(start + (int64_t)i * INTERVAL_S + 7));
        cr_assert_geq(zmq_send(s, msg, strlen(msg), 0), 0);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
}

static void checkout_key(char key[17])
{
    const char *names[] = {"journey"}, *values[] = {"checkout"};
    kw_series_alert_key("complaints", names, values, 1, key);
}

/* The poisson state's strictness step (its 18th number). */
static double saved_strictness(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/state/state.json", agent.dir);
    char *text = read_file(path);
    cJSON *root = cJSON_Parse(text);
    free(text);
    double v = -1;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(root, "series")) {
        const cJSON *state = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "detector"), "state");
        const cJSON *item = cJSON_GetArrayItem(state, 17);
        if (item)
            v = cJSON_IsRaw(item) ? atof(item->valuestring) : item->valuedouble;
    }
    cJSON_Delete(root);
    return v;
}

static char *feedback_record(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/state/feedback.json", agent.dir);
    return read_file(path);
}

Test(feedback, false_alarm_survives_restarts, .fini = fini, .timeout = 90)
{
    agent_prepare(&agent, CONFIG);
    agent_start(&agent, "run");
    int64_t start = ((int64_t)time(NULL) / INTERVAL_S - 60) * INTERVAL_S;
    send_history(agent.endpoint, start, 0, 50, 40);
    cr_assert(wait_for_text(agent.out_path, "\"status\":\"firing\"", 1, 10000), "%s", read_file(agent.err_path));
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
    cr_assert_float_eq(saved_strictness(), 0, 0);

    /* Given while the agent is stopped ... */
    char key[17], cmd[512], *out;
    checkout_key(key);
    char *alerts = read_file(agent.out_path);
    cr_assert(strstr(alerts, key), "the alert carries the key");
    free(alerts);
    snprintf(cmd, sizeof cmd, "%s feedback -c %s %s --false-alarm --note 'planned promotion' 2>&1", harness_binary(),
             agent.config, key);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "queued"), "%s", out);
    free(out);

    /* ... learned at the next start, saved at once, recorded and counted. */
    agent_start(&agent, "run");
    cr_assert(wait_for_text(agent.err_path, "false alarm on", 1, 10000), "%s", read_file(agent.err_path));
    cr_assert(wait_for_text(agent.err_path, "learned as normal", 1, 1000));
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
    cr_assert_float_eq(saved_strictness(), 1, 0, "one step stricter, in the saved state");
    char *record = feedback_record();
    cJSON *r = cJSON_Parse(record);
    cr_assert_not_null(r, "%s", record);
    cr_assert_float_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "counts"), "poisson"), "false_alarm")
                           ->valuedouble, 1, 0, "%s", record);
    const cJSON *rec = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "records"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "note")->valuestring, "planned promotion");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(rec, "learned")));
    cJSON_Delete(r);
    free(record);

    /* A restart neither forgets nor repeats it; one given while running is learned within seconds. */
    agent_start(&agent, "run");
    cr_assert(wait_for_text(agent.err_path, "restored 1 series", 1, 10000), "%s", read_file(agent.err_path));
    snprintf(cmd, sizeof cmd, "%s feedback -c %s %s --confirmed 2>&1", harness_binary(), agent.config, key);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    free(out);
    cr_assert(wait_for_text(agent.err_path, "confirmed on", 1, 10000), "%s", read_file(agent.err_path));

    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
    char *log = read_file(agent.err_path);
    cr_assert_eq(count_text(log, "false alarm on"), 1, "not learned twice (the log spans all three runs)");
    free(log);
    cr_assert_float_eq(saved_strictness(), 0, 0, "the confirmation undid the step");
    record = feedback_record();
    cr_assert(strstr(record, "\"poisson\":{\"false_alarm\":1,\"confirmed\":1}"), "%s", record);
    free(record);
}

Test(feedback, bad_input_is_refused, .fini = fini)
{
    agent_prepare(&agent, CONFIG);
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "%s feedback -c %s 0123456789abcdef 2>&1", harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 2, "%s", out); /* no verdict */
    free(out);
    snprintf(cmd, sizeof cmd, "%s feedback -c %s 0123456789abcdef --false-alarm --confirmed 2>&1", harness_binary(),
             agent.config);
    cr_assert_eq(run_capture(cmd, &out), 2, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s feedback -c %s not-a-key --false-alarm 2>&1", harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 2, "%s", out);
    cr_assert(strstr(out, "not an alert key"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s feedback -c conf/examples/nab.json 0123456789abcdef --false-alarm 2>&1", harness_binary());
    cr_assert_eq(run_capture(cmd, &out), 3, "%s", out); /* no state_dir */
    cr_assert(strstr(out, "state_dir"), "%s", out);
    free(out);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static long post_status(int port, const char *path, const char *body)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    FILE *sink = fopen("/dev/null", "w");
    long status = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    fclose(sink);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
    struct { char *buf; size_t len; } *b = ctx;
    b->buf = realloc(b->buf, b->len + size * n + 1);
    memcpy(b->buf + b->len, data, size * n);
    b->len += size * n;
    b->buf[b->len] = '\0';
    return size * n;
}

static char *get_body(int port, const char *path)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    struct { char *buf; size_t len; } b = {calloc(1, 1), 0};
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    return b.buf;
}

/* The verdict /api/v1/alerts shows on alert key (active or resolved), "" when none. */
static void api_verdict(int port, const char *key, char *out, size_t outlen)
{
    char *alerts = get_body(port, "/api/v1/alerts");
    cJSON *aj = cJSON_Parse(alerts), *a, *mine = NULL;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(aj, "alerts"))
        if (strcmp(cJSON_GetObjectItem(a, "key")->valuestring, key) == 0)
            mine = a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(aj, "resolved"))
        if (!mine && strcmp(cJSON_GetObjectItem(a, "key")->valuestring, key) == 0)
            mine = a;
    cr_assert_not_null(mine, "%s", alerts);
    const cJSON *verdict = cJSON_GetObjectItem(cJSON_GetObjectItem(mine, "feedback"), "verdict");
    snprintf(out, outlen, "%s", cJSON_IsString(verdict) ? verdict->valuestring : "");
    cJSON_Delete(aj);
    free(alerts);
}

/* /api/v1/alerts shows verdict want on key within 10 s (the agent logs the
 * verdict just before it writes the record). */
static void wait_api_verdict(int port, const char *key, const char *want)
{
    char got[32] = "";
    for (int i = 0; i < 100; i++) {
        api_verdict(port, key, got, sizeof got);
        if (strcmp(got, want) == 0)
            return;
        sleep_ms(100);
    }
    cr_assert_fail("the alert shows verdict \"%s\", not \"%s\"", got, want);
}

Test(feedback, through_the_http_api, .fini = fini, .timeout = 60)
{
    /* the same config with a listener */
    int port = free_port();
    char config[2048];
    size_t n = strlen(CONFIG) - 1; /* without the closing brace */
    snprintf(config, sizeof config, "%.*s,\"http\":{\"port\":%d}}", (int)n, CONFIG, port);
    agent_prepare(&agent, config);
    agent_start(&agent, "run");
    cr_assert(wait_for_text(agent.err_path, "listening on http://", 1, 10000), "%s", read_file(agent.err_path));
    int64_t start = ((int64_t)time(NULL) / INTERVAL_S - 60) * INTERVAL_S;
    send_history(agent.endpoint, start, 0, 50, 40);
    cr_assert(wait_for_text(agent.out_path, "\"status\":\"firing\"", 1, 10000), "%s", read_file(agent.err_path));

    char key[17], cmd[512], path[128], *out;
    checkout_key(key);
    snprintf(cmd, sizeof cmd, "%s feedback -c %s %s --false-alarm --note 'load test' 2>&1", harness_binary(),
             agent.config, key);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "false alarm on alert ") && strstr(out, " learned by complaints (poisson): its test is one step stricter"),
              "the command waits for the agent's answer: %s", out);
    free(out);
    cr_assert(wait_for_text(agent.err_path, "queued from 127.0.0.1", 1, 5000), "%s", read_file(agent.err_path));
    cr_assert(wait_for_text(agent.err_path, "false alarm on", 1, 10000), "%s", read_file(agent.err_path));
    wait_api_verdict(port, key, "false_alarm");

    /* a key that matches no series: recorded only, and the command says so */
    snprintf(cmd, sizeof cmd, "%s feedback -c %s 0000000000000000 --confirmed", harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 1, "%s", out);
    cr_assert_str_eq(out, "kpiwatch feedback: alert 0000000000000000 matches no series the agent tracks (expired, or "
                          "from another config); the verdict is recorded only\n");
    free(out);
    char *unknown = get_body(port, "/api/v1/alerts/0000000000000000/feedback");
    cJSON *uj = cJSON_Parse(unknown);
    const cJSON *ur = cJSON_GetArrayItem(cJSON_GetObjectItem(uj, "records"), 0);
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(ur, "id")) && !cJSON_GetObjectItem(ur, "kpi"), "%s", unknown);
    cJSON_Delete(uj);
    free(unknown);

    /* what the API refuses */
    snprintf(path, sizeof path, "/api/v1/alerts/%s/feedback", key);
    cr_assert_eq(post_status(port, path, "{\"verdict\":\"maybe\"}"), 400);
    cr_assert_eq(post_status(port, path, "not json"), 400);
    cr_assert_eq(post_status(port, "/api/v1/alerts/XYZ/feedback", "{\"verdict\":\"confirmed\"}"), 400);

    /* --local skips the API and still reaches the running agent */
    snprintf(cmd, sizeof cmd, "%s feedback -c %s %s --confirmed --local 2>&1", harness_binary(), agent.config, key);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "queued in"), "%s", out);
    free(out);
    cr_assert(wait_for_text(agent.err_path, "confirmed on", 1, 10000), "%s", read_file(agent.err_path));

    /* the alert shows its latest verdict, the record read again since it changed;
     * /metrics counts them per detector */
    wait_api_verdict(port, key, "confirmed");
    char *metrics = get_body(port, "/metrics");
    cr_assert(strstr(metrics, "kpiwatch_feedback_total{detector=\"poisson\",verdict=\"false_alarm\"} 1"), "%s", metrics);
    cr_assert(strstr(metrics, "kpiwatch_feedback_total{detector=\"poisson\",verdict=\"confirmed\"} 1"), "%s", metrics);
    free(metrics);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
    char *record = feedback_record();
    cr_assert(strstr(record, "\"poisson\":{\"false_alarm\":1,\"confirmed\":1}"), "%s", record);
    cr_assert(strstr(record, "load test"), "%s", record);
    free(record);
}
