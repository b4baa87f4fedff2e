/* Unit tests for the esd detector: Rosner's published example (NIST), the
 * robust statistics against GSL, warm-up, gaps, save/restore and a seeded
 * daily series with injected spikes. */
#include <criterion/criterion.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort_double.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <string.h>

#define HOUR 3600000LL
#define RIG_SERIES {.interval_ms = HOUR}
#define RIG_FIXTURE
#include "detector_rig.h"
#include "detector_series.h"

/* Rosner (1983), as reproduced in the NIST/SEMATECH e-Handbook of Statistical
 * Methods, §1.3.5.17.3 "Generalized ESD Test for Outliers": 54 values. */
static const double rosner[54] = {
    -0.25, 0.68, 0.94, 1.15, 1.20, 1.26, 1.26, 1.34, 1.38, 1.43, 1.49, 1.49, 1.55, 1.56,
    1.58,  1.65, 1.69, 1.70, 1.76, 1.77, 1.81, 1.91, 1.94, 1.96, 1.99, 2.06, 2.09, 2.10,
    2.14,  2.15, 2.23, 2.24, 2.26, 2.35, 2.37, 2.40, 2.47, 2.54, 2.62, 2.64, 2.90, 2.92,
    2.92,  2.93, 3.21, 3.26, 3.30, 3.59, 3.68, 4.30, 4.64, 5.34, 5.42, 6.01};
/* The handbook's table for up to 10 outliers at alpha = 0.05: R_i and the
 * critical values lambda_i, both printed truncated to 3 decimals. */
static const double nist_r[11] = {0, 3.118, 2.942, 3.179, 2.810, 2.815, 2.848, 2.279, 2.310, 2.101, 2.067};
static const double nist_lambda[11] = {0, 3.158, 3.151, 3.143, 3.136, 3.128, 3.120, 3.111, 3.103, 3.094, 3.085};

/* Rosner's original mean/sd test; k = floor(0.19 * 54) = 10 as in the paper. */
static const char *rosner_cfg = "{\"type\":\"esd\",\"window\":54,\"robust\":false,\"max_anoms\":0.19,"
                                "\"alpha\":0.05,\"min_points\":45}";

/* lambda_i for n points depends only on N = n - i + 1, so with j values in
 * the window the band half-width over the sd is lambda_1(j) = lambda_{55-j}(54):
 * feeding 45..54 values walks the whole published column. */
Test(detector_esd, rosner_critical_values, .fini = teardown)
{
    setup_json(rosner_cfg);
    for (int j = 1; j <= 54; j++) {
        struct kw_verdict v = feed(j, rosner[j - 1]);
        if (j < 45) {
            cr_assert_not(v.ready);
            continue;
        }
        cr_assert(v.ready);
        cr_assert_float_eq(v.expected, gsl_stats_mean(rosner, 1, (size_t)j), 1e-12);
        double lambda = (v.upper - v.expected) / gsl_stats_sd(rosner, 1, (size_t)j);
        double table = nist_lambda[55 - j];
        cr_assert(lambda >= table && lambda < table + 0.001, "lambda_%d = %.5f, table %.3f", 55 - j, lambda, table);
    }
}

/* Feed the other 53 values, then `last`; return the verdict for `last`. */
static struct kw_verdict rosner_with_last(double last)
{
    int t = 0;
    bool skipped = false;
    for (int i = 0; i < 54; i++) {
        if (!skipped && rosner[i] == last) {
            skipped = true;
            continue;
        }
        feed(++t, rosner[i]);
    }
    cr_assert(skipped);
    return feed(++t, last);
}

/* R_i recomputed independently: the max |x - mean| / sd after removing the
 * i - 1 most extreme values. Also checks it against the handbook. */
static double rosner_r(int i)
{
    double d[54];
    memcpy(d, rosner, sizeof d);
    size_t n = 54;
    double r = 0;
    for (int step = 1; step <= i; step++) {
        double mean = gsl_stats_mean(d, 1, n), sd = gsl_stats_sd_m(d, 1, n, mean);
        size_t arg = 0;
        for (size_t j = 1; j < n; j++)
            if (fabs(d[j] - mean) > fabs(d[arg] - mean))
                arg = j;
        r = fabs(d[arg] - mean) / sd;
        d[arg] = d[--n];
    }
    cr_assert(r >= nist_r[i] && r < nist_r[i] + 0.001, "R_%d = %.5f, table %.3f", i, r, nist_r[i]);
    return r;
}

static double rosner_lambda(int i)
{
    double big_n = 54 - i + 1;
    double t = gsl_cdf_tdist_Pinv(1 - 0.05 / (2 * big_n), big_n - 2);
    return (big_n - 1) * t / sqrt((big_n - 2 + t * t) * big_n);
}

/* The handbook's conclusion: exactly three outliers (6.01, 5.42, 5.34),
 * although R_1 and R_2 are below their critical values (masking). */
Test(detector_esd, rosner_outliers_with_masking, .fini = teardown)
{
    setup_json(rosner_cfg);
    struct kw_verdict v = rosner_with_last(6.01);
    cr_assert(v.anomalous, "6.01 is the first of three outliers");
    /* Removed at step 1 where R_1 < lambda_1; declared by step 3. */
    cr_assert_float_eq(v.score, rosner_r(3) / rosner_lambda(3), 1e-9);
    cr_assert_gt(v.anomaly_score, 0.5);
    cr_assert_eq(v.direction, 1);
}

Test(detector_esd, rosner_third_outlier_fires_itself, .fini = teardown)
{
    setup_json(rosner_cfg);
    struct kw_verdict v = rosner_with_last(5.34);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.score, rosner_r(3) / rosner_lambda(3), 1e-9);
}

Test(detector_esd, rosner_fourth_candidate_is_not_an_outlier, .fini = teardown)
{
    setup_json(rosner_cfg);
    struct kw_verdict v = rosner_with_last(4.64);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.score, rosner_r(4) / rosner_lambda(4), 1e-9);
    cr_assert_lt(v.anomaly_score, 0.5);
}

Test(detector_esd, rosner_low_candidate_scores_negative, .fini = teardown)
{
    setup_json(rosner_cfg);
    struct kw_verdict v = rosner_with_last(-0.25);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.score, -rosner_r(5) / rosner_lambda(5), 1e-9);
}

/* The robust (hybrid) statistics against GSL: expected = median and the band
 * half-width = lambda_1 * gsl_stats_mad, for odd and even windows (the MAD is
 * computed in O(log n) from the sorted window, so this pins it down). */
Test(detector_esd, robust_statistics_match_gsl)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (int trial = 0; trial < 40; trial++) {
        int w = 40 + trial % 7;
        char cfg[160];
        snprintf(cfg, sizeof cfg, "{\"type\":\"esd\",\"window\":%d,\"min_points\":%d,\"max_anoms\":0.1}", w, w);
        setup_json(cfg);
        double data[64], work[64];
        struct kw_verdict v;
        for (int i = 0; i < w; i++) {
            /* Ties (rounded values) and a few outliers make it interesting. */
            data[i] = round(gsl_ran_gaussian(rng, 10)) + (i % 13 == 0 ? 80 : 0);
            v = feed(i, data[i]);
        }
        cr_assert(v.ready);
        double sorted[64];
        memcpy(sorted, data, (size_t)w * sizeof(double));
        gsl_sort(sorted, 1, (size_t)w);
        double median = gsl_stats_median_from_sorted_data(sorted, 1, (size_t)w);
        double mad = gsl_stats_mad(data, 1, (size_t)w, work);
        double big_n = w, t = gsl_cdf_tdist_Pinv(1 - 0.05 / (2 * big_n), big_n - 2);
        double lambda1 = (big_n - 1) * t / sqrt((big_n - 2 + t * t) * big_n);
        cr_assert_float_eq(v.expected, median, 1e-12);
        cr_assert_float_eq((v.upper - v.expected) / lambda1, mad, 1e-9, "trial %d", trial);
        teardown();
    }
    gsl_rng_free(rng);
}

/* Low counts: more than half the window is 0, so the MAD is 0 and the scale
 * falls back to sqrt(pi/2) * mean absolute deviation; a burst still alerts. */
Test(detector_esd, zero_mad_falls_back_to_mean_absolute_deviation, .fini = teardown)
{
    setup_json("{\"type\":\"esd\",\"window\":32}");
    double data[32];
    for (int i = 0; i < 31; i++) {
        data[i] = i % 5 == 0 ? 1 : 0;
        feed(i, data[i]);
    }
    data[31] = 9;
    struct kw_verdict v = feed(31, 9);
    cr_assert(v.ready);
    cr_assert(v.anomalous);
    double scale = sqrt(M_PI / 2) * gsl_stats_absdev_m(data, 1, 32, 0.0);
    double big_n = 32, t = gsl_cdf_tdist_Pinv(1 - 0.05 / (2 * big_n), big_n - 2);
    double lambda1 = (big_n - 1) * t / sqrt((big_n - 2 + t * t) * big_n);
    cr_assert_float_eq(v.upper, lambda1 * scale, 1e-9);
    cr_assert_not(feed(32, 1).anomalous);
}

Test(detector_esd, warmup_is_half_the_window, .fini = teardown)
{
    setup_json("{\"type\":\"esd\",\"window\":32}");
    for (int i = 0; i < 15; i++)
        cr_assert_not(feed(i, 10 + i % 3).ready);
    cr_assert(feed(15, 11).ready);
}

/* Seasonal: the newest value's slot needs 3 values (2 others for its median). */
Test(detector_esd, seasonal_warmup_needs_three_seasons_of_a_slot, .fini = teardown)
{
    setup_json("{\"type\":\"esd\",\"window\":16,\"season\":\"4h\"}");
    for (int p = 0; p < 8; p++)
        cr_assert_not(feed(p, 10 * (p % 4)).ready);
    struct kw_verdict v = feed(8, 0.5);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 0, 1e-12);
}

/* Phase comes from the timestamp: after a 5-hour hole (two NAN intervals and
 * three with no sample at all) the expected value still follows the sine. */
Test(detector_esd, gap_keeps_seasonal_phase, .fini = teardown)
{
    setup_json("{\"type\":\"esd\",\"window\":96,\"season\":\"1d\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 3);
    int64_t t = 0;
    for (; t < 24 * 4; t++)
        feed(t, rig_daily_sine(t, 24, rng, 1));
    cr_assert_not(feed(t++, NAN).ready);
    cr_assert_not(feed(t++, NAN).ready);
    t += 3;
    for (int i = 0; i < 30; i++, t++) {
        struct kw_verdict v = feed(t, rig_daily_sine(t, 24, rng, 1));
        cr_assert(v.ready);
        cr_assert_not(v.anomalous, "false alarm at t=%lld", (long long)t);
        cr_assert_float_eq(v.expected, 1000 + 100 * sin(2 * M_PI * (double)t / 24), 5, "t=%lld", (long long)t);
    }
    cr_assert(feed(t, rig_daily_sine(t, 24, rng, 1) + 30).anomalous);
    gsl_rng_free(rng);
}

/* A NAN interval changes nothing: the run equals one with no sample there. */
Test(detector_esd, nan_equals_missing_sample)
{
    setup_json("{\"type\":\"esd\",\"window\":72,\"season\":\"1d\"}");
    struct kw_detector_state other;
    kw_detector_state_init(&other, &fx.det, &fx.info);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (int64_t t = 0; t < 200; t++) {
        double v = rig_daily_sine(t, 24, rng, 3);
        if (t % 31 == 7) {
            cr_assert_not(feed(t, NAN).ready);
            continue;
        }
        struct kw_verdict a = feed(t, v), b = feed_to(&other, t, v);
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "t=%lld", (long long)t);
    }
    gsl_rng_free(rng);
    kw_detector_state_release(&other, &fx.det);
    teardown();
}

Test(detector_esd, round_trip_is_bit_identical, .fini = teardown)
{
    setup_json("{\"type\":\"esd\",\"window\":72,\"season\":\"1d\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    int64_t t = 0;
    for (; t < 100; t++)
        feed(t, rig_daily_sine(t, 24, rng, 4));
    struct kw_detector_state st2;
    rig_clone_state(&fx, &st2, false);
    cr_assert_eq(st2.seen, fx.st.seen);
    int ready = 0;
    for (int i = 0; i < 200; i++, t++) {
        double v = i % 23 == 4 ? NAN : rig_daily_sine(t, 24, rng, 4) + (i % 50 == 9 ? 40 : 0);
        if (i == 120)
            t += 5; /* a gap: rebuild path */
        struct kw_verdict a = feed(t, v), b = feed_to(&st2, t, v);
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "verdicts differ at t=%lld", (long long)t);
        ready += a.ready;
    }
    cr_assert_gt(ready, 150);
    kw_detector_state_release(&st2, &fx.det);
    gsl_rng_free(rng);
}

Test(detector_esd, load_rejects_wrong_window, .fini = teardown)
{
    setup_json("{\"type\":\"esd\",\"window\":32}");
    feed(0, 1);
    cr_assert_eq(rig_load_under(&fx, "{\"type\":\"esd\",\"window\":33}"), -1);
}

/* 60 days hourly, daily sine (noise sd 5), season 1d over a week's window.
 * All 12 injected +-60 spikes are caught; the clean points raise at most
 * 0.5% false alarms (10 seeds of this series gave 0 to 2 in 1357). */
Test(detector_esd, daily_sine_spikes_and_false_alarms, .fini = teardown)
{
    setup_json("{\"type\":\"esd\",\"window\":168,\"season\":\"1d\"}");
    struct rig_spike_count c = rig_daily_sine_spikes(&fx, 24, 60, true);
    cr_assert_eq(c.caught, 12, "caught %d of 12 spikes", c.caught);
    cr_assert_leq(c.false_alarms, c.ready / 200, "%d false alarms in %d", c.false_alarms, c.ready);
}

static void expect_parse_error(const char *json, const char *msg)
{
    char err[KW_ERR_LEN];
    struct kw_detector d;
    cJSON *obj = cJSON_Parse(json);
    cr_assert_eq(kw_detector_parse(&d, obj, "kpis[3].detector", err, sizeof err), -1, "%s", json);
    cr_assert_str_eq(err, msg);
    cJSON_Delete(obj);
}

static void expect_accepts_error(const char *json, const char *msg)
{
    char err[KW_ERR_LEN];
    struct kw_detector d;
    cJSON *obj = cJSON_Parse(json);
    cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), 0, "%s", err);
    cr_assert_eq(kw_detector_accepts(&d, &fx.info, err, sizeof err), -1, "%s", json);
    cr_assert_str_eq(err, msg);
    kw_detector_release(&d);
    cJSON_Delete(obj);
}

Test(detector_esd, config_errors)
{
    expect_parse_error("{\"type\":\"esd\",\"window\":8}", "kpis[3].detector.window: must be >= 16");
    expect_parse_error("{\"type\":\"esd\",\"max_anoms\":0.6}", "kpis[3].detector.max_anoms: must be <= 0.49");
    expect_parse_error("{\"type\":\"esd\",\"window\":20,\"min_points\":30}",
                       "kpis[3].detector.min_points: must be <= window (20)");
    expect_parse_error("{\"type\":\"esd\",\"min_points\":4}",
                       "kpis[3].detector.min_points: must be 0 (half the window) or >= 8");
    expect_accepts_error("{\"type\":\"esd\",\"season\":\"90m\"}",
                         "season (5400s) must be a multiple of the interval (3600s)");
    expect_accepts_error("{\"type\":\"esd\",\"season\":\"1d\",\"window\":100}",
                         "window (100 intervals) must be a multiple of the season (24 intervals) "
                         "and hold at least 3 seasons");
    expect_accepts_error("{\"type\":\"esd\",\"season\":\"1d\",\"window\":48}",
                         "window (48 intervals) must be a multiple of the season (24 intervals) "
                         "and hold at least 3 seasons");
}

/* The residuals live in an order-statistics treap (insert, erase, rank and
 * select in O(log w)); check it against a brute-force sorted array over
 * thousands of updates with many equal residuals (small integer values), a
 * seasonal run (every update re-keys a slot: erases and inserts of different
 * values) and random gaps (holes and rebuilds): the verdict's expected value
 * and band must match the median/MAD of the sorted residuals. */
static double median_except(const double *v, int n, int skip)
{
    double tmp[64];
    int c = 0;
    for (int i = 0; i < n; i++)
        if (i != skip)
            tmp[c++] = v[i];
    gsl_sort(tmp, 1, (size_t)c);
    return gsl_stats_median_from_sorted_data(tmp, 1, (size_t)c);
}

static void treap_vs_sorted_array(int w, int m, unsigned long seed)
{
    char cfg[160];
    snprintf(cfg, sizeof cfg, "{\"type\":\"esd\",\"window\":%d,\"season\":%d,\"min_points\":8,\"max_anoms\":0.1}",
             w, m * 3600);
    setup_json(cfg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double win[64];
    for (int p = 0; p < w; p++)
        win[p] = NAN;
    int64_t n = 0;
    int checked = 0;
    for (int step = 0; step < 4000; step++) {
        int64_t next = n + 1 + (gsl_rng_uniform(rng) < 0.02 ? (int64_t)gsl_rng_uniform_int(rng, (unsigned long)w + 5) : 0);
        for (int64_t i = n + 1; i < next && i - n <= w; i++)
            win[i % w] = NAN;
        n = next;
        double x = (double)gsl_rng_uniform_int(rng, 7) + (gsl_rng_uniform(rng) < 0.03 ? 30 : 0);
        win[n % w] = x;
        struct kw_verdict v = feed(n, x);
        /* brute force: residuals of the window, sorted */
        double res[64], r_new = NAN;
        int cnt = 0, slot_n = 0;
        for (int s = 0; s < (m ? m : w); s++) {
            double sv[64];
            int pos[64], c = 0;
            for (int p = s; p < w; p += (m ? m : w))
                if (!isnan(win[p])) {
                    sv[c] = win[p];
                    pos[c++] = p;
                }
            if (s == (m ? (int)(n % w) % m : (int)(n % w)))
                slot_n = c;
            for (int i = 0; i < c && (m == 0 || c >= 2); i++) {
                double r = m ? sv[i] - median_except(sv, c, i) : sv[i];
                res[cnt++] = r;
                if (pos[i] == (int)(n % w))
                    r_new = r;
            }
        }
        bool ready = cnt >= 8 && (m == 0 || slot_n >= 3);
        cr_assert_eq(v.ready, ready, "step %d: ready %d, brute force %d", step, v.ready, ready);
        if (!ready)
            continue;
        gsl_sort(res, 1, (size_t)cnt);
        double med = gsl_stats_median_from_sorted_data(res, 1, (size_t)cnt), work[64];
        double scale = gsl_stats_mad(res, 1, (size_t)cnt, work);
        if (scale == 0)
            scale = sqrt(M_PI / 2) * gsl_stats_absdev_m(res, 1, (size_t)cnt, med);
        double big_n = cnt, t = gsl_cdf_tdist_Pinv(1 - 0.05 / (2 * big_n), big_n - 2);
        double lambda1 = (big_n - 1) * t / sqrt((big_n - 2 + t * t) * big_n);
        cr_assert_float_eq(v.expected, x - r_new + med, 1e-9, "step %d", step);
        cr_assert_float_eq(v.upper - v.expected, lambda1 * scale, 1e-9, "step %d: n %d", step, cnt);
        checked++;
    }
    cr_assert_gt(checked, 3000);
    gsl_rng_free(rng);
    teardown();
}

Test(detector_esd, treap_matches_sorted_array)
{
    treap_vs_sorted_array(50, 0, 1);
    treap_vs_sorted_array(64, 0, 2);
    treap_vs_sorted_array(24, 4, 3);
    treap_vs_sorted_array(60, 6, 4);
}
