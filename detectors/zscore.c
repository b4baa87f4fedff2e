/* zscore: rolling mean and standard deviation over the last `window` values;
 * alerts when |x - mean| > threshold * sd. Use it for roughly normal KPIs
 * without seasonality (handling times, steady volumes); prefer mad when
 * outliers are frequent. Missing intervals are skipped: the window holds the
 * last `window` values seen. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include <gsl/gsl_statistics_double.h>

#include "../lib/xmalloc.h"
#include "detector.h"

/* sd floor, relative to |mean|: far above rounding noise, so a perfectly
 * flat series followed by any real change alerts while the flat value
 * itself scores 0. */
#define FLAT_REL 1e-12
#define FLAT_ABS 1e-12

struct zscore_config {
    int window;
    double threshold;
    int min_points;
};

/* Welford mean and sum of squared deviations, updated in O(1) as values
 * enter and leave the ring. The sliding update can drift from rounding, so
 * every `window` pushes they are recomputed exactly from the ring (two-pass,
 * amortised O(1)); that schedule is part of the saved state, so a restore
 * continues bit-identically. Bytes per series: 8 * window + sizeof(struct). */
struct zscore_state {
    int window;
    int count;       /* values in the ring */
    int head;        /* next slot to write (the oldest when full) */
    int since_exact; /* pushes since the last exact recompute */
    double mean;
    double m2;       /* sum of squared deviations from mean */
    double ring[];
};

static const struct kw_option zscore_options[] = {
    {"window", KW_OPT_INT, "288", offsetof(struct zscore_config, window), 8, 100000,
     .desc = "Intervals in the rolling window (288 = one day of 5-minute intervals)."},
    {"threshold", KW_OPT_DOUBLE, "3", offsetof(struct zscore_config, threshold), 0.1, 1000,
     .desc = "Alert when |value - mean| exceeds this many standard deviations."},
    {"min_points", KW_OPT_INT, "30", offsetof(struct zscore_config, min_points), 8, 100000,
     .desc = "Values needed before the first verdict (capped at window)."},
    KW_OPT_END,
};

static void *zscore_new(const void *cfg, const struct kw_series_info *info)
{
    (void)info;
    const struct zscore_config *c = cfg;
    struct zscore_state *s = xcalloc(1, sizeof *s + (size_t)c->window * sizeof(double));
    s->window = c->window;
    for (int i = 0; i < c->window; i++)
        s->ring[i] = NAN;
    return s;
}

static void recompute(struct zscore_state *s)
{
    /* Unfilled rings use slots 0..count-1, so the data is contiguous. */
    s->mean = gsl_stats_mean(s->ring, 1, (size_t)s->count);
    s->m2 = gsl_stats_tss_m(s->ring, 1, (size_t)s->count, s->mean);
}

static void push(struct zscore_state *s, double x)
{
    if (s->count < s->window) {
        s->ring[s->head] = x;
        s->count++;
        double d = x - s->mean;
        s->mean += d / s->count;
        s->m2 += d * (x - s->mean);
    } else {
        double old = s->ring[s->head];
        s->ring[s->head] = x;
        double mean = s->mean + (x - old) / s->count;
        s->m2 += (x - old) * ((x - mean) + (old - s->mean));
        s->mean = mean;
    }
    if (s->m2 < 0)
        s->m2 = 0;
    s->head = (s->head + 1) % s->window;
    if (++s->since_exact >= s->window) {
        recompute(s);
        s->since_exact = 0;
    }
}

static void zscore_update(void *state, const void *cfg, const struct kw_series_info *info,
                          const struct kw_sample *in, struct kw_verdict *out)
{
    (void)info;
    struct zscore_state *s = state;
    const struct zscore_config *c = cfg;
    double x = in->value;
    if (!isfinite(x))
        return; /* missing (or unusable) interval: the window is untouched */
    int need = c->min_points < c->window ? c->min_points : c->window;
    double learn = x;
    if (s->count >= need) {
        double sd = sqrt(s->m2 / (s->count - 1));
        double floor_sd = FLAT_REL * fabs(s->mean) + FLAT_ABS;
        if (!(sd > floor_sd))
            sd = floor_sd;
        double z = (x - s->mean) / sd;
        out->ready = true;
        out->expected = s->mean;
        out->lower = s->mean - c->threshold * sd;
        out->upper = s->mean + c->threshold * sd;
        out->score = z;
        out->anomalous = fabs(z) > c->threshold;
        out->anomaly_score = kw_squash(fabs(z), c->threshold);
        /* Winsorise what the window learns: a spike counts as a value at the
         * bound, so it cannot inflate the sd for a whole window; a lasting
         * shift still moves the bounds outward each interval and is absorbed
         * within about a window (a few windows when leaving a perfectly flat
         * series, whose bounds start at the sd floor). */
        learn = x > out->upper ? out->upper : (x < out->lower ? out->lower : x);
    }
    push(s, learn);
}

static cJSON *zscore_save(const void *state, const void *cfg)
{
    (void)cfg;
    const struct zscore_state *s = state;
    const double scalars[] = {s->count, s->head, s->since_exact, s->mean, s->m2};
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddItemToObject(obj, "scalars", kw_json_doubles(scalars, 5));
    cJSON_AddItemToObject(obj, "ring", kw_json_doubles(s->ring, (size_t)s->window));
    return obj;
}

static bool is_index(double v, int lo, int hi)
{
    return isfinite(v) && v == floor(v) && v >= lo && v <= hi;
}

static int zscore_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct zscore_state *s = state;
    double sc[5];
    if (!cJSON_IsObject(json) || kw_json_read_doubles(cJSON_GetObjectItemCaseSensitive(json, "scalars"), sc, 5))
        return -1;
    if (!is_index(sc[0], 0, s->window) || !is_index(sc[1], 0, s->window - 1) ||
        !is_index(sc[2], 0, s->window - 1) || !isfinite(sc[3]) || !(sc[4] >= 0) || !isfinite(sc[4]))
        return -1;
    int count = (int)sc[0], head = (int)sc[1];
    if (count < s->window && head != count)
        return -1;
    double *ring = xmalloc((size_t)s->window * sizeof *ring);
    int rc = kw_json_read_doubles(cJSON_GetObjectItemCaseSensitive(json, "ring"), ring, (size_t)s->window);
    for (int i = 0; rc == 0 && i < count; i++)
        if (!isfinite(ring[i]))
            rc = -1;
    if (rc == 0) {
        s->count = count;
        s->head = head;
        s->since_exact = (int)sc[2];
        s->mean = sc[3];
        s->m2 = sc[4];
        for (int i = 0; i < s->window; i++)
            s->ring[i] = i < count ? ring[i] : NAN;
    }
    free(ring);
    return rc;
}

static size_t zscore_bytes(const void *state)
{
    const struct zscore_state *s = state;
    return sizeof *s + (size_t)s->window * sizeof(double);
}

const struct kw_detector_type zscore_detector = {
    .name = "zscore",
    .description = "Rolling mean and standard deviation; alert beyond threshold sd.",
    .options = zscore_options,
    .config_size = sizeof(struct zscore_config),
    .state_new = zscore_new,
    .update = zscore_update,
    .state_save = zscore_save,
    .state_load = zscore_load,
    .state_free = free,
    .state_bytes = zscore_bytes,
};
