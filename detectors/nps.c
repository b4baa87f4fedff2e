/* nps: Net Promoter Score KPIs (aggregation "nps"). Learns the shares of
 * promoters and detractors and judges each interval's score by how many
 * answered: the variance of promoters minus detractors is multinomial, so
 * a drop from +40 to +10 on 12 answers is noise and on 1,200 is news. A
 * CUSUM accumulates a lasting drop that no single interval shows. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sf_gamma.h>

#include "../lib/xmalloc.h"
#include "detector.h"
#include "evidence.h"

/* The math. One answer scores +1 (promoter, 9-10), 0 (passive, 7-8) or -1
 * (detractor, 0-6); with shares pP and pD its variance is
 *     v = pP + pD - (pP - pD)^2
 * and the NPS of N answers, 100 (P - D) / N, has variance 10^4 v / N
 * (Rocks, "Interval estimation for the Net Promoter Score", The American
 * Statistician 70(4), 2016).
 * Baseline: pP = (P + 1/3) / (N + 1), pD = (D + 1/3) / (N + 1) from
 * exponentially weighted sums of promoters P, detractors D and answers N
 * (a Dirichlet(1/3, 1/3, 1/3) prior keeps the shares inside (0, 1)); they
 * remember `memory`, or longer while that holds fewer than 200 answers.
 * Between-interval wander: the Pearson dispersion e = (x - mu)^2 / var_t
 * gives rho as for binomial (E[e] = 1 + (N - 1) rho, used when
 * significant), var_t = 10^4 v (1 + (N - 1) rho) / N.
 * Single interval: the exact tail of P - D under the multinomial (the sum
 * of N! / (a! b! c!) pP^a pD^b p0^c over the (a, b) on that side) for
 * N <= 100 answers, the normal tail with the variance above for more.
 * CUSUM: Gaussian log-likelihood ratios for the mean moved by `shift`
 * points, (delta (x - mu) - delta^2 / 2) / var_t, p-value e^-S (Ville).
 * p = looks x the smaller, times 10^strictness after false-alarm
 * feedback. Bounds (display): mu -+ z var_t^(1/2) at p_value / looks,
 * clipped to [-100, 100].
 * Learning, holds, adoption after adapt_after and feedback: as poisson. */

#define EXACT_MAX 100    /* answers up to which the multinomial tail is summed exactly */
#define AUTO_DISP_Z 10.0 /* as binomial's auto: fitted rho only when overwhelming */
#define DAY_MS 86400000LL

struct nps_config {
    double p_value;
    int64_t memory_ms;
    int64_t adapt_ms;
    double shift;
    int min_points;
    /* derived */
    int looks;
    double level1;
    double z;
};

/* Bytes per series: sizeof(struct nps_state) = 192. All doubles, saved in
 * this order. */
struct nps_state {
    double n;                   /* intervals consumed */
    double sp, sd, sn;          /* promoters, detractors, answers */
    double sw;                  /* weights' sum (sn / sw = answers per interval) */
    double disp_e, disp_w, disp_n;
    double s_up, s_dn;
    double held, quiet;         /* the held episode */
    double ep_p, ep_d, ep_n;
    double last_p, last_d, last_n;
    double strict;
    struct kw_ev_alarm alarm; /* the running alarm, if any */
};
#define NPS_NSTATE (sizeof(struct nps_state) / sizeof(double))

static const struct kw_option nps_options[] = {
    {"p_value", KW_OPT_DOUBLE, "1e-5", offsetof(struct nps_config, p_value), 1e-15, 0.1,
     .desc = "Alert when the evidence on a side (the smaller p-value of the interval's own tail and the CUSUM, "
             "times two) is below this."},
    {"memory", KW_OPT_DURATION, "1d", offsetof(struct nps_config, memory_ms), 1, 31536000,
     .desc = "How long the learned shares remember (longer while that holds under 200 answers, at most 4 weeks)."},
    {"adapt_after", KW_OPT_DURATION, "1d", offsetof(struct nps_config, adapt_ms), 0, 31536000,
     .desc = "A change that is evidence holds the baseline; once held this long, it becomes the new normal (0 = never)."},
    {"shift", KW_OPT_DOUBLE, "20", offsetof(struct nps_config, shift), 0, 200,
     .desc = "NPS points the CUSUM is tuned to; 0 = off."},
    {"min_points", KW_OPT_INT, "0", offsetof(struct nps_config, min_points), 0, 1000000,
     .desc = "Intervals learned before the first verdict; 0 = one day's worth (at least 10)."},
    KW_OPT_END,
};

static int nps_check(void *cfg, const char *path, char *err, size_t errlen)
{
    (void)path;
    (void)err;
    (void)errlen;
    struct nps_config *c = cfg;
    c->looks = 1 + (c->shift > 0);
    c->level1 = c->p_value / c->looks;
    c->z = gsl_cdf_ugaussian_Qinv(c->level1);
    return 0;
}

static int nps_accepts(const void *cfg, const struct kw_series_info *info, char *err, size_t errlen)
{
    (void)cfg;
    if (info->is_nps)
        return 0;
    snprintf(err, errlen, "needs an nps KPI (aggregation \"nps\")");
    return -1;
}

static void *nps_new(const void *cfg, const struct kw_series_info *info)
{
    (void)cfg;
    (void)info;
    return xcalloc(1, sizeof(struct nps_state));
}

static int64_t interval_of(const struct kw_series_info *info)
{
    return info->interval_ms > 0 ? info->interval_ms : 300000;
}

/* P(P - D <= x) and P(P - D >= x) for N answers, summed exactly. */
static void multinomial_tails(unsigned N, double pp, double pd, int x, double *down, double *up)
{
    double p0 = 1 - pp - pd;
    double lp = log(pp), ld = log(pd), l0 = log(p0), lf = gsl_sf_lnfact(N);
    double lo = 0, hi = 0;
    for (unsigned a = 0; a <= N; a++) {
        for (unsigned b = 0; a + b <= N; b++) {
            unsigned c = N - a - b;
            double t = exp(lf - gsl_sf_lnfact(a) - gsl_sf_lnfact(b) - gsl_sf_lnfact(c) + a * lp + b * ld + c * l0);
            int diff = (int)a - (int)b;
            if (diff <= x)
                lo += t;
            if (diff >= x)
                hi += t;
        }
    }
    *down = fmin(1.0, lo);
    *up = fmin(1.0, hi);
}

/* The NPS shift a running alarm has seen (variance-weighted), at least 2
 * points on its side. */
static double alarm_shift(const struct kw_ev_alarm *a)
{
    double d = a->exp > 0 ? a->obs / a->exp : 0;
    return a->side > 0 ? fmax(d, 2.0) : fmin(d, -2.0);
}

static void restart_side(struct nps_state *s, int side)
{
    if (side > 0)
        s->s_up = 0;
    else
        s->s_dn = 0;
}

static double dispersion(const struct nps_state *s)
{
    if (!(s->disp_n > 0) || !(s->disp_w > 1))
        return 0;
    if (!(s->disp_e / s->disp_w > 1 + AUTO_DISP_Z * sqrt(2 / s->disp_w)))
        return 0;
    double rho = (s->disp_e - s->disp_w) / s->disp_n;
    return rho < 0 ? 0 : (rho > 0.999 ? 0.999 : rho);
}

static void nps_update(void *state, const void *cfg, const struct kw_series_info *info, const struct kw_sample *in,
                       struct kw_verdict *out)
{
    struct nps_state *s = state;
    const struct nps_config *c = cfg;
    double P = in->numerator, D = in->detractors, N = in->denominator;
    if (isnan(in->value) || !isfinite(P) || !isfinite(D) || !isfinite(N) || !(N >= 1) || P < 0 || D < 0 || P + D > N)
        return; /* no answers: nothing to test or learn */
    int64_t iv = interval_of(info);
    double pp = (s->sp + 1.0 / 3) / (s->sn + 1), pd = (s->sd + 1.0 / 3) / (s->sn + 1);
    double mu = 100 * (pp - pd), v = pp + pd - (pp - pd) * (pp - pd);
    double rho = dispersion(s);
    double var = 1e4 * v * (1 + (N - 1) * rho) / N;
    double x = 100 * (P - D) / N;
    bool hold = false;
    double need = c->min_points > 0 ? c->min_points : fmax(10.0, ceil((double)DAY_MS / (double)iv));
    if (s->n >= need) {
        double strictf = pow(KW_EV_STRICT_STEP, s->strict);
        double p_up1, p_dn1;
        if (N <= EXACT_MAX && rho == 0) {
            multinomial_tails((unsigned)N, pp, pd, (int)lround(P - D), &p_dn1, &p_up1);
        } else {
            double z = (x - mu) / sqrt(var);
            p_up1 = gsl_cdf_ugaussian_Q(z);
            p_dn1 = gsl_cdf_ugaussian_P(z);
        }
        double cap = log(c->looks * strictf * fmax(1.0, info->multiplicity) / c->p_value) + KW_EV_CAP_MARGIN;
        if (c->shift > 0) {
            s->s_up = kw_ev_cusum(s->s_up, kw_ev_llr_gauss(x, mu, var, c->shift), cap);
            s->s_dn = kw_ev_cusum(s->s_dn, kw_ev_llr_gauss(x, mu, var, -c->shift), cap);
        }
        /* a running alarm ends when the data favour "back to normal" over
         * "still shifted by what it has seen"; that side's evidence restarts */
        if (s->alarm.side != 0) {
            int was = (int)s->alarm.side;
            if (kw_ev_alarm_returns(&s->alarm, -kw_ev_llr_gauss(x, mu, var, alarm_shift(&s->alarm))))
                restart_side(s, was);
        }
        double p_up = fmin(1.0, c->looks * fmin(p_up1, kw_ev_p(s->s_up)) * strictf);
        double p_dn = fmin(1.0, c->looks * fmin(p_dn1, kw_ev_p(s->s_dn)) * strictf);
        double pa_up = info->direction != KW_DIR_DOWN ? p_up : 1.0;
        double pa_dn = info->direction != KW_DIR_UP ? p_dn : 1.0;
        double p, half = c->z * sqrt(var);
        bool continuing;
        int side = kw_ev_decide(pa_up, pa_dn, c->p_value, &s->alarm, &p, &out->anomalous, &continuing);
        if (out->anomalous) {
            s->alarm.obs += (x - mu) / var;
            s->alarm.exp += 1 / var;
            s->alarm.trials += 0;
        }
        out->ready = true;
        out->expected = mu;
        out->lower = fmax(-100.0, mu - half);
        out->upper = fmin(100.0, mu + half);
        out->direction = side;
        out->score = side >= 0 ? kw_neglog10(p) : -kw_neglog10(p);
        out->anomaly_score = kw_squash(kw_neglog10(p), kw_neglog10(c->p_value));
        if (continuing && out->anomaly_score < 0.5)
            out->anomaly_score = 0.5;
        out->p_value = p;
        out->p_level = c->p_value;
        hold = p_up < c->p_value || p_dn < c->p_value || s->s_up > KW_EV_HOLD_S || s->s_dn > KW_EV_HOLD_S;
    }
    s->n += 1;
    if (hold) {
        s->held += 1;
        s->quiet = 0;
        s->ep_p += P;
        s->ep_d += D;
        s->ep_n += N;
        if (c->adapt_ms > 0 && s->held >= ceil((double)c->adapt_ms / (double)iv)) {
            /* the change has lasted: its shares are the new normal, at the weight the sums had */
            double w = s->sn / s->ep_n;
            s->sp = s->ep_p * w;
            s->sd = s->ep_d * w;
            s->s_up = s->s_dn = 0;
            s->last_p = s->ep_p, s->last_d = s->ep_d, s->last_n = s->ep_n;
            s->held = s->quiet = s->ep_p = s->ep_d = s->ep_n = 0;
        }
        return;
    }
    if (s->held > 0 && (s->quiet += 1) * KW_EV_QUIET_DIVISOR >= (double)c->adapt_ms / (double)iv) {
        s->last_p = s->ep_p, s->last_d = s->ep_d, s->last_n = s->ep_n;
        s->held = s->quiet = s->ep_p = s->ep_d = s->ep_n = 0;
    }
    double avg_n = s->sw > 0 ? s->sn / s->sw : N;
    double keep = kw_ev_level_keep(c->memory_ms, iv, avg_n, 1.0);
    if (s->n >= 2) {
        double e = (x - mu) * (x - mu) / (1e4 * v / N);
        double kd = kw_ev_level_keep(c->memory_ms, iv, avg_n, KW_EV_REF_FACTOR);
        s->disp_e = kd * s->disp_e + e;
        s->disp_w = kd * s->disp_w + 1;
        s->disp_n = kd * s->disp_n + (N - 1);
    }
    s->sp = keep * s->sp + P;
    s->sd = keep * s->sd + D;
    s->sn = keep * s->sn + N;
    s->sw = keep * s->sw + 1;
}

static void nps_feedback(void *state, const void *cfg, bool false_alarm)
{
    (void)cfg;
    struct nps_state *s = state;
    if (!false_alarm) {
        s->strict = fmax(0.0, s->strict - 1);
        return;
    }
    s->sp += s->ep_p + s->last_p;
    s->sd += s->ep_d + s->last_d;
    s->sn += s->ep_n + s->last_n;
    s->held = s->quiet = s->ep_p = s->ep_d = s->ep_n = 0;
    s->last_p = s->last_d = s->last_n = 0;
    s->s_up = s->s_dn = 0;
    s->strict = fmin((double)KW_EV_MAX_STRICT, s->strict + 1);
}

static cJSON *nps_save(const void *state, const void *cfg)
{
    (void)cfg;
    double v[NPS_NSTATE];
    memcpy(v, state, sizeof v);
    return kw_json_doubles(v, NPS_NSTATE);
}

static int nps_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    double v[NPS_NSTATE];
    if (kw_json_read_doubles(json, v, NPS_NSTATE))
        return -1;
    if (!(v[0] <= 9e15) || v[0] != floor(v[0]))
        return -1;
    for (size_t i = 0; i + KW_EV_ALARM_DOUBLES < NPS_NSTATE; i++) /* all but the alarm */
        if (!kw_ev_nonneg(v[i]))
            return -1;
    struct kw_ev_alarm alarm;
    memcpy(&alarm, v + NPS_NSTATE - KW_EV_ALARM_DOUBLES, sizeof alarm);
    if (!kw_ev_alarm_valid(&alarm))
        return -1;
    struct nps_state s;
    memcpy(&s, v, sizeof s);
    if (s.sp + s.sd > s.sn * (1 + 1e-9) + 1e-9 || s.strict > KW_EV_MAX_STRICT || s.strict != floor(s.strict))
        return -1;
    memcpy(state, &s, sizeof s);
    return 0;
}

static size_t nps_bytes(const void *state)
{
    (void)state;
    return sizeof(struct nps_state);
}

const struct kw_detector_type nps_detector = {
    .name = "nps",
    .description = "Net Promoter Score: multinomial tail and CUSUM, weighed by the number of answers.",
    .options = nps_options,
    .config_size = sizeof(struct nps_config),
    .config_check = nps_check,
    .accepts = nps_accepts,
    .state_new = nps_new,
    .update = nps_update,
    .state_save = nps_save,
    .state_load = nps_load,
    .state_free = free,
    .state_bytes = nps_bytes,
    .feedback = nps_feedback,
};
