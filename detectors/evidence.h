/* evidence: what the count, rate and survey detectors share: a seasonal
 * profile (hour of day x day of week), a level that remembers a day or 200
 * events, likelihood-ratio CUSUMs whose p-value e^-S is valid at every
 * interval, the hold rule that keeps a suspected change out of the
 * baseline, and the alarm's return test. Plain arithmetic on caller structs. */
#ifndef KW_EVIDENCE_H
#define KW_EVIDENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "../lib/opts.h"

#define KW_EV_HOURS 24
#define KW_EV_DAYS 7
/* A profile slot forgets with this time constant (in days of its own data). */
#define KW_EV_PROFILE_DAYS 28.0
/* Profile factors are shrunk towards 1 by this many expected events (an
 * hour's factor also borrows half-weight from the hours either side), so a
 * sparse series keeps a flat profile until its data say otherwise. */
#define KW_EV_HOUR_PRIOR 20.0
#define KW_EV_DAY_PRIOR 10.0
/* The level averages at least this many events (sparse series remember longer) ... */
#define KW_EV_MIN_EVENTS 200.0
/* ... but never more than this many days. */
#define KW_EV_MAX_MEMORY_DAYS 28.0
/* The long-run normal (for recoveries) remembers this many times the level's memory. */
#define KW_EV_REF_FACTOR 7.0
/* A CUSUM above ln(1000) (p < 0.001) holds the baseline; a value whose own
 * tail at the long-run level is at least this is no surprise there. */
#define KW_EV_HOLD_S 6.907755278982137
#define KW_EV_HOLD_P 1e-3
/* A CUSUM never exceeds its alert level (with the KPI's multiplicity) by
 * more than this many nats, so the evidence of a finished incident drains
 * in a bounded time. */
#define KW_EV_CAP_MARGIN 3.0
/* An episode of held intervals ends after adapt_after / this many unheld ones. */
#define KW_EV_QUIET_DIVISOR 4
/* Feedback: each false alarm makes a series' test this much stricter, at most KW_EV_MAX_STRICT times. */
#define KW_EV_STRICT_STEP 10.0
#define KW_EV_MAX_STRICT 3

enum kw_season { KW_SEASON_AUTO = 0, KW_SEASON_NONE, KW_SEASON_DAILY, KW_SEASON_WEEKLY };
extern const char *const kw_season_names[]; /* "auto", "none", "daily", "weekly" */

/* Observed and expected sums per slot: a factor is (obs + prior) / (exp + prior). */
struct kw_profile {
    double hour_obs[KW_EV_HOURS], hour_exp[KW_EV_HOURS];
    double day_obs[KW_EV_DAYS], day_exp[KW_EV_DAYS];
};
#define KW_PROFILE_DOUBLES (2 * KW_EV_HOURS + 2 * KW_EV_DAYS)

/* Which factors a series uses and how fast each slot forgets. */
struct kw_profile_plan {
    bool hours, days;
    double hour_keep, day_keep; /* decay per visit of a slot */
};

/* The slot of an interval start (UTC): hour 0..23, day 0..6 from Monday. */
struct kw_slot {
    int hour, day;
};

/* Plan the profile for a season choice and interval: auto = hour of day
 * below a 1-day interval, day of week below 1 week; daily = hours only;
 * weekly = both; none = neither. Never fails. */
void kw_profile_plan(struct kw_profile_plan *pl, int season, int64_t interval_ms);
struct kw_slot kw_profile_slot(int64_t ts_ms);
/* The seasonal factor of a slot, normalised so the factors in use average 1;
 * *hour_part and *day_part receive its two parts (1 when unused). */
double kw_profile_shape(const struct kw_profile *p, const struct kw_profile_plan *pl, struct kw_slot sl,
                        double *hour_part, double *day_part);
/* Learn one interval: observed events where level x the other part expected. */
void kw_profile_learn(struct kw_profile *p, const struct kw_profile_plan *pl, struct kw_slot sl, double observed,
                      double level, double hour_part, double day_part);
/* Learn one interval of a rate, whose factors are odds ratios: k of n
 * where the odds ref_odds x the other part were expected. A slot's sums are
 * sum k (1 - p) and sum (n - k) p at that expected rate p, whose ratio
 * estimates the slot's odds ratio (Mantel-Haenszel against a known
 * reference; each term weighs about n p (1 - p), the information on the
 * log odds, so the priors count the same "expected events"). */
void kw_profile_learn_odds(struct kw_profile *p, const struct kw_profile_plan *pl, struct kw_slot sl, double k,
                           double n, double ref_odds, double hour_part, double day_part);
/* Intervals in the longest cycle the plan learns: a week with day-of-week
 * factors, a day with hours only, 0 without a profile. */
double kw_profile_cycle(const struct kw_profile_plan *pl, int64_t interval_ms);
/* Load check: every sum finite and >= 0. */
bool kw_profile_valid(const struct kw_profile *p);

/* Weight kept per interval by a level that remembers memory_ms, or longer
 * when that holds fewer than KW_EV_MIN_EVENTS events at events_per_interval
 * (capped at KW_EV_MAX_MEMORY_DAYS), times factor. */
double kw_ev_level_keep(int64_t memory_ms, int64_t interval_ms, double events_per_interval, double factor);

/* One step of a one-sided CUSUM: max(0, S + inc), capped at cap. */
double kw_ev_cusum(double s, double inc, double cap);
/* The p-value of a CUSUM of likelihood ratios: e^-S. Under the null every
 * partial product of likelihood ratios is a mean-1 martingale, so
 * P(S_t >= s) <= e^-s at every t (Ville's inequality), whatever the
 * expected values were. */
double kw_ev_p(double s);

/* Log-likelihood ratio of x events for the mean times rho at mean lam
 * under a negative binomial of overdispersion k (size 1/k; k = 0 is the
 * Poisson: x ln rho - (rho - 1) lam). An exact likelihood ratio, so its
 * exponential has mean 1 under the null. */
double kw_ev_llr_counts(double x, double lam, double rho, double k);
/* The rate whose odds are p's times ratio (exactly p at ratio 1). */
double kw_odds_times(double p, double ratio);
/* Binomial log-likelihood ratio of k of n for odds ratio psi at rate p0,
 * divided by phi. */
double kw_ev_llr_binomial(double k, double n, double p0, double psi, double phi);
/* Gaussian log-likelihood ratio of x for a mean shift delta at mean mu and variance var. */
double kw_ev_llr_gauss(double x, double mu, double var, double delta);

/* A running alarm: its side (+1, -1; 0 = none), what it has observed and
 * expected so far (and trials, for rates), and its return CUSUM. */
struct kw_ev_alarm {
    double side, obs, exp, trials, ret;
};
#define KW_EV_ALARM_DOUBLES 5
/* An alarm ends when its return CUSUM, the log-likelihood ratio of "back
 * to normal" against "still shifted by what the alarm has seen", reaches
 * ln 100; a shift is never taken as smaller than this ratio (or its
 * inverse), so an alarm of a vanishing shift still ends. */
#define KW_EV_RETURN 4.605170185988092
#define KW_EV_MIN_RATIO 1.25

/* A running alarm takes this interval's return increment; returns true
 * when the alarm is over (a is then cleared, and the caller restarts that
 * side's CUSUMs before weighing the interval afresh). */
bool kw_ev_alarm_returns(struct kw_ev_alarm *a, double ret_inc);

/* The verdict from each side's evidence (p-values; 1 = none, or a side
 * that may not alert). A new alarm needs p < level; a running one goes on
 * (until kw_ev_alarm_returns ends it), so an incident is one alert, ended
 * as soon as the data say it is over, however slowly its evidence would
 * drain. Fills *p, *anomalous and *continuing (an alarm carried by that
 * rule alone); sets a->side on a new alarm (the caller adds the interval
 * to a->obs, a->exp, a->trials while anomalous); returns the side named
 * (+1, -1, or 0 when neither has any evidence). */
int kw_ev_decide(double p_up, double p_dn, double level, struct kw_ev_alarm *a, double *p, bool *anomalous,
                 bool *continuing);
/* The rate ratio an alarm has seen, bounded away from 1 on its side. */
double kw_ev_alarm_ratio(const struct kw_ev_alarm *a);
/* Whether a loaded alarm is plausible. */
bool kw_ev_alarm_valid(const struct kw_ev_alarm *a);

/* A run of held intervals (a suspected change) and what it observed. */
struct kw_episode {
    double held;  /* held intervals so far */
    double quiet; /* consecutive unheld intervals since the last held one */
    double obs;   /* events observed while held */
    double exp;   /* events expected at level 1 (or trials) while held */
};

/* Whether two doubles in a loaded state are a plausible count and sum. */
bool kw_ev_nonneg(double v);

#endif
