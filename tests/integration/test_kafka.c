/* Scale-out on Kafka through the real binary: librdkafka's mock cluster
 * (three brokers, in this process) and two agents in one consumer group.
 * A producer publishes journey traffic keyed by journey; mid-incident the
 * agent that fired is killed with SIGKILL; the survivor takes its
 * partitions over, restores their series from the changelog topic and
 * resolves the incident. What both agents sent must equal what one agent
 * sends on the same traffic, each alert once, with no false alarm; the
 * series state both runs leave in their changelogs must be the same (no
 * point lost or counted twice); a restart of both agents restores the
 * learned baselines (an incident right after it is caught, which a cold
 * detector could not). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "harness.h"

#define NPART 4
#define NJOURNEYS 8
#define IV 60
#define INCIDENT_JOURNEY 3
#define INCIDENT_FROM 12
#define INCIDENT_TO 15
#define LATE_JOURNEY 5  /* the incident after the restart */
#define LATE_FROM 28
#define LATE_TO 29

static rd_kafka_t *mock; /* owns the mock cluster; also the test's producer */
static char brokers[256];
static struct agent_proc single, pair[2];
static int64_t base_s;

static void init(void)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    cr_assert_eq(rd_kafka_conf_set(conf, "test.mock.num.brokers", "3", err, sizeof err), RD_KAFKA_CONF_OK, "%s", err);
    rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    mock = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(mock, "%s", err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mock);
    cr_assert_not_null(mc);
    snprintf(brokers, sizeof brokers, "%s", rd_kafka_mock_cluster_bootstraps(mc));
    const char *topics[] = {"s-kpis", "s-changelog", "kpis", "changelog"};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(rd_kafka_mock_topic_create(mc, topics[i], NPART, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
    base_s = ((int64_t)time(NULL) / IV - 100) * IV;
}

static void fini(void)
{
    agent_cleanup(&single);
    agent_cleanup(&pair[0]);
    agent_cleanup(&pair[1]);
    if (mock)
        rd_kafka_destroy(mock);
}

static int http_port(const struct agent_proc *a)
{
    const char *colon = strrchr(a->endpoint, ':');
    return atoi(colon + 1);
}

static void configure(struct agent_proc *a, const char *group, const char *topic, const char *changelog)
{
    agent_prepare(a, "{}");
    char *text = NULL;
    cr_assert_geq(asprintf(&text,
        "{\"agent\":{\"stats_interval\":\"0\",\"state_dir\":\"%s/state\"},"
        "\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"1h\"},"
        "\"http\":{\"listen\":\"127.0.0.1\",\"port\":%d},"
        "\"inputs\":[{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"%s\",\"topics\":[\"%s\"],\"group_id\":\"%s\","
        "  \"changelog_topic\":\"%s\",\"commit_interval\":\"1s\",\"restore_timeout\":\"20s\","
        "  \"properties\":{\"session.timeout.ms\":\"6000\",\"heartbeat.interval.ms\":\"500\",\"fetch.wait.max.ms\":\"50\"}}],"
        "\"kpis\":[{\"name\":\"errors\",\"metric\":\"errors\",\"interval\":\"1m\",\"lateness\":\"3m\",\"fdr\":false,"
        "  \"group_by\":[\"journey\"],\"detector\":{\"type\":\"mad\",\"window\":24,\"min_points\":8,\"threshold\":5},"
        "  \"alert\":{\"for\":1,\"resolve_after\":1}}],"
        "\"receivers\":[{\"name\":\"console\",\"type\":\"console\",\"format\":\"json\"}],"
        "\"route\":{\"receiver\":\"console\",\"group_by\":[\"journey\"],\"group_wait\":\"0s\",\"group_interval\":\"0s\","
        "  \"repeat_interval\":\"0\"}}",
        a->dir, http_port(a), brokers, topic, group, changelog), 0);
    agent_write_config(a, text);
    free(text);
}

static int value_at(int journey, int i)
{
    if ((journey == INCIDENT_JOURNEY && i >= INCIDENT_FROM && i <= INCIDENT_TO) ||
        (journey == LATE_JOURNEY && i >= LATE_FROM && i <= LATE_TO))
        return 200;
    return 20 + (i * 7 + journey * 3) % 5;
}

/* Intervals [from, to] of every journey, keyed by journey, paced so that
 * the partitions of one consumer stay within the KPI's lateness. */
static void produce(const char *topic, int from, int to)
{
    for (int i = from; i <= to; i++) {
        for (int j = 0; j < NJOURNEYS; j++) {
            char key[8], msg[256];
            snprintf(key, sizeof key, "j%d", j);
            int n = snprintf(msg, sizeof msg, "{\"metric\":\"errors\",\"labels\":{\"journey\":\"j%d\"},\"value\":%d,\"ts\":%lld}",
                             j, value_at(j, i), (long long)(base_s + (int64_t)i * IV + 5));
            cr_assert_eq(rd_kafka_producev(mock, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                           RD_KAFKA_V_VALUE(msg, (size_t)n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        }
        rd_kafka_flush(mock, 5000);
        sleep_ms(100);
    }
}

static rd_kafka_t *consumer(const char *group)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    return rk;
}

/* Wait until group has committed every message of topic: the changelog
 * then holds the state of all of them. */
static bool wait_committed(const char *group, const char *topic, int timeout_ms)
{
    rd_kafka_t *rk = consumer(group);
    bool done = false;
    for (int waited = 0; !done && waited < timeout_ms; waited += 100) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(NPART);
        for (int p = 0; p < NPART; p++)
            rd_kafka_topic_partition_list_add(list, topic, p);
        done = rd_kafka_committed(rk, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int p = 0; done && p < NPART; p++) {
            int64_t lo, hi;
            done = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000) == 0 &&
                   list->elems[p].offset == hi;
        }
        rd_kafka_topic_partition_list_destroy(list);
        if (!done)
            sleep_ms(100);
    }
    rd_kafka_destroy(rk);
    return done;
}

/* The changelog as a compacted topic keeps it: {key: series JSON}. */
static cJSON *read_changelog(const char *topic)
{
    rd_kafka_t *rk = consumer("changelog-reader"); /* assigns only: never joins */
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(NPART);
    for (int p = 0; p < NPART; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    cJSON *out = cJSON_CreateObject();
    int eofs = 0;
    for (int waited = 0; eofs < NPART && waited < 20000;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            waited += 100;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!m->err) {
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)m->key_len, (const char *)m->key);
            cJSON_DeleteItemFromObjectCaseSensitive(out, key);
            if (m->payload)
                cJSON_AddItemToObject(out, key, cJSON_ParseWithLength(m->payload, m->len));
        }
        rd_kafka_message_destroy(m);
    }
    cr_assert_eq(eofs, NPART, "changelog %s not read to its end", topic);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return out;
}

/* What a series' state says about the points it took. */
static char *footprint(const cJSON *series)
{
    cJSON *f = cJSON_CreateObject();
    const char *fields[] = {"kpi", "values", "ring", "history", "history_pos", "history_len", "open_start",
                            "last_point_ts"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        cJSON_AddItemToObject(f, fields[i], cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(series, fields[i]), 1));
    char *text = cJSON_PrintUnformatted(f);
    cJSON_Delete(f);
    return text;
}

/* The (key, status) of every alert line in text from offset on, as
 * "KEY firing journey=jN" lines into a cJSON array of strings. */
static void alert_lines(const char *text, size_t offset, cJSON *out)
{
    const char *p = text + (offset < strlen(text) ? offset : strlen(text));
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        cJSON *o = cJSON_ParseWithLength(p, len);
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "key");
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(o, "status");
        if (cJSON_IsString(key) && cJSON_IsString(status)) {
            char *labels = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, "labels"));
            char line[512];
            snprintf(line, sizeof line, "%s %s %s", key->valuestring, status->valuestring, labels ? labels : "");
            free(labels);
            cJSON_AddItemToArray(out, cJSON_CreateString(line));
        }
        cJSON_Delete(o);
        p += len + (nl ? 1 : 0);
    }
}

static int count_string(const cJSON *arr, const char *s)
{
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) n += strcmp(it->valuestring, s) == 0;
    return n;
}

static bool any_has(const struct agent_proc *a, int n, const char *needle)
{
    for (int i = 0; i < n; i++) {
        char *text = read_file(a[i].out_path);
        bool found = strstr(text, needle) != NULL;
        free(text);
        if (found)
            return true;
    }
    return false;
}

static size_t file_size(const char *path)
{
    char *text = read_file(path);
    size_t n = strlen(text);
    free(text);
    return n;
}

Test(kafka, failover_keeps_alerts_and_state, .init = init, .fini = fini, .timeout = 170)
{
    /* One agent alone: the reference. */
    configure(&single, "single", "s-kpis", "s-changelog");
    agent_start(&single, "run");
    cr_assert(wait_for_text(single.err_path, "assigned 4 partitions", 1, 30000), "%s", read_file(single.err_path));
    produce("s-kpis", 0, 26);
    for (int i = 0; i < 300 && !any_has(&single, 1, "\"status\":\"resolved\""); i++)
        sleep_ms(100);
    cr_assert(wait_committed("single", "s-kpis", 20000));
    cr_assert_eq(agent_stop(&single, SIGTERM, 20000), 0, "%s", read_file(single.err_path));
    char *single_err = read_file(single.err_path);
    cr_assert(strstr(single_err, "points_accepted=216 points_rejected=0"), "%s", single_err);
    free(single_err);

    /* Two agents in one group. */
    configure(&pair[0], "pair", "kpis", "changelog");
    configure(&pair[1], "pair", "kpis", "changelog");
    agent_start(&pair[0], "run");
    agent_start(&pair[1], "run");
    for (int i = 0; i < 2; i++)
        cr_assert(wait_for_text(pair[i].err_path, "assigned 2 partitions", 1, 40000), "%s", read_file(pair[i].err_path));
    produce("kpis", 0, 16);
    int victim = -1;
    for (int i = 0; i < 200 && victim < 0; i++) {
        for (int a = 0; a < 2 && victim < 0; a++)
            if (any_has(&pair[a], 1, "\"status\":\"firing\""))
                victim = a;
        sleep_ms(100);
    }
    cr_assert_geq(victim, 0, "no agent fired: %s\n%s", read_file(pair[0].err_path), read_file(pair[1].err_path));
    struct agent_proc *dead = &pair[victim], *survivor = &pair[1 - victim];
    cr_assert(wait_committed("pair", "kpis", 20000));
    /* Mid-incident: one more interval, and the agent that fired dies
     * whether or not it took it. */
    produce("kpis", 17, 17);
    agent_stop(dead, SIGKILL, 5000);
    cr_assert(wait_for_text(survivor->err_path, "assigned 4 partitions", 1, 40000), "%s", read_file(survivor->err_path));

    char cmd[256], *metrics;
    snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/metrics", http_port(survivor));
    for (int i = 0; i < 50; i++) { /* published once a second */
        cr_assert_eq(run_capture(cmd, &metrics), 0);
        if (strstr(metrics, "kpiwatch_kafka_partitions_owned{input=\"k\"} 4"))
            break;
        free(metrics);
        metrics = NULL;
        sleep_ms(100);
    }
    cr_assert_not_null(metrics, "the survivor does not report 4 owned partitions");
    cr_assert(strstr(metrics, "kpiwatch_kafka_consumer_lag{input=\"k\",topic=\"kpis\",partition=\"3\"}") &&
                  strstr(metrics, "kpiwatch_kafka_restore_seconds{input=\"k\"}") &&
                  strstr(metrics, "kpiwatch_kafka_changelog_bytes{input=\"k\"}"),
              "%s", metrics);
    cr_assert_null(strstr(metrics, "kpiwatch_kafka_series_restored_total{input=\"k\"} 0\n"), "%s", metrics);
    free(metrics);
    snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/metrics | promtool check metrics", http_port(survivor));
    cr_assert_eq(run_capture(cmd, &metrics), 0, "promtool: %s", metrics);
    free(metrics);

    produce("kpis", 18, 26);
    for (int i = 0; i < 300 && !any_has(survivor, 1, "\"status\":\"resolved\""); i++)
        sleep_ms(100);
    cr_assert(wait_committed("pair", "kpis", 20000));
    cr_assert_eq(agent_stop(survivor, SIGTERM, 20000), 0, "%s", read_file(survivor->err_path));

    /* The alerts: the same set as one agent, each sent once. */
    cJSON *want = cJSON_CreateArray(), *got = cJSON_CreateArray();
    char *text = read_file(single.out_path);
    alert_lines(text, 0, want);
    free(text);
    for (int a = 0; a < 2; a++) {
        text = read_file(pair[a].out_path);
        alert_lines(text, 0, got);
        free(text);
    }
    char *want_text = cJSON_PrintUnformatted(want), *got_text = cJSON_PrintUnformatted(got);
    cr_assert_eq(cJSON_GetArraySize(want), 2, "one firing and one resolve expected: %s", want_text);
    cr_assert_eq(cJSON_GetArraySize(got), cJSON_GetArraySize(want), "one agent sent %s, two sent %s", want_text, got_text);
    const cJSON *line;
    cJSON_ArrayForEach(line, want) {
        cr_assert(strstr(line->valuestring, "\"j3\""), "a false alarm: %s", want_text);
        cr_assert_eq(count_string(got, line->valuestring), 1, "%s: one agent sent %s, two sent %s", line->valuestring,
                     want_text, got_text);
    }
    free(want_text);
    free(got_text);
    cJSON_Delete(want);
    cJSON_Delete(got);

    /* The series state: every point folded in once, as by one agent. */
    cJSON *one = read_changelog("s-changelog"), *two = read_changelog("changelog");
    cr_assert_eq(cJSON_GetArraySize(one), NJOURNEYS);
    cr_assert_eq(cJSON_GetArraySize(two), NJOURNEYS);
    const cJSON *s;
    cJSON_ArrayForEach(s, one) {
        const cJSON *other = cJSON_GetObjectItemCaseSensitive(two, s->string);
        cr_assert_not_null(other, "series %s is missing from the pair's changelog", s->string);
        char *a = footprint(s), *b = footprint(other);
        cr_assert_str_eq(b, a, "series %s differs", s->string);
        free(a);
        free(b);
    }
    cJSON_Delete(one);
    cJSON_Delete(two);

    /* Both restart, without their state directories: the changelog alone
     * brings the baselines back, so the next incident is caught at once. */
    size_t offsets[2];
    for (int a = 0; a < 2; a++) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s/state'", pair[a].dir);
        cr_assert_eq(system(cmd), 0);
        offsets[a] = file_size(pair[a].out_path);
        agent_start(&pair[a], "run");
    }
    for (int a = 0; a < 2; a++)
        cr_assert(wait_for_text(pair[a].err_path, "assigned 2 partitions", 2, 40000), "%s",
                  read_file(pair[a].err_path));
    produce("kpis", 27, 34);
    got = cJSON_CreateArray();
    for (int i = 0; i < 300; i++) {
        cJSON_Delete(got);
        got = cJSON_CreateArray();
        for (int a = 0; a < 2; a++) {
            text = read_file(pair[a].out_path);
            alert_lines(text, offsets[a], got);
            free(text);
        }
        if (cJSON_GetArraySize(got) >= 2)
            break;
        sleep_ms(100);
    }
    got_text = cJSON_PrintUnformatted(got);
    cr_assert_eq(cJSON_GetArraySize(got), 2, "after the restart: %s", got_text);
    cJSON_ArrayForEach(line, got)
        cr_assert(strstr(line->valuestring, "\"j5\""), "after the restart: %s", got_text);
    free(got_text);
    cJSON_Delete(got);
    for (int a = 0; a < 2; a++)
        cr_assert_eq(agent_stop(&pair[a], SIGTERM, 20000), 0, "%s", read_file(pair[a].err_path));
}
