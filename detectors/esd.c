/* esd: Seasonal-Hybrid ESD (Hochenbaum, Vallis & Kejariwal 2017, Twitter's
 * AnomalyDetection): Rosner's (1983) generalized ESD test with median/MAD on
 * the residuals of a sliding window. Use it for spiky KPIs where several
 * outliers can sit in the window at once. Values are placed by timestamp: a
 * missing interval is a hole in the window and never shifts the phase. */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sort_double.h>
#include <gsl/gsl_statistics_double.h>

#include "../lib/intmath.h"
#include "../lib/ostree.h"
#include "../lib/xmalloc.h"
#include "detector.h"

#define ESD_MAX_WINDOW 10080
/* 1 / Phi^-1(3/4): MAD to sd under normal noise (R's mad(), as Twitter uses). */
#define MAD_TO_SD 1.482602218505602
/* sqrt(pi/2): mean absolute deviation to sd, the fallback when MAD is 0
 * (more than half the values equal, e.g. low counts). */
#define MEANAD_TO_SD 1.2533141373155003
/* Direct-mapped cache of k-th smallest lookups: one update's median, MAD
 * search and ESD steps ask for a few dozen ranks, many of them twice. */
#define ESD_CACHE 128
/* The newest value's own slot needs this many values for a meaningful residual. */
#define ESD_SLOT_MIN 3

struct esd_config {
    int window;
    int64_t season_ms;
    double max_anoms;
    double alpha;
    int min_points;
    bool robust;
};

/* The residuals are ordered by an order-statistics tree over window
 * positions keyed by (residual, position) (lib/ostree.h, without sums):
 * insert, erase, rank and k-th smallest are O(log w) expected. On top of it
 * sit a select cache and a flat sorted copy, both dropped on any change. */
struct esd_state {
    int w;             /* window, in intervals */
    int m;             /* season, in intervals; 0 = no seasonal component */
    int kmax;          /* most outliers tested for, at a full window */
    bool started;      /* last is valid */
    int64_t last;      /* interval index (ts / interval) of the newest value */
    double *vals;      /* [w] by interval index mod w; NAN = missing */
    double *pkey;      /* [w] residual of each position as held in the tree; NAN = none */
    struct kw_ostree order; /* positions by (pkey, position) */
    double *flat;      /* [w] residuals ascending, filled on demand for the O(n) statistics; NULL until needed */
    bool flat_ok;      /* flat matches the tree */
    uint32_t epoch;    /* bumped by every tree change: invalidates the select cache */
    struct { int rank; uint32_t epoch; double v; } cache[ESD_CACHE]; /* recent selects, by rank */
    int mad_hint;      /* where the last window MAD split the two runs: a search start, not state */
    int *slot_cnt;     /* [m] values of each slot in the window */
    double *scratch;   /* [w / m] a slot's values */
    int *spos;         /* [w / m] their positions */
    size_t *sidx;      /* [w / m] their order */
    double *lambda;    /* [1..kmax] critical values for lambda_n points */
    int lambda_n, lambda_k;
};

static const struct kw_option esd_options[] = {
    {"window", KW_OPT_INT, "288", offsetof(struct esd_config, window), 16, ESD_MAX_WINDOW,
     .desc = "Intervals in the sliding window (288 = a day of 5-minute intervals)."},
    {"season", KW_OPT_DURATION, "0", offsetof(struct esd_config, season_ms), 0, 3.2e7,
     .desc = "Season length (e.g. \"1d\"); 0 = no seasonal component. The window must hold a "
             "whole number of seasons, at least 3. Set it for clock-driven continuous KPIs: without it a "
             "daily cycle hides spikes (on the benchmark, 1d lifted continuous F1 from 0.04 to 0.65 at "
             "window 864 but doubled false alarms on counts and rates, so it is not the default)."},
    {"max_anoms", KW_OPT_DOUBLE, "0.02", offsetof(struct esd_config, max_anoms), 0.001, 0.49,
     .desc = "Largest fraction of the window that may be outliers (the test's upper bound k)."},
    {"alpha", KW_OPT_DOUBLE, "0.05", offsetof(struct esd_config, alpha), 1e-9, 0.5,
     .desc = "Significance level of the test."},
    {"min_points", KW_OPT_INT, "0", offsetof(struct esd_config, min_points), 0, ESD_MAX_WINDOW,
     .desc = "Values in the window before verdicts; 0 = half the window (at least 8)."},
    {"robust", KW_OPT_BOOL, "true", offsetof(struct esd_config, robust), KW_NORANGE,
     .desc = "Median/MAD (hybrid ESD, the default) or mean/sd (Rosner's original test)."},
    KW_OPT_END,
};

static int esd_check(void *cfg, const char *path, char *err, size_t errlen)
{
    const struct esd_config *c = cfg;
    if (c->min_points > c->window) {
        snprintf(err, errlen, "%s.min_points: must be <= window (%d)", path, c->window);
        return -1;
    }
    if (c->min_points > 0 && c->min_points < 8) {
        snprintf(err, errlen, "%s.min_points: must be 0 (half the window) or >= 8", path);
        return -1;
    }
    return 0;
}

static int esd_accepts(const void *cfg, const struct kw_series_info *info, char *err, size_t errlen)
{
    const struct esd_config *c = cfg;
    if (c->season_ms == 0)
        return 0;
    if (c->season_ms % info->interval_ms != 0) {
        snprintf(err, errlen, "season (%gs) must be a multiple of the interval (%gs)",
                 (double)c->season_ms / 1000.0, (double)info->interval_ms / 1000.0);
        return -1;
    }
    int64_t m = c->season_ms / info->interval_ms;
    if (m < 2) {
        snprintf(err, errlen, "season must span at least 2 intervals (it spans %" PRId64 ")", m);
        return -1;
    }
    /* Whole seasons keep every slot equally represented; three give each slot
     * a median that one outlier cannot move. */
    if (c->window % m != 0 || c->window < 3 * m) {
        snprintf(err, errlen, "window (%d intervals) must be a multiple of the season (%" PRId64
                 " intervals) and hold at least 3 seasons", c->window, m);
        return -1;
    }
    return 0;
}

static void *esd_new(const void *cfg, const struct kw_series_info *info)
{
    const struct esd_config *c = cfg;
    struct esd_state *st = xcalloc(1, sizeof *st);
    st->w = c->window;
    st->m = c->season_ms > 0 ? (int)(c->season_ms / info->interval_ms) : 0;
    st->kmax = (int)floor(c->max_anoms * st->w);
    if (st->kmax < 1)
        st->kmax = 1;
    st->vals = xmalloc((size_t)st->w * sizeof(double));
    st->pkey = xmalloc((size_t)st->w * sizeof(double));
    for (int p = 0; p < st->w; p++)
        st->vals[p] = st->pkey[p] = NAN;
    kw_ostree_init(&st->order, st->w, st->pkey, false);
    st->epoch = 1;
    if (st->m) {
        size_t per_slot = (size_t)((st->w + st->m - 1) / st->m); /* exact once accepted */
        st->slot_cnt = xcalloc((size_t)st->m, sizeof(int));
        st->scratch = xmalloc(per_slot * sizeof(double));
        st->spos = xmalloc(per_slot * sizeof(int));
        st->sidx = xmalloc(per_slot * sizeof(size_t));
    }
    st->lambda = xcalloc((size_t)st->kmax + 1, sizeof(double));
    return st;
}

static void esd_free(void *state)
{
    struct esd_state *st = state;
    if (!st)
        return;
    free(st->vals);
    kw_ostree_release(&st->order);
    free(st->pkey);
    free(st->flat);
    free(st->slot_cnt);
    free(st->scratch);
    free(st->spos);
    free(st->sidx);
    free(st->lambda);
    free(st);
}

/* Any change to the tree: cached selects and the flat copy are stale. */
static void tree_changed(struct esd_state *st)
{
    st->flat_ok = false;
    if (++st->epoch == 0) { /* wrapped: no old tag may match */
        for (int i = 0; i < ESD_CACHE; i++)
            st->cache[i].epoch = 0;
        st->epoch = 1;
    }
}

static void key_insert(struct esd_state *st, int p)
{
    kw_ostree_insert(&st->order, p);
    tree_changed(st);
}

/* Remove position p. Returns false when it was absent (a bug: rebuild). */
static bool key_remove(struct esd_state *st, int p)
{
    bool found = kw_ostree_erase(&st->order, p);
    tree_changed(st);
    return found;
}

/* The k-th smallest residual (0-based), O(log w). */
static double kth(struct esd_state *st, int k)
{
    if (st->flat_ok)
        return st->flat[k];
    int slot = k & (ESD_CACHE - 1);
    if (st->cache[slot].epoch == st->epoch && st->cache[slot].rank == k)
        return st->cache[slot].v;
    st->cache[slot].rank = k;
    st->cache[slot].epoch = st->epoch;
    return st->cache[slot].v = kw_ostree_kth(&st->order, k);
}

/* All residuals ascending, for the O(n) statistics (mean, sd, MeanAD). */
static const double *flat_view(struct esd_state *st)
{
    if (!st->flat_ok) {
        if (!st->flat)
            st->flat = xmalloc((size_t)st->w * sizeof(double));
        kw_ostree_sorted(&st->order, st->flat);
        st->flat_ok = true;
    }
    return st->flat;
}

/* Median of the c - 1 values v[idx[0..c)] (ascending) other than rank i. */
static double loo_median(const double *v, const size_t *idx, int c, int i)
{
    int n = c - 1, h = n / 2;
    double hi = v[idx[h < i ? h : h + 1]];
    if (n % 2)
        return hi;
    double lo = v[idx[h - 1 < i ? h - 1 : h]];
    return 0.5 * (lo + hi);
}

/* Recompute the residuals of slot s (positions s, s+m, ... since m divides
 * w). Twitter's S-H-ESD (Hochenbaum et al., "Automatic Anomaly Detection in
 * the Cloud Via Statistical Learning") takes the seasonal part from STL; here
 * it is the slot median: each value minus the median of the slot's *other*
 * values (the window median Twitter also subtracts is a common shift the test
 * ignores, see esd_rebuild). With the value itself in the median, a window
 * of 3 seasons would give every slot one residual of exactly 0, shrink the
 * MAD and flood the test with false alarms (2% of points, measured); leaving
 * it out makes every residual an honest prediction error. A slot with a
 * single value has no residual. When in_set, the old keys are taken out of
 * the sorted set and the new ones put in. O(c log c + c w) for the c = w/m
 * values of the slot. Returns false if a key was missing. */
static bool slot_refresh(struct esd_state *st, int s, bool in_set)
{
    bool ok = true;
    int c = 0;
    for (int p = s; p < st->w; p += st->m) {
        if (in_set && !isnan(st->pkey[p]))
            ok = key_remove(st, p) && ok;
        st->pkey[p] = NAN;
        if (!isnan(st->vals[p])) {
            st->scratch[c] = st->vals[p];
            st->spos[c++] = p;
        }
    }
    st->slot_cnt[s] = c;
    if (c < 2)
        return ok;
    gsl_sort_index(st->sidx, st->scratch, 1, (size_t)c);
    for (int i = 0; i < c; i++) {
        int p = st->spos[st->sidx[i]];
        st->pkey[p] = st->vals[p] - loo_median(st->scratch, st->sidx, c, i);
        if (in_set)
            key_insert(st, p);
    }
    return ok;
}

/* Without a season the residual is the value itself: Twitter's form also
 * subtracts the window median, but a common shift is invisible to the test,
 * so that is left to the verdict's expected value. */
static void esd_rebuild(struct esd_state *st)
{
    if (st->m) {
        for (int s = 0; s < st->m; s++)
            slot_refresh(st, s, false);
    } else {
        memcpy(st->pkey, st->vals, (size_t)st->w * sizeof(double));
    }
    kw_ostree_clear(&st->order);
    tree_changed(st);
    for (int p = 0; p < st->w; p++)
        if (!isnan(st->pkey[p]))
            key_insert(st, p);
}

/* Add the value of interval n (> last): an O(log w) erase and insert; with a
 * season, the slot's w/m residuals are re-keyed the same way. A gap clears
 * the skipped positions and rebuilds, O(w log w). */
static void esd_push(struct esd_state *st, int64_t n, double x)
{
    int pos = kw_floor_mod(n, st->w);
    if (!st->started || n - st->last > 1) {
        if (!st->started || n - st->last >= st->w) {
            for (int p = 0; p < st->w; p++)
                st->vals[p] = NAN;
        } else {
            for (int64_t i = st->last + 1; i < n; i++)
                st->vals[kw_floor_mod(i, st->w)] = NAN;
        }
        st->vals[pos] = x;
        st->started = true;
        st->last = n;
        esd_rebuild(st);
        return;
    }
    bool ok = true;
    if (!isnan(st->pkey[pos]))
        ok = key_remove(st, pos);
    st->pkey[pos] = NAN;
    st->vals[pos] = x;
    if (st->m) {
        ok = slot_refresh(st, pos % st->m, true) && ok;
    } else {
        st->pkey[pos] = x;
        key_insert(st, pos);
    }
    st->last = n;
    if (!ok)
        esd_rebuild(st);
}

/* The k-th and (k+1)-th smallest (0-based) |a[i] - c| over the ranks
 * lo..lo+n-1 of the residuals (a[i] = the (lo+i)-th smallest), where s is
 * the first i with a[i] >= c; next is NULL or gets the (k+1)-th. Read outward
 * from c, the deviations on the left (c - a[s-1-t]) and on the right
 * (a[s+t] - c) are two ascending runs, so this is a selection from two sorted
 * runs: find how many of the k+1 smallest come from the left, the first i
 * where "right run at k-i beats left run at i" turns false. That predicate is
 * monotone, so a galloping search from *hint (the answer of a similar call:
 * the window moved by one value, or the ESD range lost one) finds the same
 * index in O(log distance) selects of O(log w) instead of O(log n). */
static double kth_deviation(struct esd_state *st, int lo, int n, int s, double c, int k,
                            int *hint, double *next)
{
    int nl = s, nr = n - s;
    int l = k + 1 > nr ? k + 1 - nr : 0;
    int h = k + 1 < nl ? k + 1 : nl;
#define RIGHT_BEATS(i) ((i) < h && kth(st, lo + s + (k - (i))) - c > c - kth(st, lo + s - 1 - (i)))
    int g = *hint < l ? l : (*hint > h ? h : *hint);
    int a, b; /* the answer is in [a, b] */
    if (RIGHT_BEATS(g)) {
        a = g + 1;
        b = h;
        for (int step = 1; g + step < h; step *= 2) {
            if (!RIGHT_BEATS(g + step)) {
                b = g + step;
                break;
            }
            a = g + step + 1;
        }
    } else {
        a = l;
        b = g;
        for (int step = 1; g - step >= l; step *= 2) {
            if (RIGHT_BEATS(g - step)) {
                a = g - step + 1;
                break;
            }
            b = g - step;
        }
    }
    while (a < b) {
        int i = a + (b - a) / 2;
        if (RIGHT_BEATS(i))
            a = i + 1;
        else
            b = i;
    }
#undef RIGHT_BEATS
    *hint = a;
    int i = a, j = k + 1 - a;
    double left = i > 0 ? c - kth(st, lo + s - i) : -INFINITY;
    double right = j > 0 ? kth(st, lo + s + j - 1) - c : -INFINITY;
    if (next) {
        /* The k+1 smallest are the first i of the left run and the first j of
         * the right run, so the next one is the smaller of the two after. */
        double nleft = i < nl ? c - kth(st, lo + s - 1 - i) : INFINITY;
        double nright = j < nr ? kth(st, lo + s + j) - c : INFINITY;
        *next = nleft < nright ? nleft : nright;
    }
    return left > right ? left : right;
}

/* Unscaled MAD of ranks lo..lo+n-1 around their median c. */
static double range_mad(struct esd_state *st, int lo, int n, double c, int *hint)
{
    int s = kw_ostree_rank(&st->order, c, false) - lo;
    s = s < 0 ? 0 : (s > n ? n : s);
    if (n % 2)
        return kth_deviation(st, lo, n, s, c, n / 2, hint, NULL);
    double upper;
    double lower = kth_deviation(st, lo, n, s, c, n / 2 - 1, hint, &upper);
    return 0.5 * (lower + upper);
}

/* Centre and scale of ranks lo..lo+n-1: median and MAD-based sd (MeanAD when
 * the MAD is 0), or mean and sample sd when not robust. The median and MAD
 * are O(log^2 w); the others read the flat copy, O(n) as GSL computes them. */
static void range_stats(const struct esd_config *c, struct esd_state *st, int lo, int n,
                        double *centre, double *scale, int *hint)
{
    if (c->robust) {
        /* gsl_stats_median_from_sorted_data's arithmetic */
        double med = n % 2 ? kth(st, lo + n / 2) : (kth(st, lo + (n - 1) / 2) + kth(st, lo + n / 2)) / 2.0;
        double sd = MAD_TO_SD * range_mad(st, lo, n, med, hint);
        if (sd == 0)
            sd = MEANAD_TO_SD * gsl_stats_absdev_m(flat_view(st) + lo, 1, (size_t)n, med);
        *centre = med;
        *scale = sd;
    } else {
        const double *a = flat_view(st) + lo;
        *centre = gsl_stats_mean(a, 1, (size_t)n);
        *scale = gsl_stats_sd_m(a, 1, (size_t)n, *centre);
    }
}

/* Rosner's critical values for n points: for step i with N = n - i + 1 left,
 * lambda_i = (N-1) t / sqrt((N-2+t^2) N), t = t_{1 - alpha/(2N), N-2}.
 * Cached, as n only changes with missing values. */
static void esd_lambdas(struct esd_state *st, const struct esd_config *c, int n)
{
    if (st->lambda_n == n)
        return;
    int k = (int)floor(c->max_anoms * n);
    if (k < 1)
        k = 1;
    if (k > n - 3)
        k = n - 3;
    if (k > st->kmax)
        k = st->kmax;
    for (int i = 1; i <= k; i++) {
        double big_n = n - i + 1;
        double t = gsl_cdf_tdist_Pinv(1.0 - c->alpha / (2.0 * big_n), big_n - 2.0);
        st->lambda[i] = (big_n - 1.0) * t / sqrt((big_n - 2.0 + t * t) * big_n);
    }
    st->lambda_n = n;
    st->lambda_k = k;
}

static void esd_update(void *state, const void *cfg, const struct kw_series_info *info,
                       const struct kw_sample *in, struct kw_verdict *out)
{
    struct esd_state *st = state;
    const struct esd_config *c = cfg;
    double x = in->value;
    if (!isfinite(x))
        return;
    int64_t n_idx = kw_floor_div(in->ts_ms, info->interval_ms);
    if (st->started && n_idx <= st->last)
        return; /* duplicate or out-of-order interval: ignored */
    esd_push(st, n_idx, x);

    int pos = kw_floor_mod(n_idx, st->w);
    int min_points = c->min_points ? c->min_points : (st->w / 2 > 8 ? st->w / 2 : 8);
    int n = kw_ostree_count(&st->order);
    if (n < min_points || (st->m && st->slot_cnt[pos % st->m] < ESD_SLOT_MIN))
        return;
    double r_new = st->pkey[pos];
    double base = x - r_new; /* the slot median of the other seasons, or 0 */
    esd_lambdas(st, c, n);
    int k = st->lambda_k;

    double c1, s1;
    range_stats(c, st, 0, n, &c1, &s1, &st->mad_hint);
    out->ready = true;
    out->expected = base + c1;
    out->lower = out->expected - st->lambda[1] * s1;
    out->upper = out->expected + st->lambda[1] * s1;

    /* Generalized ESD (Rosner 1983, "Percentage points for a generalized ESD
     * many-outlier procedure", Technometrics 25(2)) removes the most extreme
     * value k times; all values removed up to the last step i with
     * R_i > lambda_i are outliers. Only the newest value's fate is needed, and
     * since removal always takes the lowest or the highest remaining value, it
     * can only be removed if fewer than k values are more extreme on its side;
     * otherwise the steps are skipped and the update costs O(log^2 w). Each
     * step costs O(log^2 w) (median and MAD of a rank range), so at worst
     * O(k log^2 w).
     * Twitter's code stops at the first step that does not fire (that is the
     * sequential Grubbs test); this uses Rosner's rule (the largest such i).
     * The newest value's ratio rho = R / lambda is taken at the step that
     * removed it, or, when that step did not fire but a later one did (masking,
     * as in Rosner's own example), at the first later step that fires. */
    int below = kw_ostree_rank(&st->order, r_new, false);
    int above = n - kw_ostree_rank(&st->order, r_new, true);
    int removed_at = 0;
    double rho_new = 0, rho_fire = 0;
    if (s1 > 0 && (below < k || above < k)) {
        int lo = 0, hi = n - 1, hint = st->mad_hint;
        double centre = c1, scale = s1;
        for (int i = 1; i <= k; i++) {
            if (i > 1)
                range_stats(c, st, lo, hi - lo + 1, &centre, &scale, &hint);
            if (!(scale > 0))
                break; /* the rest are all equal: nothing more is extreme */
            double alo = kth(st, lo), ahi = kth(st, hi);
            double dlo = centre - alo, dhi = ahi - centre;
            bool take_hi = dhi >= dlo;
            double v = take_hi ? ahi : alo;
            if (take_hi)
                hi--;
            else
                lo++;
            double ratio = (take_hi ? dhi : dlo) / scale / st->lambda[i];
            if (!removed_at && v == r_new) {
                removed_at = i;
                rho_new = ratio;
                if (ratio > 1)
                    break;
            } else if (removed_at && ratio > 1) {
                rho_fire = ratio; /* masked: a later step declares it */
                break;
            }
        }
    }
    double rho;
    if (removed_at && (rho_new > 1 || rho_fire > 1)) {
        out->anomalous = true;
        rho = rho_new > 1 ? rho_new : rho_fire;
    } else {
        /* Not an outlier: its own statistic, capped at the threshold. */
        rho = removed_at ? rho_new : (s1 > 0 ? fabs(r_new - c1) / s1 / st->lambda[1] : 0.0);
        if (rho > 1)
            rho = 1;
    }
    out->score = r_new > c1 ? rho : (r_new < c1 ? -rho : 0.0);
    out->anomaly_score = kw_squash(rho, 1.0);
}

static cJSON *esd_save(const void *state, const void *cfg)
{
    (void)cfg;
    const struct esd_state *st = state;
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddBoolToObject(obj, "started", st->started);
    cJSON_AddNumberToObject(obj, "last", (double)st->last);
    cJSON_AddItemToObject(obj, "values", kw_json_doubles(st->vals, (size_t)st->w));
    return obj;
}

/* Only the window is saved; the residuals are rebuilt
 * from it exactly, so verdicts after a restore are bit-identical. */
static int esd_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct esd_state *st = state;
    const cJSON *started = cJSON_GetObjectItemCaseSensitive(json, "started");
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(json, "last");
    double *vals = xmalloc((size_t)st->w * sizeof(double));
    /* last is the interval index of a timestamp (at most 4e12 ms): anything
     * larger would overflow the int64_t it is converted to and the index arithmetic */
    if (!cJSON_IsBool(started) || !cJSON_IsNumber(last) || !(fabs(last->valuedouble) <= 4e12) ||
        kw_json_read_doubles(cJSON_GetObjectItemCaseSensitive(json, "values"), vals, (size_t)st->w)) {
        free(vals);
        return -1;
    }
    free(st->vals);
    st->vals = vals;
    st->started = cJSON_IsTrue(started);
    st->last = (int64_t)last->valuedouble;
    st->lambda_n = 0;
    esd_rebuild(st);
    return 0;
}

static size_t esd_bytes(const void *state)
{
    const struct esd_state *st = state;
    size_t b = sizeof *st + (size_t)st->w * 2 * sizeof(double) + kw_ostree_bytes(&st->order) +
               ((size_t)st->kmax + 1) * sizeof(double);
    if (st->flat)
        b += (size_t)st->w * sizeof(double);
    if (st->m)
        b += (size_t)st->m * sizeof(int) +
             (size_t)((st->w + st->m - 1) / st->m) * (sizeof(double) + sizeof(int) + sizeof(size_t));
    return b;
}

const struct kw_detector_type esd_detector = {
    .name = "esd",
    .description = "Seasonal-hybrid generalized ESD test (median/MAD) over a sliding window.",
    .options = esd_options,
    .config_size = sizeof(struct esd_config),
    .config_check = esd_check,
    .accepts = esd_accepts,
    .state_new = esd_new,
    .update = esd_update,
    .state_save = esd_save,
    .state_load = esd_load,
    .state_free = esd_free,
    .state_bytes = esd_bytes,
};
