/* Unit tests for the cusum detector: Montgomery's published tabular CUSUM
 * example, a hand-computed learned baseline, warm-up, gaps, state round
 * trip, shift detection with re-baselining, and a clean series. */
#include <criterion/criterion.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "detector_series.h"

/* Montgomery, "Introduction to Statistical Quality Control", Table 9.1/9.2:
 * 20 points from N(10,1) then 10 from N(11,1); tabular CUSUM with mu0 = 10,
 * sigma = 1, K = 0.5, H = 5. C+ first exceeds H at period 29 (C+ = 5.28,
 * N+ = 7); C-_3 = 1.77; C+_28 = 4.47, C+_30 = 5.30. */
static const double montgomery[30] = {
    9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34,
    9.03, 11.47, 10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84,
    10.90, 9.33, 12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52,
};

Test(detector_cusum, montgomery_reference)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"cusum\",\"h\":5,\"target\":10,\"sigma\":1}");
    for (int i = 0; i < 30; i++) {
        struct kw_verdict v = rig_feed(&r, montgomery[i]);
        int period = i + 1;
        cr_assert(v.ready, "period %d", period);
        cr_assert_float_eq(v.expected, 10, 1e-12);
        cr_assert_eq(v.anomalous, period >= 29, "period %d", period);
        if (period == 3)
            cr_assert_float_eq(v.score, -1.77 / 5, 1e-9);
        if (period == 28)
            cr_assert_float_eq(v.score, 4.47 / 5, 1e-9);
        if (period == 29) {
            cr_assert_float_eq(v.score, 5.28 / 5, 1e-9);
            cr_assert_float_eq(v.upper, 11.03, 1e-9); /* 10 + (5 + 0.5 - C+_28) */
            cr_assert_gt(v.anomaly_score, 0.5);
            cr_assert_eq(v.direction, 1);
        }
        if (period == 30)
            cr_assert_float_eq(v.score, 5.30 / 5, 1e-9);
    }
    rig_release(&r);
}

/* Learned baseline (baseline_alpha 0.5, min_points 3), by hand: 10, 12, 14
 * give mu 12.5, var 2.75 (see the ewma test); x = 16: z = 3.5 / 1.658312 =
 * 2.110579, S+ = 1.610579, score 0.322116, bounds 12.5 -+ 5.5 sigma. */
Test(detector_cusum, learned_baseline_reference)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"cusum\",\"h\":5,\"baseline_alpha\":0.5,\"min_points\":3}");
    cr_assert_not(rig_feed(&r, 10).ready);
    cr_assert_not(rig_feed(&r, 12).ready);
    cr_assert_not(rig_feed(&r, 14).ready);
    struct kw_verdict v = rig_feed(&r, 16);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 12.5, 1e-12);
    cr_assert_float_eq(v.score, 0.32211588240886907, 1e-9);
    cr_assert_float_eq(v.upper, 21.62071817347735, 1e-9);
    cr_assert_float_eq(v.lower, 3.37928182652265, 1e-9);
    cr_assert_not(v.anomalous);
    rig_release(&r);
}

Test(detector_cusum, warmup_needs_min_points)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"cusum\",\"min_points\":12}");
    for (int i = 0; i < 12; i++) {
        struct kw_verdict v = rig_feed(&r, i % 2 ? 3 : -3);
        cr_assert_not(v.ready, "point %d", i);
        cr_assert_not(v.anomalous);
    }
    cr_assert(rig_feed(&r, 0).ready);
    rig_release(&r);
}

static struct kw_sample gappy_shift(gsl_rng *rng, int i)
{
    return rig_value(7 + gsl_ran_gaussian(rng, 1) + (i > 250 ? 1.5 : 0));
}

Test(detector_cusum, gaps_leave_state_untouched)
{
    twins_assert_gaps_change_nothing("{\"type\":\"cusum\"}", 31, 400, gappy_shift, 4, 0);
}

/* Saved in the middle of a shift, with the sums running. */
static struct kw_sample shift_starts(gsl_rng *rng, int i)
{
    return rig_value(0.37 + gsl_ran_gaussian(rng, 0.1) + (i >= 200 ? 0.15 : 0));
}

static struct kw_sample shift_goes_on(gsl_rng *rng, int i)
{
    return rig_value(0.37 + gsl_ran_gaussian(rng, 0.1) + (i < 100 ? 0.15 : 0));
}

Test(detector_cusum, state_round_trip_is_bit_identical)
{
    static const char *const refused[] = {"[1, 2, 3, -1, 0, 0, 0, 0, 0]", NULL};
    twins_assert_restart_changes_nothing("{\"type\":\"cusum\",\"rebaseline_after\":10}", 13, shift_starts, 206,
                                         shift_goes_on, 200, refused);
}

/* N(100, 4): a clean series stays (almost) quiet; a +1 sd shift, invisible
 * point by point, is found within ~10-20 intervals (ARL about 13 for
 * k = 0.5, h = 6), keeps alarming, and after rebaseline_after alarms
 * becomes the new normal, at the mean of the alarm's values. */
Test(detector_cusum, shift_detected_then_rebaselined)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"cusum\",\"rebaseline_after\":20}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 17);
    int false_alarms = 0;
    for (int i = 0; i < 1000; i++)
        false_alarms += rig_feed(&r, 100 + gsl_ran_gaussian(rng, 4)).anomalous;
    cr_assert_leq(false_alarms, 10, "false alarms: %d", false_alarms);
    int first = -1, alarms = 0, late_alarms = 0, jump_at = -1;
    double prev_expected = NAN;
    struct kw_verdict v;
    for (int i = 0; i < 300; i++) {
        v = rig_feed(&r, 104 + gsl_ran_gaussian(rng, 4));
        if (v.anomalous && first < 0)
            first = i;
        alarms += v.anomalous;
        if (i >= 150)
            late_alarms += v.anomalous;
        /* Re-baselining moves the expected value in one step, to the
         * mean of the alarm's values. */
        if (jump_at < 0 && v.expected - prev_expected > 2) {
            jump_at = i;
            cr_assert_float_eq(v.expected, 104, 1.5);
        }
        prev_expected = v.expected;
    }
    cr_assert(first >= 0 && first < 40, "first alarm at %d", first);
    cr_assert_geq(alarms, 20);
    cr_assert(jump_at >= first + 20, "re-baselined at %d", jump_at);
    cr_assert_leq(late_alarms, 10, "late alarms: %d", late_alarms);
    cr_assert_float_eq(v.expected, 104, 1.5);
    gsl_rng_free(rng);
    rig_release(&r);
}

/* The learned baseline is frozen while alarming: without re-baselining a
 * +1 sd shift keeps alarming instead of being slowly learned away. */
Test(detector_cusum, baseline_frozen_while_alarming)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"cusum\",\"rebaseline_after\":0}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 19);
    for (int i = 0; i < 500; i++)
        rig_feed(&r, 100 + gsl_ran_gaussian(rng, 4));
    int late_alarms = 0;
    for (int i = 0; i < 400; i++) {
        bool alarm = rig_feed(&r, 104 + gsl_ran_gaussian(rng, 4)).anomalous;
        if (i >= 300)
            late_alarms += alarm;
    }
    cr_assert_geq(late_alarms, 95, "late alarms: %d", late_alarms);
    gsl_rng_free(rng);
    rig_release(&r);
}

/* With a fixed target there is no re-baselining: a shift alarms throughout. */
Test(detector_cusum, fixed_target_keeps_firing)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"cusum\",\"h\":5,\"target\":0,\"sigma\":1}");
    int alarms = 0;
    for (int i = 0; i < 100; i++)
        alarms += rig_feed(&r, 1.5).anomalous;
    cr_assert_eq(alarms, 100 - 5); /* S+ = i * 1.0 exceeds 5 from the 6th point */
    rig_release(&r);
}

/* One 10 sd outlier alerts at once but, clipped, does not drag the chart. */
Test(detector_cusum, single_outlier_alerts_once)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"cusum\",\"target\":0,\"sigma\":1}");
    for (int i = 0; i < 10; i++)
        cr_assert_not(rig_feed(&r, 0).anomalous);
    cr_assert(rig_feed(&r, 10).anomalous);
    for (int i = 0; i < 10; i++)
        cr_assert_not(rig_feed(&r, 0).anomalous, "after outlier %d", i);
    rig_release(&r);
}

Test(detector_cusum, config_errors_name_the_key)
{
    char err[KW_ERR_LEN];
    struct kw_detector d;
    cJSON *obj = cJSON_Parse("{\"type\":\"cusum\",\"sigma\":-1}");
    cr_assert_eq(kw_detector_parse(&d, obj, "kpis[0].detector", err, sizeof err), -1);
    cr_assert_str_eq(err, "kpis[0].detector.sigma: must be > 0");
    cJSON_Delete(obj);
    obj = cJSON_Parse("{\"type\":\"cusum\",\"h\":0}");
    cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), -1);
    cr_assert_str_eq(err, "k.h: must be >= 0.1");
    cJSON_Delete(obj);
}

/* Every ready verdict has lower <= expected <= upper, through shifts up and
 * down, spikes, dips, re-baselining and both fixed and learned baselines
 * (the old bounds crossed once a sum passed h + k). */
Test(detector_cusum, bounds_always_ordered)
{
    const char *cfgs[] = {"{\"type\":\"cusum\"}", "{\"type\":\"cusum\",\"h\":3,\"k\":0.25}",
                          "{\"type\":\"cusum\",\"rebaseline_after\":0}",
                          "{\"type\":\"cusum\",\"target\":100,\"sigma\":3}"};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 21);
    for (int c = 0; c < 4; c++) {
        struct rig r;
        rig_init(&r, cfgs[c]);
        double level = 100;
        int ready = 0;
        for (int i = 0; i < 20000; i++) {
            if (i % 1500 == 700)
                level += gsl_ran_gaussian(rng, 6);
            double x = level + gsl_ran_gaussian(rng, 3);
            if (i % 400 >= 200 && i % 400 < 200 + (i / 400) % 12)
                x += (i / 400) % 2 ? 30 : -25;
            struct kw_verdict v = rig_feed(&r, x);
            if (!v.ready)
                continue;
            ready++;
            cr_assert(v.lower <= v.expected && v.expected <= v.upper, "cfg %d point %d: %g %g %g", c, i, v.lower,
                      v.expected, v.upper);
        }
        cr_assert_gt(ready, 19000);
        rig_release(&r);
    }
    gsl_rng_free(rng);
}

/* A 10-interval +30 spike on 100 +- 3 (10 sd): it alarms, and the alarm
 * ends within 3 intervals of the data returning; no second (negative)
 * alarm follows and the baseline stays at 100 (the old chart kept alarming
 * ~20 intervals, then re-baselined to a contaminated mean and alarmed
 * downwards for ~25 more). */
Test(detector_cusum, spike_alarm_ends_promptly)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"cusum\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 22);
    for (int i = 0; i < 500; i++)
        rig_feed(&r, 100 + gsl_ran_gaussian(rng, 3));
    int spike_alarms = 0;
    for (int i = 0; i < 10; i++)
        spike_alarms += rig_feed(&r, 130 + gsl_ran_gaussian(rng, 3)).anomalous;
    cr_assert_eq(spike_alarms, 10);
    int last_alarm = -1;
    struct kw_verdict v;
    for (int i = 0; i < 200; i++) {
        v = rig_feed(&r, 100 + gsl_ran_gaussian(rng, 3));
        if (v.anomalous)
            last_alarm = i;
    }
    cr_assert_lt(last_alarm, 3, "still alarming %d intervals after the spike", last_alarm + 1);
    cr_assert_float_eq(v.expected, 100, 1);
    gsl_rng_free(rng);
    rig_release(&r);
}

/* Defaults on a steady N(100, 3) series: about 0.7 alarm starts per 1,000
 * intervals (h = 5 gave ~2); a false alarm ends once the return test sees
 * the level is back (~12 intervals for a chance excursion). */
Test(detector_cusum, default_quiet_on_steady_series)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"cusum\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 23);
    int starts = 0, alarming = 0;
    bool prev = false;
    for (int i = 0; i < 20000; i++) {
        bool a = rig_feed(&r, 100 + gsl_ran_gaussian(rng, 3)).anomalous;
        starts += a && !prev;
        alarming += a;
        prev = a;
    }
    cr_assert_leq(starts, 24, "false alarms: %d", starts);
    cr_assert_leq(alarming, 20 * starts + 10, "alarming intervals: %d", alarming);
    gsl_rng_free(rng);
    rig_release(&r);
}

/* A count KPI whose warm-up is all zeros learns sd 0: without the count
 * floor every later event was an alarm at severity 100 that was never
 * learned, for ever. With it, Poisson(0.3) after 100 zeros is learned
 * (expected ~0.3), nothing reaches severity 100 and, once learned, fewer
 * than 3% of intervals alarm; the same data as a plain (non-count) series
 * shows the lock-up the floor prevents. */
Test(detector_cusum, zero_warmup_does_not_lock_up_counts)
{
    for (int as_count = 0; as_count <= 1; as_count++) {
        struct rig r;
        r.info = (struct kw_series_info){.interval_ms = 300000, .is_count = as_count};
        rig_start(&r, "{\"type\":\"cusum\"}");
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, 5);
        for (int i = 0; i < 100; i++)
            rig_feed(&r, 0);
        int late_alarms = 0, sev100 = 0;
        struct kw_verdict v;
        for (int i = 0; i < 2000; i++) {
            v = rig_feed(&r, gsl_ran_poisson(rng, 0.3));
            late_alarms += v.anomalous && i >= 1000;
            sev100 += v.severity >= 100;
        }
        if (as_count) {
            cr_assert_float_eq(v.expected, 0.3, 0.1, "learned %g", v.expected);
            cr_assert_eq(sev100, 0);
            cr_assert_lt(late_alarms, 30, "%d of 1000", late_alarms);
        } else {
            cr_assert_gt(sev100, 100, "the lock-up the count floor prevents (%d)", sev100);
        }
        gsl_rng_free(rng);
        rig_release(&r);
    }
}
