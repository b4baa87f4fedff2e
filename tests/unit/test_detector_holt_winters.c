/* Unit tests for the holt_winters detector: a hand-computed reference series,
 * warm-up, winsorised updates, gaps, save/restore and a seeded daily series. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#define HOUR 3600000LL
#define RIG_SERIES {.interval_ms = HOUR}
#define RIG_FIXTURE
#include "detector_rig.h"

/* m = 3 (season 3h, interval 1h), alpha = beta = gamma = 0.5, sd_alpha = 0.5.
 * Warm-up y = 10 20 30 | 12 24 33 at positions p = 0..5 (slot = p mod 3):
 *   season means A1 = 20 (centre p=1), A2 = 23 (centre p=4): trend b = 3/3 = 1
 *   trend line 19 20 21 | 22 23 24, deviations -9 0 9 | -10 1 9
 *   seasonal s = (-9.5, 0.5, 9), residuals +-0.5 (x4), 0, 0: SS = 1,
 *   df = 6 values - 3 slots - 2 = 1, so var = 1; level at p=5: 24.
 * p=6 (slot 0), y=16: forecast 24 + 1 - 9.5 = 15.5, band 15.5 +- 3*1, z = 0.5
 *   l = .5(16+9.5) + .5(25) = 25.25; b = .5(25.25-24) + .5(1) = 1.125
 *   s0 = .5(16-24-1) + .5(-9.5) = -9.25; var = .5(1) + .5(.25) = .625
 * p=7 (slot 1): forecast 25.25 + 1.125 + 0.5 = 26.875, sd = sqrt(.625). */
static const char *hand_cfg = "{\"type\":\"holt_winters\",\"season\":\"3h\",\"alpha\":0.5,\"beta\":0.5,"
                              "\"gamma\":0.5,\"sd_alpha\":0.5,\"threshold\":3}";
static const double hand_warm[6] = {10, 20, 30, 12, 24, 33};

static void feed_hand_warmup(void)
{
    for (int p = 0; p < 6; p++)
        cr_assert_not(feed(p, hand_warm[p]).ready, "ready during warm-up at p=%d", p);
}

Test(detector_holt_winters, hand_computed_reference, .fini = teardown)
{
    setup_json(hand_cfg);
    feed_hand_warmup();
    struct kw_verdict v = feed(6, 16);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 15.5, 1e-12);
    cr_assert_float_eq(v.lower, 12.5, 1e-12);
    cr_assert_float_eq(v.upper, 18.5, 1e-12);
    cr_assert_float_eq(v.score, 0.5, 1e-12);
    cr_assert_float_eq(v.anomaly_score, 0.5 / 3.5, 1e-12);
    cr_assert_not(v.anomalous);
    v = feed(7, 27);
    cr_assert_float_eq(v.expected, 26.875, 1e-12);
    cr_assert_float_eq(v.upper - v.expected, 3 * sqrt(0.625), 1e-12);
    cr_assert_float_eq(v.score, 0.125 / sqrt(0.625), 1e-12);
}

/* Continuing the reference to slot 0's second visit after the warm-up (the
 * index it learned at p=6 is used at p=9), all values exact in binary:
 * p=7 y=27: l = .5(27-.5) + .5(26.375) = 26.4375; b = .5(1.1875) + .5(1.125)
 *   = 1.15625; s1 = .5(27-25.25-1.125) + .5(.5) = .5625; var = .5(.625) +
 *   .5(.125^2) = .3203125
 * p=8 y=37 (slot 2): forecast 26.4375 + 1.15625 + 9 = 36.59375, e = .40625
 *   l = .5(37-9) + .5(27.59375) = 27.796875; b = .5(1.359375) + .5(1.15625)
 *   = 1.2578125; var = .5(.3203125) + .5(.40625^2) = .24267578125
 * p=9 y=21 (slot 0 again, s0 = -9.25 from p=6): forecast 27.796875 +
 *   1.2578125 - 9.25 = 19.8046875, z = 1.1953125 / sqrt(.24267578125). */
Test(detector_holt_winters, hand_computed_reference_second_visit_of_a_slot, .fini = teardown)
{
    setup_json(hand_cfg);
    feed_hand_warmup();
    feed(6, 16);
    struct kw_verdict v = feed(7, 27);
    cr_assert_not(v.anomalous);
    v = feed(8, 37);
    cr_assert_float_eq(v.expected, 36.59375, 1e-12);
    cr_assert_float_eq(v.upper - v.expected, 3 * sqrt(0.3203125), 1e-12);
    v = feed(9, 21);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 19.8046875, 1e-12);
    cr_assert_float_eq(v.upper - v.expected, 3 * sqrt(0.24267578125), 1e-12);
    cr_assert_float_eq(v.score, 1.1953125 / sqrt(0.24267578125), 1e-12);
    cr_assert_not(v.anomalous, "z = 2.43 is inside a 3-sd band");
}

/* Same model, but p=7 is 40 (z = 16.6): it is clipped to the band edge
 * 26.875 + 3 sqrt(.625) = 29.246708 before updating:
 *   l = .5(29.246708 - .5) + .5(25.25 + 1.125) = 27.560854
 *   b = .5(27.560854 - 25.25) + .5(1.125) = 1.717927
 * so p=8 (slot 2) expects 27.560854 + 1.717927 + 9 = 38.278781, not the
 * 43.6 the raw 40 would give. */
Test(detector_holt_winters, anomaly_is_winsorised, .fini = teardown)
{
    setup_json(hand_cfg);
    feed_hand_warmup();
    feed(6, 16);
    struct kw_verdict v = feed(7, 40);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.score, 13.125 / sqrt(0.625), 1e-9);
    cr_assert_gt(v.anomaly_score, 0.5);
    v = feed(8, 38);
    cr_assert_float_eq(v.expected, 38.278781184, 1e-8);
    cr_assert_float_eq(v.upper - v.expected, 3 * sqrt(3.125), 1e-9);
}

/* A gap advances the level along the trend: after p=6, skipping p=7 the
 * forecast for p=8 is FPP's two-step forecast l + 2b + s2 = 25.25 + 2.25 + 9. */
Test(detector_holt_winters, gap_keeps_phase_and_trend, .fini = teardown)
{
    setup_json(hand_cfg);
    feed_hand_warmup();
    feed(6, 16);
    struct kw_verdict v = feed(7, NAN);
    cr_assert_not(v.ready);
    cr_assert_not(v.anomalous);
    v = feed(8, 36);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 36.5, 1e-12);
    /* A three-season hole: slot 0 again, h = 10 steps from p=6. */
    v = feed(16, 20);
    cr_assert(v.ready);
}

Test(detector_holt_winters, gap_with_no_sample_at_all, .fini = teardown)
{
    setup_json(hand_cfg);
    feed_hand_warmup();
    feed(6, 16);
    struct kw_verdict v = feed(8, 36);
    cr_assert_float_eq(v.expected, 36.5, 1e-12);
}

/* Warm-up is two seasons of time, not two seasons of values: a hole in the
 * first season still ends the warm-up at position 2m, and the phase comes
 * from the timestamp (the series starts mid-season here). */
Test(detector_holt_winters, warmup_is_two_seasons, .fini = teardown)
{
    setup_json("{\"type\":\"holt_winters\",\"season\":\"4h\"}");
    int64_t start = 1001; /* slot 1 of 4 */
    for (int p = 0; p < 8; p++) {
        if (p == 2)
            continue;
        cr_assert_not(feed(start + p, 100 + 10 * ((start + p) % 4)).ready);
    }
    struct kw_verdict v = feed(start + 8, 110);
    cr_assert(v.ready);
    /* Slot 1 of a flat 100/110/120/130 pattern. */
    cr_assert_float_eq(v.expected, 110, 1e-6);
}

/* Fewer than half the warm-up values present: the warm-up starts again at
 * the next value instead of initialising from scraps. */
Test(detector_holt_winters, sparse_warmup_restarts, .fini = teardown)
{
    setup_json("{\"type\":\"holt_winters\",\"season\":\"4h\"}");
    cr_assert_not(feed(0, 1).ready);
    cr_assert_not(feed(3, 4).ready);
    cr_assert_not(feed(8, 1).ready); /* 2 of 8 present: restart at p=8 */
    for (int p = 9; p < 16; p++)
        cr_assert_not(feed(p, 1 + p % 4).ready, "p=%d", p);
    struct kw_verdict v = feed(16, 1);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 1, 1e-9);
}

/* A lasting +200 shift (40 noise sds) alerts at first, but the clipped
 * residuals widen the band until the model takes the new level: no alerts
 * after two days, and a spike on the new level is still caught. */
Test(detector_holt_winters, lasting_shift_becomes_the_new_normal, .fini = teardown)
{
    setup_json("{\"type\":\"holt_winters\",\"season\":\"1d\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 8);
    int first_alarms = 0;
    for (int t = 0; t < 24 * 30; t++) {
        double v = 1000 + 100 * sin(2 * M_PI * t / 24) + gsl_ran_gaussian(rng, 5) + (t >= 24 * 20 ? 200 : 0);
        if (t == 24 * 27 + 5)
            v += 80;
        struct kw_verdict out = feed(t, v);
        if (t >= 24 * 20 && t < 24 * 20 + 5)
            first_alarms += out.anomalous;
        if (t >= 24 * 22 && t != 24 * 27 + 5)
            cr_assert_not(out.anomalous, "alarm at t=%d", t);
        if (t == 24 * 27 + 5)
            cr_assert(out.anomalous, "spike on the new level missed");
    }
    cr_assert_eq(first_alarms, 5);
    gsl_rng_free(rng);
}

Test(detector_holt_winters, common_warmup_adds_to_own, .fini = teardown)
{
    setup_json("{\"type\":\"holt_winters\",\"season\":\"2h\",\"warmup\":6}");
    for (int p = 0; p < 6; p++)
        cr_assert_not(feed(p, p % 2 ? 5 : 1).ready);
    cr_assert(feed(6, 1).ready);
}

static void compare_runs(struct kw_detector_state *a, struct kw_detector_state *b, int64_t from, int n,
                         unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    for (int i = 0; i < n; i++) {
        int64_t t = from + i;
        double v = i % 17 == 5 ? NAN : 50 + 10 * sin(2 * M_PI * (double)t / 24) + gsl_ran_gaussian(rng, 2);
        if (i == 30)
            v += 40;
        struct kw_verdict va = feed_to(a, t, v), vb = feed_to(b, t, v);
        cr_assert(memcmp(&va, &vb, sizeof va) == 0, "verdicts differ at t=%lld", (long long)t);
    }
    gsl_rng_free(rng);
}

static void round_trip_after(int n_before)
{
    setup_json("{\"type\":\"holt_winters\",\"season\":\"1d\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    for (int t = 0; t < n_before; t++)
        feed(t, 50 + 10 * sin(2 * M_PI * t / 24) + gsl_ran_gaussian(rng, 2));
    gsl_rng_free(rng);
    /* In memory: cJSON's printer keeps only 15 digits when they read back
     * within an ulp, so text is exact only with a lossless number printer. */
    struct kw_detector_state st2;
    rig_clone_state(&fx, &st2, false);
    cr_assert_eq(st2.seen, fx.st.seen);
    cr_assert_eq(fx.det.type->state_bytes(st2.impl), fx.det.type->state_bytes(fx.st.impl));
    compare_runs(&fx.st, &st2, n_before, 200, 11);
    kw_detector_state_release(&st2, &fx.det);
}

Test(detector_holt_winters, round_trip_running, .fini = teardown)
{
    round_trip_after(24 * 5 + 7);
}

Test(detector_holt_winters, round_trip_during_warmup, .fini = teardown)
{
    round_trip_after(30);
}

Test(detector_holt_winters, load_rejects_mismatched_state, .fini = teardown)
{
    setup_json("{\"type\":\"holt_winters\",\"season\":\"1d\"}");
    for (int t = 0; t < 60; t++)
        feed(t, t % 24);
    /* The same state under a 2d season has the wrong number of slots. */
    cr_assert_eq(rig_load_under(&fx, "{\"type\":\"holt_winters\",\"season\":\"2d\"}"), -1);
}

/* 60 days of an hourly daily sine (amplitude 100 around 1000, noise sd 5),
 * fixed seed. With defaults (threshold 4.5 residual sds; 3 before the
 * benchmark chose 4.5) the clean series may raise at most 1% false alarms; injected +-60 (12 sd) spikes are caught and
 * the point after each spike is normal again (the baseline was not dragged). */
Test(detector_holt_winters, daily_sine_spikes_and_false_alarms, .fini = teardown)
{
    setup_json("{\"type\":\"holt_winters\",\"season\":\"1d\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 42);
    int ready = 0, false_alarms = 0, caught = 0;
    for (int t = 0; t < 24 * 60; t++) {
        double v = 1000 + 100 * sin(2 * M_PI * t / 24) + gsl_ran_gaussian(rng, 5);
        bool spike = t > 24 * 10 && t % 97 == 0;
        if (spike)
            v += (t % 2 ? 60 : -60);
        struct kw_verdict out = feed(t, v);
        if (!out.ready)
            continue;
        ready++;
        if (spike) {
            caught += out.anomalous;
            cr_assert_eq(out.direction, t % 2 ? 1 : -1);
        } else {
            false_alarms += out.anomalous;
        }
    }
    gsl_rng_free(rng);
    cr_assert_eq(ready, 24 * 58);
    cr_assert_eq(caught, 12, "caught %d of 12 spikes", caught);
    cr_assert_leq(false_alarms, ready / 100, "%d false alarms in %d", false_alarms, ready);
}

Test(detector_holt_winters, config_errors)
{
    char err[KW_ERR_LEN];
    struct kw_detector d;
    cJSON *obj = cJSON_Parse("{\"type\":\"holt_winters\",\"alpha\":0.8,\"gamma\":0.5}");
    cr_assert_eq(kw_detector_parse(&d, obj, "kpis[1].detector", err, sizeof err), -1);
    cr_assert_str_eq(err, "kpis[1].detector.gamma: must be <= 1 - alpha (0.2)");
    cJSON_Delete(obj);

    obj = cJSON_Parse("{\"type\":\"holt_winters\",\"alpha\":1.5}");
    cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), -1);
    cr_assert_str_eq(err, "k.alpha: must be <= 1");
    cJSON_Delete(obj);

    obj = cJSON_Parse("{\"type\":\"holt_winters\",\"season\":\"90m\"}");
    cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), 0, "%s", err);
    cr_assert_eq(kw_detector_accepts(&d, &fx.info, err, sizeof err), -1);
    cr_assert_str_eq(err, "season (5400s) must be a multiple of the interval (3600s)");
    kw_detector_release(&d);
    cJSON_Delete(obj);

    obj = cJSON_Parse("{\"type\":\"holt_winters\",\"season\":\"1h\"}");
    cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), 0, "%s", err);
    cr_assert_eq(kw_detector_accepts(&d, &fx.info, err, sizeof err), -1);
    cr_assert_str_eq(err, "season must span at least 2 intervals (it spans 1)");
    kw_detector_release(&d);
    cJSON_Delete(obj);

    obj = cJSON_Parse("{\"type\":\"holt_winters\",\"season\":\"1w\"}");
    cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), 0, "%s", err);
    struct kw_series_info fine = {.interval_ms = 30000};
    cr_assert_eq(kw_detector_accepts(&d, &fine, err, sizeof err), -1);
    cr_assert(strstr(err, "season spans 20160 intervals; at most 10080") != NULL, "%s", err);
    cr_assert_eq(kw_detector_accepts(&d, &fx.info, err, sizeof err), 0);
    kw_detector_release(&d);
    cJSON_Delete(obj);
}

/* The default threshold is 4.5 residual sds (it was 3, which gave 4-16 false
 * alarms per 1,000 intervals on the benchmark's quiet series): the score is
 * 0.5 exactly at 4.5 sds, and 30 clean days raise no alarm. */
Test(detector_holt_winters, default_threshold_is_four_and_a_half_sds, .fini = teardown)
{
    setup_json("{\"type\":\"holt_winters\",\"season\":\"1d\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 17);
    int ready = 0, alarms = 0;
    for (int t = 0; t < 24 * 30; t++) {
        struct kw_verdict v = feed(t, 1000 + 100 * sin(2 * M_PI * t / 24) + gsl_ran_gaussian(rng, 5));
        if (!v.ready)
            continue;
        ready++;
        alarms += v.anomalous;
        cr_assert_float_eq(v.anomaly_score, kw_squash(fabs(v.score), 4.5), 1e-12);
    }
    gsl_rng_free(rng);
    cr_assert_gt(ready, 24 * 27);
    cr_assert_eq(alarms, 0, "%d false alarms in %d", alarms, ready);
}
