/* kafka_bench: points per second through the kafka input, for one agent and
 * for two agents in one consumer group, on librdkafka's mock cluster (three
 * brokers, in this process). For each case: fresh topics with PARTITIONS
 * partitions, the agents (the real binary) start and join; once every
 * partition is assigned, POINTS points in batches of BATCH (one journey per
 * message, keyed by journey) are produced, at most ALLOWANCE ahead of the
 * agents, and the clock stops when the agents' points_accepted (read from their
 * /metrics) add up to POINTS. Prints one key=value line per case and the
 * ratio. Usage: kafka_bench KPIWATCH_BINARY [POINTS] */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../lib/strbuf.h"

#define PARTITIONS 32
/* Points produced ahead of what the agents report taken: the mock keeps
 * about 5 MB of each partition, 32 x 5 MB in all, and the agents' counters
 * may be a second old. */
#define ALLOWANCE 600000
#define BATCH 100
#define JOURNEYS 1000
#define STEPS 5

struct agent {
    pid_t pid;
    int port;
    char err_path[256];
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    struct kw_strbuf b;
    kw_strbuf_init(&b);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        kw_strbuf_append(&b, buf, n);
    fclose(f);
    return kw_strbuf_detach(&b, NULL);
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    kw_strbuf_append(ctx, data, size * n);
    return size * n;
}

/* points_accepted_total of an agent, or -1 when /metrics does not answer. */
static long long accepted(CURL *curl, int port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    struct kw_strbuf b;
    kw_strbuf_init(&b);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
    long long v = -1;
    if (curl_easy_perform(curl) == CURLE_OK) {
        char *text = kw_strbuf_detach(&b, NULL);
        const char *p = strstr(text, "\nkpiwatch_points_accepted_total ");
        if (p)
            v = atoll(p + strlen("\nkpiwatch_points_accepted_total "));
        free(text);
    }
    kw_strbuf_release(&b);
    return v;
}

static void start_agent(struct agent *a, const char *bin, const char *dir, int index, const char *brokers,
                        const char *topic)
{
    char cfg_path[256], out_path[256];
    a->port = free_port();
    snprintf(cfg_path, sizeof cfg_path, "%s/%s-%d.json", dir, topic, index);
    snprintf(out_path, sizeof out_path, "%s/%s-%d.out", dir, topic, index);
    snprintf(a->err_path, sizeof a->err_path, "%s/%s-%d.err", dir, topic, index);
    FILE *f = fopen(cfg_path, "w");
    fprintf(f,
            "{\"agent\":{\"stats_interval\":\"0\",\"state_dir\":\"%s/%s-%d.state\"},"
            "\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"1h\"},\"http\":{\"listen\":\"127.0.0.1\",\"port\":%d},"
            "\"inputs\":[{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"%s\",\"topics\":[\"%s\"],\"group_id\":\"%s\","
            "\"changelog_topic\":\"%s-changelog\","
            "\"properties\":{\"session.timeout.ms\":\"6000\",\"heartbeat.interval.ms\":\"500\",\"fetch.wait.max.ms\":\"10\"}}],"
            "\"kpis\":[{\"name\":\"errors\",\"metric\":\"errors\",\"interval\":\"1m\",\"group_by\":[\"journey\",\"step\"],"
            "\"detector\":{\"type\":\"zscore\"}}],"
            "\"receivers\":[{\"name\":\"console\",\"type\":\"console\",\"format\":\"json\"}]}",
            dir, topic, index, a->port, brokers, topic, topic, topic);
    fclose(f);
    fflush(stdout);
    a->pid = fork();
    if (a->pid == 0) {
        if (!freopen(out_path, "w", stdout) || !freopen(a->err_path, "w", stderr))
            _exit(127);
        execl(bin, bin, "run", "-c", cfg_path, (char *)NULL);
        _exit(127);
    }
}

static bool has(const char *path, const char *needle)
{
    char *text = slurp(path);
    bool found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

static long long accepted_by(CURL *curl, const struct agent *agents, int n)
{
    long long total = 0;
    for (int i = 0; i < n; i++) {
        long long v = accepted(curl, agents[i].port);
        total += v > 0 ? v : 0;
    }
    return total;
}

/* One case: n agents. Returns points per second, or 0 on failure. */
static double run_case(rd_kafka_t *mock, const char *bin, const char *dir, const char *brokers, int n, long points)
{
    char topic[32], changelog[48];
    snprintf(topic, sizeof topic, "bench%d", n);
    snprintf(changelog, sizeof changelog, "%s-changelog", topic);
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mock);
    rd_kafka_mock_topic_create(mc, topic, PARTITIONS, 1);
    rd_kafka_mock_topic_create(mc, changelog, PARTITIONS, 1);

    struct agent agents[2];
    for (int i = 0; i < n; i++)
        start_agent(&agents[i], bin, dir, i, brokers, topic);
    char want[64];
    snprintf(want, sizeof want, "assigned %d partitions", PARTITIONS / n);
    bool ready = false;
    for (int waited = 0; !ready && waited < 60000; waited += 50) {
        ready = true;
        for (int i = 0; i < n; i++)
            ready = ready && has(agents[i].err_path, want);
        if (!ready)
            sleep_ms(50);
    }
    double rate = 0;
    if (ready) {
        /* One template per journey, made before the clock starts; each
         * message is a copy with its round's timestamp written in. */
        int64_t base = ((int64_t)time(NULL) / 60 - 120) * 60;
        long messages = points / BATCH;
        char **templates = calloc(JOURNEYS, sizeof *templates);
        size_t *lens = calloc(JOURNEYS, sizeof *lens);
        size_t ts_at[BATCH];
        for (int j = 0; j < JOURNEYS; j++) {
            struct kw_strbuf msg;
            kw_strbuf_init(&msg);
            kw_strbuf_puts(&msg, "[");
            for (int p = 0; p < BATCH; p++) {
                kw_strbuf_printf(&msg, "%s{\"metric\":\"errors\",\"labels\":{\"journey\":\"j%04d\",\"step\":\"s%d\"},\"value\":%d,\"ts\":",
                                 p ? "," : "", j, p % STEPS, p % 7);
                ts_at[p] = msg.len; /* the same in every template: journeys are 4 digits */
                kw_strbuf_puts(&msg, "0000000000}");
            }
            kw_strbuf_puts(&msg, "]");
            templates[j] = kw_strbuf_detach(&msg, &lens[j]);
        }
        CURL *curl = curl_easy_init();
        double t0 = mono_s();
        for (long m = 0; m < messages; m++) {
            /* The agents publish their counters once a second: keep the
             * backlog within what the mock retains even when they look late. */
            if (m % 100 == 0)
                while (m * BATCH - accepted_by(curl, agents, n) > ALLOWANCE)
                    sleep_ms(10);
            int j = (int)(m % JOURNEYS);
            char key[16], ts[16];
            snprintf(key, sizeof key, "j%04d", j);
            snprintf(ts, sizeof ts, "%010lld", (long long)(base + (m / JOURNEYS) * 60 + 1));
            char *text = malloc(lens[j]);
            memcpy(text, templates[j], lens[j]);
            for (int p = 0; p < BATCH; p++)
                memcpy(text + ts_at[p], ts, 10);
            while (rd_kafka_producev(mock, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                     RD_KAFKA_V_VALUE(text, lens[j]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                                     RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(mock, 10);
        }
        rd_kafka_flush(mock, 60000);
        double produced = mono_s() - t0;
        long long total = 0;
        for (int waited = 0; total < points && waited < 300000; waited += 20) {
            total = accepted_by(curl, agents, n);
            if (total < points)
                sleep_ms(20);
        }
        double seconds = mono_s() - t0;
        curl_easy_cleanup(curl);
        for (int j = 0; j < JOURNEYS; j++)
            free(templates[j]);
        free(templates);
        free(lens);
        if (total >= points)
            rate = (double)points / seconds;
        printf("agents=%d points=%ld seconds=%.2f produce_seconds=%.2f points_per_second=%.0f\n", n, points, seconds,
               produced, rate);
    } else {
        fprintf(stderr, "kafka_bench: the agents did not get their partitions\n");
    }
    for (int i = 0; i < n; i++)
        kill(agents[i].pid, SIGTERM);
    for (int i = 0; i < n; i++)
        waitpid(agents[i].pid, NULL, 0);
    return rate;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: kafka_bench KPIWATCH_BINARY [POINTS]\n");
        return 2;
    }
    long points = argc > 2 ? atol(argv[2]) : 2000000;
    char err[512], dir[] = "/tmp/kw-kafka-bench.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "test.mock.num.brokers", "3", err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
    rd_kafka_conf_set(conf, "queue.buffering.max.kbytes", "1048576", err, sizeof err);
    rd_kafka_t *mock = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!mock) {
        fprintf(stderr, "kafka_bench: %s\n", err);
        return 1;
    }
    char brokers[256];
    snprintf(brokers, sizeof brokers, "%s", rd_kafka_mock_cluster_bootstraps(rd_kafka_handle_mock_cluster(mock)));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    double one = run_case(mock, argv[1], dir, brokers, 1, points);
    double two = run_case(mock, argv[1], dir, brokers, 2, points);
    printf("ratio=%.2f\n", one > 0 ? two / one : 0);
    rd_kafka_destroy(mock);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "kafka_bench: could not remove %s\n", dir);
    return one > 0 && two > 0 ? 0 : 1;
}
