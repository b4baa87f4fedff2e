/* pipeline: route each point to its series and run the interval clock. */
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
    kw_series_free(s, &p->cfg->kpis[s->kpi]);
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

static struct kw_series *series_create(struct kw_pipeline *p, int k, uint64_t hash, const char *values,
                                       size_t len)
{
    struct kw_series *s = kw_series_new(&p->cfg->kpis[k], k, hash, values, len, p->native_spacing_override_ms);
    kw_series_insert(&p->table, s);
    p->stats.series_created++;
    return s;
}

/* Run one closed interval through the detector and the alert state machine. */
static void close_interval(struct kw_pipeline *p, struct kw_series *s, const struct kw_sample *sample)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    struct kw_verdict v;
    kw_detector_update(&s->det, &kpi->detector, &s->info, sample, &v);
    kw_series_history_push(s, sample->value);
    p->stats.intervals_closed++;
    if (v.anomalous)
        p->stats.anomalies++;
    struct kw_alert alert;
    enum kw_transition t = kw_alerting_close(s, kpi, sample, &v, &alert);
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
    if (p->on_alert)
        p->on_alert(p->alert_ctx, &alert);
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

static bool labels_match(const struct kw_string_map *m, const struct kw_point *pt)
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
            struct kw_alert alert;
            if (kw_alerting_resolve_silent(s, &p->cfg->kpis[s->kpi], clock, &alert)) {
                p->stats.alerts_resolved++;
                if (p->on_alert)
                    p->on_alert(p->alert_ctx, &alert);
            }
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


void kw_pipeline_adopt(struct kw_pipeline *p, struct kw_series *s)
{
    kw_series_insert(&p->table, s);
    if (s->last_point_ts > p->event_clock_ms)
        p->event_clock_ms = s->last_point_ts;
}
