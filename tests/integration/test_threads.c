/* Integration test: the receive thread (ingest.receive_thread) changes who
 * parses, not what comes out. The same stream, with incidents, rejected
 * points and a few hundred series on three KPIs, goes to one agent that
 * receives on its own thread and to one that does everything on one
 * thread; their alerts, counters and saved detector state must be the
 * same, byte for byte. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "harness.h"

#define INTERVAL_S 300
#define JOURNEYS 12
#define STEPS 6
#define INTERVALS 150

/* RECEIVE_THREAD is replaced by true or false. %1$s: endpoint, %2$s: dir. */
static const char *const CONFIG =
    "{\n"
    "  \"agent\": {\"log_level\": \"info\", \"stats_interval\": \"0\", \"state_dir\": \"%2$s/state\"},\n"
    "  \"ingest\": {\"max_past\": \"30d\", \"max_future\": \"1h\", \"receive_thread\": RECEIVE_THREAD},\n"
    "  \"inputs\": [{\"name\": \"test\", \"endpoint\": \"%1$s\", \"mode\": \"bind\", \"socket\": \"pull\"}],\n"
    "  \"kpis\": [\n"
    "    {\"name\": \"complaints\", \"metric\": \"complaints\", \"aggregation\": \"sum\", \"interval\": \"5m\",\n"
    "     \"lateness\": \"0s\", \"group_by\": [\"journey\"], \"max_series\": 10},\n"
    "    {\"name\": \"dropoff\", \"metric\": \"dropoffs\", \"aggregation\": \"ratio\", \"denominator\": \"entries\",\n"
    "     \"interval\": \"5m\", \"lateness\": \"0s\", \"group_by\": [\"journey\", \"step\"]},\n"
    "    {\"name\": \"handling\", \"metric\": \"handling_s\", \"aggregation\": \"mean\", \"interval\": \"5m\",\n"
    "     \"lateness\": \"0s\", \"group_by\": [\"journey\"], \"detector\": {\"type\": \"mad\", \"window\": 64}}],\n"
    "  \"receivers\": [{\"name\": \"out\", \"type\": \"console\", \"format\": \"json\"}]\n"
    "}\n";

static struct agent_proc agents[2];

static void fini(void)
{
    agent_cleanup(&agents[0]);
    agent_cleanup(&agents[1]);
}

static char *config_for(bool threaded)
{
    const char *at = strstr(CONFIG, "RECEIVE_THREAD");
    size_t len = strlen(CONFIG) + 8;
    char *out = malloc(len);
    snprintf(out, len, "%.*s%s%s", (int)(at - CONFIG), CONFIG, threaded ? "true" : "false",
             at + strlen("RECEIVE_THREAD"));
    return out;
}

/* One message per interval and KPI, plus bad points; journeys past the
 * tenth hit complaints' series limit, so refusals are counted too. */
static void send_stream(const char *endpoint, int64_t start)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 10000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(s, endpoint), 0);
    uint32_t rng = 777u;
    size_t cap = 256 * 1024;
    char *msg = malloc(cap);
    for (int i = 0; i <= INTERVALS; i++) {
        int64_t ts = start + (int64_t)i * INTERVAL_S + 11;
        size_t n = (size_t)snprintf(msg, cap, "[");
        for (int j = 0; j < JOURNEYS; j++) {
            int c = harness_rand(&rng, 0, 6);
            if (j == 3 && i >= 120 && i < 124)
                c = 40;
            int handling = harness_rand(&rng, 200, 260) + (j == 5 && i >= 130 && i < 133 ? 900 : 0);
            n += (size_t)snprintf(msg + n, cap - n,
                                  "%s{\"metric\":\"complaints\",\"labels\":{\"journey\":\"j%d\"},\"value\":%d,\"ts\":%lld},"
                                  "{\"metric\":\"handling_s\",\"labels\":{\"journey\":\"j%d\"},\"value\":%d,\"ts\":%lld}",
                                  j ? "," : "", j, c, (long long)ts, j, handling, (long long)ts);
            for (int k = 0; k < STEPS; k++) {
                int entries = harness_rand(&rng, 80, 120);
                int drops = entries * harness_rand(&rng, 18, 24) / 100;
                if (j == 7 && k == 2 && i >= 110 && i < 116)
                    drops = entries * 70 / 100;
                n += (size_t)snprintf(msg + n, cap - n,
                                      ",{\"metric\":\"entries\",\"labels\":{\"journey\":\"j%d\",\"step\":\"s%d\"},\"value\":%d,\"ts\":%lld}"
                                      ",{\"metric\":\"dropoffs\",\"labels\":{\"journey\":\"j%d\",\"step\":\"s%d\"},\"value\":%d,\"ts\":%lld}",
                                      j, k, entries, (long long)ts, j, k, drops, (long long)ts);
            }
        }
        n += (size_t)snprintf(msg + n, cap - n, ",{\"metric\":\"complaints\",\"value\":\"x\",\"ts\":%lld}]", (long long)ts);
        cr_assert_eq(zmq_send(s, msg, n, 0), (int)n);
        if (i % 10 == 0)
            cr_assert_eq(zmq_send(s, "{broken", 7, 0), 7);
    }
    free(msg);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

static char *strip_stats_prefix(char *text)
{
    char *line = strstr(text, "[stats] ");
    cr_assert_not_null(line, "no stats line");
    char *end = strchr(line, '\n');
    if (end)
        *end = '\0';
    return line;
}

Test(threads, receive_thread_gives_the_same_alerts_counters_and_state, .fini = fini, .timeout = 120)
{
    int64_t start = ((int64_t)time(NULL) / INTERVAL_S - INTERVALS - 5) * INTERVAL_S;
    for (int t = 0; t < 2; t++) {
        char *config = config_for(t == 0);
        agent_prepare(&agents[t], config);
        free(config);
        agent_start(&agents[t], "run");
        cr_assert(agent_alive(&agents[t]), "agent did not start: %s", read_file(agents[t].err_path));
        send_stream(agents[t].endpoint, start);
        /* every message is in (linger), give the pipeline a moment, then drain on SIGTERM */
        sleep_ms(1500);
        cr_assert_eq(agent_stop(&agents[t], SIGTERM, 20000), 0);
    }

    char *out[2], *err[2], *state[2];
    for (int t = 0; t < 2; t++) {
        char path[256];
        out[t] = read_file(agents[t].out_path);
        err[t] = read_file(agents[t].err_path);
        snprintf(path, sizeof path, "%s/state/state.json", agents[t].dir);
        state[t] = read_file(path);
    }
    cr_assert_geq(count_text(out[0], "\"status\":\"firing\""), 2, "the incidents fire: %s", out[0]);
    cr_assert_str_eq(out[0], out[1], "alerts differ:\nthreaded:\n%s\none thread:\n%s", out[0], out[1]);

    const char *stats0 = strip_stats_prefix(err[0]), *stats1 = strip_stats_prefix(err[1]);
    cr_assert(strstr(stats0, "rejected: malformed_json=16 ") && strstr(stats0, "series_limit="),
              "rejections are counted: %s", stats0);
    cr_assert_str_eq(stats0, stats1, "counters differ");

    /* the saved series, from the first series on (the header holds the save time) */
    const char *s0 = strstr(state[0], "\"series\""), *s1 = strstr(state[1], "\"series\"");
    cr_assert(s0 && s1 && strlen(s0) > 10000, "state saved: %.200s", state[0]);
    cr_assert_str_eq(s0, s1, "saved detector state differs");
    for (int t = 0; t < 2; t++) {
        free(out[t]);
        free(err[t]);
        free(state[t]);
    }
}
