/* pipeline: route, aggregate, detect, alert. */
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/intmath.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"

#define VALUES_MAX 2048 /* group_by values blob: 8 labels x 255 bytes fits */

static void series_free(struct kw_series *s, void *ctx)
{
    struct kw_pipeline *p = ctx;
    kw_detector_state_release(&s->det, &p->cfg->kpis[s->kpi].detector);
    for (int i = 0; i < s->nbuckets; i++)
        kw_bucket_release(&s->ring[i]);
    free(s->ring);
    free(s->values);
    free(s);
}

void kw_pipeline_init(struct kw_pipeline *p, const struct kw_config *cfg)
{
    memset(p, 0, sizeof *p);
    p->cfg = cfg;
    kw_series_table_init(&p->table);
    p->event_clock_ms = INT64_MIN;
    p->next_sweep_ms = INT64_MIN;
    /* Sweep all series twice per shortest interval: quiet series close on time. */
    int64_t step = 60000;
    for (int k = 0; k < cfg->nkpis; k++) {
        int64_t iv = cfg->kpis[k].interval_ms ? cfg->kpis[k].interval_ms : cfg->kpis[k].native_spacing_ms;
        if (iv / 2 < step)
            step = iv / 2;
    }
    p->sweep_step_ms = step > 250 ? step : 250;
}

void kw_pipeline_release(struct kw_pipeline *p)
{
    kw_series_table_release(&p->table, series_free, p);
}

static int64_t native_spacing(const struct kw_pipeline *p, const struct kw_kpi_config *kpi)
{
    return p->native_spacing_override_ms > 0 ? p->native_spacing_override_ms : kpi->native_spacing_ms;
}

static struct kw_series *series_create(struct kw_pipeline *p, int k, uint64_t hash, const char *values,
                                       size_t len)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[k];
    struct kw_series *s = xcalloc(1, sizeof *s);
    s->hash = hash;
    s->kpi = k;
    s->values = xmalloc(len ? len : 1);
    memcpy(s->values, values, len);
    s->values_len = len;
    s->open_start = INT64_MIN;
    s->last_point_ts = INT64_MIN;
    s->nbuckets = kpi->interval_ms ? (int)(kpi->lateness_ms / kpi->interval_ms) + 2 : 1;
    s->ring = xcalloc((size_t)s->nbuckets, sizeof *s->ring);
    for (int i = 0; i < s->nbuckets; i++)
        kw_bucket_reset(&s->ring[i]);
    s->info.interval_ms = kpi->interval_ms ? kpi->interval_ms : native_spacing(p, kpi);
    s->info.is_ratio = kpi->kind == KW_KIND_RATE;
    s->info.is_count = kpi->kind == KW_KIND_COUNT;
    kw_detector_state_init(&s->det, &kpi->detector, &s->info);
    s->last_denominator = NAN;

    const char *names[KW_ALERT_MAX_LABELS], *vals[KW_ALERT_MAX_LABELS];
    const char *v = s->values;
    for (int i = 0; i < kpi->group_by.n; i++) {
        names[i] = kpi->group_by.items[i];
        vals[i] = v;
        v += strlen(v) + 1;
    }
    kw_series_alert_key(kpi->name, names, vals, kpi->group_by.n, s->alert_key);
    kw_series_insert(&p->table, s);
    p->stats.series_created++;
    return s;
}

static void history_push(struct kw_series *s, double v)
{
    s->history[s->history_pos] = v;
    s->history_pos = (s->history_pos + 1) % KW_ALERT_HISTORY;
    if (s->history_len < KW_ALERT_HISTORY)
        s->history_len++;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static void build_alert(const struct kw_pipeline *p, const struct kw_series *s, const struct kw_sample *sample,
                        const struct kw_verdict *v, enum kw_transition t, struct kw_alert *a)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    const struct kw_alert_state *st = &s->alert;
    memset(a, 0, sizeof *a);
    copy_text(a->key, sizeof a->key, s->alert_key);
    copy_text(a->kpi, sizeof a->kpi, kpi->name);
    copy_text(a->description, sizeof a->description, kpi->description);
    copy_text(a->unit, sizeof a->unit, kpi->unit);
    copy_text(a->detector, sizeof a->detector, kpi->detector.type->name);
    copy_text(a->runbook, sizeof a->runbook, kpi->runbook);
    copy_text(a->dashboard, sizeof a->dashboard, kpi->dashboard);
    copy_text(a->currency, sizeof a->currency, kpi->currency);
    const char *val = s->values;
    for (int i = 0; i < kpi->group_by.n; i++) {
        copy_text(a->labels[i].name, sizeof a->labels[i].name, kpi->group_by.items[i]);
        copy_text(a->labels[i].value, sizeof a->labels[i].value, val);
        val += strlen(val) + 1;
    }
    a->nlabels = kpi->group_by.n;
    a->status = t == KW_T_RESOLVED ? KW_ALERT_RESOLVED : KW_ALERT_FIRING;
    a->severity = st->peak_severity >= kpi->alert.critical_severity ? KW_SEV_CRITICAL : KW_SEV_WARNING;
    a->kind = kpi->kind;
    a->severity_score = st->peak_severity;
    a->observed = sample->value;
    a->expected = v->ready ? v->expected : NAN;
    a->lower = v->ready ? v->lower : NAN;
    a->upper = v->ready ? v->upper : NAN;
    a->score = v->ready ? v->score : NAN;
    a->direction = st->impact >= 0 ? 1 : -1;
    if (t != KW_T_RESOLVED && v->ready && v->direction)
        a->direction = v->direction;
    a->peak_observed = st->peak_observed;
    a->peak_expected = st->peak_expected;
    a->denominator = sample->denominator;
    a->impact = st->impact;
    a->cost_per_unit = kpi->cost_per_unit;
    a->since_ms = st->since_ms;
    a->at_ms = sample->ts_ms;
    a->interval_ms = s->info.interval_ms;
    a->intervals = st->intervals;
    a->nhistory = s->history_len;
    int start = (s->history_pos - s->history_len + KW_ALERT_HISTORY) % KW_ALERT_HISTORY;
    for (int i = 0; i < s->history_len; i++)
        a->history[i] = s->history[(start + i) % KW_ALERT_HISTORY];
}

/* Run one closed interval through the detector and the alert state machine. */
static void close_interval(struct kw_pipeline *p, struct kw_series *s, const struct kw_sample *sample)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    struct kw_verdict v;
    kw_detector_update(&s->det, &kpi->detector, &s->info, sample, &v);
    /* Counts and rates cannot go below 0 (nor rates above 1): show the band people can read. */
    if (v.ready && kpi->kind != KW_KIND_CONTINUOUS && v.lower < 0)
        v.lower = 0;
    if (v.ready && kpi->kind == KW_KIND_RATE && v.upper > 1)
        v.upper = 1;
    history_push(s, sample->value);
    p->stats.intervals_closed++;
    if (v.anomalous)
        p->stats.anomalies++;

    double excess = NAN;
    if (v.ready && isfinite(v.expected) && isfinite(sample->value)) {
        excess = sample->value - v.expected;
        if (kpi->kind == KW_KIND_RATE)
            excess *= sample->denominator; /* rate points x trials = extra events */
    }
    enum kw_transition t = KW_T_NONE;
    if (!isnan(sample->value))
        t = kw_alerting_step(&s->alert, &kpi->alert, v.ready && v.anomalous, v.severity, excess, sample->value,
                             v.expected, sample->ts_ms);
    if (p->on_interval)
        p->on_interval(p->interval_ctx, s, kpi, sample, &v);
    if (t == KW_T_NONE)
        return;
    if (t == KW_T_FIRING)
        p->stats.alerts_fired++;
    else if (t == KW_T_RESOLVED)
        p->stats.alerts_resolved++;
    else
        p->stats.alerts_repeated++;
    if (p->on_alert) {
        struct kw_alert a;
        build_alert(p, s, sample, &v, t, &a);
        p->on_alert(p->alert_ctx, &a);
    }
}

/* Close the oldest open interval of s. */
static void close_oldest(struct kw_pipeline *p, struct kw_series *s)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    int slot = (int)(kw_floor_div(s->open_start, kpi->interval_ms) % s->nbuckets);
    if (slot < 0)
        slot += s->nbuckets;
    struct kw_sample sample = kw_bucket_sample(&s->ring[slot], kpi->aggregation, kpi->quantile, s->open_start);
    kw_bucket_reset(&s->ring[slot]);
    s->open_start += kpi->interval_ms;
    close_interval(p, s, &sample);
}

static int64_t effective_clock(const struct kw_pipeline *p, int64_t wall_ms)
{
    if (p->event_clock_ms == INT64_MIN)
        return INT64_MIN;
    int64_t drift = p->extrapolate && wall_ms > p->event_clock_wall_ms ? wall_ms - p->event_clock_wall_ms : 0;
    return p->event_clock_ms + drift;
}

/* Close every interval of s whose end plus lateness is at or before clock. */
static void close_due(struct kw_pipeline *p, struct kw_series *s, int64_t clock)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    if (kpi->interval_ms == 0 || s->open_start == INT64_MIN)
        return;
    /* After a long silence, skip straight past empty intervals beyond the ring. */
    while (s->open_start + kpi->interval_ms + kpi->lateness_ms <= clock)
        close_oldest(p, s);
}

static bool labels_match(const struct kw_matcher_list *m, const struct kw_point *pt)
{
    for (int i = 0; i < m->n; i++) {
        bool found = false;
        for (int j = 0; j < pt->nlabels && !found; j++)
            found = strcmp(pt->labels[j].name, m->names[i]) == 0 && strcmp(pt->labels[j].value, m->values[i]) == 0;
        if (!found)
            return false;
    }
    return true;
}

static size_t group_values(const struct kw_kpi_config *kpi, const struct kw_point *pt, char *buf)
{
    size_t len = 0;
    for (int i = 0; i < kpi->group_by.n; i++) {
        const char *v = "";
        for (int j = 0; j < pt->nlabels; j++) {
            if (strcmp(pt->labels[j].name, kpi->group_by.items[i]) == 0) {
                v = pt->labels[j].value;
                break;
            }
        }
        size_t n = strlen(v) + 1;
        memcpy(buf + len, v, n);
        len += n;
    }
    return len;
}

/* Add one point to one KPI. Returns 0 or -1 with why. */
static int add_to_kpi(struct kw_pipeline *p, int k, int role, const struct kw_point *pt, enum kw_reject *why)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[k];
    if ((kpi->kind == KW_KIND_COUNT || kpi->kind == KW_KIND_RATE) && pt->value < 0 &&
        kpi->aggregation != KW_AGG_COUNT) {
        *why = KW_REJ_NEGATIVE_COUNT;
        return -1;
    }
    char values[VALUES_MAX];
    size_t len = group_values(kpi, pt, values);
    uint64_t hash = kw_series_hash(k, values, len);
    struct kw_series *s = kw_series_find(&p->table, hash, k, values, len);
    if (!s) {
        if (p->table.count >= (size_t)p->cfg->max_series) {
            *why = KW_REJ_SERIES_LIMIT;
            return -1;
        }
        s = series_create(p, k, hash, values, len);
    }
    if (kpi->interval_ms == 0) {
        /* Native: each point is its own interval, strictly in order. */
        if (s->last_point_ts != INT64_MIN && pt->ts_ms <= s->last_point_ts) {
            *why = KW_REJ_LATE;
            return -1;
        }
        s->last_point_ts = pt->ts_ms;
        struct kw_bucket b;
        kw_bucket_reset(&b);
        kw_bucket_add(&b, role, pt->value, pt->ts_ms);
        struct kw_sample sample = kw_bucket_sample(&b, kpi->aggregation, kpi->quantile, pt->ts_ms);
        close_interval(p, s, &sample);
        return 0;
    }
    int64_t start = kw_floor_div(pt->ts_ms, kpi->interval_ms) * kpi->interval_ms;
    if (s->open_start == INT64_MIN)
        s->open_start = start;
    if (start < s->open_start) {
        *why = KW_REJ_LATE;
        return -1;
    }
    while (start >= s->open_start + (int64_t)s->nbuckets * kpi->interval_ms)
        close_oldest(p, s);
    int slot = (int)(kw_floor_div(start, kpi->interval_ms) % s->nbuckets);
    if (slot < 0)
        slot += s->nbuckets;
    kw_bucket_add(&s->ring[slot], role, pt->value, pt->ts_ms);
    if (kpi->aggregation == KW_AGG_QUANTILE)
        kw_bucket_keep_sample(&s->ring[slot], pt->value, (uint32_t)kpi->quantile_samples, s->hash ^ (uint64_t)start);
    if (pt->ts_ms > s->last_point_ts)
        s->last_point_ts = pt->ts_ms;
    return 0;
}

int kw_pipeline_point(void *ctx, const struct kw_point *pt, enum kw_reject *why)
{
    struct kw_pipeline *p = ctx;
    int used = 0, refused = 0;
    for (int k = 0; k < p->cfg->nkpis; k++) {
        const struct kw_kpi_config *kpi = &p->cfg->kpis[k];
        int role;
        if (strcmp(pt->metric, kpi->metric) == 0)
            role = KW_ROLE_VALUE;
        else if (kpi->denominator && strcmp(pt->metric, kpi->denominator) == 0)
            role = KW_ROLE_DENOMINATOR;
        else
            continue;
        if (!labels_match(&kpi->match, pt))
            continue;
        if (add_to_kpi(p, k, role, pt, why))
            refused++;
        else
            used++;
    }
    if (pt->ts_ms > p->event_clock_ms)
        p->event_clock_ms = pt->ts_ms;
    if (!used && !refused)
        p->stats.points_unwatched++;
    /* Accepted when at least one KPI took it; a point no KPI watches is fine. */
    return (refused && !used) ? -1 : 0;
}

/* A firing series that stopped reporting: resolve it rather than leave it
 * firing forever, and say that data stopped. */
static void resolve_silent(struct kw_pipeline *p, struct kw_series *s, int64_t clock)
{
    struct kw_sample sample = {.ts_ms = clock, .value = NAN, .numerator = NAN, .denominator = NAN};
    struct kw_verdict v = {0};
    s->alert.phase = KW_PHASE_OK;
    p->stats.alerts_resolved++;
    kw_warn("pipeline", "series %s of %s went silent while firing; resolving", s->alert_key,
            p->cfg->kpis[s->kpi].name);
    if (p->on_alert) {
        struct kw_alert a;
        build_alert(p, s, &sample, &v, KW_T_RESOLVED, &a);
        p->on_alert(p->alert_ctx, &a);
    }
}

static void sweep(struct kw_pipeline *p, int64_t clock)
{
    for (size_t i = 0; i < p->table.cap;) {
        struct kw_series *s = p->table.slots[i];
        if (!s) {
            i++;
            continue;
        }
        close_due(p, s, clock);
        if (s->last_point_ts != INT64_MIN && clock - s->last_point_ts > p->cfg->series_ttl_ms) {
            if (s->alert.phase == KW_PHASE_FIRING)
                resolve_silent(p, s, clock);
            kw_series_remove(&p->table, s);
            series_free(s, p);
            p->stats.series_expired++;
            continue; /* a later entry may have shifted into slot i */
        }
        i++;
    }
}

void kw_pipeline_tick(struct kw_pipeline *p, int64_t wall_ms)
{
    if (p->event_clock_ms == INT64_MIN)
        return;
    if (p->event_clock_ms != p->seen_clock_ms) {
        p->seen_clock_ms = p->event_clock_ms;
        p->event_clock_wall_ms = wall_ms;
    }
    int64_t clock = effective_clock(p, wall_ms);
    if (clock < p->next_sweep_ms)
        return;
    sweep(p, clock);
    p->next_sweep_ms = clock + p->sweep_step_ms;
}

void kw_pipeline_flush(struct kw_pipeline *p)
{
    for (size_t i = 0; i < p->table.cap; i++) {
        struct kw_series *s = p->table.slots[i];
        if (!s || s->open_start == INT64_MIN)
            continue;
        const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
        if (kpi->interval_ms == 0)
            continue;
        while (s->open_start <= s->last_point_ts)
            close_oldest(p, s);
    }
}

size_t kw_pipeline_firing(const struct kw_pipeline *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->table.cap; i++)
        if (p->table.slots[i] && p->table.slots[i]->alert.phase == KW_PHASE_FIRING)
            n++;
    return n;
}

/* ---- state store -------------------------------------------------------- */

static cJSON *series_to_json(const struct kw_pipeline *p, const struct kw_series *s)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kpi", kpi->name);
    cJSON *values = cJSON_AddArrayToObject(o, "values");
    const char *v = s->values;
    for (int i = 0; i < kpi->group_by.n; i++) {
        cJSON_AddItemToArray(values, cJSON_CreateString(v));
        v += strlen(v) + 1;
    }
    cJSON_AddNumberToObject(o, "open_start", (double)s->open_start);
    cJSON_AddNumberToObject(o, "last_point_ts", (double)s->last_point_ts);
    cJSON *ring = cJSON_AddArrayToObject(o, "ring");
    for (int i = 0; i < s->nbuckets; i++) {
        const struct kw_bucket *b = &s->ring[i];
        double f[] = {b->sum, b->den, b->last, b->min, b->max, (double)b->last_ts, b->count, b->den_count};
        cJSON_AddItemToArray(ring, kw_json_doubles(f, 8));
    }
    if (kpi->aggregation == KW_AGG_QUANTILE) {
        cJSON *samples = cJSON_AddArrayToObject(o, "samples");
        for (int i = 0; i < s->nbuckets; i++)
            cJSON_AddItemToArray(samples, kw_json_doubles(s->ring[i].samples, s->ring[i].nsamples));
    }
    cJSON_AddItemToObject(o, "history", kw_json_doubles(s->history, KW_ALERT_HISTORY));
    cJSON_AddNumberToObject(o, "history_pos", s->history_pos);
    cJSON_AddNumberToObject(o, "history_len", s->history_len);
    cJSON_AddItemToObject(o, "detector", kw_detector_state_save(&s->det, &kpi->detector));
    cJSON_AddItemToObject(o, "alert", kw_alerting_save(&s->alert));
    return o;
}

int kw_pipeline_save_state(const struct kw_pipeline *p, const char *path, char *err, size_t errlen)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON *arr = cJSON_AddArrayToObject(root, "series");
    for (size_t i = 0; i < p->table.cap; i++)
        if (p->table.slots[i])
            cJSON_AddItemToArray(arr, series_to_json(p, p->table.slots[i]));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int rc = -1;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        free(text);
        return -1;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    if (off == len && fsync(fd) == 0 && close(fd) == 0) {
        fd = -1;
        if (rename(tmp, path) == 0)
            rc = 0;
    }
    if (rc)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}

static int restore_series(struct kw_pipeline *p, const cJSON *o)
{
    const cJSON *kname = cJSON_GetObjectItemCaseSensitive(o, "kpi");
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(o, "values");
    if (!cJSON_IsString(kname) || !cJSON_IsArray(values))
        return -1;
    int k = -1;
    for (int i = 0; i < p->cfg->nkpis; i++)
        if (strcmp(p->cfg->kpis[i].name, kname->valuestring) == 0)
            k = i;
    if (k < 0 || cJSON_GetArraySize(values) != p->cfg->kpis[k].group_by.n)
        return -1;
    char blob[VALUES_MAX];
    size_t len = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, values) {
        if (!cJSON_IsString(v) || len + strlen(v->valuestring) + 1 > sizeof blob)
            return -1;
        memcpy(blob + len, v->valuestring, strlen(v->valuestring) + 1);
        len += strlen(v->valuestring) + 1;
    }
    uint64_t hash = kw_series_hash(k, blob, len);
    if (kw_series_find(&p->table, hash, k, blob, len) || p->table.count >= (size_t)p->cfg->max_series)
        return -1;
    struct kw_series *s = series_create(p, k, hash, blob, len);
    p->stats.series_created--;
    const cJSON *ring = cJSON_GetObjectItemCaseSensitive(o, "ring");
    bool ok = cJSON_IsArray(ring) && cJSON_GetArraySize(ring) == s->nbuckets;
    for (int i = 0; ok && i < s->nbuckets; i++) {
        double f[8];
        ok = kw_json_read_doubles(cJSON_GetArrayItem(ring, i), f, 8) == 0;
        if (ok) {
            struct kw_bucket *b = &s->ring[i];
            b->sum = f[0], b->den = f[1], b->last = f[2], b->min = isnan(f[3]) ? INFINITY : f[3];
            b->max = isnan(f[4]) ? -INFINITY : f[4];
            b->last_ts = isnan(f[5]) ? INT64_MIN : (int64_t)f[5];
            b->count = (uint32_t)f[6], b->den_count = (uint32_t)f[7];
        }
    }
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(o, "samples");
    for (int i = 0; ok && samples && i < s->nbuckets; i++) {
        const cJSON *arr = cJSON_GetArrayItem(samples, i);
        int n = cJSON_GetArraySize(arr);
        struct kw_bucket *b = &s->ring[i];
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
    ok = ok && cJSON_IsNumber(os) && cJSON_IsNumber(lp) && cJSON_IsNumber(hp) && cJSON_IsNumber(hl) &&
         hp->valueint >= 0 && hp->valueint < KW_ALERT_HISTORY && hl->valueint >= 0 && hl->valueint <= KW_ALERT_HISTORY &&
         kw_json_read_doubles(cJSON_GetObjectItemCaseSensitive(o, "history"), s->history, KW_ALERT_HISTORY) == 0 &&
         kw_detector_state_load(&s->det, &p->cfg->kpis[k].detector, cJSON_GetObjectItemCaseSensitive(o, "detector")) == 0 &&
         kw_alerting_load(&s->alert, cJSON_GetObjectItemCaseSensitive(o, "alert")) == 0;
    if (!ok) {
        kw_series_remove(&p->table, s);
        series_free(s, p);
        return -1;
    }
    s->open_start = (int64_t)os->valuedouble;
    s->last_point_ts = (int64_t)lp->valuedouble;
    s->history_pos = hp->valueint;
    s->history_len = hl->valueint;
    if (s->last_point_ts > p->event_clock_ms)
        p->event_clock_ms = s->last_point_ts;
    return 0;
}

int kw_pipeline_load_state(struct kw_pipeline *p, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = xmalloc(size > 0 ? (size_t)size + 1 : 1);
    size_t n = size > 0 ? fread(text, 1, (size_t)size, f) : 0;
    fclose(f);
    text[n] = '\0';
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
        if (restore_series(p, o) == 0)
            restored++;
        else
            skipped++;
    }
    if (skipped)
        kw_warn("state", "%d series in %s did not match the config and start fresh", skipped, path);
    cJSON_Delete(root);
    return restored;
}
