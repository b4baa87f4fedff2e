/* poisson: count KPIs (complaints, errors, orders per interval). Learns the
 * expected count and alerts when the observed count is improbable under a
 * Poisson (or, for bursty counts, negative binomial) model: P(X >= x) or
 * P(X <= x) below p_value. Small counts get no false alarms from noise:
 * with the default p_value 1e-5, 0 or 3 when 0.1 is expected is normal,
 * 4 is not (P = 3.8e-6). */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>

#include "../lib/xmalloc.h"
#include "detector.h"

/* Baseline: exponentially weighted mean and variance of the counts with
 * weight a = max(alpha, 1/n) (the first points get their plain mean):
 *     d = x - m;  m += a d;  var = (1 - a) (var + a d^2)
 * lambda = max(m, 0.5 / n_eff), n_eff = min(n, (2 - alpha) / alpha): a
 * half-event floor, so after a run of zeros the first event is surprising
 * but not infinitely so (two events are). negative_binomial: when the
 * learned variance exceeds lambda, r = lambda^2 / (var - lambda) and
 * p = r / (r + lambda) (method of moments; same mean, the observed
 * variance); otherwise it falls back to Poisson.
 * Test: p = min(P(X >= x), P(X <= x)) (one tail each way, GSL cdfs), alert
 * when p < p_value; score = -+log10 p. Bounds: the counts where those tails
 * cross p_value, found from a Cornish-Fisher first guess by galloping and
 * bisection on the cdf (O(log) cdf calls, usually 2-4).
 * Pre-screen (cost): most intervals are nowhere near the threshold, and the
 * exact tails (incomplete gamma / beta) dominate the cost. With the model's
 * mean, sd and skewness g <= 0.5, the continuity-corrected scores
 * z_up = (x - 0.5 - mu) / sd, z_down = (x + 0.5 - mu) / sd are compared with
 * the (second-order) Cornish-Fisher critical values; a point
 * within 3 sd and more than SCREEN_MARGIN + SCREEN_SKEW g sd inside both
 * cannot be anomalous (checked against the exact tails over a sweep of
 * means 0.01..1e6, negative binomial sizes 0.1..1000 and p_values
 * 1e-2..1e-12 in the unit tests). It skips GSL: its p comes from
 * Wilson-Hilferty (Poisson) or first-order Cornish-Fisher (negative
 * binomial), within 0.1 in log10 p, capped just below the threshold so its
 * anomaly_score stays < 0.5; its bounds are the Cornish-Fisher quantiles,
 * within about 1 count + 0.15 sd of the exact ones at p_value 1e-5 (exact
 * bounds whenever the point itself is near them). exact = true turns the
 * pre-screen off.
 * Outliers: what the baseline learns is clamped to the bounds, so a burst
 * cannot inflate lambda; a lasting change still moves it step by step.
 * Values are rounded to whole counts; negative or missing (NAN) intervals
 * change nothing. */

#define KMAX 4000000000u /* counts are capped here (gsl cdfs take unsigned) */
/* GSL's Poisson cdf (incomplete gamma) hits "error in large x asymptotic",
 * which aborts under the default handler, for means above about 1e6. Above
 * 1e5 the same gamma tail comes from the Wilson-Hilferty cube-root normal
 * approximation instead: |error in log10 p| < 2e-4 out to 8 sd there. */
#define POISSON_GSL_MAX 1e5
/* Pre-screen margin, in sd: SCREEN_MARGIN + SCREEN_SKEW * skewness. */
#define SCREEN_MARGIN 0.75
#define SCREEN_SKEW 2.5
/* Only models up to this skewness (Poisson mean >= 4) and points within
 * SCREEN_ZMAX sd are screened: there the approximate p and bounds are close
 * (and the exact path is cheap for tiny means anyway). */
#define SCREEN_MAX_SKEW 0.5
#define SCREEN_ZMAX 3.0

enum { DIST_POISSON, DIST_NEGBIN };
static const char *const dist_names[] = {"poisson", "negative_binomial", NULL};

struct poisson_config {
    double alpha;
    double incident_weight;
    double p_value;
    int distribution;
    int min_points;
    bool exact;
    double z; /* normal quantile of p_value, for the bound search's first guess */
};

/* Bytes per series: sizeof(struct poisson_state) = 24. */
struct poisson_state {
    double n;         /* intervals learned */
    double mean, var; /* learned baseline */
};

/* The fitted count distribution for one interval. */
struct count_model {
    bool negbin;
    double mu;       /* mean */
    double r, p;     /* negative binomial size and success probability */
    double sd, skew; /* for the first guess and the pre-screen */
    double kurt;     /* excess kurtosis, for the pre-screen */
};

static const struct kw_option poisson_options[] = {
    {"alpha", KW_OPT_DOUBLE, "0.05", offsetof(struct poisson_config, alpha), 0.0001, 1,
     .desc = "Weight of each new interval in the learned rate (0.05 = about 40 intervals)."},
    {"incident_weight", KW_OPT_DOUBLE, "0.1", offsetof(struct poisson_config, incident_weight), 0, 1,
     .desc = "An anomalous interval (or one more than 3 sd out) is learned with this fraction of alpha, so an incident neither "
             "resolves itself by raising the baseline nor leaves a false dip behind; 1 = learn as usual."},
    {"p_value", KW_OPT_DOUBLE, "1e-5", offsetof(struct poisson_config, p_value), 1e-15, 0.1,
     .desc = "Alert when the tail probability of the observed count is below this (each side); "
             "1e-5 keeps quiet daily-varying counts at about 0.1 false alarms per 1,000 intervals."},
    {"distribution", KW_OPT_ENUM, "poisson", offsetof(struct poisson_config, distribution), KW_NORANGE,
     .choices = dist_names, .desc = "Count model: poisson, or negative_binomial for bursty (overdispersed) counts."},
    {"min_points", KW_OPT_INT, "10", offsetof(struct poisson_config, min_points), 2, 1000000,
     .desc = "Intervals learned before the first verdict."},
    {"exact", KW_OPT_BOOL, "false", offsetof(struct poisson_config, exact), KW_NORANGE,
     .desc = "Exact tails and bounds for every interval (slower); false = normal pre-screen for clearly normal ones."},
    KW_OPT_END,
};

static int poisson_check(void *cfg, const char *path, char *err, size_t errlen)
{
    (void)path;
    (void)err;
    (void)errlen;
    struct poisson_config *c = cfg;
    c->z = gsl_cdf_ugaussian_Qinv(c->p_value);
    return 0;
}

static int poisson_accepts(const void *cfg, const struct kw_series_info *info, char *err, size_t errlen)
{
    (void)cfg;
    if (info->is_count)
        return 0;
    snprintf(err, errlen, "needs a count KPI (aggregation \"sum\" or \"count\")");
    return -1;
}

static void *poisson_new(const void *cfg, const struct kw_series_info *info)
{
    (void)cfg;
    (void)info;
    return xcalloc(1, sizeof(struct poisson_state));
}

/* Wilson-Hilferty standard score of P(X <= k) = P(Gamma(k + 1) > mu). */
static double wilson_hilferty(unsigned k, double mu)
{
    double a = k + 1.0;
    return (cbrt(mu / a) - (1 - 1 / (9 * a))) * sqrt(9 * a);
}

static double unit(double p)
{
    return p < 0 ? 0 : (p > 1 ? 1 : p);
}

/* P(X <= k). */
static double model_P(const struct count_model *m, unsigned k)
{
    if (m->negbin)
        return unit(gsl_cdf_negative_binomial_P(k, m->p, m->r));
    if (m->mu > POISSON_GSL_MAX)
        return gsl_cdf_ugaussian_Q(wilson_hilferty(k, m->mu));
    return gsl_cdf_poisson_P(k, m->mu);
}

/* P(X > k). */
static double model_Q(const struct count_model *m, unsigned k)
{
    if (m->negbin)
        return unit(gsl_cdf_negative_binomial_Q(k, m->p, m->r));
    if (m->mu > POISSON_GSL_MAX)
        return gsl_cdf_ugaussian_P(wilson_hilferty(k, m->mu));
    return gsl_cdf_poisson_Q(k, m->mu);
}

/* upper_side: P(X > k) < level; else P(X <= k) >= level. Both go from
 * false to true as k grows. */
struct bound_query {
    const struct count_model *m;
    double level;
    bool upper_side;
};

static bool bound_reached(unsigned k, const void *ctx)
{
    const struct bound_query *q = ctx;
    return q->upper_side ? model_Q(q->m, k) < q->level : model_P(q->m, k) >= q->level;
}

/* Smallest k in [0, KMAX] where bound_reached holds (KMAX counts as true;
 * kw_first_reached: O(log |answer - guess|) cdf calls). */
static unsigned first_reached(const struct count_model *m, double level, bool upper_side, double guess)
{
    struct bound_query q = {m, level, upper_side};
    return kw_first_reached(KMAX, guess, bound_reached, &q);
}

static void fit_model(const struct poisson_state *s, const struct poisson_config *c, struct count_model *m)
{
    double n_eff = (2 - c->alpha) / c->alpha;
    if (s->n < n_eff)
        n_eff = s->n;
    double mu = s->mean > 0.5 / n_eff ? s->mean : 0.5 / n_eff;
    m->mu = mu;
    m->negbin = false;
    m->sd = sqrt(mu);
    m->skew = 1 / m->sd;
    m->kurt = 1 / mu;
    if (c->distribution == DIST_NEGBIN && s->var > mu * (1 + 1e-9)) {
        double r = mu * mu / (s->var - mu);
        if (r < 1e9) { /* beyond that it is Poisson to double precision */
            m->negbin = true;
            m->r = r;
            m->p = r / (r + mu);
            m->sd = sqrt(mu / m->p);
            m->skew = (2 - m->p) / sqrt(r * (1 - m->p));
            m->kurt = 6 / r + m->p * m->p / (r * (1 - m->p));
        }
    }
}

/* The pre-screen: true when x is so far inside the band that neither tail
 * can be below p_value; then fills p, the side and approximate bounds. */
static bool screen(const struct count_model *m, const struct poisson_config *c, double x, double *p, bool *up,
                   double *lo, double *hi)
{
    double q_up = kw_cf_quantile(c->z, m->skew, m->kurt), q_down = kw_cf_quantile(-c->z, m->skew, m->kurt);
    double margin = SCREEN_MARGIN + SCREEN_SKEW * m->skew;
    double z_up = (x - 0.5 - m->mu) / m->sd, z_down = (x + 0.5 - m->mu) / m->sd;
    if (!(m->skew <= SCREEN_MAX_SKEW && z_up < fmin(q_up - margin, SCREEN_ZMAX) &&
          z_down > fmax(q_down + margin, -SCREEN_ZMAX)))
        return false;
    double p_up, p_down;
    if (m->negbin) {
        p_up = x <= 0 ? 1.0 : gsl_cdf_ugaussian_Q(kw_cf_normal(z_up, m->skew, m->kurt));
        p_down = gsl_cdf_ugaussian_P(kw_cf_normal(z_down, m->skew, m->kurt));
    } else { /* Wilson-Hilferty: the closest cheap Poisson tail */
        p_up = x <= 0 ? 1.0 : gsl_cdf_ugaussian_P(wilson_hilferty((unsigned)x - 1, m->mu));
        p_down = gsl_cdf_ugaussian_Q(wilson_hilferty((unsigned)x, m->mu));
    }
    *up = p_up < p_down;
    *p = fmax(*up ? p_up : p_down, c->p_value * 1.0000001); /* never reads as an alarm */
    *hi = floor(m->mu + 0.5 + m->sd * q_up);
    double l = ceil(m->mu - 0.5 + m->sd * q_down);
    *lo = l > 0 ? l : 0;
    if (*hi < x) /* cannot happen with the margin; keep the point inside its bounds anyway */
        *hi = x;
    if (*lo > x)
        *lo = x;
    return true;
}

static void poisson_update(void *state, const void *cfg, const struct kw_series_info *info,
                           const struct kw_sample *in, struct kw_verdict *out)
{
    (void)info;
    struct poisson_state *s = state;
    const struct poisson_config *c = cfg;
    double x = in->value;
    if (!isfinite(x) || x < 0)
        return; /* missing or impossible count: nothing learned */
    x = x < KMAX ? round(x) : KMAX;
    double learn = x;
    bool incident = false;
    if (s->n >= c->min_points) {
        struct count_model m;
        fit_model(s, c, &m);
        double p, lo, hi;
        bool up;
        if (c->exact || !screen(&m, c, x, &p, &up, &lo, &hi)) {
            unsigned k = (unsigned)x;
            double p_down = model_P(&m, k);
            double p_up = k == 0 ? 1.0 : model_Q(&m, k - 1);
            up = p_up < p_down;
            p = up ? p_up : p_down;
            double guess_off = m.skew * (c->z * c->z - 1) / 6;
            lo = first_reached(&m, c->p_value, false, m.mu + m.sd * (guess_off - c->z));
            hi = first_reached(&m, c->p_value, true, m.mu + m.sd * (guess_off + c->z));
        }
        out->ready = true;
        out->expected = m.mu;
        out->lower = lo;
        out->upper = hi;
        out->anomalous = p < c->p_value;
        out->score = up ? kw_neglog10(p) : -kw_neglog10(p);
        out->anomaly_score = kw_squash(kw_neglog10(p), kw_neglog10(c->p_value));
        learn = x < lo ? lo : (x > hi ? hi : x);
        /* Anomalous, or more than 3 sd out: part of an incident, learned only
         * slowly. Moments, not the p-value, decide, so the pre-screened and
         * the exact path learn the same. */
        incident = out->anomalous || fabs(x - m.mu) > 3 * m.sd;
    }
    s->n += 1;
    double a = 1.0 / s->n > c->alpha ? 1.0 / s->n : c->alpha;
    if (incident)
        a *= c->incident_weight;
    double d = learn - s->mean;
    s->mean += a * d;
    s->var = (1 - a) * (s->var + a * d * d);
}

static cJSON *poisson_save(const void *state, const void *cfg)
{
    (void)cfg;
    const struct poisson_state *s = state;
    const double v[] = {s->n, s->mean, s->var};
    return kw_json_doubles(v, 3);
}

static int poisson_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct poisson_state *s = state;
    double v[3];
    if (kw_json_read_doubles(json, v, 3))
        return -1;
    if (!(v[0] >= 0 && v[0] <= 9e15) || v[0] != floor(v[0]) || !(v[1] >= 0) || !isfinite(v[1]) ||
        !(v[2] >= 0) || !isfinite(v[2]))
        return -1;
    s->n = v[0];
    s->mean = v[1];
    s->var = v[2];
    return 0;
}

static size_t poisson_bytes(const void *state)
{
    (void)state;
    return sizeof(struct poisson_state);
}

const struct kw_detector_type poisson_detector = {
    .name = "poisson",
    .description = "Counts: Poisson or negative binomial tail probability against a learned rate.",
    .options = poisson_options,
    .config_size = sizeof(struct poisson_config),
    .config_check = poisson_check,
    .accepts = poisson_accepts,
    .state_new = poisson_new,
    .update = poisson_update,
    .state_save = poisson_save,
    .state_load = poisson_load,
    .state_free = free,
    .state_bytes = poisson_bytes,
};
