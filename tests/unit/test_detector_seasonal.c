/* Unit tests for the seasonal detector: a hand-computed slot median/MAD, the
 * day-1 fallback, slot placement by timestamp, gaps, count and ratio floors,
 * the auto period, save/restore and seeded daily series with injected spikes.
 * Tests that hand-compute against a threshold pin 3.5 (the default was 3.5
 * until the benchmark chose 5). */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HOUR 3600000LL
#define RIG_SERIES {.interval_ms = HOUR}
#define RIG_FIXTURE
#include "detector_rig.h"
#include "detector_series.h"

#define MAD_TO_SD 1.482602218505602

/* Hour 05:00 UTC on 8 days: 10 12 11 13 9 30 11 12; every other hour is 100.
 *   sorted 9 10 11 11 12 12 13 30: median (11 + 12) / 2 = 11.5
 *   |x - 11.5| sorted .5 .5 .5 .5 1.5 1.5 2.5 18.5: MAD (.5 + 1.5) / 2 = 1
 *   spread 1.4826 (the other slots predict perfectly, so the pooled error
 *   floor is 0); day 9 at 05:00 = 20: z = 8.5 / 1.4826 = 5.733 > 3.5. */
Test(detector_seasonal, hand_computed_slot_median_and_mad, .fini = teardown)
{
    setup_json("{\"type\":\"seasonal\",\"threshold\":3.5}");
    const double h5[8] = {10, 12, 11, 13, 9, 30, 11, 12};
    for (int d = 0; d < 8; d++)
        for (int h = 0; h < 24; h++)
            feed(d * 24 + h, h == 5 ? h5[d] : 100);
    struct kw_verdict v = feed(8 * 24 + 5, 20);
    cr_assert(v.ready);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.expected, 11.5, 1e-12);
    cr_assert_float_eq(v.score, 8.5 / MAD_TO_SD, 1e-9);
    cr_assert_float_eq(v.lower, 11.5 - 3.5 * MAD_TO_SD, 1e-9);
    cr_assert_float_eq(v.upper, 11.5 + 3.5 * MAD_TO_SD, 1e-9);
    cr_assert_float_eq(v.anomaly_score, kw_squash(8.5 / MAD_TO_SD, 3.5), 1e-12);
    cr_assert_eq(v.direction, 1);
    /* The ring now holds 12 11 13 9 30 11 12 20: median 12, not poisoned. */
    v = feed(9 * 24 + 5, 12);
    cr_assert_float_eq(v.expected, 12, 1e-12);
    cr_assert_not(v.anomalous);
}

/* Day 1: no slot has history, so after 12 values the global ring stands in.
 * Values 1..12: median 6.5, |x - 6.5| = .5 .5 1.5 1.5 2.5 2.5 3.5 ...: MAD 3. */
Test(detector_seasonal, day_one_falls_back_to_recent_values, .fini = teardown)
{
    setup_json("{\"type\":\"seasonal\",\"threshold\":3.5}");
    for (int h = 0; h < 12; h++)
        cr_assert_not(feed(h, h + 1).ready, "ready after %d values", h);
    struct kw_verdict v = feed(12, 40);
    cr_assert(v.ready);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.expected, 6.5, 1e-12);
    cr_assert_float_eq(v.upper, 6.5 + 3.5 * 3 * MAD_TO_SD, 1e-9);
}

/* hour_of_week slot 0 is Monday 00:00 UTC (1970-01-05, the epoch being a
 * Thursday); the saved state lists slots in order. */
Test(detector_seasonal, hour_of_week_starts_monday_utc, .fini = teardown)
{
    setup_json("{\"type\":\"seasonal\",\"period\":\"hour_of_week\"}");
    feed(4 * 24, 42);     /* Monday 1970-01-05 00:00 */
    feed(3 * 24 + 23, 7); /* Sunday 23:00 */
    cJSON *saved = kw_detector_state_save(&fx.st, &fx.det);
    const cJSON *slots = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(saved, "state"), "slots");
    cr_assert_eq(cJSON_GetArraySize(slots), 168);
    double first, last;
    cr_assert_eq(kw_json_get_double(cJSON_GetArrayItem(cJSON_GetArrayItem(slots, 0), 0), &first), 0);
    cr_assert_eq(kw_json_get_double(cJSON_GetArrayItem(cJSON_GetArrayItem(slots, 167), 0), &last), 0);
    cr_assert_float_eq(first, 42, 0);
    cr_assert_float_eq(last, 7, 0);
    cJSON_Delete(saved);
}

/* Weekends are quiet (10) and weekdays busy (100): hour_of_week learns both. */
Test(detector_seasonal, hour_of_week_learns_weekends, .fini = teardown)
{
    setup_json("{\"type\":\"seasonal\",\"period\":\"hour_of_week\",\"min_history\":3}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int alarms = 0;
    for (int64_t t = 0; t < 24 * 7 * 6; t++) {
        int weekday = (int)((t / 24 + 3) % 7); /* 0 = Monday */
        double v = (weekday >= 5 ? 10 : 100) + gsl_ran_gaussian(rng, 1);
        struct kw_verdict out = feed(t, v);
        if (t >= 24 * 7 * 3) {
            cr_assert(out.ready);
            alarms += out.anomalous;
            cr_assert_float_eq(out.expected, weekday >= 5 ? 10 : 100, 2.5, "t=%lld", (long long)t);
        }
    }
    cr_assert_leq(alarms, 2);
    gsl_rng_free(rng);
}

/* After a 7-hour hole (NAN and absent intervals) each value still meets its
 * own hour's median: expected follows the sine. */
Test(detector_seasonal, gap_keeps_phase, .fini = teardown)
{
    setup_json("{\"type\":\"seasonal\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int64_t t = 0;
    for (; t < 24 * 5; t++)
        feed(t, rig_daily_sine(t, 24, rng, 1));
    for (int i = 0; i < 3; i++, t++)
        cr_assert_not(feed(t, NAN).ready);
    t += 4;
    for (int i = 0; i < 24; i++, t++) {
        struct kw_verdict v = feed(t, rig_daily_sine(t, 24, rng, 1));
        cr_assert(v.ready);
        cr_assert_not(v.anomalous, "t=%lld", (long long)t);
        cr_assert_float_eq(v.expected, 1000 + 100 * sin(2 * M_PI * (double)t / 24), 3, "t=%lld", (long long)t);
    }
    gsl_rng_free(rng);
}

/* A NAN interval changes nothing: same verdicts as a run that never saw it. */
Test(detector_seasonal, nan_leaves_state_untouched)
{
    setup_json("{\"type\":\"seasonal\"}");
    struct kw_detector_state other;
    kw_detector_state_init(&other, &fx.det, &fx.info);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (int64_t t = 0; t < 24 * 6; t++) {
        if (t % 11 == 3) {
            cr_assert_not(feed(t, NAN).ready);
            continue;
        }
        double v = rig_daily_sine(t, 24, rng, 5);
        struct kw_verdict a = feed(t, v), b = feed_to(&other, t, v);
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "t=%lld", (long long)t);
    }
    gsl_rng_free(rng);
    kw_detector_state_release(&other, &fx.det);
    teardown();
}

/* Counts: a slot that was always 4 has MAD 0; the Poisson floor sqrt(4) = 2
 * keeps 9 (z = 2.5) quiet and flags 12 (z = 4). */
Test(detector_seasonal, count_floor_is_poisson_sd, .fini = teardown)
{
    fx.info.is_count = true;
    setup_json("{\"type\":\"seasonal\",\"threshold\":3.5}");
    for (int d = 0; d < 4; d++)
        for (int h = 0; h < 24; h++)
            feed(d * 24 + h, 4);
    struct kw_verdict v = feed(4 * 24, 9);
    cr_assert_float_eq(v.score, 2.5, 1e-12);
    cr_assert_not(v.anomalous);
    /* 12 is z = 4 by the floored normal approximation, but the exact
     * Poisson tail P(X >= 12 | 4) = 9.2e-4 is z = 3.12 (python3, math
     * module): not anomalous at 3.5. 16 has P = 4.9e-6, z = 4.42. */
    v = feed(4 * 24 + 1, 12);
    cr_assert_float_eq(v.score, 3.12, 0.01);
    cr_assert_not(v.anomalous);
    v = feed(4 * 24 + 2, 16);
    cr_assert(v.anomalous, "z %g", v.score);
    fx.info.is_count = false;
}

Test(detector_seasonal, round_trip_is_bit_identical, .fini = teardown)
{
    setup_json("{\"type\":\"seasonal\",\"history\":5}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 9);
    int64_t t = 0;
    for (; t < 24 * 4 + 5; t++)
        feed(t, rig_daily_sine(t, 24, rng, 5));
    struct kw_detector_state st2;
    rig_clone_state(&fx, &st2, false);
    cr_assert_eq(fx.det.type->state_bytes(st2.impl), fx.det.type->state_bytes(fx.st.impl));
    for (int i = 0; i < 24 * 6; i++, t++) {
        double v = i % 19 == 2 ? NAN : rig_daily_sine(t, 24, rng, 5) + (i % 40 == 7 ? 80 : 0);
        struct kw_verdict a = feed(t, v), b = feed_to(&st2, t, v);
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "verdicts differ at t=%lld", (long long)t);
    }
    kw_detector_state_release(&st2, &fx.det);
    gsl_rng_free(rng);
}

Test(detector_seasonal, load_rejects_wrong_history, .fini = teardown)
{
    setup_json("{\"type\":\"seasonal\",\"history\":5}");
    feed(0, 1);
    cr_assert_eq(rig_load_under(&fx, "{\"type\":\"seasonal\",\"history\":6}"), -1);
}

/* Seeded daily sine (amplitude 100, noise sd 5) with +-60 spikes every 97
 * intervals from day 10: all spikes are caught, and the clean points raise at
 * most 0.5% false alarms (10 seeds gave 0 to 2 of 1428 hourly, 0.14% to 0.36%
 * at 5 minutes). Without the pooled error floor this was about 5%. */
static void spikes_and_false_alarms(int per_day, int days)
{
    struct rig_spike_count c = rig_daily_sine_spikes(&fx, per_day, days, true);
    cr_assert_gt(c.spikes, 10);
    cr_assert_eq(c.caught, c.spikes, "caught %d of %d spikes", c.caught, c.spikes);
    cr_assert_leq(c.false_alarms, c.ready / 200, "%d false alarms in %d", c.false_alarms, c.ready);
}

Test(detector_seasonal, hourly_spikes_and_false_alarms, .fini = teardown)
{
    setup_json("{\"type\":\"seasonal\"}");
    spikes_and_false_alarms(24, 60);
}

Test(detector_seasonal, five_minute_slots_spikes_and_false_alarms, .fini = teardown)
{
    fx.info.interval_ms = 300000;
    setup_json("{\"type\":\"seasonal\",\"period\":\"slot_of_day\"}");
    spikes_and_false_alarms(288, 16);
    fx.info.interval_ms = HOUR;
}

static void expect_parse_error(const char *json, const char *msg)
{
    char err[KW_ERR_LEN];
    struct kw_detector d;
    cJSON *obj = cJSON_Parse(json);
    cr_assert_eq(kw_detector_parse(&d, obj, "kpis[0].detector", err, sizeof err), -1, "%s", json);
    cr_assert_str_eq(err, msg);
    cJSON_Delete(obj);
}

static void expect_accepts_error(const char *json, int64_t interval_ms, const char *msg)
{
    char err[KW_ERR_LEN];
    struct kw_detector d;
    struct kw_series_info i = {.interval_ms = interval_ms};
    cJSON *obj = cJSON_Parse(json);
    cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), 0, "%s", err);
    cr_assert_eq(kw_detector_accepts(&d, &i, err, sizeof err), -1, "%s", json);
    cr_assert_str_eq(err, msg);
    kw_detector_release(&d);
    cJSON_Delete(obj);
}

Test(detector_seasonal, config_errors)
{
    expect_parse_error("{\"type\":\"seasonal\",\"min_history\":9}",
                       "kpis[0].detector.min_history: must be <= history (8)");
    expect_parse_error("{\"type\":\"seasonal\",\"history\":2}", "kpis[0].detector.history: must be >= 3");
    expect_parse_error("{\"type\":\"seasonal\",\"history\":65}", "kpis[0].detector.history: must be <= 64");
    expect_parse_error("{\"type\":\"seasonal\",\"period\":\"day\"}",
                       "kpis[0].detector.period: must be one of: auto, hour_of_day, hour_of_week, slot_of_day, "
                       "slot_of_week (got \"day\")");
    expect_accepts_error("{\"type\":\"seasonal\",\"period\":\"hour_of_day\"}", 300000,
                         "period hour_of_day needs an interval of at least 1h (this one is 300s); "
                         "use slot_of_day or slot_of_week");
    expect_accepts_error("{\"type\":\"seasonal\",\"period\":\"slot_of_day\"}", 420000,
                         "period slot_of_day needs an interval that divides 1 day (this one is 420s)");
    expect_accepts_error("{\"type\":\"seasonal\"}", 420000,
                         "period slot_of_day needs an interval that divides 1 day (this one is 420s)");
    expect_accepts_error("{\"type\":\"seasonal\",\"period\":\"slot_of_week\"}", 30000,
                         "period slot_of_week gives 20160 slots; at most 10080 allowed (use a longer interval)");
}

/* The default period (auto) runs on 1-minute, 5-minute, hourly and daily
 * series: one slot per interval of the day below 1h, hours of the day from
 * 1h, hours of the week (so weekdays) from 1d. Before auto the default was
 * hour_of_day, which rejected every interval under 1h. */
Test(detector_seasonal, default_period_fits_the_interval)
{
    const int64_t intervals[] = {60000, 300000, HOUR, 24 * HOUR};
    const int slots[] = {1440, 288, 24, 168};
    for (int i = 0; i < 4; i++) {
        char err[KW_ERR_LEN];
        struct kw_detector d;
        struct kw_series_info si = {.interval_ms = intervals[i]};
        cJSON *obj = cJSON_Parse("{\"type\":\"seasonal\"}");
        cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), 0, "%s", err);
        cJSON_Delete(obj);
        cr_assert_eq(kw_detector_accepts(&d, &si, err, sizeof err), 0, "interval %lld: %s",
                     (long long)intervals[i], err);
        struct kw_detector_state s;
        kw_detector_state_init(&s, &d, &si);
        cJSON *saved = kw_detector_state_save(&s, &d);
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(saved, "state");
        cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(state, "slots")), slots[i]);
        cJSON_Delete(saved);
        kw_detector_state_release(&s, &d);
        kw_detector_release(&d);
    }
}

/* Drop-off on a small step: n ~ Poisson(3..20) entries per 5 minutes, p 0.10.
 * Most slot medians are 0 and so are most pooled errors, which used to leave
 * a 1e-9 spread: any drop-off alerted (~25 false alarms per 1,000 intervals
 * at threshold 5). The binomial floor sqrt(p(1-p)/n) keeps 3 weeks of the
 * stable rate quiet, while p -> 0.5 for 2 hours still alerts. */
static struct kw_verdict feed_rate(struct kw_detector_state *s, int64_t t, gsl_rng *rng, double p)
{
    double lambda = 3 + 17 * (0.5 + 0.5 * sin(2 * M_PI * (double)(t % 288) / 288.0));
    unsigned n = gsl_ran_poisson(rng, lambda);
    unsigned x = n ? gsl_ran_binomial(rng, p, n) : 0;
    struct kw_sample in = {.ts_ms = t * fx.info.interval_ms, .value = n ? (double)x / n : NAN,
                           .numerator = x, .denominator = n};
    return rig_feed_sample(&fx, s, &in);
}

Test(detector_seasonal, ratio_floor_is_binomial_sd, .fini = teardown)
{
    fx.info.interval_ms = 300000;
    fx.info.is_ratio = true;
    setup_json("{\"type\":\"seasonal\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 3);
    int ready = 0, alarms = 0, caught = 0;
    int64_t t = 0;
    for (; t < 288 * 21; t++) {
        struct kw_verdict v = feed_rate(&fx.st, t, rng, 0.10);
        ready += v.ready;
        alarms += v.anomalous;
    }
    cr_assert_gt(ready, 288 * 18);
    cr_assert_leq(alarms, 1, "%d false alarms in %d verdicts", alarms, ready);
    /* 12:00-14:00 on day 22, at the busy part of the day. With 3..20 trials
     * an interval is judged by its exact binomial tail, so the jump must be
     * one that a handful of trials can prove: 10% -> 80%. */
    for (; t < 288 * 21 + 144; t++)
        feed_rate(&fx.st, t, rng, 0.10);
    for (; t < 288 * 21 + 168; t++)
        caught += feed_rate(&fx.st, t, rng, 0.80).anomalous;
    cr_assert_geq(caught, 1, "the rate jump was missed");
    gsl_rng_free(rng);
    fx.info.is_ratio = false;
    fx.info.interval_ms = HOUR;
}

/* The pooled error median is kept in a sorted copy of the error ring; after
 * a text round trip (sorted again from the ring) verdicts stay bit-identical,
 * long after the ring has wrapped. */
Test(detector_seasonal, ratio_round_trip_through_text_is_bit_identical, .fini = teardown)
{
    fx.info.interval_ms = 300000;
    fx.info.is_ratio = true;
    setup_json("{\"type\":\"seasonal\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    int64_t t = 0;
    for (; t < 288 * 5 + 77; t++)
        feed_rate(&fx.st, t, rng, 0.10);
    struct kw_detector_state st2;
    rig_clone_state(&fx, &st2, true);
    int ready = 0;
    for (; t < 288 * 8; t++) {
        double p = t % 500 < 12 ? 0.4 : 0.10;
        gsl_rng *copy = gsl_rng_clone(rng);
        struct kw_verdict a = feed_rate(&fx.st, t, rng, p), b = feed_rate(&st2, t, copy, p);
        gsl_rng_free(copy);
        ready += a.ready;
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "verdicts differ at t=%lld", (long long)t);
    }
    cr_assert_gt(ready, 288 * 2);
    kw_detector_state_release(&st2, &fx.det);
    gsl_rng_free(rng);
    fx.info.is_ratio = false;
    fx.info.interval_ms = HOUR;
}

/* Counts: a slot median of 2 with no noise elsewhere floors the spread at
 * sqrt(2), so 12 is z = 7.07 by the normal approximation; the exact Poisson
 * tail P(X >= 12 | 2) = 1.36e-6 is only z = 4.69 (python3: 1 - sum of
 * exp(-2) 2^k / k! for k < 12), under the default threshold 5. 16 has
 * P = 4.8e-10, z = 6.1: anomalous. */
Test(detector_seasonal, counts_use_the_exact_poisson_tail, .fini = teardown)
{
    fx.info = (struct kw_series_info){.interval_ms = HOUR, .is_count = true};
    setup_json("{\"type\":\"seasonal\"}");
    for (int64_t h = 0; h < 24 * 10; h++)
        feed(h, 2);
    struct kw_verdict v = feed(24 * 10, 12);
    cr_assert(v.ready);
    cr_assert_not(v.anomalous, "z %g", v.score);
    cr_assert_float_eq(v.score, 4.69, 0.01);
    v = feed(24 * 10 + 1, 16);
    cr_assert(v.anomalous, "z %g", v.score);
    fx.info = (struct kw_series_info){.interval_ms = HOUR};
}

/* Rates: 1 drop-off in 120 per hour for 10 days (p = 0.83%). 7 of 120 is
 * z = 6.9 by the binomial sd, but P(X >= 7 | 120, 1/120) = 7.3e-5 is z = 3.8:
 * not anomalous. 15 of 120 (P = 1.3e-13) is. */
Test(detector_seasonal, rare_rates_use_the_exact_binomial_tail, .fini = teardown)
{
    fx.info = (struct kw_series_info){.interval_ms = HOUR, .is_ratio = true};
    setup_json("{\"type\":\"seasonal\"}");
    struct kw_verdict v;
    for (int64_t h = 0; h < 24 * 10; h++) {
        struct kw_sample in = {.ts_ms = h * HOUR, .value = 1.0 / 120, .numerator = 1, .denominator = 120};
        kw_detector_update(&fx.st, &fx.det, &fx.info, &in, &v);
    }
    struct kw_sample seven = {.ts_ms = 240 * HOUR, .value = 7.0 / 120, .numerator = 7, .denominator = 120};
    kw_detector_update(&fx.st, &fx.det, &fx.info, &seven, &v);
    cr_assert(v.ready);
    cr_assert_not(v.anomalous, "z %g", v.score);
    cr_assert_lt(v.score, 5);
    struct kw_sample fifteen = {.ts_ms = 241 * HOUR, .value = 15.0 / 120, .numerator = 15, .denominator = 120};
    kw_detector_update(&fx.st, &fx.det, &fx.info, &fifteen, &v);
    cr_assert(v.anomalous, "z %g", v.score);
    fx.info = (struct kw_series_info){.interval_ms = HOUR};
}
