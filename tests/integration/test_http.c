/* The HTTP listener of the real binary, over real sockets: /metrics moves
 * with the traffic and passes promtool; alerts appear and resolve in the
 * API; a silence created over HTTP with the token holds back the next
 * notification, and writes without it are refused; a non-loopback listener
 * without a token refuses every write; the page escapes label values; the
 * listener moves on reload only when its options change; logfmt lines carry
 * no secret; `kpiwatch silence` goes through the agent or the state dir and
 * `silence list --json` prints the API's shape; a receiver that is off is 0
 * in kpiwatch_receiver_enabled; /api/v1/series names an unknown KPI. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <zmq.h>

#include "harness.h"

#define INTERVAL_S 300
#define TOKEN "kt-0123456789abcdef0123456789abcdef"

static struct agent_proc agent;

static void fini(void)
{
    agent_cleanup(&agent);
}

/* ---- helpers -------------------------------------------------------------- */

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

struct answer {
    long status;
    char *body;
    size_t len;
    char ctype[128];
    char csp[256];
};

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
    struct answer *a = ctx;
    a->body = realloc(a->body, a->len + size * n + 1);
    memcpy(a->body + a->len, data, size * n);
    a->len += size * n;
    a->body[a->len] = '\0';
    return size * n;
}

static size_t header(char *data, size_t size, size_t n, void *ctx)
{
    struct answer *a = ctx;
    if (strncasecmp(data, "Content-Security-Policy:", 24) == 0)
        snprintf(a->csp, sizeof a->csp, "%.*s", (int)(size * n), data);
    return size * n;
}

/* One request; status 0 when nothing answered. extra_headers: NULL-terminated. */
static struct answer request(const char *method, int port, const char *path, const char *body,
                             const char *const *extra_headers)
{
    struct answer a = {0};
    a.body = strdup("");
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    for (int i = 0; extra_headers && extra_headers[i]; i++)
        h = curl_slist_append(h, extra_headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(a.ctype, sizeof a.ctype, "%s", ct ? ct : "");
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return a;
}

static struct answer get(int port, const char *path)
{
    return request("GET", port, path, NULL, NULL);
}

static cJSON *get_json(int port, const char *path)
{
    struct answer a = get(port, path);
    cr_assert_eq(a.status, 200, "GET %s: HTTP %ld %s", path, a.status, a.body);
    cJSON *j = cJSON_Parse(a.body);
    cr_assert_not_null(j, "GET %s: not JSON: %s", path, a.body);
    free(a.body);
    return j;
}

/* Until the listener answers (a restarted agent's log already says "running"). */
static void wait_listening(int port)
{
    for (int i = 0; i < 100; i++) {
        struct answer a = get(port, "/healthz");
        free(a.body);
        if (a.status == 200)
            return;
        sleep_ms(50);
    }
    cr_assert_fail("nothing listens on port %d: %s", port, read_file(agent.err_path));
}

static const char *const JSON_TOKEN[] = {"Content-Type: application/json", "Authorization: Bearer " TOKEN, NULL};
static const char *const JSON_ONLY[] = {"Content-Type: application/json", NULL};
static const char *const JSON_WRONG[] = {"Content-Type: application/json", "Authorization: Bearer " TOKEN "x", NULL};

static const char SILENCE_CHECKOUT[] =
    "{\"matchers\":[{\"name\":\"journey\",\"value\":\"checkout\",\"op\":\"=\"}],"
    "\"ends_at\":\"2090-01-01T00:00:00Z\",\"created_by\":\"it\",\"comment\":\"maintenance\"}";

/* %1$s endpoint, %2$s dir, %3$d http port, %4$s extra http options, %5$s extra agent options. */
static const char *const CONFIG =
    "{\"agent\":{\"stats_interval\":\"0\",\"state_dir\":\"%2$s/state\"%5$s},"
    "\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"1h\"},"
    "\"inputs\":[{\"name\":\"in\",\"endpoint\":\"%1$s\",\"socket\":\"pull\"}],"
    "\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],"
    "\"unit\":\"complaints\",\"detector\":{\"type\":\"threshold\",\"high\":50},\"alert\":{\"for\":1,\"resolve_after\":1}}],"
    "\"receivers\":[{\"name\":\"out\",\"type\":\"console\",\"format\":\"json\"}],"
    "\"route\":{\"receiver\":\"out\",\"group_wait\":\"0s\",\"group_interval\":\"0s\"},"
    "\"http\":{\"port\":%3$d%4$s}}";

static int start_agent(const char *http_extra, const char *agent_extra)
{
    agent_prepare(&agent, "{}");
    int port = free_port();
    char *text = NULL;
    cr_assert_geq(asprintf(&text, CONFIG, agent.endpoint, agent.dir, port, http_extra, agent_extra), 0);
    agent_write_config(&agent, text);
    free(text);
    agent_start(&agent, "run");
    cr_assert(agent_alive(&agent), "agent did not start: %s", read_file(agent.err_path));
    return port;
}

struct feed {
    void *ctx, *sock;
};

static void feed_open(struct feed *f)
{
    f->ctx = zmq_ctx_new();
    f->sock = zmq_socket(f->ctx, ZMQ_PUSH);
    int linger = 5000;
    zmq_setsockopt(f->sock, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(f->sock, agent.endpoint), 0);
}

static void feed_close(struct feed *f)
{
    zmq_close(f->sock);
    zmq_ctx_term(f->ctx);
}

static void feed_send(struct feed *f, const char *msg)
{
    cr_assert_geq(zmq_send(f->sock, msg, strlen(msg), 0), 0);
}

static int64_t aligned_start(int back)
{
    return ((int64_t)time(NULL) / INTERVAL_S - back) * INTERVAL_S;
}

/* Intervals [from, to) for checkout and claims; journey `hot` is at 95
 * (over the threshold of 50) in [hot_from, hot_to); then a clock point
 * that closes interval to-1. */
static void send_range(struct feed *f, int64_t start, int from, int to, const char *hot, int hot_from, int hot_to)
{
    char msg[1024];
    for (int i = from; i < to; i++) {
        int64_t ts = start + (int64_t)i * INTERVAL_S + 7;
        bool in = i >= hot_from && i < hot_to;
        snprintf(msg, sizeof msg,
                 "[{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":%d,\"ts\":%lld},"
                 "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"claims\"},\"value\":%d,\"ts\":%lld}]",
                 in && hot && strcmp(hot, "checkout") == 0 ? 95 : 20, (long long)ts,
                 in && hot && strcmp(hot, "claims") == 0 ? 95 : 10, (long long)ts);
        feed_send(f, msg);
    }
    snprintf(msg, sizeof msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"clock\"},\"value\":0,\"ts\":%lld}",
             (long long)(start + (int64_t)to * INTERVAL_S + 1));
    feed_send(f, msg);
}

/* Lines of the console receiver that are firing notifications for journey. */
static int firing_lines(const char *journey)
{
    char *out = read_file(agent.out_path), want[64];
    snprintf(want, sizeof want, "\"journey\":\"%s\"", journey);
    int n = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, "\"status\":\"firing\"") && strstr(line, want))
            n++;
    free(out);
    return n;
}

static bool wait_firing(const char *journey, int count, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        if (firing_lines(journey) >= count)
            return true;
        sleep_ms(50);
    }
    return false;
}

/* The value of one sample line "name{labels} value" in a scrape; -1 when absent. */
static double metric(const char *scrape, const char *series)
{
    char want[256];
    snprintf(want, sizeof want, "\n%s ", series);
    const char *p = strstr(scrape, want);
    return p ? strtod(p + strlen(want), NULL) : -1;
}

/* Poll /metrics until series reaches at least v (the agent publishes once a second). */
static char *scrape_until(int port, const char *series, double v)
{
    for (int i = 0; i < 100; i++) {
        struct answer a = get(port, "/metrics");
        if (metric(a.body, series) >= v)
            return a.body;
        free(a.body);
        sleep_ms(100);
    }
    struct answer a = get(port, "/metrics");
    cr_assert_fail("%s never reached %g:\n%s", series, v, a.body);
    return NULL;
}

/* ---- tests ------------------------------------------------------------------ */

Test(http, metrics_move_with_the_traffic_and_pass_promtool, .fini = fini, .timeout = 60)
{
    int port = start_agent("", "");
    struct answer before = get(port, "/metrics");
    cr_assert_eq(before.status, 200, "%s", read_file(agent.err_path));
    cr_assert(strstr(before.ctype, "text/plain; version=0.0.4") != NULL, "%s", before.ctype);
    cr_assert_eq(metric(before.body, "kpiwatch_points_accepted_total"), 0, "%s", before.body);

    struct feed f;
    feed_open(&f);
    int64_t start = aligned_start(40);
    send_range(&f, start, 0, 23, "checkout", 20, 23); /* firing, not yet resolved */
    feed_close(&f);
    cr_assert(wait_firing("checkout", 1, 10000), "%s", read_file(agent.err_path));
    /* During the incident: 23 intervals x 2 journeys + the clock point. */
    char *during = scrape_until(port, "kpiwatch_alerts{kpi=\"complaints\",state=\"firing\"}", 1);
    cr_assert_eq(metric(during, "kpiwatch_points_accepted_total"), 47, "%s", during);
    cr_assert_eq(metric(during, "kpiwatch_messages_total"), 24, "%s", during);
    cr_assert_eq(metric(during, "kpiwatch_series{kpi=\"complaints\"}"), 3, "%s", during);
    cr_assert_geq(metric(during, "kpiwatch_intervals_closed_total{kpi=\"complaints\"}"), 44, "%s", during);
    cr_assert_geq(metric(during, "kpiwatch_verdicts_total{kpi=\"complaints\",outcome=\"anomalous\"}"), 3, "%s", during);
    cr_assert_eq(metric(during, "kpiwatch_alert_transitions_total{transition=\"firing\"}"), 1, "%s", during);
    cr_assert_eq(metric(during, "kpiwatch_ready"), 1);
    cr_assert_eq(metric(during, "kpiwatch_ingest_queue_limit_bytes"), 67108864, "the receive thread runs: %s", during);
    cr_assert_geq(metric(during, "kpiwatch_ingest_queue_bytes"), 0, "%s", during);
    free(during);
    char *sent = scrape_until(port, "kpiwatch_notifications_sent_total{receiver=\"out\",type=\"console\"}", 1);
    cr_assert(strstr(sent, "# TYPE kpiwatch_points_rejected_total counter") != NULL);
    cr_assert(strstr(sent, "kpiwatch_points_rejected_total{reason=\"late\"} 0") != NULL, "%s", sent);
    cr_assert_geq(metric(sent, "kpiwatch_state_snapshot_age_seconds"), -1);

    /* promtool reads it as Prometheus would. */
    char path[256], cmd[512], *out;
    snprintf(path, sizeof path, "%s/metrics.txt", agent.dir);
    FILE *fp = fopen(path, "w");
    fputs(sent, fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    int rc = run_capture(cmd, &out);
    cr_assert_eq(rc, 0, "promtool check metrics failed (%d): %s", rc, out);
    free(out);
    free(sent);
    free(before.body);

    /* A bad point moves its reason's counter. */
    feed_open(&f);
    feed_send(&f, "{\"metric\":\"complaints\",\"value\":\"NaN\",\"ts\":1700000000}");
    feed_close(&f);
    free(scrape_until(port, "kpiwatch_points_rejected_total{reason=\"non_finite_value\"}", 1));
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
}

Test(http, alerts_appear_and_resolve_in_the_api, .fini = fini, .timeout = 60)
{
    int port = start_agent(",\"external_url\":\"https://kw.example.com/\"", "");
    struct feed f;
    feed_open(&f);
    int64_t start = aligned_start(40);
    send_range(&f, start, 0, 23, "checkout", 20, 23);
    cr_assert(wait_firing("checkout", 1, 10000), "%s", read_file(agent.err_path));

    cJSON *alerts = NULL;
    for (int i = 0; i < 50; i++) { /* the board is published within a second */
        cJSON_Delete(alerts);
        alerts = get_json(port, "/api/v1/alerts");
        if (cJSON_GetArraySize(cJSON_GetObjectItem(alerts, "alerts")) == 1)
            break;
        sleep_ms(100);
    }
    cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(alerts, "alerts"), 0);
    cr_assert_not_null(a, "no active alert: %s", cJSON_PrintUnformatted(alerts));
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "labels"), "journey")->valuestring, "checkout");
    cr_assert_str_eq(cJSON_GetObjectItem(a, "status")->valuestring, "firing");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(a, "silenced_by")));
    char key[32], link[96];
    snprintf(key, sizeof key, "%s", cJSON_GetObjectItem(a, "key")->valuestring);
    /* the notification links to the series' page under external_url */
    snprintf(link, sizeof link, "\"dashboard\":\"https://kw.example.com/series/%s\"", key);
    cr_assert(wait_for_text(agent.out_path, link, 1, 100), "no link %s in: %s", link, read_file(agent.out_path));
    char url[96];
    snprintf(url, sizeof url, "https://kw.example.com/series/%s", key);
    cr_assert_str_eq(cJSON_GetObjectItem(a, "url")->valuestring, url);
    /* its series' recent history: the three anomalous intervals, firing */
    cJSON *recent = cJSON_GetObjectItem(a, "recent"), *p;
    cr_assert_eq(cJSON_GetArraySize(recent), 23, "%s", cJSON_PrintUnformatted(a));
    int anomalous = 0;
    cJSON_ArrayForEach(p, recent) anomalous += cJSON_IsTrue(cJSON_GetObjectItem(p, "anomalous"));
    cr_assert_eq(anomalous, 3, "%s", cJSON_PrintUnformatted(recent));
    cJSON_Delete(alerts);

    cJSON *inc = get_json(port, "/api/v1/incidents");
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(inc, "incidents"), 0);
    cr_assert_not_null(first, "%s", cJSON_PrintUnformatted(inc));
    cr_assert_str_eq(cJSON_GetObjectItem(first, "id")->valuestring, "journey=checkout");
    cr_assert_str_eq(cJSON_GetObjectItem(first, "first_mover")->valuestring, key);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(first, "members")), 1);
    cJSON_Delete(inc);

    cJSON *series = get_json(port, "/api/v1/series?kpi=complaints&journey=checkout");
    cr_assert_str_eq(cJSON_GetObjectItem(series, "key")->valuestring, key);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(series, "firing")));
    cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItem(series, "points"), 22);
    cr_assert_eq(cJSON_GetObjectItem(last, "observed")->valuedouble, 95);
    cr_assert_eq(cJSON_GetObjectItem(last, "upper")->valuedouble, 50, "the threshold is the band's top");
    cJSON_Delete(series);
    struct answer amb = get(port, "/api/v1/series?kpi=complaints");
    cr_assert_eq(amb.status, 400, "three series match: %s", amb.body);
    free(amb.body);
    struct answer none = get(port, "/api/v1/series?kpi=complaints&journey=nowhere");
    cr_assert_eq(none.status, 404, "%s", none.body);
    free(none.body);

    /* normal again: the alert resolves and moves to the resolved list */
    send_range(&f, start, 23, 26, NULL, 0, 0);
    feed_close(&f);
    cr_assert(wait_for_text(agent.out_path, "\"status\":\"resolved\"", 1, 10000), "%s", read_file(agent.out_path));
    for (int i = 0; i < 50; i++) {
        alerts = get_json(port, "/api/v1/alerts");
        if (cJSON_GetArraySize(cJSON_GetObjectItem(alerts, "alerts")) == 0)
            break;
        cJSON_Delete(alerts);
        alerts = NULL;
        sleep_ms(100);
    }
    cr_assert_not_null(alerts, "the alert never left the active list");
    cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(alerts, "resolved"), 0);
    cr_assert_not_null(r);
    cr_assert_str_eq(cJSON_GetObjectItem(r, "key")->valuestring, key);
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(r, "resolved_at")));
    cJSON_Delete(alerts);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
}

Test(http, a_silence_over_http_holds_back_the_next_notification, .fini = fini, .timeout = 90)
{
    /* the token comes from a file, as a systemd credential would */
    char token_file[] = "/tmp/kpiwatch-token-XXXXXX";
    int tfd = mkstemp(token_file);
    cr_assert_eq(write(tfd, TOKEN "\n", strlen(TOKEN) + 1), (ssize_t)strlen(TOKEN) + 1);
    close(tfd);
    char extra[400];
    snprintf(extra, sizeof extra, ",\"token_file\":\"%s\"", token_file);
    int port = start_agent(extra, "");

    struct feed f;
    feed_open(&f);
    int64_t start = aligned_start(60);
    send_range(&f, start, 0, 25, "checkout", 20, 22); /* incident A on checkout */
    cr_assert(wait_firing("checkout", 1, 10000), "%s", read_file(agent.err_path));

    /* writes without the token, or with a wrong one, get 401 */
    struct answer no = request("POST", port, "/api/v1/silences", SILENCE_CHECKOUT, JSON_ONLY);
    cr_assert_eq(no.status, 401, "%s", no.body);
    struct answer wrong = request("POST", port, "/api/v1/silences", SILENCE_CHECKOUT, JSON_WRONG);
    cr_assert_eq(wrong.status, 401, "%s", wrong.body);
    struct answer del = request("DELETE", port, "/api/v1/silences/whatever", NULL, JSON_ONLY);
    cr_assert_eq(del.status, 401, "%s", del.body);
    free(no.body);
    free(wrong.body);
    free(del.body);
    cJSON *list = get_json(port, "/api/v1/silences");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(list, "silences")), 0);
    cJSON_Delete(list);

    struct answer ok = request("POST", port, "/api/v1/silences", SILENCE_CHECKOUT, JSON_TOKEN);
    cr_assert_eq(ok.status, 201, "%s", ok.body);
    cJSON *created = cJSON_Parse(ok.body);
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(created, "id")), "no id: %s", ok.body);
    char id[64];
    snprintf(id, sizeof id, "%s", cJSON_GetObjectItem(created, "id")->valuestring);
    cJSON_Delete(created);
    free(ok.body);
    list = get_json(port, "/api/v1/silences");
    cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "silences"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(s0, "status")->valuestring, "active");
    cJSON_Delete(list);

    /* incident B on checkout (silenced) and C on claims (not) */
    send_range(&f, start, 25, 30, "checkout", 26, 28);
    send_range(&f, start, 30, 35, "claims", 31, 33);
    cr_assert(wait_firing("claims", 1, 10000), "the claims incident was not notified: %s", read_file(agent.err_path));
    sleep_ms(500);
    cr_assert_eq(firing_lines("checkout"), 1, "the silenced checkout incident was notified: %s",
                 read_file(agent.out_path));
    struct answer m = get(port, "/metrics");
    cr_assert_eq(metric(m.body, "kpiwatch_silences{state=\"active\"}"), 1, "%s", m.body);
    free(m.body);

    /* expired: the next checkout incident is notified again */
    char path[128];
    snprintf(path, sizeof path, "/api/v1/silences/%s", id);
    struct answer ex = request("DELETE", port, path, NULL, JSON_TOKEN);
    cr_assert_eq(ex.status, 200, "%s", ex.body);
    free(ex.body);
    send_range(&f, start, 35, 40, "checkout", 36, 38);
    feed_close(&f);
    cr_assert(wait_firing("checkout", 2, 10000), "not notified after the silence expired: %s", read_file(agent.out_path));
    char *err = read_file(agent.err_path);
    cr_assert(strstr(err, TOKEN) == NULL, "the token reached the log");
    free(err);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
    unlink(token_file);
}

Test(http, writes_need_a_token_unless_the_listener_is_on_loopback, .fini = fini, .timeout = 60)
{
    /* on every interface with no token: every write is refused, reads work */
    int port = start_agent(",\"listen\":\"0.0.0.0\"", "");
    cr_assert(wait_for_text(agent.err_path, "every write (silences) is refused", 1, 2000), "%s", read_file(agent.err_path));
    struct answer w = request("POST", port, "/api/v1/silences", SILENCE_CHECKOUT, JSON_TOKEN);
    cr_assert_eq(w.status, 403, "%s", w.body);
    cr_assert(strstr(w.body, "not on loopback") != NULL, "%s", w.body);
    free(w.body);
    struct answer r = get(port, "/api/v1/silences");
    cr_assert_eq(r.status, 200);
    free(r.body);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
    agent_cleanup(&agent);

    /* on loopback with no token: writes from loopback names, as JSON, only */
    port = start_agent("", "");
    struct answer ok = request("POST", port, "/api/v1/silences", SILENCE_CHECKOUT, JSON_ONLY);
    cr_assert_eq(ok.status, 201, "%s", ok.body);
    free(ok.body);
    const char *const rebound[] = {"Content-Type: application/json", "Host: attacker.example:8080", NULL};
    struct answer dns = request("POST", port, "/api/v1/silences", SILENCE_CHECKOUT, rebound);
    cr_assert_eq(dns.status, 403, "a rebound DNS name must not write: %s", dns.body);
    free(dns.body);
    const char *const form[] = {"Content-Type: text/plain", NULL};
    struct answer fm = request("POST", port, "/api/v1/silences", SILENCE_CHECKOUT, form);
    cr_assert_eq(fm.status, 415, "a cross-site form post must not write: %s", fm.body);
    free(fm.body);
    struct answer bad = request("POST", port, "/api/v1/silences", "{\"matchers\":[]}", JSON_ONLY);
    cr_assert_eq(bad.status, 400, "%s", bad.body);
    cr_assert(strstr(bad.body, "silence.matchers") != NULL, "the error names the key: %s", bad.body);
    free(bad.body);
    struct answer put = request("PUT", port, "/api/v1/alerts", NULL, NULL);
    cr_assert_eq(put.status, 405);
    free(put.body);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
}

Test(http, health_readiness_and_the_page_escape_label_values, .fini = fini, .timeout = 60)
{
    int port = start_agent("", "");
    struct answer h = get(port, "/healthz");
    cr_assert_eq(h.status, 200);
    cr_assert_str_eq(h.body, "ok\n");
    struct answer r = get(port, "/readyz");
    cr_assert_eq(r.status, 200, "%s", r.body);
    free(h.body);
    free(r.body);

    struct feed f;
    feed_open(&f);
    int64_t start = aligned_start(10);
    char msg[512];
    snprintf(msg, sizeof msg,
             "[{\"metric\":\"complaints\",\"labels\":{\"journey\":\"<img src=x onerror=alert(1)>\"},\"value\":99,\"ts\":%lld},"
             "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"clock\"},\"value\":0,\"ts\":%lld}]",
             (long long)start, (long long)start + 2 * INTERVAL_S);
    feed_send(&f, msg);
    feed_close(&f);
    cr_assert(wait_for_text(agent.out_path, "\"status\":\"firing\"", 1, 10000), "%s", read_file(agent.err_path));
    struct answer page = {0};
    for (int i = 0; i < 50; i++) {
        free(page.body);
        page = get(port, "/");
        if (strstr(page.body, "onerror"))
            break;
        sleep_ms(100);
    }
    cr_assert_eq(page.status, 200);
    cr_assert(strstr(page.ctype, "text/html") != NULL);
    cr_assert(strstr(page.csp, "default-src 'none'") != NULL, "no CSP: %s", page.csp);
    cr_assert(strstr(page.body, "&lt;img src=x onerror=alert(1)&gt;") != NULL, "the label is not shown escaped");
    cr_assert(strstr(page.body, "<img") == NULL, "a label value became markup");
    cr_assert(strstr(page.body, "<script") == NULL, "the page runs no script");
    cr_assert(strstr(page.body, "class=\"observed\"") != NULL);
    free(page.body);
    struct answer missing = get(port, "/series/0123456789abcdef");
    cr_assert_eq(missing.status, 404);
    free(missing.body);
    struct answer nothing = get(port, "/nothing");
    cr_assert_eq(nothing.status, 404);
    free(nothing.body);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
}

Test(http, bad_options_are_refused_with_their_key_and_a_busy_port_stops_the_start, .fini = fini, .timeout = 60)
{
    const char *cases[][2] = {
        {"\"listen\":\"localhost\"", "http.listen: must be a numeric IPv4 or IPv6 address"},
        {"\"port\":70000", "http.port: must be <= 65535"},
        {"\"token\":\"short-secret\"", "http.token: must be at least 16 characters"},
        {"\"external_url\":\"ftp://x\"", "http.external_url: must be an http(s) URL"},
        {"\"prot\":1", "http.prot: unknown key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[] = "/tmp/kpiwatch-http-cfg-XXXXXX";
        int fd = mkstemp(path);
        char text[512];
        snprintf(text, sizeof text, "{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\"}],\"http\":{%s}}", cases[i][0]);
        cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        char cmd[512], *out;
        snprintf(cmd, sizeof cmd, "%s check-config %s", harness_binary(), path);
        cr_assert_eq(run_capture(cmd, &out), 3, "%s: %s", cases[i][0], out);
        cr_assert(strstr(out, cases[i][1]) != NULL, "%s: %s", cases[i][0], out);
        cr_assert(strstr(out, "short-secret") == NULL, "the token was echoed: %s", out);
        free(out);
        unlink(path);
    }

    /* the port is taken: the agent says so and exits 1 */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    listen(fd, 1);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    agent_prepare(&agent, "{}");
    char *text = NULL;
    cr_assert_geq(asprintf(&text, CONFIG, agent.endpoint, agent.dir, ntohs(a.sin_port), "", ""), 0);
    agent_write_config(&agent, text);
    free(text);
    agent_start(&agent, "run");
    for (int i = 0; i < 100 && agent_alive(&agent); i++)
        sleep_ms(50);
    cr_assert(!agent_alive(&agent));
    cr_assert_eq(agent.exit_status, 1, "%s", read_file(agent.err_path));
    char want[128];
    snprintf(want, sizeof want, "http.port: cannot bind 127.0.0.1:%d: Address already in use", ntohs(a.sin_port));
    cr_assert(wait_for_text(agent.err_path, want, 1, 100), "%s", read_file(agent.err_path));
    close(fd);
}

Test(http, reload_moves_the_listener_only_when_its_options_change, .fini = fini, .timeout = 60)
{
    int port = start_agent("", "");
    struct feed f;
    feed_open(&f);
    send_range(&f, aligned_start(20), 0, 10, NULL, 0, 0);
    feed_close(&f);
    /* all ten intervals in the history: the last one closes when the quiet
     * stream's clock passes it, at a moment of its own */
    int points = 0;
    for (int i = 0; i < 100 && points < 10; i++) {
        struct answer a = get(port, "/api/v1/series?kpi=complaints&journey=checkout");
        cJSON *s = a.status == 200 ? cJSON_Parse(a.body) : NULL;
        points = cJSON_GetArraySize(cJSON_GetObjectItem(s, "points"));
        cJSON_Delete(s);
        free(a.body);
        if (points < 10)
            sleep_ms(100);
    }
    cr_assert_eq(points, 10, "history of %d intervals: %s", points, read_file(agent.err_path));

    /* the same options: the listener and its history stay */
    kill(agent.pid, SIGHUP);
    cr_assert(wait_for_text(agent.err_path, "series kept their state", 1, 5000), "%s", read_file(agent.err_path));
    cJSON *after = get_json(port, "/api/v1/series?kpi=complaints&journey=checkout");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(after, "points")), points, "the history was lost on reload");
    cJSON_Delete(after);
    char *log = read_file(agent.err_path);
    cr_assert_eq(count_text(log, "listening on"), 1, "restarted with unchanged options: %s", log);
    free(log);

    /* another port: the new one answers, the old one is closed */
    int port2 = free_port();
    char *text = NULL;
    cr_assert_geq(asprintf(&text, CONFIG, agent.endpoint, agent.dir, port2, "", ""), 0);
    agent_write_config(&agent, text);
    free(text);
    kill(agent.pid, SIGHUP);
    cr_assert(wait_for_text(agent.err_path, "series kept their state", 2, 5000), "%s", read_file(agent.err_path));
    struct answer moved = get(port2, "/healthz");
    cr_assert_eq(moved.status, 200, "%s", read_file(agent.err_path));
    free(moved.body);
    struct answer old = get(port, "/healthz");
    cr_assert_eq(old.status, 0, "the old port still answers");
    free(old.body);
    struct answer m = get(port2, "/metrics");
    cr_assert_eq(metric(m.body, "kpiwatch_config_reloads_total{result=\"success\"}"), 2, "%s", m.body);
    cr_assert_eq(metric(m.body, "kpiwatch_config_last_reload_successful"), 1);
    free(m.body);

    /* a port that is taken refuses the whole reload: the listener, and the
     * rest of the running config (a changed KPI name here), stay as they were */
    int busy = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(busy, (struct sockaddr *)&a, sizeof a), 0);
    listen(busy, 1);
    socklen_t len = sizeof a;
    getsockname(busy, (struct sockaddr *)&a, &len);
    cr_assert_geq(asprintf(&text, CONFIG, agent.endpoint, agent.dir, ntohs(a.sin_port), "", ""), 0);
    char *renamed = strstr(text, "\"name\":\"complaints\"");
    cr_assert_not_null(renamed, "%s", text);
    renamed[strlen("\"name\":\"complaint")] = 'z';
    agent_write_config(&agent, text);
    free(text);
    kill(agent.pid, SIGHUP);
    char want[160];
    snprintf(want, sizeof want, "keeping the running config and listener: http.port: cannot bind 127.0.0.1:%d: "
             "Address already in use", ntohs(a.sin_port));
    cr_assert(wait_for_text(agent.err_path, want, 1, 5000), "%s", read_file(agent.err_path));
    m = get(port2, "/metrics");
    cr_assert_eq(m.status, 200, "the running listener must stay");
    cr_assert_eq(metric(m.body, "kpiwatch_config_reloads_total{result=\"failure\"}"), 1, "%s", m.body);
    cr_assert_eq(metric(m.body, "kpiwatch_config_last_reload_successful"), 0);
    cr_assert(strstr(m.body, "kpi=\"complaints\"") && !strstr(m.body, "complaintz"), "the KPIs changed: %s", m.body);
    free(m.body);
    close(busy);

    /* the same port on an address this host does not have (TEST-NET-1):
     * refused too, and the running listener still answers */
    cr_assert_geq(asprintf(&text, CONFIG, agent.endpoint, agent.dir, port2, ",\"listen\":\"192.0.2.1\"", ""), 0);
    agent_write_config(&agent, text);
    free(text);
    kill(agent.pid, SIGHUP);
    snprintf(want, sizeof want, "keeping the running config and listener: http.port: cannot bind 192.0.2.1:%d:", port2);
    cr_assert(wait_for_text(agent.err_path, want, 1, 5000), "%s", read_file(agent.err_path));
    m = get(port2, "/healthz");
    cr_assert_eq(m.status, 200, "the running listener must stay: %s", read_file(agent.err_path));
    free(m.body);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
}

Test(http, logfmt_lines_carry_no_secret, .fini = fini, .timeout = 60)
{
    /* a Slack webhook that fails (nothing listens on port 1), its secret path and the token from the environment */
    setenv("KW_IT_TOKEN", TOKEN, 1);
    setenv("KW_IT_WEBHOOK", "http://127.0.0.1:1/services/T000/B000/SECRETPATHxyz", 1);
    agent_prepare(&agent, "{}");
    int port = free_port();
    char *text = NULL;
    cr_assert_geq(asprintf(&text,
                           "{\"agent\":{\"stats_interval\":\"0\",\"log_format\":\"logfmt\",\"log_level\":\"debug\"},"
                           "\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"1h\"},"
                           "\"inputs\":[{\"name\":\"in\",\"endpoint\":\"%s\",\"socket\":\"pull\"}],"
                           "\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"lateness\":\"0s\","
                           "\"group_by\":[\"journey\"],\"detector\":{\"type\":\"threshold\",\"high\":50},"
                           "\"alert\":{\"for\":1,\"resolve_after\":1}}],"
                           "\"receivers\":[{\"name\":\"cx\",\"type\":\"slack\",\"webhook_url\":\"${KW_IT_WEBHOOK}\"}],"
                           "\"route\":{\"receiver\":\"cx\",\"group_wait\":\"0s\"},"
                           "\"delivery\":{\"backoff_initial\":\"100ms\",\"backoff_max\":\"200ms\",\"max_age\":\"2s\"},"
                           "\"http\":{\"port\":%d,\"token\":\"${KW_IT_TOKEN}\"}}",
                           agent.endpoint, port),
                  0);
    agent_write_config(&agent, text);
    free(text);
    agent_start(&agent, "run");
    cr_assert(agent_alive(&agent), "%s", read_file(agent.err_path));
    struct feed f;
    feed_open(&f);
    send_range(&f, aligned_start(20), 0, 5, "checkout", 2, 4);
    feed_close(&f);
    /* a write that sends the token in the wrong form, then a delivery that fails and dies */
    const char *const basic[] = {"Content-Type: application/json", "Authorization: Basic " TOKEN, NULL};
    struct answer w = request("POST", port, "/api/v1/silences", SILENCE_CHECKOUT, basic);
    cr_assert_eq(w.status, 401);
    free(w.body);
    cr_assert(wait_for_text(agent.err_path, "level=error", 1, 15000), "no failed delivery: %s", read_file(agent.err_path));
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
    char *err = read_file(agent.err_path);
    cr_assert(strstr(err, "SECRETPATHxyz") == NULL, "the webhook's secret path was logged:\n%s", err);
    cr_assert(strstr(err, TOKEN) == NULL, "the token was logged:\n%s", err);
    int lines = 0;
    for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        cr_assert(strncmp(line, "ts=", 3) == 0 && strstr(line, " level=") && strstr(line, " component=") &&
                      strstr(line, " msg=\""),
                  "not a logfmt line: %s", line);
    }
    cr_assert_gt(lines, 5);
    free(err);
}

Test(http, silence_command_uses_the_agent_or_the_state_dir, .fini = fini, .timeout = 60)
{
    setenv("KW_IT_TOKEN", TOKEN, 1);
    int port = start_agent(",\"token\":\"${KW_IT_TOKEN}\"", "");
    (void)port;
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "%s silence add -c %s journey=checkout --duration 2h --author it --comment 'deploy' 2>/dev/null",
             harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    char id[64];
    cr_assert_eq(sscanf(out, "%63s", id), 1);
    free(out);
    cr_assert(wait_for_text(agent.err_path, "added by it from 127.0.0.1", 1, 2000), "not through the API: %s",
              read_file(agent.err_path));
    snprintf(cmd, sizeof cmd, "%s silence list -c %s", harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, id) && strstr(out, "journey=\"checkout\"") && strstr(out, "active"), "%s", out);
    free(out);
    /* --json prints what the API answers: {"silences": [...]} */
    snprintf(cmd, sizeof cmd, "%s silence list -c %s --json 2>/dev/null", harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cJSON *listed = cJSON_Parse(out);
    cr_assert(cJSON_IsObject(listed), "not the API's object: %s", out);
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(listed, "silences"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(first, "id")->valuestring, id, "%s", out);
    cJSON_Delete(listed);
    free(out);
    snprintf(cmd, sizeof cmd, "%s silence expire -c %s %s", harness_binary(), agent.config, id);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s silence add -c %s 'journey=~(' 2>&1", harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 2, "a bad regex is a usage error: %s", out);
    free(out);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);

    /* no agent: straight into the state directory, which the next agent reads */
    snprintf(cmd, sizeof cmd, "%s silence add -c %s journey=claims --duration 1h", harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "no agent answers") != NULL, "%s", out);
    const char *until = strstr(out, " until ");
    cr_assert(until && strncmp(until + 7, "20", 2) == 0 && until[11] == '-' && until[17] == 'T',
              "the end is an RFC 3339 time: %s", out);
    free(out);
    char path[256];
    snprintf(path, sizeof path, "%s/state/silences.json", agent.dir);
    char *file = read_file(path);
    cr_assert(strstr(file, "\"claims\"") != NULL, "%s", file);
    free(file);
    agent_start(&agent, "run");
    wait_listening(port);
    cJSON *list = get_json(port, "/api/v1/silences");
    char *text = cJSON_PrintUnformatted(list);
    cr_assert(strstr(text, "\"claims\"") != NULL, "the agent did not read it: %s", text);
    free(text);
    cJSON_Delete(list);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
}

/* Until /readyz answers 200: the restored state and history are loaded. */
static void wait_ready(int port)
{
    for (int i = 0; i < 100; i++) {
        struct answer a = get(port, "/readyz");
        free(a.body);
        if (a.status == 200)
            return;
        sleep_ms(50);
    }
    cr_assert_fail("never ready: %s", read_file(agent.err_path));
}

Test(http, series_history_survives_a_restart_and_a_damaged_file_is_moved_aside, .fini = fini, .timeout = 60)
{
    int port = start_agent("", "");
    struct feed f;
    feed_open(&f);
    send_range(&f, aligned_start(40), 0, 23, "checkout", 20, 23);
    feed_close(&f);
    cJSON *before = NULL;
    for (int i = 0; i < 100; i++) {
        struct answer a = get(port, "/api/v1/series?kpi=complaints&journey=checkout");
        cJSON_Delete(before);
        before = a.status == 200 ? cJSON_Parse(a.body) : NULL;
        free(a.body);
        if (before && cJSON_GetArraySize(cJSON_GetObjectItem(before, "points")) == 23)
            break;
        sleep_ms(100);
    }
    cr_assert_not_null(before, "no history: %s", read_file(agent.err_path));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(before, "points")), 23);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/state/history.json", agent.dir);
    cr_assert(access(path, F_OK) == 0, "no %s after a clean stop", path);

    /* restarted with no new point: the page has what it had, bands and marks included */
    agent_start(&agent, "run");
    wait_ready(port);
    cJSON *after = get_json(port, "/api/v1/series?kpi=complaints&journey=checkout");
    cr_assert_str_eq(cJSON_GetObjectItem(after, "key")->valuestring, cJSON_GetObjectItem(before, "key")->valuestring);
    char *was = cJSON_PrintUnformatted(cJSON_GetObjectItem(before, "points"));
    char *is = cJSON_PrintUnformatted(cJSON_GetObjectItem(after, "points"));
    cr_assert_str_eq(is, was, "the points changed over a restart");
    cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItem(after, "points"), 22);
    cr_assert_eq(cJSON_GetObjectItem(last, "observed")->valuedouble, 95);
    cr_assert_eq(cJSON_GetObjectItem(last, "upper")->valuedouble, 50);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(last, "anomalous")), "%s", is);
    free(was);
    free(is);
    cJSON_Delete(after);
    cJSON_Delete(before);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);

    /* a damaged file: the agent starts without it and keeps it for inspection */
    FILE *fp = fopen(path, "w");
    fputs("{\"version\":1,\"series\":[{\"key\":", fp);
    fclose(fp);
    agent_start(&agent, "run");
    wait_ready(port);
    cr_assert(agent_alive(&agent));
    struct answer gone = get(port, "/api/v1/series?kpi=complaints&journey=checkout");
    cr_assert_eq(gone.status, 404, "%s", gone.body);
    free(gone.body);
    cr_assert(wait_for_text(agent.err_path, "ignoring the charts' history", 1, 1000), "%s", read_file(agent.err_path));
    char aside[300];
    snprintf(aside, sizeof aside, "%s.damaged", path);
    char *kept = read_file(aside);
    cr_assert_str_eq(kept, "{\"version\":1,\"series\":[{\"key\":");
    free(kept);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
}

/* A receiver that is off is 0 in kpiwatch_receiver_enabled and named, with
 * why, in the startup log. */
Test(http, a_receiver_that_is_off_shows_in_metrics_and_the_log, .fini = fini, .timeout = 60)
{
    unsetenv("KW_IT_NO_SUCH_HOOK");
    agent_prepare(&agent, "{}");
    int port = free_port();
    char *text = NULL;
    cr_assert_geq(asprintf(&text, CONFIG, agent.endpoint, agent.dir, port, "", ""), 0);
    const char *at = strstr(text, "\"receivers\":[");
    cr_assert_not_null(at);
    char *config = NULL;
    cr_assert_geq(asprintf(&config, "%.*s\"receivers\":[{\"name\":\"cx-slack\",\"type\":\"slack\","
                                    "\"enabled\":\"${KW_IT_NO_SUCH_HOOK:+true}\"},%s",
                           (int)(at - text), text, at + 13), 0);
    agent_write_config(&agent, config);
    free(config);
    free(text);
    agent_start(&agent, "run");
    wait_listening(port);
    char *scrape = scrape_until(port, "kpiwatch_receiver_enabled{receiver=\"out\",type=\"console\"}", 1);
    cr_assert_eq(metric(scrape, "kpiwatch_receiver_enabled{receiver=\"cx-slack\",type=\"slack\"}"), 0, "%s", scrape);
    cr_assert(strstr(scrape, "# TYPE kpiwatch_receiver_enabled gauge\n"), "%s", scrape);
    free(scrape);
    char *err = read_file(agent.err_path);
    cr_assert(strstr(err, "receiver cx-slack is off: KW_IT_NO_SUCH_HOOK is not set"), "%s", err);
    cr_assert(strstr(err, "2 receivers (1 off)"), "%s", err);
    free(err);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
}

/* /api/v1/series tells an unknown KPI (naming the known ones) from a series
 * whose first interval has not closed yet. */
Test(http, series_errors_name_an_unknown_kpi_and_a_series_not_closed_yet, .fini = fini, .timeout = 60)
{
    int port = start_agent("", "");
    wait_listening(port);
    struct feed f;
    feed_open(&f);
    char msg[256];
    snprintf(msg, sizeof msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":3,\"ts\":%lld}",
             (long long)aligned_start(0) + 7);
    feed_send(&f, msg);
    feed_close(&f);
    free(scrape_until(port, "kpiwatch_points_accepted_total", 1));

    struct answer nope = get(port, "/api/v1/series?kpi=nope");
    cr_assert_eq(nope.status, 404, "%s", nope.body);
    cJSON *j = cJSON_Parse(nope.body);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "error")->valuestring, "no KPI named \"nope\"", "%s", nope.body);
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "kpis"), 0)->valuestring, "complaints", "%s", nope.body);
    cJSON_Delete(j);
    free(nope.body);

    struct answer open = get(port, "/api/v1/series?kpi=complaints&journey=checkout");
    cr_assert_eq(open.status, 404, "%s", open.body);
    j = cJSON_Parse(open.body);
    cr_assert(strstr(cJSON_GetObjectItem(j, "error")->valuestring, "once its first interval has closed"), "%s", open.body);
    cJSON_Delete(j);
    free(open.body);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
}
