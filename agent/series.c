/* series: series lifecycle and the open-addressing table. */
#include "series.h"

#include <math.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hash.h"
#include "../lib/heap.h"
#include "../lib/xmalloc.h"
#include "kpi.h"

uint64_t kw_series_hash(int kpi, const char *values, size_t len)
{
    uint64_t h = kw_fnv1a(KW_FNV_OFFSET, &kpi, sizeof kpi);
    return kw_hash_mix(kw_fnv1a(h, values, len));
}

void kw_series_table_init(struct kw_series_table *t)
{
    t->cap = 1024;
    t->count = 0;
    t->slots = xcalloc(t->cap, sizeof *t->slots);
    t->tags = xcalloc(t->cap, sizeof *t->tags);
}

static uint16_t tag_of(uint64_t hash)
{
    return (uint16_t)(hash >> 48); /* the slot index comes from the low bits */
}

void kw_series_table_release(struct kw_series_table *t, void (*free_series)(struct kw_series *, void *), void *ctx)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i] && free_series)
            free_series(t->slots[i], ctx);
    free(t->slots);
    free(t->tags);
    memset(t, 0, sizeof *t);
}

struct kw_series *kw_series_find(const struct kw_series_table *t, uint64_t hash, int kpi,
                                 const char *values, size_t len)
{
    size_t mask = t->cap - 1;
    uint16_t tag = tag_of(hash);
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        struct kw_series *s = t->slots[i];
        if (!s)
            return NULL;
        if (t->tags[i] == tag && s->hash == hash && s->kpi == kpi && s->values_len == len &&
            memcmp(s->values, values, len) == 0)
            return s;
    }
}

static void place(struct kw_series **slots, uint16_t *tags, size_t cap, struct kw_series *s)
{
    size_t mask = cap - 1;
    size_t i = s->hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = s;
    tags[i] = tag_of(s->hash);
}

void kw_series_insert(struct kw_series_table *t, struct kw_series *s)
{
    if ((t->count + 1) * 4 > t->cap * 3) { /* keep load under 75% */
        size_t ncap = t->cap * 2;
        struct kw_series **nslots = xcalloc(ncap, sizeof *nslots);
        uint16_t *ntags = xcalloc(ncap, sizeof *ntags);
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i])
                place(nslots, ntags, ncap, t->slots[i]);
        free(t->slots);
        free(t->tags);
        t->slots = nslots;
        t->tags = ntags;
        t->cap = ncap;
    }
    place(t->slots, t->tags, t->cap, s);
    t->count++;
}

void kw_series_remove(struct kw_series_table *t, struct kw_series *s)
{
    size_t mask = t->cap - 1;
    size_t i = s->hash & mask;
    while (t->slots[i] != s) {
        if (!t->slots[i])
            return;
        i = (i + 1) & mask;
    }
    /* Backward-shift deletion: move later entries of the run into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        size_t home = t->slots[j]->hash & mask;
        bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            t->slots[hole] = t->slots[j];
            t->tags[hole] = t->tags[j];
            hole = j;
        }
    }
    t->slots[hole] = NULL;
    t->count--;
}

void kw_series_alert_key(const char *kpi, const char *const *names, const char *const *values, int n,
                         char out[17])
{
    int order[KW_ALERT_MAX_LABELS];
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort: n is at most 8 */
        for (int j = i; j > 0 && strcmp(names[order[j - 1]], names[order[j]]) > 0; j--) {
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    uint64_t h = kw_fnv1a(KW_FNV_OFFSET, kpi, strlen(kpi) + 1);
    for (int i = 0; i < n; i++) {
        h = kw_fnv1a(h, names[order[i]], strlen(names[order[i]]) + 1);
        h = kw_fnv1a(h, values[order[i]], strlen(values[order[i]]) + 1);
    }
    /* "%016llx" by hand: a key is made for every new series */
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, h >>= 4)
        out[i] = hex[h & 15];
    out[16] = '\0';
}

struct kw_series *kw_series_new(const struct kw_kpi_config *kpi, int k, uint64_t hash, const char *values, size_t len,
                                int64_t interval_ms)
{
    /* One allocation: the record, its group_by values, then its ring of
     * open intervals (fewer allocator headers and cache lines per series). */
    int nbuckets = kpi->interval_ms ? (int)(kpi->lateness_ms / kpi->interval_ms) + 2 : 1;
    size_t ring_at = (offsetof(struct kw_series, values) + len + _Alignof(struct kw_bucket) - 1) &
                     ~(size_t)(_Alignof(struct kw_bucket) - 1);
    size_t bytes = ring_at + (size_t)nbuckets * sizeof(struct kw_bucket);
    struct kw_series *s = xcalloc(1, bytes > sizeof *s ? bytes : sizeof *s);
    s->hash = hash;
    s->kpi = k;
    memcpy(s->values, values, len);
    s->values_len = (uint16_t)len;
    s->open_start = INT64_MIN;
    s->last_point_ts = INT64_MIN;
    s->nbuckets = (uint16_t)nbuckets;
    struct kw_bucket *ring = kw_series_ring(s);
    for (int i = 0; i < s->nbuckets; i++)
        kw_bucket_reset(&ring[i], kpi->aggregation);
    s->interval_ms = kpi->interval_ms || interval_ms <= 0 ? kw_kpi_series_info(kpi).interval_ms : interval_ms;
    struct kw_series_info info = kw_series_info(s, kpi);
    kw_detector_state_init(&s->det, &kpi->detector, &info);
    s->last_denominator = NAN;
    s->due_pos = KW_HEAP_NONE;
    s->last_start = INT64_MIN;
    s->last_expected = NAN;
    s->alert.nodata_since = INT64_MIN;
    s->partition = -1;

    const char *names[KW_ALERT_MAX_LABELS], *vals[KW_ALERT_MAX_LABELS];
    const char *v = s->values;
    for (int i = 0; i < kpi->group_by.n; i++, v = kw_series_next_value(v)) {
        names[i] = kpi->group_by.items[i];
        vals[i] = v;
    }
    kw_series_alert_key(kpi->name, names, vals, kpi->group_by.n, s->alert_key);
    return s;
}

void kw_series_free(struct kw_series *s, const struct kw_kpi_config *kpi)
{
    if (!s)
        return;
    kw_detector_state_release(&s->det, &kpi->detector);
    struct kw_bucket *ring = kw_series_ring(s);
    for (int i = 0; i < s->nbuckets; i++)
        kw_bucket_release(&ring[i], kpi->aggregation);
    kw_alerting_release(&s->alert);
    free(s);
}

struct kw_series_info kw_series_info(const struct kw_series *s, const struct kw_kpi_config *kpi)
{
    struct kw_series_info info = kw_kpi_series_info(kpi);
    info.interval_ms = s->interval_ms;
    return info;
}

void kw_series_history_push(struct kw_series *s, double v)
{
    s->history[s->history_pos] = v;
    s->history_pos = (uint8_t)((s->history_pos + 1) % KW_ALERT_HISTORY);
    if (s->history_len < KW_ALERT_HISTORY)
        s->history_len++;
}

int kw_series_history(const struct kw_series *s, double out[KW_ALERT_HISTORY])
{
    int start = (s->history_pos - s->history_len + KW_ALERT_HISTORY) % KW_ALERT_HISTORY;
    for (int i = 0; i < s->history_len; i++)
        out[i] = s->history[(start + i) % KW_ALERT_HISTORY];
    return s->history_len;
}
