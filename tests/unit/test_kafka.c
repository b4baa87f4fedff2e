/* Unit tests for the Kafka input's options and the changelog: record
 * encode/decode, the fold a compacted topic performs, and writes and
 * restores against librdkafka's mock cluster (in this process). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "../../agent/changelog.h"
#include "../../agent/config.h"
#include "../../agent/input.h"
#include "../../agent/pipeline.h"
#include "../../lib/log.h"

#define T0 1700000100LL /* seconds; a multiple of 1 minute */

static const char *const CONFIG =
    "{\"kpis\":[{\"name\":\"errors\",\"metric\":\"errors\",\"interval\":\"1m\",\"group_by\":[\"journey\"],"
    "\"detector\":{\"type\":\"mad\",\"window\":16,\"min_points\":8}}]}";

static struct kw_config cfg;

static void setup_config(void)
{
    kw_log_set_level(KW_LOG_OFF);
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_config_parse(&cfg, CONFIG, "t.json", err, sizeof err), 0, "%s", err);
}

static void teardown_config(void)
{
    kw_config_release(&cfg);
}

/* minutes [from, to) of journey into p, as if read from partition part */
static void feed(struct kw_pipeline *p, const char *journey, int part, int from, int to)
{
    p->partition = part;
    for (int i = from; i < to; i++) {
        char msg[256];
        int len = snprintf(msg, sizeof msg, "{\"metric\":\"errors\",\"labels\":{\"journey\":\"%s\"},\"value\":%d,\"ts\":%lld}",
                           journey, 20 + i % 3, (long long)(T0 + 60LL * i + 5));
        kw_ingest_message(&cfg.ingest, &p->ingest, "t", msg, (size_t)len, 0, kw_pipeline_point, p);
    }
    p->partition = -1;
}

static struct kw_series *only_series(const struct kw_pipeline *p, const char *journey)
{
    for (size_t i = 0; i < p->table.cap; i++)
        if (p->table.slots[i] && strcmp(p->table.slots[i]->values, journey) == 0)
            return p->table.slots[i];
    return NULL;
}

Test(changelog, a_record_decodes_to_the_series_it_encodes, .init = setup_config, .fini = teardown_config)
{
    cfg.ingest.check_time = false;
    struct kw_pipeline a, b;
    kw_pipeline_init(&a, &cfg);
    kw_pipeline_init(&b, &cfg);
    feed(&a, "checkout", 2, 0, 20);
    struct kw_series *s = only_series(&a, "checkout");
    cr_assert_not_null(s);
    cr_assert_eq(s->partition, 2, "a series records the partition its points came from");

    char key[KW_CHANGELOG_KEY], *value;
    size_t len;
    kw_changelog_encode(&a, s, key, &value, &len);
    cr_assert_str_eq(key, s->alert_key, "the key is the series id");
    cr_assert_null(kw_changelog_decode(&b, key, strlen(key), value, len, 2));
    struct kw_series *r = only_series(&b, "checkout");
    cr_assert_not_null(r);
    cr_assert_eq(r->partition, 2);
    cr_assert_str_eq(r->alert_key, s->alert_key);
    /* the restored series encodes to the same record: nothing was lost */
    char key2[KW_CHANGELOG_KEY], *value2;
    size_t len2;
    kw_changelog_encode(&b, r, key2, &value2, &len2);
    cr_assert_str_eq(value2, value);
    free(value2);

    /* a record whose key is not its series' id, or not JSON, is refused */
    struct kw_pipeline c;
    kw_pipeline_init(&c, &cfg);
    cr_assert_not_null(kw_changelog_decode(&c, "0123456789abcdef", 16, value, len, 2));
    cr_assert_not_null(kw_changelog_decode(&c, key, strlen(key), "{\"kpi\":", 7, 2));
    cr_assert_not_null(kw_changelog_decode(&c, "checkout", 8, value, len, 2));
    cr_assert_eq(c.table.count, 0, "a refused record leaves nothing behind");
    free(value);
    kw_pipeline_release(&a);
    kw_pipeline_release(&b);
    kw_pipeline_release(&c);
}

Test(changelog, the_fold_keeps_the_last_record_of_each_key_and_honours_tombstones)
{
    struct kw_changelog_fold f = {0};
    cr_assert_eq(kw_changelog_fold_put(&f, "00000000000000aa", 16, "one", 3), 0);
    cr_assert_eq(kw_changelog_fold_put(&f, "00000000000000bb", 16, "two", 3), 0);
    cr_assert_eq(kw_changelog_fold_put(&f, "00000000000000aa", 16, NULL, 0), 0);      /* tombstone */
    cr_assert_eq(kw_changelog_fold_put(&f, "00000000000000bb", 16, "three", 5), 0);   /* newer state */
    cr_assert_eq(kw_changelog_fold_put(&f, "00000000000000cc", 16, "four", 4), 0);
    cr_assert_eq(kw_changelog_fold_put(&f, "00000000000000cc", 16, NULL, 0), 0);
    cr_assert_eq(kw_changelog_fold_put(&f, "00000000000000cc", 16, "five", 4), 0);    /* back after a tombstone */
    cr_assert_eq(kw_changelog_fold_put(&f, "not-a-series-id!", 16, "x", 1), -1);
    cr_assert_eq(kw_changelog_fold_put(&f, "00aa", 4, "x", 1), -1);
    cr_assert_eq(f.n, 3);
    cr_assert_null(f.values[0]);
    cr_assert_str_eq(f.values[1], "three");
    cr_assert_str_eq(f.values[2], "five");
    kw_changelog_fold_release(&f);
}

/* ---- against the mock cluster ---- */

static rd_kafka_t *mock;
static rd_kafka_conf_t *client_conf;

static void setup_cluster(void)
{
    setup_config();
    cfg.ingest.check_time = false;
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "test.mock.num.brokers", "3", err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    mock = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(mock, "%s", err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mock);
    cr_assert_eq(rd_kafka_mock_topic_create(mc, "changelog", 4, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
    client_conf = rd_kafka_conf_new();
    rd_kafka_conf_set(client_conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err, sizeof err);
    rd_kafka_conf_set(client_conf, "log_level", "3", err, sizeof err);
}

static void teardown_cluster(void)
{
    rd_kafka_conf_destroy(client_conf);
    rd_kafka_destroy(mock);
    teardown_config();
}

Test(changelog, a_partition_restores_only_its_own_series_and_writes_only_changes, .init = setup_cluster,
     .fini = teardown_cluster, .timeout = 60)
{
    char err[KW_ERR_LEN];
    struct kw_changelog log;
    cr_assert_eq(kw_changelog_init(&log, "changelog", "t.reader", client_conf, err, sizeof err), 0, "%s", err);
    struct kw_pipeline a;
    kw_pipeline_init(&a, &cfg);
    a.hold_clock = true; /* as kw_kafka_start sets it */
    feed(&a, "checkout", 1, 0, 20);
    feed(&a, "claims", 1, 0, 20);
    feed(&a, "onboarding", 2, 0, 20);
    int32_t parts[] = {1, 2};
    cr_assert_eq(kw_changelog_write(&log, &a, parts, 2, 10000, err, sizeof err), 0, "%s", err);
    cr_assert_eq(log.stats.records, 3);
    cr_assert_gt(log.stats.bytes, 0);
    /* unchanged: nothing is sent again */
    cr_assert_eq(kw_changelog_write(&log, &a, parts, 2, 10000, err, sizeof err), 0, "%s", err);
    cr_assert_eq(log.stats.records, 3);
    /* one series moves on; another expires (leaves the pipeline): a tombstone */
    feed(&a, "checkout", 1, 20, 21);
    kw_pipeline_drop(&a, only_series(&a, "claims"));
    cr_assert_eq(kw_changelog_write(&log, &a, parts, 2, 10000, err, sizeof err), 0, "%s", err);
    cr_assert_eq(log.stats.records, 4, "only the series that changed is written");
    cr_assert_eq(log.stats.tombstones, 1);

    /* another agent takes partition 1 over */
    struct kw_changelog other;
    cr_assert_eq(kw_changelog_init(&other, "changelog", "t.reader", client_conf, err, sizeof err), 0, "%s", err);
    struct kw_pipeline b;
    kw_pipeline_init(&b, &cfg);
    cr_assert_eq(kw_changelog_restore(&other, &b, 1, 10000, err, sizeof err), 1, "%s", err);
    struct kw_series *r = only_series(&b, "checkout");
    cr_assert_not_null(r, "the series of partition 1 is restored");
    cr_assert_eq(r->partition, 1);
    cr_assert_null(only_series(&b, "claims"), "a tombstoned series stays gone");
    cr_assert_null(only_series(&b, "onboarding"), "partition 2's series are not read");
    char key[KW_CHANGELOG_KEY], *want, *got;
    size_t len;
    kw_changelog_encode(&a, only_series(&a, "checkout"), key, &want, &len);
    kw_changelog_encode(&b, r, key, &got, &len);
    cr_assert_str_eq(got, want, "the newest state is restored");
    free(want);
    free(got);
    /* what was restored counts as written: the new owner sends no copy */
    cr_assert_eq(kw_changelog_write(&other, &b, parts, 1, 10000, err, sizeof err), 0, "%s", err);
    cr_assert_eq(other.stats.records, 0);
    /* an empty partition restores nothing, without error */
    cr_assert_eq(kw_changelog_restore(&other, &b, 3, 10000, err, sizeof err), 0, "%s", err);

    kw_changelog_release(&other);
    kw_changelog_release(&log);
    kw_pipeline_release(&a);
    kw_pipeline_release(&b);
}

/* ---- options ---- */

struct option_case {
    char input[400]; /* one inputs[] entry */
    char error[160]; /* expected error text (a prefix); "" = valid */
};

static struct option_case option_cases[] = {
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\"}", ""},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"changelog_topic\":\"c\"}",
     "inputs[0].topics: a kafka input needs at least one topic"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"topics\":[\"t\"],\"changelog_topic\":\"c\"}", "inputs[0].brokers: is required"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"]}",
     "inputs[0].changelog_topic: is required"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"t\"}",
     "inputs[0].changelog_topic: must not be one of the input topics"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\","
     "\"endpoint\":\"tcp://127.0.0.1:1\"}",
     "inputs[0].endpoint: only a zmq input has it"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\",\"grup_id\":\"x\"}",
     "inputs[0].grup_id: unknown key"},
    {"{\"name\":\"k\",\"brokers\":\"b:9092\",\"endpoint\":\"tcp://127.0.0.1:1\"}", "inputs[0].brokers: unknown key"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\","
     "\"sasl_username\":\"u\"}",
     "inputs[0].sasl_username: only with security_protocol sasl_plaintext or sasl_ssl"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\","
     "\"security_protocol\":\"sasl_ssl\",\"sasl_username\":\"u\",\"sasl_password\":\"p\"}",
     "inputs[0].sasl_mechanism: required with security_protocol sasl_ssl"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\","
     "\"security_protocol\":\"sasl_ssl\",\"sasl_mechanism\":\"PLAIN\",\"sasl_username\":\"u\"}",
     "inputs[0].sasl_password: is required"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\","
     "\"security_protocol\":\"sasl_ssl\",\"sasl_mechanism\":\"SCRAM-SHA-512\",\"sasl_username\":\"u\",\"sasl_password\":\"p\"}",
     ""},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\","
     "\"ssl_ca_location\":\"/etc/ssl/ca.pem\"}",
     "inputs[0].ssl_ca_location: only with security_protocol ssl or sasl_ssl"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\","
     "\"properties\":{\"enable.auto.commit\":\"true\"}}",
     "inputs[0].properties.enable.auto.commit: set by kpiwatch"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\","
     "\"properties\":{\"fetch.wait.max.msec\":\"5\"}}",
     "inputs[0].properties.fetch.wait.max.msec: No such configuration property"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\","
     "\"properties\":{\"session.timeout.ms\":\"many\"}}",
     "inputs[0].properties.session.timeout.ms: Invalid value"},
    {"{\"name\":\"k\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\","
     "\"commit_interval\":\"0s\"}",
     "inputs[0].commit_interval: must be"},
};

ParameterizedTestParameters(kafka_options, errors_name_the_key)
{
    return cr_make_param_array(struct option_case, option_cases, sizeof option_cases / sizeof option_cases[0]);
}

ParameterizedTest(struct option_case *c, kafka_options, errors_name_the_key)
{
    kw_log_set_level(KW_LOG_OFF);
    cJSON *obj = cJSON_Parse(c->input);
    cr_assert_not_null(obj);
    struct kw_input_config in;
    memset(&in, 0, sizeof in);
    char err[KW_ERR_LEN] = "";
    int rc = kw_input_parse(&in, obj, "inputs[0]", err, sizeof err);
    if (c->error[0]) {
        cr_assert_eq(rc, -1, "accepted: %s", c->input);
        cr_assert_eq(strncmp(err, c->error, strlen(c->error)), 0, "got \"%s\", want \"%s...\"", err, c->error);
    } else {
        cr_assert_eq(rc, 0, "%s: %s", c->input, err);
        cr_assert_eq(in.type, KW_INPUT_KAFKA);
    }
    kw_input_release(&in);
    cJSON_Delete(obj);
}

Test(kafka_options, a_second_kafka_input_is_refused)
{
    kw_log_set_level(KW_LOG_OFF);
    struct kw_config c;
    char err[KW_ERR_LEN];
    const char *text =
        "{\"inputs\":[{\"name\":\"a\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"t\"],\"changelog_topic\":\"c\"},"
        "{\"name\":\"b\",\"type\":\"kafka\",\"brokers\":\"b:9092\",\"topics\":[\"u\"],\"changelog_topic\":\"d\"}],"
        "\"kpis\":[{\"name\":\"errors\",\"metric\":\"errors\"}]}";
    cr_assert_eq(kw_config_parse(&c, text, "t.json", err, sizeof err), -1);
    cr_assert(strstr(err, "inputs[1]: at most one kafka input"), "%s", err);
}
