/* history: bounded per-series rings behind the status page and the series API. */
#include "history.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "kpi.h"
#include "series.h"

#define RANK_ALPHA 0.1     /* smoothing of the anomaly score that ranks series */
#define ADMIT_MARGIN 0.2   /* a newcomer must score this much above the series it replaces */
#define KEEP_PER_KPI 3     /* a KPI keeps at least this many series against newcomers of other KPIs */
#define FLOOR_REFRESH 256  /* pushes between recomputations of the cheapest slot */

enum { CLASS_STALE = -1, CLASS_PLAIN = 0, CLASS_ANOMALOUS = 1, CLASS_FIRING = 2 };

struct entry {
    bool used;
    char key[17];
    uint64_t hkey;
    char kpi[KW_ALERT_LABEL_NAME];
    int kpi_index;
    struct kw_alert_label *labels; /* nlabels of them */
    int nlabels;
    int64_t interval_ms;
    int cap, head, n;              /* ring: points[(head + i) % cap], i < n, oldest first */
    struct kw_history_point *points;
    double score, rank;
    bool firing;
    int64_t last_ts_ms;
    int64_t last_anomalous_ms;     /* event time of the latest anomalous interval; INT64_MIN = none */
    int64_t touched_mono_ms;       /* wall time (monotonic) of the latest update */
};

struct kw_history {
    pthread_mutex_t lock;
    int max_series;
    int64_t window_ms;
    struct entry *entries;         /* [max_series] */
    int count;
    int32_t *index;                /* open addressing over entries: -1 empty */
    size_t index_cap;              /* power of two >= 2 * max_series */
    size_t bytes;
    /* writer-only (agent thread): the cheapest slot a plain newcomer could take */
    double floor_rank;
    int pushes_since_floor;
};

static uint64_t key_hash(const char key[17])
{
    uint64_t h = strtoull(key, NULL, 16);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

struct kw_history *kw_history_new(int max_series, int64_t window_ms)
{
    struct kw_history *h = xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    h->max_series = max_series > 0 ? max_series : 1;
    h->window_ms = window_ms > 0 ? window_ms : 86400000;
    h->entries = xcalloc((size_t)h->max_series, sizeof *h->entries);
    h->index_cap = 16;
    while (h->index_cap < 2 * (size_t)h->max_series)
        h->index_cap *= 2;
    h->index = xmalloc(h->index_cap * sizeof *h->index);
    for (size_t i = 0; i < h->index_cap; i++)
        h->index[i] = -1;
    h->floor_rank = -1;
    return h;
}

static void entry_clear(struct kw_history *h, struct entry *e)
{
    h->bytes -= (size_t)e->cap * sizeof *e->points + (size_t)e->nlabels * sizeof *e->labels;
    free(e->points);
    free(e->labels);
    memset(e, 0, sizeof *e);
}

void kw_history_free(struct kw_history *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->max_series; i++)
        if (h->entries[i].used)
            entry_clear(h, &h->entries[i]);
    free(h->entries);
    free(h->index);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static int find(const struct kw_history *h, uint64_t hk, const char *key)
{
    size_t mask = h->index_cap - 1;
    for (size_t i = hk & mask;; i = (i + 1) & mask) {
        int32_t e = h->index[i];
        if (e < 0)
            return -1;
        if (h->entries[e].hkey == hk && memcmp(h->entries[e].key, key, 16) == 0)
            return e;
    }
}

static void index_insert(struct kw_history *h, int e)
{
    size_t mask = h->index_cap - 1;
    size_t i = h->entries[e].hkey & mask;
    while (h->index[i] >= 0)
        i = (i + 1) & mask;
    h->index[i] = e;
}

/* Backward-shift deletion, as in the series table: no tombstones. */
static void index_remove(struct kw_history *h, int e)
{
    size_t mask = h->index_cap - 1;
    size_t i = h->entries[e].hkey & mask;
    while (h->index[i] != e) {
        if (h->index[i] < 0)
            return;
        i = (i + 1) & mask;
    }
    size_t hole = i;
    for (size_t j = (i + 1) & mask; h->index[j] >= 0; j = (j + 1) & mask) {
        size_t home = h->entries[h->index[j]].hkey & mask;
        bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            h->index[hole] = h->index[j];
            hole = j;
        }
    }
    h->index[hole] = -1;
}

static int entry_class(const struct kw_history *h, const struct entry *e, int64_t mono)
{
    if (mono - e->touched_mono_ms > h->window_ms)
        return CLASS_STALE;
    if (e->firing)
        return CLASS_FIRING;
    if (e->last_anomalous_ms != INT64_MIN && e->last_ts_ms - e->last_anomalous_ms <= h->window_ms)
        return CLASS_ANOMALOUS;
    return CLASS_PLAIN;
}

/* The slot a newcomer of class cls (with score) may take, or -1. */
static int pick_victim(struct kw_history *h, int cls, double score, int kpi_index, int64_t mono)
{
    /* Series per KPI index, so no KPI is emptied by another's newcomers. */
    int maxk = kpi_index;
    for (int i = 0; i < h->max_series; i++)
        if (h->entries[i].used && h->entries[i].kpi_index > maxk)
            maxk = h->entries[i].kpi_index;
    int *per_kpi = xcalloc((size_t)maxk + 2, sizeof *per_kpi);
    for (int i = 0; i < h->max_series; i++)
        if (h->entries[i].used && h->entries[i].kpi_index >= 0)
            per_kpi[h->entries[i].kpi_index]++;
    int best = -1, best_cls = 0;
    double best_rank = 0;
    for (int i = 0; i < h->max_series; i++) {
        const struct entry *e = &h->entries[i];
        int c = entry_class(h, e, mono);
        bool protected_kpi = c >= CLASS_PLAIN && e->kpi_index != kpi_index && e->kpi_index >= 0 &&
                             per_kpi[e->kpi_index] <= KEEP_PER_KPI;
        if (protected_kpi)
            continue;
        if (best < 0 || c < best_cls || (c == best_cls && e->rank < best_rank)) {
            best = i;
            best_cls = c;
            best_rank = e->rank;
        }
    }
    free(per_kpi);
    if (best < 0)
        return -1;
    if (best_cls == CLASS_STALE || best_cls < cls)
        return best;
    if (cls == CLASS_PLAIN && best_cls == CLASS_PLAIN && score > best_rank + ADMIT_MARGIN)
        return best;
    return -1;
}

/* The lowest smoothed rank among plain series: a plain newcomer scoring no
 * more than this plus the margin cannot earn a slot, with no scan. */
static void refresh_floor(struct kw_history *h, int64_t mono)
{
    h->floor_rank = 2;
    for (int i = 0; i < h->max_series; i++) {
        const struct entry *e = &h->entries[i];
        int c = entry_class(h, e, mono);
        if (c == CLASS_STALE) {
            h->floor_rank = -1;
            break;
        }
        if (c == CLASS_PLAIN && e->rank < h->floor_rank)
            h->floor_rank = e->rank;
    }
    h->pushes_since_floor = 0;
}

static int ring_points(const struct kw_kpi_config *kpi, int64_t interval_ms, int64_t window_ms)
{
    int64_t iv = interval_ms > 0 ? interval_ms : kpi->native_spacing_ms;
    int64_t n = iv > 0 ? (window_ms + iv - 1) / iv : KW_HISTORY_MAX_POINTS;
    return (int)(n < 2 ? 2 : n > KW_HISTORY_MAX_POINTS ? KW_HISTORY_MAX_POINTS : n);
}

static void ring_push(struct entry *e, const struct kw_history_point *pt)
{
    if (e->n < e->cap) {
        e->points[(e->head + e->n) % e->cap] = *pt;
        e->n++;
    } else {
        e->points[e->head] = *pt;
        e->head = (e->head + 1) % e->cap;
    }
}

/* Set up slot i for series s (lock held). The series' own sparkline gives
 * the observed values of the intervals before this one. */
static void admit(struct kw_history *h, int i, const struct kw_series *s, const struct kw_kpi_config *kpi,
                  const struct kw_sample *sample)
{
    struct entry *e = &h->entries[i];
    e->used = true;
    memcpy(e->key, s->alert_key, 17);
    e->hkey = key_hash(e->key);
    snprintf(e->kpi, sizeof e->kpi, "%s", kpi->name);
    e->kpi_index = s->kpi;
    e->nlabels = kpi->group_by.n < KW_ALERT_MAX_LABELS ? kpi->group_by.n : KW_ALERT_MAX_LABELS;
    e->labels = xcalloc((size_t)(e->nlabels ? e->nlabels : 1), sizeof *e->labels);
    const char *v = s->values;
    for (int l = 0; l < e->nlabels; l++, v = kw_series_next_value(v)) {
        snprintf(e->labels[l].name, sizeof e->labels[l].name, "%s", kpi->group_by.items[l]);
        snprintf(e->labels[l].value, sizeof e->labels[l].value, "%s", v);
    }
    e->interval_ms = s->info.interval_ms;
    e->cap = ring_points(kpi, kpi->interval_ms, h->window_ms);
    e->points = xmalloc((size_t)e->cap * sizeof *e->points);
    e->head = e->n = 0;
    e->last_anomalous_ms = INT64_MIN;
    e->rank = 0;
    h->bytes += (size_t)e->cap * sizeof *e->points + (size_t)e->nlabels * sizeof *e->labels;
    index_insert(h, i);
    h->count++;
    /* history[] ends with the latest closed interval, the one before
     * open_start; verdicts may be decided later than that (fdr.h), so
     * only the values before this interval are taken. */
    if (kpi->interval_ms > 0 && s->open_start != INT64_MIN) {
        int start = (s->history_pos - s->history_len + KW_ALERT_HISTORY) % KW_ALERT_HISTORY;
        int64_t newest = s->open_start - kpi->interval_ms;
        for (int k = 0; k < s->history_len; k++) {
            int64_t ts = newest - (int64_t)(s->history_len - 1 - k) * kpi->interval_ms;
            if (ts >= sample->ts_ms)
                break;
            struct kw_history_point pt = {.ts_ms = ts, .observed = s->history[(start + k) % KW_ALERT_HISTORY],
                                          .expected = NAN, .lower = NAN, .upper = NAN};
            ring_push(e, &pt);
        }
    }
}

void kw_history_sink(void *ctx, const struct kw_series *s, const struct kw_kpi_config *kpi,
                     const struct kw_sample *sample, const struct kw_verdict *v)
{
    struct kw_history *h = ctx;
    bool firing = s->alert.phase == KW_PHASE_FIRING;
    bool anomalous = v->ready && v->anomalous;
    double score = v->ready && isfinite(v->anomaly_score) ? v->anomaly_score : 0;
    int cls = firing ? CLASS_FIRING : anomalous ? CLASS_ANOMALOUS : CLASS_PLAIN;
    uint64_t hk = key_hash(s->alert_key);
    int64_t mono = kw_mono_ms();
    /* The writer is the only thread that changes the index: it may probe without the lock. */
    int i = find(h, hk, s->alert_key);
    if (i < 0) {
        int slot = -1;
        if (h->count < h->max_series) {
            for (slot = 0; h->entries[slot].used; slot++)
                ;
        } else {
            if (++h->pushes_since_floor >= FLOOR_REFRESH || h->floor_rank < 0)
                refresh_floor(h, mono);
            if (cls == CLASS_PLAIN && score <= h->floor_rank + ADMIT_MARGIN)
                return;
            slot = pick_victim(h, cls, score, s->kpi, mono);
            if (slot < 0)
                return;
        }
        pthread_mutex_lock(&h->lock);
        if (h->entries[slot].used) {
            index_remove(h, slot);
            entry_clear(h, &h->entries[slot]);
            h->count--;
        }
        admit(h, slot, s, kpi, sample);
        i = slot;
        h->entries[i].rank = score;
        h->floor_rank = -1; /* the set changed */
    } else {
        pthread_mutex_lock(&h->lock);
    }
    struct entry *e = &h->entries[i];
    if (e->interval_ms != s->info.interval_ms) { /* the KPI's interval changed on reload */
        e->interval_ms = s->info.interval_ms;
        e->head = e->n = 0;
    }
    struct kw_history_point pt = {.ts_ms = sample->ts_ms, .observed = sample->value,
                                  .expected = v->ready ? v->expected : NAN,
                                  .lower = v->ready ? v->lower : NAN, .upper = v->ready ? v->upper : NAN,
                                  .score = (float)score,
                                  .flags = (uint8_t)((v->ready ? KW_HP_READY : 0) | (anomalous ? KW_HP_ANOMALOUS : 0) |
                                                     (firing ? KW_HP_FIRING : 0))};
    ring_push(e, &pt);
    e->score = score;
    e->rank = e->rank * (1 - RANK_ALPHA) + score * RANK_ALPHA;
    e->firing = firing;
    e->last_ts_ms = sample->ts_ms;
    if (anomalous)
        e->last_anomalous_ms = sample->ts_ms;
    e->touched_mono_ms = mono;
    e->kpi_index = s->kpi;
    pthread_mutex_unlock(&h->lock);
}

static void copy_entry(const struct kw_history *h, const struct entry *e, bool with_points,
                       struct kw_history_entry *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->key, e->key, sizeof out->key);
    snprintf(out->kpi, sizeof out->kpi, "%s", e->kpi);
    out->nlabels = e->nlabels;
    memcpy(out->labels, e->labels, (size_t)e->nlabels * sizeof *e->labels);
    out->interval_ms = e->interval_ms;
    out->score = e->score;
    out->rank = e->rank;
    out->firing = e->firing;
    out->last_ts_ms = e->last_ts_ms;
    if (!with_points)
        return;
    /* Only the window before the latest interval: a ring filled before a
     * long pause holds older points. */
    out->points = xmalloc((size_t)(e->n ? e->n : 1) * sizeof *out->points);
    for (int k = 0; k < e->n; k++) {
        const struct kw_history_point *p = &e->points[(e->head + k) % e->cap];
        if (p->ts_ms > e->last_ts_ms - h->window_ms)
            out->points[out->npoints++] = *p;
    }
}

static int compare_entries(const void *a, const void *b)
{
    const struct kw_history_entry *x = a, *y = b;
    if (x->firing != y->firing)
        return x->firing ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(x->key, y->key);
}

size_t kw_history_list(struct kw_history *h, const char *kpi, bool with_points, size_t limit,
                       struct kw_history_entry **out)
{
    *out = NULL;
    pthread_mutex_lock(&h->lock);
    /* Rank summaries first, then copy the points of the ones returned only. */
    struct kw_history_entry *all = xmalloc((size_t)(h->count ? h->count : 1) * sizeof *all);
    size_t n = 0;
    for (int i = 0; i < h->max_series; i++) {
        const struct entry *e = &h->entries[i];
        if (e->used && (!kpi || strcmp(e->kpi, kpi) == 0))
            copy_entry(h, e, false, &all[n++]);
    }
    qsort(all, n, sizeof *all, compare_entries);
    if (limit && n > limit)
        n = limit;
    if (with_points) {
        for (size_t k = 0; k < n; k++) {
            int i = find(h, key_hash(all[k].key), all[k].key);
            if (i >= 0)
                copy_entry(h, &h->entries[i], true, &all[k]);
        }
    }
    pthread_mutex_unlock(&h->lock);
    if (n == 0) {
        free(all);
        return 0;
    }
    *out = all;
    return n;
}

int kw_history_get(struct kw_history *h, const char *key, struct kw_history_entry *out)
{
    memset(out, 0, sizeof *out);
    if (strlen(key) != 16)
        return -1;
    pthread_mutex_lock(&h->lock);
    int i = find(h, key_hash(key), key);
    if (i >= 0)
        copy_entry(h, &h->entries[i], true, out);
    pthread_mutex_unlock(&h->lock);
    return i >= 0 ? 0 : -1;
}

void kw_history_entry_release(struct kw_history_entry *e)
{
    if (!e)
        return;
    free(e->points);
    e->points = NULL;
    e->npoints = 0;
}

void kw_history_entries_free(struct kw_history_entry *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++)
        kw_history_entry_release(&e[i]);
    free(e);
}

void kw_history_usage(struct kw_history *h, size_t *series, size_t *bytes)
{
    pthread_mutex_lock(&h->lock);
    *series = (size_t)h->count;
    *bytes = h->bytes;
    pthread_mutex_unlock(&h->lock);
}
