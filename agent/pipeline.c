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
#include "fdr.h"

#define VALUES_MAX 2048 /* group_by values blob: 8 labels x 255 bytes fits */

static void due_moved(void *item, size_t pos)
{
    ((struct kw_series *)item)->due_pos = pos;
}

static void series_free(struct kw_series *s, void *ctx)
{
    struct kw_pipeline *p = ctx;
    kw_series_free(s, &p->cfg->kpis[s->kpi]);
}

/* Most intervals one series closes in one step of event time. A longer
 * jump (a clock far in the future, a restore after a long outage) closes
 * the last this-many intervals and skips the rest as a gap, so no input can
 * make the clock walk an unbounded number of intervals. */
static int64_t max_walk(const struct kw_pipeline *p, const struct kw_kpi_config *kpi, const struct kw_series *s)
{
    int64_t n = p->cfg->series_ttl_ms / kpi->interval_ms + s->nbuckets;
    return n < 10000 ? n : 10000;
}

void kw_pipeline_init(struct kw_pipeline *p, const struct kw_config *cfg)
{
    memset(p, 0, sizeof *p);
    p->cfg = cfg;
    p->partition = -1;
    kw_series_table_init(&p->table);
    p->clocks = xcalloc((size_t)cfg->nkpis + 1, sizeof *p->clocks);
    p->fdr = xcalloc((size_t)cfg->nkpis + 1, sizeof *p->fdr);
    p->kpi_series = xcalloc((size_t)cfg->nkpis + 1, sizeof *p->kpi_series);
    p->kpi_pending = xcalloc((size_t)cfg->nkpis + 1, sizeof *p->kpi_pending);
    p->kpi_firing = xcalloc((size_t)cfg->nkpis + 1, sizeof *p->kpi_firing);
    p->series_refused = xcalloc((size_t)cfg->nkpis + 1, sizeof *p->series_refused);
    p->due = xcalloc((size_t)cfg->nkpis + 1, sizeof *p->due);
    for (int k = 0; k < cfg->nkpis; k++) {
        p->clocks[k].event_ms = INT64_MIN;
        p->clocks[k].gap_before = INT64_MIN;
        kw_heap_init(&p->due[k], due_moved);
    }
}

int kw_pipeline_on_interval(struct kw_pipeline *p, kw_interval_sink fn, void *ctx)
{
    if (p->ninterval_sinks >= KW_PIPELINE_INTERVAL_SINKS)
        return -1;
    p->interval_sinks[p->ninterval_sinks].fn = fn;
    p->interval_sinks[p->ninterval_sinks].ctx = ctx;
    p->ninterval_sinks++;
    return 0;
}

void kw_pipeline_release(struct kw_pipeline *p)
{
    kw_series_table_release(&p->table, series_free, p);
    for (int k = 0; p->due && k < p->cfg->nkpis; k++)
        kw_heap_release(&p->due[k]);
    free(p->due);
    p->due = NULL;
    for (int k = 0; p->fdr && k < p->cfg->nkpis; k++)
        kw_fdr_release(&p->fdr[k]);
    free(p->fdr);
    p->fdr = NULL;
    free(p->clocks);
    free(p->kpi_series);
    free(p->kpi_pending);
    free(p->kpi_firing);
    free(p->series_refused);
    p->clocks = NULL;
    p->kpi_series = NULL;
    p->kpi_pending = NULL;
    p->kpi_firing = NULL;
    p->series_refused = NULL;
}

static struct kw_series *series_create(struct kw_pipeline *p, int k, uint64_t hash, const char *values,
                                       size_t len)
{
    struct kw_series *s = kw_series_new(&p->cfg->kpis[k], k, hash, values, len, p->native_spacing_override_ms);
    kw_series_insert(&p->table, s);
    p->kpi_series[k]++;
    p->stats.series_created++;
    return s;
}

/* Count s in (delta +1) or out of (-1) its KPI's series in alert phase. */
static void count_phase(struct kw_pipeline *p, const struct kw_series *s, int phase, int delta)
{
    size_t *n = phase == KW_PHASE_FIRING ? &p->kpi_firing[s->kpi] : phase == KW_PHASE_PENDING ? &p->kpi_pending[s->kpi]
                                                                                                 : NULL;
    if (n)
        *n = delta > 0 ? *n + 1 : *n - 1;
}

/* After the alert state machine ran on s: move it between the counts if
 * its phase changed from before, and note a change into or out of firing
 * that no alert event told (told: a firing or resolved alert went out). */
static void phase_moved(struct kw_pipeline *p, const struct kw_series *s, int before, bool told)
{
    if ((int)s->alert.phase == before)
        return;
    count_phase(p, s, before, -1);
    count_phase(p, s, s->alert.phase, +1);
    if (!told && (before == KW_PHASE_FIRING || s->alert.phase == KW_PHASE_FIRING))
        p->stats.firing_untold++;
}

static void advance(struct kw_pipeline *p, struct kw_series *s, int64_t target);

static int cmp_contributor(const void *x, const void *y)
{
    const struct kw_alert_contributor *a = x, *b = y;
    return (a->excess < b->excess) - (a->excess > b->excess);
}

static int cmp_ptr(const void *x, const void *y)
{
    uintptr_t a = (uintptr_t)*(void *const *)x, b = (uintptr_t)*(void *const *)y;
    return (a > b) - (a < b);
}

/* The children of one roll-up series and their excess, largest first. */
struct contributors {
    const struct kw_kpi_config *rkpi, *ckpi;
    const struct kw_series *rs;
    int pos[KW_ALERT_MAX_LABELS]; /* where each roll-up label sits among the child's group_by */
    double dir;                   /* +1: excess above expected counts, -1: below */
    struct kw_alert_contributor top[KW_ALERT_CONTRIBUTORS + 1];
    int ntop;
    double total;
};

static bool is_child(const struct contributors *cs, const struct kw_series *c, const char **cv)
{
    if (c->kpi != cs->rkpi->rollup_of)
        return false;
    const char *v = c->values;
    for (int j = 0; j < cs->ckpi->group_by.n; j++, v = kw_series_next_value(v))
        cv[j] = v;
    v = cs->rs->values;
    for (int j = 0; j < cs->rkpi->group_by.n; j++, v = kw_series_next_value(v))
        if (strcmp(cv[cs->pos[j]], v) != 0)
            return false;
    return true;
}

static void consider(struct contributors *cs, const char **cv, double observed, double expected, double denominator)
{
    double excess = observed - expected;
    if (cs->ckpi->kind == KW_KIND_RATE)
        excess *= isfinite(denominator) ? denominator : 0; /* rate points x trials = events */
    excess *= cs->dir;
    if (!isfinite(excess) || excess <= 0)
        return;
    cs->total += excess;
    struct kw_alert_contributor *t = &cs->top[cs->ntop < KW_ALERT_CONTRIBUTORS ? cs->ntop++ : KW_ALERT_CONTRIBUTORS];
    memset(t, 0, sizeof *t);
    size_t len = 0;
    for (int j = 0; j < cs->ckpi->group_by.n && len < sizeof t->labels; j++)
        len += (size_t)snprintf(t->labels + len, sizeof t->labels - len, "%s%s=%s", j ? ", " : "",
                                cs->ckpi->group_by.items[j], cv[j]);
    t->observed = observed;
    t->expected = expected;
    t->excess = excess;
    qsort(cs->top, (size_t)(cs->ntop < KW_ALERT_CONTRIBUTORS ? cs->ntop : KW_ALERT_CONTRIBUTORS + 1), sizeof *cs->top,
          cmp_contributor);
}

/* Root cause of a roll-up's alert: its child series (the KPI it sums up,
 * with the roll-up's label values) ranked by their excess over expected in
 * the interval that started at start, in the alert's direction, as a share
 * of the children's total excess. A child's figures for that interval are
 * its verdict still waiting under false-discovery control (roll-ups decide
 * before their children), else its last closed interval when that is the
 * one; a child that has not closed it yet closes it now (it is due: same
 * points, same clock). */
static void explain_rollup(struct kw_pipeline *p, const struct kw_series *rs, int64_t start, struct kw_alert *a)
{
    struct contributors cs = {.rkpi = &p->cfg->kpis[rs->kpi], .rs = rs, .dir = a->direction < 0 ? -1 : 1};
    cs.ckpi = &p->cfg->kpis[cs.rkpi->rollup_of];
    snprintf(a->rollup_of, sizeof a->rollup_of, "%s", cs.ckpi->name);
    for (int i = 0; i < cs.rkpi->group_by.n; i++)
        for (int j = 0; j < cs.ckpi->group_by.n; j++)
            if (strcmp(cs.rkpi->group_by.items[i], cs.ckpi->group_by.items[j]) == 0)
                cs.pos[i] = j;
    const char *cv[KW_ALERT_MAX_LABELS];
    /* children that have not closed the interval yet close it now */
    for (size_t i = 0; cs.ckpi->interval_ms > 0 && i < p->table.cap; i++) {
        struct kw_series *c = p->table.slots[i];
        if (c && c->open_start != INT64_MIN && c->open_start <= start && is_child(&cs, c, cv))
            advance(p, c, start + cs.ckpi->interval_ms);
    }
    /* waiting verdicts first, remembering whose they were */
    const struct kw_fdr_batch *b = &p->fdr[cs.rkpi->rollup_of];
    struct kw_series **seen = xcalloc(b->n + 1, sizeof *seen);
    size_t nseen = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct kw_fdr_entry *e = &b->e[i];
        if (e->sample.ts_ms != start || !is_child(&cs, e->series, cv))
            continue;
        seen[nseen++] = e->series;
        if (e->verdict.ready)
            consider(&cs, cv, e->sample.value, e->verdict.expected, e->sample.denominator);
    }
    qsort(seen, nseen, sizeof *seen, cmp_ptr);
    for (size_t i = 0; i < p->table.cap; i++) {
        struct kw_series *c = p->table.slots[i];
        if (!c || c->last_start != start || c->history_len == 0 || !is_child(&cs, c, cv) ||
            bsearch(&c, seen, nseen, sizeof *seen, cmp_ptr))
            continue;
        double observed = c->history[(c->history_pos + KW_ALERT_HISTORY - 1) % KW_ALERT_HISTORY];
        consider(&cs, cv, observed, c->last_expected, c->last_denominator);
    }
    free(seen);
    a->ncontributors = cs.ntop;
    for (int i = 0; i < cs.ntop; i++) {
        a->contributors[i] = cs.top[i];
        a->contributors[i].share = cs.total > 0 ? cs.top[i].excess / cs.total : 0;
    }
}

/* A decided verdict goes through the alert state machine and to the sinks. */
static void decide_interval(void *ctx, struct kw_series *s, const struct kw_sample *sample, struct kw_verdict *vp)
{
    struct kw_pipeline *p = ctx;
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    struct kw_verdict v = *vp;
    if (v.anomalous)
        p->stats.anomalies++;
    struct kw_alert alert;
    int before = s->alert.phase;
    enum kw_transition t = kw_alerting_close(s, kpi, sample, &v, &alert);
    phase_moved(p, s, before, t == KW_T_FIRING || t == KW_T_RESOLVED);
    for (int i = 0; i < p->ninterval_sinks; i++)
        p->interval_sinks[i].fn(p->interval_sinks[i].ctx, s, kpi, sample, &v);
    if (t == KW_T_NONE)
        return;
    if (t == KW_T_REFRESH) {
        if (p->on_refresh) {
            if (kpi->rollup_of >= 0)
                explain_rollup(p, s, sample->ts_ms, &alert);
            p->on_refresh(p->refresh_ctx, &alert);
        }
        return;
    }
    if (t == KW_T_FIRING)
        p->stats.alerts_fired++;
    else if (t == KW_T_RESOLVED)
        p->stats.alerts_resolved++;
    else
        p->stats.alerts_repeated++;
    if (kpi->rollup_of >= 0 && alert.status == KW_ALERT_FIRING)
        explain_rollup(p, s, sample->ts_ms, &alert);
    if (p->on_alert)
        p->on_alert(p->alert_ctx, &alert);
}

/* Run one closed interval through the detector. Its verdict waits for the
 * rest of the KPI's series to close the same interval (fdr.h), unless the
 * KPI has no common intervals or opted out. */
static void close_interval(struct kw_pipeline *p, struct kw_series *s, const struct kw_sample *sample)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    struct kw_verdict v;
    bool batched = kpi->fdr && kpi->interval_ms > 0;
    struct kw_series_info info = kw_series_info(s, kpi);
    info.multiplicity = batched ? (double)p->kpi_series[s->kpi] : 1;
    kw_detector_update(&s->det, &kpi->detector, &info, sample, &v);
    kw_series_history_push(s, sample->value);
    s->last_start = sample->ts_ms;
    s->last_expected = v.ready ? v.expected : NAN;
    s->last_denominator = sample->denominator;
    p->stats.intervals_closed++;
    if (batched)
        kw_fdr_push(&p->fdr[s->kpi], s, sample, &v);
    else
        decide_interval(p, s, sample, &v);
}

static int64_t effective_clock(const struct kw_pipeline *p, int k);
static bool wake(struct kw_pipeline *p, struct kw_series *s, int64_t clock);
static void expire(struct kw_pipeline *p, struct kw_series *s);
static int64_t next_due(const struct kw_pipeline *p, const struct kw_series *s);
static void schedule(struct kw_pipeline *p, struct kw_series *s, int64_t key);

/* Among intervals that end together, roll-ups decide first, the coarsest
 * first, so a roll-up's alert is out before its children's (which it holds
 * back); then the configured KPIs in config order. */
static int decide_rank(const struct kw_pipeline *p, int k)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[k];
    return kpi->rollup_of >= 0 ? kpi->group_by.n : KW_ALERT_MAX_LABELS + 1 + k;
}

/* Decide the waiting verdicts whose interval's close point has passed on
 * its KPI's clock (every one when all), one interval at a time in event
 * order across KPIs, so alerts leave in the order their intervals ended. */
static void settle(struct kw_pipeline *p, bool all, int64_t (*clock_of)(const struct kw_pipeline *, int))
{
    for (;;) {
        int best = -1;
        int64_t best_ts = INT64_MAX;
        for (int k = 0; k < p->cfg->nkpis; k++) {
            const struct kw_kpi_config *kpi = &p->cfg->kpis[k];
            int64_t ts = kw_fdr_oldest(&p->fdr[k]), clock = clock_of(p, k);
            if (ts == INT64_MAX || kpi->interval_ms == 0 || (!all && clock == INT64_MIN))
                continue;
            if ((all || ts <= clock - kpi->lateness_ms - kpi->interval_ms) &&
                (ts < best_ts || (ts == best_ts && decide_rank(p, k) < decide_rank(p, best)))) {
                best = k;
                best_ts = ts;
            }
        }
        if (best < 0)
            return;
        kw_fdr_resolve(&p->fdr[best], best_ts, decide_interval, p);
    }
}

/* Close the oldest open interval of s. */
static void close_oldest(struct kw_pipeline *p, struct kw_series *s)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    int slot = (int)(kw_floor_div(s->open_start, kpi->interval_ms) % s->nbuckets);
    if (slot < 0)
        slot += s->nbuckets;
    struct kw_bucket *b = &kw_series_ring(s)[slot];
    struct kw_sample sample = kw_bucket_sample(b, kpi->aggregation, kpi->quantile, s->open_start);
    if (b->count == 0 && b->den_count == 0 && s->open_start < p->clocks[s->kpi].gap_before) {
        /* Not observed (the agent was down): missing, not a count of zero. */
        sample.value = sample.numerator = sample.denominator = NAN;
        p->stats.intervals_gap++;
    }
    kw_bucket_reset(b, kpi->aggregation);
    s->open_start += kpi->interval_ms;
    close_interval(p, s, &sample);
}

/* Close intervals of s until its oldest open interval starts at target (an
 * interval start). Bounded by max_walk: the ring is closed first (it holds
 * the data), the intervals before the last max_walk ones are skipped. */
static void advance(struct kw_pipeline *p, struct kw_series *s, int64_t target)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    int64_t n = (target - s->open_start) / kpi->interval_ms;
    int64_t limit = max_walk(p, kpi, s);
    if (n > limit) {
        for (int i = 0; i < s->nbuckets; i++)
            close_oldest(p, s);
        int64_t skip_to = target - (limit - s->nbuckets) * kpi->interval_ms;
        if (skip_to > s->open_start) {
            p->stats.intervals_skipped += (uint64_t)((skip_to - s->open_start) / kpi->interval_ms);
            s->open_start = skip_to;
        }
    }
    while (s->open_start < target)
        close_oldest(p, s);
}

static int64_t effective_clock(const struct kw_pipeline *p, int k)
{
    const struct kw_kpi_clock *c = &p->clocks[k];
    if (c->event_ms == INT64_MIN)
        return INT64_MIN;
    int64_t drift = p->extrapolate && p->wall_ms > c->wall_ms ? p->wall_ms - c->wall_ms : 0;
    int64_t clock = c->event_ms + drift;
    if (p->live && clock > p->wall_ms)
        clock = p->wall_ms; /* a clock-skewed publisher cannot close intervals early */
    return clock;
}

/* Close every interval of s whose end plus lateness is at or before clock. */
static void close_due(struct kw_pipeline *p, struct kw_series *s, int64_t clock)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    if (kpi->interval_ms == 0 || s->open_start == INT64_MIN || clock == INT64_MIN)
        return;
    if (clock - kpi->lateness_ms < s->open_start + kpi->interval_ms)
        return;
    /* The first start whose end plus lateness is still after clock. */
    int64_t target = (kw_floor_div(clock - kpi->lateness_ms - kpi->interval_ms, kpi->interval_ms) + 1) * kpi->interval_ms;
    advance(p, s, target);
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

/* The group_by values of pt as a blob in buf (VALUES_MAX bytes; a value
 * too long for it is cut, which ingest limits make impossible). */
static size_t group_values(const struct kw_kpi_config *kpi, const struct kw_point *pt, char *buf)
{
    size_t len = 0, room = VALUES_MAX / KW_ALERT_MAX_LABELS;
    for (int i = 0; i < kpi->group_by.n; i++) {
        const char *v = "";
        for (int j = 0; j < pt->nlabels; j++) {
            if (strcmp(pt->labels[j].name, kpi->group_by.items[i]) == 0) {
                v = pt->labels[j].value;
                break;
            }
        }
        size_t n = strnlen(v, room - 1);
        memcpy(buf + len, v, n);
        buf[len + n] = '\0';
        len += n + 1;
    }
    return len;
}

/* A point was accepted into KPI k: its event time moves on, and after a
 * restore this is where observation resumes. */
static void note_event(struct kw_pipeline *p, int k, int64_t ts_ms)
{
    struct kw_kpi_clock *c = &p->clocks[k];
    if (ts_ms > c->event_ms)
        c->event_ms = ts_ms;
    if (c->resuming) {
        int64_t iv = p->cfg->kpis[k].interval_ms;
        c->gap_before = iv ? kw_floor_div(ts_ms, iv) * iv : ts_ms;
        c->resuming = false;
    }
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
    if (!kw_survey_valid(kpi->aggregation, pt->value)) {
        *why = KW_REJ_BAD_VALUE; /* not an answer on the survey's scale */
        return -1;
    }
    char values[VALUES_MAX];
    size_t len = group_values(kpi, pt, values);
    uint64_t hash = kw_series_hash(k, values, len);
    struct kw_series *s = kw_series_find(&p->table, hash, k, values, len);
    if (!s) {
        size_t kpi_limit = kpi->max_series > 0 ? (size_t)kpi->max_series : (size_t)p->cfg->max_series;
        bool global = p->table.count >= (size_t)p->cfg->max_series;
        if (global || p->kpi_series[k] >= kpi_limit) {
            uint64_t n = ++p->series_refused[k];
            if ((n & (n - 1)) == 0) /* 1, 2, 4, ...: a flood does not flood the log */
                kw_warn("pipeline", "%s: new series refused, %s (%zu series) [%llu so far]", kpi->name,
                        global ? "agent.max_series reached" : "its max_series reached",
                        global ? p->table.count : p->kpi_series[k], (unsigned long long)n);
            *why = KW_REJ_SERIES_LIMIT;
            return -1;
        }
        s = series_create(p, k, hash, values, len);
    }
    s->partition = p->partition;
    if (kpi->interval_ms == 0) {
        /* Native: each point is its own interval, strictly in order. */
        if (s->last_point_ts != INT64_MIN && pt->ts_ms <= s->last_point_ts) {
            *why = KW_REJ_LATE;
            return -1;
        }
        s->last_point_ts = pt->ts_ms;
        note_event(p, k, pt->ts_ms);
        struct kw_bucket b;
        kw_bucket_reset(&b, kpi->aggregation);
        kw_bucket_add(&b, kpi->aggregation, role, pt->value, pt->ts_ms);
        struct kw_sample sample = kw_bucket_sample(&b, kpi->aggregation, kpi->quantile, pt->ts_ms);
        close_interval(p, s, &sample);
        if (s->due_pos == KW_HEAP_NONE || s->alert.nodata_since != INT64_MIN)
            schedule(p, s, s->alert.nodata_since != INT64_MIN ? INT64_MIN : next_due(p, s));
        return 0;
    }
    int64_t start = kw_floor_div(pt->ts_ms, kpi->interval_ms) * kpi->interval_ms;
    if (s->open_start == INT64_MIN)
        s->open_start = start;
    if (start < s->open_start) {
        *why = KW_REJ_LATE;
        return -1;
    }
    if (start >= s->open_start + (int64_t)s->nbuckets * kpi->interval_ms)
        advance(p, s, start - (int64_t)(s->nbuckets - 1) * kpi->interval_ms);
    int slot = (int)(kw_floor_div(start, kpi->interval_ms) % s->nbuckets);
    if (slot < 0)
        slot += s->nbuckets;
    struct kw_bucket *b = &kw_series_ring(s)[slot];
    kw_bucket_add(b, kpi->aggregation, role, pt->value, pt->ts_ms);
    if (kpi->aggregation == KW_AGG_QUANTILE)
        kw_bucket_keep_sample(b, pt->value, (uint32_t)kpi->quantile_samples, s->hash ^ (uint64_t)start);
    if (pt->ts_ms > s->last_point_ts)
        s->last_point_ts = pt->ts_ms;
    note_event(p, k, pt->ts_ms);
    if (s->due_pos == KW_HEAP_NONE)
        schedule(p, s, next_due(p, s)); /* a new series */
    else if (s->alert.nodata_since != INT64_MIN)
        schedule(p, s, INT64_MIN); /* points are back: resolve at the next tick */
    return 0;
}

/* Wake every series of KPI k due by clock; the expired ones are added to
 * *expired (grown as needed) for the caller to free once decisions are out. */
static void wake_due(struct kw_pipeline *p, int k, int64_t clock, struct kw_series ***expired, size_t *n,
                     size_t *cap)
{
    const struct kw_heap_entry *top;
    while ((top = kw_heap_top(&p->due[k])) && top->key <= clock) {
        struct kw_series *s = top->item;
        if (!wake(p, s, clock))
            continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *expired = xrealloc(*expired, *cap * sizeof **expired);
        }
        (*expired)[(*n)++] = s;
    }
}

/* The clock as points alone have moved it: no extrapolation, and in live
 * mode no further than the wall clock. */
static int64_t point_clock(const struct kw_pipeline *p, int k)
{
    int64_t clock = p->clocks[k].event_ms;
    if (p->live && clock > p->now_ms)
        clock = p->now_ms;
    return clock;
}

/* After a point: when it moved a clock past a close point, close and
 * decide what is due now instead of at the next tick, so when an interval
 * is decided (and what its alert shows) depends on the stream, not on how
 * many messages one wake-up of the poll loop happened to read. Every KPI
 * is woken before anything is decided, so a roll-up still decides before
 * its children. */
static void catch_up(struct kw_pipeline *p)
{
    if (p->hold_clock)
        return;
    struct kw_series **expired = NULL;
    size_t nexpired = 0, cap = 0;
    bool woke = false;
    for (int k = 0; k < p->cfg->nkpis; k++) {
        const struct kw_heap_entry *top = kw_heap_top(&p->due[k]);
        int64_t clock = point_clock(p, k);
        if (!top || clock == INT64_MIN || top->key > clock)
            continue;
        wake_due(p, k, clock, &expired, &nexpired, &cap);
        woke = true;
    }
    if (woke)
        settle(p, false, point_clock);
    for (size_t i = 0; i < nexpired; i++)
        expire(p, expired[i]);
    free(expired);
}

int kw_pipeline_point(void *ctx, const struct kw_point *pt, enum kw_reject *why)
{
    struct kw_pipeline *p = ctx;
    int used = 0, refused = 0;
    bool took = false;
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
        if (add_to_kpi(p, k, role, pt, why)) {
            refused++;
        } else {
            used++;
            took = true;
        }
    }
    if (took)
        catch_up(p);
    if (!used && !refused)
        p->stats.points_unwatched++;
    /* Accepted when at least one KPI took it; a point no KPI watches is fine. */
    return (refused && !used) ? -1 : 0;
}

/* When s next needs the clock, in its KPI's event time: the close point of
 * its oldest open interval, its nodata deadline, or its expiry. INT64_MAX
 * when never (it has no point yet). Each only moves later as s goes on, so
 * a stale key in the queue is early, never late: waking early is harmless. */
static int64_t next_due(const struct kw_pipeline *p, const struct kw_series *s)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    int64_t due = INT64_MAX;
    if (kpi->interval_ms > 0 && s->open_start != INT64_MIN)
        due = s->open_start + kpi->interval_ms + kpi->lateness_ms;
    if (s->last_point_ts == INT64_MIN)
        return due;
    int64_t expire = s->last_point_ts + p->cfg->series_ttl_ms + 1;
    if (expire < due)
        due = expire;
    int64_t nodata = kw_alerting_nodata_due(s, kpi);
    if (nodata < due)
        due = nodata;
    return due;
}

/* Put s in its KPI's queue at key (INT64_MAX: take it out). */
static void schedule(struct kw_pipeline *p, struct kw_series *s, int64_t key)
{
    struct kw_heap *h = &p->due[s->kpi];
    if (key == INT64_MAX) {
        if (s->due_pos != KW_HEAP_NONE)
            kw_heap_remove(h, s->due_pos);
    } else if (s->due_pos == KW_HEAP_NONE) {
        kw_heap_push(h, key, s);
    } else {
        kw_heap_update(h, s->due_pos, key);
    }
}

static void emit(struct kw_pipeline *p, const struct kw_alert *alert)
{
    if (alert->status == KW_ALERT_FIRING)
        p->stats.alerts_fired++;
    else
        p->stats.alerts_resolved++;
    if (p->on_alert)
        p->on_alert(p->alert_ctx, alert);
}

/* A due series: close what is due, open or close its nodata alert, and
 * tell whether it has expired (it is then out of the queue). */
static bool wake(struct kw_pipeline *p, struct kw_series *s, int64_t clock)
{
    const struct kw_kpi_config *kpi = &p->cfg->kpis[s->kpi];
    close_due(p, s, clock);
    struct kw_alert alert;
    if (kw_alerting_nodata(s, kpi, clock, &alert)) /* its own alert: the phase stays */
        emit(p, &alert);
    bool expired = s->last_point_ts != INT64_MIN && clock - s->last_point_ts > p->cfg->series_ttl_ms;
    schedule(p, s, expired ? INT64_MAX : next_due(p, s));
    return expired;
}

/* Forget an idle series: its open alerts end with it. */
static void expire(struct kw_pipeline *p, struct kw_series *s)
{
    int64_t clock = effective_clock(p, s->kpi);
    struct kw_alert alert;
    int before = s->alert.phase;
    if (kw_alerting_nodata_end(s, &p->cfg->kpis[s->kpi], clock, &alert))
        emit(p, &alert);
    bool resolved = kw_alerting_resolve_silent(s, &p->cfg->kpis[s->kpi], clock, &alert);
    if (resolved)
        emit(p, &alert);
    phase_moved(p, s, before, resolved);
    kw_fdr_forget(&p->fdr[s->kpi], s); /* only verdicts of intervals not yet due */
    count_phase(p, s, s->alert.phase, -1); /* a pending alert goes with its series */
    p->kpi_series[s->kpi]--;
    kw_series_remove(&p->table, s);
    series_free(s, p);
    p->stats.series_expired++;
}

void kw_pipeline_tick(struct kw_pipeline *p, int64_t wall_ms)
{
    p->wall_ms = wall_ms;
    p->now_ms = wall_ms;
    struct kw_series **expired = NULL;
    size_t nexpired = 0, cap = 0;
    /* The due series of every KPI close what is due, then each KPI decides
     * the intervals all its series have closed, then idle series expire. */
    for (int k = 0; k < p->cfg->nkpis; k++) {
        struct kw_kpi_clock *c = &p->clocks[k];
        if (c->event_ms == INT64_MIN)
            continue;
        if (c->event_ms != c->seen_ms) {
            c->seen_ms = c->event_ms;
            c->wall_ms = wall_ms;
        }
        wake_due(p, k, effective_clock(p, k), &expired, &nexpired, &cap);
    }
    settle(p, false, effective_clock);
    for (size_t i = 0; i < nexpired; i++)
        expire(p, expired[i]);
    free(expired);
}

int64_t kw_pipeline_next_due(const struct kw_pipeline *p, int64_t wall_ms)
{
    if (!p->extrapolate)
        return -1;
    int64_t wait = -1;
    for (int k = 0; k < p->cfg->nkpis; k++) {
        const struct kw_heap_entry *top = kw_heap_top(&p->due[k]);
        const struct kw_kpi_clock *c = &p->clocks[k];
        if (!top || c->event_ms == INT64_MIN)
            continue;
        /* the clock flows with the wall clock from c->wall_ms on */
        int64_t drift = wall_ms > c->wall_ms ? wall_ms - c->wall_ms : 0;
        int64_t clock = c->event_ms + drift;
        int64_t w = top->key > clock ? top->key - clock : 0;
        if (p->live && clock > wall_ms) /* held at the wall clock until it catches up */
            w += clock - wall_ms;
        if (wait < 0 || w < wait)
            wait = w;
    }
    return wait;
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
    settle(p, true, effective_clock);
}

size_t kw_pipeline_firing(const struct kw_pipeline *p)
{
    size_t n = 0;
    for (int k = 0; k < p->cfg->nkpis; k++)
        n += p->kpi_firing[k];
    return n;
}


void kw_pipeline_adopt(struct kw_pipeline *p, struct kw_series *s)
{
    kw_series_insert(&p->table, s);
    p->kpi_series[s->kpi]++;
    count_phase(p, s, s->alert.phase, +1);
    if (s->alert.phase == KW_PHASE_FIRING)
        p->stats.firing_untold++;
    s->due_pos = KW_HEAP_NONE;
    schedule(p, s, next_due(p, s));
    struct kw_kpi_clock *c = &p->clocks[s->kpi];
    if (s->last_point_ts > c->event_ms)
        c->event_ms = s->last_point_ts;
}

size_t kw_pipeline_drop_partition(struct kw_pipeline *p, int partition)
{
    /* Collected first: removal shifts entries, so a scan could miss one. */
    struct kw_series **gone = xcalloc(p->table.count + 1, sizeof *gone);
    size_t n = 0;
    for (size_t i = 0; i < p->table.cap; i++) {
        struct kw_series *s = p->table.slots[i];
        if (s && (partition == KW_PIPELINE_ANY_PARTITION ? s->partition >= 0 : s->partition == partition))
            gone[n++] = s;
    }
    for (size_t i = 0; i < n; i++)
        kw_pipeline_drop(p, gone[i]);
    free(gone);
    return n;
}

void kw_pipeline_drop(struct kw_pipeline *p, struct kw_series *s)
{
    schedule(p, s, INT64_MAX);
    kw_fdr_forget(&p->fdr[s->kpi], s);
    count_phase(p, s, s->alert.phase, -1);
    p->kpi_series[s->kpi]--;
    if (s->alert.phase == KW_PHASE_FIRING)
        p->stats.firing_untold++;
    kw_series_remove(&p->table, s);
    series_free(s, p);
}

void kw_pipeline_resume(struct kw_pipeline *p)
{
    for (int k = 0; k < p->cfg->nkpis; k++) {
        p->clocks[k].gap_before = INT64_MAX;
        p->clocks[k].resuming = true;
    }
}

int64_t kw_pipeline_clock(const struct kw_pipeline *p)
{
    int64_t clock = INT64_MIN;
    for (int k = 0; k < p->cfg->nkpis; k++) {
        int64_t c = effective_clock(p, k);
        if (c > clock)
            clock = c;
    }
    return clock;
}
