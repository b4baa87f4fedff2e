/* publisher: the load for bench/run.sh, a separate process like a real
 * pipeline. It pre-generates a fixed stream of JSON points (SERIES distinct
 * series, one point per series per round, rounds STEP seconds apart in
 * event time, ending a few intervals before now), connects a PUSH socket to
 * the receiver and sends it as fast as the receiver takes it: PUSH blocks at
 * its high-water mark, so nothing is lost. The same stream goes to the bare
 * floor (bench/floor.c) and to the agent.
 * The agent is a black box: with -l, the publisher follows the agent's log
 * and is done when a stats line counts every message it sent (and, with -c,
 * as many closed intervals as series), sending a tiny message each
 * millisecond meanwhile so the agent's loop comes round to its next stats
 * line at once. With -p it reads the agent's CPU time (all threads,
 * schedstat) and VmRSS before the first message and when done.
 * Usage: publisher -e ENDPOINT -n POINTS -s SERIES [-b PER_MSG] [-t STEP_S]
 *                  [-k all|complaints|ratio|handle] [-l AGENT_LOG [-c]] [-p AGENT_PID]
 * Prints one line of key=value figures (times in CLOCK_REALTIME ns). */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "../lib/strbuf.h"
#include "../lib/xmalloc.h"

#define INTERVAL_S 300 /* bench/bench.json's interval: rounds start on one */
#define WAIT_LIMIT_S 600

/* Which metrics the series cycle through: the four of bench/bench.json
 * (complaints, step entries, step drop-offs, handling time), or one KPI's. */
static const char *const set_all[] = {"complaints", "step_entries", "step_dropoffs", "handle_seconds", NULL};
static const char *const set_complaints[] = {"complaints", NULL};
static const char *const set_ratio[] = {"step_entries", "step_dropoffs", NULL};
static const char *const set_handle[] = {"handle_seconds", NULL};

struct stream {
    char *buf;      /* every message, back to back */
    size_t *off;    /* message i is buf[off[i] .. off[i + 1]) */
    long nmsg;
    long points;
};

static int64_t realtime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* A value typical of the metric; x is a uniform draw in [0, 1). */
static double value_of(const char *metric, double x)
{
    if (strcmp(metric, "complaints") == 0)
        return x < 0.7 ? 0 : (x < 0.9 ? 1 : 2);
    if (strcmp(metric, "step_entries") == 0)
        return 8 + (int)(x * 5);
    if (strcmp(metric, "step_dropoffs") == 0)
        return x < 0.6 ? 0 : (x < 0.95 ? 1 : 2);
    return 120 + (int)(x * 600) / 10.0;
}

/* Series i: metric set[i % nset] with labels of tuple i / nset, so the
 * metrics of one ratio share their labels. Deterministic (an LCG). */
static void generate(struct stream *st, const char *const *set, long points, long series, int per_msg, long step_s)
{
    int nset = 0;
    while (set[nset])
        nset++;
    long rounds = (points + series - 1) / series;
    int64_t now = realtime_ns() / 1000000000LL;
    int64_t t0 = (now - rounds * step_s - 2 * INTERVAL_S) / INTERVAL_S * INTERVAL_S;
    struct kw_strbuf b;
    kw_strbuf_init(&b);
    st->nmsg = (points + per_msg - 1) / per_msg;
    st->off = xcalloc((size_t)st->nmsg + 1, sizeof *st->off);
    st->points = points;
    uint64_t rng = 88172645463325252ULL;
    long m = 0;
    for (long p = 0; p < points; p++) {
        long i = p % series, r = p / series, tuple = i / nset;
        const char *metric = set[i % nset];
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        double x = (double)(rng >> 11) / 9007199254740992.0;
        if (p % per_msg == 0) {
            st->off[m++] = b.len;
            if (per_msg > 1)
                kw_strbuf_append(&b, "[", 1);
        } else {
            kw_strbuf_append(&b, ",", 1);
        }
        kw_strbuf_printf(&b,
                       "{\"metric\":\"%s\",\"labels\":{\"journey\":\"journey-%ld\",\"step\":\"step-%ld\","
                       "\"channel\":\"channel-%ld\"},\"value\":%g,\"ts\":%lld}",
                       metric, tuple / 250, tuple / 10 % 25, tuple % 10, value_of(metric, x),
                       (long long)(t0 + r * step_s));
        if (per_msg > 1 && (p % per_msg == per_msg - 1 || p == points - 1))
            kw_strbuf_append(&b, "]", 1);
    }
    st->off[m] = b.len;
    st->buf = kw_strbuf_detach(&b, NULL);
}

/* CPU time of every thread of pid in ns (schedstat), or -1. */
static int64_t cpu_ns_of(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p2[128];
        snprintf(p2, sizeof p2, "/proc/%ld/task/%s/schedstat", pid, e->d_name);
        FILE *f = fopen(p2, "r");
        long long ns;
        if (f && fscanf(f, "%lld", &ns) == 1)
            total += ns;
        if (f)
            fclose(f);
    }
    closedir(d);
    return total;
}

static long rss_kb_of(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* The agent's progress from its log: the counters of its last stats line. */
struct progress {
    FILE *log;
    char line[8192];
    size_t used;
    unsigned long long messages, series, intervals;
};

static void field(const char *line, const char *key, unsigned long long *out)
{
    const char *p = strstr(line, key);
    if (p)
        *out = strtoull(p + strlen(key), NULL, 10);
}

/* Reads what the log gained; a partial last line waits for the next call. */
static void progress_read(struct progress *pr)
{
    int c;
    while ((c = fgetc(pr->log)) != EOF) {
        if (c != '\n') {
            if (pr->used + 1 < sizeof pr->line)
                pr->line[pr->used++] = (char)c;
            continue;
        }
        pr->line[pr->used] = '\0';
        pr->used = 0;
        if (strstr(pr->line, "[stats]") || strstr(pr->line, "component=stats")) {
            field(pr->line, " messages=", &pr->messages);
            field(pr->line, " series=", &pr->series);
            field(pr->line, " intervals=", &pr->intervals);
        }
    }
    clearerr(pr->log);
}

static void usage(void)
{
    fprintf(stderr, "usage: publisher -e ENDPOINT -n POINTS -s SERIES [-b PER_MSG] [-t STEP_S]\n"
                    "                 [-k all|complaints|ratio|handle] [-l AGENT_LOG [-c]] [-p AGENT_PID]\n");
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL, *log_path = NULL, *set_name = "all";
    long points = 0, series = 0, step_s = 30, pid = 0;
    int per_msg = 100;
    bool want_closed = false;
    int opt;
    while ((opt = getopt(argc, argv, "e:n:s:b:t:k:l:cp:")) != -1) {
        switch (opt) {
        case 'e': endpoint = optarg; break;
        case 'n': points = atol(optarg); break;
        case 's': series = atol(optarg); break;
        case 'b': per_msg = atoi(optarg); break;
        case 't': step_s = atol(optarg); break;
        case 'k': set_name = optarg; break;
        case 'l': log_path = optarg; break;
        case 'c': want_closed = true; break;
        case 'p': pid = atol(optarg); break;
        default: usage(); return 2;
        }
    }
    const char *const *set = strcmp(set_name, "complaints") == 0 ? set_complaints
                             : strcmp(set_name, "ratio") == 0    ? set_ratio
                             : strcmp(set_name, "handle") == 0   ? set_handle
                                                                 : set_all;
    if (!endpoint || points <= 0 || series <= 0 || per_msg <= 0 || step_s <= 0) {
        usage();
        return 2;
    }
    struct stream st;
    generate(&st, set, points, series, per_msg, step_s);

    struct progress pr = {0};
    if (log_path) {
        pr.log = fopen(log_path, "r");
        if (!pr.log) {
            perror(log_path);
            return 1;
        }
        progress_read(&pr);
    }
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    int hwm = 100000, linger = -1; /* close only once the receiver has everything */
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, endpoint) != 0) {
        fprintf(stderr, "publisher: connect %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        return 1;
    }
    unsigned long long base_messages = pr.messages;
    long rss0 = pid ? rss_kb_of(pid) : -1;
    int64_t cpu0 = pid ? cpu_ns_of(pid) : -1;
    int64_t start = realtime_ns();
    for (long i = 0; i < st.nmsg; i++) {
        if (zmq_send(s, st.buf + st.off[i], st.off[i + 1] - st.off[i], 0) < 0) {
            fprintf(stderr, "publisher: send: %s\n", zmq_strerror(zmq_errno()));
            return 1;
        }
    }
    int64_t sent = realtime_ns(), done = 0;
    if (log_path) {
        /* The first tiny message after the stream is its end marker. */
        unsigned long long want = base_messages + (unsigned long long)st.nmsg + 1;
        for (;;) {
            zmq_send(s, "{}", 2, ZMQ_DONTWAIT);
            progress_read(&pr);
            if (pr.messages >= want && (!want_closed || (pr.series > 0 && pr.intervals >= pr.series))) {
                done = realtime_ns();
                break;
            }
            if (realtime_ns() - start > WAIT_LIMIT_S * 1000000000LL) {
                fprintf(stderr, "publisher: the agent did not finish within %d s (messages %llu of %llu)\n",
                        WAIT_LIMIT_S, pr.messages, want);
                return 1;
            }
            usleep(1000);
        }
    }
    long rss1 = pid ? rss_kb_of(pid) : -1;
    int64_t cpu1 = pid ? cpu_ns_of(pid) : -1;
    printf("start_ns=%lld sent_ns=%lld done_ns=%lld cpu_ns=%lld rss_before_kb=%ld rss_after_kb=%ld series=%llu "
           "intervals=%llu points=%ld messages=%ld bytes=%zu\n",
           (long long)start, (long long)sent, (long long)done, (long long)(pid ? cpu1 - cpu0 : -1), rss0, rss1,
           pr.series, pr.intervals, st.points, st.nmsg, st.off[st.nmsg]);
    if (pr.log)
        fclose(pr.log);
    zmq_close(s);
    zmq_ctx_term(ctx);
    free(st.buf);
    free(st.off);
    return 0;
}
