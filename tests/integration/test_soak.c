/* Soak: the real binary under about two minutes of hostile input over real
 * sockets (PUSH and PUB): journey traffic with incidents, interleaved with
 * malformed, oversized, deeply nested, invalid UTF-8, non-finite and
 * out-of-range points, a million-value label flood, reloads with good and
 * broken configs, and a kill -9 with a restart on the same state_dir. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#include "harness.h"

#define INTERVAL_S 300
#define PHASE 60              /* intervals of traffic before the kill, and after the restart */
#define MAX_MSG 262144        /* ingest.max_message_bytes */
#define FLOOD_POINTS 1000000  /* distinct session label values */
#define FLOOD_BATCH 1000      /* points per flood message (~75 KB) */
#define FLOOD_SERIES 100      /* kpis[sessions].max_series */
#define NESTING 10000

/* Incidents, in intervals from the start of the run. */
#define SPIKE1 30   /* complaints, checkout (before the kill) */
#define DROP1 45    /* drop-offs, claims/upload (before the kill) */
#define SPIKE2 90   /* complaints, claims (after the restart) */
#define DROP2 105   /* drop-offs, checkout/pay (after the restart) */
#define INCIDENT_LEN 3

/* RSS bound. The agent holds a few hundred series and at most the flood
 * messages still queued in ZeroMQ (1000 x 75 KB = 75 MB) plus cJSON trees of
 * one message at a time: 300 MB leaves room for allocator slack. Under ASan
 * add its quarantine of freed memory (256 MB by default) and its shadow. */
#define RSS_BOUND_KB (300 * 1024)
#define RSS_BOUND_ASAN_KB (300 * 1024 + 256 * 1024 + 200 * 1024)

enum config_kind { GOOD_A, GOOD_B, BAD_AGENT_ARRAY, BAD_WINDOW, BAD_ENDPOINT, BAD_EMPTY_METRIC };

/* One reload cycle per phase: broken and good configs alternate. */
static const enum config_kind reloads[] = {BAD_AGENT_ARRAY, GOOD_B, BAD_WINDOW, GOOD_A,
                                           BAD_ENDPOINT, GOOD_B, BAD_EMPTY_METRIC, GOOD_A};
#define NRELOADS ((int)(sizeof reloads / sizeof reloads[0]))
#define RELOAD_EVERY 7

/* What one phase must leave in the stats line. */
struct expect {
    unsigned long messages, accepted, unwatched;
    unsigned long malformed, oversized, non_finite, bad_ts, too_old, too_new, utf8, series_limit;
};

struct soak {
    struct agent_proc agent;
    char sub_endpoint[64];
    void *ctx, *push, *pub;
    int64_t start;           /* epoch seconds of interval 0 */
    int good_reloads, bad_reloads;
    long rss_max_kb;
    bool asan;
    char *flood_msg;
    long flood_sent;
};

static struct soak soak;

static void fini(void)
{
    if (soak.ctx) {
        if (soak.push)
            zmq_close(soak.push);
        if (soak.pub)
            zmq_close(soak.pub);
        zmq_ctx_term(soak.ctx);
    }
    free(soak.flood_msg);
    agent_cleanup(&soak.agent);
}

static void write_config(enum config_kind kind)
{
    const struct agent_proc *a = &soak.agent;
    char agent[256];
    snprintf(agent, sizeof agent,
             "{\"log_level\": \"info\", \"stats_interval\": \"1s\", \"state_dir\": \"%s/state\", \"max_series\": 10000}",
             a->dir);
    char text[4096];
    snprintf(text, sizeof text,
        "{\n"
        "  \"agent\": %s,\n"
        "  \"ingest\": {\"max_past\": \"30d\", \"max_future\": \"1h\", \"max_label_bytes\": 64, \"max_message_bytes\": %d},\n"
        "  \"inputs\": [{\"name\": \"push\", \"endpoint\": \"%s\", \"mode\": \"bind\", \"socket\": \"pull\"},\n"
        "             {\"name\": \"bus\", \"endpoint\": \"%s\", \"mode\": \"bind\", \"socket\": \"sub\"}],\n"
        "  \"kpis\": [\n"
        "    {\"name\": \"complaints\", \"metric\": \"%s\", \"aggregation\": \"sum\", \"interval\": \"5m\",\n"
        "     \"lateness\": \"0s\", \"group_by\": [\"journey\"],\n"
        "     \"detector\": {\"type\": \"mad\", \"window\": %d, \"min_points\": 20}, \"alert\": {\"for\": 2, \"resolve_after\": 2}},\n"
        "    {\"name\": \"step_dropoff_rate\", \"metric\": \"journey_step_dropoffs\", \"denominator\": \"journey_step_entries\",\n"
        "     \"aggregation\": \"ratio\", \"interval\": \"5m\", \"lateness\": \"0s\", \"group_by\": [\"journey\", \"step\"],\n"
        "     \"detector\": {\"type\": \"binomial\"}, \"alert\": {\"for\": 2, \"resolve_after\": 2}},\n"
        "    {\"name\": \"sessions\", \"metric\": \"session_events\", \"interval\": \"5m\", \"group_by\": [\"session\"],\n"
        "     \"max_series\": %d}%s\n"
        "  ],\n"
        "  \"receivers\": [{\"name\": \"out\", \"type\": \"console\", \"format\": \"json\"}]\n"
        "}\n",
        kind == BAD_AGENT_ARRAY ? "[1]" : agent, MAX_MSG, a->endpoint,
        kind == BAD_ENDPOINT ? "tcp://192.0.2.1:1" : soak.sub_endpoint,
        kind == BAD_EMPTY_METRIC ? "" : "complaints", kind == BAD_WINDOW ? 2 : 64, FLOOD_SERIES,
        kind == GOOD_B ? ",\n    {\"name\": \"complaints_total\", \"metric\": \"complaints\", \"interval\": \"5m\"}" : "");
    agent_write_config(&soak.agent, text);
}

/* A /proc file (its size reads as 0, so read_file would see nothing). */
static char *read_proc(const char *path)
{
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    FILE *f = fopen(path, "r");
    while (f && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    if (f)
        fclose(f);
    buf[len] = '\0';
    return buf;
}

static long rss_kb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *text = read_proc(path);
    const char *line = strstr(text, "VmRSS:");
    long kb = line ? strtol(line + 6, NULL, 10) : 0;
    free(text);
    return kb;
}

/* The sanitizer build maps libasan: its RSS gets the larger bound. */
static bool under_asan(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    char *text = read_proc(path);
    bool asan = strstr(text, "libasan") != NULL;
    free(text);
    return asan;
}

static void sample_rss(void)
{
    long kb = soak.agent.pid > 0 ? rss_kb(soak.agent.pid) : 0;
    if (kb > soak.rss_max_kb)
        soak.rss_max_kb = kb;
}

static void check_alive(const char *when)
{
    cr_assert(agent_alive(&soak.agent), "the agent died %s: %s", when, read_file(soak.agent.err_path));
    sample_rss();
}

static void send_msg(void *sock, const char *msg, size_t len)
{
    cr_assert_eq(zmq_send(sock, msg, len, 0), (int)len, "zmq_send: %s", zmq_strerror(zmq_errno()));
}

static void send_str(void *sock, const char *msg)
{
    send_msg(sock, msg, strlen(msg));
}

/* PUSH to the pull input and XPUB to the sub input; returns once the
 * agent's subscription has arrived, so nothing published is dropped. */
static void open_feeds(void)
{
    soak.ctx = zmq_ctx_new();
    soak.push = zmq_socket(soak.ctx, ZMQ_PUSH);
    soak.pub = zmq_socket(soak.ctx, ZMQ_XPUB);
    int linger = 5000, timeout = 10000;
    zmq_setsockopt(soak.push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(soak.pub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(soak.pub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    cr_assert_eq(zmq_connect(soak.push, soak.agent.endpoint), 0);
    cr_assert_eq(zmq_connect(soak.pub, soak.sub_endpoint), 0);
    char sub[16];
    cr_assert_geq(zmq_recv(soak.pub, sub, sizeof sub, 0), 1, "no subscription from the agent's SUB input");
    cr_assert_eq(sub[0], 1);
}

static void close_feeds(int linger)
{
    zmq_setsockopt(soak.push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(soak.pub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(soak.push);
    zmq_close(soak.pub);
    zmq_ctx_term(soak.ctx);
    soak.ctx = soak.push = soak.pub = NULL;
}

static bool in_incident(int i, int at)
{
    return i >= at && i < at + INCIDENT_LEN;
}

/* Interval i of valid traffic: complaints per journey on PUSH, step
 * entries and drop-offs on PUB (multipart topic + payload, or one frame
 * "topic payload"). */
static void send_traffic(int i, struct expect *e)
{
    uint32_t rng = 777u + (uint32_t)i * 2654435761u;
    long long ts = (long long)(soak.start + (int64_t)i * INTERVAL_S + 7);
    int checkout = in_incident(i, SPIKE1) ? 95 : harness_rand(&rng, 16, 24);
    int claims = in_incident(i, SPIKE2) ? 80 : harness_rand(&rng, 8, 12);
    char msg[1024];
    snprintf(msg, sizeof msg,
             "[{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":%d,\"ts\":%lld},"
             "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"claims\"},\"value\":%d,\"ts\":%lld}]",
             checkout, ts, claims, ts);
    send_str(soak.push, msg);
    int pay = in_incident(i, DROP2) ? 90 : harness_rand(&rng, 16, 24);
    int upload = in_incident(i, DROP1) ? 90 : harness_rand(&rng, 16, 24);
    int n = snprintf(msg, sizeof msg, "%s", i % 2 ? "journeys " : "");
    snprintf(msg + n, sizeof msg - (size_t)n,
             "[{\"metric\":\"journey_step_entries\",\"labels\":{\"journey\":\"checkout\",\"step\":\"pay\"},\"value\":200,\"ts\":%lld},"
             "{\"metric\":\"journey_step_dropoffs\",\"labels\":{\"journey\":\"checkout\",\"step\":\"pay\"},\"value\":%d,\"ts\":%lld},"
             "{\"metric\":\"journey_step_entries\",\"labels\":{\"journey\":\"claims\",\"step\":\"upload\"},\"value\":200,\"ts\":%lld},"
             "{\"metric\":\"journey_step_dropoffs\",\"labels\":{\"journey\":\"claims\",\"step\":\"upload\"},\"value\":%d,\"ts\":%lld}]",
             ts, pay, ts, ts, upload, ts);
    if (i % 2 == 0)
        cr_assert_eq(zmq_send(soak.pub, "journeys", 8, ZMQ_SNDMORE), 8);
    send_str(soak.pub, msg);
    e->messages += 2;
    e->accepted += 6;
}

/* One bad message of a kind that rotates with the interval. */
static void send_hostile(int i, struct expect *e)
{
    long long ts = (long long)(soak.start + (int64_t)i * INTERVAL_S + 11);
    long long now = (long long)time(NULL);
    char msg[1024];
    switch (i % 10) {
    case 0:
        send_str(soak.push, "{\"metric\":\"complaints\",\"value\":");
        e->malformed++;
        break;
    case 1: { /* deeper than any parser should follow */
        char *nested = malloc(2 * NESTING);
        memset(nested, '[', NESTING);
        memset(nested + NESTING, ']', NESTING);
        send_msg(soak.push, nested, 2 * NESTING);
        free(nested);
        e->malformed++;
        break;
    }
    case 2: { /* over max_message_bytes, under the socket's frame limit */
        size_t len = MAX_MSG + MAX_MSG / 4;
        char *big = malloc(len);
        int n = snprintf(big, len, "{\"metric\":\"complaints\",\"labels\":{\"pad\":\"");
        memset(big + n, 'x', len - (size_t)n);
        send_msg(soak.push, big, len);
        free(big);
        e->oversized++;
        break;
    }
    case 3:
        snprintf(msg, sizeof msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"caf\xc3\"},\"value\":1,\"ts\":%lld}", ts);
        send_str(i % 20 == 3 ? soak.push : soak.pub, msg);
        e->utf8++;
        break;
    case 4:
        snprintf(msg, sizeof msg,
                 "[{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":\"NaN\",\"ts\":%lld},"
                 "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":1e999,\"ts\":%lld},"
                 "{\"metric\":\"journey_step_entries\",\"labels\":{\"journey\":\"claims\",\"step\":\"upload\"},\"value\":\"-Infinity\",\"ts\":%lld}]",
                 ts, ts, ts);
        send_str(soak.push, msg);
        e->non_finite += 3;
        break;
    case 5:
        send_str(soak.push, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":1,\"ts\":0}");
        e->too_old++;
        break;
    case 6:
        send_str(soak.pub, "[{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":1,\"ts\":32503680000},"
                           "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"claims\"},\"value\":1,\"ts\":\"2999-01-01T00:00:00Z\"}]");
        e->bad_ts += 2;
        break;
    case 7: /* a metric no KPI watches, half an hour ahead (allowed) and three hours ahead (not) */
        snprintf(msg, sizeof msg,
                 "[{\"metric\":\"checkout_latency_ms\",\"labels\":{\"journey\":\"checkout\"},\"value\":250,\"ts\":%lld},"
                 "{\"metric\":\"checkout_latency_ms\",\"labels\":{\"journey\":\"checkout\"},\"value\":250,\"ts\":%lld}]",
                 now + 1800, now + 3 * 3600);
        send_str(soak.push, msg);
        e->accepted++;
        e->unwatched++;
        e->too_new++;
        break;
    case 8:
        send_str(soak.pub, "journeys {\"metric\":");
        e->malformed++;
        break;
    case 9:
        snprintf(msg, sizeof msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":NaN,\"ts\":%lld}", ts);
        send_str(soak.push, msg);
        e->malformed++;
        break;
    }
    e->messages++;
}

/* A message beyond the socket's frame limit makes ZeroMQ drop the
 * connection before the agent sees it; on its own socket, so the drop
 * cannot take other messages with it. Not counted anywhere. */
static void send_giant(void)
{
    void *s = zmq_socket(soak.ctx, ZMQ_PUSH);
    int linger = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(s, soak.agent.endpoint), 0);
    size_t len = 8u * MAX_MSG;
    char *giant = malloc(len);
    memset(giant, '[', len);
    send_msg(s, giant, len);
    free(giant);
    zmq_close(s);
}

/* Flood messages of FLOOD_BATCH distinct session values each. */
static void send_flood(int i, int messages, struct expect *e)
{
    long long ts = (long long)(soak.start + (int64_t)i * INTERVAL_S + 13);
    for (int m = 0; m < messages && soak.flood_sent < FLOOD_POINTS; m++) {
        size_t n = 0;
        soak.flood_msg[n++] = '[';
        for (int k = 0; k < FLOOD_BATCH; k++, soak.flood_sent++) {
            n += (size_t)sprintf(soak.flood_msg + n, "%s{\"metric\":\"session_events\",\"labels\":{\"session\":\"s%07ld\"},\"value\":1,\"ts\":%lld}",
                                 k ? "," : "", soak.flood_sent, ts);
        }
        soak.flood_msg[n++] = ']';
        send_msg(soak.push, soak.flood_msg, n);
        e->messages++;
    }
}

static void reload(enum config_kind kind)
{
    write_config(kind);
    cr_assert_eq(kill(soak.agent.pid, SIGHUP), 0);
    bool good = kind == GOOD_A || kind == GOOD_B;
    const char *needle = good ? "series kept their state" : "keeping the running config";
    int count = good ? ++soak.good_reloads : ++soak.bad_reloads;
    cr_assert(wait_for_text(soak.agent.err_path, needle, count, 20000), "reload %d (%s) not logged: %s", kind,
              needle, read_file(soak.agent.err_path));
}

/* PHASE intervals from `from`, everything interleaved. */
static void run_phase(int from, bool flood, struct expect *e)
{
    memset(e, 0, sizeof *e);
    int r = 0;
    for (int i = from; i < from + PHASE; i++) {
        send_traffic(i, e);
        send_hostile(i, e);
        if (flood)
            send_flood(i, FLOOD_POINTS / FLOOD_BATCH / (PHASE - 4) + 1, e);
        if (i - from == PHASE / 2)
            send_giant();
        if ((i - from) % RELOAD_EVERY == RELOAD_EVERY - 1 && r < NRELOADS)
            reload(reloads[r++]);
        check_alive("under load");
    }
    cr_assert_eq(r, NRELOADS);
    if (flood)
        cr_assert_eq(soak.flood_sent, FLOOD_POINTS);
}

/* The reasons part of the stats line, in the order the agent prints them. */
static void expected_stats(const struct expect *e, char *head, size_t hlen, char *tail, size_t tlen)
{
    unsigned long rejected = e->malformed + e->oversized + e->non_finite + e->bad_ts + e->too_old + e->too_new +
                             e->utf8 + e->series_limit;
    snprintf(head, hlen, "messages=%lu points_accepted=%lu points_rejected=%lu points_unwatched=%lu ", e->messages,
             e->accepted, rejected, e->unwatched);
    int n = snprintf(tail, tlen,
                     " rejected: malformed_json=%lu oversized_message=%lu non_finite_value=%lu bad_timestamp=%lu "
                     "timestamp_too_old=%lu timestamp_in_future=%lu invalid_utf8=%lu",
                     e->malformed, e->oversized, e->non_finite, e->bad_ts, e->too_old, e->too_new, e->utf8);
    if (e->series_limit)
        snprintf(tail + n, tlen - (size_t)n, " series_limit=%lu", e->series_limit);
}

/* The last stats line in the log, or "" (caller frees). */
static char *last_stats(void)
{
    char *err = read_file(soak.agent.err_path);
    char *line = NULL;
    for (char *p = err; (p = strstr(p, "[stats]")); p++)
        line = p;
    char *copy = strdup(line ? line : "");
    char *nl = strchr(copy, '\n');
    if (nl)
        *nl = '\0';
    free(err);
    return copy;
}

/* Whether a stats line shows exactly the counts e predicts (the reasons
 * end the line, so no unexpected reason follows them). */
static bool stats_match(const char *line, const struct expect *e, const char *reloads_text)
{
    char head[256], tail[512];
    expected_stats(e, head, sizeof head, tail, sizeof tail);
    const char *t = strstr(line, tail);
    return strstr(line, head) && strstr(line, reloads_text) && t && t[strlen(tail)] == '\0';
}

/* Wait until the latest stats line shows exactly what e predicts. */
static void wait_stats(const struct expect *e, const char *reloads_text, int timeout_ms)
{
    char *line = NULL;
    for (int waited = 0;; waited += 100) {
        free(line);
        line = last_stats();
        if (stats_match(line, e, reloads_text))
            break;
        char head[256], tail[512];
        expected_stats(e, head, sizeof head, tail, sizeof tail);
        cr_assert_lt(waited, timeout_ms, "stats never became\n  %s...%s%s\nlast: %s", head, reloads_text, tail, line);
        check_alive("while catching up");
        sleep_ms(100);
    }
    free(line);
}

/* Firing alerts (console JSON lines) of kpi for these labels since the
 * start of interval `since`; with journey NULL, every firing alert of kpi. */
static int count_firing(const char *out, const char *kpi, const char *journey, const char *step, int since)
{
    char want_since[40];
    time_t t = (time_t)(soak.start + (int64_t)since * INTERVAL_S);
    strftime(want_since, sizeof want_since, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    int n = 0;
    char *copy = strdup(out), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *a = cJSON_Parse(line);
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(a, "labels");
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "status"));
        const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "kpi"));
        const char *j = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(labels, "journey"));
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(labels, "step"));
        const char *sn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "since"));
        if (st && strcmp(st, "firing") == 0 && k && strcmp(k, kpi) == 0 &&
            (!journey || (j && strcmp(j, journey) == 0 && (!step || (s && strcmp(s, step) == 0)) && sn &&
                          strcmp(sn, want_since) == 0)))
            n++;
        cJSON_Delete(a);
    }
    free(copy);
    return n;
}

static void wait_firing(const char *kpi, const char *journey, const char *step, int since)
{
    for (int waited = 0;; waited += 100) {
        char *out = read_file(soak.agent.out_path);
        int n = count_firing(out, kpi, journey, step, since);
        if (n >= 1) {
            free(out);
            return;
        }
        cr_assert_lt(waited, 30000, "no firing alert for %s %s%s%s since interval %d; stdout:\n%s", kpi, journey,
                     step ? "/" : "", step ? step : "", since, out);
        free(out);
        check_alive("while waiting for an alert");
        sleep_ms(100);
    }
}

Test(soak, hostile_traffic_reloads_and_kill9, .fini = fini, .timeout = 300)
{
    struct agent_proc *a = &soak.agent;
    agent_prepare(a, "{}");
    harness_free_endpoint(soak.sub_endpoint, sizeof soak.sub_endpoint);
    write_config(GOOD_A);
    soak.start = ((int64_t)time(NULL) / INTERVAL_S - (2 * PHASE + 10)) * INTERVAL_S;
    soak.flood_msg = malloc((size_t)FLOOD_BATCH * 128);
    agent_start(a, "run");
    check_alive("at start");
    soak.asan = under_asan(a->pid);
    open_feeds();

    /* Before the kill: two incidents, every kind of bad input, 8 reloads. */
    struct expect e1;
    run_phase(0, false, &e1);
    wait_firing("complaints", "checkout", NULL, SPIKE1);
    wait_firing("step_dropoff_rate", "claims", "upload", DROP1);
    wait_stats(&e1, "reloads=4 ", 60000);
    check_alive("after the first phase");

    /* The periodic save (every 60 s) gives the restart something to restore. */
    char state_file[256];
    snprintf(state_file, sizeof state_file, "%s/state/state.json", a->dir);
    for (int waited = 0; access(state_file, F_OK) != 0; waited += 100) {
        cr_assert_lt(waited, 90000, "no periodic state save");
        check_alive("before the kill");
        sleep_ms(100);
    }
    cr_assert_eq(agent_stop(a, SIGKILL, 5000), 128 + SIGKILL);
    close_feeds(0);

    agent_start(a, "run");
    cr_assert(wait_for_text(a->err_path, "running:", 2, 20000), "no restart: %s", read_file(a->err_path));
    cr_assert(wait_for_text(a->err_path, "restored 4 series", 1, 100), "%s", read_file(a->err_path));
    check_alive("after the restart");
    open_feeds();

    /* After the restart: two more incidents, the same bad input, the flood. */
    struct expect e2;
    run_phase(PHASE, true, &e2);
    e2.accepted += FLOOD_SERIES;
    e2.series_limit = FLOOD_POINTS - FLOOD_SERIES;
    wait_firing("complaints", "claims", NULL, SPIKE2);
    wait_firing("step_dropoff_rate", "checkout", "pay", DROP2);
    wait_stats(&e2, "reloads=4 ", 120000);
    check_alive("after the second phase");
    close_feeds(1000);

    cr_assert_eq(agent_stop(a, SIGTERM, 30000), 0, "exit status after SIGTERM: %s", read_file(a->err_path));
    char *final = last_stats();
    char head[256], tail[512];
    expected_stats(&e2, head, sizeof head, tail, sizeof tail);
    cr_assert(stats_match(final, &e2, "reloads=4 "), "final stats\n  %s\nexpected\n  %s...%s", final, head, tail);
    cr_log_info("%s", final);
    free(final);

    /* Every incident fired once for its own series, and nothing else fired
     * for the journey KPIs. */
    char *out = read_file(a->out_path);
    cr_assert_eq(count_firing(out, "complaints", "checkout", NULL, SPIKE1), 1, "%s", out);
    cr_assert_eq(count_firing(out, "complaints", "claims", NULL, SPIKE2), 1, "%s", out);
    cr_assert_eq(count_firing(out, "step_dropoff_rate", "claims", "upload", DROP1), 1, "%s", out);
    cr_assert_eq(count_firing(out, "step_dropoff_rate", "checkout", "pay", DROP2), 1, "%s", out);
    cr_assert_eq(count_firing(out, "complaints", NULL, NULL, 0), 2, "another complaints alert: %s", out);
    cr_assert_eq(count_firing(out, "step_dropoff_rate", NULL, NULL, 0), 2, "another drop-off alert: %s", out);
    free(out);

    /* Broken reloads are refused with the reason, good ones apply. */
    char *err = read_file(a->err_path);
    cr_assert_eq(count_text(err, "keeping the running config"), NRELOADS, "4 broken reloads per phase: %s", err);
    cr_assert_eq(count_text(err, "agent: must be an object"), 2);
    cr_assert_eq(count_text(err, "kpis[0].detector.window: must be >= 8"), 2);
    cr_assert_eq(count_text(err, "cannot bind tcp://192.0.2.1:1"), 2);
    cr_assert_eq(count_text(err, "kpis[0].metric: is required"), 2);
    cr_assert_eq(count_text(err, "2 inputs, 4 KPIs, 1 receivers;"), 4, "config B applied twice per phase");
    cr_assert_eq(count_text(err, "2 inputs, 3 KPIs, 1 receivers;"), 4, "config A applied twice per phase");
    cr_assert_eq(count_text(err, "Sanitizer"), 0, "%s", err);
    free(err);

    long bound = soak.asan ? RSS_BOUND_ASAN_KB : RSS_BOUND_KB;
    cr_assert_lt(soak.rss_max_kb, bound, "peak RSS %ld kB over the bound %ld kB", soak.rss_max_kb, bound);
    cr_log_info("soak: peak RSS %ld kB (bound %ld kB%s)", soak.rss_max_kb, bound, soak.asan ? ", ASan" : "");
}
