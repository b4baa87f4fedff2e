/* changelog: series state records in a compacted Kafka topic. */
#include "changelog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../lib/hash.h"
#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "statestore.h"

static uint64_t digest(const char *s, size_t len)
{
    return kw_fnv1a(KW_FNV_OFFSET, s, len);
}

/* A series id as a number (0 when key is not 16 hex digits). */
static uint64_t key_id(const char *key, size_t keylen)
{
    if (keylen != KW_CHANGELOG_KEY - 1)
        return 0;
    uint64_t id = 0;
    for (size_t i = 0; i < keylen; i++) {
        char ch = key[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0)
            return 0;
        id = id << 4 | (uint64_t)d;
    }
    return id ? id : 1; /* 0 marks an empty slot */
}

void kw_changelog_encode(const struct kw_pipeline *p, const struct kw_series *s, char key[KW_CHANGELOG_KEY],
                         char **value, size_t *len)
{
    memcpy(key, s->alert_key, KW_CHANGELOG_KEY);
    cJSON *o = kw_state_series_json(p, s);
    *value = cJSON_PrintUnformatted(o);
    *len = strlen(*value);
    cJSON_Delete(o);
}

const char *kw_changelog_decode(struct kw_pipeline *p, const char *key, size_t keylen, const char *value, size_t len,
                                int partition)
{
    if (!key_id(key, keylen))
        return "its key is not a series id";
    cJSON *o = cJSON_ParseWithLength(value, len);
    if (!o)
        return "its value is not JSON";
    struct kw_series *s;
    const char *why = kw_state_series_restore(p, o, &s);
    cJSON_Delete(o);
    if (why)
        return why;
    if (memcmp(s->alert_key, key, keylen) != 0) {
        kw_pipeline_drop(p, s);
        return "its key is not the id of the series it holds";
    }
    s->partition = partition;
    return NULL;
}

int kw_changelog_fold_put(struct kw_changelog_fold *f, const char *key, size_t keylen, const char *value, size_t len)
{
    if (!key_id(key, keylen))
        return -1;
    size_t i = 0;
    while (i < f->n && memcmp(f->keys[i], key, keylen) != 0)
        i++;
    if (i == f->n) {
        if (f->n == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 64;
            f->keys = xrealloc(f->keys, f->cap * sizeof *f->keys);
            f->values = xrealloc(f->values, f->cap * sizeof *f->values);
            f->lens = xrealloc(f->lens, f->cap * sizeof *f->lens);
        }
        memcpy(f->keys[i], key, keylen);
        f->keys[i][keylen] = '\0';
        f->values[i] = NULL;
        f->n++;
    }
    free(f->values[i]);
    f->values[i] = NULL;
    f->lens[i] = 0;
    if (value) {
        f->values[i] = xmalloc(len + 1);
        memcpy(f->values[i], value, len);
        f->values[i][len] = '\0';
        f->lens[i] = len;
    }
    return 0;
}

void kw_changelog_fold_release(struct kw_changelog_fold *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->values[i]);
    free(f->keys);
    free(f->values);
    free(f->lens);
    memset(f, 0, sizeof *f);
}

/* ---- what was written: open addressing keyed by series id ---- */

static struct kw_changelog_entry *entry_find(const struct kw_changelog *c, uint64_t id)
{
    if (!c->cap)
        return NULL;
    for (size_t i = id & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
        struct kw_changelog_entry *e = &c->slots[i];
        if (!e->id)
            return NULL;
        if (e->id == id && !e->deleted)
            return e;
    }
}

static void entry_grow(struct kw_changelog *c)
{
    size_t old_cap = c->cap;
    struct kw_changelog_entry *old = c->slots;
    c->cap = old_cap ? old_cap * 2 : 1024;
    c->slots = xcalloc(c->cap, sizeof *c->slots);
    c->used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].id || old[i].deleted)
            continue;
        size_t j = old[i].id & (c->cap - 1);
        while (c->slots[j].id)
            j = (j + 1) & (c->cap - 1);
        c->slots[j] = old[i];
        c->used++;
    }
    free(old);
}

/* A new entry for id (not present). */
static struct kw_changelog_entry *entry_add(struct kw_changelog *c, uint64_t id)
{
    if ((c->used + 1) * 2 > c->cap)
        entry_grow(c);
    size_t i = id & (c->cap - 1);
    while (c->slots[i].id && !c->slots[i].deleted)
        i = (i + 1) & (c->cap - 1);
    if (!c->slots[i].id)
        c->used++;
    c->slots[i] = (struct kw_changelog_entry){.id = id};
    return &c->slots[i];
}

static void entry_delete(struct kw_changelog *c, struct kw_changelog_entry *e)
{
    c->stats.bytes -= e->bytes;
    e->deleted = true;
    e->bytes = 0;
}

void kw_changelog_forget(struct kw_changelog *c, int32_t partition)
{
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].id && !c->slots[i].deleted && c->slots[i].partition == partition)
            entry_delete(c, &c->slots[i]);
}

/* ---- Kafka ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct kw_changelog *c = opaque;
    if (m->err) {
        c->stats.failures++;
        c->pending_failures++;
        kw_warn("changelog", "%s [%d]: a record was not written: %s", c->topic, (int)m->partition,
                rd_kafka_err2str(m->err));
    } else if (m->payload) {
        c->stats.records++;
    } else {
        c->stats.tombstones++;
    }
}

/* The input's properties are set on all three clients; a consumer setting
 * on this producer (or the reverse) is expected, not worth a warning. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (strcmp(fac, "CONFWARN") == 0)
        return;
    kw_log(level <= 3 ? KW_LOG_ERROR : level == 4 ? KW_LOG_WARN : level <= 6 ? KW_LOG_INFO : KW_LOG_DEBUG, "kafka",
           "%s: %s", fac, buf);
}

int kw_changelog_init(struct kw_changelog *c, const char *topic, const char *reader_group, const rd_kafka_conf_t *conf,
                      char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->topic = xstrdup(topic);
    char kerr[512];
    rd_kafka_conf_t *pc = rd_kafka_conf_dup(conf);
    rd_kafka_conf_set_opaque(pc, c);
    rd_kafka_conf_set_log_cb(pc, on_log);
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    /* Retries keep the order of a key's records (idempotence), so the
     * last record of a key is always the newest state. */
    if (rd_kafka_conf_set(pc, "enable.idempotence", "true", kerr, sizeof kerr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(pc, "linger.ms", "5", kerr, sizeof kerr) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "changelog producer: %s", kerr);
        rd_kafka_conf_destroy(pc);
        return -1;
    }
    c->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, kerr, sizeof kerr);
    if (!c->producer) {
        snprintf(err, errlen, "changelog producer: %s", kerr);
        rd_kafka_conf_destroy(pc);
        return -1;
    }
    rd_kafka_conf_t *rc = rd_kafka_conf_dup(conf);
    rd_kafka_conf_set_rebalance_cb(rc, NULL);
    rd_kafka_conf_set_log_cb(rc, on_log);
    if (rd_kafka_conf_set(rc, "group.id", reader_group, kerr, sizeof kerr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(rc, "enable.partition.eof", "true", kerr, sizeof kerr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(rc, "enable.auto.commit", "false", kerr, sizeof kerr) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "changelog reader: %s", kerr);
        rd_kafka_conf_destroy(rc);
        return -1;
    }
    c->reader = rd_kafka_new(RD_KAFKA_CONSUMER, rc, kerr, sizeof kerr);
    if (!c->reader) {
        snprintf(err, errlen, "changelog reader: %s", kerr);
        rd_kafka_conf_destroy(rc);
        return -1;
    }
    return 0;
}

void kw_changelog_release(struct kw_changelog *c)
{
    if (c->producer) {
        rd_kafka_flush(c->producer, 10000);
        rd_kafka_destroy(c->producer);
    }
    if (c->reader) {
        rd_kafka_consumer_close(c->reader);
        rd_kafka_destroy(c->reader);
    }
    free(c->slots);
    free(c->topic);
    memset(c, 0, sizeof *c);
}

int kw_changelog_restore(struct kw_changelog *c, struct kw_pipeline *p, int32_t partition, int timeout_ms, char *err,
                         size_t errlen)
{
    int64_t lo = 0, hi = 0, deadline = kw_mono_ms() + timeout_ms;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(c->reader, c->topic, partition, &lo, &hi, timeout_ms);
    if (e) {
        snprintf(err, errlen, "changelog %s [%d]: %s", c->topic, (int)partition, rd_kafka_err2str(e));
        return -1;
    }
    struct kw_changelog_fold fold = {0};
    bool complete = hi <= lo;
    if (!complete) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, c->topic, partition)->offset = lo;
        rd_kafka_assign(c->reader, list);
        rd_kafka_topic_partition_list_destroy(list);
        while (!complete && kw_mono_ms() < deadline) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c->reader, 100);
            if (!m)
                continue;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                complete = m->offset >= hi;
            } else if (m->err) {
                kw_warn("changelog", "%s [%d]: %s", c->topic, (int)partition, rd_kafka_message_errstr(m));
            } else if (m->partition == partition) {
                kw_changelog_fold_put(&fold, m->key, m->key_len, m->payload, m->len);
                complete = m->offset >= hi - 1;
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_assign(c->reader, NULL);
    }
    if (!complete) {
        snprintf(err, errlen, "changelog %s [%d]: not read to its end (offset %lld) within %d ms", c->topic,
                 (int)partition, (long long)hi, timeout_ms);
        kw_changelog_fold_release(&fold);
        return -1;
    }
    int restored = 0, skipped = 0;
    for (size_t i = 0; i < fold.n; i++) {
        if (!fold.values[i])
            continue;
        const char *why = kw_changelog_decode(p, fold.keys[i], KW_CHANGELOG_KEY - 1, fold.values[i], fold.lens[i],
                                              partition);
        if (why) {
            if (++skipped <= 5)
                kw_warn("changelog", "%s [%d]: skipping series %s: %s", c->topic, (int)partition, fold.keys[i], why);
            continue;
        }
        restored++;
        uint64_t id = key_id(fold.keys[i], KW_CHANGELOG_KEY - 1);
        struct kw_changelog_entry *en = entry_find(c, id);
        if (!en)
            en = entry_add(c, id);
        else
            c->stats.bytes -= en->bytes;
        en->digest = digest(fold.values[i], fold.lens[i]);
        en->bytes = (uint32_t)fold.lens[i];
        en->partition = partition;
        c->stats.bytes += en->bytes;
    }
    kw_changelog_fold_release(&fold);
    c->stats.restored += (uint64_t)restored;
    return restored;
}

/* Queue one record (value NULL = tombstone), waiting for room when the
 * producer's queue is full. */
static void produce(struct kw_changelog *c, int32_t partition, const char *key, const char *value, size_t len)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            c->producer, RD_KAFKA_V_TOPIC(c->topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, KW_CHANGELOG_KEY - 1), RD_KAFKA_V_VALUE((void *)value, value ? len : 0),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (e) {
                c->stats.failures++;
                c->pending_failures++;
                kw_warn("changelog", "%s [%d]: %s", c->topic, (int)partition, rd_kafka_err2str(e));
            }
            return;
        }
        rd_kafka_poll(c->producer, 100);
    }
}

static bool in_set(const int32_t *set, int n, int32_t v)
{
    for (int i = 0; i < n; i++)
        if (set[i] == v)
            return true;
    return false;
}

int kw_changelog_write(struct kw_changelog *c, const struct kw_pipeline *p, const int32_t *partitions, int n,
                       int timeout_ms, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->cap; i++)
        c->slots[i].seen = false;
    c->pending_failures = 0;
    for (size_t i = 0; i < p->table.cap; i++) {
        const struct kw_series *s = p->table.slots[i];
        if (!s || s->partition < 0 || !in_set(partitions, n, s->partition))
            continue;
        char key[KW_CHANGELOG_KEY], *value;
        size_t len;
        kw_changelog_encode(p, s, key, &value, &len);
        uint64_t id = key_id(key, KW_CHANGELOG_KEY - 1), d = digest(value, len);
        struct kw_changelog_entry *e = entry_find(c, id);
        if (e && e->partition != s->partition) { /* its producer re-keyed it: the old record goes */
            produce(c, e->partition, key, NULL, 0);
            entry_delete(c, e);
            e = NULL;
        }
        if (!e)
            e = entry_add(c, id);
        if (e->digest != d || e->bytes == 0) {
            produce(c, s->partition, key, value, len);
            c->stats.bytes += len - e->bytes;
            e->digest = d;
            e->bytes = (uint32_t)len;
            e->partition = s->partition;
        }
        e->seen = true;
        free(value);
    }
    /* Series of these partitions that are gone (expired): tombstones. */
    for (size_t i = 0; i < c->cap; i++) {
        struct kw_changelog_entry *e = &c->slots[i];
        if (!e->id || e->deleted || e->seen || !in_set(partitions, n, e->partition))
            continue;
        char key[KW_CHANGELOG_KEY];
        snprintf(key, sizeof key, "%016llx", (unsigned long long)e->id);
        produce(c, e->partition, key, NULL, 0);
        entry_delete(c, e);
    }
    rd_kafka_flush(c->producer, timeout_ms);
    int left = rd_kafka_outq_len(c->producer);
    if (left > 0 || c->pending_failures) {
        snprintf(err, errlen, "changelog %s: %d records not acknowledged, %llu failed", c->topic, left,
                 (unsigned long long)c->pending_failures);
        for (int i = 0; i < n; i++)
            kw_changelog_forget(c, partitions[i]);
        return -1;
    }
    return 0;
}
