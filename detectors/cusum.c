/* cusum: two-sided tabular CUSUM (Page 1954; NIST e-Handbook 6.3.2.3;
 * Montgomery ch. 9) on values standardised by a baseline mean and sd.
 * Accumulates small persistent deviations, so it finds level shifts of
 * 0.5-2 sd long before a per-point test does. Use it on steady KPIs where a
 * sustained step matters more than single spikes; not for seasonal data. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "../lib/xmalloc.h"
#include "detector.h"

/* The math. z = (x - mu) / sigma, with mu and sigma given as options or
 * learned (exponentially weighted mean and variance, weight
 * max(baseline_alpha, 1/n)). In sd units, with slack k and decision
 * interval h:
 *     S+_t = max(0, S+_{t-1} + z - k)      S-_t = max(0, S-_{t-1} - z - k)
 * An alarm starts when S+ > h or S- > h; score = S/h (+ up, - down).
 * Out of alarm the sums are <= h, and solving S = h for x gives the value
 * bounds mu -+ sigma (h + k - S-+_{t-1}): exactly the values that would
 * start an alarm now (always lower < mu < upper).
 * Choices:
 *  - The point is tested raw (so a single point beyond h + k = 5.5 sd alerts,
 *    as in a combined Shewhart-CUSUM), but what it carries into the sums is
 *    z clamped to -+clip: one outlier cannot keep the chart alarming.
 *  - Ending an alarm. Once S+ > h the chart is in an up alarm (down: mirror):
 *    the opposite sum is reset, and the alarm lasts until a return CUSUM
 *        R_t = max(0, R_{t-1} + d/2 - z) >= h_r,
 *    the one-sided CUSUM of "back at mu" against "still at mu + d sigma",
 *    with d = max(2k, mean z of the alarm's values so far) and
 *    h_r = max((h + 1.166) 2k / d - 1.166, 0.25): h for the design shift
 *    d = 2k, smaller for bigger shifts so that the false-return rate stays
 *    that of the design shift (Siegmund: ARL ~ exp(d (h_r + 1.166))). A
 *    10-sd spike ends on the first normal point after it; a true 1-sd
 *    shift falsely "returns" about once in ~2,000 intervals. When the
 *    alarm ends the sums restart at 0 (and the point is tested afresh, so
 *    a jump to the other side starts the opposite alarm). While alarming
 *    the score stays the textbook S+/h while S+ > h, else
 *    1 + 0.1 (1 - R/h_r): just above 1 (anomaly_score 0.5), reaching it as
 *    the return test fires. A value-interval "alarms iff outside" does not
 *    exist then (values on the alarm side continue it, far ones on the
 *    other side start the opposite alarm), so the bounds are the
 *    single-point band mu -+ sigma (h + k).
 *  - The learned baseline is frozen while alarming (the shift is not
 *    absorbed). After rebaseline_after consecutive alarming intervals the
 *    shift is taken as the new normal: mu moves to the mean of the alarm's
 *    values (all after the change) and the chart restarts. A spike that
 *    ends first never re-baselines. With a fixed target: no re-baselining.
 *  - Not for seasonal data: the baseline follows the level with a lag of
 *    ~1/baseline_alpha intervals, so a daily cycle of a few sd reads as a
 *    run of shifts (20+ alarms per 1,000 intervals on the accuracy
 *    benchmark's daily series). Use it on steady KPIs, or on residuals.
 *  - h = 6 by default (textbook 5): on a steady N(mu, sigma) series with
 *    learned mu and sigma, 0.7 false alarms per 1,000 intervals (h = 5:
 *    2.0), a 1-sd shift found after ~13 intervals (h = 5: ~10).
 *  - Gaps (NAN) change nothing; the sums carry over the gap.
 *  - Count KPIs: sigma is floored at sqrt(mu) (Poisson) and at 1 / (h + k),
 *    so a warm-up of zeros (learned sd 0) does not make every later event
 *    an alarm that is never learned: one event after zeros is z = h + k,
 *    just short of an alarm; two in a row are one. */

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

/* Bytes per series: sizeof(struct cusum_state) = 72. */
struct cusum_state {
    double n;       /* points learned into the baseline */
    double mu, var; /* learned baseline */
    double sp, sm;  /* upper and lower sums, in sd units */
    double side;    /* 0, or +1 / -1 while an up / down alarm runs */
    double ret;     /* the return sum R while alarming */
    double zsum;    /* sum of the alarm's z (its length is run) */
    double run;     /* consecutive alarming intervals */
};
#define CUSUM_NSTATE 9

static const struct kw_option cusum_options[] = {
    {"k", KW_OPT_DOUBLE, "0.5", offsetof(struct cusum_config, k), 0, 10,
     .desc = "Slack per interval, in sd: half the shift to detect (0.5 = a 1 sd shift)."},
    {"h", KW_OPT_DOUBLE, "6", offsetof(struct cusum_config, h), 0.1, 1000,
     .desc = "Decision interval, in sd: an alarm starts when a sum exceeds it (6: ~0.7 false alarms per "
             "1,000 steady intervals, a 1 sd shift found in ~13)."},
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

/* Counts are at least Poisson-noisy (sd >= sqrt(mean)), and one event is
 * never a single-point alarm on its own (sd >= 1 / (h + k)): after a
 * warm-up of zeros the learned sd is 0, and without this floor every later
 * event would alarm and never be learned. */
static double count_sd_floor(double mu, const struct cusum_config *c)
{
    return fmax(sqrt(fmax(mu, 0.0)), 1.0 / (c->h + c->k));
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

static void start_alarm(struct cusum_state *s, int side, double z)
{
    s->side = side;
    if (side > 0)
        s->sm = 0;
    else
        s->sp = 0;
    s->ret = 0;
    s->zsum = z;
    s->run = 1;
}

static void end_alarm(struct cusum_state *s)
{
    s->sp = s->sm = s->side = s->ret = s->zsum = s->run = 0;
}

/* Out of alarm: the tabular CUSUM step. */
static void chart_step(struct cusum_state *s, const struct cusum_config *c, double z, double zc, double mu,
                       double sig, struct kw_verdict *out)
{
    double sp = fmax(0.0, s->sp + z - c->k);
    double sm = fmax(0.0, s->sm - z - c->k);
    out->anomalous = sp > c->h || sm > c->h;
    out->upper = mu + sig * (c->h + c->k - s->sp);
    out->lower = mu - sig * (c->h + c->k - s->sm);
    out->score = sp >= sm ? sp / c->h : -sm / c->h;
    out->anomaly_score = kw_squash(fmax(sp, sm), c->h);
    s->sp = fmin(fmax(0.0, s->sp + zc - c->k), 2 * c->h);
    s->sm = fmin(fmax(0.0, s->sm - zc - c->k), 2 * c->h);
    if (out->anomalous)
        start_alarm(s, sp >= sm ? 1 : -1, z);
}

static void cusum_update(void *state, const void *cfg, const struct kw_series_info *info,
                         const struct kw_sample *in, struct kw_verdict *out)
{
    struct cusum_state *s = state;
    const struct cusum_config *c = cfg;
    double x = in->value;
    if (!isfinite(x))
        return; /* missing interval: sums and baseline carry over */
    bool fixed_mu = !isnan(c->target), fixed_sd = !isnan(c->sigma);
    bool ready = (fixed_mu && fixed_sd) || s->n >= c->min_points;
    if (ready) {
        double mu = fixed_mu ? c->target : s->mu;
        double sig = fixed_sd ? kw_sd_floor(c->sigma, mu) : kw_sd_floor(sqrt(s->var), mu);
        if (info->is_count && !fixed_sd)
            sig = fmax(sig, count_sd_floor(mu, c));
        double z = (x - mu) / sig;
        double zc = c->clip > 0 ? clamp(z, -c->clip, c->clip) : z;
        out->ready = true;
        out->expected = mu;
        if (s->side == 0) {
            chart_step(s, c, z, zc, mu, sig, out);
        } else {
            /* In alarm: work in the alarm's direction (u > 0 = continuing). */
            double dir = s->side, u = dir * z, uc = dir * zc;
            double d_ref = fmax(2 * c->k, 0.1);
            double d = fmax(d_ref, s->zsum * dir / s->run);
            double hr = fmax((c->h + 1.166) * d_ref / d - 1.166, 0.25);
            double ret = fmax(0.0, s->ret + d / 2 - u);
            double *same = dir > 0 ? &s->sp : &s->sm;
            double sum = fmax(0.0, *same + u - c->k);
            if (ret >= hr) {
                end_alarm(s);
                chart_step(s, c, z, zc, mu, sig, out); /* tested afresh */
            } else {
                double stat = sum > c->h ? sum : c->h * (1 + 0.1 * (1 - ret / hr));
                out->anomalous = true;
                out->upper = mu + sig * (c->h + c->k);
                out->lower = mu - sig * (c->h + c->k);
                out->score = dir * stat / c->h;
                out->anomaly_score = kw_squash(stat, c->h);
                *same = fmin(fmax(0.0, *same + uc - c->k), 2 * c->h);
                s->ret = ret;
                s->zsum += z;
                s->run += 1;
            }
        }
        if (!fixed_mu && c->rebaseline_after > 0 && s->side != 0 && s->run >= c->rebaseline_after) {
            /* The shift is the new normal: its level is the mean of the
             * alarm's values, all taken after the change. */
            s->mu = mu + sig * s->zsum / s->run;
            end_alarm(s);
            return;
        }
    }
    if ((fixed_mu && fixed_sd) || out->anomalous)
        return;
    if (ready && info->is_count && c->clip > 0) {
        /* clamp with the floored sd, so events after a zero warm-up are learned */
        double sig = fmax(kw_sd_floor(sqrt(s->var), s->mu), count_sd_floor(s->mu, c));
        x = clamp(x, s->mu - c->clip * sig, s->mu + c->clip * sig);
        kw_ew_learn(&s->n, &s->mu, &s->var, x, c->baseline_alpha, 0);
        return;
    }
    kw_ew_learn(&s->n, &s->mu, &s->var, x, c->baseline_alpha, ready ? c->clip : 0);
}

static cJSON *cusum_save(const void *state, const void *cfg)
{
    (void)cfg;
    const struct cusum_state *s = state;
    const double v[CUSUM_NSTATE] = {s->n, s->mu, s->var, s->sp, s->sm, s->side, s->ret, s->zsum, s->run};
    return kw_json_doubles(v, CUSUM_NSTATE);
}

static bool is_count(double v)
{
    return v >= 0 && v <= 9e15 && v == floor(v);
}

static int cusum_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct cusum_state *s = state;
    double v[CUSUM_NSTATE];
    if (kw_json_read_doubles(json, v, CUSUM_NSTATE))
        return -1;
    if (!is_count(v[0]) || !isfinite(v[1]) || !(v[2] >= 0) || !isfinite(v[2]) || !(v[3] >= 0) ||
        !isfinite(v[3]) || !(v[4] >= 0) || !isfinite(v[4]) || (v[5] != 0 && v[5] != 1 && v[5] != -1) ||
        !(v[6] >= 0) || !isfinite(v[6]) || !isfinite(v[7]) || !is_count(v[8]) || (v[5] != 0 && v[8] < 1))
        return -1;
    s->n = v[0];
    s->mu = v[1];
    s->var = v[2];
    s->sp = v[3];
    s->sm = v[4];
    s->side = v[5];
    s->ret = v[6];
    s->zsum = v[7];
    s->run = v[8];
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
