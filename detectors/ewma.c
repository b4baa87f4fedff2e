/* ewma: EWMA control chart (Roberts 1959; NIST e-Handbook 6.3.2.4; Montgomery
 * ch. 9). Smooths the series and alerts when the smoothed value leaves its
 * control limits. Catches small sustained shifts (about 1 sd) that a
 * per-point test misses, and still catches large single spikes. Use it for
 * steady, roughly normal, non-seasonal KPIs where drifts matter. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "../lib/xmalloc.h"
#include "detector.h"

/* The math. Baseline (target) mu and sd sigma: given as options (a Phase II
 * chart with known parameters) or learned by exponentially weighted mean and
 * variance with weight a = max(baseline_alpha, 1/n) (so the first points get
 * their plain mean and 1/n variance):
 *     d = x - mu;  mu += a d;  var = (1 - a) (var + a d^2)
 * The chart statistic starts at z_0 = mu when the baseline is ready:
 *     z_t = lambda x_t + (1 - lambda) z_{t-1}
 * with the exact (time-varying) standard deviation of z_t
 *     sigma_z(t) = sigma sqrt(lambda / (2 - lambda) (1 - (1 - lambda)^(2t)))
 * Alert when |z_t - mu| > L sigma_z(t); score = (z_t - mu) / sigma_z(t).
 * Solving z_t = mu -+ L sigma_z for x gives the value bounds
 *     upper/lower = (mu -+ L sigma_z - (1 - lambda) z_{t-1}) / lambda.
 * lambda = 0.3 (the NIST example's value) with L = 3.5: about one false
 * alarm per 3,000 in-control intervals (L = 3 gives one per ~500: 1.7 per
 * 1,000 on a quiet N(100, 3) series, 0.3 with 3.5), a 1.5-sd shift caught
 * within a few intervals, and a single point beyond ~4.9 sd still alerts,
 * which KPI alerting wants; 0.05-0.2 suits tiny drifts but reacts more
 * slowly.
 * Not for seasonal data: the learned baseline lags a daily cycle by
 * ~1/baseline_alpha intervals, and the chart reads the lag as a shift (40+
 * false alarms per 1,000 intervals on the accuracy benchmark's daily
 * series). Use it on steady KPIs; seasonal, holt_winters or surprise for
 * daily patterns.
 *
 * Outliers: the point is tested raw, but what it carries into z_{t+1} and
 * into the learned baseline is clamped to mu -+ clip sigma, so one spike
 * alerts once instead of dragging the chart (and the baseline) for several
 * intervals; a lasting shift keeps alerting, and the learned baseline
 * absorbs it at the baseline_alpha rate. Gaps (NAN) leave everything as is:
 * the chart neither advances nor decays across missing intervals. */

struct ewma_config {
    double alpha;
    double threshold;
    double baseline_alpha;
    int min_points;
    double clip;
    double target;
    double sigma;
};

/* Bytes per series: sizeof(struct ewma_state) = 48. */
struct ewma_state {
    double n;       /* points learned into the baseline */
    double mu, var; /* learned baseline */
    double z;       /* chart statistic */
    double q;       /* (1 - lambda)^(2t) for the time-varying limits */
    double started; /* 1 once the chart runs */
};

static const struct kw_option ewma_options[] = {
    {"alpha", KW_OPT_DOUBLE, "0.3", offsetof(struct ewma_config, alpha), 0.001, 1,
     .desc = "Chart smoothing lambda: weight of the newest value (1 = Shewhart chart)."},
    {"threshold", KW_OPT_DOUBLE, "3.5", offsetof(struct ewma_config, threshold), 0.1, 1000,
     .desc = "Control limit width L, in standard deviations of the smoothed value."},
    {"baseline_alpha", KW_OPT_DOUBLE, "0.01", offsetof(struct ewma_config, baseline_alpha), 0.0001, 1,
     .desc = "Weight of each new value in the learned mean and variance (0.01 = about 200 intervals)."},
    {"min_points", KW_OPT_INT, "20", offsetof(struct ewma_config, min_points), 2, 1000000,
     .desc = "Values learned before the first verdict (not needed when target and sigma are set)."},
    {"clip", KW_OPT_DOUBLE, "4", offsetof(struct ewma_config, clip), 0, 1000,
     .desc = "Clamp what a value carries forward to mean -+ clip sd (0 = off)."},
    {"target", KW_OPT_DOUBLE, "nan", offsetof(struct ewma_config, target), KW_NORANGE,
     .desc = "Known process mean; unset (nan) = learned from the data."},
    {"sigma", KW_OPT_DOUBLE, "nan", offsetof(struct ewma_config, sigma), KW_NORANGE,
     .desc = "Known process standard deviation; unset (nan) = learned from the data."},
    KW_OPT_END,
};

static int ewma_check(void *cfg, const char *path, char *err, size_t errlen)
{
    const struct ewma_config *c = cfg;
    if (!isnan(c->sigma) && !(c->sigma > 0)) {
        snprintf(err, errlen, "%s.sigma: must be > 0", path);
        return -1;
    }
    if (c->clip != 0 && c->clip < 1) {
        snprintf(err, errlen, "%s.clip: must be 0 (off) or >= 1", path);
        return -1;
    }
    return 0;
}

static void *ewma_new(const void *cfg, const struct kw_series_info *info)
{
    (void)cfg;
    (void)info;
    struct ewma_state *s = xcalloc(1, sizeof *s);
    s->q = 1;
    return s;
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static void ewma_update(void *state, const void *cfg, const struct kw_series_info *info,
                        const struct kw_sample *in, struct kw_verdict *out)
{
    (void)info;
    struct ewma_state *s = state;
    const struct ewma_config *c = cfg;
    double x = in->value;
    if (!isfinite(x))
        return; /* missing interval: nothing learned, the chart does not move */
    bool fixed_mu = !isnan(c->target), fixed_sd = !isnan(c->sigma);
    bool ready = (fixed_mu && fixed_sd) || s->n >= c->min_points;
    if (ready) {
        double mu = fixed_mu ? c->target : s->mu;
        double sig = fixed_sd ? kw_sd_floor(c->sigma, mu) : kw_sd_floor(sqrt(s->var), mu);
        double lam = c->alpha, L = c->threshold;
        if (!s->started) {
            s->z = mu;
            s->q = 1;
            s->started = 1;
        }
        double q = s->q * (1 - lam) * (1 - lam);
        double sz = sig * sqrt(lam / (2 - lam) * (1 - q));
        double zt = lam * x + (1 - lam) * s->z;
        double stat = (zt - mu) / sz;
        out->ready = true;
        out->expected = mu;
        out->upper = (mu + L * sz - (1 - lam) * s->z) / lam;
        out->lower = (mu - L * sz - (1 - lam) * s->z) / lam;
        out->score = stat;
        out->anomalous = fabs(stat) > L;
        out->anomaly_score = kw_squash(fabs(stat), L);
        double carried = c->clip > 0 ? clamp(x, mu - c->clip * sig, mu + c->clip * sig) : x;
        s->z = lam * carried + (1 - lam) * s->z;
        s->q = q;
    }
    if (fixed_mu && fixed_sd)
        return;
    kw_ew_learn(&s->n, &s->mu, &s->var, x, c->baseline_alpha, ready ? c->clip : 0);
}

static cJSON *ewma_save(const void *state, const void *cfg)
{
    (void)cfg;
    const struct ewma_state *s = state;
    const double v[] = {s->n, s->mu, s->var, s->z, s->q, s->started};
    return kw_json_doubles(v, 6);
}

static int ewma_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct ewma_state *s = state;
    double v[6];
    if (kw_json_read_doubles(json, v, 6))
        return -1;
    if (!(v[0] >= 0) || v[0] != floor(v[0]) || v[0] > 9e15 || !isfinite(v[1]) || !(v[2] >= 0) ||
        !isfinite(v[2]) || !isfinite(v[3]) || !(v[4] >= 0 && v[4] <= 1) || (v[5] != 0 && v[5] != 1))
        return -1;
    s->n = v[0];
    s->mu = v[1];
    s->var = v[2];
    s->z = v[3];
    s->q = v[4];
    s->started = v[5];
    return 0;
}

static size_t ewma_bytes(const void *state)
{
    (void)state;
    return sizeof(struct ewma_state);
}

const struct kw_detector_type ewma_detector = {
    .name = "ewma",
    .description = "EWMA control chart: smoothed value against control limits; catches small shifts.",
    .options = ewma_options,
    .config_size = sizeof(struct ewma_config),
    .config_check = ewma_check,
    .state_new = ewma_new,
    .update = ewma_update,
    .state_save = ewma_save,
    .state_load = ewma_load,
    .state_free = free,
    .state_bytes = ewma_bytes,
};
