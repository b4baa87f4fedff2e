/* Unit tests for the zscore detector: a hand-computed reference including
 * the winsorised update, flat series, warm-up, gaps, state round trip,
 * numerical stability at a large offset, and spike versus clean noise. */
#include <criterion/criterion.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <string.h>

#include "detector_series.h"

/* By hand: window {2,4,4,4,5,5,7,9}: mean 5, sample sd sqrt(32/7) = 2.138090.
 * x = 12: z = 7/2.138090 = 3.273950 > 3, bounds 5 -+ 6.414270 = [-1.414270, 11.414270].
 * The 12 enters the window winsorised to 11.414270 (and the 2 leaves):
 * {4,4,4,5,5,7,9,11.414270}: mean 6.176784, sd 2.753291, upper 14.436658. */
Test(detector_zscore, reference_values_and_winsorised_update)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"zscore\",\"window\":8,\"min_points\":8}");
    const double first[] = {2, 4, 4, 4, 5, 5, 7, 9};
    for (int i = 0; i < 8; i++)
        cr_assert_not(rig_feed(&r, first[i]).ready);
    struct kw_verdict v = rig_feed(&r, 12);
    cr_assert(v.ready);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, 1);
    cr_assert_float_eq(v.expected, 5, 1e-12);
    cr_assert_float_eq(v.score, 3.2739502134271987, 1e-9);
    cr_assert_float_eq(v.lower, -1.4142698058981855, 1e-9);
    cr_assert_float_eq(v.upper, 11.414269805898186, 1e-9);
    cr_assert_float_eq(v.anomaly_score, 3.2739502134271987 / (3.2739502134271987 + 3), 1e-9);
    v = rig_feed(&r, 6);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.expected, 6.176783725737273, 1e-9);
    cr_assert_float_eq(v.upper, 14.436658152404576, 1e-9);
    cr_assert_float_eq(v.score, -0.06420814044092027, 1e-9);
    rig_release(&r);
}

Test(detector_zscore, flat_series_then_change)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"zscore\",\"window\":20,\"min_points\":8}");
    for (int i = 0; i < 50; i++) {
        struct kw_verdict v = rig_feed(&r, 7.25);
        cr_assert_not(v.anomalous, "point %d", i);
        if (v.ready) {
            cr_assert_float_eq(v.score, 0, 1e-12);
            cr_assert(isfinite(v.lower) && isfinite(v.upper));
        }
    }
    struct kw_verdict v = rig_feed(&r, 7.3);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, 1);
    cr_assert(isfinite(v.score));
    rig_release(&r);
}

Test(detector_zscore, warmup_needs_min_points)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"zscore\",\"window\":100,\"min_points\":12}");
    for (int i = 0; i < 12; i++) {
        struct kw_verdict v = rig_feed(&r, i % 2 ? 1e6 : -1e6);
        cr_assert_not(v.ready, "point %d", i);
        cr_assert_not(v.anomalous);
    }
    cr_assert(rig_feed(&r, 0).ready);
    rig_release(&r);

    rig_init(&r, "{\"type\":\"zscore\",\"window\":10}"); /* min_points 30 capped at 10 */
    for (int i = 0; i < 10; i++)
        cr_assert_not(rig_feed(&r, i).ready);
    cr_assert(rig_feed(&r, 4).ready);
    rig_release(&r);
}

static struct kw_sample spiky(gsl_rng *rng, int i)
{
    return rig_value(20 + gsl_ran_gaussian(rng, 2) + (i % 50 == 0 ? 30 : 0));
}

Test(detector_zscore, gaps_leave_state_untouched)
{
    twins_assert_gaps_change_nothing("{\"type\":\"zscore\",\"window\":16,\"min_points\":8}", 21, 300, spiky, 5, 1);
}

static struct kw_sample high_spikes(gsl_rng *rng, int i)
{
    return rig_value(1e4 + gsl_ran_gaussian(rng, 30) + (i % 23 == 0 ? 400 : 0));
}

static struct kw_sample low_spikes(gsl_rng *rng, int i)
{
    return rig_value(1e4 + gsl_ran_gaussian(rng, 30) + (i % 31 == 0 ? -500 : 0));
}

Test(detector_zscore, state_round_trip_is_bit_identical)
{
    /* 97 is not a multiple of window: saved mid-way to the next recompute. */
    twins_assert_restart_changes_nothing("{\"type\":\"zscore\",\"window\":40,\"min_points\":10}", 5, high_spikes, 97,
                                         low_spikes, 200, NULL);
}

Test(detector_zscore, load_rejects_mismatched_state)
{
    struct rig a, b;
    rig_init(&a, "{\"type\":\"zscore\",\"window\":16}");
    rig_init(&b, "{\"type\":\"zscore\",\"window\":17}");
    for (int i = 0; i < 5; i++)
        rig_feed(&a, i);
    cJSON *saved = kw_detector_state_save(&a.st, &a.det);
    cr_assert_eq(kw_detector_state_load(&b.st, &b.det, saved), -1);
    cJSON *state = cJSON_GetObjectItem(saved, "state");
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(state, "scalars"), 4, cJSON_CreateNumber(-1));
    cr_assert_eq(kw_detector_state_load(&a.st, &a.det, saved), -1);
    cJSON_Delete(saved);
    rig_release(&a);
    rig_release(&b);
}

/* Values around 1e9 with unit noise, 20000 updates: the O(1) sliding
 * mean/sd must still match a fresh two-pass computation (no cancellation). */
Test(detector_zscore, sliding_sd_stays_accurate_at_large_offset)
{
    const int w = 50;
    struct rig r;
    rig_init(&r, "{\"type\":\"zscore\",\"window\":50,\"min_points\":8,\"threshold\":1000}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 99);
    double ring[50];
    int count = 0, head = 0;
    for (int i = 0; i < 20000; i++) {
        double x = 1e9 + gsl_ran_gaussian(rng, 1.0);
        struct kw_verdict v = rig_feed(&r, x);
        if (count >= 8) {
            double mean = gsl_stats_mean(ring, 1, (size_t)count);
            double sd = gsl_stats_sd_m(ring, 1, (size_t)count, mean);
            cr_assert_float_eq(v.expected, mean, 1e-6, "step %d", i);
            cr_assert_float_eq((v.upper - v.expected) / 1000, sd, 1e-6 * sd, "step %d: %.17g vs %.17g", i, (v.upper - v.expected) / 1000, sd);
        }
        ring[head] = x;
        head = (head + 1) % w;
        if (count < w)
            count++;
    }
    gsl_rng_free(rng);
    rig_release(&r);
}

/* N(500, 20): a clean series raises (almost) nothing, a +8 sd spike is
 * caught, and thanks to winsorising a second smaller spike soon after too. */
Test(detector_zscore, spike_detected_clean_series_quiet)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"zscore\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 2);
    int false_alarms = 0;
    for (int i = 0; i < 2000; i++)
        false_alarms += rig_feed(&r, 500 + gsl_ran_gaussian(rng, 20)).anomalous;
    cr_assert_leq(false_alarms, 8, "false alarms: %d", false_alarms);
    struct kw_verdict v = rig_feed(&r, 660);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, 1);
    for (int i = 0; i < 5; i++)
        rig_feed(&r, 500 + gsl_ran_gaussian(rng, 20));
    v = rig_feed(&r, 580);
    cr_assert(v.anomalous);
    gsl_rng_free(rng);
    rig_release(&r);
}

/* A lasting level shift alerts at first, then becomes the new normal. */
Test(detector_zscore, level_shift_is_absorbed)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"zscore\",\"window\":100}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 3);
    for (int i = 0; i < 300; i++)
        rig_feed(&r, 100 + gsl_ran_gaussian(rng, 5));
    cr_assert(rig_feed(&r, 150 + gsl_ran_gaussian(rng, 5)).anomalous);
    int late_alarms = 0;
    for (int i = 0; i < 400; i++) {
        struct kw_verdict v = rig_feed(&r, 150 + gsl_ran_gaussian(rng, 5));
        if (i >= 300)
            late_alarms += v.anomalous;
    }
    cr_assert_leq(late_alarms, 2);
    gsl_rng_free(rng);
    rig_release(&r);
}
