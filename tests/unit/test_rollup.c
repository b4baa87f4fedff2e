/* Unit tests for roll-ups (KPIs summed up over fewer labels, their root-
 * cause contributors and decision order) and nodata alerts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/alerting.h"
#include "../../agent/config.h"
#include "../../agent/pipeline.h"
#include "../../lib/log.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */
#define MIN 60000LL

static struct kw_config cfg;
static struct kw_pipeline pipe_;
static struct kw_alert alerts[64];
static int nalerts;

static void on_alert(void *ctx, const struct kw_alert *a)
{
    (void)ctx;
    if (nalerts < 64)
        alerts[nalerts] = *a;
    nalerts++;
}

static void setup(const char *json)
{
    kw_log_set_level(KW_LOG_OFF);
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_config_parse(&cfg, json, "t.json", err, sizeof err), 0, "%s", err);
    kw_pipeline_init(&pipe_, &cfg);
    pipe_.on_alert = on_alert;
    pipe_.alert_ctx = NULL;
    nalerts = 0;
}

static void teardown(void)
{
    kw_pipeline_release(&pipe_);
    kw_config_release(&cfg);
}

static void point(const char *journey, const char *step, double value, int64_t ts)
{
    struct kw_point pt = {.metric = "complaints", .value = value, .ts_ms = ts};
    pt.labels[0] = (struct kw_label){"journey", journey};
    pt.labels[1] = (struct kw_label){"step", step};
    pt.nlabels = 2;
    enum kw_reject why;
    cr_assert_eq(kw_pipeline_point(&pipe_, &pt, &why), 0);
}

static const char *const ROLLUP_CONFIG =
    "{\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"interval\":\"1m\",\"lateness\":\"0s\","
    "\"group_by\":[\"journey\",\"step\"],\"rollups\":[[\"journey\"],[]],\"detector\":{\"type\":\"zscore\"},"
    "\"alert\":{\"for\":1,\"resolve_after\":2}}]}";

Test(rollup, config_adds_one_kpi_per_rollup)
{
    setup(ROLLUP_CONFIG);
    cr_assert_eq(cfg.nkpis, 3);
    cr_assert_str_eq(cfg.kpis[1].name, "complaints:journey");
    cr_assert_str_eq(cfg.kpis[2].name, "complaints:total");
    cr_assert_eq(cfg.kpis[0].rollup_of, -1);
    cr_assert_eq(cfg.kpis[1].rollup_of, 0);
    cr_assert_eq(cfg.kpis[2].rollup_of, 0);
    cr_assert_eq(cfg.kpis[1].group_by.n, 1);
    cr_assert_str_eq(cfg.kpis[1].group_by.items[0], "journey");
    cr_assert_eq(cfg.kpis[2].group_by.n, 0);
    cr_assert_str_eq(cfg.kpis[2].detector.type->name, "zscore");
    cr_assert(cfg.kpis[1].rollup_inhibit);
    teardown();
}

static void expect_error(const char *json, const char *want)
{
    struct kw_config c;
    char err[KW_ERR_LEN];
    kw_log_set_level(KW_LOG_OFF);
    cr_assert_neq(kw_config_parse(&c, json, "t.json", err, sizeof err), 0);
    cr_assert_str_eq(err, want);
}

Test(rollup, bad_rollups_name_the_key)
{
    expect_error("{\"kpis\":[{\"name\":\"c\",\"metric\":\"c\",\"group_by\":[\"journey\",\"step\"],"
                 "\"rollups\":[[\"journey\"],[\"nope\"]]}]}",
                 "t.json: kpis[0].rollups[1][0]: \"nope\" is not one of group_by");
    expect_error("{\"kpis\":[{\"name\":\"c\",\"metric\":\"c\",\"group_by\":[\"journey\"],\"rollups\":[[\"journey\"]]}]}",
                 "t.json: kpis[0].rollups[0]: must name fewer labels than group_by");
    expect_error("{\"kpis\":[{\"name\":\"c\",\"metric\":\"c\",\"group_by\":[\"journey\",\"step\",\"channel\"],"
                 "\"rollups\":[[\"step\",\"step\"]]}]}",
                 "t.json: kpis[0].rollups[0][1]: \"step\" is named twice");
    expect_error("{\"kpis\":[{\"name\":\"c\",\"metric\":\"c\",\"group_by\":[\"journey\"],\"rollups\":\"journey\"}]}",
                 "t.json: kpis[0].rollups: must be an array of label lists, e.g. [[\"journey\"], []]");
    expect_error("{\"kpis\":[{\"name\":\"c\",\"metric\":\"c\",\"group_by\":[\"journey\"],\"rollups\":[[]]},"
                 "{\"name\":\"c:total\",\"metric\":\"d\"}]}",
                 "t.json: kpis[0].rollups[0]: its name \"c:total\" is already used by kpis[1]");
}

/* Three steps of checkout at a steady 20 each with a little wobble, then
 * payment jumps by 60 and address by 20: the roll-ups fire, payment leads
 * their contributors with 3/4 of the excess. */
static void steady_then_spike(void)
{
    static const char *const steps[] = {"cart", "address", "payment"};
    for (int i = 0; i < 120; i++) {
        for (int s = 0; s < 3; s++) {
            double v = 20 + ((i * 7 + s * 3) % 5) - 2;
            if (i == 110)
                v += s == 2 ? 60 : s == 1 ? 20 : 0;
            point("checkout", steps[s], v, T0 + i * MIN + 1000);
        }
        kw_pipeline_tick(&pipe_, 0);
    }
}

Test(rollup, contributors_rank_children_by_their_share_of_the_excess)
{
    setup(ROLLUP_CONFIG);
    steady_then_spike();
    const struct kw_alert *total = NULL;
    for (int i = 0; i < nalerts && i < 64; i++)
        if (strcmp(alerts[i].kpi, "complaints:total") == 0 && alerts[i].status == KW_ALERT_FIRING)
            total = &alerts[i];
    cr_assert_not_null(total, "the total roll-up did not fire");
    cr_assert_str_eq(total->rollup_of, "complaints");
    cr_assert_eq(total->at_ms, T0 + 110 * MIN);
    cr_assert_geq(total->ncontributors, 2);
    cr_assert_str_eq(total->contributors[0].labels, "journey=checkout, step=payment");
    cr_assert_str_eq(total->contributors[1].labels, "journey=checkout, step=address");
    double sum = 0;
    for (int i = 0; i < total->ncontributors; i++)
        sum += total->contributors[i].share;
    cr_assert_float_eq(sum, 1.0, 1e-9);
    /* payment +60 and address +20 of about +80 in all */
    cr_assert_float_eq(total->contributors[0].share, 0.75, 0.06, "share %g", total->contributors[0].share);
    cr_assert_float_eq(total->contributors[0].excess, 60, 4, "excess %g", total->contributors[0].excess);
    cr_assert_gt(total->contributors[0].observed, total->contributors[0].expected);
    teardown();
}

/* Points for three intervals arrive before the agent ticks (a burst, or a
 * fast replay): the children have closed later intervals by the time the
 * roll-up's verdict is decided, and their figures for its interval come
 * from their own waiting verdicts. */
Test(rollup, contributors_when_children_closed_later_intervals_first)
{
    setup(ROLLUP_CONFIG);
    static const char *const steps[] = {"cart", "address", "payment"};
    for (int i = 0; i < 120; i++) {
        for (int s = 0; s < 3; s++) {
            double v = 20 + ((i * 7 + s * 3) % 5) - 2;
            if (i == 110)
                v += s == 2 ? 60 : s == 1 ? 20 : 0;
            point("checkout", steps[s], v, T0 + i * MIN + 1000);
        }
        if (i % 3 == 2)
            kw_pipeline_tick(&pipe_, 0);
    }
    const struct kw_alert *total = NULL;
    for (int i = 0; i < nalerts && i < 64; i++)
        if (strcmp(alerts[i].kpi, "complaints:total") == 0 && alerts[i].status == KW_ALERT_FIRING)
            total = &alerts[i];
    cr_assert_not_null(total, "the total roll-up did not fire");
    cr_assert_geq(total->ncontributors, 2, "no contributors");
    cr_assert_str_eq(total->contributors[0].labels, "journey=checkout, step=payment");
    cr_assert_float_eq(total->contributors[0].excess, 60, 4, "excess %g", total->contributors[0].excess);
    teardown();
}

Test(rollup, rollups_decide_before_their_children_coarsest_first)
{
    setup(ROLLUP_CONFIG);
    steady_then_spike();
    int total = -1, journey = -1, child = -1;
    for (int i = 0; i < nalerts && i < 64; i++) {
        if (alerts[i].status != KW_ALERT_FIRING || alerts[i].at_ms != T0 + 110 * MIN)
            continue;
        if (strcmp(alerts[i].kpi, "complaints:total") == 0 && total < 0)
            total = i;
        else if (strcmp(alerts[i].kpi, "complaints:journey") == 0 && journey < 0)
            journey = i;
        else if (strcmp(alerts[i].kpi, "complaints") == 0 && child < 0)
            child = i;
    }
    cr_assert(total >= 0 && journey >= 0 && child >= 0, "%d %d %d", total, journey, child);
    cr_assert_lt(total, journey);
    cr_assert_lt(journey, child);
    cr_assert_eq(alerts[child].ncontributors, 0);
    cr_assert_str_eq(alerts[child].rollup_of, "");
    teardown();
}

static const char *const NODATA_CONFIG =
    "{\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"interval\":\"1m\",\"lateness\":\"0s\","
    "\"group_by\":[\"journey\",\"step\"],\"detector\":{\"type\":\"threshold\",\"high\":1000},"
    "\"alert\":{\"nodata_after\":3}}]}";

Test(nodata, a_silent_series_alerts_after_n_intervals_and_resolves_when_back)
{
    setup(NODATA_CONFIG);
    for (int i = 0; i < 20; i++) {
        point("checkout", "cart", 5, T0 + i * MIN + 1000);
        if (i < 10 || i >= 16)
            point("claims", "form", 5, T0 + i * MIN + 1000);
        kw_pipeline_tick(&pipe_, 0);
        if (i == 11)
            cr_assert_eq(nalerts, 0, "nodata fired before 3 silent intervals");
    }
    cr_assert_eq(nalerts, 2);
    const struct kw_alert *fire = &alerts[0], *back = &alerts[1];
    cr_assert_eq(fire->cause, KW_CAUSE_NODATA);
    cr_assert_eq(fire->status, KW_ALERT_FIRING);
    cr_assert_str_eq(fire->labels[0].value, "claims");
    cr_assert_str_eq(fire->detector, "nodata");
    cr_assert_eq(fire->since_ms, T0 + 10 * MIN, "since is the end of the last interval with data");
    cr_assert_geq(fire->intervals, 3);
    cr_assert_eq(back->status, KW_ALERT_RESOLVED);
    cr_assert_eq(back->cause, KW_CAUSE_NODATA);
    cr_assert_str_eq(back->key, fire->key);
    /* its own key: the series' anomaly alert keeps its own */
    struct kw_series *s = NULL;
    for (size_t i = 0; i < pipe_.table.cap; i++)
        if (pipe_.table.slots[i] && strcmp(pipe_.table.slots[i]->values, "claims") == 0)
            s = pipe_.table.slots[i];
    cr_assert_not_null(s);
    cr_assert_str_neq(fire->key, s->alert_key);
    cr_assert_eq(s->alert.nodata_since, INT64_MIN);
    teardown();
}

Test(nodata, off_by_default)
{
    setup("{\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"interval\":\"1m\",\"lateness\":\"0s\","
          "\"group_by\":[\"journey\",\"step\"],\"detector\":{\"type\":\"threshold\",\"high\":1000}}]}");
    for (int i = 0; i < 30; i++) {
        point("checkout", "cart", 5, T0 + i * MIN + 1000);
        if (i < 5)
            point("claims", "form", 5, T0 + i * MIN + 1000);
        kw_pipeline_tick(&pipe_, 0);
    }
    cr_assert_eq(nalerts, 0);
    teardown();
}

/* Through text, as the state file does. */
static cJSON *save_text(const struct kw_alert_state *st)
{
    cJSON *j = kw_alerting_save(st);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    j = cJSON_Parse(text);
    free(text);
    return j;
}

Test(nodata, open_nodata_survives_save_and_load)
{
    struct kw_alert_state st = {.phase = KW_PHASE_OK, .nodata_since = T0 + 5 * MIN, .last_anomalous_ms = 0};
    cJSON *j = save_text(&st);
    struct kw_alert_state back;
    memset(&back, 0, sizeof back);
    cr_assert_eq(kw_alerting_load(&back, j), 0);
    cr_assert_eq(back.nodata_since, T0 + 5 * MIN);
    cJSON_Delete(j);
    st.nodata_since = INT64_MIN;
    j = save_text(&st);
    cr_assert_eq(kw_alerting_load(&back, j), 0);
    cr_assert_eq(back.nodata_since, INT64_MIN);
    /* an older state (15 values) has no nodata alert open */
    cJSON *v = cJSON_GetObjectItem(j, "v");
    cJSON_DeleteItemFromArray(v, 15);
    back.nodata_since = 7;
    cr_assert_eq(kw_alerting_load(&back, j), 0);
    cr_assert_eq(back.nodata_since, INT64_MIN);
    /* a damaged one is refused */
    cJSON_AddItemToArray(v, cJSON_CreateNumber(1e300));
    cr_assert_eq(kw_alerting_load(&back, j), -1);
    cJSON_Delete(j);
}
