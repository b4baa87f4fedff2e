/* Unit tests for the ewma detector: Montgomery's published EWMA example,
 * a hand-computed learned baseline, warm-up, gaps, state round trip, a
 * spike that alerts once, a small sustained shift, and a clean series. */
#include <criterion/criterion.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "detector_series.h"

/* Montgomery, "Introduction to Statistical Quality Control", Table 9.1 data
 * (20 points from N(10,1), then 10 from N(11,1)) charted with an EWMA of
 * lambda = 0.1, L = 2.7, mu0 = 10, sigma = 1 and the exact time-varying
 * limits (his EWMA example; the same data and settings are IMSL's EWMA
 * sample). z_28 = 10.5731 is inside, z_29 = 10.6468 is the first point
 * above the UCL 10.6187. Scores (z - 10) / sigma_z recomputed by hand. */
static const double montgomery[30] = {
    9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34,
    9.03, 11.47, 10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84,
    10.90, 9.33, 12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52,
};

Test(detector_ewma, montgomery_reference)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"ewma\",\"alpha\":0.1,\"threshold\":2.7,\"target\":10,\"sigma\":1}");
    for (int i = 0; i < 30; i++) {
        struct kw_verdict v = rig_feed(&r, montgomery[i]);
        cr_assert(v.ready, "point %d", i + 1);
        cr_assert_float_eq(v.expected, 10, 1e-12);
        cr_assert_eq(v.anomalous, i + 1 >= 29, "point %d", i + 1);
        if (i == 0) /* first point: the chart is a Shewhart chart, 10 + 2.7 */
            cr_assert_float_eq(v.upper, 12.7, 1e-9);
        if (i == 27)
            cr_assert_float_eq(v.score, 2.5016753151249684, 1e-9);
        if (i == 28) {
            cr_assert_float_eq(v.score, 2.8225707920156253, 1e-9);
            cr_assert_float_eq(v.upper, 11.029115412991679, 1e-9);
            cr_assert_eq(v.direction, 1);
        }
        if (i == 29)
            cr_assert_float_eq(v.score, 2.766643972226785, 1e-9);
    }
    rig_release(&r);
}

/* Learned baseline with baseline_alpha 0.5, min_points 3, lambda 0.5, by hand:
 * 10 -> mu 10, var 0; 12 (a = 1/2) -> mu 11, var 1; 14 (a = 0.5) -> mu 12.5,
 * var 0.5 (1 + 0.5 * 9) = 2.75. Then x = 13: sigma = 1.658312, t = 1 so
 * sigma_z = sigma sqrt(1/3 * (1 - 0.25)) = 0.829156; z = 12.75;
 * score = 0.25 / 0.829156 = 0.301511; bounds (12.5 -+ 3 sigma_z - 6.25) / 0.5
 * = [7.525063, 17.474937]. */
Test(detector_ewma, learned_baseline_reference)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"ewma\",\"alpha\":0.5,\"threshold\":3,\"baseline_alpha\":0.5,\"min_points\":3,\"clip\":0}");
    cr_assert_not(rig_feed(&r, 10).ready);
    cr_assert_not(rig_feed(&r, 12).ready);
    cr_assert_not(rig_feed(&r, 14).ready);
    struct kw_verdict v = rig_feed(&r, 13);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 12.5, 1e-12);
    cr_assert_float_eq(v.score, 0.30151134457776363, 1e-9);
    cr_assert_float_eq(v.upper, 17.4749371855331, 1e-9);
    cr_assert_float_eq(v.lower, 7.525062814466899, 1e-9);
    cr_assert_not(v.anomalous);
    rig_release(&r);
}

Test(detector_ewma, warmup_needs_min_points)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"ewma\"}");
    for (int i = 0; i < 20; i++) {
        struct kw_verdict v = rig_feed(&r, i % 2 ? 100 : 0);
        cr_assert_not(v.ready, "point %d", i);
        cr_assert_not(v.anomalous);
    }
    cr_assert(rig_feed(&r, 50).ready);
    rig_release(&r);
    /* Known target alone still needs the sd learned. */
    rig_init(&r, "{\"type\":\"ewma\",\"target\":5,\"min_points\":4}");
    for (int i = 0; i < 4; i++)
        cr_assert_not(rig_feed(&r, 5 + i).ready);
    struct kw_verdict v = rig_feed(&r, 5);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 5, 1e-12);
    rig_release(&r);
}

static struct kw_sample gappy_shift(gsl_rng *rng, int i)
{
    return rig_value(40 + gsl_ran_gaussian(rng, 2) + (i > 200 ? 3 : 0));
}

Test(detector_ewma, gaps_leave_state_untouched)
{
    twins_assert_gaps_change_nothing("{\"type\":\"ewma\",\"min_points\":10}", 8, 300, gappy_shift, 6, 2);
}

static struct kw_sample spiky(gsl_rng *rng, int i)
{
    return rig_value(3.3 + gsl_ran_gaussian(rng, 0.7) + (i % 40 == 0 ? 9 : 0));
}

static struct kw_sample shifting(gsl_rng *rng, int i)
{
    return rig_value(3.3 + gsl_ran_gaussian(rng, 0.7) + (i > 120 ? 1.0 : 0));
}

Test(detector_ewma, state_round_trip_is_bit_identical)
{
    /* Wrong shapes and values are refused. */
    static const char *const refused[] = {"[1, 2, 3]", "[5, 1, -2, 0, 1, 1]", NULL};
    twins_assert_restart_changes_nothing("{\"type\":\"ewma\",\"alpha\":0.2,\"min_points\":15}", 12, spiky, 123,
                                         shifting, 200, refused);
}

/* N(50, 2): a clean stretch stays (almost) quiet; a 10-sd spike alerts once
 * and, thanks to clip, the normal points right after it do not (unclipped,
 * it would carry 3 sd into the chart, above the 1.26 sd limit). */
Test(detector_ewma, spike_alerts_once_clean_series_quiet)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"ewma\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 4);
    int false_alarms = 0;
    for (int i = 0; i < 1000; i++)
        false_alarms += rig_feed(&r, 50 + gsl_ran_gaussian(rng, 2)).anomalous;
    cr_assert_leq(false_alarms, 6, "false alarms: %d", false_alarms);
    struct kw_verdict v = rig_feed(&r, 70);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, 1);
    cr_assert_float_eq(v.expected, 50, 0.5);
    for (int i = 0; i < 3; i++)
        cr_assert_not(rig_feed(&r, 50).anomalous, "after spike %d", i);
    gsl_rng_free(rng);
    rig_release(&r);
}

/* A huge outlier enters the learned baseline clamped to mean + clip sd, so
 * it neither drags the expected value nor inflates sigma. */
Test(detector_ewma, outlier_does_not_poison_baseline)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"ewma\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 9);
    for (int i = 0; i < 300; i++)
        rig_feed(&r, 50 + gsl_ran_gaussian(rng, 2));
    struct kw_verdict before = rig_feed(&r, 50);
    cr_assert(rig_feed(&r, 5000).anomalous);
    struct kw_verdict after = rig_feed(&r, 50);
    cr_assert_float_eq(after.expected, before.expected, 0.2);
    /* Same chart width: the spike did not inflate sigma. */
    cr_assert_float_eq(after.upper - after.lower, before.upper - before.lower, 0.1 * (before.upper - before.lower));
    gsl_rng_free(rng);
    rig_release(&r);
}

/* A sustained +1.5 sd shift, invisible point by point (each value is well
 * inside 3 sd), is flagged within a few intervals. */
Test(detector_ewma, small_sustained_shift_detected)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"ewma\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 6);
    for (int i = 0; i < 500; i++)
        rig_feed(&r, 50 + gsl_ran_gaussian(rng, 2));
    int first = -1;
    for (int i = 0; i < 40 && first < 0; i++) {
        double x = 53 + gsl_ran_gaussian(rng, 2);
        if (rig_feed(&r, x).anomalous)
            first = i;
    }
    cr_assert(first >= 0 && first < 25, "first alarm at %d", first);
    gsl_rng_free(rng);
    rig_release(&r);
}

Test(detector_ewma, config_errors_name_the_key)
{
    char err[KW_ERR_LEN];
    struct kw_detector d;
    cJSON *obj = cJSON_Parse("{\"type\":\"ewma\",\"sigma\":0}");
    cr_assert_eq(kw_detector_parse(&d, obj, "kpis[3].detector", err, sizeof err), -1);
    cr_assert_str_eq(err, "kpis[3].detector.sigma: must be > 0");
    cJSON_Delete(obj);
    obj = cJSON_Parse("{\"type\":\"ewma\",\"alpha\":1.5}");
    cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), -1);
    cr_assert_str_eq(err, "k.alpha: must be <= 1");
    cJSON_Delete(obj);
}

/* Defaults on a steady, non-seasonal N(100, 3) series: about 0.3 false
 * alarms (alarm starts) per 1,000 intervals (threshold 3 gave 1.7), while a
 * +1.5 sd shift is still flagged within a few intervals. */
Test(detector_ewma, default_quiet_on_steady_series)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"ewma\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 14);
    int starts = 0;
    bool prev = false;
    for (int i = 0; i < 20000; i++) {
        bool a = rig_feed(&r, 100 + gsl_ran_gaussian(rng, 3)).anomalous;
        starts += a && !prev;
        prev = a;
    }
    cr_assert_leq(starts, 14, "false alarms: %d", starts);
    int first = -1;
    for (int i = 0; i < 40 && first < 0; i++)
        if (rig_feed(&r, 104.5 + gsl_ran_gaussian(rng, 3)).anomalous)
            first = i;
    cr_assert(first >= 0 && first < 15, "first alarm at %d", first);
    gsl_rng_free(rng);
    rig_release(&r);
}
