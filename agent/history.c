/* history: bounded per-series rings behind the status page and the series API. */
#include "history.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/escape.h"
#include "../lib/fileio.h"
#include "../lib/jsonnum.h"
#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "ingest.h"
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
    e->interval_ms = s->interval_ms;
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
        double past[KW_ALERT_HISTORY];
        int n = kw_series_history(s, past);
        int64_t newest = s->open_start - kpi->interval_ms;
        for (int k = 0; k < n; k++) {
            int64_t ts = newest - (int64_t)(n - 1 - k) * kpi->interval_ms;
            if (ts >= sample->ts_ms)
                break;
            struct kw_history_point pt = {.ts_ms = ts, .observed = past[k],
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
    if (e->interval_ms != s->interval_ms) { /* the KPI's interval changed on reload */
        e->interval_ms = s->interval_ms;
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

/* ---- the history file -------------------------------------------------------
 * {"version":1,"window_ms":N,"series":[{"key","kpi","labels":[[name,value]...],
 *  "interval_ms","score","rank","firing","last_ts_ms","last_anomalous_ms",
 *  "points":[[ts,observed,expected,lower,upper,score,flags]...]}...]}
 * Unknown values are null. The file may be damaged or edited, so nothing in
 * it is trusted: sizes are bounded before anything is allocated for them. */

#define FILE_VERSION 1
#define POINT_FIELDS 7
#define FILE_BYTES_PER_POINT 192   /* 7 numbers at %.17g, generously */
#define FILE_BYTES_PER_SERIES 4096 /* key, KPI, labels (escaped) */
#define TS_MAX 4.0e12              /* the year 2096, as for points and the state file */
#define INTERVAL_MAX 31622400000.0 /* a year */

int kw_history_save(struct kw_history *h, const char *path, char *err, size_t errlen)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", FILE_VERSION);
    cJSON_AddNumberToObject(root, "window_ms", (double)h->window_ms);
    cJSON *arr = cJSON_AddArrayToObject(root, "series");
    for (int i = 0; i < h->max_series; i++) {
        const struct entry *e = &h->entries[i];
        if (!e->used)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", e->key);
        cJSON_AddStringToObject(o, "kpi", e->kpi);
        cJSON *labels = cJSON_AddArrayToObject(o, "labels");
        for (int l = 0; l < e->nlabels; l++) {
            const char *pair[] = {e->labels[l].name, e->labels[l].value};
            cJSON_AddItemToArray(labels, cJSON_CreateStringArray(pair, 2));
        }
        cJSON_AddNumberToObject(o, "interval_ms", (double)e->interval_ms);
        cJSON_AddItemToObject(o, "score", kw_json_number(e->score));
        cJSON_AddItemToObject(o, "rank", kw_json_number(e->rank));
        cJSON_AddBoolToObject(o, "firing", e->firing);
        cJSON_AddNumberToObject(o, "last_ts_ms", (double)e->last_ts_ms);
        cJSON_AddItemToObject(o, "last_anomalous_ms", e->last_anomalous_ms == INT64_MIN
                                                          ? cJSON_CreateNull()
                                                          : cJSON_CreateNumber((double)e->last_anomalous_ms));
        /* Ascending from the newest back: after the clock went back (a replay
         * of older data), the points of the abandoned future are left out. */
        int first = e->n;
        for (int64_t next = INT64_MAX; first > 0; first--) {
            int64_t ts = e->points[(e->head + first - 1) % e->cap].ts_ms;
            if (ts >= next)
                break;
            next = ts;
        }
        cJSON *points = cJSON_AddArrayToObject(o, "points");
        for (int k = first; k < e->n; k++) {
            const struct kw_history_point *p = &e->points[(e->head + k) % e->cap];
            double f[POINT_FIELDS] = {(double)p->ts_ms, p->observed, p->expected, p->lower, p->upper, p->score,
                                      p->flags};
            cJSON_AddItemToArray(points, kw_json_doubles(f, POINT_FIELDS));
        }
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    int rc = kw_write_file_atomic(path, text, strlen(text), err, errlen);
    free(text);
    return rc;
}

static bool ts_ok(double v)
{
    return isfinite(v) && v >= 0 && v <= TS_MAX && v == floor(v);
}

static bool unit_ok(const cJSON *item, double *out)
{
    return kw_json_get_double(item, out) == 0 && *out >= 0 && *out <= 1;
}

/* A value of a point: finite, or null (NAN) for unknown. */
static bool value_ok(double v)
{
    return isnan(v) || isfinite(v);
}

/* Check one saved series and, when it holds up, take a free slot for it (lock
 * held only to publish it). Returns NULL, or why it was skipped. */
static const char *load_entry(struct kw_history *h, const struct kw_kpi_config *kpis, int nkpis, const cJSON *o,
                              int64_t mono)
{
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "key");
    const cJSON *kname = cJSON_GetObjectItemCaseSensitive(o, "kpi");
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(o, "labels");
    if (!cJSON_IsString(key) || strlen(key->valuestring) != 16 ||
        strspn(key->valuestring, "0123456789abcdef") != 16 || !cJSON_IsString(kname) || !cJSON_IsArray(labels))
        return "no key, KPI name or labels";
    int k = 0;
    while (k < nkpis && strcmp(kpis[k].name, kname->valuestring) != 0)
        k++;
    if (k == nkpis)
        return "its KPI is no longer configured";
    const struct kw_kpi_config *kpi = &kpis[k];
    int nlabels = cJSON_GetArraySize(labels);
    if (nlabels != kpi->group_by.n || nlabels > KW_ALERT_MAX_LABELS)
        return "its KPI's group_by changed";
    const char *names[KW_ALERT_MAX_LABELS], *values[KW_ALERT_MAX_LABELS];
    int l = 0;
    const cJSON *pair;
    cJSON_ArrayForEach(pair, labels) {
        const cJSON *n = cJSON_GetArrayItem(pair, 0), *v = cJSON_GetArrayItem(pair, 1);
        if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsString(n) || !cJSON_IsString(v) ||
            strcmp(n->valuestring, kpi->group_by.items[l]) != 0 || strlen(v->valuestring) >= KW_ALERT_LABEL_VALUE ||
            !kw_utf8_valid(v->valuestring, strlen(v->valuestring)))
            return "a label is not valid or not in its KPI's group_by";
        names[l] = n->valuestring;
        values[l++] = v->valuestring;
    }
    char want[17];
    kw_series_alert_key(kpi->name, names, values, nlabels, want);
    if (strcmp(want, key->valuestring) != 0)
        return "its labels do not give its key";
    uint64_t hk = key_hash(want);
    if (find(h, hk, want) >= 0)
        return "it appears twice";
    if (h->count >= h->max_series)
        return "http.history_series is reached";

    double interval, score, rank, last_ts, last_anom = NAN;
    const cJSON *firing = cJSON_GetObjectItemCaseSensitive(o, "firing");
    const cJSON *anom = cJSON_GetObjectItemCaseSensitive(o, "last_anomalous_ms");
    if (kw_json_get_double(cJSON_GetObjectItemCaseSensitive(o, "interval_ms"), &interval) != 0 || interval < 0 ||
        interval > INTERVAL_MAX || interval != floor(interval) ||
        !unit_ok(cJSON_GetObjectItemCaseSensitive(o, "score"), &score) ||
        !unit_ok(cJSON_GetObjectItemCaseSensitive(o, "rank"), &rank) || !cJSON_IsBool(firing) ||
        kw_json_get_double(cJSON_GetObjectItemCaseSensitive(o, "last_ts_ms"), &last_ts) != 0 || !ts_ok(last_ts) ||
        !(cJSON_IsNull(anom) || (kw_json_get_double(anom, &last_anom) == 0 && ts_ok(last_anom))))
        return "its interval, scores or times are out of range";
    if (kpi->interval_ms > 0 && (int64_t)interval != kpi->interval_ms)
        return "its KPI's interval changed";

    const cJSON *points = cJSON_GetObjectItemCaseSensitive(o, "points");
    int npoints = cJSON_GetArraySize(points);
    if (!cJSON_IsArray(points) || npoints > KW_HISTORY_MAX_POINTS)
        return "its points are missing or too many";
    int cap = ring_points(kpi, kpi->interval_ms, h->window_ms);
    struct kw_history_point *ring = xmalloc((size_t)cap * sizeof *ring);
    int n = 0, skip = npoints > cap ? npoints - cap : 0; /* the newest that fit */
    double prev_ts = -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, points) {
        double f[POINT_FIELDS];
        if (kw_json_read_doubles(item, f, POINT_FIELDS) != 0 || !ts_ok(f[0]) || f[0] <= prev_ts || f[0] > last_ts ||
            !value_ok(f[1]) || !value_ok(f[2]) || !value_ok(f[3]) || !value_ok(f[4]) || !(f[5] >= 0 && f[5] <= 1) ||
            !(f[6] >= 0 && f[6] <= (KW_HP_READY | KW_HP_ANOMALOUS | KW_HP_FIRING)) || f[6] != floor(f[6])) {
            free(ring);
            return "a point is out of range or out of order";
        }
        prev_ts = f[0];
        if (skip > 0) {
            skip--;
            continue;
        }
        ring[n++] = (struct kw_history_point){.ts_ms = (int64_t)f[0], .observed = f[1], .expected = f[2],
                                              .lower = f[3], .upper = f[4], .score = (float)f[5],
                                              .flags = (uint8_t)f[6]};
    }
    int slot = 0;
    while (h->entries[slot].used)
        slot++;
    pthread_mutex_lock(&h->lock);
    struct entry *e = &h->entries[slot];
    e->used = true;
    memcpy(e->key, want, sizeof e->key);
    e->hkey = hk;
    snprintf(e->kpi, sizeof e->kpi, "%s", kpi->name);
    e->kpi_index = k;
    e->nlabels = nlabels;
    e->labels = xcalloc((size_t)(nlabels ? nlabels : 1), sizeof *e->labels);
    for (l = 0; l < nlabels; l++) {
        snprintf(e->labels[l].name, sizeof e->labels[l].name, "%s", names[l]);
        snprintf(e->labels[l].value, sizeof e->labels[l].value, "%s", values[l]);
    }
    e->interval_ms = (int64_t)interval;
    e->cap = cap;
    e->points = ring;
    e->head = 0;
    e->n = n;
    e->score = score;
    e->rank = rank;
    e->firing = cJSON_IsTrue(firing);
    e->last_ts_ms = (int64_t)last_ts;
    e->last_anomalous_ms = isnan(last_anom) ? INT64_MIN : (int64_t)last_anom;
    e->touched_mono_ms = mono; /* a window to be updated again before it counts as stale */
    h->bytes += (size_t)cap * sizeof *ring + (size_t)nlabels * sizeof *e->labels;
    index_insert(h, slot);
    h->count++;
    h->floor_rank = -1;
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

int kw_history_load(struct kw_history *h, const struct kw_kpi_config *kpis, int nkpis, const char *path, char *err,
                    size_t errlen)
{
    size_t len;
    size_t max = (size_t)h->max_series * (KW_HISTORY_MAX_POINTS * FILE_BYTES_PER_POINT + FILE_BYTES_PER_SERIES);
    char *text = kw_read_file(path, max, &len, err, errlen);
    if (!text)
        return err[0] ? -1 : 0;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *version = root ? cJSON_GetObjectItemCaseSensitive(root, "version") : NULL;
    const cJSON *arr = root ? cJSON_GetObjectItemCaseSensitive(root, "series") : NULL;
    if (!cJSON_IsNumber(version) || version->valuedouble != FILE_VERSION || !cJSON_IsArray(arr)) {
        snprintf(err, errlen, "%s: not a kpiwatch history file", path);
        cJSON_Delete(root);
        return -1;
    }
    int64_t mono = kw_mono_ms();
    int loaded = 0, skipped = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        const char *why = load_entry(h, kpis, nkpis, o, mono);
        if (!why) {
            loaded++;
            continue;
        }
        if (++skipped <= 5) { /* the first few say why; the rest are counted */
            const cJSON *kname = cJSON_GetObjectItemCaseSensitive(o, "kpi");
            char shown[96];
            kw_warn("history", "skipping a series of %s: %s",
                    cJSON_IsString(kname) ? kw_escape(shown, sizeof shown, kname->valuestring, 60) : "?", why);
        }
    }
    if (skipped)
        kw_warn("history", "%d series in %s were skipped; their charts start fresh", skipped, path);
    cJSON_Delete(root);
    return loaded;
}
