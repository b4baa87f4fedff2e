/* kafka: consumer-group input whose series state follows its partitions. */
#include "kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "../lib/log.h"
#include "../lib/secret.h"
#include "../lib/strbuf.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "changelog.h"
#include "input.h"
#include "lineproto.h"
#include "pipeline.h"

#define BATCH 10000             /* messages per poll-loop turn */
#define WRITE_TIMEOUT_MS 10000  /* changelog acknowledgements and synchronous commits */
#define QUERY_TIMEOUT_MS 10000  /* committed offsets and watermarks at assignment */

static const char *const security_protocols[] = {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl", NULL};

const struct kw_option kw_kafka_options[] = {
    {"brokers", KW_OPT_STRING, NULL, offsetof(struct kw_kafka_config, brokers), KW_NORANGE,
     .desc = "kafka: bootstrap brokers, host:port[,host:port...]."},
    {"topics", KW_OPT_CUSTOM, "", offsetof(struct kw_kafka_config, topics), KW_NORANGE,
     .parse = kw_opt_parse_string_list, .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "kafka: input topics (required), keyed by journey and with the same partition count."},
    {"group_id", KW_OPT_STRING, "kpiwatch", offsetof(struct kw_kafka_config, group_id), KW_NORANGE,
     .desc = "kafka: consumer group; agents with the same group_id share the partitions."},
    {"changelog_topic", KW_OPT_STRING, NULL, offsetof(struct kw_kafka_config, changelog_topic), KW_NORANGE,
     .desc = "kafka: compacted topic holding series state, with as many partitions as the input topics."},
    {"security_protocol", KW_OPT_ENUM, "plaintext", offsetof(struct kw_kafka_config, security_protocol), KW_NORANGE,
     .choices = security_protocols, .desc = "kafka: plaintext, ssl, sasl_plaintext or sasl_ssl."},
    {"sasl_mechanism", KW_OPT_STRING, "", offsetof(struct kw_kafka_config, sasl_mechanism), KW_NORANGE,
     .desc = "kafka: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (sasl_* protocols)."},
    {"sasl_username", KW_OPT_STRING, "", offsetof(struct kw_kafka_config, sasl_username), KW_NORANGE,
     .desc = "kafka: SASL user name."},
    {"sasl_password", KW_OPT_STRING, "", offsetof(struct kw_kafka_config, sasl_password), KW_NORANGE,
     .desc = "kafka: SASL password, usually \"${KAFKA_PASSWORD}\"; a secret, never logged."},
    {"sasl_password_file", KW_OPT_STRING, "", offsetof(struct kw_kafka_config, sasl_password_file), KW_NORANGE,
     .desc = "kafka: file holding the SASL password instead of sasl_password."},
    {"ssl_ca_location", KW_OPT_STRING, "", offsetof(struct kw_kafka_config, ssl_ca_location), KW_NORANGE,
     .desc = "kafka: CA certificate file for ssl and sasl_ssl (default: the system's)."},
    {"properties", KW_OPT_CUSTOM, "", offsetof(struct kw_kafka_config, properties), KW_NORANGE,
     .parse = kw_opt_parse_string_map, .release = kw_opt_release_string_map, .type_name = "object of strings",
     .desc = "kafka: further librdkafka settings, e.g. {\"session.timeout.ms\": \"10000\"}."},
    {"commit_interval", KW_OPT_DURATION, "5s", offsetof(struct kw_kafka_config, commit_interval_ms), 1, 3600,
     .desc = "kafka: how often changed series are written to the changelog and offsets committed after them."},
    {"restore_timeout", KW_OPT_DURATION, "60s", offsetof(struct kw_kafka_config, restore_timeout_ms), 1, 3600,
     .desc = "kafka: longest wait to read a changelog partition, and to replay a taken-over partition's backlog."},
    KW_OPT_END,
};

/* Settings kpiwatch makes itself: the guarantees depend on them. */
static const char *const managed_properties[] = {
    "bootstrap.servers", "metadata.broker.list", "group.id", "enable.auto.commit", "enable.auto.offset.store",
    "security.protocol", "sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password", NULL};

static void release_password(struct kw_kafka_config *kc)
{
    kw_secret_free(kc->sasl_password);
    kc->sasl_password = NULL;
    kw_secret_free(kc->password);
    kc->password = NULL;
}

int kw_kafka_parse(struct kw_kafka_config *kc, const cJSON *obj, const char *path, char *err, size_t errlen)
{
    char key[KW_ERR_LEN], file_key[KW_ERR_LEN];
    if (kw_opts_fill(kw_kafka_options, obj, kc, path, err, errlen))
        return -1;
    if (kc->topics.n == 0) {
        snprintf(err, errlen, "%s: a kafka input needs at least one topic", kw_path_key(key, sizeof key, path, "topics"));
        return -1;
    }
    for (int i = 0; i < kc->topics.n; i++) {
        if (strcmp(kc->topics.items[i], kc->changelog_topic) == 0) {
            snprintf(err, errlen, "%s: must not be one of the input topics",
                     kw_path_key(key, sizeof key, path, "changelog_topic"));
            return -1;
        }
    }
    bool sasl = kc->security_protocol == KW_KAFKA_SASL_PLAINTEXT || kc->security_protocol == KW_KAFKA_SASL_SSL;
    const char *sasl_keys[] = {"sasl_mechanism", "sasl_username", "sasl_password", "sasl_password_file"};
    const char *sasl_vals[] = {kc->sasl_mechanism, kc->sasl_username, kc->sasl_password, kc->sasl_password_file};
    for (int i = 0; i < 4 && !sasl; i++) {
        if (sasl_vals[i]) {
            snprintf(err, errlen, "%s: only with security_protocol sasl_plaintext or sasl_ssl",
                     kw_path_key(key, sizeof key, path, sasl_keys[i]));
            return -1;
        }
    }
    if (sasl && !kc->sasl_mechanism) {
        snprintf(err, errlen, "%s: required with security_protocol %s",
                 kw_path_key(key, sizeof key, path, "sasl_mechanism"), security_protocols[kc->security_protocol]);
        return -1;
    }
    /* PLAIN and SCRAM log in with a user and a password; GSSAPI and
     * OAUTHBEARER are configured through properties. */
    bool password_login = sasl && (strcmp(kc->sasl_mechanism, "PLAIN") == 0 || strncmp(kc->sasl_mechanism, "SCRAM-", 6) == 0);
    if (password_login && !kc->sasl_username) {
        snprintf(err, errlen, "%s: required with sasl_mechanism %s", kw_path_key(key, sizeof key, path, "sasl_username"),
                 kc->sasl_mechanism);
        return -1;
    }
    if (kc->ssl_ca_location && (kc->security_protocol == KW_KAFKA_PLAINTEXT || kc->security_protocol == KW_KAFKA_SASL_PLAINTEXT)) {
        snprintf(err, errlen, "%s: only with security_protocol ssl or sasl_ssl",
                 kw_path_key(key, sizeof key, path, "ssl_ca_location"));
        return -1;
    }
    kw_path_key(key, sizeof key, path, "sasl_password");
    kw_path_key(file_key, sizeof file_key, path, "sasl_password_file");
    if (kw_secret_resolve(kc->sasl_password, kc->sasl_password_file, password_login, key, file_key, &kc->password, err,
                          errlen))
        return -1;
    /* The resolved copy is the only one kept. */
    kw_secret_free(kc->sasl_password);
    kc->sasl_password = NULL;

    rd_kafka_conf_t *probe = rd_kafka_conf_new();
    char kerr[512];
    for (int i = 0; i < kc->properties.n; i++) {
        char pkey[KW_ERR_LEN];
        snprintf(pkey, sizeof pkey, "%s.properties.%s", path, kc->properties.names[i]);
        for (int m = 0; managed_properties[m]; m++) {
            if (strcmp(kc->properties.names[i], managed_properties[m]) == 0) {
                snprintf(err, errlen, "%s: set by kpiwatch (use the input's own keys)", pkey);
                rd_kafka_conf_destroy(probe);
                return -1;
            }
        }
        if (rd_kafka_conf_set(probe, kc->properties.names[i], kc->properties.values[i], kerr, sizeof kerr) !=
            RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "%s: %s", pkey, kerr);
            rd_kafka_conf_destroy(probe);
            return -1;
        }
    }
    rd_kafka_conf_destroy(probe);
    return 0;
}

void kw_kafka_config_release(struct kw_kafka_config *kc)
{
    release_password(kc);
    kw_opts_release(kw_kafka_options, kc);
    memset(kc, 0, sizeof *kc);
}

/* ---- the running consumer ---- */

struct owned {
    char *topic;
    int32_t partition;
    int64_t next;        /* offset after the last message taken; -1 before the first */
    int64_t committed;   /* offset last committed (or found committed at assignment); -1 = none */
    int64_t catchup_to;  /* backlog end at assignment; -1 once replayed */
};

struct kw_kafka {
    char name[64];
    int format, precision;
    struct kw_pipeline *p;
    const struct kw_ingest_limits *lim;
    int64_t commit_interval_ms, restore_timeout_ms;
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    int wake[2];                 /* librdkafka writes to [1] when the queue gets events */
    struct kw_changelog log;
    struct owned *own;
    int nown, capown;
    int64_t next_write_ms;
    int64_t catchup_until_ms;
    int64_t restore_ms;          /* how long the last assignment took to restore */
    uint64_t rebalances, restore_failures, commit_failures, consume_errors;
};

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum kw_log_level l = level <= 3 ? KW_LOG_ERROR : level == 4 ? KW_LOG_WARN : level <= 6 ? KW_LOG_INFO : KW_LOG_DEBUG;
    kw_log(l, "kafka", "%s: %s", fac, buf);
}

static int set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err, size_t errlen)
{
    char kerr[512];
    if (rd_kafka_conf_set(conf, name, value, kerr, sizeof kerr) == RD_KAFKA_CONF_OK)
        return 0;
    snprintf(err, errlen, "%s: %s", name, kerr);
    return -1;
}

/* Connection settings shared by the consumer, the changelog producer and
 * its reader. */
static rd_kafka_conf_t *base_conf(const struct kw_kafka_config *kc, char *err, size_t errlen)
{
    static const char *const protocols[] = {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_log);
    int rc = set(conf, "bootstrap.servers", kc->brokers, err, errlen) | set(conf, "client.id", "kpiwatch", err, errlen) |
             set(conf, "security.protocol", protocols[kc->security_protocol], err, errlen);
    if (kc->sasl_mechanism)
        rc |= set(conf, "sasl.mechanism", kc->sasl_mechanism, err, errlen);
    if (kc->sasl_username)
        rc |= set(conf, "sasl.username", kc->sasl_username, err, errlen);
    if (kc->password)
        rc |= set(conf, "sasl.password", kc->password, err, errlen);
    if (kc->ssl_ca_location)
        rc |= set(conf, "ssl.ca.location", kc->ssl_ca_location, err, errlen);
    for (int i = 0; i < kc->properties.n; i++)
        rc |= set(conf, kc->properties.names[i], kc->properties.values[i], err, errlen);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

static bool has_property(const struct kw_kafka_config *kc, const char *name)
{
    for (int i = 0; i < kc->properties.n; i++)
        if (strcmp(kc->properties.names[i], name) == 0)
            return true;
    return false;
}

static struct owned *find_owned(struct kw_kafka *k, const char *topic, int32_t partition)
{
    for (int i = 0; i < k->nown; i++)
        if (k->own[i].partition == partition && strcmp(k->own[i].topic, topic) == 0)
            return &k->own[i];
    return NULL;
}

/* Is partition number n owned through any topic? */
static bool number_owned(const struct kw_kafka *k, int32_t n)
{
    for (int i = 0; i < k->nown; i++)
        if (k->own[i].partition == n)
            return true;
    return false;
}

/* The distinct partition numbers of list (or of everything owned when list
 * is NULL) into out (caller frees); returns the count. */
static int numbers(const struct kw_kafka *k, const rd_kafka_topic_partition_list_t *list, int32_t **out)
{
    int n = list ? list->cnt : k->nown, count = 0;
    int32_t *nums = xcalloc((size_t)n + 1, sizeof *nums);
    for (int i = 0; i < n; i++) {
        int32_t v = list ? list->elems[i].partition : k->own[i].partition;
        bool dup = false;
        for (int j = 0; j < count && !dup; j++)
            dup = nums[j] == v;
        if (!dup)
            nums[count++] = v;
    }
    *out = nums;
    return count;
}

/* Write the changelog of partition numbers nums[0..n), and only when the
 * broker acknowledged it, commit the offsets of the messages folded into
 * it: at least once. */
static void checkpoint(struct kw_kafka *k, const int32_t *nums, int n, bool sync)
{
    char err[KW_ERR_LEN];
    if (n == 0)
        return;
    if (kw_changelog_write(&k->log, k->p, nums, n, WRITE_TIMEOUT_MS, err, sizeof err)) {
        k->commit_failures++;
        kw_warn("kafka", "%s: offsets not committed: %s", k->name, err);
        return;
    }
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(k->nown + 1);
    for (int i = 0; i < k->nown; i++) {
        struct owned *o = &k->own[i];
        bool wanted = false;
        for (int j = 0; j < n && !wanted; j++)
            wanted = nums[j] == o->partition;
        if (wanted && o->next >= 0 && o->next != o->committed)
            rd_kafka_topic_partition_list_add(offsets, o->topic, o->partition)->offset = o->next;
    }
    if (offsets->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(k->rk, offsets, sync ? 0 : 1);
        if (e) {
            k->commit_failures++;
            kw_warn("kafka", "%s: commit: %s", k->name, rd_kafka_err2str(e));
        } else {
            for (int i = 0; i < offsets->cnt; i++) {
                struct owned *o = find_owned(k, offsets->elems[i].topic, offsets->elems[i].partition);
                o->committed = offsets->elems[i].offset;
            }
        }
    }
    rd_kafka_topic_partition_list_destroy(offsets);
}

/* Assignment: restore each new partition number's series from the
 * changelog, then note where each partition's backlog ends. */
static void take(struct kw_kafka *k, const rd_kafka_topic_partition_list_t *parts)
{
    int64_t t0 = kw_mono_ms();
    int32_t *nums;
    int nn = numbers(k, parts, &nums);
    size_t restored = 0;
    for (int i = 0; i < nn; i++) {
        if (number_owned(k, nums[i]))
            continue; /* already owned through another topic */
        char err[KW_ERR_LEN];
        int r = kw_changelog_restore(&k->log, k->p, nums[i], (int)k->restore_timeout_ms, err, sizeof err);
        if (r < 0) {
            k->restore_failures++;
            kw_error("kafka", "%s: partition %d starts without its saved state: %s", k->name, (int)nums[i], err);
        } else {
            restored += (size_t)r;
        }
    }
    free(nums);

    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    if (rd_kafka_committed(k->rk, committed, QUERY_TIMEOUT_MS))
        for (int i = 0; i < committed->cnt; i++)
            committed->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    for (int i = 0; i < committed->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &committed->elems[i];
        if (k->nown == k->capown) {
            k->capown = k->capown ? k->capown * 2 : 16;
            k->own = xrealloc(k->own, (size_t)k->capown * sizeof *k->own);
        }
        struct owned *o = &k->own[k->nown++];
        *o = (struct owned){.topic = xstrdup(tp->topic), .partition = tp->partition, .next = -1,
                            .committed = tp->offset >= 0 ? tp->offset : -1, .catchup_to = -1};
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(k->rk, tp->topic, tp->partition, &lo, &hi, QUERY_TIMEOUT_MS) == 0) {
            int64_t start = o->committed >= 0 ? o->committed : lo;
            if (start < hi)
                o->catchup_to = hi;
        }
    }
    rd_kafka_topic_partition_list_destroy(committed);
    k->catchup_until_ms = kw_mono_ms() + k->restore_timeout_ms;
    k->restore_ms = kw_mono_ms() - t0;
    kw_info("kafka", "%s: assigned %d partitions; restored %zu series from %s in %lld ms", k->name, parts->cnt,
            restored, k->log.topic, (long long)k->restore_ms);
}

/* Revocation: a last changelog write and commit (unless the assignment
 * was lost: another agent may own these partitions already), then the
 * partitions' series leave the pipeline. */
static void give_up(struct kw_kafka *k, const rd_kafka_topic_partition_list_t *parts, bool lost)
{
    int32_t *nums;
    int nn = numbers(k, parts, &nums);
    if (!lost)
        checkpoint(k, nums, nn, true);
    for (int i = 0; i < parts->cnt; i++) {
        struct owned *o = find_owned(k, parts->elems[i].topic, parts->elems[i].partition);
        if (!o)
            continue;
        free(o->topic);
        *o = k->own[--k->nown];
    }
    size_t dropped = 0;
    for (int i = 0; i < nn; i++) {
        if (number_owned(k, nums[i]))
            continue;
        dropped += kw_pipeline_drop_partition(k->p, nums[i]);
        kw_changelog_forget(&k->log, nums[i]);
    }
    free(nums);
    kw_info("kafka", "%s: %s %d partitions; %zu series handed over", k->name, lost ? "lost" : "revoked", parts->cnt,
            dropped);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct kw_kafka *k = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    k->rebalances++;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        take(k, parts);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
    } else {
        give_up(k, parts, rd_kafka_assignment_lost(rk));
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (error) {
        kw_error("kafka", "%s: rebalance: %s", k->name, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
}

struct kw_kafka *kw_kafka_start(const struct kw_kafka_config *kc, const char *name, int format, int precision,
                                struct kw_pipeline *p, const struct kw_ingest_limits *lim, char *err, size_t errlen)
{
    struct kw_kafka *k = xcalloc(1, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    k->format = format;
    k->precision = precision;
    k->p = p;
    /* Partitions arrive unevenly, and a taken-over partition replays its
     * backlog: intervals close on the agent's ticks only, not as one
     * partition's points move the clock. */
    p->hold_clock = true;
    k->lim = lim;
    k->commit_interval_ms = kc->commit_interval_ms;
    k->restore_timeout_ms = kc->restore_timeout_ms;
    k->wake[0] = k->wake[1] = -1;
    k->next_write_ms = kw_mono_ms() + k->commit_interval_ms;

    char kerr[512], reader_group[512];
    snprintf(reader_group, sizeof reader_group, "%s.changelog-reader", kc->group_id);
    rd_kafka_conf_t *conf = base_conf(kc, err, errlen);
    if (!conf || kw_changelog_init(&k->log, kc->changelog_topic, reader_group, conf, err, errlen)) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        kw_kafka_stop(k);
        return NULL;
    }
    /* Offsets are stored and committed by checkpoint() only; "range" is the
     * eager protocol (properties may choose cooperative-sticky). */
    if ((!has_property(kc, "partition.assignment.strategy") &&
         set(conf, "partition.assignment.strategy", "range", err, errlen)) ||
        (!has_property(kc, "auto.offset.reset") && set(conf, "auto.offset.reset", "earliest", err, errlen)) ||
        set(conf, "group.id", kc->group_id, err, errlen) || set(conf, "enable.auto.commit", "false", err, errlen) ||
        set(conf, "enable.auto.offset.store", "false", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        kw_kafka_stop(k);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, k);
    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, kerr, sizeof kerr);
    if (!k->rk) {
        snprintf(err, errlen, "kafka consumer: %s", kerr);
        rd_kafka_conf_destroy(conf);
        kw_kafka_stop(k);
        return NULL;
    }
    rd_kafka_poll_set_consumer(k->rk);
    k->queue = rd_kafka_queue_get_consumer(k->rk);
    if (pipe2(k->wake, O_NONBLOCK | O_CLOEXEC)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        kw_kafka_stop(k);
        return NULL;
    }
    rd_kafka_queue_io_event_enable(k->queue, k->wake[1], "1", 1);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(kc->topics.n);
    for (int i = 0; i < kc->topics.n; i++)
        rd_kafka_topic_partition_list_add(topics, kc->topics.items[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(k->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        snprintf(err, errlen, "kafka subscribe: %s", rd_kafka_err2str(e));
        kw_kafka_stop(k);
        return NULL;
    }
    kw_info("kafka", "%s: joining group %s on %s (changelog %s)", k->name, kc->group_id, kc->brokers,
            kc->changelog_topic);
    return k;
}

int kw_kafka_fd(const struct kw_kafka *k)
{
    return k->wake[0];
}

static void take_message(struct kw_kafka *k, rd_kafka_message_t *m)
{
    if (m->err) {
        uint64_t n = ++k->consume_errors;
        if ((n & (n - 1)) == 0) /* 1, 2, 4, ...: a broker outage does not flood the log */
            kw_warn("kafka", "%s: %s [%llu so far]", k->name, rd_kafka_message_errstr(m), (unsigned long long)n);
        return;
    }
    struct owned *o = find_owned(k, rd_kafka_topic_name(m->rkt), m->partition);
    if (!o)
        return; /* from before a revocation */
    /* Points of this message belong to its partition's series. */
    k->p->partition = m->partition;
    if (k->format == KW_INPUT_INFLUX)
        kw_lineproto_ingest(k->lim, &k->p->ingest, k->name, k->precision, m->payload, m->len, kw_now_ms(),
                            kw_pipeline_point, k->p);
    else
        kw_ingest_message(k->lim, &k->p->ingest, k->name, m->payload, m->len, kw_now_ms(), kw_pipeline_point, k->p);
    k->p->partition = -1;
    o->next = m->offset + 1;
    if (o->catchup_to >= 0 && o->next >= o->catchup_to)
        o->catchup_to = -1;
}

void kw_kafka_poll(struct kw_kafka *k)
{
    char buf[64];
    while (read(k->wake[0], buf, sizeof buf) > 0)
        ;
    /* Before taking more: the state now includes the interval closes that
     * the last tick made of the messages taken so far. */
    int64_t now = kw_mono_ms();
    if (now >= k->next_write_ms) {
        int32_t *nums;
        int nn = numbers(k, NULL, &nums);
        checkpoint(k, nums, nn, false);
        free(nums);
        k->next_write_ms = now + k->commit_interval_ms;
    }
    for (int n = 0; n < BATCH; n++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 0);
        if (!m)
            break;
        take_message(k, m);
        rd_kafka_message_destroy(m);
    }
}

bool kw_kafka_catching_up(const struct kw_kafka *k)
{
    if (!k || kw_mono_ms() >= k->catchup_until_ms)
        return false;
    for (int i = 0; i < k->nown; i++)
        if (k->own[i].catchup_to >= 0)
            return true;
    return false;
}

static void family(struct kw_strbuf *b, const char *name, const char *type, const char *help)
{
    kw_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct kw_strbuf *b, const struct kw_kafka *k, const char *name, const char *extra, double v)
{
    kw_strbuf_printf(b, "%s{input=\"", name);
    kw_strbuf_prom_label(b, k->name);
    kw_strbuf_printf(b, "\"%s} %.17g\n", extra, v);
}

char *kw_kafka_metrics(const struct kw_kafka *k)
{
    struct kw_strbuf b;
    kw_strbuf_init(&b);
    family(&b, "kpiwatch_kafka_partitions_owned", "gauge", "Input partitions this agent owns now.");
    sample(&b, k, "kpiwatch_kafka_partitions_owned", "", k->nown);
    /* Kafka topic names are [a-zA-Z0-9._-]: nothing to escape. */
    char labels[320];
    family(&b, "kpiwatch_kafka_consumer_lag", "gauge",
           "Messages of an owned partition not yet taken (high watermark minus position).");
    for (int i = 0; i < k->nown; i++) {
        const struct owned *o = &k->own[i];
        snprintf(labels, sizeof labels, ",topic=\"%.255s\",partition=\"%d\"", o->topic, (int)o->partition);
        int64_t lo, hi, pos = o->next >= 0 ? o->next : o->committed;
        if (pos >= 0 && rd_kafka_get_watermark_offsets(k->rk, o->topic, o->partition, &lo, &hi) == 0 && hi >= 0)
            sample(&b, k, "kpiwatch_kafka_consumer_lag", labels, (double)(hi > pos ? hi - pos : 0));
    }
    family(&b, "kpiwatch_kafka_committed_offset", "gauge", "Offset committed for an owned partition.");
    for (int i = 0; i < k->nown; i++) {
        const struct owned *o = &k->own[i];
        snprintf(labels, sizeof labels, ",topic=\"%.255s\",partition=\"%d\"", o->topic, (int)o->partition);
        if (o->committed >= 0)
            sample(&b, k, "kpiwatch_kafka_committed_offset", labels, (double)o->committed);
    }
    family(&b, "kpiwatch_kafka_restore_seconds", "gauge",
           "How long the last assignment took to restore its series from the changelog.");
    sample(&b, k, "kpiwatch_kafka_restore_seconds", "", (double)k->restore_ms / 1000.0);
    family(&b, "kpiwatch_kafka_series_restored_total", "counter", "Series restored from the changelog.");
    sample(&b, k, "kpiwatch_kafka_series_restored_total", "", (double)k->log.stats.restored);
    family(&b, "kpiwatch_kafka_changelog_records_total", "counter",
           "Changelog records the broker acknowledged: series states and tombstones.");
    sample(&b, k, "kpiwatch_kafka_changelog_records_total", ",kind=\"series\"", (double)k->log.stats.records);
    sample(&b, k, "kpiwatch_kafka_changelog_records_total", ",kind=\"tombstone\"", (double)k->log.stats.tombstones);
    family(&b, "kpiwatch_kafka_changelog_failures_total", "counter", "Changelog records the broker did not take.");
    sample(&b, k, "kpiwatch_kafka_changelog_failures_total", "", (double)k->log.stats.failures);
    family(&b, "kpiwatch_kafka_changelog_bytes", "gauge",
           "Size of the latest changelog record of every series this agent owns (the compacted topic's share).");
    sample(&b, k, "kpiwatch_kafka_changelog_bytes", "", (double)k->log.stats.bytes);
    family(&b, "kpiwatch_kafka_rebalances_total", "counter", "Assignments and revocations seen.");
    sample(&b, k, "kpiwatch_kafka_rebalances_total", "", (double)k->rebalances);
    family(&b, "kpiwatch_kafka_restore_failures_total", "counter",
           "Partitions that started without their saved state (changelog unreadable).");
    sample(&b, k, "kpiwatch_kafka_restore_failures_total", "", (double)k->restore_failures);
    family(&b, "kpiwatch_kafka_commit_failures_total", "counter",
           "Checkpoints whose changelog write or offset commit failed (retried at the next one).");
    sample(&b, k, "kpiwatch_kafka_commit_failures_total", "", (double)k->commit_failures);
    return kw_strbuf_detach(&b, NULL);
}

void kw_kafka_stop(struct kw_kafka *k)
{
    if (!k)
        return;
    if (k->rk) {
        rd_kafka_consumer_close(k->rk); /* runs the revocation: last write and commit */
        if (k->queue)
            rd_kafka_queue_destroy(k->queue);
        rd_kafka_destroy(k->rk);
    }
    kw_changelog_release(&k->log);
    for (int i = 0; i < k->nown; i++)
        free(k->own[i].topic);
    free(k->own);
    if (k->wake[0] >= 0)
        close(k->wake[0]);
    if (k->wake[1] >= 0)
        close(k->wake[1]);
    free(k);
}
