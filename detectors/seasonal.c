/* seasonal: robust baseline per UTC time slot (hour of day/week, or interval of
 * day/week): robust z of the value against the median/MAD of the slot's last
 * `history` values, the MAD floored by recent errors of all slots (and, for
 * ratios, by the binomial sd). Use it for traffic that follows the clock.
 * Slots come from timestamps, so gaps never shift the phase; a 48-value
 * global median/MAD stands in while slots fill. */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sort_double.h>
#include <gsl/gsl_statistics_double.h>

#include "../lib/intmath.h"
#include "../lib/xmalloc.h"
#include "detector.h"

#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define MAX_HISTORY 64
#define MAX_SLOTS 10080
/* Rings across all slots: the last 48 values (the day-1 fallback baseline)
 * and the last 48 slot prediction errors (the pooled noise scale). */
#define RECENT 48
#define RECENT_MIN 12
/* 1 / Phi^-1(3/4): makes the MAD estimate the sd under normal noise. */
#define MAD_TO_SD 1.482602218505602
#define SPREAD_FLOOR_REL 1e-9
/* Ratios: events and trials are summed with this decay per interval for the
 * pooled rate (about the last 288 intervals, a day of 5-minute data). */
#define RATE_DECAY (1.0 - 1.0 / 288.0)

enum seasonal_period { PERIOD_AUTO, PERIOD_HOUR_OF_DAY, PERIOD_HOUR_OF_WEEK, PERIOD_SLOT_OF_DAY, PERIOD_SLOT_OF_WEEK };

static const char *const period_names[] = {"auto", "hour_of_day", "hour_of_week", "slot_of_day", "slot_of_week", NULL};

struct seasonal_config {
    int period;
    int history;
    int min_history;
    double threshold;
};

/* A ring of at most cap values; head is the next write position. */
struct ring {
    unsigned char cnt, head;
};

struct seasonal_state {
    int period;         /* resolved: never PERIOD_AUTO */
    int slots, hist;
    int64_t interval_ms;
    struct ring *meta;  /* [slots] */
    double *vals;       /* [slots * hist] */
    struct ring recent_meta;
    double recent[RECENT];
    struct ring error_meta;
    double error[RECENT]; /* |value - slot median| of recent slot-based verdicts */
    double error_sorted[RECENT]; /* the same values ascending: the pooled median without a select */
    double rate_num, rate_den;   /* ratios: decayed sums of events and trials */
};

static const struct kw_option seasonal_options[] = {
    {"period", KW_OPT_ENUM, "auto", offsetof(struct seasonal_config, period), KW_NORANGE,
     .choices = period_names,
     .desc = "Slot of the UTC clock: hour_of_day (24 slots) or hour_of_week (168, from Monday 00:00) "
             "for intervals of 1h or more; slot_of_day or slot_of_week (one slot per interval) for shorter. "
             "auto: slot_of_day under 1h, hour_of_day from 1h, hour_of_week (the day of week) from 1d."},
    {"history", KW_OPT_INT, "8", offsetof(struct seasonal_config, history), 3, MAX_HISTORY,
     .desc = "Values kept per slot, e.g. the same hour on the last 8 days."},
    {"min_history", KW_OPT_INT, "3", offsetof(struct seasonal_config, min_history), 1, MAX_HISTORY,
     .desc = "Values a slot needs before it is used; until then a global baseline of recent values is."},
    {"threshold", KW_OPT_DOUBLE, "5", offsetof(struct seasonal_config, threshold), 0.1, 1000,
     .desc = "Alert when the robust z |value - median| / (1.4826 MAD) exceeds this. 5 scored best on "
             "the labelled benchmark; 3.5 gave 1-2 false alarms/1k intervals on quiet series."},
    KW_OPT_END,
};

static int seasonal_check(void *cfg, const char *path, char *err, size_t errlen)
{
    const struct seasonal_config *c = cfg;
    if (c->min_history > c->history) {
        snprintf(err, errlen, "%s.min_history: must be <= history (%d)", path, c->history);
        return -1;
    }
    return 0;
}

/* The period for this interval: auto picks the finest clock slot whose ring
 * holds the same time on previous cycles; daily data repeats by weekday. */
static int resolve_period(int period, int64_t interval_ms)
{
    if (period != PERIOD_AUTO)
        return period;
    if (interval_ms < HOUR_MS)
        return PERIOD_SLOT_OF_DAY;
    return interval_ms < DAY_MS ? PERIOD_HOUR_OF_DAY : PERIOD_HOUR_OF_WEEK;
}

/* Number of slots for the resolved period, or -1 with err set. */
static int64_t slot_count(int period, int64_t interval_ms, char *err, size_t errlen)
{
    if (period == PERIOD_HOUR_OF_DAY || period == PERIOD_HOUR_OF_WEEK) {
        /* With shorter intervals a slot's ring would hold the last few minutes of
         * today instead of the same hour on previous days. */
        if (interval_ms < HOUR_MS) {
            snprintf(err, errlen, "period %s needs an interval of at least 1h (this one is %gs); "
                     "use slot_of_day or slot_of_week", period_names[period], (double)interval_ms / 1000.0);
            return -1;
        }
        return period == PERIOD_HOUR_OF_DAY ? 24 : 168;
    }
    if (DAY_MS % interval_ms != 0) {
        snprintf(err, errlen, "period %s needs an interval that divides 1 day (this one is %gs)",
                 period_names[period], (double)interval_ms / 1000.0);
        return -1;
    }
    int64_t n = DAY_MS / interval_ms * (period == PERIOD_SLOT_OF_WEEK ? 7 : 1);
    if (n > MAX_SLOTS) {
        snprintf(err, errlen, "period %s gives %" PRId64 " slots; at most %d allowed (use a longer interval)",
                 period_names[period], n, MAX_SLOTS);
        return -1;
    }
    return n;
}

static int seasonal_accepts(const void *cfg, const struct kw_series_info *info, char *err, size_t errlen)
{
    const struct seasonal_config *c = cfg;
    return slot_count(resolve_period(c->period, info->interval_ms), info->interval_ms, err, errlen) < 0 ? -1 : 0;
}

/* Slot of a timestamp; weeks start on Monday 00:00 UTC (the epoch was a Thursday). */
static int slot_of(const struct seasonal_state *st, int64_t ts_ms)
{
    switch (st->period) {
    case PERIOD_HOUR_OF_DAY:
        return kw_floor_mod(kw_floor_div(ts_ms, HOUR_MS), 24);
    case PERIOD_HOUR_OF_WEEK:
        return kw_floor_mod(kw_floor_div(ts_ms, HOUR_MS) + 72, 168);
    case PERIOD_SLOT_OF_DAY:
        return kw_floor_mod(kw_floor_div(ts_ms, st->interval_ms), st->slots);
    default:
        return kw_floor_mod(kw_floor_div(ts_ms + 3 * DAY_MS, st->interval_ms), st->slots);
    }
}

static void *seasonal_new(const void *cfg, const struct kw_series_info *info)
{
    const struct seasonal_config *c = cfg;
    char err[KW_ERR_LEN];
    struct seasonal_state *st = xcalloc(1, sizeof *st);
    st->period = resolve_period(c->period, info->interval_ms);
    int64_t slots = slot_count(st->period, info->interval_ms, err, sizeof err);
    if (slots < 0) /* accepts() rejects this series; stay memory-safe anyway */
        slots = st->period == PERIOD_HOUR_OF_DAY ? 24 : (st->period == PERIOD_HOUR_OF_WEEK ? 168 : 1);
    st->slots = (int)slots;
    st->hist = c->history;
    st->interval_ms = info->interval_ms;
    st->meta = xcalloc((size_t)st->slots, sizeof *st->meta);
    st->vals = xcalloc((size_t)st->slots * (size_t)st->hist, sizeof(double));
    return st;
}

static void seasonal_free(void *state)
{
    struct seasonal_state *st = state;
    if (!st)
        return;
    free(st->meta);
    free(st->vals);
    free(st);
}

static void ring_push(struct ring *r, double *vals, int cap, double v)
{
    vals[r->head] = v;
    r->head = (unsigned char)((r->head + 1) % cap);
    if (r->cnt < cap)
        r->cnt++;
}

/* Median and MAD-based sd (1.4826 MAD) of n values (n <= max(RECENT,
 * MAX_HISTORY)) by two selections, O(n); the same arithmetic as
 * gsl_stats_mad, without its second pass for the median. */
static void robust_centre(const double *v, int n, double *median, double *spread)
{
    double work[RECENT > MAX_HISTORY ? RECENT : MAX_HISTORY];
    memcpy(work, v, (size_t)n * sizeof(double));
    double m = gsl_stats_median(work, 1, (size_t)n);
    for (int i = 0; i < n; i++)
        work[i] = fabs(v[i] - m);
    *median = m;
    *spread = MAD_TO_SD * gsl_stats_median(work, 1, (size_t)n);
}

/* Median of sorted a[0..n), n > 0. */
static double sorted_median(const double *a, int n)
{
    return n % 2 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
}

/* Push e into the error ring and keep error_sorted in step: drop the value
 * the ring overwrites, insert e; O(RECENT) moves of at most 48 doubles. */
static void error_push(struct seasonal_state *st, double e)
{
    struct ring *r = &st->error_meta;
    double *a = st->error_sorted;
    int n = r->cnt;
    if (n == RECENT) {
        double old = st->error[r->head];
        int i = 0;
        while (i < n - 1 && a[i] != old) /* the ring and the mirror hold the same values */
            i++;
        memmove(a + i, a + i + 1, (size_t)(n - 1 - i) * sizeof(double));
        n--;
    }
    int j = n;
    while (j > 0 && a[j - 1] > e) {
        a[j] = a[j - 1];
        j--;
    }
    a[j] = e;
    ring_push(r, st->error, RECENT, e);
}

/* Counts and rates are not normal: with a small expected count or a rare
 * rate the normal approximation overstates a deviation (7 drop-offs of 120
 * at a 1% rate looks like z = 6.7, but its binomial tail is 1.6e-4, z = 3.6).
 * Re-test a flagged point with the exact Poisson or binomial tail and keep
 * the less extreme of the two z values. Only flagged points pay for it. */
static double exact_tail_z(const struct kw_series_info *info, const struct kw_sample *in, double med, double n,
                           const struct seasonal_state *st, double z)
{
    double tail;
    if (info->is_count && med < 1e5 && in->value >= 0) {
        double lambda = fmax(med, 0.5);
        unsigned k = (unsigned)llround(in->value);
        tail = z > 0 ? (k ? gsl_cdf_poisson_Q(k - 1, lambda) : 1.0) : gsl_cdf_poisson_P(k, lambda);
    } else if (info->is_ratio && isfinite(n) && n >= 1 && n < 1e6 && isfinite(in->numerator)) {
        double pooled_p = st->rate_den > 0 ? st->rate_num / st->rate_den : 0.0;
        double p = fmin(fmax(fmax(med, pooled_p), 0.5 / n), 1.0 - 0.5 / n);
        unsigned trials = (unsigned)llround(n), k = (unsigned)llround(in->numerator);
        if (k > trials)
            return z;
        tail = z > 0 ? (k ? gsl_cdf_binomial_Q(k - 1, p, trials) : 1.0) : gsl_cdf_binomial_P(k, p, trials);
    } else {
        return z;
    }
    if (!(tail >= 1e-300))
        tail = 1e-300;
    if (tail >= 0.5)
        return 0.0;
    double z_exact = gsl_cdf_ugaussian_Qinv(tail);
    return z > 0 ? fmin(z, z_exact) : fmax(z, -z_exact);
}

/* O(history) selection for the slot's median and MAD plus an O(48) sorted
 * insert for the pooled error scale: constant per update, whatever the
 * number of slots. */
static void seasonal_update(void *state, const void *cfg, const struct kw_series_info *info,
                            const struct kw_sample *in, struct kw_verdict *out)
{
    struct seasonal_state *st = state;
    const struct seasonal_config *c = cfg;
    double x = in->value;
    if (!isfinite(x))
        return;
    int s = slot_of(st, in->ts_ms);
    struct ring *r = &st->meta[s];
    double *vals = st->vals + (size_t)s * (size_t)st->hist;
    double med = 0, spread = 0, slot_med = 0;
    if (r->cnt > 0)
        robust_centre(vals, r->cnt, &slot_med, &spread);
    if (r->cnt >= c->min_history && st->error_meta.cnt >= RECENT_MIN) {
        /* A MAD from 3..8 values is often far too small (with 3 values one
         * deviation is always 0). The spread is floored by the robust scale
         * of the last 48 slot prediction errors across all slots: the noise
         * this baseline actually shows, with 48 values behind it. */
        double pooled = MAD_TO_SD * sorted_median(st->error_sorted, st->error_meta.cnt);
        med = slot_med;
        spread = fmax(spread, pooled);
        out->ready = true;
    } else if (st->recent_meta.cnt >= RECENT_MIN) {
        robust_centre(st->recent, st->recent_meta.cnt, &med, &spread);
        out->ready = true;
    }
    if (out->ready) {
        /* A flat history has MAD 0: floor the spread so z stays finite. For
         * counts the Poisson sd sqrt(median) is the least noise to expect;
         * for ratios the binomial sd of this interval's n trials, with p kept
         * >= 0.5/n so a slot median of 0 (small n) still leaves room for one
         * event. */
        double min_spread = SPREAD_FLOOR_REL * fmax(1.0, fabs(med));
        if (info->is_count)
            min_spread = fmax(min_spread, sqrt(fmax(med, 1.0)));
        double n = in->denominator;
        if (info->is_ratio && isfinite(n) && n > 0) {
            /* With a few trials per interval most slot medians are 0 whatever
             * the true rate: the pooled rate of all slots is the better guess. */
            double pooled_p = st->rate_den > 0 ? st->rate_num / st->rate_den : 0.0;
            double p = fmin(fmax(fmax(med, pooled_p), 0.5 / n), 1.0 - 0.5 / n);
            if (p > 0)
                min_spread = fmax(min_spread, sqrt(p * (1.0 - p) / n));
        }
        if (spread < min_spread)
            spread = min_spread;
        double z = (x - med) / spread;
        if (fabs(z) > c->threshold)
            z = exact_tail_z(info, in, med, n, st, z);
        out->expected = med;
        out->lower = med - c->threshold * spread;
        out->upper = med + c->threshold * spread;
        out->score = z;
        out->anomalous = fabs(z) > c->threshold;
        out->anomaly_score = kw_squash(fabs(z), c->threshold);
    }
    /* Errors are collected from a slot's first value on, so the pool is full
     * when slots reach min_history (early errors, against medians of fewer
     * values, are larger: a conservative start). Anomalies go in unclipped:
     * the medians ignore up to (history-1)/2 of them per slot (24 of the 48
     * errors), and a lasting change becomes the new normal after that. */
    if (r->cnt > 0)
        error_push(st, fabs(x - slot_med));
    ring_push(r, vals, st->hist, x);
    ring_push(&st->recent_meta, st->recent, RECENT, x);
    if (info->is_ratio && isfinite(in->numerator) && isfinite(in->denominator) && in->denominator > 0) {
        st->rate_num = RATE_DECAY * st->rate_num + in->numerator;
        st->rate_den = RATE_DECAY * st->rate_den + in->denominator;
    }
}

/* A ring as a JSON array, oldest first, NAN (null) padded to cap. */
static cJSON *ring_save(const struct ring *r, const double *vals, int cap)
{
    double tmp[RECENT > MAX_HISTORY ? RECENT : MAX_HISTORY];
    int start = r->cnt < cap ? 0 : r->head;
    for (int i = 0; i < cap; i++)
        tmp[i] = i < r->cnt ? vals[(start + i) % cap] : NAN;
    return kw_json_doubles(tmp, (size_t)cap);
}

/* Inverse of ring_save into r/vals; values must be a finite prefix. */
static int ring_load(const cJSON *json, struct ring *r, double *vals, int cap)
{
    double tmp[RECENT > MAX_HISTORY ? RECENT : MAX_HISTORY];
    if (kw_json_read_doubles(json, tmp, (size_t)cap))
        return -1;
    int cnt = 0;
    while (cnt < cap && isfinite(tmp[cnt]))
        cnt++;
    for (int i = cnt; i < cap; i++)
        if (!isnan(tmp[i]))
            return -1;
    memcpy(vals, tmp, (size_t)cap * sizeof(double));
    r->cnt = (unsigned char)cnt;
    r->head = (unsigned char)(cnt % cap);
    return 0;
}

static cJSON *seasonal_save(const void *state, const void *cfg)
{
    (void)cfg;
    const struct seasonal_state *st = state;
    cJSON *obj = cJSON_CreateObject();
    cJSON *slots = cJSON_AddArrayToObject(obj, "slots");
    for (int s = 0; s < st->slots; s++)
        cJSON_AddItemToArray(slots, ring_save(&st->meta[s], st->vals + (size_t)s * (size_t)st->hist, st->hist));
    cJSON_AddItemToObject(obj, "recent", ring_save(&st->recent_meta, st->recent, RECENT));
    cJSON_AddItemToObject(obj, "error", ring_save(&st->error_meta, st->error, RECENT));
    double rate[2] = {st->rate_num, st->rate_den};
    cJSON_AddItemToObject(obj, "rate", kw_json_doubles(rate, 2));
    return obj;
}

static int seasonal_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct seasonal_state *st = state;
    const cJSON *slots = cJSON_GetObjectItemCaseSensitive(json, "slots");
    if (!cJSON_IsArray(slots) || cJSON_GetArraySize(slots) != st->slots)
        return -1;
    /* Load into a scratch copy so a bad document leaves the state fresh. */
    size_t nvals = (size_t)st->slots * (size_t)st->hist;
    struct ring *meta = xcalloc((size_t)st->slots, sizeof *meta);
    double *vals = xcalloc(nvals, sizeof(double));
    struct ring recent_meta = {0, 0}, error_meta = {0, 0};
    double recent[RECENT], error[RECENT];
    int s = 0, rc = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, slots) {
        if (ring_load(item, &meta[s], vals + (size_t)s * (size_t)st->hist, st->hist)) {
            rc = -1;
            break;
        }
        s++;
    }
    if (rc == 0)
        rc = ring_load(cJSON_GetObjectItemCaseSensitive(json, "recent"), &recent_meta, recent, RECENT);
    if (rc == 0)
        rc = ring_load(cJSON_GetObjectItemCaseSensitive(json, "error"), &error_meta, error, RECENT);
    /* Absent in states saved before the ratio floor: start the sums afresh. */
    double rate[2] = {0, 0};
    const cJSON *rate_json = cJSON_GetObjectItemCaseSensitive(json, "rate");
    if (rc == 0 && rate_json &&
        (kw_json_read_doubles(rate_json, rate, 2) || !(rate[0] >= 0) || !(rate[1] >= 0)))
        rc = -1;
    if (rc) {
        free(meta);
        free(vals);
        return -1;
    }
    free(st->meta);
    free(st->vals);
    st->meta = meta;
    st->vals = vals;
    st->recent_meta = recent_meta;
    memcpy(st->recent, recent, sizeof recent);
    st->error_meta = error_meta;
    memcpy(st->error, error, sizeof error);
    memcpy(st->error_sorted, error, (size_t)error_meta.cnt * sizeof(double));
    gsl_sort(st->error_sorted, 1, (size_t)error_meta.cnt);
    st->rate_num = rate[0];
    st->rate_den = rate[1];
    return 0;
}

static size_t seasonal_bytes(const void *state)
{
    const struct seasonal_state *st = state;
    return sizeof *st + (size_t)st->slots * (sizeof *st->meta + (size_t)st->hist * sizeof(double));
}

const struct kw_detector_type seasonal_detector = {
    .name = "seasonal",
    .description = "Robust z against the median/MAD of the same time slot (of the day or week) on previous cycles.",
    .options = seasonal_options,
    .config_size = sizeof(struct seasonal_config),
    .config_check = seasonal_check,
    .accepts = seasonal_accepts,
    .state_new = seasonal_new,
    .update = seasonal_update,
    .state_save = seasonal_save,
    .state_load = seasonal_load,
    .state_free = seasonal_free,
    .state_bytes = seasonal_bytes,
};
