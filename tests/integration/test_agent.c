/* Integration tests: the real kpiwatch binary fed over real ZeroMQ sockets.
 * One incident must fire exactly one alert for the right series and then
 * resolve; a flood of malformed input must be counted and survived; a bad
 * config is refused with its key path, also on reload; state survives a
 * restart. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <zmq.h>

#include "harness.h"

#define INTERVAL_S 300

/* %1$s is the endpoint the agent binds, %2$s its private directory. */
static const char *const CONFIG_PULL =
    "{\n"
    "  \"agent\": {\"log_level\": \"info\", \"stats_interval\": \"0\", \"state_dir\": \"%2$s/state\"},\n"
    "  \"ingest\": {\"max_past\": \"30d\", \"max_future\": \"1h\", \"max_label_bytes\": 64},\n"
    "  \"inputs\": [{\"name\": \"test\", \"endpoint\": \"%1$s\", \"mode\": \"bind\", \"socket\": \"pull\"}],\n"
    "  \"kpis\": [{\"name\": \"complaints\", \"metric\": \"complaints\", \"aggregation\": \"sum\", \"interval\": \"5m\",\n"
    "             \"lateness\": \"0s\", \"group_by\": [\"journey\"], \"unit\": \"complaints\",\n"
    "             \"detector\": {\"type\": \"mad\", \"window\": 64, \"min_points\": 20},\n"
    "             \"alert\": {\"for\": 2, \"resolve_after\": 2}}],\n"
    "  \"receivers\": [{\"name\": \"out\", \"type\": \"console\", \"format\": \"json\"}]\n"
    "}\n";

struct feed {
    void *ctx;
    void *sock;
};

static void feed_open(struct feed *f, const char *endpoint, int type)
{
    f->ctx = zmq_ctx_new();
    f->sock = zmq_socket(f->ctx, type);
    int linger = 5000;
    zmq_setsockopt(f->sock, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(f->sock, endpoint), 0);
}

static void feed_close(struct feed *f)
{
    zmq_close(f->sock);
    zmq_ctx_term(f->ctx);
}

static void feed_send(struct feed *f, const char *msg, size_t len)
{
    cr_assert_geq(zmq_send(f->sock, msg, len, 0), 0);
}

static int64_t aligned_start(int intervals_back)
{
    int64_t now = (int64_t)time(NULL);
    return (now / INTERVAL_S - intervals_back) * INTERVAL_S;
}

/* Complaints for two journeys, one interval per batch; checkout gets an
 * incident of `incident_len` intervals starting at interval `incident_at`. */
static void send_history(struct feed *f, int64_t start, int from, int to, int incident_at, int incident_len)
{
    uint32_t rng = 12345u + (uint32_t)from;
    char msg[1024];
    for (int i = from; i < to; i++) {
        int64_t ts = start + (int64_t)i * INTERVAL_S + 7;
        int checkout = harness_rand(&rng, 16, 24);
        int claims = harness_rand(&rng, 8, 12);
        if (i >= incident_at && i < incident_at + incident_len)
            checkout = 95;
        snprintf(msg, sizeof msg,
                 "[{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":%d,\"ts\":%lld},"
                 "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"claims\"},\"value\":%d,\"ts\":%lld}]",
                 checkout, (long long)ts, claims, (long long)ts);
        feed_send(f, msg, strlen(msg));
    }
    /* Move the KPI's event time past the last interval so it closes without
 * waiting (a point of another metric would not: each KPI keeps its own). */
    snprintf(msg, sizeof msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"clock\"},\"value\":0,\"ts\":%lld}",
             (long long)(start + (int64_t)(to + 1) * INTERVAL_S));
    feed_send(f, msg, strlen(msg));
}

static struct agent_proc agent;

static void fini(void)
{
    agent_cleanup(&agent);
}

Test(agent, one_incident_fires_one_alert_and_resolves, .fini = fini, .timeout = 60)
{
    agent_prepare(&agent, CONFIG_PULL);
    agent_start(&agent, "run");
    cr_assert(agent_alive(&agent), "agent did not start: %s", read_file(agent.err_path));
    struct feed f;
    feed_open(&f, agent.endpoint, ZMQ_PUSH);
    int64_t start = aligned_start(160);
    send_history(&f, start, 0, 150, 120, 3);
    feed_close(&f);

    cr_assert(wait_for_text(agent.out_path, "\"status\":\"resolved\"", 1, 20000), "no resolved alert; stdout: %s",
              read_file(agent.out_path));
    sleep_ms(300);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);

    char *out = read_file(agent.out_path);
    cr_assert_eq(count_text(out, "\"status\":\"firing\""), 1, "exactly one firing alert: %s", out);
    cr_assert_eq(count_text(out, "\"status\":\"resolved\""), 1, "%s", out);
    cr_assert_eq(count_text(out, "\"journey\":\"checkout\""), 2, "both notifications are for checkout: %s", out);
    cr_assert_eq(count_text(out, "\"journey\":\"claims\""), 0, "%s", out);
    char since[64];
    time_t since_s = (time_t)(start + 120 * INTERVAL_S);
    strftime(since, sizeof since, "\"since\":\"%Y-%m-%dT%H:%M:%SZ\"", gmtime(&since_s));
    cr_assert_eq(count_text(out, since), 2, "the incident started at interval 120 (%s): %s", since, out);
    /* the same stable key on both notifications */
    const char *k1 = strstr(out, "\"key\":\"");
    const char *k2 = k1 ? strstr(k1 + 1, "\"key\":\"") : NULL;
    cr_assert(k1 && k2 && strncmp(k1, k2, 24) == 0, "keys differ: %s", out);
    free(out);
}

Test(agent, malformed_flood_is_counted_and_survived, .fini = fini, .timeout = 90)
{
    agent_prepare(&agent, CONFIG_PULL);
    agent_start(&agent, "run");
    struct feed f;
    feed_open(&f, agent.endpoint, ZMQ_PUSH);
    int64_t start = aligned_start(40);
    send_history(&f, start, 0, 30, 1000, 0);

    char big_label[2048];
    memset(big_label, 'x', sizeof big_label - 1);
    big_label[sizeof big_label - 1] = '\0';
    char *msg = NULL;
    const int rounds = 250;
    for (int i = 0; i < rounds; i++) {
        const char *bad[] = {
            "{\"metric\":\"complaints\",\"value\":",                                   /* malformed */
            "\x00\x01\x02 binary",                                                     /* malformed */
            "{\"metric\":\"complaints\",\"value\":\"NaN\",\"ts\":1700000000}",         /* non-finite */
            "{\"metric\":\"complaints\",\"value\":1e999,\"ts\":1700000000}",           /* non-finite */
            "{\"metric\":\"complaints\",\"value\":1,\"ts\":1700000000,\"extra\":1}",   /* unknown field */
            "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"caf\xc3\"},\"value\":1,\"ts\":1700000000}", /* utf8 */
            "{\"metric\":\"complaints\",\"value\":1,\"ts\":\"last tuesday\"}",         /* bad ts */
        };
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++)
            feed_send(&f, bad[b], b == 1 ? 10 : strlen(bad[b]));
        /* huge label */
        free(msg);
        cr_assert_geq(asprintf(&msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"%s\"},\"value\":1,\"ts\":%lld}",
                               big_label, (long long)start + 31 * INTERVAL_S), 0);
        feed_send(&f, msg, strlen(msg));
        /* out of order: an interval that already closed */
        free(msg);
        cr_assert_geq(asprintf(&msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":1,\"ts\":%lld}",
                               (long long)start + 2 * INTERVAL_S), 0);
        feed_send(&f, msg, strlen(msg));
    }
    /* one oversized message: 2 MiB */
    size_t huge = 2u << 20;
    char *blob = malloc(huge);
    memset(blob, '[', huge);
    feed_send(&f, blob, huge);
    free(blob);
    free(msg);
    /* and valid data afterwards is still processed */
    send_history(&f, start, 31, 41, 1000, 0);
    feed_close(&f);
    sleep_ms(1500);
    cr_assert(agent_alive(&agent), "agent died under malformed input: %s", read_file(agent.err_path));
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);

    char *err = read_file(agent.err_path);
    const char *stats = strstr(err, "[stats]");
    cr_assert_not_null(stats, "no stats line: %s", err);
    unsigned long rejected = 0, accepted = 0;
    const char *r = strstr(stats, "points_rejected=");
    const char *a = strstr(stats, "points_accepted=");
    cr_assert(r && a);
    sscanf(r, "points_rejected=%lu", &rejected);
    sscanf(a, "points_accepted=%lu", &accepted);
    cr_assert_eq(rejected, (unsigned long)rounds * 9 + 1, "every bad message counted once: %s", stats);
    cr_assert_eq(accepted, 40 * 2 + 2, "all valid points accepted: %s", stats);
    cr_assert(strstr(stats, "points_unwatched=0 ") != NULL, "every valid point has a KPI: %s", stats);
    const char *reasons[] = {"malformed_json=500", "non_finite_value=500", "unknown_field=250", "invalid_utf8=250",
                             "bad_timestamp=250", "label_too_long=250", "late=250", "oversized_message=1"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        cr_assert(strstr(stats, reasons[i]) != NULL, "missing %s in: %s", reasons[i], stats);
    /* the log names the reasons but stays bounded (doubling intervals) */
    cr_assert_lt(count_text(err, "rejected ("), 100, "rejections flooded the log");
    cr_assert_gt(count_text(err, "rejected (non_finite_value)"), 0);
    free(err);
}

Test(agent, state_survives_restart, .fini = fini, .timeout = 60)
{
    agent_prepare(&agent, CONFIG_PULL);
    agent_start(&agent, "run");
    struct feed f;
    feed_open(&f, agent.endpoint, ZMQ_PUSH);
    int64_t start = aligned_start(160);
    send_history(&f, start, 0, 100, 1000, 0);
    feed_close(&f);
    sleep_ms(1000);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
    char state_file[256];
    snprintf(state_file, sizeof state_file, "%s/state/state.json", agent.dir);
    char *state = read_file(state_file);
    cr_assert(strstr(state, "\"kpi\":\"complaints\"") != NULL, "no state saved");
    free(state);

    /* Restart: the detector is already warm, so an incident right away alerts. */
    agent_start(&agent, "run");
    cr_assert(wait_for_text(agent.err_path, "restored 3 series", 1, 5000), "%s", read_file(agent.err_path));
    feed_open(&f, agent.endpoint, ZMQ_PUSH);
    send_history(&f, start, 100, 110, 101, 3);
    feed_close(&f);
    cr_assert(wait_for_text(agent.out_path, "\"status\":\"firing\"", 1, 10000),
              "a restored detector needs no new warm-up; stdout: %s", read_file(agent.out_path));
    agent_stop(&agent, SIGTERM, 10000);
}

Test(agent, sub_socket_honours_topic_filters, .fini = fini, .timeout = 60)
{
    const char *cfg =
        "{\"agent\":{\"stats_interval\":\"0\"},\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"1h\"},"
        "\"inputs\":[{\"name\":\"bus\",\"endpoint\":\"%1$s\",\"socket\":\"sub\",\"topics\":[\"kpi.\"]}],"
        "\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],"
        "\"detector\":{\"type\":\"threshold\",\"high\":50},\"alert\":{\"for\":1,\"resolve_after\":1}}],"
        "\"receivers\":[{\"name\":\"out\",\"type\":\"console\",\"format\":\"json\"}]}";
    agent_prepare(&agent, cfg);
    agent_start(&agent, "run");
    struct feed f;
    feed_open(&f, agent.endpoint, ZMQ_PUB);
    sleep_ms(1500); /* PUB/SUB: let the subscription reach the publisher */
    int64_t start = aligned_start(10);
    char msg[512];
    /* filtered out: wrong topic, would alert */
    snprintf(msg, sizeof msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"claims\"},\"value\":99,\"ts\":%lld}",
             (long long)start);
    zmq_send(f.sock, "other.topic", 11, ZMQ_SNDMORE);
    feed_send(&f, msg, strlen(msg));
    /* multipart [topic][payload] */
    snprintf(msg, sizeof msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":99,\"ts\":%lld}",
             (long long)start);
    zmq_send(f.sock, "kpi.complaints", 14, ZMQ_SNDMORE);
    feed_send(&f, msg, strlen(msg));
    /* single frame "topic payload" */
    snprintf(msg, sizeof msg, "kpi.clock {\"metric\":\"complaints\",\"labels\":{\"journey\":\"clock\"},\"value\":0,\"ts\":%lld}",
             (long long)start + 2 * INTERVAL_S);
    feed_send(&f, msg, strlen(msg));
    cr_assert(wait_for_text(agent.out_path, "\"status\":\"firing\"", 1, 10000), "%s", read_file(agent.err_path));
    feed_close(&f);
    agent_stop(&agent, SIGTERM, 10000);
    char *out = read_file(agent.out_path);
    cr_assert_eq(count_text(out, "\"status\":\"firing\""), 1, "%s", out);
    cr_assert_eq(count_text(out, "\"journey\":\"checkout\""), count_text(out, "\"status\""), "%s", out);
    cr_assert_eq(count_text(out, "\"journey\":\"claims\""), 0, "topic filter let claims through: %s", out);
    free(out);
}

Test(agent, reload_keeps_good_config_and_applies_valid_one, .fini = fini, .timeout = 60)
{
    agent_prepare(&agent, CONFIG_PULL);
    agent_start(&agent, "run");
    char *good = read_file(agent.config);
    agent_write_config(&agent, "{\"kpis\":[{\"name\":\"x\",\"metric\":\"m\",\"detector\":{\"type\":\"mad\",\"window\":2}}]}");
    kill(agent.pid, SIGHUP);
    cr_assert(wait_for_text(agent.err_path, "keeping the running config", 1, 5000), "%s", read_file(agent.err_path));
    cr_assert(wait_for_text(agent.err_path, "kpis[0].detector.window: must be >= 8", 1, 100));
    cr_assert(agent_alive(&agent));

    /* the old config still works: an incident still alerts */
    struct feed f;
    feed_open(&f, agent.endpoint, ZMQ_PUSH);
    int64_t start = aligned_start(160);
    send_history(&f, start, 0, 130, 120, 3);
    feed_close(&f);
    cr_assert(wait_for_text(agent.out_path, "\"status\":\"firing\"", 1, 10000), "%s", read_file(agent.err_path));

    /* a valid new config is applied, and the series keep their state */
    agent_write_config(&agent, good);
    kill(agent.pid, SIGHUP);
    cr_assert(wait_for_text(agent.err_path, "series kept their state", 1, 5000), "%s", read_file(agent.err_path));
    cr_assert(wait_for_text(agent.err_path, "3 series kept their state", 1, 100), "%s", read_file(agent.err_path));

    /* a changed detector is a config change, not damaged data: said as that,
     * without the temporary file the state passed through */
    char *changed = NULL;
    const char *mad = "{\"type\": \"mad\", \"window\": 64, \"min_points\": 20}";
    char *at = strstr(good, mad);
    cr_assert_not_null(at);
    cr_assert_geq(asprintf(&changed, "%.*s{\"type\": \"zscore\"}%s", (int)(at - good), good, at + strlen(mad)), 0);
    agent_write_config(&agent, changed);
    free(changed);
    kill(agent.pid, SIGHUP);
    cr_assert(wait_for_text(agent.err_path, "series kept their state", 2, 5000), "%s", read_file(agent.err_path));
    char *log = read_file(agent.err_path);
    cr_assert(strstr(log, "3 series start fresh: their KPI's interval, aggregation or detector changed"), "%s", log);
    cr_assert_null(strstr(log, "kpiwatch-reload-"), "%s", log);
    cr_assert_null(strstr(log, "do not check out"), "%s", log);
    free(log);
    free(good);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
}

Test(cli, check_config_names_the_key_path, .timeout = 30)
{
    char path[] = "/tmp/kpiwatch-cfg-XXXXXX";
    int fd = mkstemp(path);
    const char *bad = "{\"kpis\":[{\"name\":\"a\",\"metric\":\"m\"},{\"name\":\"b\",\"metric\":\"m\"},"
                      "{\"name\":\"c\",\"metric\":\"m\",\"detector\":{\"type\":\"mad\",\"window\":3}}]}";
    cr_assert_eq(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "%s check-config %s", harness_binary(), path);
    int rc = run_capture(cmd, &out);
    cr_assert_eq(rc, 3, "exit code 3 for an invalid config, got %d: %s", rc, out);
    cr_assert(strstr(out, "kpis[2].detector.window: must be >= 8") != NULL, "%s", out);
    free(out);
    unlink(path);

    snprintf(cmd, sizeof cmd, "%s check-config conf/kpiwatch.json", harness_binary());
    rc = run_capture(cmd, &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "ok (1 inputs, 5 KPIs") != NULL, "%s", out);
    free(out);

    snprintf(cmd, sizeof cmd, "%s frobnicate", harness_binary());
    rc = run_capture(cmd, &out);
    cr_assert_eq(rc, 2, "usage error exit code");
    free(out);
}

/* SUB config for the reload tests: %1$s endpoint, %2$s topic prefix. */
static const char *const CONFIG_SUB_TOPIC =
    "{\"agent\":{\"stats_interval\":\"0\"},\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"1h\"},"
    "\"inputs\":[{\"name\":\"bus\",\"endpoint\":\"%1$s\",\"socket\":\"sub\",\"topics\":[\"%2$s\"]}],"
    "\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],"
    "\"detector\":{\"type\":\"threshold\",\"high\":50},\"alert\":{\"for\":1,\"resolve_after\":1}}],"
    "\"receivers\":[{\"name\":\"out\",\"type\":\"console\",\"format\":\"json\"}]}";

/* Publish one over-threshold point for journey under topic, then move the
 * clock past its interval (same topic). */
static void publish_incident(struct feed *f, const char *topic, const char *journey, int64_t ts)
{
    char msg[512];
    snprintf(msg, sizeof msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"%s\"},\"value\":99,\"ts\":%lld}",
             journey, (long long)ts);
    zmq_send(f->sock, topic, strlen(topic), ZMQ_SNDMORE);
    feed_send(f, msg, strlen(msg));
    snprintf(msg, sizeof msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"clock\"},\"value\":0,\"ts\":%lld}", (long long)ts + 2 * INTERVAL_S);
    zmq_send(f->sock, topic, strlen(topic), ZMQ_SNDMORE);
    feed_send(f, msg, strlen(msg));
}

Test(agent, reload_applies_a_change_of_topics, .fini = fini, .timeout = 60)
{
    char text[2048];
    agent_prepare(&agent, "{}");
    snprintf(text, sizeof text, CONFIG_SUB_TOPIC, agent.endpoint, "kpi.");
    agent_write_config(&agent, text);
    agent_start(&agent, "run");
    struct feed f;
    feed_open(&f, agent.endpoint, ZMQ_PUB);
    sleep_ms(1500);
    snprintf(text, sizeof text, CONFIG_SUB_TOPIC, agent.endpoint, "cx.");
    agent_write_config(&agent, text);
    kill(agent.pid, SIGHUP);
    cr_assert(wait_for_text(agent.err_path, "series kept their state", 1, 5000), "%s", read_file(agent.err_path));
    sleep_ms(1500); /* the new subscription travels to the publisher */
    int64_t start = aligned_start(20);
    publish_incident(&f, "kpi.complaints", "claims", start);       /* old topic: now filtered out */
    publish_incident(&f, "cx.complaints", "checkout", start + 4 * INTERVAL_S);
    cr_assert(wait_for_text(agent.out_path, "\"status\":\"firing\"", 1, 10000), "%s", read_file(agent.err_path));
    feed_close(&f);
    agent_stop(&agent, SIGTERM, 10000);
    char *out = read_file(agent.out_path);
    cr_assert_eq(count_text(out, "\"journey\":\"claims\""), 0, "the old topic still passes: %s", out);
    cr_assert_geq(count_text(out, "\"journey\":\"checkout\""), 1, "%s", out);
    free(out);
}

/* A reload whose new endpoint cannot be bound leaves every input as it
 * was: the old socket keeps receiving. */
Test(agent, failed_reload_keeps_the_inputs, .fini = fini, .timeout = 60)
{
    char text[2048];
    agent_prepare(&agent, "{}");
    snprintf(text, sizeof text, CONFIG_SUB_TOPIC, agent.endpoint, "kpi.");
    agent_write_config(&agent, text);
    agent_start(&agent, "run");
    /* the same config on an endpoint that cannot bind (not a local address) */
    snprintf(text, sizeof text, CONFIG_SUB_TOPIC, "tcp://192.0.2.1:1", "kpi.");
    agent_write_config(&agent, text);
    kill(agent.pid, SIGHUP);
    cr_assert(wait_for_text(agent.err_path, "keeping the running config and inputs", 1, 5000), "%s",
              read_file(agent.err_path));
    struct feed f;
    feed_open(&f, agent.endpoint, ZMQ_PUB);
    sleep_ms(1500);
    publish_incident(&f, "kpi.complaints", "checkout", aligned_start(20));
    cr_assert(wait_for_text(agent.out_path, "\"status\":\"firing\"", 1, 10000), "the old input is gone: %s",
              read_file(agent.err_path));
    feed_close(&f);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
}

/* State files that do not load are kept aside as .damaged, with a line
 * saying so, instead of being overwritten by the next save; the agent
 * starts and runs. */
Test(agent, damaged_state_files_are_moved_aside, .fini = fini, .timeout = 60)
{
    agent_prepare(&agent, CONFIG_PULL);
    char path[512];
    snprintf(path, sizeof path, "%s/state", agent.dir);
    cr_assert_eq(mkdir(path, 0750), 0);
    const char *files[] = {"state.json", "incidents.json", "feedback.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/state/%s", agent.dir, files[i]);
        FILE *f = fopen(path, "w");
        fputs("{\"truncat", f);
        fclose(f);
    }
    /* feedback.json is read when a verdict is queued */
    snprintf(path, sizeof path, "%s/state/feedback", agent.dir);
    cr_assert_eq(mkdir(path, 0750), 0);
    snprintf(path, sizeof path, "%s/state/feedback/0000000000001-1-0123456789abcdef.json", agent.dir);
    FILE *f = fopen(path, "w");
    fputs("{\"key\":\"0123456789abcdef\",\"verdict\":\"confirmed\"}", f);
    fclose(f);
    agent_start(&agent, "run");
    cr_assert(agent_alive(&agent), "%s", read_file(agent.err_path));
    for (int i = 0; i < 3; i++) {
        char want[600];
        snprintf(want, sizeof want, "%s/state/%s.damaged", agent.dir, files[i]);
        cr_assert(wait_for_text(agent.err_path, want, 1, 5000), "%s not moved aside: %s", files[i],
                  read_file(agent.err_path));
        cr_assert_eq(access(want, F_OK), 0, "%s", want);
    }
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
}
