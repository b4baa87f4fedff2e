/* poisson: count KPIs (complaints, errors, orders per interval). Learns the
 * expected count (a level times an hour-of-day and day-of-week profile,
 * with learned overdispersion) and weighs the exact tail of this interval's
 * count and two likelihood-ratio CUSUMs (a sustained rise, a burst) that
 * accumulate what no single interval shows. The math is below. */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "../lib/xmalloc.h"
#include "detector.h"
#include "evidence.h"

/* The math.
 * Expected count: lambda_t = L s_t, where s_t is the profile factor of the
 * interval's hour and weekday (evidence.h: ratio of observed to expected
 * sums per slot against the long-run level R below, shrunk to 1,
 * normalised to mean 1; learned after warm-up)
 * and L = N / D the level, from exponentially weighted sums N of counts and
 * D of factors. L remembers `memory` (1 day), or longer on sparse series:
 * at least 200 events (0.1 per interval: about a week), at most 4 weeks.
 * lambda_t is floored at 0.5 s_t / D: after a run of zeros one event is
 * surprising, two are news.
 * Overdispersion: k from weighted sums, k = max(0, sum((x - lambda)^2 - x)
 * / sum(lambda^2)) (E[(x - lambda)^2 - x] = k lambda^2 for a negative
 * binomial of mean lambda and size 1/k); poisson forces k = 0. After
 * warm-up the sums take only intervals whose own tail under the current
 * model (lambda_t, k) is at least KW_EV_HOLD_P on both sides: a squared
 * residual has unbounded influence, so the part of a burst that falls
 * just inside a wide young band would widen it, let more of the burst in,
 * and run away. The cut is a fixed tail level, so it moves with k: at the
 * true k it drops at most 0.2% of the intervals and leaves k 3-9% low at
 * lambda >= 5 for k from 0.05 to 2 (up to 14% at lambda = 2: the fixed
 * point of the truncated estimator), and starting from k = 0 it still
 * climbs to that point.
 * Evidence, per side (up: rise; down: fall):
 *  - the tail P(X >= x) (down: P(X <= x)) under Poisson(lambda_t) or
 *    NegBin(lambda_t, 1/k) (GSL cdfs);
 *  - CUSUMs of log-likelihood ratios for the rate times rho (up: shift and
 *    burst_shift; down: their inverses), S = max(0, S + LLR) with the exact
 *    negative binomial ratio (Poisson at k = 0: x ln rho - (rho - 1)
 *    lambda_t), whose p-value is e^-S at any interval (Ville's inequality,
 *    evidence.h).
 * p = looks x the smallest of them (Bonferroni over the looks), times
 * 10^strictness after false-alarm feedback; anomalous when p < p_value on
 * a side the KPI alerts on. score = -+log10 p. Bounds: the counts where
 * this interval's own tail crosses p_value / looks.
 * A CUSUM is capped KW_EV_CAP_MARGIN nats above its alert level, so the
 * evidence of a finished incident drains in bounded time.
 * Learning (what keeps the baseline unbiased): an interval is held out of
 * the baseline when either side is evidence (anomalous at p_value before
 * feedback's strictness, or a CUSUM above ln 1000), whatever the side the
 * KPI alerts on, so exclusion is
 * symmetric; a single interval is never held for being "3 sd out" (at 0.1
 * expected, one complaint is). Everything else is learned at full weight.
 * Following a genuine change: one too small to be evidence is learned at
 * the level's memory: after time t the expected count has covered
 * 1 - exp(-t / tau) of a step (tau = memory: half after 17 h at 1d). One
 * that is evidence holds the baseline (what was normal stays the
 * reference) and, once the holds add up to adapt_after within one episode,
 * is adopted: the level jumps to the mean seen while held. An episode ends
 * after adapt_after / 4 unheld intervals.
 * Recovery: a long-run level R (7 x the memory) is kept too; evidence
 * pointing from L back towards R, with the count within 3 sd of R, is a
 * recovery: never an alert, and learned at once.
 * The pre-screen skips the exact tail for counts clearly inside the band
 * (its p comes from Wilson-Hilferty or Cornish-Fisher, within 0.1 in log10
 * p and capped just above the level, so flags and learning are those of
 * the exact path); exact = true turns it off. */

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
#define DAY_MS 86400000LL

enum { DIST_POISSON, DIST_NEGBIN };
static const char *const dist_names[] = {"poisson", "negative_binomial", NULL};

struct poisson_config {
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
    int looks;     /* single interval + the CUSUMs in use */
    double level1; /* p_value / looks: the single look's own level */
    double z;      /* normal quantile of level1, for the bound search's first guess */
};

/* Bytes per series: sizeof(struct poisson_state) = 680. All doubles, saved
 * in this order. */
struct poisson_state {
    double n;                  /* intervals consumed */
    double lev_num, lev_den;   /* level L = lev_num / lev_den */
    double ref_num, ref_den;   /* long-run level R, for recoveries */
    double disp_num, disp_den; /* overdispersion k */
    double s_up[2], s_dn[2];   /* CUSUMs: sustained, burst */
    struct kw_episode ep;      /* the held run in progress */
    double last_obs, last_exp; /* the last finished episode (for feedback) */
    double strict;             /* false-alarm feedback steps, 0..KW_EV_MAX_STRICT */
    struct kw_ev_alarm alarm; /* the running alarm, if any */
    struct kw_profile prof;
};
#define POISSON_NSTATE (sizeof(struct poisson_state) / sizeof(double))

/* The fitted count distribution for one interval. */
struct count_model {
    bool negbin;
    double mu;       /* mean */
    double r, p;     /* negative binomial size and success probability */
    double sd, skew; /* for the first guess and the pre-screen */
    double kurt;     /* excess kurtosis, for the pre-screen */
};

static const struct kw_option poisson_options[] = {
    {"p_value", KW_OPT_DOUBLE, "1e-4", offsetof(struct poisson_config, p_value), 1e-15, 0.1,
     .desc = "Alert when the evidence on a side (the smallest p-value of the looks, times their number) is below this; "
             "the KPI's series are then held to it together (false-discovery rate, kpis[].fdr). 1e-4 is the pick of "
             "make accuracy: at most 1 false alarm per week per 100 series, and more incidents found than at 1e-5."},
    {"distribution", KW_OPT_ENUM, "negative_binomial", offsetof(struct poisson_config, distribution), KW_NORANGE,
     .choices = dist_names,
     .desc = "negative_binomial: learn the overdispersion of real counts (0 gives the Poisson model); poisson: never."},
    {"memory", KW_OPT_DURATION, "1d", offsetof(struct poisson_config, memory_ms), 1, 31536000,
     .desc = "How long the learned level remembers (longer on sparse series: at least 200 events, at most 4 weeks); "
             "a change too small to be evidence is half learned after 0.69 x this."},
    {"adapt_after", KW_OPT_DURATION, "1d", offsetof(struct poisson_config, adapt_ms), 0, 31536000,
     .desc = "A change that is evidence holds the baseline; once held this long, it becomes the new normal (0 = never)."},
    {"season", KW_OPT_ENUM, "auto", offsetof(struct poisson_config, season), KW_NORANGE, .choices = kw_season_names,
     .desc = "Learned profile: daily (hour of day), weekly (hour of day x day of week), none; auto = weekly where the "
             "interval allows."},
    {"shift", KW_OPT_DOUBLE, "2", offsetof(struct poisson_config, shift), 0, 1000,
     .desc = "Rate ratio the sustained CUSUM is tuned to (down: its inverse); 0 = off."},
    {"burst_shift", KW_OPT_DOUBLE, "5", offsetof(struct poisson_config, burst_shift), 0, 1000,
     .desc = "Rate ratio the burst CUSUM is tuned to (down: its inverse); 0 = off."},
    {"min_points", KW_OPT_INT, "0", offsetof(struct poisson_config, min_points), 0, 1000000,
     .desc = "Intervals learned before the first verdict; 0 = one day's worth (at least 10)."},
    {"exact", KW_OPT_BOOL, "false", offsetof(struct poisson_config, exact), KW_NORANGE,
     .desc = "Exact tails and bounds for every interval (slower); false = normal pre-screen for clearly normal ones."},
    KW_OPT_END,
};

static int poisson_check(void *cfg, const char *path, char *err, size_t errlen)
{
    struct poisson_config *c = cfg;
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
    *p = fmax(*up ? p_up : p_down, c->level1 * 1.0000001); /* never reads as an alarm */
    *hi = floor(m->mu + 0.5 + m->sd * q_up);
    double l = ceil(m->mu - 0.5 + m->sd * q_down);
    *lo = l > 0 ? l : 0;
    if (*hi < x) /* cannot happen with the margin; keep the point inside its bounds anyway */
        *hi = x;
    if (*lo > x)
        *lo = x;
    return true;
}

/* The count model at mean mu with overdispersion k (0 = Poisson). */
static void fit_model(double mu, double k, struct count_model *m)
{
    m->mu = mu;
    m->negbin = false;
    m->sd = sqrt(mu);
    m->skew = 1 / m->sd;
    m->kurt = 1 / mu;
    double r = k > 0 ? 1 / k : INFINITY;
    if (r < 1e9) { /* beyond that it is Poisson to double precision */
        m->negbin = true;
        m->r = r;
        m->p = r / (r + mu);
        m->sd = sqrt(mu / m->p);
        m->skew = (2 - m->p) / sqrt(r * (1 - m->p));
        m->kurt = 6 / r + m->p * m->p / (r * (1 - m->p));
    }
}

static int64_t interval_of(const struct kw_series_info *info)
{
    return info->interval_ms > 0 ? info->interval_ms : 300000;
}

static double min_points(const struct poisson_config *c, const struct kw_series_info *info)
{
    if (c->min_points > 0)
        return c->min_points;
    return fmax(10.0, ceil((double)DAY_MS / (double)interval_of(info)));
}

/* CUSUMs, holds and adoption start once the profile has seen a whole
 * season: a week with day-of-week factors (until then a first weekend
 * looks like a drop), else a day. */
static double evidence_start(const struct poisson_config *c, const struct kw_series_info *info,
                             const struct kw_profile_plan *plan)
{
    if (c->min_points > 0)
        return c->min_points;
    return plan->days ? fmax(10.0, ceil(7.0 * DAY_MS / (double)interval_of(info))) : min_points(c, info);
}

static double level_of(double num, double den)
{
    return den > 0 ? num / den : 0;
}

static double overdispersion(const struct poisson_state *s, const struct poisson_config *c)
{
    if (c->distribution == DIST_POISSON || !(s->disp_den > 0))
        return 0;
    double k = s->disp_num / s->disp_den;
    return k > 0 ? fmin(k, 1e6) : 0;
}

/* The single-interval tails of x and this interval's bounds at level. */
static void tails(const struct count_model *m, const struct poisson_config *c, double x, double level, bool screened_ok,
                  double *p_up, double *p_down, double *lo, double *hi)
{
    double p;
    bool up;
    if (screened_ok && screen(m, c, x, &p, &up, lo, hi)) {
        /* clearly normal: the side's p is approximate and above the level,
         * the other side about its complement. Beyond 2 sd the side's p is
         * made exact, so whether it is below KW_EV_HOLD_P (the profile's
         * outlier rule) does not depend on the path. */
        if (fabs(x - m->mu) > 2 * m->sd)
            p = up ? (x <= 0 ? 1.0 : model_Q(m, (unsigned)x - 1)) : model_P(m, (unsigned)x);
        *p_up = up ? p : 1.0 - p;
        *p_down = up ? 1.0 - p : p;
        return;
    }
    unsigned k = (unsigned)x;
    *p_down = model_P(m, k);
    *p_up = k == 0 ? 1.0 : model_Q(m, k - 1);
    double guess_off = m->skew * (c->z * c->z - 1) / 6;
    *lo = first_reached(m, level, false, m->mu + m->sd * (guess_off - c->z));
    *hi = first_reached(m, level, true, m->mu + m->sd * (guess_off + c->z));
}

/* An alarm on side ended: its evidence starts again from nothing. */
static void restart_side(struct poisson_state *s, int side)
{
    if (side > 0)
        memset(s->s_up, 0, sizeof s->s_up);
    else
        memset(s->s_dn, 0, sizeof s->s_dn);
}

/* Whether x is an outlier for the profile: its own Poisson tail (k = 0,
 * stricter than the learned overdispersion, which may still be inflated by
 * a young profile) is below KW_EV_HOLD_P, on either side. */
static bool poisson_outlier(double x, double lam)
{
    if (fabs(x - lam) <= 2 * sqrt(lam) + 1) /* the 0.001 tails are further out */
        return false;
    struct count_model m;
    fit_model(lam, 0, &m);
    unsigned k = (unsigned)x;
    double p = x > lam ? (k == 0 ? 1.0 : model_Q(&m, k - 1)) : model_P(&m, k);
    return p < KW_EV_HOLD_P;
}

static void end_episode(struct poisson_state *s)
{
    s->last_obs = s->ep.obs;
    s->last_exp = s->ep.exp;
    memset(&s->ep, 0, sizeof s->ep);
}

static void poisson_update(void *state, const void *cfg, const struct kw_series_info *info,
                           const struct kw_sample *in, struct kw_verdict *out)
{
    struct poisson_state *s = state;
    const struct poisson_config *c = cfg;
    double x = in->value;
    if (!isfinite(x) || x < 0)
        return; /* missing or impossible count: nothing learned */
    x = x < KMAX ? round(x) : KMAX;
    int64_t iv = interval_of(info);
    struct kw_profile_plan plan;
    kw_profile_plan(&plan, c->season, iv);
    struct kw_slot sl = kw_profile_slot(in->ts_ms);
    double hour_part, day_part;
    double shape = kw_profile_shape(&s->prof, &plan, sl, &hour_part, &day_part);
    double L = level_of(s->lev_num, s->lev_den);
    double lam = fmax(L * shape, 0.5 * shape / fmax(s->lev_den, 1.0));
    double k = overdispersion(s, c);
    bool hold = false, outlier = false, teach = true, teach_k = true;
    if (s->n >= min_points(c, info)) {
        struct count_model m;
        fit_model(lam, k, &m);
        double strictf = pow(KW_EV_STRICT_STEP, s->strict);
        double level = c->level1 / strictf;
        double p_up1, p_dn1, lo, hi;
        tails(&m, c, x, level, !c->exact && s->strict == 0, &p_up1, &p_dn1, &lo, &hi);
        /* the CUSUMs, against the baseline as it stands (held while suspect),
         * once the profile has seen a whole season */
        bool settled = s->n >= evidence_start(c, info, &plan);
        double cap = log(c->looks * strictf * fmax(1.0, info->multiplicity) / c->p_value) + KW_EV_CAP_MARGIN;
        const double rho[2] = {c->shift, c->burst_shift};
        double s_up = 0, s_dn = 0;
        for (int j = 0; j < 2; j++) {
            if (!(rho[j] > 1) || !settled)
                continue;
            s->s_up[j] = kw_ev_cusum(s->s_up[j], kw_ev_llr_counts(x, lam, rho[j], k), cap);
            s->s_dn[j] = kw_ev_cusum(s->s_dn[j], kw_ev_llr_counts(x, lam, 1 / rho[j], k), cap);
            s_up = fmax(s_up, s->s_up[j]);
            s_dn = fmax(s_dn, s->s_dn[j]);
        }
        /* a running alarm ends when the data favour "back to normal" over
         * "still shifted by what it has seen"; that side's evidence restarts.
         * That return test is cumulative evidence against the baseline, so
         * like the CUSUMs it waits for a settled profile: a young one can be
         * several times off in the hours it has not seen yet, and "still
         * shifted" would then outlast the incident by hours. Until then an
         * alarm lasts while its intervals are evidence themselves. */
        if (s->alarm.side != 0) {
            int was = (int)s->alarm.side;
            if (!settled) {
                memset(&s->alarm, 0, sizeof s->alarm);
            } else if (kw_ev_alarm_returns(&s->alarm, -kw_ev_llr_counts(x, lam, kw_ev_alarm_ratio(&s->alarm), k))) {
                restart_side(s, was);
                s_up = fmax(s->s_up[0], s->s_up[1]);
                s_dn = fmax(s->s_dn[0], s->s_dn[1]);
            }
        }
        double p_up = fmin(1.0, c->looks * fmin(p_up1, kw_ev_p(s_up)) * strictf);
        double p_dn = fmin(1.0, c->looks * fmin(p_dn1, kw_ev_p(s_dn)) * strictf);
        /* Recovery: evidence from L back towards the long-run level R, with
         * this count no surprise at R, is the change going away. */
        double R = level_of(s->ref_num, s->ref_den);
        bool apart = fabs(L - R) > 0.1 * R + 2 * sqrt(fmax(R, 1e-12) / fmax(s->lev_den, 1.0));
        bool rec_up = false, rec_dn = false;
        if (apart) {
            struct count_model mr;
            fit_model(fmax(R * shape, 1e-9), k, &mr);
            unsigned xi = (unsigned)x;
            rec_up = R > L && (xi == 0 || model_Q(&mr, xi - 1) >= KW_EV_HOLD_P);
            rec_dn = R < L && model_P(&mr, xi) >= KW_EV_HOLD_P;
        }
        bool up_ok = info->direction != KW_DIR_DOWN, dn_ok = info->direction != KW_DIR_UP;
        double pa_up = up_ok && !rec_up ? p_up : 1.0, pa_dn = dn_ok && !rec_dn ? p_dn : 1.0;
        double p;
        bool continuing;
        int side = kw_ev_decide(pa_up, pa_dn, c->p_value, &s->alarm, &p, &out->anomalous, &continuing);
        if (out->anomalous) {
            s->alarm.obs += x;
            s->alarm.exp += lam;
            s->alarm.trials += 0;
        }
        out->ready = true;
        out->expected = lam;
        out->lower = lo;
        out->upper = hi;
        out->direction = side;
        out->score = side >= 0 ? kw_neglog10(p) : -kw_neglog10(p);
        out->anomaly_score = kw_squash(kw_neglog10(p), kw_neglog10(c->p_value));
        if (continuing && out->anomaly_score < 0.5)
            out->anomaly_score = 0.5;
        out->p_value = p;
        out->p_level = c->p_value;
        /* Held on evidence of either side, whichever side may alert, at the
         * series' own p_value: false-alarm feedback makes fewer intervals
         * alert, never more of them teach the baseline (a spike learned
         * into the overdispersion would widen the band far beyond a step). */
        outlier = fmin(p_up1, p_dn1) < c->level1;
        bool ev_up = (p_up < c->p_value * strictf || s_up > KW_EV_HOLD_S) && !rec_up;
        bool ev_dn = (p_dn < c->p_value * strictf || s_dn > KW_EV_HOLD_S) && !rec_dn;
        if (!settled) /* before that, an outlier is left out but never adopted */
            ev_up = ev_dn = false;
        hold = ev_up || ev_dn || outlier;
        teach = !hold && s->alarm.side == 0 && !poisson_outlier(x, lam);
        /* a tail this far out says more about an incident than about
         * the spread of normal counts */
        teach_k = fmin(p_up1, p_dn1) >= KW_EV_HOLD_P;
    }
    /* The profile learns against the long-run level R: it barely moves
     * within a day or a week, so a weekend dip of the level cannot leak into
     * the weekday factors, and a lasting change that moves every factor
     * alike is undone by their normalisation. It learns neither the first
     * day, nor held or alarming intervals, nor an interval whose own Poisson
     * tail is below KW_EV_HOLD_P (a spike is not a new daily peak); in the first
     * week no CUSUM holds anything, so a first weekend is learned as a
     * weekend rather than held as a drop. */
    if (s->n >= min_points(c, info) && teach)
        kw_profile_learn(&s->prof, &plan, sl, x, level_of(s->ref_num, s->ref_den), hour_part, day_part);
    s->n += 1;
    if (hold) {
        s->ep.held += 1;
        s->ep.quiet = 0;
        s->ep.obs += x;
        s->ep.exp += shape;
        double adapt = c->adapt_ms > 0 ? ceil((double)c->adapt_ms / (double)iv) : INFINITY;
        if (s->ep.held >= adapt) {
            /* the change has lasted: it is the new normal */
            double adopted = s->ep.obs / s->ep.exp;
            if (s->lev_den > 0)
                s->lev_num = adopted * s->lev_den;
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
    /* Overdispersion from the residuals. Against a flat profile they carry
     * the rhythm too (model error: conservative), so with a profile the sums
     * start again once it has learned a day. Against a floored rate
     * (nothing seen yet) they say nothing. Extreme tails are left out
     * (the math above). */
    if ((plan.hours || plan.days) && s->n == 2 * min_points(c, info))
        s->disp_num = s->disp_den = 0;
    if (L > 0 && teach_k) {
        double kd = kw_ev_level_keep(c->memory_ms, iv, L, KW_EV_REF_FACTOR);
        double e = x - lam;
        s->disp_num = kd * s->disp_num + e * e - x;
        s->disp_den = kd * s->disp_den + lam * lam;
    }
    double keep = kw_ev_level_keep(c->memory_ms, iv, L, 1.0);
    s->lev_num = keep * s->lev_num + x;
    s->lev_den = keep * s->lev_den + shape;
    double keep_r = kw_ev_level_keep(c->memory_ms, iv, level_of(s->ref_num, s->ref_den), KW_EV_REF_FACTOR);
    s->ref_num = keep_r * s->ref_num + x;
    s->ref_den = keep_r * s->ref_den + shape;
}

/* A false alarm: what the held episode saw was normal, so it is learned
 * into the level at full weight (never into the overdispersion, which would
 * widen the band far beyond one step), the evidence restarts, and the test
 * gets one step stricter. */
static void poisson_feedback(void *state, const void *cfg, bool false_alarm)
{
    (void)cfg;
    struct poisson_state *s = state;
    if (!false_alarm) {
        s->strict = fmax(0.0, s->strict - 1);
        return;
    }
    if (s->ep.held > 0)
        end_episode(s);
    s->lev_num += s->last_obs;
    s->lev_den += s->last_exp;
    s->ref_num += s->last_obs;
    s->ref_den += s->last_exp;
    s->last_obs = s->last_exp = 0;
    memset(s->s_up, 0, sizeof s->s_up);
    memset(s->s_dn, 0, sizeof s->s_dn);
    s->strict = fmin((double)KW_EV_MAX_STRICT, s->strict + 1);
}

static cJSON *poisson_save(const void *state, const void *cfg)
{
    (void)cfg;
    double v[POISSON_NSTATE];
    memcpy(v, state, sizeof v);
    return kw_json_doubles(v, POISSON_NSTATE);
}

static int poisson_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct poisson_state s;
    double v[POISSON_NSTATE];
    if (kw_json_read_doubles(json, v, POISSON_NSTATE))
        return -1;
    memcpy(&s, v, sizeof s);
    if (!(s.n >= 0 && s.n <= 9e15) || s.n != floor(s.n) || !kw_ev_nonneg(s.lev_num) || !kw_ev_nonneg(s.lev_den) ||
        !kw_ev_nonneg(s.ref_num) || !kw_ev_nonneg(s.ref_den) || !isfinite(s.disp_num) || !kw_ev_nonneg(s.disp_den) ||
        !kw_ev_nonneg(s.ep.held) || !kw_ev_nonneg(s.ep.quiet) || !kw_ev_nonneg(s.ep.obs) || !kw_ev_nonneg(s.ep.exp) ||
        !kw_ev_nonneg(s.last_obs) || !kw_ev_nonneg(s.last_exp) || !(s.strict >= 0 && s.strict <= KW_EV_MAX_STRICT) ||
        s.strict != floor(s.strict) || !kw_ev_alarm_valid(&s.alarm) || !kw_profile_valid(&s.prof))
        return -1;
    for (int j = 0; j < 2; j++)
        if (!kw_ev_nonneg(s.s_up[j]) || !kw_ev_nonneg(s.s_dn[j]))
            return -1;
    memcpy(state, &s, sizeof s);
    return 0;
}

static size_t poisson_bytes(const void *state)
{
    (void)state;
    return sizeof(struct poisson_state);
}

const struct kw_detector_type poisson_detector = {
    .name = "poisson",
    .description = "Counts: exact tail and likelihood-ratio CUSUMs against a learned seasonal rate.",
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
    .feedback = poisson_feedback,
};
