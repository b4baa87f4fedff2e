/* holt_winters: additive Holt-Winters (triple exponential smoothing, Hyndman &
 * Athanasopoulos, "Forecasting: Principles and Practice", §8.3) with a band of
 * +-threshold (4.5) residual sds around the one-step forecast. Use it for KPIs with
 * a trend and one fixed seasonal cycle (daily traffic). Values are placed by
 * timestamp: a gap advances the level along the trend and keeps the phase. */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/intmath.h"
#include "../lib/xmalloc.h"
#include "detector.h"

/* More slots than a week of minutes is a misconfiguration, not a season. */
#define HW_MAX_SLOTS 10080
/* Keeps the band non-zero on a perfectly flat series (relative to the forecast). */
#define HW_SD_FLOOR_REL 1e-9

struct hw_config {
    double alpha, beta, gamma;
    int64_t season_ms;
    double threshold;
    double sd_alpha;
};

/* The first two seasons (positions p = 0..2m-1 after the first value),
 * summed up as they arrive instead of kept: while warming up, season[slot]
 * holds the sum of the slot's values (one or two), and this struct the rest
 * of what the classical initialisation needs. Values arrive in position
 * order, so the second value of a slot finds the first one alone in its sum. */
struct hw_warmup {
    int count;                 /* values present */
    int pairs;                 /* slots present in both seasons */
    double trend_sum;          /* sum over pairs of (y[m+i] - y[i]) / m, in position order */
    double diff_mean, diff_m2; /* running mean and sum of squared deviations of the pairs' y[m+i] - y[i] */
    double mean, m2;           /* the same over all values */
    uint64_t present[];        /* [ceil(2m / 64)] bit p: position p had a value */
};

struct hw_state {
    int m;           /* season length in intervals */
    bool started;    /* n0/last are valid */
    bool running;    /* initialised; false while collecting the first two seasons */
    int64_t n0;      /* interval index (ts / interval) of the first value */
    int64_t last;    /* interval index the level/trend refer to */
    double level, trend;
    double var;      /* exponentially weighted one-step residual variance */
    double *season;  /* [m], by interval index mod m (UTC-aligned phase); slot sums while warming up */
    struct hw_warmup *warm; /* NULL once running */
};

static const struct kw_option hw_options[] = {
    {"alpha", KW_OPT_DOUBLE, "0.1", offsetof(struct hw_config, alpha), 0, 1,
     .desc = "Level smoothing; 0.1 remembers about 10 intervals, so a short spike barely moves the level."},
    {"beta", KW_OPT_DOUBLE, "0.01", offsetof(struct hw_config, beta), 0, 1,
     .desc = "Trend smoothing; small, because KPI trends drift slowly and a jumpy trend overshoots."},
    {"gamma", KW_OPT_DOUBLE, "0.1", offsetof(struct hw_config, gamma), 0, 1,
     .desc = "Seasonal smoothing; each slot is updated once a season, so 0.1 remembers about 10 seasons."},
    {"season", KW_OPT_DURATION, "1d", offsetof(struct hw_config, season_ms), 0.001, 3.2e7,
     .desc = "Season length; a multiple of the KPI interval, 2 to 10080 intervals."},
    {"threshold", KW_OPT_DOUBLE, "4.5", offsetof(struct hw_config, threshold), 0.1, 1000,
     .desc = "Alert when |value - forecast| exceeds this many residual sds. 4.5 scored best on the "
             "labelled benchmark; 3 gave 4-16 false alarms/1k intervals on quiet series."},
    {"sd_alpha", KW_OPT_DOUBLE, "0.02", offsetof(struct hw_config, sd_alpha), 0.001, 1,
     .desc = "Smoothing of the residual variance (0.02 remembers about 50 intervals)."},
    KW_OPT_END,
};

static int hw_check(void *cfg, const char *path, char *err, size_t errlen)
{
    const struct hw_config *c = cfg;
    /* FPP's admissible region for the additive method: 0 <= gamma <= 1 - alpha. */
    if (c->gamma > 1.0 - c->alpha) {
        snprintf(err, errlen, "%s.gamma: must be <= 1 - alpha (%g)", path, 1.0 - c->alpha);
        return -1;
    }
    return 0;
}

static int hw_accepts(const void *cfg, const struct kw_series_info *info, char *err, size_t errlen)
{
    const struct hw_config *c = cfg;
    if (c->season_ms % info->interval_ms != 0) {
        snprintf(err, errlen, "season (%gs) must be a multiple of the interval (%gs)",
                 (double)c->season_ms / 1000.0, (double)info->interval_ms / 1000.0);
        return -1;
    }
    int64_t m = c->season_ms / info->interval_ms;
    if (m < 2) {
        snprintf(err, errlen, "season must span at least 2 intervals (it spans %" PRId64 ")", m);
        return -1;
    }
    if (m > HW_MAX_SLOTS) {
        snprintf(err, errlen, "season spans %" PRId64 " intervals; at most %d allowed "
                 "(use a longer interval or a shorter season)", m, HW_MAX_SLOTS);
        return -1;
    }
    return 0;
}

static size_t warm_words(int m)
{
    return (2 * (size_t)m + 63) / 64;
}

static size_t warm_size(int m)
{
    return sizeof(struct hw_warmup) + warm_words(m) * sizeof(uint64_t);
}

static struct hw_warmup *warm_new(int m)
{
    return xcalloc(1, warm_size(m));
}

static bool warm_has(const struct hw_warmup *w, int p)
{
    return (w->present[p / 64] >> (p % 64)) & 1;
}

/* Welford's update of a running mean and sum of squared deviations, n
 * values including x. (gsl_rstat would carry a quantile workspace per
 * series for the same two numbers.) */
static void running_add(double *mean, double *m2, int n, double x)
{
    double d = x - *mean;
    *mean += d / n;
    *m2 += d * (x - *mean);
}

/* Take the value y at warm-up position p (0 <= p < 2m, after every present
 * position before it). */
static void warm_add(struct hw_state *st, int p, double y)
{
    struct hw_warmup *w = st->warm;
    int m = st->m;
    int slot = kw_floor_mod(st->n0 + p, m);
    if (p >= m && warm_has(w, p - m)) {
        double d = y - st->season[slot];
        w->trend_sum += d / m;
        w->pairs++;
        running_add(&w->diff_mean, &w->diff_m2, w->pairs, d);
        st->season[slot] += y;
    } else {
        st->season[slot] = y;
    }
    w->present[p / 64] |= UINT64_C(1) << (p % 64);
    w->count++;
    running_add(&w->mean, &w->m2, w->count, y);
}

/* Whether slot s has a value in the warm-up (at position i or i + m). */
static bool slot_seen(const struct hw_state *st, int s)
{
    int i = kw_floor_mod(s - st->n0, st->m);
    return warm_has(st->warm, i) || warm_has(st->warm, i + st->m);
}

/* Forget the warm-up so far (to start it again). */
static void warm_clear(struct hw_state *st)
{
    memset(st->warm, 0, warm_size(st->m));
    memset(st->season, 0, (size_t)st->m * sizeof(double));
}

static void *hw_new(const void *cfg, const struct kw_series_info *info)
{
    const struct hw_config *c = cfg;
    struct hw_state *st = xcalloc(1, sizeof *st);
    int64_t m = c->season_ms / info->interval_ms;
    /* accepts() rejects anything outside 2..HW_MAX_SLOTS; stay memory-safe anyway. */
    st->m = (int)(m < 1 ? 1 : (m > HW_MAX_SLOTS ? HW_MAX_SLOTS : m));
    st->season = xcalloc((size_t)st->m, sizeof(double));
    st->warm = warm_new(st->m);
    return st;
}

static void hw_free(void *state)
{
    struct hw_state *st = state;
    if (!st)
        return;
    free(st->season);
    free(st->warm);
    free(st);
}

/* Classical initialisation from the first two seasons (positions 0..2m-1
 * after the first value): the trend is the mean over slots of (y[m+i] - y[i]) / m,
 * each slot's index is its mean detrended value less the mean over slots,
 * and what the fit leaves over gives the first residual variance. Only
 * present values count: a slot missing from one season drops out of the
 * trend, a slot never seen starts at index 0. */
static void hw_initialise(struct hw_state *st)
{
    int m = st->m;
    const struct hw_warmup *w = st->warm;
    double trend = w->pairs ? w->trend_sum / w->pairs : 0.0;
    /* A slot's mean detrended value: (its sum - trend * the sum of its
     * positions) / its count, positions i and/or i + m. Level at position
     * 0: the mean over seen slots (not over values, so a slot seen twice
     * does not weigh more). */
    int seen_slots = 0;
    double level0 = 0;
    for (int s = 0; s < m; s++) {
        int i = kw_floor_mod(s - st->n0, m);
        bool first = warm_has(w, i), second = warm_has(w, i + m);
        if (!first && !second)
            continue;
        double positions = (first ? i : 0) + (second ? i + m : 0);
        st->season[s] = (st->season[s] - trend * positions) / (first + second);
        level0 += st->season[s];
        seen_slots++;
    }
    level0 /= seen_slots; /* at least m values are present, so seen_slots >= 1 */
    for (int s = 0; s < m; s++)
        st->season[s] = slot_seen(st, s) ? st->season[s] - level0 : 0.0;
    /* A slot seen once fits exactly. A pair leaves residuals +-(d - trend m) / 2
     * for its d = y[m+i] - y[i], and trend m is the pairs' mean d: the
     * squares sum to half the pairs' squared deviations of d. */
    double ss = w->diff_m2 / 2;
    /* Degrees of freedom: n values less one index per seen slot, level and trend.
     * With none left (m = 2, or a gappy warm-up) the plain variance of the values
     * is a wide, conservative start that the smoothing then narrows. */
    int df = w->count - seen_slots - 2;
    if (df >= 1)
        st->var = ss / df;
    else
        st->var = w->count >= 2 ? w->m2 / (w->count - 1) : 0.0;
    st->last = st->n0 + 2 * m - 1;
    st->level = level0 + trend * (2 * m - 1);
    st->trend = trend;
    st->running = true;
    free(st->warm);
    st->warm = NULL;
}

static void hw_update(void *state, const void *cfg, const struct kw_series_info *info,
                      const struct kw_sample *in, struct kw_verdict *out)
{
    struct hw_state *st = state;
    const struct hw_config *c = cfg;
    double y = in->value;
    if (!isfinite(y))
        return; /* missing: the next value's timestamp accounts for the gap */
    int64_t n = kw_floor_div(in->ts_ms, info->interval_ms);
    if (!st->started) {
        st->started = true;
        st->n0 = st->last = n;
        warm_add(st, 0, y);
        return;
    }
    if (n <= st->last)
        return; /* duplicate or out-of-order interval: ignored */
    if (!st->running) {
        if (n - st->n0 < 2 * (int64_t)st->m) {
            warm_add(st, (int)(n - st->n0), y);
            st->last = n;
            return;
        }
        /* Fewer than half the warm-up present cannot give one index per slot
         * or a noise level worth alerting on: start the warm-up again here. */
        if (st->warm->count < st->m) {
            warm_clear(st);
            st->n0 = st->last = n;
            warm_add(st, 0, y);
            return;
        }
        hw_initialise(st);
    }
    /* Skipped intervals advance the level along the trend (FPP's h-step
     * forecast l + h*b + s); the seasonal indices wait for their slot. */
    int64_t h = n - st->last;
    double level = st->level + (double)(h - 1) * st->trend;
    int j = kw_floor_mod(n, st->m);
    double forecast = level + st->trend + st->season[j];
    double sd = sqrt(st->var);
    double sd_floor = HW_SD_FLOOR_REL * fmax(1.0, fabs(forecast));
    if (sd < sd_floor)
        sd = sd_floor;
    double band = c->threshold * sd;
    double e = y - forecast;
    double z = e / sd;

    out->ready = true;
    out->expected = forecast;
    out->lower = forecast - band;
    out->upper = forecast + band;
    out->score = z;
    out->anomalous = fabs(z) > c->threshold;
    out->anomaly_score = kw_squash(fabs(z), c->threshold);

    /* An anomalous value is winsorised to the band edge before it updates the
     * model, so a spike cannot drag the baseline; a lasting shift still gets
     * in, because each clipped residual (k*sd)^2 widens the band. */
    double yc = out->anomalous ? forecast + copysign(band, e) : y;
    double new_level = c->alpha * (yc - st->season[j]) + (1.0 - c->alpha) * (level + st->trend);
    double new_trend = c->beta * (new_level - level) + (1.0 - c->beta) * st->trend;
    st->season[j] = c->gamma * (yc - level - st->trend) + (1.0 - c->gamma) * st->season[j];
    st->level = new_level;
    st->trend = new_trend;
    st->var = (1.0 - c->sd_alpha) * st->var + c->sd_alpha * (yc - forecast) * (yc - forecast);
    st->last = n;
}

/* The warm-up as saved: its present positions, the seen slots' sums (null
 * for a slot not seen) and the running sums of struct hw_warmup. */
static cJSON *warm_save(const struct hw_state *st)
{
    const struct hw_warmup *w = st->warm;
    cJSON *obj = cJSON_CreateObject();
    cJSON *present = cJSON_AddArrayToObject(obj, "present");
    for (int p = 0; p < 2 * st->m; p++)
        if (warm_has(w, p))
            cJSON_AddItemToArray(present, cJSON_CreateNumber(p));
    cJSON *sums = cJSON_AddArrayToObject(obj, "sums");
    for (int s = 0; s < st->m; s++)
        cJSON_AddItemToArray(sums, kw_json_number(slot_seen(st, s) ? st->season[s] : NAN));
    cJSON_AddItemToObject(obj, "trend_sum", kw_json_number(w->trend_sum));
    cJSON_AddItemToObject(obj, "diff_mean", kw_json_number(w->diff_mean));
    cJSON_AddItemToObject(obj, "diff_m2", kw_json_number(w->diff_m2));
    cJSON_AddItemToObject(obj, "mean", kw_json_number(w->mean));
    cJSON_AddItemToObject(obj, "m2", kw_json_number(w->m2));
    return obj;
}

static cJSON *hw_save(const void *state, const void *cfg)
{
    (void)cfg;
    const struct hw_state *st = state;
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddBoolToObject(obj, "started", st->started);
    cJSON_AddNumberToObject(obj, "n0", (double)st->n0);
    cJSON_AddNumberToObject(obj, "last", (double)st->last);
    if (st->running) {
        cJSON_AddItemToObject(obj, "level", kw_json_number(st->level));
        cJSON_AddItemToObject(obj, "trend", kw_json_number(st->trend));
        cJSON_AddItemToObject(obj, "var", kw_json_number(st->var));
        cJSON_AddItemToObject(obj, "season", kw_json_doubles(st->season, (size_t)st->m));
    } else {
        cJSON_AddItemToObject(obj, "warmup", warm_save(st));
    }
    return obj;
}

static int read_number(const cJSON *obj, const char *key, double *v)
{
    return kw_json_get_double(cJSON_GetObjectItemCaseSensitive(obj, key), v);
}

/* Read a warm-up written by warm_save into tmp (fresh season and warm-up),
 * refusing positions past span (the last value's position; -1 when none
 * arrived yet). Returns 0 or -1. */
static int warm_load(struct hw_state *tmp, const cJSON *json, int64_t span)
{
    struct hw_warmup *w = tmp->warm;
    int m = tmp->m;
    const cJSON *present = cJSON_GetObjectItemCaseSensitive(json, "present");
    const cJSON *it;
    double prev = -1;
    if (!cJSON_IsArray(present))
        return -1;
    cJSON_ArrayForEach(it, present) {
        if (!cJSON_IsNumber(it))
            return -1;
        double v = it->valuedouble;
        if (!(v > prev && v <= (double)span) || v != floor(v))
            return -1;
        int p = (int)v;
        w->present[p / 64] |= UINT64_C(1) << (p % 64);
        w->count++;
        w->pairs += p >= m && warm_has(w, p - m);
        prev = v;
    }
    if (kw_json_read_doubles(cJSON_GetObjectItemCaseSensitive(json, "sums"), tmp->season, (size_t)m))
        return -1;
    for (int s = 0; s < m; s++) {
        if (!slot_seen(tmp, s))
            tmp->season[s] = 0;
        else if (!isfinite(tmp->season[s]))
            return -1;
    }
    if (read_number(json, "trend_sum", &w->trend_sum) || read_number(json, "diff_mean", &w->diff_mean) ||
        read_number(json, "diff_m2", &w->diff_m2) || read_number(json, "mean", &w->mean) ||
        read_number(json, "m2", &w->m2) || w->diff_m2 < 0 || w->m2 < 0)
        return -1;
    /* Sums over no values are 0: anything else would not even keep m2 >= 0. */
    if ((w->count == 0 && (w->mean != 0 || w->m2 != 0)) ||
        (w->pairs == 0 && (w->trend_sum != 0 || w->diff_mean != 0 || w->diff_m2 != 0)))
        return -1;
    return 0;
}

/* A warm-up as older versions saved it, every value of the first two
 * seasons by position (null = missing): replayed into tmp as if it had
 * arrived, so the initialisation comes out as it would have. */
static int warm_load_values(struct hw_state *tmp, const cJSON *json, int64_t span)
{
    double *y = xmalloc(2 * (size_t)tmp->m * sizeof(double));
    int rc = kw_json_read_doubles(json, y, 2 * (size_t)tmp->m);
    for (int p = 0; rc == 0 && p < 2 * tmp->m; p++) {
        if (isnan(y[p]))
            continue;
        if (!isfinite(y[p]) || p > span)
            rc = -1;
        else
            warm_add(tmp, p, y[p]);
    }
    free(y);
    return rc;
}

static int hw_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct hw_state *st = state;
    size_t m = (size_t)st->m;
    const cJSON *started = cJSON_GetObjectItemCaseSensitive(json, "started");
    double n0, last;
    if (!cJSON_IsBool(started) || read_number(json, "n0", &n0) || read_number(json, "last", &last))
        return -1;
    /* interval indexes of timestamps (at most 4e12 ms): larger ones would
     * overflow the int64_t they are converted to and the index arithmetic */
    if (!(fabs(n0) <= 4e12 && fabs(last) <= 4e12) || last < n0)
        return -1;
    const cJSON *season = cJSON_GetObjectItemCaseSensitive(json, "season");
    /* Read into scratch first so a bad document leaves the state fresh. */
    struct hw_state tmp = {.m = st->m, .n0 = (int64_t)n0, .season = xcalloc(m, sizeof(double))};
    int rc;
    if (season) {
        rc = read_number(json, "level", &tmp.level) || read_number(json, "trend", &tmp.trend) ||
             read_number(json, "var", &tmp.var) || tmp.var < 0 || kw_json_read_doubles(season, tmp.season, m) ? -1 : 0;
        for (size_t i = 0; rc == 0 && i < m; i++)
            if (!isfinite(tmp.season[i]))
                rc = -1;
    } else if (last - n0 >= 2.0 * (double)m) {
        rc = -1;
    } else {
        tmp.warm = warm_new(st->m);
        int64_t span = cJSON_IsTrue(started) ? (int64_t)last - (int64_t)n0 : -1;
        const cJSON *warmup = cJSON_GetObjectItemCaseSensitive(json, "warmup");
        rc = warmup ? warm_load(&tmp, warmup, span)
                    : warm_load_values(&tmp, cJSON_GetObjectItemCaseSensitive(json, "warm"), span);
    }
    if (rc) {
        free(tmp.season);
        free(tmp.warm);
        return -1;
    }
    free(st->season);
    free(st->warm);
    st->season = tmp.season;
    st->warm = tmp.warm;
    st->running = season != NULL;
    st->started = cJSON_IsTrue(started);
    st->n0 = tmp.n0;
    st->last = (int64_t)last;
    st->level = tmp.level;
    st->trend = tmp.trend;
    st->var = tmp.var;
    return 0;
}

static size_t hw_bytes(const void *state)
{
    const struct hw_state *st = state;
    return sizeof *st + (size_t)st->m * sizeof(double) + (st->warm ? warm_size(st->m) : 0);
}

const struct kw_detector_type holt_winters_detector = {
    .name = "holt_winters",
    .description = "Additive Holt-Winters forecast with a +-k residual-sd band (trend + one season).",
    .options = hw_options,
    .config_size = sizeof(struct hw_config),
    .config_check = hw_check,
    .accepts = hw_accepts,
    .state_new = hw_new,
    .update = hw_update,
    .state_save = hw_save,
    .state_load = hw_load,
    .state_free = hw_free,
    .state_bytes = hw_bytes,
};
