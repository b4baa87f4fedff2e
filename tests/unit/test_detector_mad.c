/* Unit tests for the mad detector: hand-computed modified z-scores
 * (Iglewicz & Hoaglin), the fallbacks for MAD == 0, warm-up, gaps, state
 * round trip, and the sliding median/MAD against brute force (also on
 * windows full of equal values, bit for bit). */
#include <criterion/criterion.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <string.h>

#include "detector_series.h"

/* Iglewicz & Hoaglin (1993), "How to Detect and Handle Outliers":
 * M = 0.6745 (x - median) / MAD, outlier when |M| > 3.5. By hand:
 * window {10,12,9,11,13,8,10,11,95}: sorted 8 9 10 10 11 11 12 13 95, median 11;
 * |dev| sorted 0 0 1 1 1 2 2 3 84, MAD 1. x = 17: M = 0.6745*6/1 = 4.047;
 * bounds 11 -+ 3.5/0.6745 = [5.810971, 16.189029]. The 95 does not inflate it.
 * Then the window drops 10 and gains 17: sorted 8 9 10 11 11 12 13 17 95,
 * median 11, |dev| sorted 0 0 1 1 2 2 3 6 84, MAD 2: upper = 11 + 7/0.6745 = 21.378058. */
Test(detector_mad, reference_modified_z)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"mad\",\"window\":9,\"min_points\":9}");
    const double first[] = {10, 12, 9, 11, 13, 8, 10, 11, 95};
    for (int i = 0; i < 9; i++)
        cr_assert_not(rig_feed(&r, first[i]).ready);
    struct kw_verdict v = rig_feed(&r, 17);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 11, 1e-12);
    cr_assert_float_eq(v.score, 4.047, 1e-9);
    cr_assert_float_eq(v.lower, 5.810971089696071, 1e-9);
    cr_assert_float_eq(v.upper, 16.18902891030393, 1e-9);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, 1);
    cr_assert_gt(v.anomaly_score, 0.5);
    cr_assert_float_eq(v.anomaly_score, 4.047 / (4.047 + 3.5), 1e-9);

    v = rig_feed(&r, 11);
    cr_assert_float_eq(v.expected, 11, 1e-12);
    cr_assert_float_eq(v.upper, 21.378057820607857, 1e-9);
    cr_assert_float_eq(v.score, 0, 1e-12);
    cr_assert_not(v.anomalous);
    rig_release(&r);
}

/* Even window: the median is the mean of the two middle values and the MAD
 * the mean of the two middle deviations (as gsl_stats_median does).
 * {1,2,3,4,5,6,7,100}: median 4.5; |dev| 0.5 0.5 1.5 1.5 2.5 2.5 3.5 95.5,
 * MAD = (1.5+2.5)/2 = 2; sigma = 2/0.6745; x = 15 -> M = 0.6745*10.5/2 = 3.541125. */
Test(detector_mad, reference_even_window)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"mad\",\"window\":8,\"min_points\":8}");
    const double vals[] = {7, 100, 1, 6, 2, 5, 3, 4};
    for (int i = 0; i < 8; i++)
        rig_feed(&r, vals[i]);
    struct kw_verdict v = rig_feed(&r, 15);
    cr_assert_float_eq(v.expected, 4.5, 1e-12);
    cr_assert_float_eq(v.score, 3.541125, 1e-9);
    cr_assert(v.anomalous);
    rig_release(&r);
}

/* MAD == 0 falls back to 1.253314 * mean absolute deviation:
 * {5,5,5,5,5,5,7,3,5}: median 5, MAD 0, mean |dev| = 4/9, sigma = 0.557028.
 * x = 6 -> M = 1.795 (normal); x = 7 -> 3.590 (anomalous). */
Test(detector_mad, zero_mad_uses_mean_absolute_deviation)
{
    struct rig a, b;
    rig_init(&a, "{\"type\":\"mad\",\"window\":9,\"min_points\":9}");
    rig_init(&b, "{\"type\":\"mad\",\"window\":9,\"min_points\":9}");
    const double vals[] = {5, 5, 5, 5, 5, 5, 7, 3, 5};
    for (int i = 0; i < 9; i++) {
        rig_feed(&a, vals[i]);
        rig_feed(&b, vals[i]);
    }
    struct kw_verdict v = rig_feed(&a, 6);
    cr_assert_float_eq(v.score, 1.7952404584964343, 1e-9);
    cr_assert_not(v.anomalous);
    v = rig_feed(&b, 7);
    cr_assert_float_eq(v.score, 3.5904809169928686, 1e-9);
    cr_assert(v.anomalous);
    rig_release(&a);
    rig_release(&b);
}

/* A flat window has no spread at all: the flat value itself is normal, any
 * visible change from it is anomalous. */
Test(detector_mad, flat_series_then_change)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"mad\",\"window\":16,\"min_points\":8}");
    for (int i = 0; i < 20; i++) {
        struct kw_verdict v = rig_feed(&r, 42);
        cr_assert_not(v.anomalous, "point %d", i);
        if (v.ready)
            cr_assert_float_eq(v.score, 0, 1e-12);
    }
    struct kw_verdict v = rig_feed(&r, 42.5);
    cr_assert(v.ready);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, 1);
    cr_assert(isfinite(v.score) && isfinite(v.upper));
    rig_release(&r);

    rig_init(&r, "{\"type\":\"mad\",\"window\":16,\"min_points\":8}");
    for (int i = 0; i < 20; i++)
        cr_assert_not(rig_feed(&r, 0).anomalous);
    cr_assert(rig_feed(&r, -1).anomalous);
    rig_release(&r);
}

Test(detector_mad, warmup_needs_min_points)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"mad\",\"window\":50,\"min_points\":10}");
    for (int i = 0; i < 10; i++) {
        struct kw_verdict v = rig_feed(&r, i % 3);
        cr_assert_not(v.ready, "point %d", i);
        cr_assert_not(v.anomalous);
        cr_assert_eq(v.anomaly_score, 0);
    }
    cr_assert(rig_feed(&r, 1).ready);
    rig_release(&r);

    /* min_points above window is capped at window. */
    rig_init(&r, "{\"type\":\"mad\",\"window\":8}");
    for (int i = 0; i < 8; i++)
        cr_assert_not(rig_feed(&r, i).ready);
    cr_assert(rig_feed(&r, 3).ready);
    rig_release(&r);
}

static struct kw_sample noise(gsl_rng *rng, int i)
{
    (void)i;
    return rig_value(50 + gsl_ran_gaussian(rng, 3));
}

/* A missing interval changes nothing: the series with gaps gives the same
 * verdicts as the same series without them. */
Test(detector_mad, gaps_leave_state_untouched)
{
    twins_assert_gaps_change_nothing("{\"type\":\"mad\",\"window\":16,\"min_points\":8}", 7, 200, noise, 7, 3);
}

/* Enough points to wrap the ring, full-precision values (which need 17
 * digits to round-trip), duplicates (every fifth repeats the one before)
 * and a few outliers. prev starts at 0 in every test: Criterion runs each
 * one in a fresh process. */
static struct kw_sample repeats_and_outliers(gsl_rng *rng, int i)
{
    static double prev = 0;
    double x = i % 13 == 0 ? 500.0 : (i % 5 == 0 ? prev : gsl_ran_gaussian(rng, 4) / 3 + 0.1);
    prev = x;
    return rig_value(x);
}

static struct kw_sample low_outliers(gsl_rng *rng, int i)
{
    return rig_value(i % 17 == 0 ? -300.0 : gsl_ran_gaussian(rng, 4) / 3.0);
}

Test(detector_mad, state_round_trip_is_bit_identical)
{
    twins_assert_restart_changes_nothing("{\"type\":\"mad\",\"window\":64,\"min_points\":10}", 11,
                                         repeats_and_outliers, 150, low_outliers, 300, NULL);
}

Test(detector_mad, load_rejects_mismatched_state)
{
    struct rig a, b;
    rig_init(&a, "{\"type\":\"mad\",\"window\":16}");
    rig_init(&b, "{\"type\":\"mad\",\"window\":32}");
    for (int i = 0; i < 20; i++)
        rig_feed(&a, i);
    cJSON *saved = kw_detector_state_save(&a.st, &a.det);
    cr_assert_eq(kw_detector_state_load(&b.st, &b.det, saved), -1);
    /* Corrupt counts and values are refused too. */
    cJSON *state = cJSON_GetObjectItem(saved, "state");
    cJSON_ReplaceItemInObject(state, "count", cJSON_CreateNumber(17));
    cr_assert_eq(kw_detector_state_load(&a.st, &a.det, saved), -1);
    cJSON_ReplaceItemInObject(state, "count", cJSON_CreateNumber(16));
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(state, "values"), 3, cJSON_CreateNull());
    cr_assert_eq(kw_detector_state_load(&a.st, &a.det, saved), -1);
    cJSON_Delete(saved);
    rig_release(&a);
    rig_release(&b);
}

/* Noise N(100, 5): a clean day raises (almost) nothing; a 10-sigma spike is
 * caught, and does not blind the detector to a second spike right after. */
Test(detector_mad, spike_detected_clean_series_quiet)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"mad\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 1);
    int false_alarms = 0;
    for (int i = 0; i < 2000; i++)
        false_alarms += rig_feed(&r, 100 + gsl_ran_gaussian(rng, 5)).anomalous;
    cr_assert_leq(false_alarms, 4, "false alarms: %d", false_alarms);
    struct kw_verdict v = rig_feed(&r, 150);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, 1);
    cr_assert_float_eq(v.expected, 100, 1.0);
    rig_feed(&r, 100 + gsl_ran_gaussian(rng, 5));
    v = rig_feed(&r, 65);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, -1);
    gsl_rng_free(rng);
    rig_release(&r);
}

/* Brute force: median (gsl_stats_median on a copy) and the sigma estimate
 * (MAD / 0.6745, else 1.253314 * mean |dev|, else the flat floor) of the
 * window before each point. */
static void brute_force(const double *win, int n, double *median, double *sigma)
{
    double *tmp = malloc((size_t)n * sizeof *tmp);
    memcpy(tmp, win, (size_t)n * sizeof *tmp);
    double m = gsl_stats_median(tmp, 1, (size_t)n);
    double mean_ad = 0;
    for (int i = 0; i < n; i++) {
        tmp[i] = fabs(win[i] - m);
        mean_ad += tmp[i];
    }
    mean_ad /= n;
    double mad = gsl_stats_median(tmp, 1, (size_t)n);
    double sig = mad / 0.6745;
    if (!(sig > 0))
        sig = 1.253314 * mean_ad;
    double floor_sig = 1e-12 * fabs(m) + 1e-12;
    *median = m;
    *sigma = sig > floor_sig ? sig : floor_sig;
    free(tmp);
}

static void check_against_brute_force(int window, unsigned long seed, int steps)
{
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"type\":\"mad\",\"window\":%d,\"min_points\":8,\"threshold\":1}", window);
    struct rig r;
    rig_init(&r, cfg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *ring = calloc((size_t)window, sizeof *ring);
    int count = 0, head = 0, checked = 0;
    for (int i = 0; i < steps; i++) {
        double x;
        /* Phases: heavy duplicates (mostly one value, MAD == 0), small
         * integers, continuous values, and occasional huge outliers. */
        int phase = (i / 700) % 4;
        double u = gsl_rng_uniform(rng);
        if (phase == 0)
            x = u < 0.7 ? 3.0 : (double)gsl_rng_uniform_int(rng, 7);
        else if (phase == 1)
            x = (double)gsl_rng_uniform_int(rng, 5) - 2.0;
        else if (phase == 2)
            x = gsl_ran_gaussian(rng, 10) + 1e3;
        else
            x = u < 0.05 ? 1e6 * (u - 0.025) : gsl_ran_gaussian(rng, 1);
        struct kw_verdict v = rig_feed(&r, x);
        if (count >= 8) {
            double m, sig;
            brute_force(ring, count, &m, &sig);
            cr_assert(v.ready);
            cr_assert(v.expected == m, "step %d: median %.17g vs %.17g", i, v.expected, m);
            double got = v.upper - v.expected; /* threshold 1: upper = median + sigma */
            cr_assert(fabs(got - sig) <= 1e-9 * fmax(sig, fabs(m) * 1e-12 + 1e-12) + 4e-16 * fabs(m),
                      "step %d: sigma %.17g vs %.17g", i, got, sig);
            checked++;
        } else {
            cr_assert_not(v.ready);
        }
        ring[head] = x;
        head = (head + 1) % window;
        if (count < window)
            count++;
    }
    cr_assert_gt(checked, steps - 10);
    free(ring);
    gsl_rng_free(rng);
    rig_release(&r);
}

Test(detector_mad, sliding_stats_match_brute_force_odd_window)
{
    check_against_brute_force(31, 3, 5000);
}

Test(detector_mad, sliding_stats_match_brute_force_even_window)
{
    check_against_brute_force(64, 5, 5000);
}

Test(detector_mad, sliding_stats_match_brute_force_large_window)
{
    check_against_brute_force(257, 9, 3000);
}

Test(detector_mad, config_errors_name_the_key)
{
    char err[KW_ERR_LEN];
    struct kw_detector d;
    cJSON *obj = cJSON_Parse("{\"type\":\"mad\",\"window\":4}");
    cr_assert_eq(kw_detector_parse(&d, obj, "kpis[1].detector", err, sizeof err), -1);
    cr_assert_str_eq(err, "kpis[1].detector.window: must be >= 8");
    cJSON_Delete(obj);
    obj = cJSON_Parse("{\"type\":\"mad\",\"threshold\":0}");
    cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), -1);
    cr_assert(strstr(err, "k.threshold: must be >= ") != NULL, "%s", err);
    cJSON_Delete(obj);
}

Test(detector_mad, state_bytes_scale_with_window)
{
    struct rig r;
    /* a ring of values and its slots in order: 8 + 2 bytes a value */
    rig_init(&r, "{\"type\":\"mad\",\"window\":288}");
    size_t bytes = r.det.type->state_bytes(r.st.impl);
    cr_assert_geq(bytes, 288 * 10);
    cr_assert_lt(bytes, 288 * 10 + 256, "%zu bytes", bytes);
    rig_release(&r);
    /* above 4096 values the tree takes over: 28 bytes a value */
    rig_init(&r, "{\"type\":\"mad\",\"window\":5000}");
    bytes = r.det.type->state_bytes(r.st.impl);
    cr_assert_geq(bytes, 5000 * 28);
    cr_assert_lt(bytes, 5000 * 28 + 256);
    rig_release(&r);
}

/* The sorted array (window <= 4096) and the tree (above) are two ways to
 * the same order statistics: on the same stream, a window of 4096 and of
 * 4097 values agree while neither is full, verdict for verdict. */
Test(detector_mad, sorted_array_and_tree_agree)
{
    struct rig a, b;
    rig_init(&a, "{\"type\":\"mad\",\"window\":4096,\"min_points\":8}");
    rig_init(&b, "{\"type\":\"mad\",\"window\":4097,\"min_points\":8}");
    uint32_t x = 7;
    for (int i = 0; i < 4000; i++) {
        x = x * 1664525u + 1013904223u;
        double v = (double)(x >> 16) / 65536.0 * 10 + (i % 97 == 0 ? 50 : 0) + (i % 3 == 0 ? 2.5 : 0);
        struct kw_verdict va = rig_feed(&a, v), vb = rig_feed(&b, v);
        cr_assert_eq(va.ready, vb.ready);
        cr_assert_eq(va.anomalous, vb.anomalous, "at %d", i);
        if (va.ready) {
            cr_assert_eq(va.expected, vb.expected, "median at %d", i);
            cr_assert_eq(va.upper, vb.upper, "band at %d", i);
        }
    }
    rig_release(&a);
    rig_release(&b);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of a[0..n) by sorting a copy; the two middle values averaged
 * as the detector does, so both give the same double. */
static double sorted_median(const double *a, int n)
{
    double *tmp = malloc((size_t)n * sizeof *tmp);
    memcpy(tmp, a, (size_t)n * sizeof *tmp);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    double m = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2.0;
    free(tmp);
    return m;
}

/* Streams drawn mostly from three values, so the window is full of equal
 * values and the slot that leaves is one of many equal ones, mixed with
 * rare distinct values. Median and MAD are order statistics, so they must
 * match sorting bit for bit: the median as the forecast, and when the MAD
 * is not 0 the score (x - median) / (MAD / 0.6745). Checked every `every`
 * values (a window of 4096, the largest kept as a sorted array, is costly
 * to sort at every step). */
static void check_ties_exact(int window, int steps, int every, unsigned long seed)
{
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"type\":\"mad\",\"window\":%d,\"min_points\":8}", window);
    struct rig r;
    rig_init(&r, cfg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *ring = calloc((size_t)window, sizeof *ring), *dev = calloc((size_t)window, sizeof *dev);
    int count = 0, head = 0, exact = 0;
    for (int i = 0; i < steps; i++) {
        static const double common[3] = {-1.5, 2, 7.25};
        double u = gsl_rng_uniform(rng);
        double x = u < 0.9 ? common[gsl_rng_uniform_int(rng, 3)] : gsl_ran_gaussian(rng, 4);
        struct kw_verdict v = rig_feed(&r, x);
        if (count >= 8 && i % every == 0) {
            double m = sorted_median(ring, count);
            for (int k = 0; k < count; k++)
                dev[k] = fabs(ring[k] - m);
            double mad = sorted_median(dev, count);
            cr_assert(v.ready);
            cr_assert(v.expected == m, "step %d: median %.17g, sorted %.17g", i, v.expected, m);
            if (mad > 0) {
                double z = (x - m) / (mad / 0.6745);
                cr_assert(v.score == z, "step %d: score %.17g, sorted %.17g", i, v.score, z);
                exact++;
            }
        }
        ring[head] = x;
        head = (head + 1) % window;
        if (count < window)
            count++;
    }
    cr_assert_gt(exact, steps / every / 2, "too few windows with MAD > 0 to compare");
    free(ring);
    free(dev);
    gsl_rng_free(rng);
    rig_release(&r);
}

Test(detector_mad, equal_values_match_sorting_bit_for_bit)
{
    check_ties_exact(9, 3000, 1, 21);
    check_ties_exact(64, 3000, 1, 22);
    check_ties_exact(288, 3000, 1, 23);
}

Test(detector_mad, equal_values_match_sorting_at_the_largest_sorted_window)
{
    check_ties_exact(4096, 12000, 97, 24);
}

static struct kw_sample few_values(gsl_rng *rng, int i)
{
    (void)i;
    return rig_value((double)gsl_rng_uniform_int(rng, 4));
}

static struct kw_sample mostly_few_values(gsl_rng *rng, int i)
{
    (void)i;
    return rig_value(gsl_rng_uniform(rng) < 0.8 ? (double)gsl_rng_uniform_int(rng, 4) : gsl_ran_gaussian(rng, 3));
}

/* A window full of equal values saved and restored (the order is rebuilt
 * from the ring) goes on bit for bit. */
Test(detector_mad, state_round_trip_with_equal_values)
{
    twins_assert_restart_changes_nothing("{\"type\":\"mad\",\"window\":288}", 31, few_values, 400, mostly_few_values,
                                         600, NULL);
}
