/* det_accuracy: labelled synthetic KPI series (counts, rates, continuous, with
 * daily/weekly seasonality) run through every registered detector via the
 * generic wrapper, scored event by event: precision, recall, F1, false alarms
 * per 1,000 intervals and detection delay, per anomaly type and per KPI kind.
 * Usage: det_accuracy [-o FILE] [-j JOBS] [-s SEEDS] [-d NAMES] [-t SECS] [-v] [--dump LABEL SEED] */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "../lib/xmalloc.h"
#include "../detectors/detector.h"

/* ---- benchmark settings ---------------------------------------------------- */

#define INTERVAL_MS 300000LL         /* 5-minute intervals */
#define PER_DAY 288
#define PER_WEEK (7 * PER_DAY)
#define T0_MS 1704067200000LL        /* Monday 2024-01-01 00:00 UTC, so day 0 is a Monday */
#define TOLERANCE 6                  /* an alarm up to 6 intervals (30 min) after a window still detects it */
#define FIRST_ANOMALY_DAY 7          /* anomalies start after one full week of normal data */
#define MAX_WINDOWS 8
#define DEFAULT_SEEDS 10
#define QUIET_FA_LIMIT 1.0            /* FA/1k on a no-anomaly series listed as a problem (~1 per 3.5 days) */
#define DEFAULT_TIMEOUT 100          /* seconds per detector config before it is reported as too slow */

enum kind { KIND_COUNT, KIND_RATE, KIND_CONT, KIND_N };
#define KM_COUNT (1u << KIND_COUNT)
#define KM_RATE (1u << KIND_RATE)
#define KM_CONT (1u << KIND_CONT)
#define KM_ALL 0u
static const char *const kind_names[KIND_N] = {"count", "rate", "continuous"};

/* Configs run on top of each registered type's defaults ({"type": NAME}).
 * kinds: restrict to some KPI kinds (0 = all); a config whose type is not
 * registered is skipped, one that fails to parse is listed as rejected. */
struct bench_config {
    const char *type;
    unsigned kinds;
    const char *label; /* NULL: made from the JSON keys */
    const char *json;
};

static const struct bench_config bench_configs[] = {
    /* threshold has no defaults: give it plausible static SLO bounds per kind */
    {"threshold", KM_CONT, "threshold(cont:200..420)", "{\"type\":\"threshold\",\"low\":200,\"high\":420}"},
    {"threshold", KM_COUNT, "threshold(count:<=30)", "{\"type\":\"threshold\",\"high\":30}"},
    {"threshold", KM_RATE, "threshold(rate:<=0.5)", "{\"type\":\"threshold\",\"high\":0.5}"},
    {"zscore", KM_ALL, NULL, "{\"type\":\"zscore\",\"window\":288,\"threshold\":3}"},
    {"zscore", KM_ALL, NULL, "{\"type\":\"zscore\",\"window\":2016,\"threshold\":4}"},
    {"mad", KM_ALL, NULL, "{\"type\":\"mad\",\"window\":288,\"threshold\":3.5}"},
    {"mad", KM_ALL, NULL, "{\"type\":\"mad\",\"window\":2016,\"threshold\":5}"},
    {"ewma", KM_ALL, NULL, "{\"type\":\"ewma\",\"alpha\":0.05,\"threshold\":4}"},
    {"cusum", KM_ALL, NULL, "{\"type\":\"cusum\",\"k\":0.5,\"h\":8}"},
    {"poisson", KM_COUNT, NULL, "{\"type\":\"poisson\",\"p_value\":1e-5}"},
    {"poisson", KM_COUNT, NULL, "{\"type\":\"poisson\",\"distribution\":\"poisson\"}"},
    {"binomial", KM_RATE, NULL, "{\"type\":\"binomial\",\"p_value\":1e-4}"},
    {"binomial", KM_RATE, NULL, "{\"type\":\"binomial\",\"distribution\":\"beta_binomial\"}"},
    {"holt_winters", KM_ALL, NULL, "{\"type\":\"holt_winters\",\"threshold\":4.5}"},
    {"holt_winters", KM_ALL, NULL, "{\"type\":\"holt_winters\",\"season\":\"1w\",\"threshold\":4.5}"},
    /* hour_of_* periods need intervals >= 1 h; these series are 5-minute */
    {"seasonal", KM_ALL, NULL, "{\"type\":\"seasonal\",\"period\":\"slot_of_day\"}"},
    {"seasonal", KM_ALL, NULL, "{\"type\":\"seasonal\",\"period\":\"slot_of_day\",\"threshold\":5}"},
    {"seasonal", KM_ALL, NULL, "{\"type\":\"seasonal\",\"period\":\"slot_of_week\"}"},
    {"esd", KM_ALL, NULL, "{\"type\":\"esd\",\"window\":2016,\"season\":\"1d\"}"},
    {"ensemble", KM_COUNT, "ensemble(seasonal+poisson)",
     "{\"type\":\"ensemble\",\"members\":[{\"type\":\"seasonal\",\"period\":\"slot_of_day\"},"
     "{\"type\":\"poisson\"}]}"},
    {"ensemble", KM_RATE, "ensemble(seasonal+binomial)",
     "{\"type\":\"ensemble\",\"members\":[{\"type\":\"seasonal\",\"period\":\"slot_of_day\"},"
     "{\"type\":\"binomial\"}]}"},
    {"ensemble", KM_CONT, "ensemble(seasonal+mad)",
     "{\"type\":\"ensemble\",\"members\":[{\"type\":\"seasonal\",\"period\":\"slot_of_day\"},"
     "{\"type\":\"mad\"}]}"},
};

/* ---- scenarios ------------------------------------------------------------- */

/* The normal behaviour of a series. */
enum base {
    BASE_CONT,       /* handling time (s): 300 +-15% daily, sigma 12 +-15% (noisier at night), 0.5% missing */
    BASE_COUNT_MID,  /* complaints: Poisson, lambda 4..16 over the day */
    BASE_COUNT_LOW,  /* complaints on a small journey: Poisson, lambda ~0.3..1.9 */
    BASE_RATE_SMALL, /* drop-off on a small step: n ~ Poisson(3..20), p = 0.10 */
    BASE_RATE_LARGE, /* drop-off on a big step: n ~ Poisson(1k..30k), p ~ 0.05 +-5% daily, 2% overdispersion */
};

enum anomaly {
    AN_NONE,
    AN_SPIKE_DIP,     /* 1-3 interval spikes and 3-interval dips */
    AN_LEVEL_SHIFT,   /* permanent step; window = first day */
    AN_VARIANCE,      /* sigma x4 for 6 h */
    AN_TREND,         /* 12 h ramp then hold; window = first day */
    AN_DAILY_BREAK,   /* one day with the daily pattern 12 h out of phase */
    AN_WEEKLY_BREAK,  /* a Saturday at weekday level */
    AN_BURST,         /* low-rate counts: +3/+5/+8 per interval for 2-6 intervals */
    AN_RATE_JUMP,     /* drop-off rate jump for 1-2 h */
};

struct scenario {
    const char *label; /* row name: anomaly type / series type */
    enum base base;
    enum anomaly anomaly;
    int weeks;
    bool weekly;       /* weekend traffic x0.6 */
    int n_anomalies;
    const char *desc;
};

static const struct scenario scenarios[] = {
    {"spike_dip/cont", BASE_CONT, AN_SPIKE_DIP, 3, false, 6,
     "handling time 300 s +-15% daily, sd 12 (+-15%, noisier at night), 0.5% missing; "
     "1-3 interval spikes/dips of 6-8 sd"},
    {"spike_dip/count", BASE_COUNT_MID, AN_SPIKE_DIP, 3, true, 6,
     "complaints Poisson(4..16 daily, weekend x0.6); spikes x3 for 1-3 intervals, dips x0.1 for 3 intervals at 10-18h"},
    {"spike_dip/rate-large", BASE_RATE_LARGE, AN_SPIKE_DIP, 3, true, 6,
     "drop-off p 0.05 (+-5% daily, 2% overdispersion), n 1k..30k; p x1.5 for 1-3 intervals or x0.6 for 3"},
    {"level_shift/cont", BASE_CONT, AN_LEVEL_SHIFT, 3, false, 1,
     "permanent step of +-3 sd"},
    {"level_shift/count", BASE_COUNT_MID, AN_LEVEL_SHIFT, 3, true, 1,
     "permanent rate x1.6 or x0.55"},
    {"level_shift/rate-large", BASE_RATE_LARGE, AN_LEVEL_SHIFT, 3, true, 1,
     "permanent p x1.3 or x0.75"},
    {"variance/cont", BASE_CONT, AN_VARIANCE, 3, false, 2,
     "sd x4 for 6 h, twice"},
    {"trend/cont", BASE_CONT, AN_TREND, 3, false, 1,
     "ramp to +-6 sd over 12 h, then holds"},
    {"trend/count", BASE_COUNT_MID, AN_TREND, 3, true, 1,
     "rate ramps to x2 (or x0.5) over 12 h, then holds"},
    {"daily_break/cont", BASE_CONT, AN_DAILY_BREAK, 3, false, 1,
     "one day with the daily pattern 12 h out of phase"},
    {"daily_break/count", BASE_COUNT_MID, AN_DAILY_BREAK, 3, true, 1,
     "one weekday with the daily pattern 12 h out of phase"},
    {"weekly_break/count", BASE_COUNT_MID, AN_WEEKLY_BREAK, 4, true, 1,
     "4 weeks; a Saturday at weekday traffic"},
    {"burst/count-low", BASE_COUNT_LOW, AN_BURST, 3, true, 5,
     "Poisson 0.3..1.9; +3/+5/+8 per interval for 2-6 intervals, 5 times"},
    {"rate_jump/rate-small", BASE_RATE_SMALL, AN_RATE_JUMP, 3, false, 3,
     "n ~ Poisson(3..20) (0 = missing), p 0.10; p -> 0.30..0.50 for 1-2 h, 3 times"},
    {"rate_jump/rate-large", BASE_RATE_LARGE, AN_RATE_JUMP, 3, true, 3,
     "p x1.15..1.35 (or x0.8) for 1-2 h, 3 times"},
    {"none/cont", BASE_CONT, AN_NONE, 3, false, 0,
     "no anomaly"},
    {"none/count", BASE_COUNT_MID, AN_NONE, 4, true, 0,
     "no anomaly, 4 weeks"},
    {"none/count-low", BASE_COUNT_LOW, AN_NONE, 3, true, 0,
     "no anomaly, Poisson 0.3..1.9 (weekend x0.6)"},
    {"none/rate-small", BASE_RATE_SMALL, AN_NONE, 3, false, 0,
     "no anomaly, n 3..20, p 0.10"},
    {"none/rate-large", BASE_RATE_LARGE, AN_NONE, 3, true, 0,
     "no anomaly, n 1k..30k, p 0.05 with 2% overdispersion"},
};
#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

struct window {
    int start, end; /* inclusive interval indices */
    int sign;       /* +1 up, -1 down */
    double mag;     /* anomaly-specific magnitude */
};

struct series {
    const struct scenario *sc;
    int seed;
    int n;
    int warmup;                /* intervals excluded from scoring (first quarter) */
    struct kw_series_info info;
    struct kw_sample *s;
    int nwin;
    struct window win[MAX_WINDOWS];
};

static enum kind base_kind(enum base b)
{
    switch (b) {
    case BASE_COUNT_MID:
    case BASE_COUNT_LOW: return KIND_COUNT;
    case BASE_RATE_SMALL:
    case BASE_RATE_LARGE: return KIND_RATE;
    default: return KIND_CONT;
    }
}

/* Stable per-(scenario, seed) seed, so adding scenarios does not move others. */
static unsigned long series_seed(const char *label, int seed)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = label; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return (unsigned long)((h ^ (uint64_t)(seed + 1) * 0x9e3779b97f4a7c15ull) & 0xffffffffu);
}

/* ---- generator ------------------------------------------------------------- */

struct params {
    double mu, sigma; /* continuous */
    double lam;       /* counts */
    double lamn, p;   /* rates: traffic and probability */
};

static double daily_shape(double hour)
{
    return cos(2.0 * M_PI * (hour - 14.0) / 24.0); /* peak at 14:00, trough at 02:00 */
}

static void base_params(const struct series *sr, int i, double hour_shift, bool weekday_override,
                        struct params *p)
{
    double hour = (double)(i % PER_DAY) * 24.0 / PER_DAY + hour_shift;
    int dow = (i / PER_DAY) % 7;
    double d = daily_shape(hour);
    double wk = (sr->sc->weekly && dow >= 5 && !weekday_override) ? 0.6 : 1.0;
    memset(p, 0, sizeof *p);
    switch (sr->sc->base) {
    case BASE_CONT:
        p->mu = 300.0 * (1.0 + 0.15 * d);
        p->sigma = 12.0 * (1.0 - 0.15 * d);
        break;
    case BASE_COUNT_MID: p->lam = 10.0 * (1.0 + 0.6 * d) * wk; break;
    case BASE_COUNT_LOW: p->lam = 1.2 * (1.0 + 0.6 * d) * wk; break;
    case BASE_RATE_SMALL:
        p->lamn = 11.5 + 8.5 * d;
        p->p = 0.10;
        break;
    case BASE_RATE_LARGE:
        p->lamn = (15500.0 + 14500.0 * d) * wk;
        p->p = 0.05 * (1.0 + 0.05 * daily_shape(hour - 6.0)); /* drop-off a little higher in the evening */
        break;
    }
}

/* Parameters of interval i: the base model, then every window's effect. */
static void interval_params(const struct series *sr, int i, struct params *p)
{
    double shift = 0;
    bool override = false;
    for (int k = 0; k < sr->nwin; k++) {
        const struct window *w = &sr->win[k];
        if (i < w->start || i > w->end)
            continue;
        if (sr->sc->anomaly == AN_DAILY_BREAK)
            shift = 12.0;
        else if (sr->sc->anomaly == AN_WEEKLY_BREAK)
            override = true;
    }
    base_params(sr, i, shift, override, p);
    const double sigma0 = 12.0;
    enum base b = sr->sc->base;
    for (int k = 0; k < sr->nwin; k++) {
        const struct window *w = &sr->win[k];
        bool in = i >= w->start && i <= w->end;
        bool after = i >= w->start; /* persistent changes */
        switch (sr->sc->anomaly) {
        case AN_SPIKE_DIP:
            if (!in)
                break;
            if (b == BASE_CONT)
                p->mu += w->sign * w->mag * p->sigma;
            else if (b == BASE_RATE_LARGE)
                p->p *= w->sign > 0 ? 1.5 : 0.6;
            else
                p->lam *= w->sign > 0 ? 3.0 : 0.1;
            break;
        case AN_LEVEL_SHIFT:
            if (!after)
                break;
            if (b == BASE_CONT)
                p->mu += w->sign * 3.0 * sigma0;
            else if (b == BASE_RATE_LARGE)
                p->p *= w->sign > 0 ? 1.3 : 0.75;
            else
                p->lam *= w->sign > 0 ? 1.6 : 0.55;
            break;
        case AN_VARIANCE:
            if (in)
                p->sigma *= 4.0;
            break;
        case AN_TREND: {
            if (!after)
                break;
            double ramp = fmin(1.0, (double)(i - w->start + 1) / 144.0);
            if (b == BASE_CONT)
                p->mu += w->sign * ramp * 6.0 * sigma0;
            else
                p->lam *= w->sign > 0 ? 1.0 + ramp : 1.0 - 0.5 * ramp;
            break;
        }
        case AN_BURST:
            if (in)
                p->lam += w->mag;
            break;
        case AN_RATE_JUMP:
            if (!in)
                break;
            if (b == BASE_RATE_SMALL)
                p->p = w->mag;
            else
                p->p *= w->mag;
            break;
        default: break;
        }
    }
}

/* Start of a window of length dur inside segment k of K over [lo, hi). */
static int segment_start(gsl_rng *r, int lo, int hi, int k, int nseg, int dur)
{
    int seg = (hi - lo) / nseg;
    int room = seg - dur - 2 * TOLERANCE;
    return lo + k * seg + TOLERANCE + (room > 0 ? (int)gsl_rng_uniform_int(r, (unsigned long)room) : 0);
}

static void place_windows(struct series *sr, gsl_rng *r)
{
    const struct scenario *sc = sr->sc;
    int lo = FIRST_ANOMALY_DAY * PER_DAY, hi = sr->n - PER_DAY;
    int days = sr->n / PER_DAY;
    sr->nwin = sc->n_anomalies;
    int first_sign = gsl_rng_uniform(r) < 0.5 ? 1 : -1;
    for (int k = 0; k < sr->nwin; k++) {
        struct window *w = &sr->win[k];
        w->sign = gsl_rng_uniform(r) < 0.5 ? 1 : -1;
        w->mag = 0;
        int dur = 1;
        switch (sc->anomaly) {
        case AN_SPIKE_DIP:
            w->sign = (k % 2) ? -first_sign : first_sign;
            w->mag = 6.0 + 2.0 * gsl_rng_uniform(r);
            dur = 1 + (int)gsl_rng_uniform_int(r, 3);
            if (sc->base != BASE_CONT && w->sign < 0)
                dur = 3;
            w->start = segment_start(r, lo, hi, k, sr->nwin, dur);
            if (sc->base != BASE_CONT && w->sign < 0) /* dips in counts/rates only show at busy hours */
                w->start = w->start / PER_DAY * PER_DAY + 10 * 12 + (int)gsl_rng_uniform_int(r, 8 * 12);
            break;
        case AN_LEVEL_SHIFT:
        case AN_TREND:
            dur = PER_DAY;
            w->start = lo + PER_DAY + (int)gsl_rng_uniform_int(r, (unsigned long)(hi - lo - 5 * PER_DAY));
            break;
        case AN_VARIANCE:
            dur = 72;
            w->start = segment_start(r, lo, hi, k, sr->nwin, dur);
            break;
        case AN_DAILY_BREAK: {
            int d;
            do
                d = FIRST_ANOMALY_DAY + 1 + (int)gsl_rng_uniform_int(r, (unsigned long)(days - FIRST_ANOMALY_DAY - 3));
            while (sc->weekly && d % 7 >= 5);
            dur = PER_DAY;
            w->start = d * PER_DAY;
            break;
        }
        case AN_WEEKLY_BREAK: {
            /* a Saturday after the detectors have seen at least two weekends */
            int sat = 19 + 7 * (int)gsl_rng_uniform_int(r, (unsigned long)((days - 20) / 7 + 1));
            dur = PER_DAY;
            w->start = sat * PER_DAY;
            break;
        }
        case AN_BURST: {
            static const double extra[] = {3.0, 5.0, 8.0};
            w->sign = 1;
            w->mag = extra[gsl_rng_uniform_int(r, 3)];
            dur = 2 + (int)gsl_rng_uniform_int(r, 5);
            w->start = segment_start(r, lo, hi, k, sr->nwin, dur);
            break;
        }
        case AN_RATE_JUMP:
            dur = 12 + (int)gsl_rng_uniform_int(r, 13);
            if (sc->base == BASE_RATE_SMALL) {
                w->sign = 1;
                w->mag = 0.3 + 0.2 * gsl_rng_uniform(r); /* p 0.10 -> 0.30..0.50 */
            } else {
                w->sign = gsl_rng_uniform(r) < 2.0 / 3.0 ? 1 : -1;
                w->mag = w->sign > 0 ? 1.15 + 0.2 * gsl_rng_uniform(r) : 0.8;
            }
            w->start = segment_start(r, lo, hi, k, sr->nwin, dur);
            break;
        case AN_NONE: break;
        }
        w->end = w->start + dur - 1;
    }
}

static void series_generate(struct series *sr, const struct scenario *sc, int seed)
{
    memset(sr, 0, sizeof *sr);
    sr->sc = sc;
    sr->seed = seed;
    sr->n = sc->weeks * PER_WEEK;
    sr->warmup = sr->n / 4;
    enum kind kind = base_kind(sc->base);
    sr->info.interval_ms = INTERVAL_MS;
    sr->info.is_count = kind == KIND_COUNT;
    sr->info.is_ratio = kind == KIND_RATE;
    sr->s = xcalloc((size_t)sr->n, sizeof *sr->s);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, series_seed(sc->label, seed));
    place_windows(sr, r);
    for (int i = 0; i < sr->n; i++) {
        struct params p;
        interval_params(sr, i, &p);
        struct kw_sample *s = &sr->s[i];
        s->ts_ms = T0_MS + (int64_t)i * INTERVAL_MS;
        s->numerator = s->denominator = NAN;
        switch (kind) {
        case KIND_CONT:
            s->value = p.mu + gsl_ran_gaussian(r, p.sigma);
            if (gsl_rng_uniform(r) < 0.005)
                s->value = NAN; /* no call ended in that interval */
            break;
        case KIND_COUNT: s->value = (double)gsl_ran_poisson(r, fmax(p.lam, 0.0)); break;
        case KIND_RATE: {
            unsigned n = gsl_ran_poisson(r, p.lamn);
            double prob = p.p;
            if (sc->base == BASE_RATE_LARGE)
                prob *= exp(gsl_ran_gaussian(r, 0.02)); /* real rates are overdispersed */
            prob = fmin(fmax(prob, 0.0), 1.0);
            unsigned x = n ? gsl_ran_binomial(r, prob, n) : 0;
            s->numerator = x;
            s->denominator = n;
            s->value = n ? (double)x / n : NAN; /* no entries: no rate */
            break;
        }
        default: break;
        }
    }
    gsl_rng_free(r);
}

/* ---- running and scoring ----------------------------------------------------- */

enum run_status { RUN_NOT_RUN = 0, RUN_DONE, RUN_SKIPPED };

/* Scores of one config on one series. Plain data: lives in shared memory. */
struct run_result {
    int status;
    int tp, fp;            /* alarms starting in/after a window (first per window), other alarms */
    int windows, detected;
    int normal;            /* scored intervals outside every window (+ tolerance) */
    int ndelay;
    int delay[MAX_WINDOWS];
    int first_ready;       /* first interval with a ready verdict; -1 never */
    int bad_score;         /* anomalous with anomaly_score < 0.5 */
    int bad_expected;      /* ready with a non-finite expected value */
    int bad_bounds;        /* ready with lower > upper */
    long anomalous;        /* anomalous verdicts, any time */
    int rt_load_failed;    /* state_load refused the detector's own saved state */
    int rt_mismatch;       /* verdicts that differ after a save/restore at mid-series */
    int rt_first_mismatch; /* interval of the first one */
    long state_bytes;      /* detector state at the end of the series */
};

/* Per-config outcome of the child that ran it. */
struct cfg_status {
    int finished;          /* the child finished all series */
    double seconds;
    long updates;
    char reject[KW_ERR_LEN]; /* why a kind was skipped, first seen */
};

struct cfg {
    char label[160];
    char json[600];
    unsigned kinds;
    bool parsed;
    bool is_default;
    char err[KW_ERR_LEN];
    struct kw_detector det;
    int exit_info;         /* 0 ok; >0 signal; <0 -(exit status) */
    bool timed_out;
};

/* Restart in the middle of a series: save st as JSON text, parse it back and
 * load it into a fresh state, as the agent does across a restart. */
static int restart_state(struct kw_detector_state *st, const struct kw_detector *det,
                         const struct kw_series_info *info)
{
    cJSON *saved = kw_detector_state_save(st, det);
    char *text = cJSON_PrintUnformatted(saved);
    cJSON_Delete(saved);
    cJSON *back = cJSON_Parse(text);
    free(text);
    kw_detector_state_release(st, det);
    kw_detector_state_init(st, det, info);
    int rc = back ? kw_detector_state_load(st, det, back) : -1;
    cJSON_Delete(back);
    return rc;
}

static bool same_verdict(const struct kw_verdict *a, const struct kw_verdict *b)
{
    if (a->ready != b->ready || a->anomalous != b->anomalous)
        return false;
    if (!a->ready)
        return true;
    double d = fabs(a->expected - b->expected), m = fmax(fabs(a->expected), fabs(b->expected));
    return (isnan(a->expected) && isnan(b->expected)) || d <= 1e-6 * fmax(m, 1e-9);
}

/* Run det over one series and score its alarms. With roundtrip, a second
 * state runs alongside and is saved/restored halfway; its verdicts must match. */
static void score_series(const struct series *sr, const struct kw_detector *det, bool roundtrip, int for_n,
                         struct run_result *res)
{
    struct kw_detector_state st, st2;
    kw_detector_state_init(&st, det, &sr->info);
    if (roundtrip)
        kw_detector_state_init(&st2, det, &sr->info);
    res->status = RUN_DONE;
    res->windows = sr->nwin;
    res->first_ready = -1;
    res->rt_first_mismatch = -1;
    bool hit[MAX_WINDOWS] = {false};
    bool in_alarm = false;
    int run = 0; /* consecutive anomalous verdicts; an alarm starts when it reaches for_n */
    for (int i = 0; i < sr->n; i++) {
        struct kw_verdict v;
        kw_detector_update(&st, det, &sr->info, &sr->s[i], &v);
        if (roundtrip) {
            struct kw_verdict v2;
            if (i == sr->n / 2 && restart_state(&st2, det, &sr->info))
                res->rt_load_failed = 1;
            kw_detector_update(&st2, det, &sr->info, &sr->s[i], &v2);
            if (!same_verdict(&v, &v2) && !res->rt_mismatch++)
                res->rt_first_mismatch = i;
        }
        int wi = -1; /* window whose [start, end + TOLERANCE] holds i */
        for (int k = 0; k < sr->nwin; k++)
            if (i >= sr->win[k].start && i <= sr->win[k].end + TOLERANCE) {
                wi = k;
                break;
            }
        if (i >= sr->warmup && wi < 0)
            res->normal++;
        if (isnan(sr->s[i].value))
            continue; /* a missing interval neither starts nor ends an alarm */
        if (v.ready) {
            if (res->first_ready < 0)
                res->first_ready = i;
            if (v.anomalous && v.anomaly_score < 0.5)
                res->bad_score++;
            if (!isfinite(v.expected))
                res->bad_expected++;
            if (v.lower > v.upper)
                res->bad_bounds++;
        }
        if (!v.anomalous) {
            in_alarm = false;
            run = 0;
            continue;
        }
        res->anomalous++;
        if (in_alarm || ++run < for_n)
            continue;
        in_alarm = true;
        if (i < sr->warmup)
            continue; /* alarms starting in the warm-up are not scored */
        if (wi < 0) {
            res->fp++;
        } else if (!hit[wi]) {
            hit[wi] = true;
            res->tp++;
            res->detected++;
            res->delay[res->ndelay++] = i - sr->win[wi].start;
        }
    }
    res->state_bytes = det->type->state_bytes ? (long)det->type->state_bytes(st.impl) : 0;
    kw_detector_state_release(&st, det);
    if (roundtrip)
        kw_detector_state_release(&st2, det);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Child: run one config over every series, writing into shared memory. */
static void run_config(const struct cfg *c, const struct series *ser, int nser, int for_n, struct run_result *res,
                       struct cfg_status *cs)
{
    double t0 = now_s();
    for (int j = 0; j < nser; j++) {
        enum kind k = base_kind(ser[j].sc->base);
        char err[KW_ERR_LEN];
        if (c->kinds && !(c->kinds & (1u << k))) {
            res[j].status = RUN_SKIPPED;
            continue;
        }
        if (kw_detector_accepts(&c->det, &ser[j].info, err, sizeof err)) {
            res[j].status = RUN_SKIPPED;
            if (!cs->reject[0])
                snprintf(cs->reject, sizeof cs->reject, "%.16s: %.200s", kind_names[k], err);
            continue;
        }
        score_series(&ser[j], &c->det, ser[j].seed == 0, for_n, &res[j]);
        cs->updates += ser[j].n;
    }
    cs->seconds = now_s() - t0;
    cs->finished = 1;
}

/* ---- aggregation and report ---------------------------------------------------- */

struct agg {
    int tp, fp, windows, detected;
    long normal;
    int ndelay, cap;
    int *delay;
    int runs;
    long state_bytes; /* the largest seen */
};

static void agg_add(struct agg *a, const struct run_result *r)
{
    if (r->status != RUN_DONE)
        return;
    a->runs++;
    if (r->state_bytes > a->state_bytes)
        a->state_bytes = r->state_bytes;
    a->tp += r->tp;
    a->fp += r->fp;
    a->windows += r->windows;
    a->detected += r->detected;
    a->normal += r->normal;
    for (int k = 0; k < r->ndelay; k++) {
        if (a->ndelay == a->cap) {
            a->cap = a->cap ? 2 * a->cap : 16;
            a->delay = xrealloc(a->delay, (size_t)a->cap * sizeof *a->delay);
        }
        a->delay[a->ndelay++] = r->delay[k];
    }
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

struct figures {
    double precision, recall, f1, fa1k, delay; /* NAN where undefined */
};

static struct figures agg_figures(struct agg *a)
{
    struct figures f;
    f.precision = a->tp + a->fp ? (double)a->tp / (a->tp + a->fp) : NAN;
    f.recall = a->windows ? (double)a->detected / a->windows : NAN;
    if (isnan(f.recall))
        f.f1 = NAN;
    else if (isnan(f.precision) || f.precision + f.recall == 0)
        f.f1 = 0;
    else
        f.f1 = 2 * f.precision * f.recall / (f.precision + f.recall);
    f.fa1k = a->normal ? 1000.0 * a->fp / (double)a->normal : NAN;
    f.delay = NAN;
    if (a->ndelay) {
        qsort(a->delay, (size_t)a->ndelay, sizeof *a->delay, cmp_int);
        int m = a->ndelay / 2;
        f.delay = a->ndelay % 2 ? a->delay[m] : 0.5 * (a->delay[m - 1] + a->delay[m]);
    }
    return f;
}

static void fmt_num(char *buf, size_t len, double v, const char *fmt)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, fmt, v);
}

static void print_figures(FILE *out, const struct figures *f)
{
    char p[16], r[16], f1[16], fa[16], d[16];
    fmt_num(p, sizeof p, f->precision, "%.2f");
    fmt_num(r, sizeof r, f->recall, "%.2f");
    fmt_num(f1, sizeof f1, f->f1, "%.2f");
    fmt_num(fa, sizeof fa, f->fa1k, "%.2f");
    fmt_num(d, sizeof d, f->delay, "%.1f");
    fprintf(out, " %s | %s | %s | %s | %s |", p, r, f1, fa, d);
}

struct ranked {
    int cfg;
    long state_bytes;
    struct figures all;
    double fa_quiet; /* FA/1k on the no-anomaly series of this kind */
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    double fx = isnan(x->all.f1) ? -1 : x->all.f1, fy = isnan(y->all.f1) ? -1 : y->all.f1;
    if (fabs(fx - fy) > 1e-9)
        return fx < fy ? 1 : -1;
    double ax = isnan(x->all.fa1k) ? 1e300 : x->all.fa1k, ay = isnan(y->all.fa1k) ? 1e300 : y->all.fa1k;
    if (ax != ay)
        return ax > ay ? 1 : -1;
    return x->cfg - y->cfg;
}

/* The default for a KPI kind: F1 within F1_TIE of the best is a tie, since
 * seed-to-seed variation is about +-0.03. Ties go to the shorter median
 * detection delay, then to the smaller state per series (an agent holds
 * hundreds of thousands of series), then to clearly fewer false alarms. */
#define F1_TIE 0.02
#define FA_TIE 0.02 /* per 1,000 intervals; a closer pair keeps the higher F1 */
static int pick_default(const struct ranked *rk, int nr)
{
    int best = 0;
    for (int i = 1; i < nr; i++) {
        const struct figures *a = &rk[i].all, *b = &rk[best].all;
        if (isnan(a->f1) || a->f1 < rk[0].all.f1 - F1_TIE)
            continue;
        double da = isnan(a->delay) ? 1e300 : a->delay, db = isnan(b->delay) ? 1e300 : b->delay;
        long sa = rk[i].state_bytes, sb = rk[best].state_bytes;
        bool smaller = sa * 2 < sb, larger = sb * 2 < sa; /* within 2x is the same cost */
        if (da < db || (da == db && (smaller || (!larger && a->fa1k < b->fa1k - FA_TIE))))
            best = i;
    }
    return best;
}

static void write_report(FILE *out, struct cfg *cfgs, int ncfg, const struct series *ser, int nser,
                         struct run_result *res, const struct cfg_status *cst, int nseeds, int for_n)
{
    fprintf(out, "# Detector accuracy on labelled synthetic KPI series (%s)\n\n",
            for_n > 1 ? "alert level" : "detector level");
    if (for_n > 1)
        fprintf(out, "Alert level: an alarm starts only when %d consecutive intervals are anomalous, as "
                     "the alert engine's default rule (`for: %d`) fires; its delay is counted from then.\n\n",
                for_n, for_n);
    fprintf(out, "%zu scenarios x %d seeds = %d series of 5-minute intervals (3-4 weeks, starting on a "
                 "Monday, daily and some weekly seasonality); GSL mt19937 with fixed seeds.\n\n",
            N_SCENARIOS, nseeds, nser);
    fprintf(out, "Scoring is event-level. An alarm is a maximal run of consecutive anomalous verdicts "
                 "(a missing interval neither starts nor ends one). An alarm that starts inside a "
                 "labelled window or at most %d intervals (30 min) after its end detects that window "
                 "(true positive; only the first alarm per window counts, later ones in the same window "
                 "are ignored); any other alarm is a false alarm. The first quarter of each series is "
                 "warm-up: alarms starting there are not scored. All anomalies start after day %d. "
                 "Precision = TP / (TP + FP), recall = detected windows / windows, "
                 "FA/1k = false alarms per 1,000 scored intervals outside windows (no-anomaly series "
                 "included), delay = median of first alarm start - window start, in intervals. "
                 "Level shifts and trends persist; their window is their first day, so alarms after it "
                 "count as false (a detector should have adapted by then). On seed 0 of each scenario a "
                 "second copy of the detector is saved to JSON text and restored halfway through; its "
                 "verdicts must match the uninterrupted run (listed under problems otherwise).\n\n",
            TOLERANCE, FIRST_ANOMALY_DAY);

    fprintf(out, "| series | kind | weeks | anomalies | description |\n|---|---|---:|---:|---|\n");
    for (size_t sc = 0; sc < N_SCENARIOS; sc++)
        fprintf(out, "| %s | %s | %d | %d | %s |\n", scenarios[sc].label, kind_names[base_kind(scenarios[sc].base)],
                scenarios[sc].weeks, scenarios[sc].n_anomalies, scenarios[sc].desc);
    fprintf(out, "\n");

    /* per-config tables */
    for (int c = 0; c < ncfg; c++) {
        if (!cfgs[c].parsed || !cst[c].finished)
            continue;
        fprintf(out, "## %s\n\n`%s` (%.2f s, %.0f ns/update incl. wrapper)\n\n", cfgs[c].label, cfgs[c].json,
                cst[c].seconds, cst[c].updates ? cst[c].seconds * 1e9 / (double)cst[c].updates : 0.0);
        bool any = false;
        for (size_t s = 0; s < N_SCENARIOS; s++) {
            struct agg a = {0};
            for (int j = 0; j < nser; j++)
                if (ser[j].sc == &scenarios[s])
                    agg_add(&a, &res[(size_t)c * nser + j]);
            if (!a.runs) {
                free(a.delay);
                continue;
            }
            if (!any) {
                fprintf(out, "| anomaly type | kind | windows | detected | FP | precision | recall | F1 | "
                             "FA/1k | median delay |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
                any = true;
            }
            struct figures f = agg_figures(&a);
            fprintf(out, "| %s | %s | %d | %d | %d |", scenarios[s].label,
                    kind_names[base_kind(scenarios[s].base)], a.windows, a.detected, a.fp);
            print_figures(out, &f);
            fprintf(out, "\n");
            free(a.delay);
        }
        if (!any)
            fprintf(out, "Runs on no KPI kind here (%s).\n", cst[c].reject[0] ? cst[c].reject : "restricted");
        fprintf(out, "\n");
    }

    /* per-kind ranking */
    char best[KIND_N][160];
    for (int k = 0; k < KIND_N; k++) {
        struct ranked *rk = xcalloc((size_t)ncfg, sizeof *rk);
        int nr = 0;
        for (int c = 0; c < ncfg; c++) {
            if (!cfgs[c].parsed || !cst[c].finished)
                continue;
            struct agg a = {0}, q = {0};
            for (int j = 0; j < nser; j++) {
                if (base_kind(ser[j].sc->base) != (enum kind)k)
                    continue;
                agg_add(&a, &res[(size_t)c * nser + j]);
                if (ser[j].sc->anomaly == AN_NONE)
                    agg_add(&q, &res[(size_t)c * nser + j]);
            }
            if (a.runs) {
                rk[nr].cfg = c;
                rk[nr].state_bytes = a.state_bytes;
                rk[nr].all = agg_figures(&a);
                rk[nr].fa_quiet = q.normal ? 1000.0 * q.fp / (double)q.normal : NAN;
                nr++;
            }
            free(a.delay);
            free(q.delay);
        }
        qsort(rk, (size_t)nr, sizeof *rk, cmp_ranked);
        fprintf(out, "## Summary: %s KPIs, ranked by F1 (ties: fewer FA/1k)\n\n", kind_names[k]);
        if (nr) {
            fprintf(out, "| rank | detector | precision | recall | F1 | FA/1k | median delay | FA/1k on "
                         "no-anomaly series | state bytes |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
            for (int i = 0; i < nr; i++) {
                char qf[16];
                fmt_num(qf, sizeof qf, rk[i].fa_quiet, "%.2f");
                fprintf(out, "| %d | %s |", i + 1, cfgs[rk[i].cfg].label);
                print_figures(out, &rk[i].all);
                fprintf(out, " %s | %ld |\n", qf, rk[i].state_bytes);
            }
        } else {
            fprintf(out, "No detector ran on this kind.\n");
        }
        fprintf(out, "\n");
        snprintf(best[k], sizeof best[k], "%s", nr ? cfgs[rk[pick_default(rk, nr)].cfg].label : "none");
        free(rk);
    }

    /* problems the detector authors should see */
    bool hdr = false;
    for (int c = 0; c < ncfg; c++) {
        char note[1024] = "";
        if (!cfgs[c].parsed) {
            if (cfgs[c].is_default)
                continue; /* e.g. threshold: no usable defaults; the table configures it */
            snprintf(note, sizeof note, "config rejected: %s", cfgs[c].err);
        } else if (cfgs[c].timed_out) {
            snprintf(note, sizeof note, "did not finish within the time limit");
        } else if (cfgs[c].exit_info > 0) {
            snprintf(note, sizeof note, "crashed: %s", strsignal(cfgs[c].exit_info));
        } else if (cfgs[c].exit_info < 0) {
            snprintf(note, sizeof note, "exited with status %d (sanitizer report on stderr?)%s",
                     -cfgs[c].exit_info, cst[c].finished ? "; results kept" : "");
        } else {
            long bs = 0, be = 0, bb = 0, never = 0, runs = 0, rt_fail = 0, rt_bad = 0;
            const struct series *rt_where = NULL;
            int rt_at = -1;
            for (int j = 0; j < nser; j++) {
                const struct run_result *r = &res[(size_t)c * nser + j];
                if (r->status != RUN_DONE)
                    continue;
                runs++;
                bs += r->bad_score;
                be += r->bad_expected;
                bb += r->bad_bounds;
                never += r->first_ready < 0;
                rt_fail += r->rt_load_failed;
                if (r->rt_mismatch && !rt_bad++) {
                    rt_where = &ser[j];
                    rt_at = r->rt_first_mismatch;
                }
            }
            size_t used = 0;
            if (rt_fail)
                used += (size_t)snprintf(note + used, sizeof note - used,
                                         "state_load refused its own saved state on %ld series; ", rt_fail);
            if (rt_bad && rt_where)
                used += (size_t)snprintf(note + used, sizeof note - used,
                                         "verdicts change after a mid-series save/restore on %ld series "
                                         "(first: %s seed %d from interval %d, restored at %d); ",
                                         rt_bad, rt_where->sc->label, rt_where->seed, rt_at, rt_where->n / 2);
            if (bs && used < sizeof note)
                used += (size_t)snprintf(note + used, sizeof note - used,
                                         "%ld anomalous verdicts with anomaly_score < 0.5; ", bs);
            if (be && used < sizeof note)
                used += (size_t)snprintf(note + used, sizeof note - used,
                                         "%ld ready verdicts with non-finite expected; ", be);
            if (bb && used < sizeof note)
                used += (size_t)snprintf(note + used, sizeof note - used, "%ld verdicts with lower > upper; ", bb);
            if (never && used < sizeof note)
                used += (size_t)snprintf(note + used, sizeof note - used, "never ready on %ld of %ld series; ",
                                         never, runs);
            /* quiet small series are where naive tests false-alarm: name them */
            for (size_t sc = 0; sc < N_SCENARIOS && used < sizeof note; sc++) {
                if (scenarios[sc].anomaly != AN_NONE)
                    continue;
                struct agg q = {0};
                for (int j = 0; j < nser; j++)
                    if (ser[j].sc == &scenarios[sc])
                        agg_add(&q, &res[(size_t)c * nser + j]);
                double fa = q.normal ? 1000.0 * q.fp / (double)q.normal : 0;
                if (fa > QUIET_FA_LIMIT)
                    used += (size_t)snprintf(note + used, sizeof note - used,
                                             "%.2f false alarms/1k intervals on %s (%d in %ld intervals); ", fa,
                                             scenarios[sc].label, q.fp, q.normal);
                free(q.delay);
            }
        }
        if (!note[0])
            continue;
        size_t nl = strlen(note);
        if (nl >= 2 && strcmp(note + nl - 2, "; ") == 0)
            note[nl - 2] = '\0';
        if (!hdr) {
            fprintf(out, "## Problems seen\n\n| detector | problem |\n|---|---|\n");
            hdr = true;
        }
        fprintf(out, "| %s | %s |\n", cfgs[c].label, note);
    }
    if (hdr)
        fprintf(out, "\n");
    for (size_t i = 0; i < sizeof bench_configs / sizeof bench_configs[0]; i++)
        if (!kw_detector_type_find(bench_configs[i].type)) {
            fprintf(out, "Not registered (configs skipped):");
            for (size_t j = 0; j < sizeof bench_configs / sizeof bench_configs[0]; j++) {
                bool dup = false;
                for (size_t m = 0; m < j; m++)
                    dup |= strcmp(bench_configs[m].type, bench_configs[j].type) == 0;
                if (!dup && !kw_detector_type_find(bench_configs[j].type))
                    fprintf(out, " %s", bench_configs[j].type);
            }
            fprintf(out, "\n\n");
            break;
        }
    fprintf(out, "Default per kind: the best F1, where F1 within %.2f of the best is a tie (seed-to-seed "
                 "variation is about +-0.03), broken by the shorter median delay, then the smaller state per series (more than 2x), then fewer FA/1k (by more than %.2f), then the higher F1.\n\n",
            F1_TIE, FA_TIE);
    fprintf(out, "best: count=%s rate=%s continuous=%s\n", best[KIND_COUNT], best[KIND_RATE], best[KIND_CONT]);
}

/* -v: one line per (config, series) on stderr, to find the series a detector gets wrong. */
static void print_per_series(const struct cfg *cfgs, int ncfg, const struct series *ser, int nser,
                             const struct run_result *res)
{
    for (int c = 0; c < ncfg; c++)
        for (int j = 0; j < nser; j++) {
            const struct run_result *r = &res[(size_t)c * nser + j];
            if (r->status != RUN_DONE)
                continue;
            fprintf(stderr, "%-36s %-24s seed %d: detected %d/%d FP %d anomalous %ld first ready %d\n",
                    cfgs[c].label, ser[j].sc->label, ser[j].seed, r->detected, r->windows, r->fp, r->anomalous,
                    r->first_ready);
        }
}

/* ---- configs ------------------------------------------------------------------- */

static void label_value(char *buf, size_t len, const cJSON *v)
{
    if (cJSON_IsNumber(v)) {
        snprintf(buf, len, "%g", v->valuedouble);
    } else if (cJSON_IsString(v)) {
        snprintf(buf, len, "%s", v->valuestring);
    } else if (cJSON_IsBool(v)) {
        snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsArray(v)) {
        size_t used = (size_t)snprintf(buf, len, "[");
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
            char one[64];
            if (cJSON_IsString(t))
                snprintf(one, sizeof one, "%s", t->valuestring);
            else
                label_value(one, sizeof one, e);
            if (used < len)
                used += (size_t)snprintf(buf + used, len - used, "%s%s", e == v->child ? "" : "+", one);
        }
        if (used < len)
            snprintf(buf + used, len - used, "]");
    } else {
        snprintf(buf, len, "{...}");
    }
}

/* "zscore(window=288,threshold=3)" from {"type":"zscore","window":288,"threshold":3}. */
static void make_label(char *buf, size_t len, const cJSON *obj)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    size_t used = (size_t)snprintf(buf, len, "%s", cJSON_IsString(type) ? type->valuestring : "?");
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        if (!it->string || strcmp(it->string, "type") == 0 || used >= len)
            continue;
        char val[96];
        label_value(val, sizeof val, it);
        used += (size_t)snprintf(buf + used, len - used, "%s%s=%s", n++ ? "," : "(", it->string, val);
    }
    if (n && used < len)
        snprintf(buf + used, len - used, ")");
}

static bool name_selected(const char *name, const char *filter)
{
    if (!filter)
        return true;
    size_t nl = strlen(name);
    for (const char *p = filter; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == nl && strncmp(p, name, l) == 0)
            return true;
        p += l + (e ? 1 : 0);
    }
    return false;
}

static void cfg_parse(struct cfg *c, const char *json, const char *label, unsigned kinds, bool is_default)
{
    memset(c, 0, sizeof *c);
    snprintf(c->json, sizeof c->json, "%s", json);
    c->kinds = kinds;
    c->is_default = is_default;
    cJSON *obj = cJSON_Parse(json);
    if (!obj) {
        snprintf(c->label, sizeof c->label, "%s", label ? label : json);
        snprintf(c->err, sizeof c->err, "invalid JSON in the bench table");
        return;
    }
    if (label)
        snprintf(c->label, sizeof c->label, "%s", label);
    else
        make_label(c->label, sizeof c->label, obj);
    c->parsed = kw_detector_parse(&c->det, obj, "detector", c->err, sizeof c->err) == 0;
    cJSON_Delete(obj);
}

/* Whether a table config only restates the type's defaults (all kinds). */
static bool same_config(const struct cfg *def, const struct cfg *c)
{
    const struct kw_detector *a = &def->det, *b = &c->det;
    return def->parsed && c->parsed && c->kinds == KM_ALL && a->type == b->type &&
           a->direction == b->direction && a->min_delta == b->min_delta && a->min_delta_rel == b->min_delta_rel &&
           a->warmup == b->warmup && memcmp(a->cfg, b->cfg, a->type->config_size) == 0;
}

static int build_configs(struct cfg **out, const char *filter)
{
    size_t ntable = sizeof bench_configs / sizeof bench_configs[0];
    int ntypes = 0;
    while (kw_detector_types[ntypes])
        ntypes++;
    struct cfg *cfgs = xcalloc((size_t)ntypes + ntable, sizeof *cfgs);
    int n = 0;
    for (int t = 0; t < ntypes; t++) {
        const char *name = kw_detector_types[t]->name;
        if (!name_selected(name, filter))
            continue;
        char json[128];
        snprintf(json, sizeof json, "{\"type\":\"%s\"}", name);
        int def = n;
        cfg_parse(&cfgs[n++], json, NULL, KM_ALL, true);
        for (size_t i = 0; i < ntable; i++) {
            if (strcmp(bench_configs[i].type, name) != 0)
                continue;
            cfg_parse(&cfgs[n], bench_configs[i].json, bench_configs[i].label, bench_configs[i].kinds, false);
            if (same_config(&cfgs[def], &cfgs[n]))
                kw_detector_release(&cfgs[n].det); /* the defaults already run it */
            else
                n++;
        }
    }
    *out = cfgs;
    return n;
}

/* ---- main ------------------------------------------------------------------------ */

/* Free what main allocated; the children call it too, so that LeakSanitizer
 * reports only what a detector leaked. */
static void free_all(struct cfg *cfgs, int ncfg, struct series *ser, int nser, pid_t *pids)
{
    for (int c = 0; c < ncfg; c++)
        kw_detector_release(&cfgs[c].det);
    free(cfgs);
    free(pids);
    for (int j = 0; j < nser; j++)
        free(ser[j].s);
    free(ser);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: det_accuracy [-o FILE] [-j JOBS] [-s SEEDS] [-d NAME,...] [-t SECS] [-f FOR] [-v]\n"
            "       -f FOR: score at alert level (an alarm needs FOR consecutive anomalous intervals)\n"
            "       det_accuracy --dump LABEL SEED   (CSV of one series, e.g. --dump none/rate-small 0)\n"
            "       det_accuracy --list              (scenarios and registered detectors)\n");
}

static int dump_series(const char *label, int seed)
{
    for (size_t s = 0; s < N_SCENARIOS; s++) {
        if (strcmp(scenarios[s].label, label) != 0)
            continue;
        struct series sr;
        series_generate(&sr, &scenarios[s], seed);
        printf("index,ts_ms,value,numerator,denominator,window\n");
        for (int i = 0; i < sr.n; i++) {
            int w = -1;
            for (int k = 0; k < sr.nwin; k++)
                if (i >= sr.win[k].start && i <= sr.win[k].end)
                    w = k;
            printf("%d,%lld,%.6g,%.0f,%.0f,%d\n", i, (long long)sr.s[i].ts_ms, sr.s[i].value,
                   sr.s[i].numerator, sr.s[i].denominator, w);
        }
        free(sr.s);
        return 0;
    }
    fprintf(stderr, "det_accuracy: no scenario \"%s\"\n", label);
    return 1;
}

int main(int argc, char **argv)
{
    const char *outpath = NULL, *filter = NULL;
    bool verbose = false;
    int jobs = 2, nseeds = DEFAULT_SEEDS, timeout = DEFAULT_TIMEOUT, for_n = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_arg = i + 1 < argc;
        if (strcmp(a, "-o") == 0 && has_arg)
            outpath = argv[++i];
        else if (strcmp(a, "-j") == 0 && has_arg)
            jobs = atoi(argv[++i]);
        else if (strcmp(a, "-s") == 0 && has_arg)
            nseeds = atoi(argv[++i]);
        else if (strcmp(a, "-d") == 0 && has_arg)
            filter = argv[++i];
        else if (strcmp(a, "-f") == 0 && has_arg)
            for_n = atoi(argv[++i]) > 1 ? atoi(argv[i]) : 1;
        else if (strcmp(a, "-t") == 0 && has_arg)
            timeout = atoi(argv[++i]);
        else if (strcmp(a, "-v") == 0)
            verbose = true;
        else if (strcmp(a, "--dump") == 0 && i + 2 < argc)
            return dump_series(argv[i + 1], atoi(argv[i + 2]));
        else if (strcmp(a, "--list") == 0) {
            for (size_t s = 0; s < N_SCENARIOS; s++)
                printf("scenario %s (%s, %d weeks)\n", scenarios[s].label,
                       kind_names[base_kind(scenarios[s].base)], scenarios[s].weeks);
            for (int t = 0; kw_detector_types[t]; t++)
                printf("detector %s\n", kw_detector_types[t]->name);
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    if (jobs < 1 || nseeds < 1 || nseeds > 50 || timeout < 1) {
        usage();
        return 2;
    }

    int nser = (int)N_SCENARIOS * nseeds;
    struct series *ser = xcalloc((size_t)nser, sizeof *ser);
    for (size_t s = 0; s < N_SCENARIOS; s++)
        for (int k = 0; k < nseeds; k++)
            series_generate(&ser[s * (size_t)nseeds + (size_t)k], &scenarios[s], k);

    struct cfg *cfgs;
    int ncfg = build_configs(&cfgs, filter);
    if (ncfg == 0) {
        fprintf(stderr, "det_accuracy: no registered detector matches\n");
        return 1;
    }

    /* Results live in shared memory: each config runs in a forked child, so a
     * crashing or hanging detector under development costs only its own rows. */
    size_t res_bytes = (size_t)ncfg * (size_t)nser * sizeof(struct run_result);
    size_t cst_bytes = (size_t)ncfg * sizeof(struct cfg_status);
    struct run_result *res = mmap(NULL, res_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct cfg_status *cst = mmap(NULL, cst_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (res == MAP_FAILED || cst == MAP_FAILED) {
        fprintf(stderr, "det_accuracy: mmap: %s\n", strerror(errno));
        return 1;
    }
    memset(res, 0, res_bytes);
    memset(cst, 0, cst_bytes);

    pid_t *pids = xcalloc((size_t)ncfg, sizeof *pids);
    int next = 0, running = 0;
    double t0 = now_s();
    while (next < ncfg || running > 0) {
        if (next < ncfg && running < jobs) {
            int c = next++;
            if (!cfgs[c].parsed)
                continue;
            fflush(NULL); /* the child must not flush the parent's buffers again */
            pid_t pid = fork();
            if (pid < 0) {
                fprintf(stderr, "det_accuracy: fork: %s\n", strerror(errno));
                return 1;
            }
            if (pid == 0) {
                alarm((unsigned)timeout);
                run_config(&cfgs[c], ser, nser, for_n, &res[(size_t)c * nser], &cst[c]);
                free_all(cfgs, ncfg, ser, nser, pids);
                exit(0); /* exit, not _exit: lets LeakSanitizer check the detector */
            }
            pids[c] = pid;
            running++;
            continue;
        }
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        running--;
        for (int c = 0; c < ncfg; c++) {
            if (pids[c] != pid)
                continue;
            if (WIFSIGNALED(status)) {
                cfgs[c].exit_info = WTERMSIG(status);
                cfgs[c].timed_out = WTERMSIG(status) == SIGALRM;
                cst[c].finished = 0;
            } else if (WEXITSTATUS(status)) {
                cfgs[c].exit_info = -WEXITSTATUS(status);
            }
            fprintf(stderr, "det_accuracy: %-40s %6.1f s%s\n", cfgs[c].label, cst[c].seconds,
                    cfgs[c].timed_out ? "  TIMEOUT" : (cfgs[c].exit_info ? "  FAILED" : ""));
        }
    }
    fprintf(stderr, "det_accuracy: %d configs x %d series in %.1f s\n", ncfg, nser, now_s() - t0);
    if (verbose)
        print_per_series(cfgs, ncfg, ser, nser, res);

    char *text = NULL;
    size_t text_len = 0;
    FILE *mem = open_memstream(&text, &text_len);
    write_report(mem, cfgs, ncfg, ser, nser, res, cst, nseeds, for_n);
    fclose(mem);
    fputs(text, stdout);
    int rc = 0;
    if (outpath) {
        FILE *f = fopen(outpath, "w");
        if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
            fprintf(stderr, "det_accuracy: %s: %s\n", outpath, strerror(errno));
            rc = 1;
        }
    }
    free(text);
    free_all(cfgs, ncfg, ser, nser, pids);
    munmap(res, res_bytes);
    munmap(cst, cst_bytes);
    return rc;
}
