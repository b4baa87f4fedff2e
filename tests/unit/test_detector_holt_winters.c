/* Unit tests for the holt_winters detector: a hand-computed reference series,
 * warm-up (against the classical initialisation over all its values),
 * winsorised updates, gaps, save/restore (also of states older versions
 * saved) and a seeded daily series. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <string.h>

#define HOUR 3600000LL
#define RIG_SERIES {.interval_ms = HOUR}
#define RIG_FIXTURE
#include "detector_rig.h"
#include "detector_series.h"

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

static void round_trip_after(int n_before, bool as_text)
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
    rig_clone_state(&fx, &st2, as_text);
    cr_assert_eq(st2.seen, fx.st.seen);
    cr_assert_eq(fx.det.type->state_bytes(st2.impl), fx.det.type->state_bytes(fx.st.impl));
    compare_runs(&fx.st, &st2, n_before, 200, 11);
    kw_detector_state_release(&st2, &fx.det);
}

Test(detector_holt_winters, round_trip_running, .fini = teardown)
{
    round_trip_after(24 * 5 + 7, false);
}

Test(detector_holt_winters, round_trip_during_warmup, .fini = teardown)
{
    round_trip_after(30, false);
}

/* Through printed JSON, as a restart does: in the first season, in the
 * second (slots with two values), and one value before the initialisation. */
Test(detector_holt_winters, round_trip_during_warmup_as_text, .fini = teardown)
{
    round_trip_after(5, true);
}

Test(detector_holt_winters, round_trip_second_season_as_text, .fini = teardown)
{
    round_trip_after(30, true);
}

Test(detector_holt_winters, round_trip_just_before_initialising_as_text, .fini = teardown)
{
    round_trip_after(47, true);
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
    struct rig_spike_count c = rig_daily_sine_spikes(&fx, 24, 60, true);
    cr_assert_eq(c.ready, 24 * 58);
    cr_assert_eq(c.caught, 12, "caught %d of 12 spikes", c.caught);
    cr_assert_leq(c.false_alarms, c.ready / 100, "%d false alarms in %d", c.false_alarms, c.ready);
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

/* The classical two-season initialisation written out over all 2m values
 * (y[p] at position p after the first value, NAN = missing), as the
 * detector once did it from a buffer of both seasons: trend = mean over
 * slots present twice of (y[m+i] - y[i]) / m; a slot's index = its mean
 * detrended value less the mean of those over seen slots; variance = the
 * squared residuals over (values - seen slots - 2), or the values' plain
 * variance when that leaves no degree of freedom. */
struct hw_ref {
    double level; /* at position 2m - 1 */
    double trend, var;
    double season[288];
};

static void reference_init(const double *y, int m, int64_t n0, struct hw_ref *r)
{
    double trend = 0;
    int pairs = 0;
    for (int i = 0; i < m; i++) {
        if (!isnan(y[i]) && !isnan(y[m + i])) {
            trend += (y[m + i] - y[i]) / m;
            pairs++;
        }
    }
    trend = pairs ? trend / pairs : 0;
    double mean_detrended[288] = {0};
    int cnt[288] = {0};
    for (int p = 0; p < 2 * m; p++) {
        if (isnan(y[p]))
            continue;
        int s = (int)((n0 + p) % m);
        mean_detrended[s] += y[p] - trend * p;
        cnt[s]++;
    }
    double level0 = 0;
    int seen = 0;
    for (int s = 0; s < m; s++) {
        if (cnt[s]) {
            mean_detrended[s] /= cnt[s];
            level0 += mean_detrended[s];
            seen++;
        }
    }
    level0 /= seen;
    double ss = 0, values[576];
    int n = 0;
    for (int p = 0; p < 2 * m; p++) {
        if (isnan(y[p]))
            continue;
        double e = y[p] - trend * p - mean_detrended[(n0 + p) % m];
        ss += e * e;
        values[n++] = y[p];
    }
    for (int s = 0; s < m; s++)
        r->season[s] = cnt[s] ? mean_detrended[s] - level0 : 0;
    r->var = n - seen - 2 >= 1 ? ss / (n - seen - 2) : gsl_stats_variance(values, 1, (size_t)n);
    r->trend = trend;
    r->level = level0 + trend * (2 * m - 1);
}

static void assert_close(double got, double want, const char *what, int s)
{
    cr_assert(fabs(got - want) <= 1e-10 * (1 + fabs(want)), "%s[%d]: %.17g, reference %.17g", what, s, got, want);
}

/* Random warm-ups (phase, gaps, trend, noise) against reference_init. With
 * alpha = beta = gamma = 0 the first update keeps the trend and the seasonal
 * indices as initialised, so the saved state shows them; the first
 * verdict's forecast and band show the level and the variance. */
static void check_warmup(int m, double presence, unsigned long seed)
{
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"type\":\"holt_winters\",\"season\":\"%dh\",\"alpha\":0,\"beta\":0,\"gamma\":0,"
             "\"sd_alpha\":0.001,\"threshold\":3}", m);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    int checked = 0;
    for (int k = 0; k < 20; k++) {
        struct rig r;
        rig_init(&r, cfg);
        int64_t n0 = 1000 + (int64_t)gsl_rng_uniform_int(rng, (unsigned long)m);
        double slope = gsl_ran_gaussian(rng, 0.5), noise = gsl_rng_uniform(rng) * 5;
        double y[576];
        int count = 0;
        for (int p = 0; p < 2 * m; p++) {
            bool present = p == 0 || gsl_rng_uniform(rng) < presence;
            /* ties and repeats too: a rounded value now and then */
            double v = 100 + slope * p + 20 * sin(2 * M_PI * (double)((n0 + p) % m) / m) + gsl_ran_gaussian(rng, noise);
            y[p] = present ? (p % 5 == 0 ? round(v) : v) : NAN;
            count += present;
        }
        if (count < m) { /* the detector would start over: not this test's case */
            rig_release(&r);
            continue;
        }
        for (int p = 0; p < 2 * m; p++)
            if (!isnan(y[p]))
                cr_assert_not(rig_feed_slot(&r, &r.st, n0 + p, y[p]).ready, "ready during warm-up");
        int64_t h = 1 + (int64_t)gsl_rng_uniform_int(rng, 3); /* the first value after it may follow a gap */
        int64_t n = n0 + 2 * m - 1 + h;
        struct kw_verdict v = rig_feed_slot(&r, &r.st, n, 150);
        cr_assert(v.ready);

        struct hw_ref ref;
        reference_init(y, m, n0, &ref);
        assert_close(v.expected, ref.level + (double)h * ref.trend + ref.season[n % m], "forecast", 0);
        assert_close((v.upper - v.expected) / 3, sqrt(ref.var), "sd", 0);
        cJSON *saved = kw_detector_state_save(&r.st, &r.det);
        const cJSON *st = cJSON_GetObjectItem(saved, "state");
        double trend, season[288];
        cr_assert_eq(kw_json_get_double(cJSON_GetObjectItem(st, "trend"), &trend), 0);
        assert_close(trend, ref.trend, "trend", 0);
        cr_assert_eq(kw_json_read_doubles(cJSON_GetObjectItem(st, "season"), season, (size_t)m), 0);
        for (int s = 0; s < m; s++)
            assert_close(season[s], ref.season[s], "season", s);
        cJSON_Delete(saved);
        rig_release(&r);
        checked++;
    }
    gsl_rng_free(rng);
    cr_assert_geq(checked, 10, "m = %d: only %d warm-ups were dense enough", m, checked);
}

Test(detector_holt_winters, warmup_matches_classical_initialisation_full)
{
    check_warmup(24, 1.0, 1);
    check_warmup(7, 1.0, 2);
}

Test(detector_holt_winters, warmup_matches_classical_initialisation_with_gaps)
{
    check_warmup(24, 0.8, 3);
    check_warmup(288, 0.7, 4);
    check_warmup(5, 0.6, 5);
}

/* Few slots present in both seasons leave no degree of freedom: the plain
 * variance of the values is the start (always so for m = 2). */
Test(detector_holt_winters, warmup_matches_classical_initialisation_without_degrees_of_freedom)
{
    check_warmup(2, 0.9, 6);
    check_warmup(3, 0.7, 7);
}

/* After a warm-up restart (too sparse), the initialisation uses the new
 * warm-up only: 10 20 30 40 | 12 24 33 41 from position 8 is the same
 * model as from position 0 of a fresh detector. */
Test(detector_holt_winters, warmup_restart_forgets_the_sparse_start)
{
    const char *cfg = "{\"type\":\"holt_winters\",\"season\":\"4h\"}";
    const double w[8] = {10, 20, 30, 40, 12, 24, 33, 41};
    struct rig a, b;
    rig_init(&a, cfg);
    rig_init(&b, cfg);
    rig_feed_slot(&a, &a.st, 0, 500);
    rig_feed_slot(&a, &a.st, 5, -300);
    for (int p = 0; p < 8; p++) {
        rig_feed_slot(&a, &a.st, 8 + p, w[p]);
        rig_feed_slot(&b, &b.st, 8 + p, w[p]);
    }
    for (int p = 16; p < 30; p++) {
        struct kw_verdict va = rig_feed_slot(&a, &a.st, p, 25 + p % 4), vb = rig_feed_slot(&b, &b.st, p, 25 + p % 4);
        cr_assert(va.ready);
        assert_same_verdict(&va, &vb, p);
    }
    rig_release(&a);
    rig_release(&b);
}

/* A state saved during the warm-up by versions that kept every value of
 * both seasons ("warm", by position, null = missing) still loads: the
 * values are taken as if they had just arrived, so the series continues
 * exactly as one that saw them live, and as the saving version would have
 * (its verdicts, computed by it, to rounding). Season 3h, starting at
 * interval 1001 (slot 2), position 2 missing. */
static const char *old_warm_state =
    "{\"type\":\"holt_winters\",\"seen\":4,\"state\":{\"started\":true,\"n0\":1001,\"last\":1005,"
    "\"warm\":[10,20,null,12,24,null]}}";

Test(detector_holt_winters, warmup_saved_by_older_versions_loads, .fini = teardown)
{
    setup_json(hand_cfg);
    cJSON *old = cJSON_Parse(old_warm_state);
    cr_assert_eq(kw_detector_state_load(&fx.st, &fx.det, old), 0);
    cJSON_Delete(old);
    cr_assert_eq(fx.st.seen, 4);

    struct rig live;
    rig_init(&live, hand_cfg);
    const int64_t warm_slot[4] = {1001, 1002, 1004, 1005};
    const double warm_val[4] = {10, 20, 12, 24};
    for (int i = 0; i < 4; i++)
        rig_feed_slot(&live, &live.st, warm_slot[i], warm_val[i]);

    static const struct {
        int64_t slot;
        double value, expected, upper, score;
    } then[] = {
        {1006, 33, NAN, NAN, NAN},
        {1007, 16, 15.5, 43.514282071829008, 0.053544117109764915},
        {1008, 27, 26.875, 46.712464555733931, 0.018903625458103611},
        {1010, 21, 19.5, 33.529711775371581, 0.32074785797806005},
        {1011, 15, 31.59375, 42.012070702013354, -4.7782412755233876},
        {1012, 40, 33.748759473489983, 57.044832774585174, 0.80501642217310532},
        {1013, 22, 19.863859692869156, 41.011071144175581, 0.3030385796325234},
    };
    for (size_t i = 0; i < sizeof then / sizeof then[0]; i++) {
        struct kw_verdict v = feed(then[i].slot, then[i].value);
        struct kw_verdict w = rig_feed_slot(&live, &live.st, then[i].slot, then[i].value);
        assert_same_verdict(&v, &w, (int)i);
        cr_assert_eq(v.ready, !isnan(then[i].expected));
        if (!v.ready)
            continue;
        assert_close(v.expected, then[i].expected, "expected", (int)i);
        assert_close(v.upper, then[i].upper, "upper", (int)i);
        assert_close(v.score, then[i].score, "score", (int)i);
    }
    rig_release(&live);
}

/* A damaged warm-up is refused (the series then starts fresh), in either
 * form: values after the last one, infinities, positions out of order or
 * after the last one, a seen slot without a sum, negative squares, sums
 * over no values that are not 0. */
static void assert_refused(const char *state)
{
    cJSON *j = cJSON_Parse(state);
    cr_assert_not_null(j, "%s", state);
    cr_assert_eq(kw_detector_state_load(&fx.st, &fx.det, j), -1, "accepted: %s", state);
    cJSON_Delete(j);
}

#define HW_STATE(body) "{\"type\":\"holt_winters\",\"seen\":4,\"state\":{\"started\":true,\"n0\":1001,\"last\":1005," body "}}"
#define HW_WARMUP(present, sums, m2) \
    HW_STATE("\"warmup\":{\"present\":" present ",\"sums\":" sums ",\"trend_sum\":2,\"diff_mean\":3,\"diff_m2\":2," \
             "\"mean\":16.5,\"m2\":" m2 "}")

Test(detector_holt_winters, damaged_warmup_is_refused, .fini = teardown)
{
    setup_json(hand_cfg);
    /* the intact ones load */
    const char *good_old = HW_STATE("\"warm\":[10,20,null,12,24,null]");
    const char *good_new = HW_WARMUP("[0,1,3,4]", "[44,null,22]", "131");
    cJSON *j = cJSON_Parse(good_old);
    cr_assert_eq(kw_detector_state_load(&fx.st, &fx.det, j), 0);
    cJSON_Delete(j);
    j = cJSON_Parse(good_new);
    cr_assert_eq(kw_detector_state_load(&fx.st, &fx.det, j), 0);
    cJSON_Delete(j);

    assert_refused(HW_STATE("\"warm\":[10,20,null,12,24,7]"));
    assert_refused(HW_STATE("\"warm\":[10,20,null,12,1e999,null]"));
    assert_refused(HW_STATE("\"warm\":[10,20,null,12,24]"));
    assert_refused("{\"type\":\"holt_winters\",\"seen\":0,\"state\":{\"started\":false,\"n0\":0,\"last\":0,"
                   "\"warm\":[10,null,null,null,null,null]}}");
    assert_refused(HW_WARMUP("[0,3,1,4]", "[44,null,22]", "131"));
    assert_refused(HW_WARMUP("[0,1,3,5]", "[44,null,22]", "131"));
    assert_refused(HW_WARMUP("[0,1,1,3,4]", "[44,null,22]", "131"));
    assert_refused(HW_WARMUP("[0,1.5,3,4]", "[44,null,22]", "131"));
    assert_refused(HW_WARMUP("[0,1,3,4]", "[44,null,null]", "131"));
    assert_refused(HW_WARMUP("[0,1,3,4]", "[44,null]", "131"));
    assert_refused(HW_WARMUP("[0,1,3,4]", "[44,null,22]", "-1"));
    assert_refused(HW_STATE("\"warmup\":{\"present\":[],\"sums\":[null,null,null],\"trend_sum\":0,"
                            "\"diff_mean\":0,\"diff_m2\":0,\"mean\":2e31,\"m2\":0}"));
    assert_refused(HW_STATE("\"warmup\":{\"present\":[0,1],\"sums\":[20,null,10],\"trend_sum\":2,"
                            "\"diff_mean\":0,\"diff_m2\":0,\"mean\":15,\"m2\":50}"));
    assert_refused(HW_STATE("\"warmup\":{\"present\":[0],\"sums\":[10,null,null]}"));
    assert_refused(HW_STATE("\"nothing\":1"));
}

/* A fresh series holds its seasonal array and a small summary of the
 * warm-up (a bit a position, seven numbers), not both seasons' values:
 * about 8 bytes a slot from the first value to the last. */
Test(detector_holt_winters, state_bytes_about_eight_a_slot, .fini = teardown)
{
    fx.info.interval_ms = 300000; /* 288 slots a season */
    setup_json("{\"type\":\"holt_winters\",\"season\":\"1d\"}");
    size_t fresh = fx.det.type->state_bytes(fx.st.impl);
    cr_assert_geq(fresh, 288 * 8);
    cr_assert_leq(fresh, 288 * 8 + 256, "%zu bytes", fresh);
    for (int t = 0; t < 2 * 288 + 1; t++)
        feed(t, 10 + t % 288);
    size_t running = fx.det.type->state_bytes(fx.st.impl);
    cr_assert_geq(running, 288 * 8);
    cr_assert_lt(running, fresh);
}
