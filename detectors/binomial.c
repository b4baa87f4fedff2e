/* binomial: rate KPIs with a denominator (drop-offs / entries, errors /
 * requests, csat). Learns the rate (a level times an hour-of-day and
 * day-of-week profile on the odds) and weighs the binomial (or
 * beta-binomial) tail of this interval's k of n and two likelihood-ratio
 * CUSUMs, so a step with 8 visitors still shows a lasting jump and one with
 * 3 visitors gives no false alarms. The math is below. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sf_gamma.h>

#include "../lib/xmalloc.h"
#include "detector.h"
#include "evidence.h"

/* The math.
 * Rate: the level b = (E + 0.5) / (N + 1) from exponentially weighted sums
 * of events E and trials N, so busy intervals weigh more than quiet ones and
 * the Jeffreys-style half event keeps b inside (0, 1). The sums remember
 * `memory` (1 day), or longer while that holds fewer than 200 of the
 * rarer outcome (at most 4 weeks).
 * Profile (`season`): a rate's rhythm is multiplicative on its odds, and
 * odds times any factor stay a rate in (0, 1). The interval's expected rate
 * p0 has the odds of b times the slot's factor s (evidence.h, normalised to
 * mean 1). A slot's factor is sum k (1 - p) / sum (n - k) p over its
 * intervals, p the rate at the long-run level's odds times the other
 * factor (a Mantel-Haenszel odds ratio, shrunk to 1 by the profile's
 * priors). The level learns each interval with its events divided and its
 * non-events multiplied by sqrt(s), whose odds are the interval's odds over
 * s: E / (N - E) then estimates b's odds whatever the slot mix.
 * Single interval: p = min(P(X >= k), P(X <= k)) under Binomial(n, p0), or
 * BetaBinomial(n, a, b) with mean p0 and intra-class correlation rho =
 * 1 / (a + b + 1). rho is a moment estimate from the Pearson dispersion:
 * with e = (k - n p0)^2 / (n p0 (1 - p0)) and E[e] = 1 + (n - 1) rho,
 * weighted sums give rho = (sum e - sum 1) / sum (n - 1), clamped to
 * [0, 0.999]. For n <= 1000 the tails are exact (the pmf from
 * gsl_sf_lnchoose + gsl_sf_lnbeta at 0, then the term ratio
 * (n-j)(j+a) / ((j+1)(n-j-1+b)) in log space); above, X/n is a Beta with
 * the same mean and beta-binomial variance (GSL beta cdf, continuity
 * corrected).
 * auto (the default): real rates at large denominators are never exactly
 * binomial, and the plain binomial then alarms every few hours. auto uses
 * rho = max(fitted rho if the mean dispersion is above 1 + 10 sqrt(2 /
 * n_eff), else 0; rho_floor), rho_floor = 0.05^2 m / (1 - m), m = min(p0,
 * 1 - p0): the rho of a rate that wanders by 5% of itself. It changes
 * nothing at small n and caps the precision claimed at large n.
 * CUSUMs: S = max(0, S + LLR / phi) with the binomial log-likelihood ratio
 * of k of n for the odds times psi (up: shift and burst_shift; down: their
 * inverses) and phi = 1 + (n - 1) rho (quasi-likelihood); p-value e^-S at
 * any interval (Ville's inequality, evidence.h).
 * p = looks x the smallest (Bonferroni), times 10^strictness after
 * false-alarm feedback; anomalous when p < p_value on a side the KPI
 * alerts on. Bounds: the rates k/n where this interval's own tail crosses
 * p_value / looks for its n.
 * Learning, following a change, recovery and feedback: as poisson (an
 * interval is held out of the baseline when either side is evidence; a
 * held change is adopted after adapt_after; evidence back towards the
 * long-run rate is a recovery). With a profile the CUSUMs start once it has
 * seen its cycle (a week with weekday factors, else a day), the Pearson
 * sums start again then, and the profile learns after warm-up from every
 * interval that is neither held, nor in an alarm, nor beyond 3.09 model sd,
 * while the level is near the long-run rate (the recovery test's "apart").
 * Pre-screen (cost): with the model's mean, sd, skewness g and excess
 * kurtosis e, when the model is near normal (|g| <= 0.5 and
 * |g| (z_c^2 - 1) / 6 + |e| (z_c^3 - 3 z_c) / 24 <= 0.5 sd), a point within
 * 3 sd and more than 0.75 + 2.5 |g| sd inside the Cornish-Fisher critical
 * values cannot be anomalous on its own (checked against the exact tails
 * in the unit tests); its p is the Cornish-Fisher normal tail, capped just
 * above the level. Where the model is too skewed for that (small n, rates
 * near 0 or 1), a second screen is a proof: P(X = k) >= 2 x level means
 * both tails, which contain that term, are above the level; the tail on
 * k's side is then summed from k outward until its terms stop mattering,
 * and the bounds are the Cornish-Fisher critical values. exact = true
 * turns both off.
 * GSL's incomplete beta returns NaN at some central points for n >~ 1e7;
 * those tails fall back to the normal approximation.
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
/* Small-n pre-screen: P(X = k) must reach the level times this. The direct
 * pmf and the exact path's recurrence agree to ~1e-12 relative; a factor 2
 * covers that many times over and costs only the counts next to the bounds. */
#define SCREEN_PMF_MARGIN 2.0
/* ... on models up to this |skewness|: beyond, the Cornish-Fisher bounds
 * it reports are too coarse to show. Its tail sum stops at terms below
 * this share of the sum. */
#define SCREEN_TAIL_EPS 1e-6
#define SCREEN_PMF_MAX_SKEW 0.7
/* auto: the fitted rho is used when the mean Pearson dispersion exceeds 1 by
 * this many of its standard errors, sqrt(2 / n_eff) (a strict bar: small
 * denominators and past incidents inflate it by chance) ... */
#define AUTO_DISP_Z 10.0
/* ... and rho is never below the value that makes the rate wander by this
 * fraction of min(p, 1 - p) between intervals. */
#define AUTO_CV 0.05
#define DAY_MS 86400000LL
/* The profile does not learn an interval beyond this many model sd (the
 * normal quantile of KW_EV_HOLD_P): a burst is not a new daily peak. */
#define TEACH_Z 3.090232306167813

enum { DIST_BINOMIAL, DIST_BETA_BINOMIAL, DIST_AUTO };
static const char *const dist_names[] = {"binomial", "beta_binomial", "auto", NULL};

struct binomial_config {
    double p_value;
    int distribution;
    int64_t memory_ms;
    int64_t adapt_ms;
    int season;
    double shift;
    double burst_shift;
    int min_points;
    bool exact;
    /* derived */
    int looks;
    double level1; /* p_value / looks: the single look's own level */
    double z;      /* normal quantile of level1, for the bound search's first guess */
};

/* Bytes per series: sizeof(struct binomial_state) = 696 (the profile is 62
 * of its 87 numbers). All doubles, saved in this order, the profile only
 * once it has learned something; a state without it loads with a flat one. */
struct binomial_state {
    double n;              /* intervals consumed */
    double events, trials; /* rate sums */
    double ref_ev, ref_tr; /* long-run rate, for recoveries */
    double ref_w;          /* ... and its weights' sum (ref_tr / ref_w = trials per interval) */
    double disp_e;         /* weighted sum of Pearson residuals e */
    double disp_w;         /* weighted sum of 1 */
    double disp_n;         /* weighted sum of n - 1 */
    double s_up[2], s_dn[2];
    struct kw_episode ep;  /* obs = events, exp = trials while held */
    double last_obs, last_exp;
    double strict;
    struct kw_ev_alarm alarm; /* the running alarm, if any */
    struct kw_profile prof;   /* odds ratios per hour and weekday */
};
#define BINOMIAL_NSTATE (sizeof(struct binomial_state) / sizeof(double))
#define BINOMIAL_NSTATE_FLAT (offsetof(struct binomial_state, prof) / sizeof(double))

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
    {"p_value", KW_OPT_DOUBLE, "1e-5", offsetof(struct binomial_config, p_value), 1e-15, 0.1,
     .desc = "Alert when the evidence on a side (the smallest p-value of the looks, times their number) is below this; "
             "the KPI's series are then held to it together (false-discovery rate, kpis[].fdr)."},
    {"distribution", KW_OPT_ENUM, "auto", offsetof(struct binomial_config, distribution), KW_NORANGE,
     .choices = dist_names,
     .desc = "binomial; beta_binomial when the rate varies between intervals more than chance; auto = "
             "beta_binomial only while that extra variation is statistically significant, and never less than a 5% wander."},
    {"memory", KW_OPT_DURATION, "1d", offsetof(struct binomial_config, memory_ms), 1, 31536000,
     .desc = "How long the learned rate remembers (longer while that holds under 200 of the rarer outcome, at most 4 "
             "weeks); a change too small to be evidence is half learned after 0.69 x this."},
    {"adapt_after", KW_OPT_DURATION, "1d", offsetof(struct binomial_config, adapt_ms), 0, 31536000,
     .desc = "A change that is evidence holds the baseline; once held this long, it becomes the new normal (0 = never)."},
    {"season", KW_OPT_ENUM, "auto", offsetof(struct binomial_config, season), KW_NORANGE, .choices = kw_season_names,
     .desc = "Learned profile of the rate's odds: daily (hour of day), weekly (hour of day x day of week), none; auto = "
             "weekly where the interval allows."},
    {"shift", KW_OPT_DOUBLE, "2", offsetof(struct binomial_config, shift), 0, 1000,
     .desc = "Odds ratio the sustained CUSUM is tuned to (down: its inverse); 0 = off."},
    {"burst_shift", KW_OPT_DOUBLE, "4", offsetof(struct binomial_config, burst_shift), 0, 1000,
     .desc = "Odds ratio the jump CUSUM is tuned to (down: its inverse); 0 = off."},
    {"min_points", KW_OPT_INT, "0", offsetof(struct binomial_config, min_points), 0, 1000000,
     .desc = "Intervals learned before the first verdict; 0 = at least 10, and until 50 of each outcome were seen."},
    {"exact", KW_OPT_BOOL, "false", offsetof(struct binomial_config, exact), KW_NORANGE,
     .desc = "Exact tails and bounds for every interval (slower); false = normal pre-screen for clearly normal ones."},
    KW_OPT_END,
};

static int binomial_check(void *cfg, const char *path, char *err, size_t errlen)
{
    struct binomial_config *c = cfg;
    if (c->shift != 0 && c->shift <= 1) {
        snprintf(err, errlen, "%s.shift: must be 0 (off) or > 1", path);
        return -1;
    }
    if (c->burst_shift != 0 && c->burst_shift <= 1) {
        snprintf(err, errlen, "%s.burst_shift: must be 0 (off) or > 1", path);
        return -1;
    }
    c->looks = 1 + (c->shift > 0) + (c->burst_shift > 0);
    c->level1 = c->p_value / c->looks;
    c->z = gsl_cdf_ugaussian_Qinv(c->level1);
    return 0;
}

static int binomial_accepts(const void *cfg, const struct kw_series_info *info, char *err, size_t errlen)
{
    (void)cfg;
    if (info->is_ratio)
        return 0;
    snprintf(err, errlen, "needs a ratio KPI (aggregation \"ratio\" or \"csat\")");
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
        /* E[e] = 1, Var[e] ~ 2 under the binomial; n_eff = the weights' sum. */
        double n_eff = s->disp_w;
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

/* Approximate bounds (in events) around a point known not to be anomalous
 * on its own: the Cornish-Fisher critical values. */
static void approx_bounds(const struct moments *m, const struct binomial_config *c, double n, double k, double *lo,
                          double *hi)
{
    double q_up = kw_cf_quantile(c->z, m->skew, m->kurt), q_down = kw_cf_quantile(-c->z, m->skew, m->kurt);
    *hi = fmax(fmin(floor(m->mean + 0.5 + m->sd * q_up), n), k);
    *lo = fmin(fmax(ceil(m->mean - 0.5 + m->sd * q_down), 0), k);
}

/* ... and its p: the Cornish-Fisher normal tail, capped just above the level. */
static void approx_tails(const struct moments *m, const struct binomial_config *c, double n, double k, double *p,
                         bool *up, double *lo, double *hi)
{
    double z_up = (k - 0.5 - m->mean) / m->sd, z_down = (k + 0.5 - m->mean) / m->sd;
    double p_up = k <= 0 ? 1.0 : gsl_cdf_ugaussian_Q(kw_cf_normal(z_up, m->skew, m->kurt));
    double p_down = k >= n ? 1.0 : gsl_cdf_ugaussian_P(kw_cf_normal(z_down, m->skew, m->kurt));
    *up = p_up < p_down;
    *p = fmax(*up ? p_up : p_down, c->level1 * 1.0000001); /* never reads as an alarm */
    approx_bounds(m, c, n, k, lo, hi);
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
    approx_tails(m, c, n, k, p, up, lo, hi);
    return true;
}

/* pmf(j + 1) / pmf(j) of the beta-binomial (a > 0) or the binomial at p. */
static double term_ratio(unsigned n, unsigned j, double p, double a, double b)
{
    if (a > 0)
        return ((double)(n - j) * (j + a)) / ((j + 1.0) * ((double)(n - j - 1) + b));
    return (double)(n - j) / (j + 1.0) * (p / (1 - p));
}

/* The small-n pre-screen, a proof rather than an approximation: both tails
 * P(X <= k) and P(X >= k) contain P(X = k), so when that one term is at
 * least the level neither tail can be below it. One pmf term costs three
 * log-gamma-type calls where the exact tails sum all n + 1 terms. Then the
 * tail on k's side of the mean is summed outward from k with the term
 * ratio until the terms no longer matter (a few sd), the other is its
 * complement, and the bounds are approx_bounds'. a, b: the beta-binomial's
 * parameters, or a <= 0 for the binomial at p. */
static bool pmf_screen(const struct moments *m, const struct binomial_config *c, unsigned n, unsigned k, double p,
                       double a, double b, double *p_up, double *p_down, double *lo, double *hi)
{
    double pmf = a > 0 ? exp(gsl_sf_lnchoose(n, k) + gsl_sf_lnbeta(k + a, n - k + b) - gsl_sf_lnbeta(a, b))
                       : gsl_ran_binomial_pdf(k, p, n);
    if (!(pmf >= c->level1 * SCREEN_PMF_MARGIN))
        return false;
    bool upper = k >= m->mean;
    double tail = pmf, term = pmf;
    for (unsigned j = k; upper ? j < n : j > 0; upper ? j++ : j--) {
        term *= upper ? term_ratio(n, j, p, a, b) : 1 / term_ratio(n, j - 1, p, a, b);
        tail += term;
        if (term < SCREEN_TAIL_EPS * tail)
            break;
    }
    double other = 1 - tail + pmf;
    double floor_p = c->level1 * 1.0000001; /* both tails hold pmf >= 2 x level; rounding never reads as an alarm */
    *p_up = fmax(unit(upper ? tail : other), floor_p);
    *p_down = fmax(unit(upper ? other : tail), floor_p);
    approx_bounds(m, c, n, k, lo, hi);
    return true;
}

static int64_t interval_of(const struct kw_series_info *info)
{
    return info->interval_ms > 0 ? info->interval_ms : 300000;
}

/* Warm once 10 intervals have shown at least WARM_RARE of each outcome (the
 * rate then known to ~15%); the profile learns from then on. */
#define WARM_RARE 50.0

static bool warmed_up(const struct binomial_state *s, const struct binomial_config *c)
{
    if (c->min_points > 0)
        return s->n >= c->min_points;
    return s->n >= 10 && s->events >= WARM_RARE && s->trials - s->events >= WARM_RARE;
}

static double rate_of(double ev, double tr)
{
    return (ev + 0.5) / (tr + 1);
}

/* Single-interval tails of k of n at rate p0 with correlation rho, and the
 * event bounds at level. */
static void tails(const struct binomial_config *c, double p0, double rho, unsigned n, unsigned k, double level,
                  bool screened_ok, double *p_up, double *p_down, double *lo, double *hi)
{
    double nd = n, kd = k, p;
    bool up;
    struct moments mo = rate_moments(nd, p0, rho);
    if (screened_ok && screen(&mo, c, nd, kd, &p, &up, lo, hi)) {
        *p_up = up ? p : 1.0 - p;
        *p_down = up ? 1.0 - p : p;
        return;
    }
    bool exact_sum = rho > RHO_MIN && n <= BB_EXACT_MAX;
    double bb_theta = exact_sum ? 1 / rho - 1 : 0;
    if (screened_ok && (exact_sum || rho <= RHO_MIN) && mo.sd > 0 && fabs(mo.skew) <= SCREEN_PMF_MAX_SKEW &&
        pmf_screen(&mo, c, n, k, p0, p0 * bb_theta, (1 - p0) * bb_theta, p_up, p_down, lo, hi))
        return;
    if (exact_sum) {
        unsigned ulo, uhi;
        bb_exact(n, p0 * bb_theta, (1 - p0) * bb_theta, k, level, p_down, p_up, &ulo, &uhi);
        *lo = ulo;
        *hi = uhi;
        return;
    }
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
    *p_down = model_P(&m, k);
    *p_up = k == 0 ? 1.0 : model_Q(&m, k - 1);
    double guess_off = m.skew * (c->z * c->z - 1) / 6;
    *lo = first_reached(&m, level, false, m.mean + m.sd * (guess_off - c->z));
    *hi = first_reached(&m, level, true, m.mean + m.sd * (guess_off + c->z));
}

/* The odds ratio a running alarm has seen, bounded away from 1 on its side. */
static double alarm_odds(const struct kw_ev_alarm *a, double p0)
{
    double seen = a->trials > a->obs && a->obs > 0 ? a->obs / (a->trials - a->obs) : 1;
    double want = a->trials > a->exp && a->exp > 0 ? a->exp / (a->trials - a->exp) : p0 / (1 - p0);
    double psi = seen / want;
    return a->side > 0 ? fmax(psi, KW_EV_MIN_RATIO) : fmin(psi, 1 / KW_EV_MIN_RATIO);
}

/* An alarm on side ended: its evidence starts again from nothing. */
static void restart_side(struct binomial_state *s, int side)
{
    if (side > 0)
        memset(s->s_up, 0, sizeof s->s_up);
    else
        memset(s->s_dn, 0, sizeof s->s_dn);
}

static void end_episode(struct binomial_state *s)
{
    s->last_obs = s->ep.obs;
    s->last_exp = s->ep.exp;
    memset(&s->ep, 0, sizeof s->ep);
}

/* The interval's k of n as the level learns it at profile factor shape:
 * events / sqrt(shape) and non-events x sqrt(shape), whose odds are k's
 * over shape (exactly k of n at shape 1). */
static void deseasoned(double k, double n, double shape, double *ev, double *tr)
{
    if (shape == 1) {
        *ev = k;
        *tr = n;
        return;
    }
    double r = sqrt(shape);
    *ev = k / r;
    *tr = *ev + (n - k) * r;
}

static void binomial_update(void *state, const void *cfg, const struct kw_series_info *info,
                            const struct kw_sample *in, struct kw_verdict *out)
{
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
    int64_t iv = interval_of(info);
    struct kw_profile_plan plan;
    kw_profile_plan(&plan, c->season, iv);
    struct kw_slot sl = kw_profile_slot(in->ts_ms);
    double hour_part, day_part;
    double shape = kw_profile_shape(&s->prof, &plan, sl, &hour_part, &day_part);
    double base = rate_of(s->events, s->trials); /* the level, without the slot's factor */
    double p0 = kw_odds_times(base, shape);      /* this interval's expected rate */
    double rho = 0;
    if (c->distribution != DIST_BINOMIAL && n > 1)
        rho = dispersion(s, c);
    if (c->distribution == DIST_AUTO && n > 1) {
        double m = fmin(p0, 1 - p0);
        rho = fmax(rho, AUTO_CV * AUTO_CV * m / (1 - m));
    }
    double phi = 1 + (nd - 1) * rho;
    /* The CUSUMs start once the profile has seen a whole cycle (a week with
     * weekday factors: until then a first weekend looks like a change). */
    double cycle = kw_profile_cycle(&plan, iv);
    bool settled = c->min_points > 0 || s->n >= cycle;
    bool hold = false, teach = false;
    if (warmed_up(s, c)) {
        double strictf = pow(KW_EV_STRICT_STEP, s->strict);
        double level = c->level1 / strictf;
        double p_up1, p_dn1, lo, hi;
        tails(c, p0, rho, n, k, level, !c->exact && s->strict == 0, &p_up1, &p_dn1, &lo, &hi);
        double cap = log(c->looks * strictf * fmax(1.0, info->multiplicity) / c->p_value) + KW_EV_CAP_MARGIN;
        const double psi[2] = {c->shift, c->burst_shift};
        double s_up = 0, s_dn = 0;
        for (int j = 0; j < 2; j++) {
            if (!(psi[j] > 1) || !settled)
                continue;
            s->s_up[j] = kw_ev_cusum(s->s_up[j], kw_ev_llr_binomial(kd, nd, p0, psi[j], phi), cap);
            s->s_dn[j] = kw_ev_cusum(s->s_dn[j], kw_ev_llr_binomial(kd, nd, p0, 1 / psi[j], phi), cap);
            s_up = fmax(s_up, s->s_up[j]);
            s_dn = fmax(s_dn, s->s_dn[j]);
        }
        /* a running alarm ends when the data favour "back to normal" over
         * "still shifted by what it has seen"; that side's evidence restarts */
        if (s->alarm.side != 0) {
            int was = (int)s->alarm.side;
            if (kw_ev_alarm_returns(&s->alarm, -kw_ev_llr_binomial(kd, nd, p0, alarm_odds(&s->alarm, p0), phi))) {
                restart_side(s, was);
                s_up = fmax(s->s_up[0], s->s_up[1]);
                s_dn = fmax(s->s_dn[0], s->s_dn[1]);
            }
        }
        double p_up = fmin(1.0, c->looks * fmin(p_up1, kw_ev_p(s_up)) * strictf);
        double p_dn = fmin(1.0, c->looks * fmin(p_dn1, kw_ev_p(s_dn)) * strictf);
        /* Recovery: evidence from the level back towards the long-run rate
         * R, with this interval within 3 sd of R (in its slot), is the
         * change going away. */
        double R = rate_of(s->ref_ev, s->ref_tr), Rt = kw_odds_times(R, shape);
        double sd_r = sqrt(nd * Rt * (1 - Rt) * phi);
        double m = fmin(R, 1 - R);
        bool apart = fabs(base - R) > 0.1 * m + 2 * sqrt(R * (1 - R) / (s->trials + 1));
        bool rec_up = apart && R > base && kd - nd * Rt <= 3 * sd_r;
        bool rec_dn = apart && R < base && nd * Rt - kd <= 3 * sd_r;
        bool up_ok = info->direction != KW_DIR_DOWN, dn_ok = info->direction != KW_DIR_UP;
        double pa_up = up_ok && !rec_up ? p_up : 1.0, pa_dn = dn_ok && !rec_dn ? p_dn : 1.0;
        double p;
        bool continuing;
        int side = kw_ev_decide(pa_up, pa_dn, c->p_value, &s->alarm, &p, &out->anomalous, &continuing);
        if (out->anomalous) {
            s->alarm.obs += kd;
            s->alarm.exp += nd * p0;
            s->alarm.trials += nd;
        }
        out->ready = true;
        out->expected = p0;
        out->lower = lo / nd;
        out->upper = hi / nd;
        out->direction = side;
        out->score = side >= 0 ? kw_neglog10(p) : -kw_neglog10(p);
        out->anomaly_score = kw_squash(kw_neglog10(p), kw_neglog10(c->p_value));
        if (continuing && out->anomaly_score < 0.5)
            out->anomaly_score = 0.5;
        out->p_value = p;
        out->p_level = c->p_value;
        bool ev_up = (p_up < c->p_value || s_up > KW_EV_HOLD_S) && !rec_up;
        bool ev_dn = (p_dn < c->p_value || s_dn > KW_EV_HOLD_S) && !rec_dn;
        hold = ev_up || ev_dn;
        bool outlier = fabs(kd - nd * p0) > TEACH_Z * sqrt(nd * p0 * (1 - p0) * phi);
        teach = !hold && s->alarm.side == 0 && !outlier && !apart;
    }
    /* The profile learns against the long-run rate, which barely moves
     * within a week, so a lasting change that moves every factor alike is
     * undone by their normalisation; never from held, alarming or outlying
     * intervals, nor while the level is apart from the long-run rate: a
     * change under way (a drift) would be taken for its hours' and its
     * weekday's rhythm. */
    if (teach) {
        double R = rate_of(s->ref_ev, s->ref_tr);
        kw_profile_learn_odds(&s->prof, &plan, sl, kd, nd, R / (1 - R), hour_part, day_part);
    }
    double ev, tr;
    deseasoned(kd, nd, shape, &ev, &tr);
    s->n += 1;
    if (hold) {
        s->ep.held += 1;
        s->ep.quiet = 0;
        s->ep.obs += ev;
        s->ep.exp += tr;
        double adapt = c->adapt_ms > 0 ? ceil((double)c->adapt_ms / (double)iv) : INFINITY;
        if (s->ep.held >= adapt) {
            /* the change has lasted: it is the new normal */
            double adopted = s->ep.obs / s->ep.exp;
            s->events = adopted * (s->trials + 1) - 0.5;
            if (s->events < 0)
                s->events = 0;
            memset(s->s_up, 0, sizeof s->s_up);
            memset(s->s_dn, 0, sizeof s->s_dn);
            end_episode(s);
        }
        return;
    }
    if (s->ep.held > 0) {
        s->ep.quiet += 1;
        if (c->adapt_ms > 0 && s->ep.quiet * KW_EV_QUIET_DIVISOR >= (double)c->adapt_ms / (double)iv)
            end_episode(s);
    }
    /* average trials per interval, for the level's event-based memory */
    double avg_n = s->ref_w > 0 ? s->ref_tr / s->ref_w : nd;
    double rare = avg_n * fmin(p0, 1 - p0);
    double kd_keep = kw_ev_level_keep(c->memory_ms, iv, rare, KW_EV_REF_FACTOR);
    /* Residuals against a profile still learning carry the rhythm too
     * (model error: conservative); they start again once it has its cycle. */
    if (cycle > 0 && s->n == cycle)
        s->disp_e = s->disp_w = s->disp_n = 0;
    if (s->n >= 2 && nd * p0 * (1 - p0) > 0) {
        double e = (kd - nd * p0) * (kd - nd * p0) / (nd * p0 * (1 - p0));
        s->disp_e = kd_keep * s->disp_e + e;
        s->disp_w = kd_keep * s->disp_w + 1;
        s->disp_n = kd_keep * s->disp_n + (nd - 1);
    }
    double keep = kw_ev_level_keep(c->memory_ms, iv, rare, 1.0);
    s->events = keep * s->events + ev;
    s->trials = keep * s->trials + tr;
    s->ref_ev = kd_keep * s->ref_ev + ev;
    s->ref_tr = kd_keep * s->ref_tr + tr;
    s->ref_w = kd_keep * s->ref_w + 1;
}

/* A false alarm: what the held episode saw was normal, so it is learned at
 * full weight, the evidence restarts, and the test gets one step stricter. */
static void binomial_feedback(void *state, const void *cfg, bool false_alarm)
{
    (void)cfg;
    struct binomial_state *s = state;
    if (!false_alarm) {
        s->strict = fmax(0.0, s->strict - 1);
        return;
    }
    if (s->ep.held > 0)
        end_episode(s);
    s->events += s->last_obs;
    s->trials += s->last_exp;
    s->ref_ev += s->last_obs;
    s->ref_tr += s->last_exp;
    s->last_obs = s->last_exp = 0;
    memset(s->s_up, 0, sizeof s->s_up);
    memset(s->s_dn, 0, sizeof s->s_dn);
    s->strict = fmin((double)KW_EV_MAX_STRICT, s->strict + 1);
}

/* A profile that has learned nothing (season none, or not yet warm) is
 * left out: such a state saves as it did before rates had a profile. */
static cJSON *binomial_save(const void *state, const void *cfg)
{
    (void)cfg;
    const struct binomial_state *s = state;
    static const struct kw_profile flat;
    double v[BINOMIAL_NSTATE];
    memcpy(v, state, sizeof v);
    bool learned = memcmp(&s->prof, &flat, sizeof flat) != 0;
    return kw_json_doubles(v, learned ? BINOMIAL_NSTATE : BINOMIAL_NSTATE_FLAT);
}

static int binomial_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    /* a state saved before rates had a profile loads with a flat one */
    size_t have = cJSON_IsArray(json) ? (size_t)cJSON_GetArraySize(json) : 0;
    if (have != BINOMIAL_NSTATE && have != BINOMIAL_NSTATE_FLAT)
        return -1;
    double v[BINOMIAL_NSTATE] = {0};
    if (kw_json_read_doubles(json, v, have))
        return -1;
    if (!(v[0] >= 0 && v[0] <= 9e15) || v[0] != floor(v[0]))
        return -1;
    const size_t alarm_at = offsetof(struct binomial_state, alarm) / sizeof(double);
    for (size_t i = 1; i < alarm_at; i++) /* all before the alarm */
        if (!kw_ev_nonneg(v[i]))
            return -1;
    struct binomial_state s;
    memcpy(&s, v, sizeof s);
    if (!kw_ev_alarm_valid(&s.alarm) || !kw_profile_valid(&s.prof))
        return -1;
    if (s.events > s.trials + 0.5 || s.ref_ev > s.ref_tr + 0.5 || s.ep.obs > s.ep.exp || s.last_obs > s.last_exp ||
        s.strict > KW_EV_MAX_STRICT || s.strict != floor(s.strict))
        return -1;
    memcpy(state, &s, sizeof s);
    return 0;
}

static size_t binomial_bytes(const void *state)
{
    (void)state;
    return sizeof(struct binomial_state);
}

const struct kw_detector_type binomial_detector = {
    .name = "binomial",
    .description = "Rates with denominators: exact tail and likelihood-ratio CUSUMs against a learned rate.",
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
    .feedback = binomial_feedback,
};
