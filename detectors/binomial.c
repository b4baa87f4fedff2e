/* binomial: rate KPIs with a denominator (drop-offs / entries, errors /
 * requests). Learns the baseline rate p0 and tests each interval's k events
 * out of n trials with the binomial (or beta-binomial) tail, so a journey
 * step with 3 visitors gives no false alarms: 2 drop-offs of 3 against a
 * 20% baseline is normal, 20,000 of 30,000 is not. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sf_gamma.h>

#include "../lib/xmalloc.h"
#include "detector.h"

/* Baseline: exponentially weighted sums of events and trials,
 *     E = (1 - alpha) E + k,  N = (1 - alpha) N + n,  p0 = (E + 0.5) / (N + 1)
 * so busy intervals weigh more than quiet ones, and the Jeffreys-style half
 * event keeps p0 strictly inside (0, 1) (no certainty from a run of zeros).
 * Test: p = min(P(X >= k), P(X <= k)) under Binomial(n, p0) (GSL cdfs),
 * alert when p < p_value; score = -+log10 p; bounds are the rates k/n where
 * those tails cross p_value for this interval's n.
 * beta_binomial: rates that wander more than binomial noise explains
 * (between-interval heterogeneity) get X ~ BetaBinomial(n, a, b) with
 * mean p0 and intra-class correlation rho = 1 / (a + b + 1). rho is a
 * moment estimate from the Pearson dispersion: with e = (k - n p0)^2 /
 * (n p0 (1 - p0)) and E[e] = 1 + (n - 1) rho, exponentially weighted sums
 * give rho = (sum e - sum 1) / sum (n - 1), clamped to [0, 0.999] (0 =
 * plain binomial). For n <= 1000 the tails are exact: the pmf from
 * gsl_sf_lnchoose + gsl_sf_lnbeta at 0, then the term ratio
 * (n-j)(j+a) / ((j+1)(n-j-1+b)) in log space, O(n). For larger n, X/n is
 * approximated by a Beta with the same mean and the beta-binomial variance
 * (concentration n / (1 + (n-1) rho) - 1; GSL beta cdf, continuity
 * corrected), which tends to the true mixing Beta when n rho >> 1 and to
 * the usual beta approximation of the binomial when rho -> 0.
 * auto (the default): real rates at large denominators are never exactly
 * binomial (a 2% wobble of a 5% rate at n = 30,000 already doubles the
 * variance), and the plain binomial then alarms every few hours. auto uses
 * the beta-binomial with rho = max(fitted rho if the mean dispersion is
 * above 1 + 10 sqrt(2 / n_eff), else 0; rho_floor), where rho_floor =
 * 0.05^2 m / (1 - m), m = min(p0, 1 - p0), is the rho of a rate that
 * wanders by 5% of itself. rho_floor changes nothing at small n (variance
 * x (1 + (n - 1) rho): x1.01 at n = 100 and p0 = 0.2) and caps the
 * precision claimed at large n.
 * Pre-screen (cost): with the model's mean, sd, skewness g and excess
 * kurtosis e, when the model is near normal (|g| <= 0.5 and
 * |g| (z_c^2 - 1) / 6 + |e| (z_c^3 - 3 z_c) / 24 <= 0.5 sd: binomial
 * n p (1 - p) >~ 19 at p_value 1e-4), the continuity-corrected scores
 * z_up = (k - 0.5 - mean) / sd, z_down = (k + 0.5 - mean) / sd are
 * compared with the second-order Cornish-Fisher critical values; a point
 * within 3 sd and more than 0.75 + 2.5 |g| sd inside both cannot be
 * anomalous (checked against the exact tails over a sweep of n 1..1e8,
 * p0 1e-4..0.9, all three models, p_values 1e-2..1e-12 in the unit tests:
 * identical flags). It skips GSL and the bound search: its p is the
 * Cornish-Fisher normal tail, within 0.2 in log10 p and capped just below
 * the threshold (anomaly_score < 0.5); its bounds are the Cornish-Fisher
 * quantiles, within 2 events + 0.15 sd. exact = true turns it off.
 * GSL's incomplete beta returns NaN at some central points for n >~ 1e7;
 * those tails fall back to the normal approximation.
 * Outliers: the events learned are clamped to the interval's bounds, and an
 * anomalous interval counts with at most the average interval's trials, so
 * an incident cannot drag p0; a lasting change still moves it step by step.
 * Missing intervals (NAN, or denominator 0) change nothing; counts are
 * rounded, and a numerator above its denominator is capped at it. */

#define NMAX 1e9          /* larger denominators are scaled down to this (gsl takes unsigned) */
#define BB_EXACT_MAX 1000 /* beta-binomial tails summed exactly up to this n */
#define RHO_MIN 1e-9      /* below this the beta-binomial is the binomial */

/* Pre-screen: models up to this |skewness|, points within SCREEN_ZMAX sd
 * and more than SCREEN_MARGIN + SCREEN_SKEW |skewness| sd inside the
 * critical values (see the math above). */
#define SCREEN_MAX_SKEW 0.5
#define SCREEN_ZMAX 3.0
/* ... and whose skewness and kurtosis move the critical value by at most
 * this many sd (first-order Cornish-Fisher terms at z_c): beyond, the
 * approximate bounds get coarse. */
#define SCREEN_MAX_CF 0.5
#define SCREEN_MARGIN 0.75
#define SCREEN_SKEW 2.5
/* auto: the fitted rho is used when the mean Pearson dispersion exceeds 1 by
 * this many of its standard errors, sqrt(2 / n_eff) (a strict bar: small
 * denominators and past incidents inflate it by chance) ... */
#define AUTO_DISP_Z 10.0
/* ... and rho is never below the value that makes the rate wander by this
 * fraction of min(p, 1 - p) between intervals. */
#define AUTO_CV 0.05

enum { DIST_BINOMIAL, DIST_BETA_BINOMIAL, DIST_AUTO };
static const char *const dist_names[] = {"binomial", "beta_binomial", "auto", NULL};

struct binomial_config {
    double alpha;
    double incident_weight;
    double p_value;
    int distribution;
    int min_points;
    bool exact;
    double z; /* normal quantile of p_value, for the bound search's first guess */
};

/* Bytes per series: sizeof(struct binomial_state) = 48. */
struct binomial_state {
    double n;            /* intervals learned */
    double events;       /* EW sum of numerators */
    double trials;       /* EW sum of denominators */
    double disp_e;       /* EW sum of Pearson residuals e */
    double disp_w;       /* EW sum of 1 */
    double disp_n;       /* EW sum of n - 1 */
};

/* The fitted model of X = events in one interval of n trials. */
struct rate_model {
    bool beta;       /* beta approximation (else binomial) */
    unsigned n;
    double p;        /* binomial */
    double a, b;     /* beta parameters of X/n */
    double mean, sd, skew;
};

/* Moments of X for the pre-screen. */
struct moments {
    double mean, sd, skew, kurt; /* kurt = excess kurtosis */
};

static const struct kw_option binomial_options[] = {
    {"alpha", KW_OPT_DOUBLE, "0.05", offsetof(struct binomial_config, alpha), 0.0001, 1,
     .desc = "Weight of each new interval in the learned rate (0.05 = about 40 intervals)."},
    {"incident_weight", KW_OPT_DOUBLE, "0.1", offsetof(struct binomial_config, incident_weight), 0, 1,
     .desc = "An anomalous interval (or one more than 3 sd out) is learned with this fraction of alpha, so an incident neither "
             "resolves itself by raising the baseline nor leaves a false dip behind; 1 = learn as usual."},
    {"p_value", KW_OPT_DOUBLE, "1e-5", offsetof(struct binomial_config, p_value), 1e-15, 0.1,
     .desc = "Alert when the tail probability of the observed events is below this (each side); 1e-5 scored best on the labelled benchmark, 1e-4 catches more small-denominator jumps at ~5x the false alarms."},
    {"distribution", KW_OPT_ENUM, "auto", offsetof(struct binomial_config, distribution), KW_NORANGE,
     .choices = dist_names,
     .desc = "binomial; beta_binomial when the rate varies between intervals more than chance; auto = "
             "beta_binomial only while that extra variation is statistically significant."},
    {"min_points", KW_OPT_INT, "10", offsetof(struct binomial_config, min_points), 2, 1000000,
     .desc = "Intervals learned before the first verdict."},
    {"exact", KW_OPT_BOOL, "false", offsetof(struct binomial_config, exact), KW_NORANGE,
     .desc = "Exact tails and bounds for every interval (slower); false = normal pre-screen for clearly normal ones."},
    KW_OPT_END,
};

static int binomial_check(void *cfg, const char *path, char *err, size_t errlen)
{
    (void)path;
    (void)err;
    (void)errlen;
    struct binomial_config *c = cfg;
    c->z = gsl_cdf_ugaussian_Qinv(c->p_value);
    return 0;
}

static int binomial_accepts(const void *cfg, const struct kw_series_info *info, char *err, size_t errlen)
{
    (void)cfg;
    if (info->is_ratio)
        return 0;
    snprintf(err, errlen, "needs a ratio KPI (aggregation \"ratio\")");
    return -1;
}

static void *binomial_new(const void *cfg, const struct kw_series_info *info)
{
    (void)cfg;
    (void)info;
    return xcalloc(1, sizeof(struct binomial_state));
}

static double unit(double p)
{
    return p < 0 ? 0 : (p > 1 ? 1 : p);
}

/* GSL's incomplete beta fails to converge (returns NaN, without calling the
 * error handler) at some points near the centre for n of about 1e7 and
 * more; there the skewness is tiny and the normal tail is accurate. */
static double normal_P(const struct rate_model *m, unsigned k)
{
    double z = (k + 0.5 - m->mean) / m->sd;
    return gsl_cdf_ugaussian_P(z - m->skew * (z * z - 1) / 6);
}

/* P(X <= k). */
static double model_P(const struct rate_model *m, unsigned k)
{
    if (k >= m->n)
        return 1.0;
    double p = m->beta ? gsl_cdf_beta_P((k + 0.5) / m->n, m->a, m->b) : gsl_cdf_binomial_P(k, m->p, m->n);
    return unit(isnan(p) ? normal_P(m, k) : p);
}

/* P(X > k). */
static double model_Q(const struct rate_model *m, unsigned k)
{
    if (k >= m->n)
        return 0.0;
    double q = m->beta ? gsl_cdf_beta_Q((k + 0.5) / m->n, m->a, m->b) : gsl_cdf_binomial_Q(k, m->p, m->n);
    return unit(isnan(q) ? 1 - normal_P(m, k) : q);
}

/* upper_side: P(X > k) < level; else P(X <= k) >= level. Both go from
 * false to true as k grows, and hold at k = n. */
struct bound_query {
    const struct rate_model *m;
    double level;
    bool upper_side;
};

static bool bound_reached(unsigned k, const void *ctx)
{
    const struct bound_query *q = ctx;
    return q->upper_side ? model_Q(q->m, k) < q->level : model_P(q->m, k) >= q->level;
}

/* Smallest k in [0, n] where bound_reached holds (kw_first_reached:
 * O(log |answer - guess|) cdf calls). */
static unsigned first_reached(const struct rate_model *m, double level, bool upper_side, double guess)
{
    struct bound_query q = {m, level, upper_side};
    return kw_first_reached(m->n, guess, bound_reached, &q);
}

/* Exact beta-binomial tails and bounds for small n, O(n). The pmf at 0 is
 * C(n,0) B(a, n+b) / B(a, b); the rest follows from the term ratio in log
 * space, so no term underflows before it is genuinely negligible. */
static void bb_exact(unsigned n, double a, double b, unsigned k, double level, double *p_down,
                     double *p_up, unsigned *lo, unsigned *hi)
{
    double pmf[BB_EXACT_MAX + 1];
    double lp = gsl_sf_lnchoose(n, 0) + gsl_sf_lnbeta(a, n + b) - gsl_sf_lnbeta(a, b);
    for (unsigned j = 0; j <= n; j++) {
        pmf[j] = exp(lp);
        if (j < n)
            lp += log(((double)(n - j) * (j + a)) / ((j + 1.0) * ((double)(n - j - 1) + b)));
    }
    /* Each tail is summed from its far end, smallest terms first. */
    double down = 0, up = 0;
    for (unsigned j = 0; j <= k; j++)
        down += pmf[j];
    for (unsigned j = n; j > k; j--)
        up += pmf[j];
    up += pmf[k];
    *p_down = unit(down);
    *p_up = unit(up);
    unsigned j = 0;
    double cdf = pmf[0];
    while (cdf < level && j < n)
        cdf += pmf[++j];
    *lo = j;
    j = n;
    double q = 0;
    while (j > 0 && q + pmf[j] < level)
        q += pmf[j--];
    *hi = j;
}

static double dispersion(const struct binomial_state *s, const struct binomial_config *c)
{
    if (!(s->disp_n > 0))
        return 0;
    if (c->distribution == DIST_AUTO) {
        /* E[e] = 1, Var[e] ~ 2 under the binomial; n_eff = the EW weights' count. */
        double n_eff = fmin(s->n - 1, (2 - c->alpha) / c->alpha);
        if (!(s->disp_e / s->disp_w > 1 + AUTO_DISP_Z * sqrt(2 / n_eff)))
            return 0;
    }
    double rho = (s->disp_e - s->disp_w) / s->disp_n;
    return rho < 0 ? 0 : (rho > 0.999 ? 0.999 : rho);
}

/* Moments of Binomial(n, p) (rho = 0), BetaBinomial(n, p theta,
 * (1 - p) theta) with theta = 1 / rho - 1 (n <= BB_EXACT_MAX), or n times
 * the matched Beta of the large-n path. */
static struct moments rate_moments(double n, double p, double rho)
{
    struct moments m = {.mean = n * p};
    double q = 1 - p, npq = n * p * q;
    if (rho > RHO_MIN && n > BB_EXACT_MAX) {
        /* the matched Beta that the tail path uses at this n */
        double t = n / (1 + (n - 1) * rho) - 1, a = p * t, b = q * t;
        m.sd = n * sqrt(p * q / (t + 1));
        m.skew = 2 * (b - a) * sqrt(t + 1) / ((t + 2) * sqrt(a * b));
        m.kurt = 6 * ((a - b) * (a - b) * (t + 1) - a * b * (t + 2)) / (a * b * (t + 2) * (t + 3));
    } else if (rho > RHO_MIN) {
        double t = 1 / rho - 1, a = p * t, b = q * t;
        m.sd = sqrt(npq * (1 + (n - 1) * rho));
        m.skew = (t + 2 * n) * (b - a) / (t + 2) * sqrt((1 + t) / (n * a * b * (n + t)));
        m.kurt = t * t * (1 + t) / (n * a * b * (t + 2) * (t + 3) * (t + n)) *
                     (t * (t - 1 + 6 * n) + 3 * a * b * (n - 2) + 6 * n * n - 3 * a * b * n * (6 - n) / t -
                      18 * a * b * n * n / (t * t)) -
                 3;
    } else {
        m.sd = sqrt(npq);
        m.skew = (1 - 2 * p) / m.sd;
        m.kurt = (1 - 6 * p * q) / npq;
    }
    return m;
}

/* The pre-screen: true when k events are so far inside the band that
 * neither tail can be below p_value; then fills p, the side and
 * approximate bounds (in events). */
static bool screen(const struct moments *m, const struct binomial_config *c, double n, double k, double *p, bool *up,
                   double *lo, double *hi)
{
    double g = fabs(m->skew);
    double zc = c->z;
    double cf_shift = g * (zc * zc - 1) / 6 + fabs(m->kurt) * (zc * zc * zc - 3 * zc) / 24;
    if (!(g <= SCREEN_MAX_SKEW && cf_shift <= SCREEN_MAX_CF) || !(m->sd > 0))
        return false;
    double q_up = kw_cf_quantile(c->z, m->skew, m->kurt), q_down = kw_cf_quantile(-c->z, m->skew, m->kurt);
    double margin = SCREEN_MARGIN + SCREEN_SKEW * g;
    double z_up = (k - 0.5 - m->mean) / m->sd, z_down = (k + 0.5 - m->mean) / m->sd;
    if (!(z_up < fmin(q_up - margin, SCREEN_ZMAX) && z_down > fmax(q_down + margin, -SCREEN_ZMAX)))
        return false;
    double p_up = k <= 0 ? 1.0 : gsl_cdf_ugaussian_Q(kw_cf_normal(z_up, m->skew, m->kurt));
    double p_down = k >= n ? 1.0 : gsl_cdf_ugaussian_P(kw_cf_normal(z_down, m->skew, m->kurt));
    *up = p_up < p_down;
    *p = fmax(*up ? p_up : p_down, c->p_value * 1.0000001); /* never reads as an alarm */
    *hi = fmax(fmin(floor(m->mean + 0.5 + m->sd * q_up), n), k);
    *lo = fmin(fmax(ceil(m->mean - 0.5 + m->sd * q_down), 0), k);
    return true;
}

static void binomial_update(void *state, const void *cfg, const struct kw_series_info *info,
                            const struct kw_sample *in, struct kw_verdict *out)
{
    (void)info;
    struct binomial_state *s = state;
    const struct binomial_config *c = cfg;
    double num = in->numerator, den = in->denominator;
    if (isnan(in->value) || !isfinite(num) || !isfinite(den) || num < 0 || !(round(den) >= 1))
        return; /* missing, or no trials: nothing to test or learn */
    double nd = round(den), kd = round(num);
    if (kd > nd)
        kd = nd;
    if (nd > NMAX) {
        kd = round(kd * (NMAX / nd));
        nd = NMAX;
    }
    unsigned n = (unsigned)nd, k = (unsigned)kd;
    double p0 = (s->events + 0.5) / (s->trials + 1);
    double learn = kd;
    bool incident = false;
    if (s->n >= c->min_points) {
        double rho = c->distribution != DIST_BINOMIAL && n > 1 ? dispersion(s, c) : 0;
        if (c->distribution == DIST_AUTO && n > 1) {
            double lo_p = fmin(p0, 1 - p0), floor_rho = AUTO_CV * AUTO_CV * lo_p / (1 - lo_p);
            rho = fmax(rho, floor_rho);
        }
        double p_down = 1, p_up = 1, p = 1, lo, hi;
        bool up = false;
        struct moments mo = rate_moments(nd, p0, rho);
        if (!c->exact && screen(&mo, c, nd, kd, &p, &up, &lo, &hi)) {
            /* clearly normal: p, side and bounds from the approximation */
        } else if (rho > RHO_MIN && n <= BB_EXACT_MAX) {
            double theta = 1 / rho - 1;
            unsigned ulo, uhi;
            bb_exact(n, p0 * theta, (1 - p0) * theta, k, c->p_value, &p_down, &p_up, &ulo, &uhi);
            lo = ulo;
            hi = uhi;
            up = p_up < p_down;
            p = up ? p_up : p_down;
        } else {
            struct rate_model m = {.n = n, .p = p0, .mean = n * p0};
            if (rho > RHO_MIN) {
                double theta = n / (1 + (n - 1) * rho) - 1;
                m.beta = true;
                m.a = p0 * theta;
                m.b = (1 - p0) * theta;
                m.sd = n * sqrt(p0 * (1 - p0) / (theta + 1));
                m.skew = 2 * (m.b - m.a) * sqrt(theta + 1) / ((theta + 2) * sqrt(m.a * m.b));
            } else {
                m.sd = sqrt(n * p0 * (1 - p0));
                m.skew = (1 - 2 * p0) / m.sd;
            }
            p_down = model_P(&m, k);
            p_up = k == 0 ? 1.0 : model_Q(&m, k - 1);
            double guess_off = m.skew * (c->z * c->z - 1) / 6;
            lo = first_reached(&m, c->p_value, false, m.mean + m.sd * (guess_off - c->z));
            hi = first_reached(&m, c->p_value, true, m.mean + m.sd * (guess_off + c->z));
            up = p_up < p_down;
            p = up ? p_up : p_down;
        }
        out->ready = true;
        out->expected = p0;
        out->lower = lo / nd;
        out->upper = hi / nd;
        out->anomalous = p < c->p_value;
        out->score = up ? kw_neglog10(p) : -kw_neglog10(p);
        out->anomaly_score = kw_squash(kw_neglog10(p), kw_neglog10(c->p_value));
        learn = kd < lo ? lo : (kd > hi ? hi : kd);
        /* Anomalous, or more than 3 sd out: part of an incident, learned only
         * slowly. Moments, not the p-value, decide, so the pre-screened and
         * the exact path learn the same. */
        incident = out->anomalous || fabs(kd - mo.mean) > 3 * mo.sd;
    }
    double keep = 1 - c->alpha, weight = 1;
    if (incident) {
        weight = c->incident_weight;
        keep = 1 - c->alpha * weight;
    }
    if (out->anomalous) {
        /* An incident is learned at its bound and with at most the average
         * interval's trials, so one huge interval cannot pull p0. */
        double avg_n = s->trials * c->alpha / (1 - pow(1 - c->alpha, s->n));
        if (nd > avg_n) {
            learn *= avg_n / nd;
            nd = avg_n;
        }
    }
    if (s->n >= 1 && !incident) { /* incidents are not the rate's normal spread */
        double e = (learn - nd * p0) * (learn - nd * p0) / (nd * p0 * (1 - p0));
        s->disp_e = keep * s->disp_e + e;
        s->disp_w = keep * s->disp_w + 1;
        s->disp_n = keep * s->disp_n + (nd - 1);
    }
    s->events = keep * s->events + weight * learn;
    s->trials = keep * s->trials + weight * nd;
    s->n += 1;
}

static cJSON *binomial_save(const void *state, const void *cfg)
{
    (void)cfg;
    const struct binomial_state *s = state;
    const double v[] = {s->n, s->events, s->trials, s->disp_e, s->disp_w, s->disp_n};
    return kw_json_doubles(v, 6);
}

static int binomial_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct binomial_state *s = state;
    double v[6];
    if (kw_json_read_doubles(json, v, 6))
        return -1;
    if (!(v[0] >= 0 && v[0] <= 9e15) || v[0] != floor(v[0]))
        return -1;
    for (int i = 1; i < 6; i++)
        if (!(v[i] >= 0) || !isfinite(v[i]))
            return -1;
    if (v[1] > v[2]) /* more events than trials */
        return -1;
    s->n = v[0];
    s->events = v[1];
    s->trials = v[2];
    s->disp_e = v[3];
    s->disp_w = v[4];
    s->disp_n = v[5];
    return 0;
}

static size_t binomial_bytes(const void *state)
{
    (void)state;
    return sizeof(struct binomial_state);
}

const struct kw_detector_type binomial_detector = {
    .name = "binomial",
    .description = "Rates with denominators: binomial or beta-binomial tail against a learned rate.",
    .options = binomial_options,
    .config_size = sizeof(struct binomial_config),
    .config_check = binomial_check,
    .accepts = binomial_accepts,
    .state_new = binomial_new,
    .update = binomial_update,
    .state_save = binomial_save,
    .state_load = binomial_load,
    .state_free = free,
    .state_bytes = binomial_bytes,
};
