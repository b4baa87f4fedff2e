/* latency: time from an anomalous interval's close to its alert arriving at
 * a webhook receiver, for the agent driven as a black box. One process
 * plays both ends: a PUSH publisher into the agent's input and a local HTTP
 * receiver (libmicrohttpd) for the agent's webhook, so both times come from
 * one clock. The agent's config (written by bench/run.sh) has a sum KPI of
 * metric "latency_events" grouped by "rep", 1 s intervals, lateness 0, a
 * threshold detector (high 100), for 1, and a route with group_wait 0.
 *   busy:  BUSY_SERIES background series send 1 each per second, paced in
 *          batches every 10 ms with ts = now; in each interval repetition i
 *          sends 1000 on series rep-i. The close point is the first point
 *          sent with a timestamp past the interval's end.
 *   quiet: repetition i sends one point of 1000 on series rep-i, then
 *          nothing; the close point is the interval's end (plus lateness 0)
 *          on the wall clock, as nothing else arrives to close it.
 * Prints one key=value line: n, missed, p50_ms, p99_ms, max_ms.
 * Usage: latency -e ENDPOINT -P HTTP_PORT -m busy|quiet [-r REPS] */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <zmq.h>

#include "../lib/strbuf.h"
#include "../lib/xmalloc.h"

#define BUSY_SERIES 10000
#define BATCH_MS 10
#define MAX_REPS 1000
#define WAIT_ALERT_MS 5000 /* an alert later than this is counted as missed */

static int64_t now_ms_f(double *frac)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    if (frac)
        *frac = (double)t.tv_nsec / 1e6 - (double)(t.tv_nsec / 1000000);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Wall clock in ms with a fraction. */
static double now_ms(void)
{
    double frac;
    int64_t ms = now_ms_f(&frac);
    return (double)ms + frac;
}

/* What the receiver saw: the first firing arrival per repetition. */
struct arrivals {
    pthread_mutex_t lock;
    double at[MAX_REPS];
};

struct upload {
    struct kw_strbuf body;
};

static void record(struct arrivals *ar, const char *body, size_t len, double t)
{
    cJSON *doc = cJSON_ParseWithLength(body, len);
    const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(doc, "alerts"), *a;
    cJSON_ArrayForEach(a, alerts)
    {
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(a, "status");
        const cJSON *rep = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "labels"), "rep");
        int i;
        if (!cJSON_IsString(status) || strcmp(status->valuestring, "firing") != 0 || !cJSON_IsString(rep) ||
            sscanf(rep->valuestring, "rep-%d", &i) != 1 || i < 0 || i >= MAX_REPS)
            continue;
        pthread_mutex_lock(&ar->lock);
        if (ar->at[i] == 0)
            ar->at[i] = t;
        pthread_mutex_unlock(&ar->lock);
    }
    cJSON_Delete(doc);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **req)
{
    struct upload *up = *req;
    if (!up) {
        up = xcalloc(1, sizeof *up);
        kw_strbuf_init(&up->body);
        *req = up;
        return MHD_YES;
    }
    if (*data_size) {
        kw_strbuf_append(&up->body, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    record(cls, up->body.data ? up->body.data : "", up->body.len, now_ms());
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **req, enum MHD_RequestTerminationCode code)
{
    struct upload *up = *req;
    if (up) {
        kw_strbuf_release(&up->body);
        free(up);
    }
    *req = NULL;
}

static void send_point(void *s, const char *series, double value, int64_t ts_ms)
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "{\"metric\":\"latency_events\",\"labels\":{\"rep\":\"%s\"},\"value\":%g,\"ts\":%lld}",
                     series, value, (long long)ts_ms);
    zmq_send(s, msg, (size_t)n, 0);
}

/* One batch of the background: series [from, to) send 1 each at ts. */
static void send_background(void *s, long from, long to, int64_t ts_ms)
{
    struct kw_strbuf b;
    kw_strbuf_init(&b);
    kw_strbuf_append(&b, "[", 1);
    for (long i = from; i < to; i++)
        kw_strbuf_printf(&b, "%s{\"metric\":\"latency_events\",\"labels\":{\"rep\":\"bg-%ld\"},\"value\":1,\"ts\":%lld}",
                         i > from ? "," : "", i, (long long)ts_ms);
    kw_strbuf_append(&b, "]", 1);
    zmq_send(s, b.data, b.len, 0);
    kw_strbuf_release(&b);
}

static void sleep_until(double t_ms)
{
    double d = t_ms - now_ms();
    if (d > 0)
        usleep((useconds_t)(d * 1000));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* busy: 1 s intervals of background, the anomaly of rep i in interval i +
 * warm-up; close[i] = when the first point past that interval's end went. */
static void run_busy(void *s, int reps, double *close)
{
    int warm = 3;
    int64_t first = now_ms_f(NULL) / 1000 + 1; /* whole seconds */
    int per_batch = BUSY_SERIES / (1000 / BATCH_MS);
    for (int sec = 0; sec < warm + reps + 1; sec++) {
        int64_t start_ms = (first + sec) * 1000;
        for (int b = 0; b < 1000 / BATCH_MS; b++) {
            sleep_until((double)(start_ms + b * BATCH_MS));
            int64_t ts = now_ms_f(NULL);
            if (b == 0 && sec > warm)
                close[sec - warm - 1] = now_ms(); /* this batch closes the previous interval */
            send_background(s, (long)b * per_batch, (long)(b + 1) * per_batch, ts);
            if (b == 20 && sec >= warm && sec < warm + reps) {
                char name[32];
                snprintf(name, sizeof name, "rep-%d", sec - warm);
                send_point(s, name, 1000, ts);
            }
        }
    }
}

/* quiet: one point in an interval, then silence until the alert (or the
 * limit); close[i] = that interval's end on the wall clock. */
static void run_quiet(void *s, int reps, double *close, struct arrivals *ar)
{
    for (int i = 0; i < reps; i++) {
        int64_t sec = now_ms_f(NULL) / 1000 + 1;
        sleep_until((double)(sec * 1000 + 200));
        char name[32];
        snprintf(name, sizeof name, "rep-%d", i);
        send_point(s, name, 1000, now_ms_f(NULL));
        close[i] = (double)((sec + 1) * 1000);
        while (now_ms() < close[i] + WAIT_ALERT_MS) {
            pthread_mutex_lock(&ar->lock);
            bool got = ar->at[i] != 0;
            pthread_mutex_unlock(&ar->lock);
            if (got)
                break;
            usleep(2000);
        }
    }
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL, *mode = "busy";
    int port = 0, reps = 30, opt;
    while ((opt = getopt(argc, argv, "e:P:m:r:")) != -1) {
        switch (opt) {
        case 'e': endpoint = optarg; break;
        case 'P': port = atoi(optarg); break;
        case 'm': mode = optarg; break;
        case 'r': reps = atoi(optarg); break;
        default: endpoint = NULL; break;
        }
    }
    bool busy = strcmp(mode, "busy") == 0;
    if (!endpoint || port <= 0 || reps < 1 || reps > MAX_REPS || (!busy && strcmp(mode, "quiet") != 0)) {
        fprintf(stderr, "usage: latency -e ENDPOINT -P HTTP_PORT -m busy|quiet [-r REPS]\n");
        return 2;
    }
    static struct arrivals ar = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, on_request,
                                            &ar, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "latency: cannot listen on port %d\n", port);
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(s, endpoint);
    double close[MAX_REPS] = {0};
    if (busy)
        run_busy(s, reps, close);
    else
        run_quiet(s, reps, close, &ar);
    /* let the last alerts arrive */
    for (int w = 0; w < WAIT_ALERT_MS / 10; w++) {
        pthread_mutex_lock(&ar.lock);
        bool all = true;
        for (int i = 0; i < reps; i++)
            all = all && ar.at[i] != 0;
        pthread_mutex_unlock(&ar.lock);
        if (all)
            break;
        usleep(10000);
    }
    double lat[MAX_REPS];
    int n = 0, missed = 0;
    pthread_mutex_lock(&ar.lock);
    for (int i = 0; i < reps; i++) {
        if (ar.at[i] == 0 || ar.at[i] - close[i] > WAIT_ALERT_MS)
            missed++;
        else
            lat[n++] = ar.at[i] - close[i];
    }
    pthread_mutex_unlock(&ar.lock);
    qsort(lat, (size_t)n, sizeof lat[0], cmp_double);
    /* nearest-rank percentiles */
    double p50 = n ? lat[(int)ceil(0.50 * n) - 1] : NAN, p99 = n ? lat[(int)ceil(0.99 * n) - 1] : NAN;
    printf("mode=%s n=%d missed=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f min_ms=%.1f\n", mode, n, missed, p50, p99,
           n ? lat[n - 1] : NAN, n ? lat[0] : NAN);
    zmq_close(s);
    zmq_ctx_term(ctx);
    MHD_stop_daemon(d);
    return 0;
}
