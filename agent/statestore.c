/* statestore: what the agent learned, on disk. */
#include "statestore.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/fileio.h"
#include "../lib/escape.h"
#include "../lib/jsonnum.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "fdr.h"
#include "ingest.h"

#define VALUES_MAX 2048 /* group_by values blob: 8 labels x 255 bytes fits */

cJSON *kw_state_series_json(const struct kw_pipeline *p, const struct kw_series *s)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kpi", kpi->name);
    cJSON *values = cJSON_AddArrayToObject(o, "values");
    const char *v = s->values;
    for (int i = 0; i < kpi->group_by.n; i++, v = kw_series_next_value(v))
        cJSON_AddItemToArray(values, cJSON_CreateString(v));
    cJSON_AddNumberToObject(o, "open_start", (double)s->open_start);
    cJSON_AddNumberToObject(o, "last_point_ts", (double)s->last_point_ts);
    cJSON *ring = cJSON_AddArrayToObject(o, "ring");
    const struct kw_bucket *buckets = kw_series_ring(s);
    for (int i = 0; i < s->nbuckets; i++) {
        double f[KW_BUCKET_FIELDS];
        kw_bucket_fields(&buckets[i], kpi->aggregation, f);
        cJSON_AddItemToArray(ring, kw_json_doubles(f, KW_BUCKET_FIELDS));
    }
    if (kpi->aggregation == KW_AGG_QUANTILE) {
        cJSON *samples = cJSON_AddArrayToObject(o, "samples");
        for (int i = 0; i < s->nbuckets; i++)
            cJSON_AddItemToArray(samples, kw_json_doubles(buckets[i].samples, buckets[i].nsamples));
    }
    cJSON_AddItemToObject(o, "history", kw_json_doubles(s->history, KW_ALERT_HISTORY));
    cJSON_AddNumberToObject(o, "history_pos", s->history_pos);
    cJSON_AddNumberToObject(o, "history_len", s->history_len);
    cJSON_AddItemToObject(o, "detector", kw_detector_state_save(&s->det, &kpi->detector));
    struct kw_alert_state alert;
    kw_alerting_get(&s->alert, &alert);
    cJSON_AddItemToObject(o, "alert", kw_alerting_save(&alert));
    if (s->partition >= 0)
        cJSON_AddNumberToObject(o, "partition", s->partition);
    return o;
}

/* Verdicts waiting for their interval's close point (fdr.h), so a restart
 * between a series closing an interval and the KPI deciding it loses
 * nothing: [kpi, series key, [ts, value, numerator, denominator,
 * detractors, ready, anomalous, direction, expected, lower, upper, score,
 * anomaly_score, severity, p_value, p_level]]. */
#define PENDING_FIELDS 16

static cJSON *pending_to_json(const struct kw_pipeline *p)
{
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; k < p->cfg->nkpis; k++) {
        const struct kw_fdr_batch *b = &p->fdr[k];
        for (size_t i = 0; i < b->n; i++) {
            const struct kw_fdr_entry *e = &b->e[i];
            const struct kw_sample *sm = &e->sample;
            const struct kw_verdict *v = &e->verdict;
            double f[PENDING_FIELDS] = {(double)sm->ts_ms, sm->value, sm->numerator, sm->denominator,
                                        sm->detractors, v->ready, v->anomalous, v->direction, v->expected,
                                        v->lower, v->upper, v->score, v->anomaly_score, v->severity,
                                        v->p_value, v->p_level};
            cJSON *item = cJSON_CreateArray();
            cJSON_AddItemToArray(item, cJSON_CreateString(p->cfg->kpis[k].name));
            cJSON_AddItemToArray(item, cJSON_CreateString(e->series->alert_key));
            cJSON_AddItemToArray(item, kw_json_doubles(f, PENDING_FIELDS));
            cJSON_AddItemToArray(arr, item);
        }
    }
    return arr;
}

static int cmp_series_key(const void *a, const void *b)
{
    const struct kw_series *x = *(struct kw_series *const *)a, *y = *(struct kw_series *const *)b;
    int c = x->kpi - y->kpi;
    return c ? c : strcmp(x->alert_key, y->alert_key);
}

static bool ts_ok(double v);

/* Queue the saved waiting verdicts again, for the series that were
 * restored. Returns how many were left out. */
static int pending_restore(struct kw_pipeline *p, const cJSON *arr)
{
    if (!cJSON_IsArray(arr))
        return 0;
    struct kw_series **by_key = xcalloc(p->table.count + 1, sizeof *by_key);
    size_t n = 0;
    for (size_t i = 0; i < p->table.cap; i++)
        if (p->table.slots[i])
            by_key[n++] = p->table.slots[i];
    qsort(by_key, n, sizeof *by_key, cmp_series_key);
    int skipped = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr) {
        const cJSON *kname = cJSON_GetArrayItem(item, 0), *key = cJSON_GetArrayItem(item, 1);
        double f[PENDING_FIELDS];
        int k = -1;
        for (int j = 0; cJSON_IsString(kname) && j < p->cfg->nkpis; j++)
            if (strcmp(p->cfg->kpis[j].name, kname->valuestring) == 0)
                k = j;
        struct kw_series probe = {.kpi = k}, *pp = &probe, **found = NULL;
        if (k >= 0 && cJSON_IsString(key) && strlen(key->valuestring) < sizeof probe.alert_key) {
            snprintf(probe.alert_key, sizeof probe.alert_key, "%s", key->valuestring);
            found = bsearch(&pp, by_key, n, sizeof *by_key, cmp_series_key);
        }
        /* a waiting verdict is for an interval the series has closed */
        if (!found || kw_json_read_doubles(cJSON_GetArrayItem(item, 2), f, PENDING_FIELDS) || !ts_ok(f[0]) ||
            (int64_t)f[0] >= (*found)->open_start || !(fabs(f[7]) <= 1) || isnan(f[5]) || isnan(f[6])) {
            skipped++;
            continue;
        }
        struct kw_sample sm = {.ts_ms = (int64_t)f[0], .value = f[1], .numerator = f[2], .denominator = f[3],
                               .detractors = f[4]};
        struct kw_verdict v = {.ready = f[5] != 0, .anomalous = f[6] != 0, .direction = (int)f[7], .expected = f[8],
                               .lower = f[9], .upper = f[10], .score = f[11], .anomaly_score = f[12],
                               .severity = f[13], .p_value = f[14], .p_level = f[15]};
        kw_fdr_push(&p->fdr[k], *found, &sm, &v);
    }
    free(by_key);
    return skipped;
}

int kw_state_save(const struct kw_pipeline *p, const char *path, char *err, size_t errlen)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON *arr = cJSON_AddArrayToObject(root, "series");
    for (size_t i = 0; i < p->table.cap; i++)
        if (p->table.slots[i])
            cJSON_AddItemToArray(arr, kw_state_series_json(p, p->table.slots[i]));
    cJSON_AddItemToObject(root, "pending", pending_to_json(p));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    int rc = kw_write_file_atomic(path, text, strlen(text), err, errlen);
    free(text);
    return rc;
}

/* What a state file may hold. It may have been edited or damaged, and a
 * restored number that is out of range could make the clock walk for ever
 * or reject every point as late: such a series is skipped, not trusted. */
#define TS_MIN 0.0
#define TS_MAX 4.0e12 /* the year 2096, as for points */

static bool ts_ok(double v)
{
    return isfinite(v) && v >= TS_MIN && v <= TS_MAX;
}

static bool count_ok(double v)
{
    return isfinite(v) && v >= 0 && v <= 4294967295.0 && v == floor(v);
}

/* open_start and last_point_ts: both unset, or plausible and consistent. */
static bool clock_ok(const struct kw_kpi_config *kpi, const struct kw_series *s, double open_start, double last)
{
    bool open_unset = open_start == (double)INT64_MIN, last_unset = last == (double)INT64_MIN;
    if ((!open_unset && !ts_ok(open_start)) || (!last_unset && !ts_ok(last)))
        return false;
    if (kpi->interval_ms == 0 || open_unset || last_unset)
        return open_unset == last_unset || kpi->interval_ms == 0;
    int64_t os = (int64_t)open_start, lp = (int64_t)last, iv = kpi->interval_ms;
    if (os % iv != 0)
        return false;
    /* the newest point is in an open interval or an already closed one */
    return lp < os + (int64_t)s->nbuckets * iv;
}

const char *kw_state_series_restore(struct kw_pipeline *p, const cJSON *o, struct kw_series **out)
{
    if (out)
        *out = NULL;
    const cJSON *kname = cJSON_GetObjectItemCaseSensitive(o, "kpi");
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(o, "values");
    if (!cJSON_IsString(kname) || !cJSON_IsArray(values))
        return "no kpi name or label values";
    int k = -1;
    for (int i = 0; i < p->cfg->nkpis; i++)
        if (strcmp(p->cfg->kpis[i].name, kname->valuestring) == 0)
            k = i;
    if (k < 0)
        return "its KPI is no longer configured";
    if (cJSON_GetArraySize(values) != p->cfg->kpis[k].group_by.n)
        return "its KPI's group_by changed";
    char blob[VALUES_MAX];
    size_t len = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, values) {
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= KW_ALERT_LABEL_VALUE ||
            !kw_utf8_valid(v->valuestring, strlen(v->valuestring)) || len + strlen(v->valuestring) + 1 > sizeof blob)
            return "a label value is not valid";
        memcpy(blob + len, v->valuestring, strlen(v->valuestring) + 1);
        len += strlen(v->valuestring) + 1;
    }
    uint64_t hash = kw_series_hash(k, blob, len);
    if (kw_series_find(&p->table, hash, k, blob, len))
        return "it appears twice";
    if (p->table.count >= (size_t)p->cfg->max_series)
        return "agent.max_series reached";
    struct kw_series *s = kw_series_new(&p->cfg->kpis[k], k, hash, blob, len, p->native_spacing_override_ms);
    struct kw_bucket *buckets = kw_series_ring(s);
    const cJSON *ring = cJSON_GetObjectItemCaseSensitive(o, "ring");
    bool ok = cJSON_IsArray(ring) && cJSON_GetArraySize(ring) == s->nbuckets;
    for (int i = 0; ok && i < s->nbuckets; i++) {
        /* 10 numbers; files written before survey KPIs have 8 */
        double f[KW_BUCKET_FIELDS] = {0};
        const cJSON *item = cJSON_GetArrayItem(ring, i);
        ok = kw_json_read_doubles(item, f, KW_BUCKET_FIELDS) == 0 || kw_json_read_doubles(item, f, 8) == 0;
        /* sums finite, counts whole and within 32 bits, the timestamp plausible */
        ok = ok && isfinite(f[0]) && isfinite(f[1]) && count_ok(f[6]) && count_ok(f[7]) &&
             (isnan(f[5]) || f[5] == (double)INT64_MIN || ts_ok(f[5])) && count_ok(f[8]) && count_ok(f[9]) &&
             f[8] + f[9] <= f[6];
        if (ok)
            kw_bucket_set_fields(&buckets[i], p->cfg->kpis[k].aggregation, f);
    }
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(o, "samples");
    /* only a quantile's buckets have room for samples */
    for (int i = 0; ok && samples && p->cfg->kpis[k].aggregation == KW_AGG_QUANTILE && i < s->nbuckets; i++) {
        const cJSON *arr = cJSON_GetArrayItem(samples, i);
        int n = cJSON_GetArraySize(arr);
        struct kw_bucket *b = &buckets[i];
        ok = n >= 0 && n <= p->cfg->kpis[k].quantile_samples && (uint32_t)n <= b->count;
        if (ok && n > 0) {
            b->samples = xmalloc((size_t)p->cfg->kpis[k].quantile_samples * sizeof *b->samples);
            ok = kw_json_read_doubles(arr, b->samples, (size_t)n) == 0;
            b->nsamples = (uint32_t)n;
        }
    }
    const cJSON *os = cJSON_GetObjectItemCaseSensitive(o, "open_start");
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(o, "last_point_ts");
    const cJSON *hp = cJSON_GetObjectItemCaseSensitive(o, "history_pos");
    const cJSON *hl = cJSON_GetObjectItemCaseSensitive(o, "history_len");
    struct kw_alert_state alert;
    ok = ok && cJSON_IsNumber(os) && cJSON_IsNumber(lp) && cJSON_IsNumber(hp) && cJSON_IsNumber(hl) &&
         hp->valueint >= 0 && hp->valueint < KW_ALERT_HISTORY && hl->valueint >= 0 && hl->valueint <= KW_ALERT_HISTORY &&
         kw_json_read_doubles(cJSON_GetObjectItemCaseSensitive(o, "history"), s->history, KW_ALERT_HISTORY) == 0 &&
         kw_detector_state_load(&s->det, &p->cfg->kpis[k].detector, cJSON_GetObjectItemCaseSensitive(o, "detector")) == 0 &&
         kw_alerting_load(&alert, cJSON_GetObjectItemCaseSensitive(o, "alert")) == 0;
    const char *why = NULL;
    if (!ok)
        why = "its intervals, history, detector or alert state do not check out";
    else if (!clock_ok(&p->cfg->kpis[k], s, os->valuedouble, lp->valuedouble))
        why = "its interval clock is out of range";
    if (why) {
        kw_series_free(s, &p->cfg->kpis[k]);
        return why;
    }
    s->open_start = (int64_t)os->valuedouble;
    s->last_point_ts = (int64_t)lp->valuedouble;
    s->history_pos = (uint8_t)hp->valueint;
    s->history_len = (uint8_t)hl->valueint;
    kw_alerting_set(&s->alert, &alert);
    const cJSON *part = cJSON_GetObjectItemCaseSensitive(o, "partition");
    if (cJSON_IsNumber(part) && part->valuedouble >= 0 && part->valuedouble <= INT32_MAX)
        s->partition = (int)part->valuedouble;
    kw_pipeline_adopt(p, s);
    if (out)
        *out = s;
    return NULL;
}

/* carry: the state of the running pipeline handed to a reloaded config,
 * where a series that does not restore is one whose KPI changed. */
static int state_load(struct kw_pipeline *p, const char *path, bool carry, char *err, size_t errlen)
{
    char *text = kw_read_file(path, SIZE_MAX / 2, NULL, err, errlen);
    if (!text) {
        if (!err[0]) /* missing */
            snprintf(err, errlen, "%s: %s", path, strerror(ENOENT));
        return -1;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *arr = root ? cJSON_GetObjectItemCaseSensitive(root, "series") : NULL;
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "%s: not a kpiwatch state file", path);
        cJSON_Delete(root);
        return -1;
    }
    int restored = 0, skipped = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        const char *why = kw_state_series_restore(p, o, NULL);
        if (!why) {
            restored++;
            continue;
        }
        if (++skipped <= 5) { /* the first few say why; the rest are counted */
            const cJSON *kname = cJSON_GetObjectItemCaseSensitive(o, "kpi");
            char shown[96];
            if (carry)
                kw_debug("reload", "a series of %s starts fresh: %s",
                         cJSON_IsString(kname) ? kw_escape(shown, sizeof shown, kname->valuestring, 60) : "?", why);
            else
                kw_warn("state", "skipping a series of %s: %s",
                        cJSON_IsString(kname) ? kw_escape(shown, sizeof shown, kname->valuestring, 60) : "?", why);
        }
    }
    if (skipped && carry)
        kw_info("reload", "%d series start fresh: their KPI's interval, aggregation or detector changed", skipped);
    else if (skipped)
        kw_warn("state", "%d series in %s did not match the config or held out-of-range data; they start fresh",
                skipped, path);
    int lost = pending_restore(p, cJSON_GetObjectItemCaseSensitive(root, "pending"));
    if (lost && carry)
        kw_info("reload", "%d verdicts waiting for their interval's close point belong to changed KPIs; left out",
                lost);
    else if (lost)
        kw_warn("state", "%d verdicts waiting for their interval's close point in %s did not check out; left out",
                lost, path);
    cJSON_Delete(root);
    return restored;
}

int kw_state_load(struct kw_pipeline *p, const char *path, char *err, size_t errlen)
{
    return state_load(p, path, false, err, errlen);
}

int kw_state_carry(struct kw_pipeline *p, const char *path, char *err, size_t errlen)
{
    return state_load(p, path, true, err, errlen);
}
