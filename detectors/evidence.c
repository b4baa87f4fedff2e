/* evidence: seasonal profile, level memory and likelihood-ratio CUSUMs
 * shared by the count, rate and survey detectors. */
#include "evidence.h"

#include <math.h>
#include <string.h>

#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

const char *const kw_season_names[] = {"auto", "none", "daily", "weekly", NULL};

void kw_profile_plan(struct kw_profile_plan *pl, int season, int64_t interval_ms)
{
    if (interval_ms <= 0)
        interval_ms = 300000;
    bool hours_fit = interval_ms < DAY_MS, days_fit = interval_ms < 7 * DAY_MS;
    pl->hours = (season == KW_SEASON_AUTO || season == KW_SEASON_DAILY || season == KW_SEASON_WEEKLY) && hours_fit;
    pl->days = (season == KW_SEASON_AUTO || season == KW_SEASON_WEEKLY) && days_fit;
    /* an hour slot is visited once an hour-sized interval per day, a day slot once a week */
    double hour_visits = fmax(1.0, (double)HOUR_MS / (double)interval_ms);
    double day_visits = fmax(1.0, (double)DAY_MS / (double)interval_ms);
    pl->hour_keep = exp(-1.0 / (KW_EV_PROFILE_DAYS * hour_visits));
    pl->day_keep = exp(-1.0 / (KW_EV_PROFILE_DAYS / 7.0 * day_visits));
}

struct kw_slot kw_profile_slot(int64_t ts_ms)
{
    int64_t day = ts_ms >= 0 ? ts_ms / DAY_MS : -((-ts_ms + DAY_MS - 1) / DAY_MS);
    int64_t in_day = ts_ms - day * DAY_MS;
    /* 1970-01-01 was a Thursday: Monday = 0 */
    struct kw_slot sl = {(int)(in_day / HOUR_MS), (int)(((day + 3) % 7 + 7) % 7)};
    return sl;
}

/* An hour's factor from its own sums and half of each neighbour's. */
static double hour_factor(const struct kw_profile *p, int h)
{
    int a = (h + KW_EV_HOURS - 1) % KW_EV_HOURS, b = (h + 1) % KW_EV_HOURS;
    double obs = p->hour_obs[h] + 0.5 * (p->hour_obs[a] + p->hour_obs[b]);
    double exp_ = p->hour_exp[h] + 0.5 * (p->hour_exp[a] + p->hour_exp[b]);
    return (obs + KW_EV_HOUR_PRIOR) / (exp_ + KW_EV_HOUR_PRIOR);
}

static double day_factor(const struct kw_profile *p, int d)
{
    return (p->day_obs[d] + KW_EV_DAY_PRIOR) / (p->day_exp[d] + KW_EV_DAY_PRIOR);
}

double kw_profile_shape(const struct kw_profile *p, const struct kw_profile_plan *pl, struct kw_slot sl,
                        double *hour_part, double *day_part)
{
    double h = 1, d = 1;
    if (pl->hours) {
        double sum = 0;
        for (int i = 0; i < KW_EV_HOURS; i++)
            sum += hour_factor(p, i);
        h = hour_factor(p, sl.hour) * KW_EV_HOURS / sum;
    }
    if (pl->days) {
        double sum = 0;
        for (int i = 0; i < KW_EV_DAYS; i++)
            sum += day_factor(p, i);
        d = day_factor(p, sl.day) * KW_EV_DAYS / sum;
    }
    *hour_part = h;
    *day_part = d;
    return h * d;
}

/* Add one interval's observed and expected amounts to its hour and day slots. */
static void profile_add(struct kw_profile *p, const struct kw_profile_plan *pl, struct kw_slot sl, double hour_obs,
                        double hour_exp, double day_obs, double day_exp)
{
    if (pl->hours) {
        p->hour_obs[sl.hour] = pl->hour_keep * p->hour_obs[sl.hour] + hour_obs;
        p->hour_exp[sl.hour] = pl->hour_keep * p->hour_exp[sl.hour] + hour_exp;
    }
    if (pl->days) {
        p->day_obs[sl.day] = pl->day_keep * p->day_obs[sl.day] + day_obs;
        p->day_exp[sl.day] = pl->day_keep * p->day_exp[sl.day] + day_exp;
    }
}

void kw_profile_learn(struct kw_profile *p, const struct kw_profile_plan *pl, struct kw_slot sl, double observed,
                      double level, double hour_part, double day_part)
{
    if (!(level > 0) || !isfinite(observed))
        return;
    profile_add(p, pl, sl, observed, level * day_part, observed, level * hour_part);
}

void kw_profile_learn_odds(struct kw_profile *p, const struct kw_profile_plan *pl, struct kw_slot sl, double k,
                           double n, double ref_odds, double hour_part, double day_part)
{
    if (!(ref_odds > 0) || !isfinite(ref_odds) || !(k >= 0 && k <= n) || !isfinite(n))
        return;
    /* at odds o the rate is o / (1 + o) and its complement 1 / (1 + o) */
    double oh = ref_odds * day_part, od = ref_odds * hour_part;
    profile_add(p, pl, sl, k / (1 + oh), (n - k) * oh / (1 + oh), k / (1 + od), (n - k) * od / (1 + od));
}

double kw_profile_cycle(const struct kw_profile_plan *pl, int64_t interval_ms)
{
    if (interval_ms <= 0)
        interval_ms = 300000;
    double days = pl->days ? 7 : pl->hours ? 1 : 0;
    return ceil(days * (double)DAY_MS / (double)interval_ms);
}

bool kw_ev_nonneg(double v)
{
    return isfinite(v) && v >= 0;
}

bool kw_profile_valid(const struct kw_profile *p)
{
    const double *v = p->hour_obs;
    for (int i = 0; i < KW_PROFILE_DOUBLES; i++)
        if (!kw_ev_nonneg(v[i]))
            return false;
    return true;
}

double kw_ev_level_keep(int64_t memory_ms, int64_t interval_ms, double events_per_interval, double factor_)
{
    if (interval_ms <= 0)
        interval_ms = 300000;
    double n = (double)memory_ms / (double)interval_ms;
    if (events_per_interval > 0)
        n = fmax(n, KW_EV_MIN_EVENTS / events_per_interval);
    else
        n = INFINITY;
    n = fmin(n, KW_EV_MAX_MEMORY_DAYS * (double)DAY_MS / (double)interval_ms);
    n = fmax(n * factor_, 1.0);
    return 1.0 - 1.0 / n;
}

double kw_ev_cusum(double s, double inc, double cap)
{
    double v = s + inc;
    if (!(v > 0))
        return 0;
    return v < cap ? v : cap;
}

double kw_ev_p(double s)
{
    return s > 0 ? exp(-s) : 1.0;
}

double kw_ev_llr_counts(double x, double lam, double rho, double k)
{
    if (!(k > 1e-12))
        return x * log(rho) - (rho - 1) * lam;
    /* NB(mean m, size r): log pmf = x ln(m / (r + m)) + r ln(r / (r + m)) + terms without m */
    double r = 1 / k;
    return x * log(rho * (r + lam) / (r + rho * lam)) + r * log((r + lam) / (r + rho * lam));
}

double kw_odds_times(double p, double ratio)
{
    return ratio == 1 ? p : ratio * p / (1 - p + ratio * p);
}

double kw_ev_llr_binomial(double k, double n, double p0, double psi, double phi)
{
    double p1 = kw_odds_times(p0, psi);
    return (k * log(p1 / p0) + (n - k) * log1p(-p1) - (n - k) * log1p(-p0)) / phi;
}

double kw_ev_llr_gauss(double x, double mu, double var, double delta)
{
    return (delta * (x - mu) - 0.5 * delta * delta) / var;
}

bool kw_ev_alarm_returns(struct kw_ev_alarm *a, double ret_inc)
{
    a->ret = kw_ev_cusum(a->ret, ret_inc, 1e9);
    if (a->ret < KW_EV_RETURN)
        return false;
    memset(a, 0, sizeof *a);
    return true;
}

int kw_ev_decide(double p_up, double p_dn, double level, struct kw_ev_alarm *a, double *p, bool *anomalous,
                 bool *continuing)
{
    *continuing = false;
    if (a->side != 0) {
        *p = a->side > 0 ? p_up : p_dn;
        *anomalous = true;
        *continuing = *p >= level;
        return a->side > 0 ? 1 : -1;
    }
    bool up = p_up <= p_dn;
    *p = up ? p_up : p_dn;
    *anomalous = *p < level;
    if (*anomalous)
        a->side = up ? 1 : -1;
    return *p < 1 ? (up ? 1 : -1) : 0;
}

double kw_ev_alarm_ratio(const struct kw_ev_alarm *a)
{
    double r = a->exp > 0 ? a->obs / a->exp : 1;
    return a->side > 0 ? fmax(r, KW_EV_MIN_RATIO) : fmin(r, 1 / KW_EV_MIN_RATIO);
}

bool kw_ev_alarm_valid(const struct kw_ev_alarm *a)
{
    return (a->side == 0 || a->side == 1 || a->side == -1) && isfinite(a->obs) && kw_ev_nonneg(a->exp) &&
           kw_ev_nonneg(a->trials) && kw_ev_nonneg(a->ret);
}
