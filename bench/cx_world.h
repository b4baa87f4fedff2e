/* The simulated world of the accuracy benchmarks: five customer journeys,
 * their rhythms and noise, and the incidents of an incident run. Shared by
 * bench/cx_accuracy.c, which writes it out and replays it, and
 * bench/cx_oracle.c, which asks what any detector could find in it. */
#ifndef KW_BENCH_CX_WORLD_H
#define KW_BENCH_CX_WORLD_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#define IV_MS 300000LL
#define PER_HOUR 12
#define PER_DAY 288
#define DAYS 28
#define SCORE_DAY 14                /* the first two weeks are learning, the last two are scored */
#define T0_MS 1704067200000LL       /* Monday 2024-01-01 00:00 UTC */
#define MAX_STEPS 6

struct step_def {
    const char *name;
    double drop; /* baseline drop-off probability */
};

struct journey_def {
    const char *name;
    double arrivals;   /* visitors per interval, daily mean (support: flat 8-10 on weekdays) */
    double weekend;    /* traffic factor on Saturday and Sunday */
    double complaints; /* complaints per interval, daily mean */
    int nsteps;
    struct step_def steps[MAX_STEPS];
};

enum { J_CHECKOUT, J_ONBOARDING, J_CLAIMS, J_SUPPORT, J_LOYALTY, NJOURNEYS };

static const struct journey_def journeys[NJOURNEYS] = {
    {"checkout", 5000, 0.6, 3.0, 6,
     {{"cart", 0.25}, {"shipping", 0.10}, {"payment", 0.06}, {"review", 0.04}, {"confirm", 0.02}, {"receipt", 0.01}}},
    {"onboarding", 600, 0.6, 1.0, 6,
     {{"signup", 0.15}, {"verify_email", 0.20}, {"profile", 0.20}, {"kyc", 0.25}, {"consent", 0.05}, {"first_login", 0.10}}},
    {"claims", 120, 0.5, 0.5, 6,
     {{"submit", 0.10}, {"documents", 0.20}, {"assessment", 0.08}, {"review", 0.05}, {"payout", 0.03}, {"feedback", 0.40}}},
    {"support", 9, 0.5, 0.1, 5, {{"book", 0.40}, {"confirm", 0.15}, {"call", 0.10}, {"resolve", 0.20}, {"survey", 0.50}}},
    {"loyalty", 12, 1.3, 0.3, 5, {{"browse", 0.30}, {"select", 0.25}, {"redeem", 0.15}, {"confirm", 0.05}, {"share", 0.60}}},
};

/* Incidents, one of each per incident run, on their own days. */
enum inc_type { INC_DOUBLING, INC_SPIKE, INC_JUMP, INC_DRIFT, INC_SURGE, INC_BIGSTEP, NINC };

struct incident {
    int type;
    int journey, step;     /* step -1 = the journey's complaints */
    int start, end;        /* intervals [start, end) */
    int recover_end;       /* drift: the recovery ramp ends here */
};

static const char *const inc_names[NINC] = {"complaints x2 for 6 h (0.5 per interval)", "complaints x5 for 15 min (1 per interval)",
                                            "drop-off 40%->65% for 3 h at 8-10 entries", "drop-off drift 20%->35% over 24 h",
                                            "traffic x3 for 2 h, rates unchanged", "drop-off x1.5 for 2 h at ~4,000 entries"};

static inline double daily(int i)
{
    double h = (double)(i % PER_DAY) / PER_HOUR;
    return 1 + 0.6 * cos(2 * M_PI * (h - 14) / 24);
}

/* The drop-off rates' daily rhythm on the log odds: odds x1.3 around 20:00
 * (evening browsing) and x0.8 around 04:00, in bumps of 2.5 h sd. */
static inline double rate_rhythm(double h)
{
    double evening = fmod(h - 20 + 36, 24) - 12, night = fmod(h - 4 + 36, 24) - 12;
    return log(1.3) * exp(-evening * evening / 12.5) + log(0.8) * exp(-night * night / 12.5);
}

/* The world's noise: a journey's traffic and complaints wander from day to
 * day (log scale); a step's log odds wander from day to day and from
 * interval to interval; complaint rates are gamma-mixed (CV 1/sqrt(8)). */
#define DAY_LEVEL_SD 0.05
#define DAY_SHIFT_SD 0.03
#define WANDER_SD 0.08
#define COMPLAINT_SHAPE 8.0

static inline bool weekend(int i)
{
    return (i / PER_DAY) % 7 >= 5;
}

static inline void plan_incidents(gsl_rng *r, struct incident *inc)
{
    /* day 14 = Monday; each incident gets its own weekday */
    int hour;
    inc[INC_DOUBLING] = (struct incident){INC_DOUBLING, J_CLAIMS, -1, 0, 0, 0};
    inc[INC_DOUBLING].start = 15 * PER_DAY + (int)gsl_rng_uniform_int(r, 18 * PER_HOUR);
    inc[INC_DOUBLING].end = inc[INC_DOUBLING].start + 6 * PER_HOUR;
    /* where the daily rhythm puts the rate near 1 (0.8-1.25 per interval) */
    hour = gsl_rng_uniform(r) < 0.5 ? 7 : 19;
    inc[INC_SPIKE] = (struct incident){INC_SPIKE, J_ONBOARDING, -1, 0, 0, 0};
    inc[INC_SPIKE].start = 16 * PER_DAY + hour * PER_HOUR + (int)gsl_rng_uniform_int(r, 2 * PER_HOUR);
    inc[INC_SPIKE].end = inc[INC_SPIKE].start + 3;
    inc[INC_JUMP] = (struct incident){INC_JUMP, J_SUPPORT, 0, 0, 0, 0};
    inc[INC_JUMP].start = 17 * PER_DAY + (int)gsl_rng_uniform_int(r, 20 * PER_HOUR);
    inc[INC_JUMP].end = inc[INC_JUMP].start + 3 * PER_HOUR;
    inc[INC_DRIFT] = (struct incident){INC_DRIFT, J_CLAIMS, 1, 0, 0, 0};
    inc[INC_DRIFT].start = 21 * PER_DAY + (int)gsl_rng_uniform_int(r, 24 * PER_HOUR);
    inc[INC_DRIFT].end = inc[INC_DRIFT].start + PER_DAY;
    inc[INC_DRIFT].recover_end = inc[INC_DRIFT].end + 2 * PER_HOUR;
    inc[INC_SURGE] = (struct incident){INC_SURGE, J_CHECKOUT, -1, 0, 0, 0};
    inc[INC_SURGE].start = 24 * PER_DAY + 8 * PER_HOUR + (int)gsl_rng_uniform_int(r, 10 * PER_HOUR);
    inc[INC_SURGE].end = inc[INC_SURGE].start + 2 * PER_HOUR;
    inc[INC_BIGSTEP] = (struct incident){INC_BIGSTEP, J_CHECKOUT, 2, 0, 0, 0};
    inc[INC_BIGSTEP].start = 25 * PER_DAY + 8 * PER_HOUR + (int)gsl_rng_uniform_int(r, 10 * PER_HOUR);
    inc[INC_BIGSTEP].end = inc[INC_BIGSTEP].start + 2 * PER_HOUR;
}

static inline double logit(double p)
{
    return log(p / (1 - p));
}

static inline double expit(double x)
{
    return 1 / (1 + exp(-x));
}

/* The drop-off probability of step s of journey j at interval i, from its
 * log odds lp (the step's normal), with the incidents of an incident run. */
static inline double step_rate(const struct incident *inc, bool with_incidents, int j, int s, int i, double lp)
{
    double p = expit(lp);
    if (!with_incidents)
        return p;
    const struct incident *c = &inc[INC_JUMP], *d = &inc[INC_DRIFT], *b = &inc[INC_BIGSTEP];
    if (j == c->journey && s == c->step && i >= c->start && i < c->end)
        p = 0.65;
    if (j == d->journey && s == d->step && i >= d->start && i < d->recover_end) {
        double up = i < d->end ? (double)(i - d->start) / (d->end - d->start)
                               : 1 - (double)(i - d->end) / (d->recover_end - d->end);
        p = expit(logit(0.20 + 0.15 * up) + (lp - logit(journeys[j].steps[s].drop)));
    }
    if (j == b->journey && s == b->step && i >= b->start && i < b->end)
        p *= 1.5;
    return p;
}


/* Drop-off steps over all journeys: the rate KPI's series. */
static inline int world_steps(void)
{
    int n = 0;
    for (int j = 0; j < NJOURNEYS; j++)
        n += journeys[j].nsteps;
    return n;
}

/* Journey j's complaints per interval at interval i, before the gamma
 * mixing: its mean, the daily and weekly rhythm and the day's level. */
static inline double complaint_mean(int j, int i, double day_level)
{
    return journeys[j].complaints * daily(i) * (weekend(i) ? journeys[j].weekend : 1.0) * day_level;
}

/* Support's visitors: flat 8-10 on weekdays, 4-5 at weekends. */
static inline unsigned support_entries(gsl_rng *r, int i)
{
    return weekend(i) ? 4 + (unsigned)gsl_rng_uniform_int(r, 2) : 8 + (unsigned)gsl_rng_uniform_int(r, 3);
}

/* Step s of journey j's log odds at interval i without the rate rhythm,
 * from the day's shift and this interval's wander. */
static inline double step_flat_log_odds(int j, int s, int i, double day_shift, double wander)
{
    double h = (double)(i % PER_DAY) / PER_HOUR;
    return logit(journeys[j].steps[s].drop) + 0.05 * cos(2 * M_PI * (h - 20) / 24) + day_shift + wander;
}

#endif
