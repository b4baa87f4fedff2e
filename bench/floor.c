/* floor: the bare floor under the agent's throughput. A ZeroMQ PULL socket
 * (the agent's "pull" input) receives messages of JSON points, cJSON parses
 * each and reads every point's metric, labels, value and timestamp, and
 * nothing else. It exits after N points and prints the wall clock at that
 * moment and its own CPU time, so bench/run.sh can set them against the
 * publisher's start and against the agent on the same stream.
 * Usage: floor ENDPOINT POINTS READY_FILE
 *   prints: done_ns=<CLOCK_REALTIME> cpu_ns=<user+system> points=<n> */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <zmq.h>

/* Reads one point as the agent must (all four fields, every label) and
 * folds them into sum, so nothing read can be optimised away. Returns
 * whether the object looked like a point. */
static bool read_point(const cJSON *pt, double *sum)
{
    const cJSON *metric = cJSON_GetObjectItemCaseSensitive(pt, "metric");
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(pt, "labels");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(pt, "value");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(pt, "ts");
    if (!cJSON_IsString(metric) || !cJSON_IsNumber(value) || !ts)
        return false;
    *sum += (double)strlen(metric->valuestring) + value->valuedouble;
    const cJSON *l;
    cJSON_ArrayForEach(l, labels)
    {
        if (cJSON_IsString(l))
            *sum += (double)strlen(l->string) + (double)strlen(l->valuestring);
    }
    *sum += cJSON_IsNumber(ts) ? ts->valuedouble : (double)strlen(ts->valuestring ? ts->valuestring : "");
    return true;
}

static int64_t realtime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: floor ENDPOINT POINTS READY_FILE\n");
        return 2;
    }
    long want = atol(argv[2]);
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PULL);
    int hwm = 100000; /* the agent's default rcvhwm */
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind(s, argv[1]) != 0) {
        fprintf(stderr, "floor: bind %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        return 1;
    }
    FILE *ready = fopen(argv[3], "w");
    if (ready)
        fclose(ready);
    long points = 0;
    double sum = 0;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (points < want) {
        if (zmq_msg_recv(&msg, s, 0) < 0)
            break;
        cJSON *doc = cJSON_ParseWithLength(zmq_msg_data(&msg), zmq_msg_size(&msg));
        if (cJSON_IsArray(doc)) {
            const cJSON *pt;
            cJSON_ArrayForEach(pt, doc) points += read_point(pt, &sum);
        } else if (doc) {
            points += read_point(doc, &sum);
        }
        cJSON_Delete(doc);
    }
    int64_t done = realtime_ns();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int64_t cpu = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                  ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
    printf("done_ns=%lld cpu_ns=%lld points=%ld checksum=%.0f\n", (long long)done, (long long)cpu, points, sum);
    zmq_msg_close(&msg);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return points == want ? 0 : 1;
}
