/* Unit tests for the surprise detector: the level stream's raw score and
 * likelihood against hand-computed values, warm-up, the hold-off after a
 * detection, a missing interval, the seasonal baseline, the weekly stream
 * explaining a weekly pattern the daily one cannot, the float state and its
 * size, and a bit-identical save/restore through JSON text. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detector_rig.h"

/* Seasonal streams off ("1s" is under one 60 s interval), short windows. */
#define LEVEL_ONLY "{\"type\":\"surprise\",\"window\":8,\"history\":10,\"min_history\":10,\"short\":1," \
                   "\"season\":\"1s\",\"week\":\"1s\",\"threshold\":2,\"hold_off\":3}"

/* Bit-identical (tells -0 from 0): stricter than the rig's same_double. */
static bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

/* 18 values alternating 10, 12: the level window (8) then the raw-score
 * history (10) fill, so nothing is ready before point 19. */
static void warm(struct rig *r)
{
    for (int i = 0; i < 18; i++) {
        struct kw_verdict v = rig_feed(r, i % 2 ? 12 : 10);
        cr_assert_not(v.ready, "point %d", i + 1);
    }
}

Test(detector_surprise, hand_computed_likelihood_and_hold_off)
{
    struct rig r;
    rig_init(&r, LEVEL_ONLY);
    warm(&r);
    /* Window {10,12}x4: mean 11, sd 1. Raw = min(|x - 11| / 1, 10) / 10 = 0.1
     * for every point so far, so the history has mean 0.1, sd 0 -> floor 0.03. */
    struct kw_verdict v = rig_feed(&r, 10);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 11.0, 1e-12);
    cr_assert_float_eq(v.upper, 14.0, 1e-12); /* mean + 3 sd */
    /* Recent mean 0.1 = history mean: tail 0.5, -log10(0.5) = 0.30103. */
    cr_assert_float_eq(fabs(v.score), 0.30102999566398120, 1e-9);
    cr_assert_float_eq(v.anomaly_score, 0.30103 / 2.30103, 1e-6);
    cr_assert_not(v.anomalous);
    /* Spike 16: raw 0.5, z = (0.5 - 0.1) / 0.03 = 13.333; Q(13.333) = 7.406e-41,
     * -log10 = 40.130. */
    v = rig_feed(&r, 16);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, 1);
    cr_assert_float_eq(v.score, 40.1304, 1e-3);
    cr_assert_float_eq(v.anomaly_score, 40.1304 / 42.1304, 1e-4);
    /* Hold-off: the next 3 intervals are ready but score 0. */
    for (int i = 0; i < 3; i++) {
        v = rig_feed(&r, 16);
        cr_assert(v.ready);
        cr_assert_not(v.anomalous, "hold-off point %d", i);
        cr_assert_eq(v.anomaly_score, 0.0);
    }
    /* Then a fresh spike alerts again. */
    v = rig_feed(&r, 40);
    cr_assert(v.anomalous);
    rig_release(&r);
}

/* A spike of 4 sd on Gaussian noise after 400 points (seed 7), with the
 * recent mean of `short` raw scores behind the verdict. */
static struct kw_verdict spike_after_noise(int short_n, struct kw_verdict *before)
{
    char cfg[256];
    snprintf(cfg, sizeof cfg,
             "{\"type\":\"surprise\",\"window\":64,\"history\":100,\"min_history\":100,\"short\":%d,"
             "\"season\":\"1s\",\"week\":\"1s\",\"threshold\":2,\"hold_off\":0}",
             short_n);
    struct rig r;
    rig_init(&r, cfg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    for (int i = 0; i < 400; i++)
        *before = rig_feed(&r, 50 + gsl_ran_gaussian(rng, 5));
    cr_assert(before->ready);
    double sd = (before->upper - before->expected) / 3;
    struct kw_verdict v = rig_feed(&r, before->expected + 4 * sd);
    gsl_rng_free(rng);
    rig_release(&r);
    return v;
}

/* lower and upper are the deciding stream's window mean -+ 3 sd, where one
 * value's raw score is 0.3; the decision is the likelihood of the recent
 * mean of `short` raw scores. So a lone value above upper is anomalous with
 * short 1, and not with short 5 (the README's --scores and surprise notes
 * say so). */
Test(detector_surprise, the_band_is_three_sd_and_a_lone_value_beyond_it_may_not_be_anomalous)
{
    struct kw_verdict before, v = spike_after_noise(5, &before);
    cr_assert(v.ready);
    cr_assert_float_eq(before.expected, 50, 1.5);
    cr_assert_float_eq(before.upper - before.expected, 15, 2.5, "3 sd of noise with sd 5: %g",
                       before.upper - before.expected);
    cr_assert_float_eq(v.expected - v.lower, v.upper - v.expected, 1e-9, "a symmetric band");
    cr_assert_gt(before.expected + 4 * (before.upper - before.expected) / 3, v.upper, "the spike is above the band");
    cr_assert_not(v.anomalous, "short 5: one raw score of 0.4 among four ordinary ones (score %g)", v.score);
    cr_assert(spike_after_noise(1, &before).anomalous, "short 1: the same spike alone decides");
}

Test(detector_surprise, quiet_series_never_alerts)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"surprise\",\"window\":64}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    int alerts = 0;
    for (int i = 0; i < 3000; i++)
        alerts += rig_feed(&r, 100 + gsl_ran_gaussian(rng, 2)).anomalous;
    cr_assert_leq(alerts, 3, "%d alerts on white noise", alerts);
    gsl_rng_free(rng);
    rig_release(&r);
}

Test(detector_surprise, missing_interval_changes_nothing)
{
    struct rig a, b;
    rig_init(&a, LEVEL_ONLY);
    rig_init(&b, LEVEL_ONLY);
    warm(&a);
    warm(&b);
    struct kw_verdict v = rig_feed(&a, NAN);
    cr_assert_not(v.ready);
    cr_assert_not(v.anomalous);
    for (int i = 0; i < 20; i++) {
        double x = i == 5 ? 30 : (i % 2 ? 12 : 10);
        struct kw_verdict va = rig_feed(&a, x), vb = rig_feed(&b, x);
        cr_assert(same_bits(va.anomaly_score, vb.anomaly_score), "point %d", i);
        cr_assert_eq(va.anomalous, vb.anomalous, "point %d", i);
    }
    rig_release(&a);
    rig_release(&b);
}

/* Period 2 (2-minute season, 60 s intervals): the baseline is the median of
 * the same slot 1..3 cycles back, so a level shift on one slot only is seen
 * by the seasonal stream, with expected = baseline + residual mean. */
Test(detector_surprise, seasonal_baseline)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"surprise\",\"window\":8,\"season_window\":8,\"history\":10,\"min_history\":10,"
                 "\"short\":1,\"season\":\"2m\",\"seasons\":3,\"week\":\"1s\",\"threshold\":2}");
    /* Slots alternate 0 and 100; the level stream sees a large sd (50), the
     * seasonal stream sees residual 0 (after a tiny jitter for a scale). */
    for (int i = 0; i < 40; i++)
        rig_feed(&r, (i % 2 ? 100 : 0) + (i % 4 < 2 ? 0.5 : -0.5));
    /* Slot 0 should read about 0: a value of 30 is ordinary for the level
     * stream (|30 - 50| / 50 < 1) but 30 residual-sds off for the seasonal. */
    struct kw_verdict v = rig_feed(&r, 30);
    cr_assert(v.ready);
    cr_assert(v.anomalous, "score %g", v.score);
    cr_assert_float_eq(v.expected, 0.0, 0.6);
    rig_release(&r);
}

/* Period-2 "days" in period-8 "weeks": slot 7 (normally 100) is 0 every
 * week. Against the daily baseline (median of slots 5, 3, 1 = 100) that is a
 * residual of -100 each time; against last week's slot 7 it is 0. Seasonal
 * surprise is the smaller of the two, so with the weekly stream on the
 * recurring dip stops alerting once that stream is ready (8 values for the
 * ring, 8 residuals, 10 raw scores: point 27 on); with it off it alerts. */
static int weekly_dips_alerting(const char *week)
{
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"type\":\"surprise\",\"window\":8,\"season_window\":8,\"history\":10,\"min_history\":10,"
             "\"short\":1,\"season\":\"2m\",\"seasons\":3,\"week\":\"%s\",\"weeks\":1,\"threshold\":2,"
             "\"hold_off\":0}",
             week);
    struct rig r;
    rig_init(&r, cfg);
    int alerts = 0;
    for (int i = 0; i < 400; i++) {
        double x = (i % 2 && i % 8 != 7 ? 100 : 0) + (i % 4 < 2 ? 0.5 : -0.5);
        struct kw_verdict v = rig_feed(&r, x);
        if (i >= 40)
            alerts += v.anomalous;
        else if (i < 26)
            cr_assert_not(v.anomalous && i % 8 != 7, "%s point %d", week, i);
    }
    rig_release(&r);
    return alerts;
}

Test(detector_surprise, weekly_stream_explains_weekly_pattern)
{
    int off = weekly_dips_alerting("1s"), on = weekly_dips_alerting("8m");
    cr_assert_gt(off, 10, "daily stream alone: %d alerts", off);
    cr_assert_eq(on, 0, "with the weekly stream: %d alerts", on);
}

/* Raw scores and residuals are held as floats, values as doubles: defaults at
 * 5-minute intervals are 1152 + 2016 doubles (level window, one shared ring
 * for the daily and weekly baselines: 7 days = 1 week) and 2 x 2016 + 3 x 2880
 * + 4 x 5 + 1 floats (the joint stream's history is one cell with combine
 * "max"). */
Test(detector_surprise, state_bytes)
{
    char err[KW_ERR_LEN];
    cJSON *obj = cJSON_Parse("{\"type\":\"surprise\"}");
    struct kw_detector det;
    cr_assert_eq(kw_detector_parse(&det, obj, "d", err, sizeof err), 0, "%s", err);
    cJSON_Delete(obj);
    struct kw_series_info info = {.interval_ms = 300000};
    struct kw_detector_state st;
    kw_detector_state_init(&st, &det, &info);
    size_t cells8 = 1152 + 2016, cells4 = 2 * 2016 + 3 * 2880 + 4 * 5 + 1;
    size_t bytes = det.type->state_bytes(st.impl);
    cr_assert_geq(bytes, cells8 * 8 + cells4 * 4);
    cr_assert_lt(bytes, cells8 * 8 + cells4 * 4 + 1024, "%zu bytes", bytes);
    kw_detector_state_release(&st, &det);
    kw_detector_release(&det);
}

/* A rig on period-4 "days" (4-minute seasons of 1-minute slots) with the
 * given phase tolerance, number of tolerances and combine mode. */
static void rig_init_cycles(struct rig *r, const char *phase, int phases, const char *combine)
{
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"type\":\"surprise\",\"window\":64,\"season_window\":16,\"history\":40,\"min_history\":20,"
             "\"short\":1,\"season\":\"4m\",\"seasons\":3,\"week\":\"1s\",\"threshold\":2,\"hold_off\":0,"
             "\"phase\":\"%s\",\"phases\":%d,\"combine\":\"%s\"}",
             phase, phases, combine);
    rig_init(r, cfg);
}

/* Period-4 "days" (60 s intervals) with a 100 on slot 1, one slot late
 * (slot 2) every fifth cycle. Against the same-slot median the late event is
 * a residual of -100 then +100; with phase "1m" every past cycle offers its
 * value nearest x within one slot, so the late event mostly reads as ordinary. The
 * level stream sees a quarter of the values at 100 all along: ordinary. */
static int drifting_event_alerts_with(const char *phase, int phases, const char *combine)
{
    struct rig r;
    rig_init_cycles(&r, phase, phases, combine);
    int alerts = 0;
    for (int i = 0; i < 600; i++) {
        int cycle = i / 4, slot = i % 4;
        double x = (slot == 1 + (cycle % 5 == 4) ? 100 : 0) + (i % 3 == 0 ? 0.5 : -0.5);
        struct kw_verdict v = rig_feed(&r, x);
        if (i >= 200)
            alerts += v.anomalous;
    }
    rig_release(&r);
    return alerts;
}

static int drifting_event_alerts(const char *phase)
{
    return drifting_event_alerts_with(phase, 1, "max");
}

/* Period-4 "days" with a 100 on slot 1 every cycle, then one 100 a slot late.
 * Within a one-slot tolerance every past cycle offers that 100, so the late
 * event is explained; on the same slot only it is a residual of 100. */
static struct kw_verdict late_event_with(const char *phase, int phases, const char *combine)
{
    struct rig r;
    rig_init_cycles(&r, phase, phases, combine);
    for (int i = 0; i < 402; i++) /* ends on slot 1 */
        rig_feed(&r, (i % 4 == 1 ? 100 : 0) + (i % 3 == 0 ? 0.5 : -0.5));
    struct kw_verdict v = rig_feed(&r, 100);
    rig_release(&r);
    return v;
}

/* phases 2 averages the raw scores of tolerance 1m and 0: the late event is
 * half explained, so it scores between the two single tolerances, and still
 * alerts. A tolerance of one interval has no halves, so phases 3 runs the
 * same two. */
Test(detector_surprise, phases_average_the_tolerances)
{
    const char *combine[] = {"max", "mean"};
    for (int j = 0; j < 2; j++) {
        struct kw_verdict wide = late_event_with("1m", 1, combine[j]);
        struct kw_verdict same_slot = late_event_with("0", 1, combine[j]);
        struct kw_verdict both = late_event_with("1m", 2, combine[j]);
        cr_assert_not(wide.anomalous, "%s: score %g", combine[j], wide.score);
        cr_assert_gt(same_slot.score, 50, "%s", combine[j]);
        cr_assert(both.anomalous, "%s: score %g", combine[j], both.score);
        cr_assert_gt(both.score, 4 * wide.score, "%s: averaged %g, one-slot tolerance %g", combine[j], both.score,
                     wide.score);
        cr_assert_lt(both.score, same_slot.score / 4, "%s: averaged %g, same slot only %g", combine[j], both.score,
                     same_slot.score);
        cr_assert(same_bits(late_event_with("1m", 3, combine[j]).score, both.score), "%s", combine[j]);
    }
}

/* Save r's state as a state file holds it (JSON text: exact numbers are raw
 * until parsed) and load it under the config other_json; returns the load's
 * result. */
static int load_text_under(const struct rig *r, const char *other_json)
{
    struct rig o;
    rig_init(&o, other_json);
    cJSON *saved = kw_detector_state_save(&r->st, &r->det);
    char *text = cJSON_PrintUnformatted(saved);
    cJSON_Delete(saved);
    saved = cJSON_Parse(text);
    free(text);
    int rc = kw_detector_state_load(&o.st, &o.det, saved);
    cJSON_Delete(saved);
    rig_release(&o);
    return rc;
}

/* With several tolerances their residual windows are saved too, and a
 * restart is bit-identical. A state saved with one tolerance lacks them and
 * is refused under three; one saved with three loads under one (its first
 * tolerance is the configured phase, as before). */
Test(detector_surprise, phases_state_round_trip)
{
    const char *cfg = "{\"type\":\"surprise\",\"window\":16,\"season_window\":16,\"history\":40,"
                      "\"min_history\":20,\"season\":\"10m\",\"seasons\":3,\"week\":\"30m\",\"weeks\":2,"
                      "\"hold_off\":5,\"combine\":\"mean\",\"phase\":\"2m\",\"phases\":3}";
    const char *one = "{\"type\":\"surprise\",\"window\":16,\"season_window\":16,\"history\":40,"
                      "\"min_history\":20,\"season\":\"10m\",\"seasons\":3,\"week\":\"30m\",\"weeks\":2,"
                      "\"hold_off\":5,\"combine\":\"mean\",\"phase\":\"2m\"}";
    struct rig a, b, c;
    rig_init(&a, cfg);
    rig_init(&b, cfg);
    rig_init(&c, one);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    int i = 0;
    for (; i < 333; i++) {
        double x = 100 * (i % 10 == 3) + gsl_ran_gaussian(rng, 3);
        rig_feed(&a, x);
        rig_feed(&c, x);
    }
    rig_copy_state_text(&a, &b);
    for (; i < 700; i++) {
        double x = 100 * (i % 10 == 3 + (i % 70 == 63)) + gsl_ran_gaussian(rng, 3);
        struct kw_verdict va = rig_feed(&a, x), vb = rig_feed(&b, x);
        cr_assert(va.ready);
        assert_same_verdict(&va, &vb, i);
        cr_assert(same_bits(va.score, vb.score), "point %d", i);
    }
    cr_assert_eq(load_text_under(&c, cfg), -1);
    cr_assert_eq(load_text_under(&c, one), 0);
    cr_assert_eq(load_text_under(&a, one), 0);
    gsl_rng_free(rng);
    rig_release(&a);
    rig_release(&b);
    rig_release(&c);
}

Test(detector_surprise, phase_tolerance_explains_drifting_event)
{
    int off = drifting_event_alerts("0"), on = drifting_event_alerts("1m");
    cr_assert_gt(off, 10, "same slot only: %d alerts", off);
    cr_assert_lt(on * 3, off, "within one slot: %d alerts, same slot only: %d", on, off);
}

/* The period-2 series of seasonal_baseline: 30 on the 0 slot is odd to the
 * seasonal stream only. combine "max" takes the seasonal tail alone; "mean"
 * tests the mean of both raw scores, which is about half as far out, so its
 * score is lower. A value both streams find odd alerts either way. */
static struct kw_verdict alternating_then(const char *combine, double last)
{
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"type\":\"surprise\",\"window\":8,\"season_window\":8,\"history\":10,\"min_history\":10,"
             "\"short\":1,\"season\":\"2m\",\"seasons\":3,\"week\":\"1s\",\"threshold\":2,\"combine\":\"%s\"}",
             combine);
    struct rig r;
    rig_init(&r, cfg);
    for (int i = 0; i < 60; i++)
        rig_feed(&r, (i % 2 ? 100 : 0) + (i % 4 < 2 ? 0.5 : -0.5));
    struct kw_verdict v = rig_feed(&r, last);
    rig_release(&r);
    return v;
}

Test(detector_surprise, combine_mean_needs_both_streams)
{
    struct kw_verdict mx = alternating_then("max", 30), mean = alternating_then("mean", 30);
    cr_assert(mx.ready);
    cr_assert(mean.ready);
    /* Level raw |30 - 50| / 50 / 10 = 0.04; seasonal raw is capped at 1. The
     * joint history holds raws near (0.1 + 0.1) / 2, so the joint z is about
     * half the seasonal one, and -log10 of a Gaussian tail grows with z^2. */
    cr_assert_lt(fabs(mean.score), fabs(mx.score) / 2, "mean %g, max %g", mean.score, mx.score);
    mx = alternating_then("max", 1000);
    mean = alternating_then("mean", 1000);
    cr_assert(mx.anomalous);
    cr_assert(mean.anomalous);
}

Test(detector_surprise, text_round_trip_is_bit_identical)
{
    const char *cfg = "{\"type\":\"surprise\",\"window\":16,\"season_window\":16,\"history\":40,"
                      "\"min_history\":20,\"season\":\"10m\",\"seasons\":3,\"week\":\"30m\",\"weeks\":2,"
                      "\"hold_off\":5,\"combine\":\"mean\",\"phase\":\"2m\"}";
    struct rig a, b;
    rig_init(&a, cfg);
    rig_init(&b, cfg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 9);
    int i = 0;
    for (; i < 333; i++)
        rig_feed(&a, 1e6 + 50 * sin(i / 3.0) + gsl_ran_gaussian(rng, 3) + (i % 71 == 0 ? 400 : 0));
    rig_copy_state_text(&a, &b);
    int alerts = 0;
    for (; i < 700; i++) {
        double x = 1e6 + 50 * sin(i / 3.0) + gsl_ran_gaussian(rng, 3) + (i % 71 == 0 ? 400 : 0);
        if (i % 37 == 0)
            x = NAN;
        struct kw_verdict va = rig_feed(&a, x), vb = rig_feed(&b, x);
        cr_assert_eq(va.ready, vb.ready, "point %d", i);
        cr_assert_eq(va.anomalous, vb.anomalous, "point %d", i);
        cr_assert(same_bits(va.expected, vb.expected), "point %d", i);
        cr_assert(same_bits(va.score, vb.score), "point %d", i);
        cr_assert(same_bits(va.anomaly_score, vb.anomaly_score), "point %d", i);
        alerts += va.anomalous;
    }
    cr_assert_gt(alerts, 0, "the spikes should alert");
    /* A state saved under another season length is refused. */
    struct rig c;
    rig_init(&c, "{\"type\":\"surprise\",\"window\":16,\"season_window\":16,\"history\":40,"
                 "\"min_history\":20,\"season\":\"20m\",\"seasons\":3,\"week\":\"30m\",\"weeks\":2,"
                 "\"hold_off\":5}");
    cJSON *saved = kw_detector_state_save(&a.st, &a.det);
    /* Through text, as a state file goes: exact numbers are raw until parsed. */
    char *text = cJSON_PrintUnformatted(saved);
    cJSON_Delete(saved);
    saved = cJSON_Parse(text);
    free(text);
    cr_assert_eq(kw_detector_state_load(&c.st, &c.det, saved), -1);
    rig_release(&c);
    /* ... and so is one saved under another week length. */
    rig_init(&c, "{\"type\":\"surprise\",\"window\":16,\"season_window\":16,\"history\":40,"
                 "\"min_history\":20,\"season\":\"10m\",\"seasons\":3,\"week\":\"40m\",\"weeks\":2,"
                 "\"hold_off\":5}");
    cr_assert_eq(kw_detector_state_load(&c.st, &c.det, saved), -1);
    rig_release(&c);
    /* A raw score that a float cannot hold exactly is refused. */
    cJSON *hist = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(saved, "state"), "week_hist");
    cr_assert_not_null(hist);
    cJSON *vals = cJSON_GetObjectItemCaseSensitive(hist, "v");
    cr_assert_eq(cJSON_GetArraySize(vals), 40);
    cJSON_ReplaceItemInArray(vals, 0, cJSON_CreateNumber(0.1));
    rig_init(&c, cfg);
    cr_assert_eq(kw_detector_state_load(&c.st, &c.det, saved), -1);
    rig_release(&c);
    /* Without the joint stream's windows the state is refused under combine
     * "mean", which needs them, and taken under "max" (states saved before
     * the joint stream existed). */
    cJSON_ReplaceItemInArray(vals, 0, cJSON_CreateNumber(0.25));
    cJSON *inner = cJSON_GetObjectItemCaseSensitive(saved, "state");
    cJSON_DeleteItemFromObjectCaseSensitive(inner, "joint_hist");
    cJSON_DeleteItemFromObjectCaseSensitive(inner, "joint_recent");
    rig_init(&c, cfg);
    cr_assert_eq(kw_detector_state_load(&c.st, &c.det, saved), -1);
    rig_release(&c);
    rig_init(&c, "{\"type\":\"surprise\",\"window\":16,\"season_window\":16,\"history\":40,"
                 "\"min_history\":20,\"season\":\"10m\",\"seasons\":3,\"week\":\"30m\",\"weeks\":2,"
                 "\"hold_off\":5,\"phase\":\"2m\"}");
    cr_assert_eq(kw_detector_state_load(&c.st, &c.det, saved), 0);
    cJSON_Delete(saved);
    rig_release(&c);
    gsl_rng_free(rng);
    rig_release(&a);
    rig_release(&b);
}
