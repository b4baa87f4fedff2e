/* Unit tests for the ensemble detector: vote, max and weighted combination
 * (hand-computed from threshold members), readiness, member rules, config
 * errors with key paths, save/restore and a seeded daily series. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#define HOUR 3600000LL
#define RIG_SERIES {.interval_ms = HOUR}
#define RIG_FIXTURE
#include "detector_rig.h"
#include "detector_series.h"

/* threshold members score 0.5 + 0.5 * excess / (excess + bound) past the
 * bound, 0 inside. Highs 10, 20, 30; default min_votes = majority = 2.
 *   15: scores 2/3, 0, 0 -> 1 vote < 2: 0.5 * (1 + 2/9) / 2 = 0.30556
 *   25: scores .8, .6, 0 -> 2 votes: 0.5 + 0.5 * (0 + 1.4/3) / (3 - 2 + 1) = 0.61667 */
Test(detector_ensemble, vote_majority, .fini = teardown)
{
    setup_json("{\"type\":\"ensemble\",\"members\":[{\"type\":\"threshold\",\"high\":10},"
               "{\"type\":\"threshold\",\"high\":20},{\"type\":\"threshold\",\"high\":30}]}");
    struct kw_verdict v = feed(0, 5);
    cr_assert(v.ready);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.anomaly_score, 0, 1e-12);
    v = feed(1, 15);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.anomaly_score, 0.5 * (1 + 2.0 / 9) / 2, 1e-12);
    cr_assert_float_eq(v.score, 1, 0);
    v = feed(2, 25);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.anomaly_score, 0.5 + 0.5 * (1.4 / 3) / 2, 1e-12);
    cr_assert_float_eq(v.score, 2, 0);
    /* Bounds from the most confident member (high 10). */
    cr_assert_float_eq(v.expected, 10, 0);
    cr_assert_float_eq(v.upper, 10, 0);
    cr_assert_eq(v.direction, 1);
    v = feed(3, 35);
    cr_assert(v.anomalous);
    cr_assert_gt(v.anomaly_score, 0.61667 + 0.1); /* a third vote raises it */
}

Test(detector_ensemble, vote_min_votes_one, .fini = teardown)
{
    setup_json("{\"type\":\"ensemble\",\"min_votes\":1,\"members\":[{\"type\":\"threshold\",\"high\":10},"
               "{\"type\":\"threshold\",\"high\":20}]}");
    struct kw_verdict v = feed(0, 15);
    cr_assert(v.anomalous);
    /* 0.5 + 0.5 * (1 - 1 + mean) / (2 - 1 + 1), mean = (2/3) / 2 */
    cr_assert_float_eq(v.anomaly_score, 0.5 + 0.5 * (1.0 / 3) / 2, 1e-12);
}

/* 15: max(2/3, 0); members' expected from the high-10 member. */
Test(detector_ensemble, max_takes_strongest_member, .fini = teardown)
{
    setup_json("{\"type\":\"ensemble\",\"combine\":\"max\",\"members\":[{\"type\":\"threshold\",\"high\":20},"
               "{\"type\":\"threshold\",\"high\":10}]}");
    struct kw_verdict v = feed(0, 15);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.anomaly_score, 2.0 / 3, 1e-12);
    cr_assert_float_eq(v.expected, 10, 0);
    v = feed(1, 5);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.anomaly_score, 0, 0);
}

/* Weights 1 and 3: 15 gives (2/3 + 0) / 4 = 1/6 (quiet); 25 gives
 * (.8 + 3 * .6) / 4 = .65 (anomalous). */
Test(detector_ensemble, weighted_mean_of_scores, .fini = teardown)
{
    setup_json("{\"type\":\"ensemble\",\"combine\":\"weighted\",\"weights\":[1,3],"
               "\"members\":[{\"type\":\"threshold\",\"high\":10},{\"type\":\"threshold\",\"high\":20}]}");
    struct kw_verdict v = feed(0, 15);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.anomaly_score, 1.0 / 6, 1e-12);
    v = feed(1, 25);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.anomaly_score, 0.65, 1e-12);
}

Test(detector_ensemble, weighted_defaults_to_equal_weights, .fini = teardown)
{
    setup_json("{\"type\":\"ensemble\",\"combine\":\"weighted\","
               "\"members\":[{\"type\":\"threshold\",\"high\":10},{\"type\":\"threshold\",\"high\":20}]}");
    cr_assert_float_eq(feed(0, 25).anomaly_score, 0.7, 1e-12);
}

/* Each member's own direction (and warmup, min_delta) applies before voting. */
Test(detector_ensemble, member_rules_apply_before_combining, .fini = teardown)
{
    setup_json("{\"type\":\"ensemble\",\"min_votes\":2,\"members\":["
               "{\"type\":\"threshold\",\"low\":0,\"high\":10,\"direction\":\"up\"},"
               "{\"type\":\"threshold\",\"low\":0,\"high\":10,\"warmup\":1}]}");
    /* Member 2 is still warming up: only 1 ready < 2 votes needed. */
    cr_assert_not(feed(0, 50).ready);
    struct kw_verdict v = feed(1, -5);
    cr_assert(v.ready);
    cr_assert_not(v.anomalous, "member 1 only alerts upwards");
    cr_assert_eq(v.direction, -1);
    cr_assert(feed(2, 50).anomalous);
}

/* Vote needs min_votes ready members; max is ready with one. */
Test(detector_ensemble, readiness_follows_members, .fini = teardown)
{
    setup_json("{\"type\":\"ensemble\",\"min_votes\":2,\"members\":[{\"type\":\"threshold\",\"high\":100},"
               "{\"type\":\"holt_winters\",\"season\":\"2h\"}]}");
    for (int p = 0; p < 4; p++)
        cr_assert_not(feed(p, p % 2 ? 5 : 1).ready, "p=%d", p);
    cr_assert(feed(4, 1).ready);
    teardown();
    setup_json("{\"type\":\"ensemble\",\"combine\":\"max\",\"members\":[{\"type\":\"threshold\",\"high\":100},"
               "{\"type\":\"holt_winters\",\"season\":\"2h\"}]}");
    cr_assert(feed(0, 1).ready);
}

Test(detector_ensemble, nan_is_not_ready, .fini = teardown)
{
    setup_json("{\"type\":\"ensemble\",\"members\":[{\"type\":\"threshold\",\"high\":1},"
               "{\"type\":\"threshold\",\"high\":2}]}");
    struct kw_verdict v = feed(0, NAN);
    cr_assert_not(v.ready);
    cr_assert_not(v.anomalous);
    cr_assert(feed(1, 5).anomalous);
}

static const char *mixed_cfg = "{\"type\":\"ensemble\",\"members\":[{\"type\":\"holt_winters\"},"
                               "{\"type\":\"seasonal\"},{\"type\":\"esd\",\"season\":\"1d\",\"window\":72}]}";

Test(detector_ensemble, round_trip_is_bit_identical, .fini = teardown)
{
    setup_json(mixed_cfg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int64_t t = 0;
    for (; t < 24 * 4; t++)
        feed(t, rig_daily_sine(t, 24, rng, 5));
    struct kw_detector_state st2;
    rig_clone_state(&fx, &st2, false);
    cr_assert_eq(fx.det.type->state_bytes(st2.impl), fx.det.type->state_bytes(fx.st.impl));
    int ready = 0, alarms = 0;
    for (int i = 0; i < 24 * 3; i++, t++) {
        double v = i % 13 == 1 ? NAN : rig_daily_sine(t, 24, rng, 5) + (i % 30 == 20 ? 90 : 0);
        struct kw_verdict a = feed(t, v), b = feed_to(&st2, t, v);
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "verdicts differ at t=%lld", (long long)t);
        ready += a.ready;
        alarms += a.anomalous;
    }
    cr_assert_gt(ready, 60);
    cr_assert_geq(alarms, 2);
    kw_detector_state_release(&st2, &fx.det);
    gsl_rng_free(rng);
}

/* A document for another member list fails as a whole and leaves the state
 * as it was: member 0 loads fine, member 1 does not, and member 0 must not
 * keep what it loaded. */
Test(detector_ensemble, load_rejects_mismatch_atomically, .fini = teardown)
{
    setup_json("{\"type\":\"ensemble\",\"members\":[{\"type\":\"threshold\",\"high\":1},"
               "{\"type\":\"esd\",\"window\":16}]}");
    cJSON *bad = cJSON_Parse("[{\"type\":\"threshold\",\"seen\":3,\"state\":{}},"
                             "{\"type\":\"esd\",\"seen\":3,\"state\":{\"started\":true,\"last\":2,\"values\":[1,2]}}]");
    cr_assert_eq(fx.det.type->state_load(fx.st.impl, fx.det.cfg, bad), -1);
    cJSON_Delete(bad);
    bad = cJSON_Parse("[{\"type\":\"threshold\",\"seen\":3,\"state\":{}}]");
    cr_assert_eq(fx.det.type->state_load(fx.st.impl, fx.det.cfg, bad), -1);
    cJSON_Delete(bad);
    cJSON *saved = fx.det.type->state_save(fx.st.impl, fx.det.cfg);
    const cJSON *member;
    cJSON_ArrayForEach(member, saved)
        cr_assert_float_eq(cJSON_GetObjectItemCaseSensitive(member, "seen")->valuedouble, 0, 0);
    cJSON_Delete(saved);
}

/* Vote of holt_winters, seasonal and esd on 60 days of a seeded daily sine
 * (noise sd 5): every +-60 spike is caught and the clean points raise at
 * most 0.2% false alarms (10 seeds gave 0 to 2 of 1392). */
Test(detector_ensemble, daily_sine_spikes_and_false_alarms, .fini = teardown)
{
    setup_json("{\"type\":\"ensemble\",\"members\":[{\"type\":\"holt_winters\"},{\"type\":\"seasonal\"},"
               "{\"type\":\"esd\",\"season\":\"1d\",\"window\":168}]}");
    struct rig_spike_count c = rig_daily_sine_spikes(&fx, 24, 60, false);
    cr_assert_eq(c.caught, 12, "caught %d of 12 spikes", c.caught);
    cr_assert_leq(c.false_alarms, c.ready / 500, "%d false alarms in %d", c.false_alarms, c.ready);
}

static void expect_error(const char *json, const char *msg)
{
    char err[KW_ERR_LEN];
    struct kw_detector d;
    cJSON *obj = cJSON_Parse(json);
    cr_assert_not_null(obj, "%s", json);
    cr_assert_eq(kw_detector_parse(&d, obj, "kpis[0].detector", err, sizeof err), -1, "%s", json);
    cr_assert_str_eq(err, msg);
    cJSON_Delete(obj);
}

#define T10 "{\"type\":\"threshold\",\"high\":10}"

Test(detector_ensemble, config_errors_name_the_key_path)
{
    expect_error("{\"type\":\"ensemble\"}", "kpis[0].detector.members: is required");
    expect_error("{\"type\":\"ensemble\",\"members\":{}}",
                 "kpis[0].detector.members: must be an array of detector objects");
    expect_error("{\"type\":\"ensemble\",\"members\":[" T10 "]}",
                 "kpis[0].detector.members: needs 2 to 16 detectors (got 1)");
    expect_error("{\"type\":\"ensemble\",\"members\":[" T10 ",{\"type\":\"ensemble\",\"members\":[" T10 "," T10 "]}]}",
                 "kpis[0].detector.members[1].type: an ensemble cannot contain another ensemble");
    expect_error("{\"type\":\"ensemble\",\"members\":[{\"type\":\"threshold\",\"high\":\"x\"}," T10 "]}",
                 "kpis[0].detector.members[0].high: must be a number");
    expect_error("{\"type\":\"ensemble\",\"members\":[" T10 ",{\"type\":\"esd\",\"window\":4}]}",
                 "kpis[0].detector.members[1].window: must be >= 16");
    expect_error("{\"type\":\"ensemble\",\"members\":[" T10 ",{\"high\":3}]}",
                 "kpis[0].detector.members[1].type: is required (a detector name)");
    expect_error("{\"type\":\"ensemble\",\"combine\":\"weighted\",\"weights\":[1,2,3],\"members\":[" T10 "," T10 "]}",
                 "kpis[0].detector.weights: has 3 entries but members has 2");
    expect_error("{\"type\":\"ensemble\",\"combine\":\"weighted\",\"weights\":[1,-2],\"members\":[" T10 "," T10 "]}",
                 "kpis[0].detector.weights[1]: must be a number >= 0");
    expect_error("{\"type\":\"ensemble\",\"combine\":\"weighted\",\"weights\":[0,0],\"members\":[" T10 "," T10 "]}",
                 "kpis[0].detector.weights: at least one weight must be > 0");
    expect_error("{\"type\":\"ensemble\",\"weights\":[1,2],\"members\":[" T10 "," T10 "]}",
                 "kpis[0].detector.weights: only used with combine \"weighted\"");
    expect_error("{\"type\":\"ensemble\",\"min_votes\":3,\"members\":[" T10 "," T10 "]}",
                 "kpis[0].detector.min_votes: must be <= the number of members (2)");
    expect_error("{\"type\":\"ensemble\",\"combine\":\"max\",\"min_votes\":1,\"members\":[" T10 "," T10 "]}",
                 "kpis[0].detector.min_votes: only used with combine \"vote\"");
    expect_error("{\"type\":\"ensemble\",\"combine\":\"mean\",\"members\":[" T10 "," T10 "]}",
                 "kpis[0].detector.combine: must be one of: vote, max, weighted (got \"mean\")");
}

/* accepts() checks every member against the series. */
Test(detector_ensemble, accepts_checks_every_member)
{
    char err[KW_ERR_LEN];
    struct kw_detector d;
    cJSON *obj = cJSON_Parse("{\"type\":\"ensemble\",\"members\":[" T10 ",{\"type\":\"holt_winters\",\"season\":\"90m\"}]}");
    cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), 0, "%s", err);
    cr_assert_eq(kw_detector_accepts(&d, &fx.info, err, sizeof err), -1);
    cr_assert_str_eq(err, "members[1] (holt_winters): season (5400s) must be a multiple of the interval (3600s)");
    struct kw_series_info half_hour = {.interval_ms = HOUR / 2};
    cr_assert_eq(kw_detector_accepts(&d, &half_hour, err, sizeof err), 0, "%s", err);
    kw_detector_release(&d);
    cJSON_Delete(obj);

    /* A ratio-only member on a plain KPI, when that detector is built in. */
    if (kw_detector_type_find("binomial")) {
        obj = cJSON_Parse("{\"type\":\"ensemble\",\"members\":[" T10 ",{\"type\":\"binomial\"}]}");
        cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), 0, "%s", err);
        cr_assert_eq(kw_detector_accepts(&d, &fx.info, err, sizeof err), -1);
        cr_assert(strncmp(err, "members[1] (binomial): ", 23) == 0, "%s", err);
        kw_detector_release(&d);
        cJSON_Delete(obj);
    }
}
