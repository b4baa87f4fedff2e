/* Unit tests for the series record: its sparkline history, the state file
 * written before the compact layout (tests/data/state-v1: a state file
 * saved after minute 30 of the stream below, and the intervals and alerts
 * of minutes 30-49 that followed it), and the alert state that only exists
 * while it says something. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/config.h"
#include "../../agent/pipeline.h"
#include "../../agent/statestore.h"
#include "../../lib/fileio.h"
#include "../../lib/jsonnum.h"
#include "../../lib/log.h"

#define STATE_V1 "tests/data/state-v1/state.json"
#define CONTINUED_V1 "tests/data/state-v1/continued.json"

#define FX_T0 1700000100000LL
#define FX_MIN 60000LL
#define FX_CONFIG                                                                                              \
    "{\"kpis\":["                                                                                              \
    "{\"name\":\"c_sum\",\"metric\":\"c\",\"aggregation\":\"sum\",\"interval\":\"1m\",\"lateness\":\"2m\","   \
    "\"fdr\":false,\"group_by\":[\"journey\"],\"detector\":{\"type\":\"threshold\",\"high\":50},"             \
    "\"alert\":{\"resolve_after\":2,\"flap_window\":\"10m\"}},"                                              \
    "{\"name\":\"c_last\",\"metric\":\"c\",\"aggregation\":\"last\",\"interval\":\"1m\",\"lateness\":\"2m\"," \
    "\"group_by\":[\"journey\"],\"detector\":{\"type\":\"threshold\",\"high\":30}},"                          \
    "{\"name\":\"c_max\",\"metric\":\"c\",\"aggregation\":\"max\",\"interval\":\"1m\",\"group_by\":[\"journey\"]," \
    "\"detector\":{\"type\":\"threshold\",\"high\":30}},"                                                     \
    "{\"name\":\"c_min\",\"metric\":\"c\",\"aggregation\":\"min\",\"interval\":\"1m\",\"group_by\":[\"journey\"]," \
    "\"detector\":{\"type\":\"threshold\",\"high\":30}},"                                                     \
    "{\"name\":\"c_q\",\"metric\":\"c\",\"aggregation\":\"quantile\",\"quantile\":0.9,\"quantile_samples\":16," \
    "\"interval\":\"1m\",\"group_by\":[\"journey\"],\"detector\":{\"type\":\"threshold\",\"high\":30}},"      \
    "{\"name\":\"drop\",\"metric\":\"d\",\"denominator\":\"e\",\"aggregation\":\"ratio\",\"interval\":\"1m\","  \
    "\"lateness\":\"1m\",\"group_by\":[\"journey\"],\"detector\":{\"type\":\"binomial\",\"min_points\":5,\"season\":\"none\"}},"   \
    "{\"name\":\"nps\",\"metric\":\"score\",\"aggregation\":\"nps\",\"interval\":\"1m\",\"group_by\":[\"journey\"]," \
    "\"detector\":{\"type\":\"ewma\",\"min_points\":5}}"                                                       \
    "]}"

/* Minute i of the stream: a few points per journey, with a spike on
 * checkout in minutes 10-12 and from minute 40 on. */
static void fx_minute(struct kw_pipeline *p, int i)
{
    static const char *const journeys[] = {"checkout", "claims"};
    enum kw_reject why;
    for (int j = 0; j < 2; j++) {
        bool spike = j == 0 && ((i >= 10 && i <= 12) || i >= 40);
        for (int k = 0; k < 3; k++) {
            int64_t ts = FX_T0 + i * FX_MIN + 1000 + k * 7000;
            double v = spike ? 40 + k : 3.25 + 0.1 * ((i * 7 + k * 3 + j) % 5);
            struct kw_point pt = {.metric = "c", .value = v, .ts_ms = ts};
            pt.labels[0] = (struct kw_label){"journey", journeys[j]};
            pt.nlabels = 1;
            kw_pipeline_point(p, &pt, &why);
            pt.metric = "e";
            pt.value = 100 + (i % 3);
            kw_pipeline_point(p, &pt, &why);
            pt.metric = "d";
            pt.value = spike ? 30 : 2 + (i + k) % 3;
            kw_pipeline_point(p, &pt, &why);
            pt.metric = "score";
            pt.value = (i + k + j) % 11;
            kw_pipeline_point(p, &pt, &why);
        }
        kw_pipeline_tick(p, 0);
    }
}

static struct kw_config cfg;
static struct kw_pipeline pipe_;
static cJSON *seen; /* {"intervals": [...], "alerts": [...]} as the fixture records them */

static void on_interval(void *ctx, const struct kw_series *s, const struct kw_kpi_config *kpi,
                        const struct kw_sample *sample, const struct kw_verdict *v)
{
    double f[] = {(double)sample->ts_ms, sample->value, v->ready ? v->expected : NAN};
    cJSON *o = cJSON_CreateArray();
    cJSON_AddItemToArray(o, cJSON_CreateString(kpi->name));
    cJSON_AddItemToArray(o, cJSON_CreateString(s->values));
    cJSON_AddItemToArray(o, kw_json_doubles(f, 3));
    cJSON_AddItemToArray(cJSON_GetObjectItem(seen, "intervals"), o);
}

static void on_alert(void *ctx, const struct kw_alert *a)
{
    cJSON_AddItemToArray(cJSON_GetObjectItem(seen, "alerts"), kw_alert_save(a));
}

static void setup(void)
{
    kw_log_set_level(KW_LOG_OFF);
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_config_parse(&cfg, FX_CONFIG, "t.json", err, sizeof err), 0, "%s", err);
    kw_pipeline_init(&pipe_, &cfg);
    seen = cJSON_CreateObject();
    cJSON_AddArrayToObject(seen, "intervals");
    cJSON_AddArrayToObject(seen, "alerts");
}

static void teardown(void)
{
    kw_pipeline_release(&pipe_);
    kw_config_release(&cfg);
    cJSON_Delete(seen);
}

static cJSON *read_json(const char *path)
{
    char err[KW_ERR_LEN];
    char *text = kw_read_file(path, 1 << 20, NULL, err, sizeof err);
    cr_assert_not_null(text, "%s: %s", path, err);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(j, "%s: not JSON", path);
    return j;
}

/* The same JSON value, numbers equal as doubles: the state file writes
 * them as exact raw text, which reads back as numbers. */
static bool same(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return a == b;
    if (cJSON_IsRaw(a) || cJSON_IsRaw(b)) {
        cJSON *x = cJSON_IsRaw(a) ? cJSON_Parse(a->valuestring) : cJSON_Duplicate(a, true);
        cJSON *y = cJSON_IsRaw(b) ? cJSON_Parse(b->valuestring) : cJSON_Duplicate(b, true);
        bool eq = x && y && !cJSON_IsRaw(x) && !cJSON_IsRaw(y) && same(x, y);
        cJSON_Delete(x);
        cJSON_Delete(y);
        return eq;
    }
    if ((a->type & 0xff) != (b->type & 0xff))
        return false;
    if (cJSON_IsNumber(a))
        return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
            return false;
        for (const cJSON *x = a->child, *y = b->child; x; x = x->next, y = y->next)
            if ((cJSON_IsObject(a) && strcmp(x->string, y->string) != 0) || !same(x, y))
                return false;
    }
    return true;
}

static struct kw_series *find_series(const char *kpi, const char *value)
{
    for (size_t i = 0; i < pipe_.table.cap; i++) {
        struct kw_series *s = pipe_.table.slots[i];
        if (s && strcmp(cfg.kpis[s->kpi].name, kpi) == 0 && strcmp(s->values, value) == 0)
            return s;
    }
    return NULL;
}

Test(series, history_returns_the_last_24_values_in_order_after_wrapping, .init = setup, .fini = teardown)
{
    struct kw_series *s = kw_series_new(&cfg.kpis[0], 0, 1, "x", 2, 0);
    double got[KW_ALERT_HISTORY];
    cr_assert_eq(kw_series_history(s, got), 0);
    for (int i = 1; i <= 30; i++)
        kw_series_history_push(s, i + 0.1); /* not a float: history keeps doubles */
    cr_assert_eq(kw_series_history(s, got), KW_ALERT_HISTORY);
    for (int i = 0; i < KW_ALERT_HISTORY; i++)
        cr_assert_eq(got[i], 7 + i + 0.1, "value %d: %.17g", i, got[i]);
    kw_series_free(s, &cfg.kpis[0]);
}

/* A state file written before the compact layout restores every series,
 * and the stream goes on exactly as it did for the agent that wrote it:
 * the same samples, expected values and alerts (with their history). */
Test(state_v1, an_old_state_file_loads_and_goes_on_as_before, .init = setup, .fini = teardown)
{
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_state_load(&pipe_, STATE_V1, err, sizeof err), 14, "%s", err);
    kw_pipeline_on_interval(&pipe_, on_interval, NULL);
    pipe_.on_alert = on_alert;
    for (int i = 30; i < 50; i++)
        fx_minute(&pipe_, i);
    kw_pipeline_flush(&pipe_);
    cJSON *want = read_json(CONTINUED_V1);
    const cJSON *wi = cJSON_GetObjectItem(want, "intervals"), *gi = cJSON_GetObjectItem(seen, "intervals");
    cr_assert_eq(cJSON_GetArraySize(gi), cJSON_GetArraySize(wi));
    for (int i = 0; i < cJSON_GetArraySize(wi); i++) {
        char *w = cJSON_PrintUnformatted(cJSON_GetArrayItem(wi, i)), *g = cJSON_PrintUnformatted(cJSON_GetArrayItem(gi, i));
        cr_assert(same(cJSON_GetArrayItem(wi, i), cJSON_GetArrayItem(gi, i)), "interval %d: %s, was %s", i, g, w);
        free(w);
        free(g);
    }
    const cJSON *wa = cJSON_GetObjectItem(want, "alerts"), *ga = cJSON_GetObjectItem(seen, "alerts");
    cr_assert_gt(cJSON_GetArraySize(wa), 0, "the fixture holds alerts: the test tests them");
    cr_assert_eq(cJSON_GetArraySize(ga), cJSON_GetArraySize(wa));
    for (int i = 0; i < cJSON_GetArraySize(wa); i++) {
        char *w = cJSON_PrintUnformatted(cJSON_GetArrayItem(wa, i)), *g = cJSON_PrintUnformatted(cJSON_GetArrayItem(ga, i));
        cr_assert(same(cJSON_GetArrayItem(wa, i), cJSON_GetArrayItem(ga, i)), "alert %d: %s, was %s", i, g, w);
        free(w);
        free(g);
    }
    cJSON_Delete(want);
}

/* Saved again, an old file's series keep everything their KPI reads: the
 * clock, history, detector and alert state bit for bit, and of each open
 * interval the fields of its aggregation (the others are not kept). */
Test(state_v1, a_restored_series_saves_what_it_loaded, .init = setup, .fini = teardown)
{
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_state_load(&pipe_, STATE_V1, err, sizeof err), 14, "%s", err);
    cJSON *old = read_json(STATE_V1);
    static const struct {
        const char *kpi;
        int fields[4], n; /* indexes into a ring entry: sum den last min max last_ts count den_count pos neg */
    } kept[] = {{"c_sum", {0, 6}, 2}, {"c_last", {2, 5, 6}, 3}, {"c_max", {4, 6}, 2}, {"c_min", {3, 6}, 2},
                {"c_q", {6}, 1}, {"drop", {0, 1, 6, 7}, 4}, {"nps", {6, 8, 9}, 3}};
    const cJSON *o;
    int checked = 0, with_alert = 0;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(old, "series")) {
        const char *kpi = cJSON_GetObjectItem(o, "kpi")->valuestring;
        struct kw_series *s = find_series(kpi, cJSON_GetArrayItem(cJSON_GetObjectItem(o, "values"), 0)->valuestring);
        cr_assert_not_null(s, "%s not restored", kpi);
        cJSON *now = kw_state_series_json(&pipe_, s);
        static const char *const exact[] = {"values", "open_start", "last_point_ts", "history", "history_pos",
                                            "history_len", "detector", "alert", "samples"};
        for (size_t f = 0; f < sizeof exact / sizeof exact[0]; f++)
            if (!same(cJSON_GetObjectItem(o, exact[f]), cJSON_GetObjectItem(now, exact[f]))) {
                char *w = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, exact[f]));
                char *g = cJSON_PrintUnformatted(cJSON_GetObjectItem(now, exact[f]));
                cr_assert_fail("%s: %s is %s, was %s", kpi, exact[f], g, w);
            }
        int k = 0;
        while (strcmp(kept[k].kpi, kpi) != 0)
            k++;
        const cJSON *rw = cJSON_GetObjectItem(o, "ring"), *rn = cJSON_GetObjectItem(now, "ring");
        cr_assert_eq(cJSON_GetArraySize(rn), cJSON_GetArraySize(rw));
        for (int b = 0; b < cJSON_GetArraySize(rw); b++)
            for (int f = 0; f < kept[k].n; f++)
                cr_assert(same(cJSON_GetArrayItem(cJSON_GetArrayItem(rw, b), kept[k].fields[f]),
                               cJSON_GetArrayItem(cJSON_GetArrayItem(rn, b), kept[k].fields[f])),
                          "%s: ring[%d][%d] differs", kpi, b, kept[k].fields[f]);
        with_alert += s->alert.more != NULL;
        cJSON_Delete(now);
        checked++;
    }
    cr_assert_eq(checked, 14);
    cr_assert_eq(with_alert, 6, "the series that had an incident keep its state; the others hold none");
    cJSON_Delete(old);
}

/* The alert state beyond phase and nodata mark exists only while it says
 * something: a series that never alerted holds none, one that resolved
 * gives it back once its flap window has passed, and an incident takes it
 * again. */
Test(series, the_alert_state_is_held_only_while_it_says_something, .init = setup, .fini = teardown)
{
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_state_load(&pipe_, STATE_V1, err, sizeof err), 14, "%s", err);
    struct kw_series *calm = find_series("c_sum", "claims"), *hit = find_series("c_sum", "checkout");
    cr_assert_null(calm->alert.more);
    cr_assert_not_null(hit->alert.more, "resolved at minute 14, its 10-minute flap window still counting");
    cr_assert_eq(hit->alert.phase, KW_PHASE_OK);
    fx_minute(&pipe_, 30);
    fx_minute(&pipe_, 31);
    cr_assert_null(hit->alert.more, "the flap window has passed: nothing left to remember");
    for (int i = 32; i < 46; i++)
        fx_minute(&pipe_, i);
    cr_assert_eq(hit->alert.phase, KW_PHASE_FIRING);
    cr_assert_not_null(hit->alert.more);
    cr_assert_null(calm->alert.more);
}

Test(series, a_bucket_keeps_only_what_its_aggregation_reads)
{
    cr_assert_eq(sizeof(struct kw_bucket), 24);
    struct kw_bucket b = {0};
    kw_bucket_reset(&b, KW_AGG_LAST);
    kw_bucket_add(&b, KW_AGG_LAST, KW_ROLE_VALUE, 5, 2000);
    kw_bucket_add(&b, KW_AGG_LAST, KW_ROLE_VALUE, 7, 1000); /* earlier event time: not the last */
    cr_assert_eq(kw_bucket_sample(&b, KW_AGG_LAST, 0, 0).value, 5);
    kw_bucket_reset(&b, KW_AGG_MIN);
    cr_assert(isnan(kw_bucket_sample(&b, KW_AGG_MIN, 0, 0).value), "an empty interval is missing");
    kw_bucket_add(&b, KW_AGG_MIN, KW_ROLE_VALUE, 5, 0);
    kw_bucket_add(&b, KW_AGG_MIN, KW_ROLE_VALUE, -2, 0);
    cr_assert_eq(kw_bucket_sample(&b, KW_AGG_MIN, 0, 0).value, -2);
    kw_bucket_reset(&b, KW_AGG_RATIO);
    kw_bucket_add(&b, KW_AGG_RATIO, KW_ROLE_VALUE, 3, 0);
    kw_bucket_add(&b, KW_AGG_RATIO, KW_ROLE_DENOMINATOR, 12, 0);
    cr_assert_eq(kw_bucket_sample(&b, KW_AGG_RATIO, 0, 0).value, 0.25);
    double f[KW_BUCKET_FIELDS];
    kw_bucket_fields(&b, KW_AGG_RATIO, f);
    struct kw_bucket back = {0};
    kw_bucket_reset(&back, KW_AGG_RATIO);
    kw_bucket_set_fields(&back, KW_AGG_RATIO, f);
    cr_assert(back.sum == 3 && back.den == 12 && back.count == 1 && back.den_count == 1);
}
