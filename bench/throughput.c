/* throughput: how fast the agent's hot path is compared with what ZeroMQ
 * alone can deliver on this machine, measured in the same run:
 *   1. raw:      PUSH thread -> PULL socket, receive and drop
 *   2. parse:    the same messages through cJSON only
 *   3. agent:    PUSH -> PULL -> ingest -> series table -> aggregation ->
 *                detectors (the daemon's receive loop)
 * plus memory per series. Prints Markdown tables; ratios are what to
 * compare across machines, not absolute numbers. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#include "../agent/config.h"
#include "../agent/ingest.h"
#include "../lib/log.h"
#include "../agent/pipeline.h"
#include "../lib/xmalloc.h"

#define POINTS_PER_MESSAGE 100

struct corpus {
    char **msgs;
    size_t *lens;
    int n;
    size_t bytes;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* n messages of 100 points over `series` journey/step series; event time
 * advances 1 s per message so intervals close as in production. */
static void corpus_build(struct corpus *c, int n, int series)
{
    c->n = n;
    c->msgs = xcalloc((size_t)n, sizeof *c->msgs);
    c->lens = xcalloc((size_t)n, sizeof *c->lens);
    c->bytes = 0;
    long long t0 = 1700000000000LL;
    unsigned seed = 1;
    char *buf = xmalloc(64 * 1024);
    for (int m = 0; m < n; m++) {
        size_t used = 0;
        buf[used++] = '[';
        for (int p = 0; p < POINTS_PER_MESSAGE; p++) {
            seed = seed * 1103515245u + 12345u;
            int s = (int)((seed >> 8) % (unsigned)series);
            used += (size_t)snprintf(buf + used, 64 * 1024 - used,
                                     "%s{\"metric\":\"%s\",\"labels\":{\"journey\":\"j%d\",\"step\":\"s%d\",\"channel\":\"app\"},"
                                     "\"value\":%u,\"ts\":%lld}",
                                     p ? "," : "", p % 2 ? "journey_step_entries" : "journey_step_dropoffs", s / 8,
                                     s % 8, 1 + (seed >> 20) % 50, t0 + (long long)m * 1000);
        }
        buf[used++] = ']';
        c->msgs[m] = xstrndup(buf, used);
        c->lens[m] = used;
        c->bytes += used;
    }
    free(buf);
}

struct sender {
    void *ctx;
    const char *endpoint;
    const struct corpus *c;
    int repeat;
};

static void *send_all(void *arg)
{
    struct sender *s = arg;
    void *sock = zmq_socket(s->ctx, ZMQ_PUSH);
    int hwm = 100000;
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_connect(sock, s->endpoint);
    for (int r = 0; r < s->repeat; r++)
        for (int m = 0; m < s->c->n; m++)
            zmq_send(sock, s->c->msgs[m], s->c->lens[m], 0);
    zmq_send(sock, "", 0, 0); /* end marker */
    int linger = -1;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(sock);
    return NULL;
}

/* Receive until the end marker; hand each message to fn (NULL = drop). */
static double receive_run(const struct corpus *c, int repeat, void (*fn)(void *, const char *, size_t), void *arg)
{
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    int hwm = 100000;
    zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_bind(pull, "tcp://127.0.0.1:*");
    char ep[64];
    size_t eplen = sizeof ep;
    zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, ep, &eplen);
    struct sender s = {ctx, ep, c, repeat};
    pthread_t th;
    double t0 = now_s();
    pthread_create(&th, NULL, send_all, &s);
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        zmq_msg_recv(&msg, pull, 0);
        size_t len = zmq_msg_size(&msg);
        if (len == 0) {
            zmq_msg_close(&msg);
            break;
        }
        if (fn)
            fn(arg, zmq_msg_data(&msg), len);
        zmq_msg_close(&msg);
    }
    double elapsed = now_s() - t0;
    pthread_join(th, NULL);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    return elapsed;
}

static void parse_only(void *arg, const char *data, size_t len)
{
    (void)arg;
    cJSON *root = cJSON_ParseWithLength(data, len);
    cJSON_Delete(root);
}

struct agent_sink {
    struct kw_config *cfg;
    struct kw_pipeline *p;
};

static void agent_path(void *arg, const char *data, size_t len)
{
    struct agent_sink *a = arg;
    kw_ingest_message(&a->cfg->ingest, &a->p->ingest, "bench", data, len, 0, kw_pipeline_point, a->p);
    kw_pipeline_tick(a->p, 0);
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static const char *config_text(const char *detector, const char *interval)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"agent\":{\"max_series\":2000000},\"kpis\":[{\"name\":\"dropoff\",\"metric\":\"journey_step_dropoffs\","
             "\"denominator\":\"journey_step_entries\",\"aggregation\":\"ratio\",\"interval\":\"%s\",\"lateness\":\"0s\","
             "\"group_by\":[\"journey\",\"step\"],\"detector\":%s}]}",
             interval, detector);
    return buf;
}

int main(int argc, char **argv)
{
    int messages = argc > 1 ? atoi(argv[1]) : 20000;
    int series = argc > 2 ? atoi(argv[2]) : 10000;
    kw_log_set_level(KW_LOG_ERROR);
    struct corpus c;
    corpus_build(&c, messages, series);
    double points = (double)messages * POINTS_PER_MESSAGE;
    printf("### Throughput (%d messages x %d points = %.0f points, %d series, %.1f MB of JSON)\n\n", messages,
           POINTS_PER_MESSAGE, points, series, c.bytes / 1e6);
    printf("| path | seconds | points/s | MB/s | vs raw ZeroMQ |\n|---|---|---|---|---|\n");

    double raw = receive_run(&c, 1, NULL, NULL);
    printf("| raw ZeroMQ PUSH->PULL receive | %.3f | %.0f | %.1f | 1.00 |\n", raw, points / raw, c.bytes / 1e6 / raw);
    double parse = receive_run(&c, 1, parse_only, NULL);
    printf("| receive + cJSON parse only | %.3f | %.0f | %.1f | %.2f |\n", parse, points / parse, c.bytes / 1e6 / parse,
           raw / parse);

    const char *runs[][3] = {
        {"agent, 5m intervals, binomial", "{\"type\":\"binomial\"}", "5m"},
        {"agent, 10s intervals, binomial", "{\"type\":\"binomial\"}", "10s"},
        {"agent, 10s intervals, mad w=288", "{\"type\":\"mad\",\"window\":288}", "10s"},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        struct kw_config cfg;
        char err[KW_ERR_LEN];
        if (kw_config_parse(&cfg, config_text(runs[r][1], runs[r][2]), "bench", err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        cfg.ingest.check_time = false;
        struct kw_pipeline p;
        kw_pipeline_init(&p, &cfg);
        struct agent_sink sink = {&cfg, &p};
        double t = receive_run(&c, 1, agent_path, &sink);
        printf("| %s | %.3f | %.0f | %.1f | %.2f (%llu intervals closed) |\n", runs[r][0], t, points / t,
               c.bytes / 1e6 / t, raw / t, (unsigned long long)p.stats.intervals_closed);
        kw_pipeline_release(&p);
        kw_config_release(&cfg);
    }

    /* Memory per series: 200k series of a 5-minute ratio KPI. */
    printf("\n### Memory per series\n\n| detector | series | RSS growth | bytes/series |\n|---|---|---|---|\n");
    const char *mem_runs[][2] = {{"binomial", "{\"type\":\"binomial\"}"}, {"mad w=288", "{\"type\":\"mad\",\"window\":288}"}};
    for (size_t r = 0; r < 2; r++) {
        struct kw_config cfg;
        char err[KW_ERR_LEN];
        kw_config_parse(&cfg, config_text(mem_runs[r][1], "5m"), "bench", err, sizeof err);
        cfg.ingest.check_time = false;
        struct kw_pipeline p;
        kw_pipeline_init(&p, &cfg);
        int n = 200000;
        long before = rss_kb();
        char journey[32], step[32];
        for (int i = 0; i < n; i++) {
            snprintf(journey, sizeof journey, "j%d", i / 8);
            snprintf(step, sizeof step, "s%d", i % 8);
            struct kw_point pt = {.metric = "journey_step_entries", .value = 10, .ts_ms = 1700000000000LL,
                                  .nlabels = 2, .labels = {{"journey", journey}, {"step", step}}};
            enum kw_reject why;
            kw_pipeline_point(&p, &pt, &why);
        }
        /* one interval closed per series so detector state is populated */
        kw_pipeline_flush(&p);
        long after = rss_kb();
        printf("| %s | %d | %.1f MB | %.0f |\n", mem_runs[r][0], n, (after - before) / 1024.0,
               (after - before) * 1024.0 / n);
        kw_pipeline_release(&p);
        kw_config_release(&cfg);
    }
    for (int m = 0; m < c.n; m++)
        free(c.msgs[m]);
    free(c.msgs);
    free(c.lens);
    return 0;
}
