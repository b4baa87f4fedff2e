/* poisson: count KPIs (complaints, errors, orders per interval). Learns the
 * expected count and alerts when the observed count is improbable under a
 * Poisson (or, for bursty counts, negative binomial) model: P(X >= x) or
 * P(X <= x) below p_value. Small counts get no false alarms from noise:
 * 0 when 0.1 is expected is normal, 3 when 0.1 is expected is not. */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>

#include "../agent/xmalloc.h"
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

enum { DIST_POISSON, DIST_NEGBIN };
static const char *const dist_names[] = {"poisson", "negative_binomial", NULL};

struct poisson_config {
    double alpha;
    double p_value;
    int distribution;
    int min_points;
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
    double sd, skew; /* for the first guess */
};

static const struct kw_option poisson_options[] = {
    {"alpha", KW_OPT_DOUBLE, "0.05", offsetof(struct poisson_config, alpha), 0.0001, 1,
     .desc = "Weight of each new interval in the learned rate (0.05 = about 40 intervals)."},
    {"p_value", KW_OPT_DOUBLE, "0.001", offsetof(struct poisson_config, p_value), 1e-15, 0.1,
     .desc = "Alert when the tail probability of the observed count is below this (each side)."},
    {"distribution", KW_OPT_ENUM, "poisson", offsetof(struct poisson_config, distribution), KW_NORANGE,
     .choices = dist_names, .desc = "Count model: poisson, or negative_binomial for bursty (overdispersed) counts."},
    {"min_points", KW_OPT_INT, "10", offsetof(struct poisson_config, min_points), 2, 1000000,
     .desc = "Intervals learned before the first verdict."},
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
static bool bound_reached(const struct count_model *m, unsigned k, double level, bool upper_side)
{
    return upper_side ? model_Q(m, k) < level : model_P(m, k) >= level;
}

/* Smallest k in [0, KMAX] where bound_reached holds (KMAX counts as true).
 * Gallops from the guess, then bisects: O(log |answer - guess|) cdf calls. */
static unsigned first_reached(const struct count_model *m, double level, bool upper_side, double guess)
{
    unsigned g = !(guess > 0) ? 0 : (guess >= KMAX ? KMAX : (unsigned)guess);
    unsigned lo, hi;
    uint64_t step = 1;
    if (g == KMAX || bound_reached(m, g, level, upper_side)) {
        hi = g;
        for (;;) {
            if (hi == 0)
                return 0;
            unsigned c = hi > step ? (unsigned)(hi - step) : 0;
            if (!bound_reached(m, c, level, upper_side)) {
                lo = c;
                break;
            }
            hi = c;
            step *= 2;
        }
    } else {
        lo = g;
        for (;;) {
            unsigned c = KMAX - lo > step ? (unsigned)(lo + step) : KMAX;
            if (c == KMAX || bound_reached(m, c, level, upper_side)) {
                hi = c;
                break;
            }
            lo = c;
            step *= 2;
        }
    }
    while (hi - lo > 1) {
        unsigned mid = lo + (hi - lo) / 2;
        if (bound_reached(m, mid, level, upper_side))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
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
    if (c->distribution == DIST_NEGBIN && s->var > mu * (1 + 1e-9)) {
        double r = mu * mu / (s->var - mu);
        if (r < 1e9) { /* beyond that it is Poisson to double precision */
            m->negbin = true;
            m->r = r;
            m->p = r / (r + mu);
            m->sd = sqrt(mu / m->p);
            m->skew = (2 - m->p) / sqrt(r * (1 - m->p));
        }
    }
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
    if (s->n >= c->min_points) {
        struct count_model m;
        fit_model(s, c, &m);
        unsigned k = (unsigned)x;
        double p_down = model_P(&m, k);
        double p_up = k == 0 ? 1.0 : model_Q(&m, k - 1);
        bool up = p_up < p_down;
        double p = up ? p_up : p_down;
        double guess_off = m.skew * (c->z * c->z - 1) / 6;
        unsigned lo = first_reached(&m, c->p_value, false, m.mu + m.sd * (guess_off - c->z));
        unsigned hi = first_reached(&m, c->p_value, true, m.mu + m.sd * (guess_off + c->z));
        out->ready = true;
        out->expected = m.mu;
        out->lower = lo;
        out->upper = hi;
        out->anomalous = p < c->p_value;
        out->score = up ? kw_neglog10(p) : -kw_neglog10(p);
        out->anomaly_score = kw_squash(kw_neglog10(p), kw_neglog10(c->p_value));
        learn = x < lo ? lo : (x > hi ? hi : x);
    }
    s->n += 1;
    double a = 1.0 / s->n > c->alpha ? 1.0 / s->n : c->alpha;
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
