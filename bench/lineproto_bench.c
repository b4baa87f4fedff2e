/* lineproto_bench: points/s on one core of the two readers, on the same
 * points (100 per message, three labels each):
 *   1. line protocol: kw_lineproto_ingest (parse in place + kw_point_check),
 *      including a copy of each message into a scratch buffer, as a fresh
 *      ZeroMQ frame would be;
 *   2. JSON: kw_ingest_message (cJSON parse + read + kw_point_check);
 *   3. cJSON parse alone, for scale.
 * The sink only counts, so this is the reader's cost and nothing after it.
 * Prints a Markdown table; it measures, it does not assert. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "../agent/ingest.h"
#include "../agent/lineproto.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"

#define POINTS_PER_MESSAGE 100
#define DISTINCT_MESSAGES 2000 /* repeated until the requested points are read */

struct corpus {
    char *msgs[DISTINCT_MESSAGES];
    size_t lens[DISTINCT_MESSAGES];
    size_t bytes, longest;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The same pseudo-random points as JSON arrays and as lines (ms precision). */
static void corpus_build(struct corpus *json, struct corpus *lines, int series)
{
    char *jb = xmalloc(64 * 1024), *lb = xmalloc(64 * 1024);
    unsigned seed = 1;
    long long t0 = 1700000000000LL;
    memset(json, 0, sizeof *json);
    memset(lines, 0, sizeof *lines);
    for (int m = 0; m < DISTINCT_MESSAGES; m++) {
        size_t ju = 0, lu = 0;
        jb[ju++] = '[';
        for (int p = 0; p < POINTS_PER_MESSAGE; p++) {
            seed = seed * 1103515245u + 12345u;
            int s = (int)((seed >> 8) % (unsigned)series);
            const char *metric = p % 2 ? "journey_step_entries" : "journey_step_dropoffs";
            unsigned value = 1 + (seed >> 20) % 50;
            long long ts = t0 + (long long)m * 1000;
            ju += (size_t)snprintf(jb + ju, 64 * 1024 - ju,
                                   "%s{\"metric\":\"%s\",\"labels\":{\"journey\":\"j%d\",\"step\":\"s%d\",\"channel\":\"app\"},"
                                   "\"value\":%u,\"ts\":%lld}",
                                   p ? "," : "", metric, s / 8, s % 8, value, ts);
            lu += (size_t)snprintf(lb + lu, 64 * 1024 - lu, "%s,journey=j%d,step=s%d,channel=app value=%u %lld\n",
                                   metric, s / 8, s % 8, value, ts);
        }
        jb[ju++] = ']';
        json->msgs[m] = xstrndup(jb, ju);
        json->lens[m] = ju;
        json->bytes += ju;
        lines->msgs[m] = xstrndup(lb, lu);
        lines->lens[m] = lu;
        lines->bytes += lu;
        if (lu > lines->longest)
            lines->longest = lu;
    }
    free(jb);
    free(lb);
}

static void corpus_release(struct corpus *c)
{
    for (int m = 0; m < DISTINCT_MESSAGES; m++)
        free(c->msgs[m]);
}

static int count_sink(void *ctx, const struct kw_point *pt, enum kw_reject *why)
{
    (void)pt, (void)why;
    ++*(long long *)ctx;
    return 0;
}

static void row(const char *path, double secs, long long points, double bytes, double base_pps)
{
    double pps = points / secs;
    printf("| %s | %.3f | %.0f | %.1f | %.2f |\n", path, secs, pps, bytes / secs / 1e6, base_pps > 0 ? pps / base_pps : 1.0);
}

int main(int argc, char **argv)
{
    long long want = argc > 1 ? atoll(argv[1]) : 2000000;
    int series = argc > 2 ? atoi(argv[2]) : 10000;
    if (want < POINTS_PER_MESSAGE || series < 8) {
        fprintf(stderr, "usage: lineproto_bench [POINTS >= 100] [SERIES >= 8]\n");
        return 2;
    }
    kw_log_set_level(KW_LOG_OFF);
    struct kw_ingest_limits lim = {0};
    char err[KW_ERR_LEN];
    if (kw_ingest_parse(&lim, NULL, "ingest", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    lim.check_time = false; /* fixed 2023 timestamps */
    struct corpus json, lines;
    corpus_build(&json, &lines, series);
    long long nmsg = want / POINTS_PER_MESSAGE;
    char *scratch = xmalloc(lines.longest);

    long long lp_points = 0;
    double lp_bytes = 0, t = now_s();
    for (long long i = 0; i < nmsg; i++) {
        int m = (int)(i % DISTINCT_MESSAGES);
        memcpy(scratch, lines.msgs[m], lines.lens[m]);
        struct kw_ingest_stats st = {0};
        kw_lineproto_ingest(&lim, &st, "bench", KW_LINEPROTO_MS, scratch, lines.lens[m], 0, count_sink, &lp_points);
        lp_bytes += (double)lines.lens[m];
    }
    double lp_secs = now_s() - t;

    long long json_points = 0;
    double json_bytes = 0;
    t = now_s();
    for (long long i = 0; i < nmsg; i++) {
        int m = (int)(i % DISTINCT_MESSAGES);
        struct kw_ingest_stats st = {0};
        kw_ingest_message(&lim, &st, "bench", json.msgs[m], json.lens[m], 0, count_sink, &json_points);
        json_bytes += (double)json.lens[m];
    }
    double json_secs = now_s() - t;

    t = now_s();
    for (long long i = 0; i < nmsg; i++) {
        int m = (int)(i % DISTINCT_MESSAGES);
        cJSON_Delete(cJSON_ParseWithLength(json.msgs[m], json.lens[m]));
    }
    double parse_secs = now_s() - t;

    long long points = nmsg * POINTS_PER_MESSAGE;
    if (lp_points != points || json_points != points)
        fprintf(stderr, "lineproto_bench: points lost (lines %lld, json %lld of %lld)\n", lp_points, json_points, points);
    printf("#### Line protocol reader (%lld points in messages of %d, %d series, one core)\n\n", points,
           POINTS_PER_MESSAGE, series);
    printf("| reader | seconds | points/s | MB/s | vs JSON reader |\n|---|---|---|---|---|\n");
    double json_pps = points / json_secs;
    row("line protocol: copy + parse in place + kw_point_check", lp_secs, lp_points, lp_bytes, json_pps);
    row("JSON: cJSON parse + read + kw_point_check", json_secs, json_points, json_bytes, json_pps);
    row("cJSON parse only", parse_secs, points, json_bytes, json_pps);
    free(scratch);
    corpus_release(&json);
    corpus_release(&lines);
    kw_ingest_release(&lim);
    return 0;
}
