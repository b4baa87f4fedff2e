/* holt_winters: additive Holt-Winters (triple exponential smoothing, Hyndman &
 * Athanasopoulos, "Forecasting: Principles and Practice", §8.3) with a band of
 * +-threshold (4.5) residual sds around the one-step forecast. Use it for KPIs with
 * a trend and one fixed seasonal cycle (daily traffic). Values are placed by
 * timestamp: a gap advances the level along the trend and keeps the phase. */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_statistics_double.h>

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

struct hw_state {
    int m;           /* season length in intervals */
    bool started;    /* n0/last are valid */
    bool running;    /* initialised; false while collecting the first two seasons */
    int64_t n0;      /* interval index (ts / interval) of the first value */
    int64_t last;    /* interval index the level/trend refer to */
    double level, trend;
    double var;      /* exponentially weighted one-step residual variance */
    double *season;  /* [m], by interval index mod m (UTC-aligned phase) */
    double *warm;    /* [2m], first two seasons by index - n0, NAN = missing; NULL once running */
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

static void *hw_new(const void *cfg, const struct kw_series_info *info)
{
    const struct hw_config *c = cfg;
    struct hw_state *st = xcalloc(1, sizeof *st);
    int64_t m = c->season_ms / info->interval_ms;
    /* accepts() rejects anything outside 2..HW_MAX_SLOTS; stay memory-safe anyway. */
    st->m = (int)(m < 1 ? 1 : (m > HW_MAX_SLOTS ? HW_MAX_SLOTS : m));
    st->season = xcalloc((size_t)st->m, sizeof(double));
    st->warm = xmalloc(2 * (size_t)st->m * sizeof(double));
    for (int i = 0; i < 2 * st->m; i++)
        st->warm[i] = NAN;
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

/* Classical initialisation from the first two seasons (positions 0..2m-1 after
 * the first value): the trend is the mean over slots of (y[m+i] - y[i]) / m,
 * each slot's index is its mean detrended value less the mean over slots,
 * and what the fit leaves over gives the first residual variance. Only
 * present values count: a slot missing from one season drops out of the
 * trend, a slot never seen starts at index 0. */
static void hw_initialise(struct hw_state *st)
{
    int m = st->m;
    const double *y = st->warm;
    double trend = 0;
    int pairs = 0;
    for (int i = 0; i < m; i++) {
        if (isnan(y[i]) || isnan(y[m + i]))
            continue;
        trend += (y[m + i] - y[i]) / m;
        pairs++;
    }
    trend = pairs ? trend / pairs : 0.0;
    double *slot_sum = xcalloc((size_t)m, sizeof(double));
    int *slot_cnt = xcalloc((size_t)m, sizeof(int));
    for (int p = 0; p < 2 * m; p++) {
        if (isnan(y[p]))
            continue;
        int s = kw_floor_mod(st->n0 + p, m);
        slot_sum[s] += y[p] - trend * p;
        slot_cnt[s]++;
    }
    /* Level at position 0: the mean over seen slots (not over values, so a
     * slot seen twice does not weigh more). */
    int seen_slots = 0;
    double level0 = 0;
    for (int s = 0; s < m; s++) {
        if (!slot_cnt[s])
            continue;
        slot_sum[s] /= slot_cnt[s];
        level0 += slot_sum[s];
        seen_slots++;
    }
    level0 /= seen_slots; /* the first value is present, so seen_slots >= 1 */
    for (int s = 0; s < m; s++)
        st->season[s] = slot_cnt[s] ? slot_sum[s] - level0 : 0.0;
    double ss = 0;
    int n = 0;
    for (int p = 0; p < 2 * m; p++) {
        if (isnan(y[p]))
            continue;
        double e = y[p] - trend * p - slot_sum[kw_floor_mod(st->n0 + p, m)];
        ss += e * e;
        st->warm[n++] = y[p]; /* compact the present values for the fallback below */
    }
    /* Degrees of freedom: n values less one index per seen slot, level and trend.
     * With none left (m = 2, or a gappy warm-up) the plain variance of the values
     * is a wide, conservative start that the smoothing then narrows. */
    int df = n - seen_slots - 2;
    if (df >= 1)
        st->var = ss / df;
    else
        st->var = n >= 2 ? gsl_stats_variance(st->warm, 1, (size_t)n) : 0.0;
    st->last = st->n0 + 2 * m - 1;
    st->level = level0 + trend * (2 * m - 1);
    st->trend = trend;
    st->running = true;
    free(slot_sum);
    free(slot_cnt);
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
        st->warm[0] = y;
        return;
    }
    if (n <= st->last)
        return; /* duplicate or out-of-order interval: ignored */
    if (!st->running) {
        if (n - st->n0 < 2 * (int64_t)st->m) {
            st->warm[n - st->n0] = y;
            st->last = n;
            return;
        }
        /* Fewer than half the warm-up present cannot give one index per slot
         * or a noise level worth alerting on: start the warm-up again here. */
        int present = 0;
        for (int p = 0; p < 2 * st->m; p++)
            present += !isnan(st->warm[p]);
        if (present < st->m) {
            for (int p = 0; p < 2 * st->m; p++)
                st->warm[p] = NAN;
            st->n0 = st->last = n;
            st->warm[0] = y;
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
        cJSON_AddItemToObject(obj, "warm", kw_json_doubles(st->warm, 2 * (size_t)st->m));
    }
    return obj;
}

static int read_number(const cJSON *obj, const char *key, double *v)
{
    return kw_json_get_double(cJSON_GetObjectItemCaseSensitive(obj, key), v);
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
    if (!(fabs(n0) <= 4e12 && fabs(last) <= 4e12))
        return -1;
    const cJSON *season = cJSON_GetObjectItemCaseSensitive(json, "season");
    /* Read into scratch first so a bad document leaves the state fresh. */
    double *buf = xmalloc(2 * m * sizeof(double));
    double level = 0, trend = 0, var = 0;
    int rc;
    if (season) {
        rc = read_number(json, "level", &level) || read_number(json, "trend", &trend) ||
             read_number(json, "var", &var) || var < 0 || kw_json_read_doubles(season, buf, m) ? -1 : 0;
        for (size_t i = 0; rc == 0 && i < m; i++)
            if (!isfinite(buf[i]))
                rc = -1;
    } else {
        rc = kw_json_read_doubles(cJSON_GetObjectItemCaseSensitive(json, "warm"), buf, 2 * m);
    }
    if (rc || last < n0 || (!season && last - n0 >= 2.0 * (double)m)) {
        free(buf);
        return -1;
    }
    st->started = cJSON_IsTrue(started);
    st->n0 = (int64_t)n0;
    st->last = (int64_t)last;
    if (season) {
        memcpy(st->season, buf, m * sizeof(double));
        st->level = level;
        st->trend = trend;
        st->var = var;
        st->running = true;
        free(st->warm);
        st->warm = NULL;
        free(buf);
    } else {
        free(st->warm);
        st->warm = buf;
        st->running = false;
    }
    return 0;
}

static size_t hw_bytes(const void *state)
{
    const struct hw_state *st = state;
    return sizeof *st + (size_t)st->m * sizeof(double) * (st->warm ? 3 : 1);
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
