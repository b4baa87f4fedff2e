/* Unit tests for aggregation, event-time interval closing, lateness, the
 * series table, the alert state machine and the state store. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/alerting.h"
#include "../../agent/config.h"
#include "../../agent/fdr.h"
#include "../../lib/log.h"
#include "../../agent/pipeline.h"
#include "../../agent/statestore.h"
#include "../../agent/status.h"

#define T0 1700000100000LL /* a multiple of 1 minute */
#define MIN 60000LL

struct recorder {
    int n;
    struct kw_sample samples[512];
    struct kw_verdict verdicts[512];
    char series[512][64];
    int alerts;
    struct kw_alert last_alert;
    int firing, resolved;
};

static struct kw_config cfg;
static struct kw_pipeline pipe_;
static struct recorder rec;

static void on_interval(void *ctx, const struct kw_series *s, const struct kw_kpi_config *kpi,
                        const struct kw_sample *sample, const struct kw_verdict *v)
{
    struct recorder *r = ctx;
    if (r->n < 512) {
        r->samples[r->n] = *sample;
        r->verdicts[r->n] = *v;
        snprintf(r->series[r->n], 64, "%s/%s", kpi->name, s->values_len ? s->values : "");
    }
    r->n++;
}

static void on_alert(void *ctx, const struct kw_alert *a)
{
    struct recorder *r = ctx;
    r->alerts++;
    r->last_alert = *a;
    if (a->status == KW_ALERT_FIRING)
        r->firing++;
    else
        r->resolved++;
}

static void setup(const char *json)
{
    kw_log_set_level(KW_LOG_OFF);
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_config_parse(&cfg, json, "t.json", err, sizeof err), 0, "%s", err);
    kw_pipeline_init(&pipe_, &cfg);
    memset(&rec, 0, sizeof rec);
    kw_pipeline_on_interval(&pipe_, on_interval, &rec);
    pipe_.on_alert = on_alert;
    pipe_.alert_ctx = &rec;
}

static char *read_whole(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void teardown(void)
{
    kw_pipeline_release(&pipe_);
    kw_config_release(&cfg);
}

/* Save p's state to a new temporary file named from the mkstemp template
 * path; the test removes it (load_and_remove). */
static void save_to_temp(const struct kw_pipeline *p, char *path)
{
    close(mkstemp(path));
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_state_save(p, path, err, sizeof err), 0, "%s", err);
}

/* Load the state file at path into p, which must take series of it, then
 * remove the file. */
static void load_and_remove(struct kw_pipeline *p, const char *path, int series)
{
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_state_load(p, path, err, sizeof err), series, "%s", err);
    unlink(path);
}

static int send_point(const char *metric, const char *journey, double value, int64_t ts)
{
    struct kw_point pt = {.metric = metric, .value = value, .ts_ms = ts};
    if (journey) {
        pt.labels[0].name = "journey";
        pt.labels[0].value = journey;
        pt.nlabels = 1;
    }
    enum kw_reject why;
    int rc = kw_pipeline_point(&pipe_, &pt, &why);
    kw_pipeline_tick(&pipe_, 0);
    return rc ? -(int)why - 1 : 0;
}

#define THRESHOLD_KPI(agg) \
    "{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"aggregation\":\"" agg "\",\"interval\":\"1m\",\"lateness\":\"30s\"," \
    "\"group_by\":[\"journey\"],\"detector\":{\"type\":\"threshold\",\"high\":100}}]}"

Test(aggregate, sum_count_mean_last_per_interval, .fini = teardown)
{
    setup("{\"kpis\":["
          "{\"name\":\"s\",\"metric\":\"m\",\"aggregation\":\"sum\",\"interval\":\"1m\",\"lateness\":\"0s\",\"detector\":{\"type\":\"threshold\",\"high\":1000}},"
          "{\"name\":\"c\",\"metric\":\"m\",\"aggregation\":\"count\",\"interval\":\"1m\",\"lateness\":\"0s\",\"detector\":{\"type\":\"threshold\",\"high\":1000}},"
          "{\"name\":\"a\",\"metric\":\"m\",\"aggregation\":\"mean\",\"interval\":\"1m\",\"lateness\":\"0s\",\"detector\":{\"type\":\"threshold\",\"high\":1000}},"
          "{\"name\":\"l\",\"metric\":\"m\",\"aggregation\":\"last\",\"interval\":\"1m\",\"lateness\":\"0s\",\"detector\":{\"type\":\"threshold\",\"high\":1000}}]}");
    send_point("m", NULL, 2, T0 + 1000);
    send_point("m", NULL, 6, T0 + 30000);
    send_point("m", NULL, 4, T0 + 20000); /* out of order within the interval: not "last" */
    cr_assert_eq(rec.n, 0, "interval still open");
    send_point("m", NULL, 1, T0 + MIN + 5000); /* event time passes the first interval */
    cr_assert_eq(rec.n, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(rec.samples[i].ts_ms, T0);
    double want[4] = {12, 3, 4, 6};
    const char *names[4] = {"s/", "c/", "a/", "l/"};
    for (int i = 0; i < 4; i++) {
        int found = -1;
        for (int j = 0; j < 4; j++)
            if (strcmp(rec.series[j], names[i]) == 0)
                found = j;
        cr_assert_geq(found, 0, "%s closed", names[i]);
        cr_assert_float_eq(rec.samples[found].value, want[i], 1e-12, "%s", names[i]);
    }
}

Test(aggregate, ratio_of_two_metrics, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"drop\",\"metric\":\"drops\",\"denominator\":\"entries\",\"aggregation\":\"ratio\","
          "\"interval\":\"1m\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],\"detector\":{\"type\":\"threshold\",\"high\":0.5}}]}");
    send_point("entries", "checkout", 150, T0 + 1000);
    send_point("entries", "checkout", 50, T0 + 2000);
    send_point("drops", "checkout", 30, T0 + 3000);
    send_point("entries", "checkout", 10, T0 + MIN + 1000);
    cr_assert_eq(rec.n, 1);
    cr_assert_float_eq(rec.samples[0].value, 0.15, 1e-12);
    cr_assert_float_eq(rec.samples[0].numerator, 30, 1e-12);
    cr_assert_float_eq(rec.samples[0].denominator, 200, 1e-12);
    /* an interval with entries but no drop-offs is a rate of 0, not missing */
    send_point("entries", "checkout", 10, T0 + 2 * MIN + 1000);
    cr_assert_eq(rec.n, 2);
    cr_assert_float_eq(rec.samples[1].value, 0.0, 1e-12);
}

Test(aggregate, lateness_keeps_interval_open_then_rejects, .fini = teardown)
{
    setup(THRESHOLD_KPI("sum"));
    send_point("m", "checkout", 1, T0 + 10000);
    send_point("m", "checkout", 1, T0 + MIN + 10000); /* clock at T0+70s: first interval ends 60s + 30s lateness */
    cr_assert_eq(rec.n, 0, "still within lateness");
    cr_assert_eq(send_point("m", "checkout", 5, T0 + 50000), 0, "late point within lateness is accepted");
    send_point("m", "checkout", 1, T0 + MIN + 40000); /* clock passes 90s: first interval closes */
    cr_assert_eq(rec.n, 1);
    cr_assert_float_eq(rec.samples[0].value, 6, 1e-12);
    cr_assert_eq(send_point("m", "checkout", 5, T0 + 59000), -(int)KW_REJ_LATE - 1, "too late is rejected");
}

Test(aggregate, quiet_series_closes_on_global_event_time_with_zero_count, .fini = teardown)
{
    setup(THRESHOLD_KPI("sum"));
    send_point("m", "claims", 3, T0 + 1000);
    for (int i = 1; i <= 4; i++)
        send_point("m", "checkout", 1, T0 + i * MIN + 1000);
    /* claims sent nothing after T0, yet its intervals close as event time moves on */
    int claims = 0, zeros = 0;
    for (int i = 0; i < rec.n; i++) {
        if (strcmp(rec.series[i], "k/claims") == 0) {
            claims++;
            zeros += rec.samples[i].value == 0;
        }
    }
    cr_assert_geq(claims, 3);
    cr_assert_eq(zeros, claims - 1, "empty count intervals are 0");
}

Test(aggregate, mean_of_empty_interval_is_missing, .fini = teardown)
{
    setup(THRESHOLD_KPI("mean"));
    send_point("m", "claims", 3, T0 + 1000);
    send_point("m", "claims", 3, T0 + 2 * MIN + 1000);
    send_point("m", "claims", 3, T0 + 3 * MIN + 1000);
    cr_assert_geq(rec.n, 2);
    cr_assert(isnan(rec.samples[1].value), "no data is NAN for a mean");
    cr_assert_not(rec.verdicts[1].ready);
}

Test(aggregate, series_limit_is_enforced_and_counted, .fini = teardown)
{
    setup("{\"agent\":{\"max_series\":2},\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"interval\":\"1m\",\"group_by\":[\"journey\"],"
          "\"detector\":{\"type\":\"threshold\",\"high\":100}}]}");
    cr_assert_eq(send_point("m", "a", 1, T0), 0);
    cr_assert_eq(send_point("m", "b", 1, T0), 0);
    cr_assert_eq(send_point("m", "c", 1, T0), -(int)KW_REJ_SERIES_LIMIT - 1);
    cr_assert_eq(send_point("m", "a", 1, T0 + 1), 0, "existing series still accepted");
    cr_assert_eq(pipe_.table.count, 2);
}

Test(aggregate, idle_series_expire, .fini = teardown)
{
    setup("{\"agent\":{\"series_ttl\":\"10m\"},\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"interval\":\"1m\",\"group_by\":[\"journey\"],"
          "\"detector\":{\"type\":\"threshold\",\"high\":100}}]}");
    send_point("m", "old", 1, T0);
    for (int i = 1; i <= 15; i++)
        send_point("m", "live", 1, T0 + i * MIN);
    cr_assert_eq(pipe_.table.count, 1);
    cr_assert_eq(pipe_.stats.series_expired, 1);
}

Test(aggregate, native_interval_evaluates_every_point, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"aggregation\":\"last\",\"interval\":0,"
          "\"detector\":{\"type\":\"threshold\",\"high\":100}}]}");
    send_point("m", NULL, 5, T0);
    send_point("m", NULL, 500, T0 + 1000);
    cr_assert_eq(rec.n, 2);
    cr_assert(rec.verdicts[1].anomalous);
    cr_assert_eq(send_point("m", NULL, 5, T0 + 500), -(int)KW_REJ_LATE - 1, "native points must be in order");
}

Test(alerting, incident_fires_once_and_resolves_with_hysteresis, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"interval\":\"1m\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],"
          "\"unit\":\"complaints\",\"detector\":{\"type\":\"threshold\",\"high\":10},\"alert\":{\"for\":2,\"resolve_after\":2}}]}");
    double series[] = {5, 5, 50, 5, 50, 60, 70, 5, 50, 5, 5, 5, 5};
    for (int i = 0; i < 13; i++)
        send_point("m", "checkout", series[i], T0 + i * MIN + 1000);
    kw_pipeline_flush(&pipe_);
    /* i=2 alone is pending then cancelled; 4,5 fire; 7 normal, 8 anomalous again (no new alert); 9,10 resolve */
    cr_assert_eq(rec.firing, 1);
    cr_assert_eq(rec.resolved, 1);
    cr_assert_eq(rec.last_alert.status, KW_ALERT_RESOLVED);
    cr_assert_eq(rec.last_alert.since_ms, T0 + 4 * MIN);
    cr_assert_str_eq(rec.last_alert.labels[0].value, "checkout");
    /* impact = sum of excess over the threshold bound for intervals 4,5,6,8 */
    cr_assert_float_eq(rec.last_alert.impact, 40 + 50 + 60 + 40, 1e-9);
    cr_assert_eq(rec.last_alert.intervals, 4);
}

Test(alerting, state_machine_table)
{
    struct kw_rule_config rule = {.for_intervals = 3, .resolve_after = 2, .critical_severity = 80};
    struct kw_alert_state st = {0};
    /* anomalous pattern and the transition expected after each step */
    bool a[] = {1, 1, 0, 1, 1, 1, 1, 0, 1, 0, 0, 0};
    enum kw_transition want[] = {KW_T_NONE, KW_T_NONE, KW_T_NONE, KW_T_NONE, KW_T_NONE, KW_T_FIRING,
                                 KW_T_NONE, KW_T_NONE, KW_T_NONE, KW_T_NONE, KW_T_RESOLVED, KW_T_NONE};
    for (int i = 0; i < 12; i++) {
        enum kw_transition t = kw_alerting_step(&st, &rule, a[i], 90, 1, 1, 0, i * MIN);
        cr_assert_eq(t, want[i], "step %d: got %d want %d", i, t, want[i]);
    }
}

Test(alerting, repeat_and_min_severity)
{
    struct kw_rule_config rule = {.for_intervals = 1, .resolve_after = 1, .repeat_interval_ms = 3 * MIN, .min_severity = 50};
    struct kw_alert_state st = {0};
    cr_assert_eq(kw_alerting_step(&st, &rule, true, 40, 1, 1, 0, 0), KW_T_NONE, "below min_severity");
    cr_assert_eq(kw_alerting_step(&st, &rule, true, 60, 1, 1, 0, MIN), KW_T_FIRING);
    cr_assert_eq(kw_alerting_step(&st, &rule, true, 60, 1, 1, 0, 2 * MIN), KW_T_NONE);
    cr_assert_eq(kw_alerting_step(&st, &rule, true, 60, 1, 1, 0, 4 * MIN), KW_T_REPEAT);
}

/* The state goes through a text file, as on a restart: it must read back
 * bit-identical, or a point right at a threshold could flip its verdict. */
Test(state, save_and_restore_gives_identical_verdicts, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"aggregation\":\"mean\",\"interval\":\"1m\",\"lateness\":\"0s\","
          "\"group_by\":[\"journey\"],\"detector\":{\"type\":\"ewma\",\"min_points\":10}}]}");
    for (int i = 0; i < 40; i++)
        send_point("m", "checkout", 10.1 + 0.37 * (i * 7919 % 13), T0 + i * MIN + 1000); /* not exactly representable */
    char path[] = "/tmp/kw-state-test-XXXXXX";
    save_to_temp(&pipe_, path);

    struct kw_pipeline restored;
    struct recorder rec2 = {0};
    kw_pipeline_init(&restored, &cfg);
    kw_pipeline_on_interval(&restored, on_interval, &rec2);
    load_and_remove(&restored, path, 1);
    int before = rec.n;
    for (int i = 40; i < 60; i++) {
        struct kw_point pt = {.metric = "m", .value = 10.1 + 0.37 * (i * 7919 % 13) + (i == 50 ? 40 : 0), .ts_ms = T0 + i * MIN + 1000,
                              .nlabels = 1, .labels = {{"journey", "checkout"}}};
        enum kw_reject why;
        kw_pipeline_point(&pipe_, &pt, &why);
        kw_pipeline_tick(&pipe_, 0);
        kw_pipeline_point(&restored, &pt, &why);
        kw_pipeline_tick(&restored, 0);
    }
    cr_assert_eq(rec.n - before, rec2.n);
    cr_assert_gt(rec2.n, 10);
    bool any_anomaly = false;
    for (int i = 0; i < rec2.n; i++) {
        const struct kw_verdict *a = &rec.verdicts[before + i], *b = &rec2.verdicts[i];
        cr_assert_eq(a->ready, b->ready);
        cr_assert_eq(a->anomalous, b->anomalous);
        cr_assert(a->expected == b->expected && a->upper == b->upper && a->anomaly_score == b->anomaly_score,
                  "interval %d differs after restore", i);
        any_anomaly |= b->anomalous;
    }
    cr_assert(any_anomaly, "the injected spike is seen by the restored pipeline");
    kw_pipeline_release(&restored);
}

Test(series, table_insert_find_remove_many)
{
    struct kw_series_table t;
    kw_series_table_init(&t);
    enum { N = 5000 };
    static struct kw_series *items[N];
    static char keys[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "v%d", i);
        items[i] = calloc(1, sizeof *items[i] + sizeof keys[i]); /* the values follow the record */
        memcpy(items[i]->values, keys[i], sizeof keys[i]);
        items[i]->values_len = strlen(keys[i]) + 1;
        items[i]->kpi = i % 3;
        items[i]->hash = kw_series_hash(items[i]->kpi, keys[i], items[i]->values_len);
        kw_series_insert(&t, items[i]);
    }
    cr_assert_eq(t.count, N);
    for (int i = 0; i < N; i += 2) /* remove every other entry */
        kw_series_remove(&t, items[i]);
    for (int i = 0; i < N; i++) {
        struct kw_series *s = kw_series_find(&t, items[i]->hash, items[i]->kpi, keys[i], items[i]->values_len);
        if (i % 2)
            cr_assert_eq(s, items[i], "entry %d lost after deletions", i);
        else
            cr_assert_null(s, "entry %d still present", i);
    }
    cr_assert_eq(t.count, N / 2);
    kw_series_table_release(&t, NULL, NULL);
    for (int i = 0; i < N; i++)
        free(items[i]);
}

Test(series, alert_key_is_stable_and_order_independent)
{
    const char *n1[] = {"journey", "step"}, *v1[] = {"checkout", "payment"};
    const char *n2[] = {"step", "journey"}, *v2[] = {"payment", "checkout"};
    char a[17], b[17], c[17];
    kw_series_alert_key("dropoff", n1, v1, 2, a);
    kw_series_alert_key("dropoff", n2, v2, 2, b);
    kw_series_alert_key("complaints", n1, v1, 2, c);
    cr_assert_str_eq(a, b);
    cr_assert_str_neq(a, c);
    cr_assert_eq(strlen(a), 16);
}

Test(aggregate, quantile_is_exact_below_the_reservoir_size, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"q\",\"metric\":\"m\",\"aggregation\":\"quantile\",\"quantile\":0.9,\"interval\":\"1m\","
          "\"lateness\":\"0s\",\"detector\":{\"type\":\"threshold\",\"high\":1000}}]}");
    for (int i = 0; i < 100; i++) /* 1..100 in a scrambled order */
        send_point("m", NULL, 1 + (i * 37) % 100, T0 + 1000 + i);
    send_point("m", NULL, 1, T0 + MIN + 1000);
    cr_assert_eq(rec.n, 1);
    /* gsl_stats_quantile_from_sorted_data: (n-1)*0.9 = 89.1 -> 90 + 0.1*(91-90) */
    cr_assert_float_eq(rec.samples[0].value, 90.1, 1e-9);
}

Test(aggregate, quantile_reservoir_is_bounded_and_close, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"q\",\"metric\":\"m\",\"aggregation\":\"quantile\",\"quantile\":0.5,\"quantile_samples\":256,"
          "\"interval\":\"1m\",\"lateness\":\"0s\",\"detector\":{\"type\":\"threshold\",\"high\":100000}}]}");
    for (int i = 0; i < 20000; i++)
        send_point("m", NULL, (double)((i * 7919) % 20000), T0 + 1000 + i % 50000);
    send_point("m", NULL, 1, T0 + MIN + 1000);
    cr_assert_eq(rec.n, 1);
    /* the true median is ~10000; a 256-value uniform reservoir is within ~10% */
    cr_assert(fabs(rec.samples[0].value - 10000) < 1000, "median estimate %g", rec.samples[0].value);
}

Test(state, quantile_samples_survive_a_restart, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"q\",\"metric\":\"m\",\"aggregation\":\"quantile\",\"quantile\":0.5,\"interval\":\"1m\","
          "\"lateness\":\"0s\",\"detector\":{\"type\":\"threshold\",\"high\":1000}}]}");
    send_point("m", NULL, 10, T0 + 1000);
    send_point("m", NULL, 30, T0 + 2000); /* interval still open when saved */
    char path[] = "/tmp/kw-state-q-XXXXXX";
    save_to_temp(&pipe_, path);
    struct kw_pipeline restored;
    struct recorder rec2 = {0};
    kw_pipeline_init(&restored, &cfg);
    kw_pipeline_on_interval(&restored, on_interval, &rec2);
    load_and_remove(&restored, path, 1);
    struct kw_point pt = {.metric = "m", .value = 20, .ts_ms = T0 + 3000};
    enum kw_reject why;
    kw_pipeline_point(&restored, &pt, &why);
    pt.ts_ms = T0 + MIN + 1000;
    kw_pipeline_point(&restored, &pt, &why);
    kw_pipeline_tick(&restored, 0);
    cr_assert_eq(rec2.n, 1);
    cr_assert_float_eq(rec2.samples[0].value, 20, 1e-12, "median of 10, 30 (restored) and 20");
    kw_pipeline_release(&restored);
}

/* Counts and rates cannot be negative: a sum or ratio KPI refuses a
 * negative point, but a count KPI counts it (the count of points is what
 * it measures, not their values). */
Test(aggregate, negative_values_rejected_for_sum_and_ratio_but_counted, .fini = teardown)
{
    setup("{\"kpis\":["
          "{\"name\":\"s\",\"metric\":\"m\",\"aggregation\":\"sum\",\"interval\":\"1m\",\"detector\":{\"type\":\"threshold\",\"high\":1000}}]}");
    cr_assert_eq(send_point("m", NULL, -1, T0), -(int)KW_REJ_NEGATIVE_COUNT - 1, "sum refuses -1");
    kw_pipeline_release(&pipe_);
    kw_config_release(&cfg);
    setup("{\"kpis\":[{\"name\":\"r\",\"metric\":\"d\",\"denominator\":\"e\",\"aggregation\":\"ratio\",\"interval\":\"1m\","
          "\"detector\":{\"type\":\"threshold\",\"high\":1}}]}");
    cr_assert_eq(send_point("d", NULL, -3, T0), -(int)KW_REJ_NEGATIVE_COUNT - 1, "ratio numerator refuses -3");
    cr_assert_eq(send_point("e", NULL, -3, T0), -(int)KW_REJ_NEGATIVE_COUNT - 1, "ratio denominator refuses -3");
    kw_pipeline_release(&pipe_);
    kw_config_release(&cfg);
    setup("{\"kpis\":[{\"name\":\"c\",\"metric\":\"m\",\"aggregation\":\"count\",\"interval\":\"1m\",\"lateness\":\"0s\","
          "\"detector\":{\"type\":\"threshold\",\"high\":1000}}]}");
    cr_assert_eq(send_point("m", NULL, -5, T0), 0, "count accepts a negative value");
    cr_assert_eq(send_point("m", NULL, -5, T0 + 1000), 0);
    send_point("m", NULL, 1, T0 + MIN + 1000);
    cr_assert_eq(rec.n, 1);
    cr_assert_float_eq(rec.samples[0].value, 2, 1e-12, "two points counted");
}

/* The alert key names the series, not the incident: a second incident on
 * the same series is notified under the same key (receivers dedup on it). */
Test(alerting, two_incidents_on_one_series_share_the_key, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"interval\":\"1m\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],"
          "\"detector\":{\"type\":\"threshold\",\"high\":10},\"alert\":{\"for\":1,\"resolve_after\":1}}]}");
    char keys[4][24];
    int nkeys = 0;
    double series[] = {5, 50, 5, 5, 60, 5, 5};
    for (int i = 0; i < 7; i++) {
        int before = rec.alerts;
        send_point("m", "checkout", series[i], T0 + i * MIN + 1000);
        if (rec.alerts > before && nkeys < 4)
            snprintf(keys[nkeys++], sizeof keys[0], "%s", rec.last_alert.key);
    }
    kw_pipeline_flush(&pipe_);
    if (rec.alerts > nkeys && nkeys < 4)
        snprintf(keys[nkeys++], sizeof keys[0], "%s", rec.last_alert.key);
    cr_assert_eq(rec.firing, 2, "two incidents");
    cr_assert_eq(rec.resolved, 2);
    cr_assert_eq(nkeys, 4);
    cr_assert_eq(strlen(keys[0]), 16);
    for (int i = 1; i < nkeys; i++)
        cr_assert_str_eq(keys[i], keys[0], "notification %d has another key", i);
}

/* Event time belongs to each KPI: a point of a metric no KPI watches, even
 * from the future, moves nothing. */
Test(clock, unwatched_points_move_no_clock, .fini = teardown)
{
    setup(THRESHOLD_KPI("sum"));
    cr_assert_eq(send_point("m", "checkout", 1, T0 + 1000), 0);
    send_point("typo_metric", "checkout", 1, T0 + 290000); /* 290 s ahead, unwatched */
    cr_assert_eq(send_point("m", "checkout", 1, T0 + 20000), 0, "an on-time point must not be late");
    cr_assert_eq(rec.n, 0, "no interval closed");
    cr_assert_eq(pipe_.stats.points_unwatched, 1);
}

/* Live: event time never runs ahead of the wall clock, so one publisher's
 * future timestamps cannot close another series' interval early. */
Test(clock, a_future_series_does_not_make_another_late, .fini = teardown)
{
    setup(THRESHOLD_KPI("sum"));
    pipe_.live = true;
    pipe_.extrapolate = true;
    int64_t now = T0 + 30000;
    struct kw_point a = {.metric = "m", .value = 1, .ts_ms = now + 290000, .nlabels = 1, .labels = {{"journey", "skewed"}}};
    struct kw_point b = {.metric = "m", .value = 1, .ts_ms = now - 10000, .nlabels = 1, .labels = {{"journey", "checkout"}}};
    enum kw_reject why;
    b.ts_ms = now - 25000;
    cr_assert_eq(kw_pipeline_point(&pipe_, &b, &why), 0);
    kw_pipeline_tick(&pipe_, now);
    b.ts_ms = now - 10000;
    cr_assert_eq(kw_pipeline_point(&pipe_, &a, &why), 0);
    kw_pipeline_tick(&pipe_, now);
    cr_assert_eq(kw_pipeline_point(&pipe_, &b, &why), 0, "on-time point of another series refused as %s",
                 kw_reject_name(why));
    kw_pipeline_tick(&pipe_, now + 1000);
    b.ts_ms = now + 500;
    cr_assert_eq(kw_pipeline_point(&pipe_, &b, &why), 0);
}

/* A point from far in the future (max_future 0 = no check) closes a
 * bounded number of intervals and skips the rest as a gap. */
Test(clock, a_far_future_point_walks_a_bounded_number_of_intervals, .fini = teardown, .timeout = 10)
{
    setup(THRESHOLD_KPI("sum"));
    send_point("m", "checkout", 1, T0 + 1000);
    cr_assert_eq(send_point("m", "checkout", 1, 3999999999000LL), 0);
    cr_assert_lt(pipe_.stats.intervals_closed, 20000, "walked %llu intervals",
                 (unsigned long long)pipe_.stats.intervals_closed);
    cr_assert_gt(pipe_.stats.intervals_skipped, 1000000);
    /* the series still works afterwards */
    cr_assert_eq(send_point("m", "checkout", 500, 3999999999000LL + MIN), 0);
}

/* After a restore, the intervals the agent did not see are gaps, not zero
 * counts: a Poisson baseline of ~40 per interval survives a 20-hour outage. */
Test(clock, downtime_is_a_gap_not_zeros, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"interval\":\"5m\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],"
          "\"detector\":{\"type\":\"poisson\"}}]}");
    const int64_t IV = 5 * MIN;
    uint32_t rng = 7;
    for (int i = 0; i < 400; i++)
        send_point("m", "checkout", 36 + (double)((rng = rng * 1664525u + 1013904223u) >> 29), T0 + i * IV + 1000);
    char path[] = "/tmp/kw-gap-XXXXXX";
    save_to_temp(&pipe_, path);

    struct kw_pipeline restored;
    struct recorder rec2 = {0};
    kw_pipeline_init(&restored, &cfg);
    kw_pipeline_on_interval(&restored, on_interval, &rec2);
    load_and_remove(&restored, path, 1);
    kw_pipeline_resume(&restored);
    /* back 20 hours later with normal traffic */
    int64_t back = T0 + 400 * IV + 20 * 60 * MIN;
    enum kw_reject why;
    for (int i = 0; i < 3; i++) {
        struct kw_point pt = {.metric = "m", .value = 40, .ts_ms = back + i * IV + 1000, .nlabels = 1,
                              .labels = {{"journey", "checkout"}}};
        cr_assert_eq(kw_pipeline_point(&restored, &pt, &why), 0);
        kw_pipeline_tick(&restored, 0);
    }
    cr_assert_gt(restored.stats.intervals_gap, 200, "the outage was read as %llu gap intervals",
                 (unsigned long long)restored.stats.intervals_gap);
    int zeros = 0, last_ready = -1;
    for (int i = 0; i < rec2.n && i < 512; i++) {
        zeros += rec2.samples[i].value == 0;
        if (rec2.verdicts[i].ready)
            last_ready = i;
    }
    cr_assert_eq(zeros, 0, "the outage was read as zero counts");
    cr_assert_geq(last_ready, 0);
    cr_assert_gt(rec2.verdicts[last_ready].expected, 30, "baseline collapsed to %g", rec2.verdicts[last_ready].expected);
    cr_assert_not(rec2.verdicts[last_ready].anomalous, "normal traffic alerts after the outage");
    kw_pipeline_release(&restored);
}

/* A label flood on one KPI fills only that KPI's own limit: the other KPIs
 * keep creating series. */
Test(aggregate, series_limit_is_per_kpi, .fini = teardown)
{
    setup("{\"agent\":{\"max_series\":100},\"kpis\":["
          "{\"name\":\"flooded\",\"metric\":\"m\",\"interval\":\"1m\",\"group_by\":[\"journey\"],\"max_series\":3,"
          "\"detector\":{\"type\":\"threshold\",\"high\":100}},"
          "{\"name\":\"other\",\"metric\":\"n\",\"interval\":\"1m\",\"group_by\":[\"journey\"],"
          "\"detector\":{\"type\":\"threshold\",\"high\":100}}]}");
    char journey[32];
    int refused = 0;
    for (int i = 0; i < 50; i++) {
        snprintf(journey, sizeof journey, "j%d", i);
        refused += send_point("m", journey, 1, T0) == -(int)KW_REJ_SERIES_LIMIT - 1;
    }
    cr_assert_eq(refused, 47);
    cr_assert_eq(pipe_.kpi_series[0], 3);
    for (int i = 0; i < 10; i++) {
        snprintf(journey, sizeof journey, "j%d", i);
        cr_assert_eq(send_point("n", journey, 1, T0), 0, "the other KPI was starved");
    }
    cr_assert_eq(pipe_.table.count, 13);
}

/* An edited or damaged state file is checked, not trusted: a series whose
 * numbers are out of range is skipped, and the rest restore. */
Test(state, out_of_range_numbers_are_skipped, .fini = teardown, .timeout = 10)
{
    setup(THRESHOLD_KPI("sum"));
    for (int i = 0; i < 5; i++) {
        send_point("m", "checkout", 1, T0 + i * MIN + 1000);
        send_point("m", "claims", 1, T0 + i * MIN + 1000);
    }
    char path[] = "/tmp/kw-badstate-XXXXXX";
    save_to_temp(&pipe_, path);
    char *text = read_whole(path);
    /* damage the first series only: its open interval start jumps to 9e18 */
    char *at = strstr(text, "\"open_start\":");
    cr_assert_not_null(at);
    char *end = strchr(at, ',');
    char *edited = malloc(strlen(text) + 64);
    snprintf(edited, strlen(text) + 64, "%.*s\"open_start\":9000000000000000000%s", (int)(at - text), text, end);
    FILE *f = fopen(path, "w");
    fputs(edited, f);
    fclose(f);
    free(text);
    free(edited);

    struct kw_pipeline restored;
    kw_pipeline_init(&restored, &cfg);
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_state_load(&restored, path, err, sizeof err), 1, "one good series restores");
    struct kw_point pt = {.metric = "m", .value = 1, .ts_ms = T0 + 6 * MIN, .nlabels = 1, .labels = {{"journey", "checkout"}}};
    enum kw_reject why;
    cr_assert_eq(kw_pipeline_point(&restored, &pt, &why), 0, "refused as %s", kw_reject_name(why));
    kw_pipeline_release(&restored);
    unlink(path);
}

static int decided;

static void count_decided(void *ctx, const struct kw_series *s, const struct kw_kpi_config *kpi,
                          const struct kw_sample *sample, const struct kw_verdict *v)
{
    decided++;
}

/* A verdict that waits for its interval's close point (false-discovery
 * control) when the state is saved is decided after the restore, as it
 * would have been without one. */
Test(state, waiting_verdicts_survive_a_restart)
{
    kw_log_set_level(KW_LOG_OFF);
    static const char *const json =
        "{\"kpis\":[{\"name\":\"c\",\"metric\":\"c\",\"interval\":\"1m\",\"lateness\":\"0s\",\"group_by\":[\"j\"]}]}";
    struct kw_config c;
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_config_parse(&c, json, "t.json", err, sizeof err), 0, "%s", err);
    struct kw_pipeline a, b;
    kw_pipeline_init(&a, &c);
    a.hold_clock = true; /* as with Kafka: intervals are decided on ticks only */
    kw_pipeline_on_interval(&a, count_decided, NULL);
    enum kw_reject why;
    for (int i = 0; i < 5; i++) {
        struct kw_point pt = {.metric = "c", .value = 3, .ts_ms = T0 + i * MIN};
        pt.labels[0] = (struct kw_label){"j", "x"};
        pt.nlabels = 1;
        cr_assert_eq(kw_pipeline_point(&a, &pt, &why), 0);
        kw_pipeline_tick(&a, 0);
    }
    /* a point far ahead closes the open intervals at once; their verdicts wait for the next tick */
    struct kw_point far = {.metric = "c", .value = 3, .ts_ms = T0 + 9 * MIN};
    far.labels[0] = (struct kw_label){"j", "x"};
    far.nlabels = 1;
    cr_assert_eq(kw_pipeline_point(&a, &far, &why), 0);
    size_t waiting = a.fdr[0].n;
    cr_assert_gt(waiting, 0, "nothing waits: the test does not test");
    char path[] = "/tmp/kw-pending-XXXXXX";
    close(mkstemp(path));
    cr_assert_eq(kw_state_save(&a, path, err, sizeof err), 0, "%s", err);
    decided = 0;
    kw_pipeline_tick(&a, 0);
    int want = decided;
    cr_assert_geq(want, (int)waiting);

    kw_pipeline_init(&b, &c);
    kw_pipeline_on_interval(&b, count_decided, NULL);
    cr_assert_eq(kw_state_load(&b, path, err, sizeof err), 1, "%s", err);
    cr_assert_eq(b.fdr[0].n, waiting);
    decided = 0;
    kw_pipeline_tick(&b, 0);
    cr_assert_eq(decided, want);
    unlink(path);
    kw_pipeline_release(&a);
    kw_pipeline_release(&b);
    kw_config_release(&c);
}

static void add_point(struct kw_pipeline *p, const char *j, int64_t ts)
{
    enum kw_reject why;
    struct kw_point pt = {.metric = "c", .value = 1, .ts_ms = ts};
    pt.labels[0] = (struct kw_label){"j", j};
    pt.nlabels = 1;
    cr_assert_eq(kw_pipeline_point(p, &pt, &why), 0);
}

/* The point that moves event time past a close point closes and decides
 * that interval for every series at once, without waiting for a tick: the
 * daemon's result must not depend on how many messages one turn of its
 * poll loop read. With hold_clock (Kafka) only ticks decide. */
Test(pipeline, a_point_past_the_close_point_decides_the_interval_for_every_series)
{
    kw_log_set_level(KW_LOG_OFF);
    static const char *const json =
        "{\"kpis\":[{\"name\":\"c\",\"metric\":\"c\",\"interval\":\"1m\",\"lateness\":\"10s\",\"group_by\":[\"j\"]}]}";
    struct kw_config c;
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_config_parse(&c, json, "t.json", err, sizeof err), 0, "%s", err);
    for (int hold = 0; hold < 2; hold++) {
        struct kw_pipeline p;
        kw_pipeline_init(&p, &c);
        p.hold_clock = hold;
        kw_pipeline_on_interval(&p, count_decided, NULL);
        decided = 0;
        add_point(&p, "a", T0 + 1000);
        add_point(&p, "b", T0 + 2000);
        add_point(&p, "a", T0 + MIN + 5000); /* in the next interval, before the close point */
        cr_assert_eq(decided, 0, "within lateness nothing closes");
        add_point(&p, "a", T0 + MIN + 10000); /* exactly the close point: end + lateness */
        if (hold) {
            cr_assert_eq(decided, 0, "hold_clock: nothing before a tick");
            kw_pipeline_tick(&p, 0);
        }
        cr_assert_eq(decided, 2, "both series' first interval is decided (hold_clock=%d)", hold);
        kw_pipeline_release(&p);
    }
    kw_config_release(&c);
}

/* The per-KPI counts of pending and firing series, kept where phases
 * change, against a walk of the table. */
static void assert_phase_counts(const struct kw_pipeline *p, const char *when)
{
    size_t pending[4] = {0}, firing[4] = {0}, series[4] = {0};
    for (size_t i = 0; i < p->table.cap; i++) {
        const struct kw_series *s = p->table.slots[i];
        if (!s)
            continue;
        series[s->kpi]++;
        pending[s->kpi] += s->alert.phase == KW_PHASE_PENDING;
        firing[s->kpi] += s->alert.phase == KW_PHASE_FIRING;
    }
    size_t all = 0;
    for (int k = 0; k < p->cfg->nkpis; k++) {
        cr_assert_eq(p->kpi_series[k], series[k], "%s: KPI %d series", when, k);
        cr_assert_eq(p->kpi_pending[k], pending[k], "%s: KPI %d pending %zu, the table %zu", when, k, p->kpi_pending[k],
                     pending[k]);
        cr_assert_eq(p->kpi_firing[k], firing[k], "%s: KPI %d firing %zu, the table %zu", when, k, p->kpi_firing[k],
                     firing[k]);
        all += firing[k];
    }
    cr_assert_eq(kw_pipeline_firing(p), all, "%s", when);
}

/* Incidents fire and resolve, alerts stay pending and are cancelled,
 * series expire while pending or firing (a mean of no points is missing,
 * so silence neither resolves nor cancels), are restored from a saved state
 * and dropped: the counts always match the table, and they are non-zero
 * at the points the scenario sets up. */
Test(alerting, phase_counts_follow_every_change, .fini = teardown)
{
    setup("{\"agent\":{\"series_ttl\":\"10m\"},\"kpis\":["
          "{\"name\":\"a\",\"metric\":\"m\",\"aggregation\":\"mean\",\"interval\":\"1m\",\"lateness\":\"0s\","
          "\"group_by\":[\"journey\"],\"detector\":{\"type\":\"threshold\",\"high\":10},\"alert\":{\"for\":3,\"resolve_after\":2}},"
          "{\"name\":\"b\",\"metric\":\"n\",\"aggregation\":\"mean\",\"interval\":\"1m\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],"
          "\"detector\":{\"type\":\"threshold\",\"high\":10},\"alert\":{\"for\":1,\"resolve_after\":1}}]}");
    const char *journeys[] = {"j0", "j1", "j2", "j3", "j4", "j5"};
    bool saw_pending = false, saw_firing = false;
    unsigned x = 12345;
    for (int i = 0; i < 60; i++) {
        for (int j = 0; j < 6; j++) {
            if (j >= 4 && i >= 20)
                continue; /* j4, j5 fall silent (one of them mid-incident) and expire */
            x = x * 1103515245u + 12345u;
            bool high = (x >> 16) % 3 == 0 || (j >= 4 && i >= 18) || (j == 3 && i >= 55);
            if (j == 0 && i >= 55)
                high = i >= 58; /* ends pending */
            send_point(j % 2 ? "n" : "m", journeys[j], high ? 50 : 1, T0 + i * MIN + 1000 + j);
        }
        assert_phase_counts(&pipe_, "running");
        saw_pending |= pipe_.kpi_pending[0] > 0;
        saw_firing |= pipe_.kpi_firing[0] > 0 && pipe_.kpi_firing[1] > 0;
    }
    cr_assert(saw_pending && saw_firing, "the scenario must reach both phases");
    cr_assert_geq(pipe_.stats.series_expired, 2);
    cr_assert_geq(rec.resolved, 1);

    char path[] = "/tmp/kw-state-test-XXXXXX";
    save_to_temp(&pipe_, path);
    struct kw_pipeline restored;
    kw_pipeline_init(&restored, &cfg);
    load_and_remove(&restored, path, 4);
    assert_phase_counts(&restored, "restored");
    cr_assert_eq(restored.kpi_pending[0], 1, "j0 was pending when saved");
    cr_assert_eq(restored.kpi_firing[1], 1, "j3 was firing when saved");
    cr_assert_eq(restored.stats.firing_untold, 1, "the restored firing series came with no alert event");
    for (int phase = KW_PHASE_PENDING; phase <= KW_PHASE_FIRING; phase++)
        for (size_t i = 0; i < restored.table.cap; i++)
            if (restored.table.slots[i] && (int)restored.table.slots[i]->alert.phase == phase) {
                kw_pipeline_drop(&restored, restored.table.slots[i]);
                break;
            }
    assert_phase_counts(&restored, "dropped");
    cr_assert_eq(restored.kpi_pending[0] + restored.kpi_firing[1], 0);
    cr_assert_eq(restored.stats.firing_untold, 2, "so did the dropped firing one, not the pending one");
    kw_pipeline_release(&restored);
}

static size_t board_size(struct kw_status *st)
{
    struct kw_alert *a = NULL;
    size_t n = kw_status_active(st, &a);
    free(a);
    return n;
}

/* The status board follows alert events, and looks at the series table
 * only when something else moved a firing series: a restore puts the
 * restored incident on the board, a dropped series takes it off, and the
 * per-KPI counts come from the pipeline. */
Test(status, the_board_follows_events_restores_and_drops, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"aggregation\":\"mean\",\"interval\":\"1m\",\"lateness\":\"0s\","
          "\"group_by\":[\"journey\"],\"detector\":{\"type\":\"threshold\",\"high\":10},\"alert\":{\"for\":1,\"resolve_after\":1}}]}");
    struct kw_status *st = kw_status_new();
    kw_status_configure(st, &cfg);
    kw_status_attach(st, &pipe_, NULL);
    kw_status_publish(st, &pipe_, NULL, 0, 0, true);
    for (int i = 0; i < 4; i++) {
        send_point("m", "a", i >= 2 ? 50 : 1, T0 + i * MIN + 1000);
        send_point("m", "b", 1, T0 + i * MIN + 1000);
    }
    kw_status_publish(st, &pipe_, NULL, 0, 0, true);
    cr_assert_eq(rec.firing, 1);
    cr_assert_eq(board_size(st), 1, "the firing event put the alert on the board");
    struct kw_status_view v;
    kw_status_read(st, &v);
    cr_assert_eq(v.kpis[0].alerts_firing, 1);
    cr_assert_eq(v.kpis[0].alerts_ok, 1);
    kw_status_view_release(&v);

    char path[] = "/tmp/kw-state-test-XXXXXX";
    save_to_temp(&pipe_, path);
    struct kw_pipeline restored;
    kw_pipeline_init(&restored, &cfg);
    struct kw_status *st2 = kw_status_new();
    kw_status_configure(st2, &cfg);
    kw_status_attach(st2, &restored, NULL);
    kw_status_publish(st2, &restored, NULL, 0, 0, true);
    cr_assert_eq(board_size(st2), 0);
    load_and_remove(&restored, path, 2);
    kw_status_publish(st2, &restored, NULL, 0, 0, true);
    cr_assert_eq(board_size(st2), 1, "no event told of the restored incident: the table must");
    kw_status_read(st2, &v);
    cr_assert_eq(v.kpis[0].alerts_firing, 1);
    kw_status_view_release(&v);

    for (size_t i = 0; i < restored.table.cap; i++)
        if (restored.table.slots[i] && restored.table.slots[i]->alert.phase == KW_PHASE_FIRING) {
            kw_pipeline_drop(&restored, restored.table.slots[i]);
            break;
        }
    kw_status_publish(st2, &restored, NULL, 0, 0, true);
    cr_assert_eq(board_size(st2), 0, "the dropped series' alert must leave the board");
    kw_status_read(st2, &v);
    cr_assert_eq(v.kpis[0].alerts_firing, 0);
    cr_assert_eq(v.kpis[0].alerts_ok, 1);
    kw_status_view_release(&v);
    kw_pipeline_release(&restored);
    kw_status_free(st2);
    kw_status_free(st);
}

/* Fail unless the board holds exactly the firing series' alerts and the
 * open nodata alerts of p's table. */
static void assert_board_is_the_table(struct kw_status *st, const struct kw_pipeline *p, const char *when)
{
    struct kw_alert *a = NULL;
    size_t n = kw_status_active(st, &a), want = 0;
    for (size_t i = 0; i < p->table.cap; i++) {
        const struct kw_series *s = p->table.slots[i];
        if (!s)
            continue;
        char nodata[24];
        kw_alerting_nodata_key(s, nodata);
        bool firing = s->alert.phase == KW_PHASE_FIRING, open = s->alert.nodata_since != INT64_MIN, on = false,
             on_nodata = false;
        for (size_t j = 0; j < n; j++) {
            on |= strcmp(a[j].key, s->alert_key) == 0;
            on_nodata |= strcmp(a[j].key, nodata) == 0;
        }
        cr_assert_eq(on, firing, "%s: series %s is %sfiring but %son the board", when, s->alert_key, firing ? "" : "not ",
                     on ? "" : "not ");
        cr_assert_eq(on_nodata, open, "%s: the nodata alert of %s is %sopen but %son the board", when, s->alert_key,
                     open ? "" : "not ", on_nodata ? "" : "not ");
        want += firing + open;
    }
    cr_assert_eq(n, want, "%s: the board has alerts of no series", when);
    free(a);
}

/* Flap control flips a series between firing and ok without telling, and
 * nodata alerts open and close: after every publication the board shows
 * exactly the firing series and the open nodata alerts, even when an
 * unrelated series is dropped in between. */
Test(status, the_board_follows_flapping_and_nodata, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"aggregation\":\"mean\",\"interval\":\"1m\",\"lateness\":\"0s\","
          "\"group_by\":[\"journey\"],\"detector\":{\"type\":\"threshold\",\"high\":10},"
          "\"alert\":{\"for\":1,\"resolve_after\":1,\"flap_flips\":2,\"nodata_after\":2}}]}");
    struct kw_status *st = kw_status_new();
    kw_status_configure(st, &cfg);
    kw_status_attach(st, &pipe_, NULL);
    int flapping_firing = 0, nodata_open = 0;
    for (int i = 0; i < 30; i++) {
        send_point("m", "flap", i % 2 ? 50 : 1, T0 + i * MIN + 1000);
        if (i < 8 || i >= 14)
            send_point("m", "gappy", 1, T0 + i * MIN + 1000); /* silent for 6 intervals */
        if (i < 12)
            send_point("m", "drop", 1, T0 + i * MIN + 1000);
        if (i == 12)
            for (size_t j = 0; j < pipe_.table.cap; j++)
                if (pipe_.table.slots[j] && strstr(pipe_.table.slots[j]->values, "drop")) {
                    kw_pipeline_drop(&pipe_, pipe_.table.slots[j]);
                    break;
                }
        kw_status_publish(st, &pipe_, NULL, 0, 0, true);
        assert_board_is_the_table(st, &pipe_, "running");
        for (size_t j = 0; j < pipe_.table.cap; j++) {
            const struct kw_series *s = pipe_.table.slots[j];
            if (s && strstr(s->values, "flap") && s->alert.phase == KW_PHASE_FIRING && i > 10)
                flapping_firing++;
            if (s && s->alert.nodata_since != INT64_MIN)
                nodata_open++;
        }
    }
    cr_assert_gt(flapping_firing, 0, "the scenario must flip a flapping series into firing");
    cr_assert_gt(nodata_open, 0, "the scenario must open a nodata alert");
    cr_assert_gt(pipe_.stats.firing_untold, 1, "flap control flipped the series without telling");
    kw_status_free(st);
}

/* The board is looked up by key through a hash index. Thousands of
 * firing, updated, resolved and refused alerts in a random order: after
 * every step the board holds exactly the alerts a plain list would, each
 * with its latest content, and a full board refuses a new key. */
Test(status, the_board_index_follows_churn, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"aggregation\":\"mean\",\"interval\":\"1m\","
          "\"detector\":{\"type\":\"threshold\",\"high\":10}}]}");
    struct kw_status *st = kw_status_new();
    kw_status_configure(st, &cfg);
    kw_status_attach(st, &pipe_, NULL);
    enum { KEYS = 12000, STEPS = 60000, CAP = 10000 };
    static double want[KEYS]; /* the alert's latest score while on the board, else 0 */
    memset(want, 0, sizeof want);
    size_t on = 0;
    bool filled = false;
    unsigned rng = 12345;
    for (int step = 1; step <= STEPS; step++) {
        rng = rng * 1103515245u + 12345u;
        int k = (int)((rng >> 8) % KEYS);
        /* fill up first, then churn: resolves as often as firings */
        bool fire = step < 30000 || ((rng >> 4) & 1);
        struct kw_alert a = {.status = fire ? KW_ALERT_FIRING : KW_ALERT_RESOLVED, .severity_score = step};
        snprintf(a.key, sizeof a.key, "alert-%d", k);
        pipe_.on_alert(pipe_.alert_ctx, &a);
        if (!fire) {
            on -= want[k] != 0;
            want[k] = 0;
        } else if (want[k] != 0 || on < CAP) {
            on += want[k] == 0;
            want[k] = step;
        }
        if (step % 5000)
            continue;
        filled |= on == CAP;
        struct kw_alert *got = NULL;
        size_t n = kw_status_active(st, &got);
        cr_assert_eq(n, on, "step %d: %zu alerts on the board, want %zu", step, n, on);
        for (size_t i = 0; i < n; i++) {
            int j = -1;
            sscanf(got[i].key, "alert-%d", &j);
            cr_assert(j >= 0 && j < KEYS && want[j] == got[i].severity_score, "step %d: %s has score %g, want %g", step,
                      got[i].key, got[i].severity_score, j >= 0 && j < KEYS ? want[j] : -1);
        }
        free(got);
    }
    cr_assert(filled, "the walk must fill the board");
    cr_assert_lt(on, CAP, "and churn must make room again");
    kw_status_free(st);
}

static void on_refresh(void *ctx, const struct kw_alert *a)
{
    struct recorder *r = ctx;
    r->alerts++;
    r->last_alert = *a;
}

/* While a series fires, each interval that changes nothing to tell goes to
 * on_refresh with the incident as it stands (never to on_alert): the
 * impact so far, the intervals, the value now. A resolved series sends none. */
Test(alerting, firing_series_refresh_what_they_show, .fini = teardown)
{
    setup("{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"aggregation\":\"sum\",\"interval\":\"1m\",\"lateness\":\"0s\","
          "\"group_by\":[\"journey\"],\"unit\":\"complaints\",\"detector\":{\"type\":\"threshold\",\"high\":10},"
          "\"alert\":{\"for\":1,\"resolve_after\":2}}]}");
    struct recorder refreshes = {0};
    pipe_.on_refresh = on_refresh;
    pipe_.refresh_ctx = &refreshes;
    double values[] = {1, 30, 40, 50, 5, 1, 1, 1};
    for (int i = 0; i < 8; i++)
        send_point("m", "a", values[i], T0 + i * MIN + 1000);
    send_point("m", "a", 1, T0 + 8 * MIN + 1000); /* closes the last interval */
    cr_assert_eq(rec.firing, 1);
    cr_assert_eq(rec.resolved, 1);
    /* fired at 30; refreshed at 40, 50 and the first normal interval (5) */
    cr_assert_eq(refreshes.alerts, 3, "%d refreshes", refreshes.alerts);
    cr_assert_eq(refreshes.last_alert.status, KW_ALERT_FIRING);
    cr_assert_float_eq(refreshes.last_alert.observed, 5, 1e-9);
    cr_assert_eq(refreshes.last_alert.intervals, 3, "the anomalous intervals so far");
    cr_assert_float_eq(refreshes.last_alert.impact, (30 - 10) + (40 - 10) + (50 - 10), 1e-9);
}
