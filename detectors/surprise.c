/* surprise: Numenta-style anomaly likelihood over three raw surprise streams:
 * the value against a sliding level window, the value's residual against the
 * median of the same slot in past days, and its residual against the same
 * slot in past weeks. Each stream's recent mean raw score is compared with its
 * own long history (Gaussian tail). A value the daily or the weekly pattern
 * explains is not seasonally surprising (min of the two), and the verdict is
 * the max of level and seasonal surprise. With `phases`, the seasonal raw
 * score is averaged over several slot tolerances, so the verdict does not
 * hinge on one guess of how far a daily event drifts. A hold-off after each detection
 * keeps one incident to one alert. For noisy, drifting continuous KPIs where
 * plain z-scores cry wolf. */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"
#include "detector.h"

#define MAX_SEASONS 16
#define MAX_PERIOD 10080 /* a week of minutes */
#define MAX_PAST 20160   /* values held for the seasonal baselines */
#define MIN_POINTS 30    /* values in a window before its z means anything */

struct surprise_config {
    int window;
    int64_t season_ms;
    int seasons;
    int64_t week_ms;
    int weeks;
    int season_window;
    int history;
    int min_history;
    int short_n;
    double cap;
    double threshold;
    int hold_off;
    int64_t phase_ms;
    int combine;
    int phases;
};

enum { COMBINE_MAX, COMBINE_MEAN };
static const char *const combine_choices[] = {"max", "mean", NULL};

#define MAX_PHASES 4

static const struct kw_option surprise_options[] = {
    {"window", KW_OPT_INT, "1152", offsetof(struct surprise_config, window), 8, 100000,
     .desc = "Level stream: values in the sliding mean/sd window (1152 = four days of 5-minute intervals)."},
    {"season", KW_OPT_DURATION, "1d", offsetof(struct surprise_config, season_ms), 0.001, 3.2e7,
     .desc = "Seasonal stream: cycle length; off when it is not 2 to 10080 intervals."},
    {"seasons", KW_OPT_INT, "7", offsetof(struct surprise_config, seasons), 1, MAX_SEASONS,
     .desc = "Seasonal stream: past cycles whose same-slot median is the baseline."},
    {"week", KW_OPT_DURATION, "7d", offsetof(struct surprise_config, week_ms), 0.001, 3.2e7,
     .desc = "Weekly stream: second, longer cycle; off when it is not 2 to 10080 intervals or the past would exceed 20160 values."},
    {"weeks", KW_OPT_INT, "1", offsetof(struct surprise_config, weeks), 1, MAX_SEASONS,
     .desc = "Weekly stream: past long cycles whose same-slot median is the baseline."},
    {"season_window", KW_OPT_INT, "2016", offsetof(struct surprise_config, season_window), 8, 100000,
     .desc = "Seasonal and weekly streams: residuals in the sliding mean/sd window."},
    {"history", KW_OPT_INT, "2880", offsetof(struct surprise_config, history), 10, 1000000,
     .desc = "Raw scores whose mean/sd is the reference for the likelihood."},
    {"min_history", KW_OPT_INT, "300", offsetof(struct surprise_config, min_history), 10, 1000000,
     .desc = "Raw scores needed before a stream gives verdicts (capped at history)."},
    {"short", KW_OPT_INT, "5", offsetof(struct surprise_config, short_n), 1, 1000,
     .desc = "Recent raw scores averaged before the tail test (smooths single blips)."},
    {"cap", KW_OPT_DOUBLE, "10", offsetof(struct surprise_config, cap), 0.1, 1000,
     .desc = "Raw score = min(|z|, cap) / cap, so one huge outlier cannot dominate the history."},
    {"threshold", KW_OPT_DOUBLE, "2", offsetof(struct surprise_config, threshold), 0.1, 300,
     .desc = "Alert when -log10 of the likelihood tail probability exceeds this."},
    {"hold_off", KW_OPT_INT, "100", offsetof(struct surprise_config, hold_off), 0, 1000000,
     .desc = "Intervals after a detection during which the score is held at 0."},
    {"phase", KW_OPT_DURATION, "0", offsetof(struct surprise_config, phase_ms), 0, 86400,
     .desc = "Seasonal streams: each past cycle offers its value nearest x within this much of the same slot (at most 60 intervals), so a daily event that drifts a little is still explained."},
    {"combine", KW_OPT_ENUM, "max", offsetof(struct surprise_config, combine), KW_NORANGE, combine_choices,
     .desc = "max: the verdict is the larger of the level and seasonal likelihoods; mean: once both are ready, one likelihood of the mean of their raw scores."},
    {"phases", KW_OPT_INT, "1", offsetof(struct surprise_config, phases), 1, MAX_PHASES,
     .desc = "Seasonal streams: average the raw score over this many phase tolerances, halving from phase and ending at 0 (4 with phase 1h at 5-minute data: 1h, 30m, 15m, 0), so no single tolerance has to be right."},
    KW_OPT_END,
};

/* A sliding window with running sums of (v - shift). The sums are rebuilt
 * from the ring whenever the head wraps, so rounding cannot build up; the
 * rebuild is amortised O(1). Values are held as doubles (v) or, for raw
 * scores and residuals, as floats (f): a pushed value is rounded to float
 * first, so the sums always match the ring. */
struct win {
    int cap, n, head;
    double shift, sum, sum2;
    double *v;
    float *f;
};

struct stream {
    struct win hist;  /* raw scores, the likelihood's reference */
    struct win recent; /* last `short` raw scores */
};

#define NSEASON 2 /* 0 = daily, 1 = weekly seasonal stream */

struct surprise_state {
    int period[NSEASON];      /* cycles in intervals; 0 = stream off */
    int phase[MAX_PHASES];    /* slot tolerances of the seasonal baselines, in intervals */
    int nphase;
    int hold;                 /* intervals of hold-off left */
    struct win level;         /* values */
    struct win past;          /* values for both seasonal baselines (only the ring is used) */
    struct win (*resid)[NSEASON]; /* seasonal residuals, one row per tolerance */
    struct stream level_s;
    struct stream seas_s[NSEASON]; /* raw scores averaged over the tolerances */
    struct stream joint; /* combine "mean": mean of level and seasonal raw scores (history cap 1 otherwise) */
};

static void win_init(struct win *w, int cap, bool single)
{
    memset(w, 0, sizeof *w);
    w->cap = cap;
    if (single) {
        w->f = xmalloc((size_t)cap * sizeof *w->f);
        for (int i = 0; i < cap; i++)
            w->f[i] = NAN;
    } else {
        w->v = xmalloc((size_t)cap * sizeof *w->v);
        for (int i = 0; i < cap; i++)
            w->v[i] = NAN;
    }
}

static void win_free(struct win *w)
{
    free(w->v);
    free(w->f);
}

static double win_at(const struct win *w, int i)
{
    return w->f ? (double)w->f[i] : w->v[i];
}

static void win_rebuild(struct win *w)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < w->n; i++) {
        double d = win_at(w, i) - w->shift;
        s += d;
        s2 += d * d;
    }
    w->sum = s;
    w->sum2 = s2;
}

static void win_push(struct win *w, double x)
{
    if (w->f)
        x = (float)x;
    if (w->n == 0)
        w->shift = x; /* centring keeps sum2 - sum^2/n away from cancellation */
    if (w->n == w->cap) {
        double d = win_at(w, w->head) - w->shift;
        w->sum -= d;
        w->sum2 -= d * d;
    } else {
        w->n++;
    }
    double d = x - w->shift;
    if (w->f)
        w->f[w->head] = (float)x;
    else
        w->v[w->head] = x;
    w->sum += d;
    w->sum2 += d * d;
    w->head = (w->head + 1) % w->cap;
    if (w->head == 0)
        win_rebuild(w);
}

/* Value pushed `lag` pushes ago (1 = latest); NAN when not held. */
static double win_lag(const struct win *w, int lag)
{
    if (lag < 1 || lag > w->n)
        return NAN;
    return win_at(w, ((w->head - lag) % w->cap + w->cap) % w->cap);
}

static double win_mean(const struct win *w)
{
    return w->shift + w->sum / w->n;
}

static double win_sd(const struct win *w)
{
    double m = w->sum / w->n;
    double var = w->sum2 / w->n - m * m;
    return var > 0 ? sqrt(var) : 0.0;
}

static int min_points(const struct win *w)
{
    return MIN_POINTS < w->cap ? MIN_POINTS : w->cap;
}

/* Raw score of x against a window: min(|z|, cap) / cap, in [0,1]. A flat
 * window gets a tiny scale so any real change reads as maximal. */
static double raw_score(const struct win *w, double x, double cap, double *mean, double *sd)
{
    double m = win_mean(w), s = win_sd(w);
    if (!(s > 0))
        s = 1e-9 + 1e-6 * fabs(m);
    *mean = m;
    *sd = s;
    return fmin(fabs(x - m) / s, cap) / cap;
}

/* Feed a raw score; returns -log10 of the Gaussian tail probability of the
 * recent mean against the history, or -1 while the history is too short. */
static double stream_step(struct stream *st, const struct surprise_config *c, double raw)
{
    win_push(&st->recent, raw);
    double lik = -1;
    int need = c->min_history < c->history ? c->min_history : c->history;
    if (st->hist.n >= need) {
        /* Raw scores live in [0,1]; 0.03 keeps a near-constant history from
         * turning a tiny change into certainty (Numenta's floor). */
        double sd = fmax(win_sd(&st->hist), 0.03);
        double recent = win_mean(&st->recent);
        lik = kw_neglog10(gsl_cdf_gaussian_Q(recent - win_mean(&st->hist), sd));
    }
    win_push(&st->hist, raw);
    return lik;
}

static int season_period(int64_t cycle_ms, int cycles, const struct kw_series_info *info)
{
    if (info->interval_ms <= 0)
        return 0;
    int64_t p = (cycle_ms + info->interval_ms / 2) / info->interval_ms;
    return p >= 2 && p <= MAX_PERIOD && p * cycles <= MAX_PAST ? (int)p : 0;
}

static int cycles(const struct surprise_config *c, int i)
{
    return i == 0 ? c->seasons : c->weeks;
}

static void stream_init(struct stream *st, int history, int short_n)
{
    win_init(&st->hist, history, true);
    win_init(&st->recent, short_n, true);
}

static void stream_free(struct stream *st)
{
    win_free(&st->hist);
    win_free(&st->recent);
}

static void *surprise_new(const void *cfg, const struct kw_series_info *info)
{
    const struct surprise_config *c = cfg;
    struct surprise_state *s = xcalloc(1, sizeof *s);
    s->period[0] = season_period(c->season_ms, c->seasons, info);
    s->period[1] = season_period(c->week_ms, c->weeks, info);
    int phase = 0;
    if (info->interval_ms > 0)
        phase = (int)((c->phase_ms + info->interval_ms / 2) / info->interval_ms);
    if (phase > 60)
        phase = 60;
    /* phase, phase/2, phase/4, ... while above 0; with more than one, the last is 0. */
    s->phase[s->nphase++] = phase;
    for (int k = 1; k < c->phases - 1 && phase >> k > 0; k++)
        s->phase[s->nphase++] = phase >> k;
    if (c->phases > 1 && phase > 0)
        s->phase[s->nphase++] = 0;
    /* One ring serves both baselines: with the defaults (7 days, 1 week) the
     * weekly baseline is the ring's oldest value and costs nothing extra. */
    int past = 1;
    for (int i = 0; i < NSEASON; i++)
        if (s->period[i] && s->period[i] * cycles(c, i) + phase > past)
            past = s->period[i] * cycles(c, i) + phase;
    win_init(&s->level, c->window, false);
    win_init(&s->past, past, false);
    stream_init(&s->level_s, c->history, c->short_n);
    s->resid = xcalloc((size_t)s->nphase, sizeof *s->resid);
    for (int i = 0; i < NSEASON; i++) {
        for (int k = 0; k < s->nphase; k++)
            win_init(&s->resid[k][i], s->period[i] ? c->season_window : 1, true);
        stream_init(&s->seas_s[i], s->period[i] ? c->history : 1, c->short_n);
    }
    stream_init(&s->joint, c->combine == COMBINE_MEAN ? c->history : 1, c->short_n);
    return s;
}

static void surprise_free(void *state)
{
    struct surprise_state *s = state;
    if (!s)
        return;
    win_free(&s->level);
    win_free(&s->past);
    stream_free(&s->level_s);
    for (int i = 0; i < NSEASON; i++) {
        for (int k = 0; k < s->nphase; k++)
            win_free(&s->resid[k][i]);
        stream_free(&s->seas_s[i]);
    }
    free(s->resid);
    stream_free(&s->joint);
    free(s);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median over up to `n` past cycles of `period` of the value nearest x
 * within `phase` slots of the same slot; NAN before one cycle. */
static double season_baseline(const struct surprise_state *s, int period, int n, int phase, double x)
{
    double v[MAX_SEASONS];
    int k = 0;
    for (int j = 1; j <= n; j++) {
        double near = win_lag(&s->past, j * period);
        if (isnan(near))
            break;
        for (int d = 1; d <= phase; d++) {
            double a = win_lag(&s->past, j * period - d), b = win_lag(&s->past, j * period + d);
            if (fabs(a - x) < fabs(near - x))
                near = a;
            if (fabs(b - x) < fabs(near - x))
                near = b;
        }
        v[k++] = near;
    }
    if (k == 0)
        return NAN;
    qsort(v, (size_t)k, sizeof *v, cmp_double);
    return v[k / 2];
}

static void surprise_update(void *state, const void *cfg, const struct kw_series_info *info,
                            const struct kw_sample *in, struct kw_verdict *out)
{
    (void)info;
    struct surprise_state *s = state;
    const struct surprise_config *c = cfg;
    double x = in->value;
    if (!isfinite(x))
        return; /* missing interval: nothing learned, hold-off not advanced */
    double best = -1, expected = NAN, band = NAN;
    double level_raw = -1, seas_raw = -1; /* for combine "mean" */
    if (s->level.n >= min_points(&s->level)) {
        double m, sd;
        double raw = raw_score(&s->level, x, c->cap, &m, &sd);
        level_raw = raw;
        double lik = stream_step(&s->level_s, c, raw);
        if (lik >= 0) {
            best = lik;
            expected = m;
            band = 3 * sd;
        }
    }
    win_push(&s->level, x);
    /* Seasonal surprise: the smaller of the daily and weekly likelihoods
     * among the streams that are ready, so either pattern can explain x.
     * With several phase tolerances the raw scores are averaged over them,
     * so no single guess of how far a daily event may drift decides. */
    double seas = -1, seas_exp = NAN, seas_band = NAN;
    double tol_raw[MAX_PHASES]; /* per tolerance, the smaller of the daily and weekly raw scores */
    for (int k = 0; k < MAX_PHASES; k++)
        tol_raw[k] = -1;
    for (int i = 0; i < NSEASON; i++) {
        if (!s->period[i])
            continue;
        double raw = 0, exp_i = NAN, band_i = NAN;
        bool ready = true;
        for (int k = 0; k < s->nphase; k++) {
            double base = season_baseline(s, s->period[i], cycles(c, i), s->phase[k], x);
            if (isnan(base)) {
                ready = false; /* the same for every tolerance: before one cycle */
                break;
            }
            double r = x - base;
            if (s->resid[k][i].n >= min_points(&s->resid[k][i])) {
                double m, sd;
                double rk = raw_score(&s->resid[k][i], r, c->cap, &m, &sd);
                raw += rk / s->nphase;
                if (tol_raw[k] < 0 || rk < tol_raw[k])
                    tol_raw[k] = rk;
                if (k == 0) {
                    exp_i = base + m; /* the configured tolerance's */
                    band_i = 3 * sd;
                }
            } else {
                ready = false;
            }
            win_push(&s->resid[k][i], r);
        }
        if (!ready)
            continue;
        double lik = stream_step(&s->seas_s[i], c, raw);
        if (lik >= 0 && (seas < 0 || lik < seas)) {
            seas = lik;
            seas_exp = exp_i;
            seas_band = band_i;
        }
    }
    if (tol_raw[0] >= 0) {
        seas_raw = 0;
        for (int k = 0; k < s->nphase; k++)
            seas_raw += tol_raw[k] / s->nphase;
    }
    if (s->period[0] || s->period[1])
        win_push(&s->past, x);
    if (seas >= 0 && seas > best) {
        best = seas;
        expected = seas_exp;
        band = seas_band;
    }
    /* Averaging the raw scores before the tail test, rather than taking
     * the larger of two tails, needs both streams to agree: a value only
     * one of them finds odd is half as surprising. */
    if (c->combine == COMBINE_MEAN && level_raw >= 0 && seas_raw >= 0) {
        double lik = stream_step(&s->joint, c, (level_raw + seas_raw) / 2);
        if (lik >= 0)
            best = lik;
    }
    if (best < 0)
        return; /* warming up */
    out->ready = true;
    /* The band is context, not the decision: the window mean -+ 3 sd of the
     * stream with the larger likelihood (a raw score of 3 / cap there). The
     * decision judges the mean of the last `short` raw scores against their
     * history, so a lone value outside the band can stay below threshold. */
    out->expected = expected;
    out->lower = expected - band;
    out->upper = expected + band;
    out->score = x < expected ? -best : best;
    if (s->hold > 0) {
        /* Same incident: already reported. */
        s->hold--;
        return;
    }
    out->anomalous = best >= c->threshold;
    out->anomaly_score = kw_squash(best, c->threshold);
    if (out->anomalous)
        s->hold = c->hold_off;
}

static cJSON *win_save(const struct win *w)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", w->n);
    cJSON_AddNumberToObject(o, "head", w->head);
    cJSON_AddItemToObject(o, "shift", kw_json_number(w->shift));
    cJSON_AddItemToObject(o, "sum", kw_json_number(w->sum));
    cJSON_AddItemToObject(o, "sum2", kw_json_number(w->sum2));
    if (w->f) {
        /* float -> double is exact, and so is the way back on load */
        double *tmp = xmalloc((size_t)w->cap * sizeof *tmp);
        for (int i = 0; i < w->cap; i++)
            tmp[i] = w->f[i];
        cJSON_AddItemToObject(o, "v", kw_json_doubles(tmp, (size_t)w->cap));
        free(tmp);
    } else {
        cJSON_AddItemToObject(o, "v", kw_json_doubles(w->v, (size_t)w->cap));
    }
    return o;
}

static int read_int(const cJSON *obj, const char *key, int lo, int hi, int *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || it->valuedouble < lo ||
        it->valuedouble > hi)
        return -1;
    *out = (int)it->valuedouble;
    return 0;
}

static int read_num(const cJSON *obj, const char *key, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return -1;
    *out = it->valuedouble;
    return 0;
}

/* Load into tmp (same capacity and storage as w) and check it; the caller
 * commits. A float window only takes values a float holds exactly. */
static int win_load(struct win *tmp, const struct win *w, const cJSON *o)
{
    win_init(tmp, w->cap, w->f != NULL);
    double *v = w->f ? xmalloc((size_t)w->cap * sizeof *v) : tmp->v;
    int n, head, rc = -1;
    if (!cJSON_IsObject(o) || read_int(o, "n", 0, w->cap, &n) || read_int(o, "head", 0, w->cap - 1, &head) ||
        (n < w->cap && head != n) || read_num(o, "shift", &tmp->shift) || read_num(o, "sum", &tmp->sum) ||
        read_num(o, "sum2", &tmp->sum2) ||
        kw_json_read_doubles(cJSON_GetObjectItemCaseSensitive(o, "v"), v, (size_t)w->cap))
        goto out;
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]) || (w->f && (double)(float)v[i] != v[i]))
            goto out;
    if (w->f)
        for (int i = 0; i < w->cap; i++)
            tmp->f[i] = (float)v[i];
    tmp->n = n;
    tmp->head = head;
    rc = 0;
out:
    if (w->f)
        free(v);
    return rc;
}

#define NFIXED 12
#define MAX_WINS (NFIXED + NSEASON * (MAX_PHASES - 1))

/* The state's windows in save order, with their JSON keys; returns how many.
 * The extra phase tolerances' residuals come last, under keys of their own,
 * so a state saved with one tolerance still loads. */
static int state_wins(struct surprise_state *s, struct win *dst[MAX_WINS], char keys[MAX_WINS][24])
{
    struct win *fixed[NFIXED] = {&s->level,           &s->past,           &s->resid[0][0],     &s->resid[0][1],
                                 &s->level_s.hist,    &s->level_s.recent, &s->seas_s[0].hist,  &s->seas_s[0].recent,
                                 &s->seas_s[1].hist,  &s->seas_s[1].recent, &s->joint.hist,    &s->joint.recent};
    static const char *const fixed_keys[NFIXED] = {"level",       "past",         "resid",       "week_resid",
                                                   "level_hist",  "level_recent", "season_hist", "season_recent",
                                                   "week_hist",   "week_recent",  "joint_hist",  "joint_recent"};
    int n = 0;
    for (; n < NFIXED; n++) {
        dst[n] = fixed[n];
        snprintf(keys[n], sizeof keys[n], "%s", fixed_keys[n]);
    }
    for (int k = 1; k < s->nphase; k++)
        for (int i = 0; i < NSEASON; i++, n++) {
            dst[n] = &s->resid[k][i];
            snprintf(keys[n], sizeof keys[n], "%sresid_%d", i ? "week_" : "", k);
        }
    return n;
}

static cJSON *surprise_save(const void *state, const void *cfg)
{
    (void)cfg;
    struct surprise_state *s = (struct surprise_state *)state; /* read only */
    struct win *w[MAX_WINS];
    char keys[MAX_WINS][24];
    int n = state_wins(s, w, keys);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "period", s->period[0]);
    cJSON_AddNumberToObject(o, "week_period", s->period[1]);
    cJSON_AddNumberToObject(o, "hold", s->hold);
    for (int i = 0; i < n; i++)
        cJSON_AddItemToObject(o, keys[i], win_save(w[i]));
    return o;
}

static int surprise_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct surprise_state *s = state;
    struct win *dst[MAX_WINS];
    char keys[MAX_WINS][24];
    int n = state_wins(s, dst, keys);
    int period, week, hold;
    if (!cJSON_IsObject(json) || read_int(json, "period", 0, MAX_PERIOD, &period) || period != s->period[0] ||
        read_int(json, "week_period", 0, MAX_PERIOD, &week) || week != s->period[1] ||
        read_int(json, "hold", 0, 1000000, &hold))
        return -1;
    struct win tmp[MAX_WINS];
    for (int ok = 0; ok < n; ok++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(json, keys[ok]);
        if (!o && (dst[ok] == &s->joint.hist || dst[ok] == &s->joint.recent) && s->joint.hist.cap == 1) {
            /* A state from before the joint stream, with combine "max", which never uses it. */
            win_init(&tmp[ok], dst[ok]->cap, true);
            continue;
        }
        if (win_load(&tmp[ok], dst[ok], o)) {
            for (int i = 0; i <= ok; i++)
                win_free(&tmp[i]);
            return -1;
        }
    }
    for (int i = 0; i < n; i++) {
        win_free(dst[i]);
        *dst[i] = tmp[i];
    }
    s->hold = hold;
    return 0;
}

static size_t win_bytes(const struct win *w)
{
    return (size_t)w->cap * (w->f ? sizeof *w->f : sizeof *w->v);
}

static size_t surprise_bytes(const void *state)
{
    const struct surprise_state *s = state;
    size_t b = sizeof *s + (size_t)s->nphase * sizeof *s->resid + win_bytes(&s->level) + win_bytes(&s->past);
    b += win_bytes(&s->level_s.hist) + win_bytes(&s->level_s.recent);
    for (int i = 0; i < NSEASON; i++) {
        for (int k = 0; k < s->nphase; k++)
            b += win_bytes(&s->resid[k][i]);
        b += win_bytes(&s->seas_s[i].hist) + win_bytes(&s->seas_s[i].recent);
    }
    b += win_bytes(&s->joint.hist) + win_bytes(&s->joint.recent);
    return b;
}

const struct kw_detector_type surprise_detector = {
    .name = "surprise",
    .description = "Anomaly likelihood of level and daily/weekly seasonal surprise, with a hold-off after each detection.",
    .options = surprise_options,
    .config_size = sizeof(struct surprise_config),
    .state_new = surprise_new,
    .update = surprise_update,
    .state_save = surprise_save,
    .state_load = surprise_load,
    .state_free = surprise_free,
    .state_bytes = surprise_bytes,
};
