/* Unit tests for the threshold detector and the generic verdict rules
 * (direction, min_delta, warmup) that every detector shares. */
#include <criterion/criterion.h>
#include <math.h>

#include "detector_rig.h"

static struct rig fx;

static void setup_json(const char *json)
{
    rig_init(&fx, json);
}

static void teardown(void)
{
    rig_release(&fx);
}

static struct kw_verdict feed(double v)
{
    return rig_feed(&fx, v);
}

Test(detector_threshold, flags_values_outside_bounds, .fini = teardown)
{
    setup_json("{\"type\":\"threshold\",\"low\":10,\"high\":20}");
    struct kw_verdict v = feed(15);
    cr_assert(v.ready);
    cr_assert_not(v.anomalous);
    v = feed(25);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, 1);
    cr_assert_float_eq(v.expected, 20, 1e-12);
    cr_assert_geq(v.anomaly_score, 0.5);
    v = feed(5);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, -1);
}

Test(detector_threshold, direction_up_ignores_dips, .fini = teardown)
{
    setup_json("{\"type\":\"threshold\",\"low\":10,\"high\":20,\"direction\":\"up\"}");
    cr_assert_not(feed(5).anomalous);
    cr_assert(feed(25).anomalous);
}

Test(detector_threshold, min_delta_suppresses_small_moves, .fini = teardown)
{
    setup_json("{\"type\":\"threshold\",\"high\":20,\"min_delta\":3}");
    struct kw_verdict v = feed(22);
    cr_assert_not(v.anomalous);
    cr_assert_lt(v.anomaly_score, 0.5);
    cr_assert(feed(24).anomalous);
}

Test(detector_threshold, warmup_withholds_verdicts, .fini = teardown)
{
    setup_json("{\"type\":\"threshold\",\"high\":20,\"warmup\":2}");
    cr_assert_not(feed(100).ready);
    cr_assert_not(feed(100).ready);
    cr_assert(feed(100).anomalous);
}

Test(detector_threshold, nan_is_a_missing_interval, .fini = teardown)
{
    setup_json("{\"type\":\"threshold\",\"high\":20}");
    struct kw_verdict v = feed(NAN);
    cr_assert_not(v.ready);
    cr_assert_not(v.anomalous);
}

Test(detector_config, errors_name_the_key_path)
{
    char err[KW_ERR_LEN];
    struct kw_detector d;
    cJSON *obj = cJSON_Parse("{\"type\":\"threshold\",\"high\":20,\"hgih\":3}");
    cr_assert_eq(kw_detector_parse(&d, obj, "kpis[2].detector", err, sizeof err), -1);
    cr_assert(strstr(err, "kpis[2].detector.hgih: unknown key") != NULL, "%s", err);
    cJSON_Delete(obj);

    obj = cJSON_Parse("{\"type\":\"threshold\",\"high\":\"x\"}");
    cr_assert_eq(kw_detector_parse(&d, obj, "kpis[2].detector", err, sizeof err), -1);
    cr_assert_str_eq(err, "kpis[2].detector.high: must be a number");
    cJSON_Delete(obj);

    obj = cJSON_Parse("{\"type\":\"nope\"}");
    cr_assert_eq(kw_detector_parse(&d, obj, "kpis[0].detector", err, sizeof err), -1);
    cr_assert(strstr(err, "kpis[0].detector.type: unknown detector \"nope\"") != NULL, "%s", err);
    cJSON_Delete(obj);

    obj = cJSON_Parse("{\"type\":\"threshold\",\"high\":1,\"direction\":\"sideways\"}");
    cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), -1);
    cr_assert(strstr(err, "k.direction: must be one of: both, up, down") != NULL, "%s", err);
    cJSON_Delete(obj);
}

Test(detector_config, state_round_trip)
{
    setup_json("{\"type\":\"threshold\",\"high\":20}");
    feed(1);
    struct kw_detector_state st2;
    rig_clone_state(&fx, &st2, false);
    cr_assert_eq(st2.seen, 1);
    kw_detector_state_release(&st2, &fx.det);
    teardown();
}
