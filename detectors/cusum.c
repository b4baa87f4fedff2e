/* cusum: two-sided tabular CUSUM (Page 1954; NIST e-Handbook 6.3.2.3;
 * Montgomery ch. 9) on values standardised by a baseline mean and sd.
 * Accumulates small persistent deviations, so it finds level shifts of
 * 0.5-2 sd long before a per-point test does. Use it on steady KPIs where a
 * sustained step matters more than single spikes. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "../agent/xmalloc.h"
#include "detector.h"

/* The math. z = (x - mu) / sigma, with mu and sigma given as options or
 * learned (exponentially weighted mean and variance, weight
 * max(baseline_alpha, 1/n)). In sd units, with slack k and decision
 * interval h:
 *     S+_t = max(0, S+_{t-1} + z - k)      S-_t = max(0, S-_{t-1} - z - k)
 * alert while S+ > h or S- > h; score = S/h of the larger side (+ up, - down).
 * Solving S = h for x gives the value bounds mu -+ sigma (h + k - S-+_{t-1}).
 * Choices:
 *  - The point is tested raw (so a single point beyond h + k = 5.5 sd alerts,
 *    as in a combined Shewhart-CUSUM), but what it carries into the sums is
 *    z clamped to -+clip: one outlier cannot keep the chart alarming for
 *    many intervals after it.
 *  - The sums are not reset after an alarm: the detector keeps firing while
 *    S > h. The learned baseline is frozen while alarming (so the shift is
 *    not absorbed). After rebaseline_after consecutive alarming intervals the
 *    shift is taken as the new normal: mu moves to Montgomery's estimate of
 *    the shifted mean, mu -+ sigma (k + S/N) with N the intervals since S
 *    was last 0, and the sums restart. With a fixed target there is no
 *    re-baselining: it alarms until the process returns.
 *  - Gaps (NAN) change nothing; the sums carry over the gap. */

/* sigma floor relative to |mu|, so a flat baseline gives finite sums. */
#define FLAT_REL 1e-12
#define FLAT_ABS 1e-12

struct cusum_config {
    double k;
    double h;
    double baseline_alpha;
    int min_points;
    double clip;
    int rebaseline_after;
    double target;
    double sigma;
};

/* Bytes per series: sizeof(struct cusum_state) = 64. */
struct cusum_state {
    double n;       /* points learned into the baseline */
    double mu, var; /* learned baseline */
    double sp, sm;  /* upper and lower sums, in sd units */
    double np, nm;  /* intervals since each sum was last 0 */
    double run;     /* consecutive alarming intervals */
};

static const struct kw_option cusum_options[] = {
    {"k", KW_OPT_DOUBLE, "0.5", offsetof(struct cusum_config, k), 0, 10,
     .desc = "Slack per interval, in sd: half the shift to detect (0.5 = a 1 sd shift)."},
    {"h", KW_OPT_DOUBLE, "5", offsetof(struct cusum_config, h), 0.1, 1000,
     .desc = "Decision interval, in sd: alert while a sum exceeds it."},
    {"baseline_alpha", KW_OPT_DOUBLE, "0.01", offsetof(struct cusum_config, baseline_alpha), 0.0001, 1,
     .desc = "Weight of each new value in the learned mean and variance (0.01 = about 200 intervals)."},
    {"min_points", KW_OPT_INT, "20", offsetof(struct cusum_config, min_points), 2, 1000000,
     .desc = "Values learned before the first verdict (not needed when target and sigma are set)."},
    {"clip", KW_OPT_DOUBLE, "4", offsetof(struct cusum_config, clip), 0, 1000,
     .desc = "Clamp what one value adds to the sums to -+clip sd (0 = off)."},
    {"rebaseline_after", KW_OPT_INT, "30", offsetof(struct cusum_config, rebaseline_after), 0, 1000000,
     .desc = "Consecutive alarming intervals after which a shift becomes the new baseline (0 = never)."},
    {"target", KW_OPT_DOUBLE, "nan", offsetof(struct cusum_config, target), KW_NORANGE,
     .desc = "Known process mean; unset (nan) = learned from the data."},
    {"sigma", KW_OPT_DOUBLE, "nan", offsetof(struct cusum_config, sigma), KW_NORANGE,
     .desc = "Known process standard deviation; unset (nan) = learned from the data."},
    KW_OPT_END,
};

static int cusum_check(void *cfg, const char *path, char *err, size_t errlen)
{
    const struct cusum_config *c = cfg;
    if (!isnan(c->sigma) && !(c->sigma > 0)) {
        snprintf(err, errlen, "%s.sigma: must be > 0", path);
        return -1;
    }
    if (c->clip != 0 && c->clip <= c->k) {
        snprintf(err, errlen, "%s.clip: must be 0 (off) or > k (%g)", path, c->k);
        return -1;
    }
    return 0;
}

static void *cusum_new(const void *cfg, const struct kw_series_info *info)
{
    (void)cfg;
    (void)info;
    return xcalloc(1, sizeof(struct cusum_state));
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static double floored(double sd, double center)
{
    double f = FLAT_REL * fabs(center) + FLAT_ABS;
    return sd > f ? sd : f;
}

static void cusum_update(void *state, const void *cfg, const struct kw_series_info *info,
                         const struct kw_sample *in, struct kw_verdict *out)
{
    (void)info;
    struct cusum_state *s = state;
    const struct cusum_config *c = cfg;
    double x = in->value;
    if (!isfinite(x))
        return; /* missing interval: sums and baseline carry over */
    bool fixed_mu = !isnan(c->target), fixed_sd = !isnan(c->sigma);
    bool ready = (fixed_mu && fixed_sd) || s->n >= c->min_points;
    double learned_sd = floored(sqrt(s->var), s->mu);
    if (ready) {
        double mu = fixed_mu ? c->target : s->mu;
        double sig = fixed_sd ? floored(c->sigma, mu) : floored(sqrt(s->var), mu);
        double z = (x - mu) / sig;
        double sp = fmax(0.0, s->sp + z - c->k);
        double sm = fmax(0.0, s->sm - z - c->k);
        out->ready = true;
        out->anomalous = sp > c->h || sm > c->h;
        out->expected = mu;
        out->upper = mu + sig * (c->h + c->k - s->sp);
        out->lower = mu - sig * (c->h + c->k - s->sm);
        out->score = sp >= sm ? sp / c->h : -sm / c->h;
        out->anomaly_score = kw_squash(fmax(sp, sm), c->h);

        double zc = c->clip > 0 ? clamp(z, -c->clip, c->clip) : z;
        s->sp = fmax(0.0, s->sp + zc - c->k);
        s->sm = fmax(0.0, s->sm - zc - c->k);
        s->np = s->sp > 0 ? s->np + 1 : 0;
        s->nm = s->sm > 0 ? s->nm + 1 : 0;
        s->run = out->anomalous ? s->run + 1 : 0;
        if (!fixed_mu && c->rebaseline_after > 0 && s->run >= c->rebaseline_after) {
            if (s->sp >= s->sm && s->np > 0)
                s->mu = mu + sig * (c->k + s->sp / s->np);
            else if (s->nm > 0)
                s->mu = mu - sig * (c->k + s->sm / s->nm);
            s->sp = s->sm = s->np = s->nm = s->run = 0;
            return;
        }
    }
    if ((fixed_mu && fixed_sd) || out->anomalous)
        return;
    double xb = ready && c->clip > 0 ? clamp(x, s->mu - c->clip * learned_sd, s->mu + c->clip * learned_sd) : x;
    s->n += 1;
    double a = 1.0 / s->n > c->baseline_alpha ? 1.0 / s->n : c->baseline_alpha;
    double d = xb - s->mu;
    s->mu += a * d;
    s->var = (1 - a) * (s->var + a * d * d);
}

static cJSON *cusum_save(const void *state, const void *cfg)
{
    (void)cfg;
    const struct cusum_state *s = state;
    const double v[] = {s->n, s->mu, s->var, s->sp, s->sm, s->np, s->nm, s->run};
    return kw_json_doubles(v, 8);
}

static bool is_count(double v)
{
    return v >= 0 && v <= 9e15 && v == floor(v);
}

static int cusum_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct cusum_state *s = state;
    double v[8];
    if (kw_json_read_doubles(json, v, 8))
        return -1;
    if (!is_count(v[0]) || !isfinite(v[1]) || !(v[2] >= 0) || !isfinite(v[2]) || !(v[3] >= 0) ||
        !isfinite(v[3]) || !(v[4] >= 0) || !isfinite(v[4]) || !is_count(v[5]) || !is_count(v[6]) ||
        !is_count(v[7]))
        return -1;
    s->n = v[0];
    s->mu = v[1];
    s->var = v[2];
    s->sp = v[3];
    s->sm = v[4];
    s->np = v[5];
    s->nm = v[6];
    s->run = v[7];
    return 0;
}

static size_t cusum_bytes(const void *state)
{
    (void)state;
    return sizeof(struct cusum_state);
}

const struct kw_detector_type cusum_detector = {
    .name = "cusum",
    .description = "Two-sided tabular CUSUM: accumulates small persistent shifts in sd units.",
    .options = cusum_options,
    .config_size = sizeof(struct cusum_config),
    .config_check = cusum_check,
    .state_new = cusum_new,
    .update = cusum_update,
    .state_save = cusum_save,
    .state_load = cusum_load,
    .state_free = free,
    .state_bytes = cusum_bytes,
};
