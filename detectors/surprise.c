/* surprise: Numenta-style anomaly likelihood over two raw surprise streams,
 * the value against a sliding level window and the value's residual against
 * the median of the same slot in past seasons. Each stream's recent mean raw
 * score is compared with its own long history (Gaussian tail), and a hold-off
 * after each detection keeps one incident to one alert. For noisy, drifting
 * continuous KPIs where plain z-scores cry wolf. */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../agent/xmalloc.h"
#include "detector.h"

#define MAX_SEASONS 16
#define MAX_PERIOD 10080 /* a week of minutes */
#define MIN_POINTS 30    /* values in a window before its z means anything */

struct surprise_config {
    int window;
    int64_t season_ms;
    int seasons;
    int season_window;
    int history;
    int min_history;
    int short_n;
    double cap;
    double threshold;
    int hold_off;
};

static const struct kw_option surprise_options[] = {
    {"window", KW_OPT_INT, "1152", offsetof(struct surprise_config, window), 8, 100000,
     .desc = "Level stream: values in the sliding mean/sd window (1152 = four days of 5-minute intervals)."},
    {"season", KW_OPT_DURATION, "1d", offsetof(struct surprise_config, season_ms), 0.001, 3.2e7,
     .desc = "Seasonal stream: cycle length; off when it is not 2 to 10080 intervals."},
    {"seasons", KW_OPT_INT, "7", offsetof(struct surprise_config, seasons), 1, MAX_SEASONS,
     .desc = "Seasonal stream: past cycles whose same-slot median is the baseline."},
    {"season_window", KW_OPT_INT, "2016", offsetof(struct surprise_config, season_window), 8, 100000,
     .desc = "Seasonal stream: residuals in the sliding mean/sd window."},
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
    {"hold_off", KW_OPT_INT, "200", offsetof(struct surprise_config, hold_off), 0, 1000000,
     .desc = "Intervals after a detection during which the score is held at 0."},
    KW_OPT_END,
};

/* A sliding window with running sums of (v - shift). The sums are rebuilt
 * from the ring whenever the head wraps, so rounding cannot build up; the
 * rebuild is amortised O(1). */
struct win {
    int cap, n, head;
    double shift, sum, sum2;
    double *v;
};

struct stream {
    struct win hist;  /* raw scores, the likelihood's reference */
    struct win recent; /* last `short` raw scores */
};

struct surprise_state {
    int period;          /* seasonal stream's cycle in intervals; 0 = off */
    int hold;            /* intervals of hold-off left */
    struct win level;    /* values */
    struct win past;     /* last seasons * period values (only the ring is used) */
    struct win resid;    /* seasonal residuals */
    struct stream s[2];  /* 0 = level, 1 = seasonal */
};

static void win_init(struct win *w, int cap)
{
    memset(w, 0, sizeof *w);
    w->cap = cap;
    w->v = xmalloc((size_t)cap * sizeof *w->v);
    for (int i = 0; i < cap; i++)
        w->v[i] = NAN;
}

static void win_rebuild(struct win *w)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < w->n; i++) {
        double d = w->v[i] - w->shift;
        s += d;
        s2 += d * d;
    }
    w->sum = s;
    w->sum2 = s2;
}

static void win_push(struct win *w, double x)
{
    if (w->n == 0)
        w->shift = x; /* centring keeps sum2 - sum^2/n away from cancellation */
    if (w->n == w->cap) {
        double d = w->v[w->head] - w->shift;
        w->sum -= d;
        w->sum2 -= d * d;
    } else {
        w->n++;
    }
    double d = x - w->shift;
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
    return w->v[((w->head - lag) % w->cap + w->cap) % w->cap];
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

static int season_period(const struct surprise_config *c, const struct kw_series_info *info)
{
    if (info->interval_ms <= 0)
        return 0;
    int64_t p = (c->season_ms + info->interval_ms / 2) / info->interval_ms;
    return p >= 2 && p <= MAX_PERIOD ? (int)p : 0;
}

static void *surprise_new(const void *cfg, const struct kw_series_info *info)
{
    const struct surprise_config *c = cfg;
    struct surprise_state *s = xcalloc(1, sizeof *s);
    s->period = season_period(c, info);
    win_init(&s->level, c->window);
    win_init(&s->past, s->period ? s->period * c->seasons : 1);
    win_init(&s->resid, c->season_window);
    for (int i = 0; i < 2; i++) {
        win_init(&s->s[i].hist, c->history);
        win_init(&s->s[i].recent, c->short_n);
    }
    return s;
}

static void surprise_free(void *state)
{
    struct surprise_state *s = state;
    if (!s)
        return;
    free(s->level.v);
    free(s->past.v);
    free(s->resid.v);
    for (int i = 0; i < 2; i++) {
        free(s->s[i].hist.v);
        free(s->s[i].recent.v);
    }
    free(s);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the same slot in up to `seasons` past cycles; NAN before one cycle. */
static double season_baseline(const struct surprise_state *s, const struct surprise_config *c)
{
    double v[MAX_SEASONS];
    int k = 0;
    for (int j = 1; j <= c->seasons; j++) {
        double x = win_lag(&s->past, j * s->period);
        if (isnan(x))
            break;
        v[k++] = x;
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
    if (s->level.n >= min_points(&s->level)) {
        double m, sd;
        double raw = raw_score(&s->level, x, c->cap, &m, &sd);
        double lik = stream_step(&s->s[0], c, raw);
        if (lik >= 0) {
            best = lik;
            expected = m;
            band = 3 * sd;
        }
    }
    win_push(&s->level, x);
    if (s->period) {
        double base = season_baseline(s, c);
        if (!isnan(base)) {
            double r = x - base;
            if (s->resid.n >= min_points(&s->resid)) {
                double m, sd;
                double raw = raw_score(&s->resid, r, c->cap, &m, &sd);
                double lik = stream_step(&s->s[1], c, raw);
                if (lik > best && lik >= 0) {
                    best = lik;
                    expected = base + m;
                    band = 3 * sd;
                }
            }
            win_push(&s->resid, r);
        }
        win_push(&s->past, x);
    }
    if (best < 0)
        return; /* warming up */
    out->ready = true;
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
    cJSON_AddItemToObject(o, "v", kw_json_doubles(w->v, (size_t)w->cap));
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

/* Load into tmp (same capacity as w) and check it; the caller commits. */
static int win_load(struct win *tmp, const struct win *w, const cJSON *o)
{
    win_init(tmp, w->cap);
    int n, head;
    if (!cJSON_IsObject(o) || read_int(o, "n", 0, w->cap, &n) || read_int(o, "head", 0, w->cap - 1, &head) ||
        (n < w->cap && head != n) || read_num(o, "shift", &tmp->shift) || read_num(o, "sum", &tmp->sum) ||
        read_num(o, "sum2", &tmp->sum2) ||
        kw_json_read_doubles(cJSON_GetObjectItemCaseSensitive(o, "v"), tmp->v, (size_t)w->cap))
        return -1;
    for (int i = 0; i < n; i++)
        if (!isfinite(tmp->v[i]))
            return -1;
    tmp->n = n;
    tmp->head = head;
    return 0;
}

static cJSON *surprise_save(const void *state, const void *cfg)
{
    (void)cfg;
    const struct surprise_state *s = state;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "period", s->period);
    cJSON_AddNumberToObject(o, "hold", s->hold);
    cJSON_AddItemToObject(o, "level", win_save(&s->level));
    cJSON_AddItemToObject(o, "past", win_save(&s->past));
    cJSON_AddItemToObject(o, "resid", win_save(&s->resid));
    cJSON_AddItemToObject(o, "level_hist", win_save(&s->s[0].hist));
    cJSON_AddItemToObject(o, "level_recent", win_save(&s->s[0].recent));
    cJSON_AddItemToObject(o, "season_hist", win_save(&s->s[1].hist));
    cJSON_AddItemToObject(o, "season_recent", win_save(&s->s[1].recent));
    return o;
}

#define NWIN 7

static int surprise_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct surprise_state *s = state;
    struct win *dst[NWIN] = {&s->level, &s->past, &s->resid, &s->s[0].hist, &s->s[0].recent,
                             &s->s[1].hist, &s->s[1].recent};
    static const char *const keys[NWIN] = {"level", "past", "resid", "level_hist", "level_recent",
                                           "season_hist", "season_recent"};
    int period, hold;
    if (!cJSON_IsObject(json) || read_int(json, "period", 0, MAX_PERIOD, &period) || period != s->period ||
        read_int(json, "hold", 0, 1000000, &hold))
        return -1;
    struct win tmp[NWIN];
    int ok = 0;
    for (; ok < NWIN; ok++) {
        if (win_load(&tmp[ok], dst[ok], cJSON_GetObjectItemCaseSensitive(json, keys[ok]))) {
            for (int i = 0; i <= ok; i++)
                free(tmp[i].v);
            return -1;
        }
    }
    for (int i = 0; i < NWIN; i++) {
        free(dst[i]->v);
        *dst[i] = tmp[i];
    }
    s->hold = hold;
    return 0;
}

static size_t surprise_bytes(const void *state)
{
    const struct surprise_state *s = state;
    size_t cells = (size_t)s->level.cap + (size_t)s->past.cap + (size_t)s->resid.cap;
    for (int i = 0; i < 2; i++)
        cells += (size_t)s->s[i].hist.cap + (size_t)s->s[i].recent.cap;
    return sizeof *s + cells * sizeof(double);
}

const struct kw_detector_type surprise_detector = {
    .name = "surprise",
    .description = "Anomaly likelihood of level and seasonal surprise, with a hold-off after each detection.",
    .options = surprise_options,
    .config_size = sizeof(struct surprise_config),
    .state_new = surprise_new,
    .update = surprise_update,
    .state_save = surprise_save,
    .state_load = surprise_load,
    .state_free = surprise_free,
    .state_bytes = surprise_bytes,
};
