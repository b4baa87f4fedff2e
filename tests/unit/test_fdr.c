/* Unit tests for false-discovery control across a KPI's series (the
 * Benjamini-Hochberg cutoff against the worked example of the original
 * paper, and the pipeline: more null series do not raise more alerts), and
 * for the survey aggregations (nps, csat) through the pipeline. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../agent/config.h"
#include "../../agent/fdr.h"
#include "../../agent/pipeline.h"
#include "../../lib/log.h"

#define T0 1704067200000LL /* Monday 2024-01-01 00:00 UTC */
#define IV 300000LL

/* Benjamini & Hochberg (1995), section 4: 15 p-values at q = 0.05; the
 * step-up rule rejects the four smallest (p_(4) = 0.0095 <= 4 x 0.05 / 15,
 * while p_(5..15) are all above k q / 15). */
Test(fdr, benjamini_hochberg_worked_example)
{
    double p[15] = {0.0459, 0.0001, 0.3240, 0.0004, 0.0019, 0.4262, 0.0095, 0.5719,
                    0.0201, 0.6528, 0.0278, 0.7590, 0.0298, 1.0, 0.0344};
    cr_assert_float_eq(kw_fdr_cutoff(p, 15, 0.05), 0.0095, 1e-15);
    double none[3] = {0.5, 0.2, 0.9};
    cr_assert_lt(kw_fdr_cutoff(none, 3, 0.05), 0);
    double untested[4] = {NAN, 0.01, NAN, 0.02}; /* m counts the tested only: 0.02 <= 2 x 0.05 / 2 */
    cr_assert_float_eq(kw_fdr_cutoff(untested, 4, 0.05), 0.02, 1e-15);
}

struct counts {
    int fired;
};

static void count_alert(void *ctx, const struct kw_alert *a)
{
    struct counts *c = ctx;
    if (a->status == KW_ALERT_FIRING && !a->repeat)
        c->fired++;
}

/* m independent null series of one count KPI (Poisson(5), a loose p_value
 * so that chance alone raises alerts), 1,500 intervals after warm-up.
 * Returns the alerts fired. */
static int null_alerts(int m, bool fdr)
{
    kw_log_set_level(KW_LOG_OFF);
    char json[512], err[KW_ERR_LEN];
    snprintf(json, sizeof json,
             "{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"interval\":\"5m\",\"lateness\":\"0s\",\"group_by\":[\"s\"],"
             "\"fdr\":%s,\"detector\":{\"type\":\"poisson\",\"p_value\":0.002,\"season\":\"none\",\"min_points\":20,"
             "\"distribution\":\"poisson\"},\"alert\":{\"resolve_after\":1}}]}",
             fdr ? "true" : "false");
    struct kw_config cfg;
    cr_assert_eq(kw_config_parse(&cfg, json, "t.json", err, sizeof err), 0, "%s", err);
    struct kw_pipeline p;
    kw_pipeline_init(&p, &cfg);
    struct counts c = {0};
    p.on_alert = count_alert;
    p.alert_ctx = &c;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 77);
    char name[16];
    for (int i = 0; i < 1500; i++) {
        for (int s = 0; s < m; s++) {
            snprintf(name, sizeof name, "s%d", s);
            struct kw_point pt = {.metric = "m", .value = gsl_ran_poisson(rng, 5), .ts_ms = T0 + i * IV,
                                  .labels = {{"s", name}}, .nlabels = 1};
            enum kw_reject why;
            cr_assert_eq(kw_pipeline_point(&p, &pt, &why), 0);
        }
        kw_pipeline_tick(&p, 0);
    }
    kw_pipeline_flush(&p);
    gsl_rng_free(rng);
    kw_pipeline_release(&p);
    kw_config_release(&cfg);
    return c.fired;
}

/* Adding series must not add false alarms: with the rule, 300 null series
 * raise no more alerts than 30 do; without it they raise about ten times
 * as many (so the test can tell). */
Test(fdr, more_null_series_raise_no_more_alerts, .timeout = 60)
{
    int few = null_alerts(30, true), many = null_alerts(300, true);
    int few_raw = null_alerts(30, false), many_raw = null_alerts(300, false);
    cr_assert_leq(many, few, "300 series: %d alerts, 30 series: %d", many, few);
    cr_assert_gt(many_raw, 5 * few_raw / 2, "without the rule: %d vs %d", many_raw, few_raw);
    cr_assert_gt(many_raw, 4 * many, "the rule removes most chance alerts: %d vs %d", many_raw, many);
}

/* An incident on one series of 30 still passes the rule. */
Test(fdr, a_real_change_still_alerts)
{
    kw_log_set_level(KW_LOG_OFF);
    char err[KW_ERR_LEN];
    const char *json = "{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\",\"interval\":\"5m\",\"lateness\":\"0s\","
                       "\"group_by\":[\"s\"],\"detector\":{\"type\":\"poisson\",\"season\":\"none\",\"min_points\":20}}]}";
    struct kw_config cfg;
    cr_assert_eq(kw_config_parse(&cfg, json, "t.json", err, sizeof err), 0, "%s", err);
    struct kw_pipeline p;
    kw_pipeline_init(&p, &cfg);
    struct counts c = {0};
    p.on_alert = count_alert;
    p.alert_ctx = &c;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 78);
    char name[16];
    for (int i = 0; i < 400; i++) {
        for (int s = 0; s < 30; s++) {
            snprintf(name, sizeof name, "s%d", s);
            double lam = s == 7 && i >= 380 ? 40 : 5;
            struct kw_point pt = {.metric = "m", .value = gsl_ran_poisson(rng, lam), .ts_ms = T0 + i * IV,
                                  .labels = {{"s", name}}, .nlabels = 1};
            enum kw_reject why;
            kw_pipeline_point(&p, &pt, &why);
        }
        kw_pipeline_tick(&p, 0);
    }
    kw_pipeline_flush(&p);
    cr_assert_eq(c.fired, 1);
    gsl_rng_free(rng);
    kw_pipeline_release(&p);
    kw_config_release(&cfg);
}

struct last_sample {
    struct kw_sample s;
    int n;
};

static void keep_sample(void *ctx, const struct kw_series *s, const struct kw_kpi_config *kpi,
                        const struct kw_sample *sample, const struct kw_verdict *v)
{
    (void)s, (void)kpi, (void)v;
    struct last_sample *l = ctx;
    if (l->n++ == 0)
        l->s = *sample;
}

/* The default direction follows the KPI's meaning: more complaints and
 * drop-offs are worse (up), lower survey scores are (down), the rest both. */
Test(survey, default_direction_is_the_bad_side)
{
    kw_log_set_level(KW_LOG_OFF);
    char err[KW_ERR_LEN];
    const char *json = "{\"kpis\":[{\"name\":\"c\",\"metric\":\"complaints\"},"
                       "{\"name\":\"d\",\"metric\":\"drop\",\"denominator\":\"entries\",\"aggregation\":\"ratio\"},"
                       "{\"name\":\"h\",\"metric\":\"minutes\",\"aggregation\":\"mean\"},"
                       "{\"name\":\"o\",\"metric\":\"orders\",\"detector\":{\"type\":\"poisson\",\"direction\":\"down\"}}]}";
    struct kw_config cfg;
    cr_assert_eq(kw_config_parse(&cfg, json, "t.json", err, sizeof err), 0, "%s", err);
    const int want[] = {KW_DIR_UP, KW_DIR_UP, KW_DIR_BOTH, KW_DIR_DOWN};
    for (int i = 0; i < 4; i++) {
        struct kw_series_info info = kw_kpi_series_info(&cfg.kpis[i]);
        cr_assert_eq(kw_detector_direction(&cfg.kpis[i].detector, &info), want[i], "kpi %d", i);
    }
    kw_config_release(&cfg);
}

/* nps: answers 10, 9, 8, 7, 6, 0 in one interval: 2 promoters, 2
 * detractors of 6 = 0; csat: 5, 4, 3, 1 = 2 of 4 = 0.5; answers off the
 * scale are refused as bad_value. */
Test(survey, nps_and_csat_aggregate_answers)
{
    kw_log_set_level(KW_LOG_OFF);
    char err[KW_ERR_LEN];
    const char *json = "{\"kpis\":[{\"name\":\"n\",\"metric\":\"nps\",\"aggregation\":\"nps\",\"lateness\":\"0s\"},"
                       "{\"name\":\"c\",\"metric\":\"csat\",\"aggregation\":\"csat\",\"lateness\":\"0s\"}]}";
    struct kw_config cfg;
    cr_assert_eq(kw_config_parse(&cfg, json, "t.json", err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.kpis[0].kind, KW_KIND_CONTINUOUS);
    cr_assert_eq(cfg.kpis[1].kind, KW_KIND_RATE);
    cr_assert_str_eq(cfg.kpis[0].detector.type->name, "nps");
    cr_assert_str_eq(cfg.kpis[1].detector.type->name, "binomial");
    struct kw_series_info ni = kw_kpi_series_info(&cfg.kpis[0]), ci = kw_kpi_series_info(&cfg.kpis[1]);
    cr_assert_eq(ni.direction, KW_DIR_DOWN, "a lower score is worse");
    cr_assert_eq(ci.direction, KW_DIR_DOWN);
    struct kw_pipeline p;
    kw_pipeline_init(&p, &cfg);
    struct last_sample ln = {0};
    kw_pipeline_on_interval(&p, keep_sample, &ln);
    const double nps[] = {10, 9, 8, 7, 6, 0}, csat[] = {5, 4, 3, 1};
    enum kw_reject why;
    for (int i = 0; i < 6; i++) {
        struct kw_point pt = {.metric = "nps", .value = nps[i], .ts_ms = T0 + i};
        cr_assert_eq(kw_pipeline_point(&p, &pt, &why), 0);
    }
    struct kw_point bad = {.metric = "nps", .value = 11, .ts_ms = T0};
    cr_assert_eq(kw_pipeline_point(&p, &bad, &why), -1);
    cr_assert_eq(why, KW_REJ_BAD_VALUE);
    bad.value = 7.5;
    cr_assert_eq(kw_pipeline_point(&p, &bad, &why), -1);
    struct kw_point later = {.metric = "nps", .value = 9, .ts_ms = T0 + IV};
    kw_pipeline_point(&p, &later, &why);
    kw_pipeline_tick(&p, 0);
    cr_assert_geq(ln.n, 1);
    cr_assert_float_eq(ln.s.value, 0, 1e-12);
    cr_assert_float_eq(ln.s.numerator, 2, 0);
    cr_assert_float_eq(ln.s.detractors, 2, 0);
    cr_assert_float_eq(ln.s.denominator, 6, 0);
    kw_pipeline_release(&p);

    kw_pipeline_init(&p, &cfg);
    struct last_sample lc = {0};
    kw_pipeline_on_interval(&p, keep_sample, &lc);
    for (int i = 0; i < 4; i++) {
        struct kw_point pt = {.metric = "csat", .value = csat[i], .ts_ms = T0 + i};
        cr_assert_eq(kw_pipeline_point(&p, &pt, &why), 0);
    }
    struct kw_point zero = {.metric = "csat", .value = 0, .ts_ms = T0};
    cr_assert_eq(kw_pipeline_point(&p, &zero, &why), -1);
    struct kw_point next = {.metric = "csat", .value = 5, .ts_ms = T0 + IV};
    kw_pipeline_point(&p, &next, &why);
    kw_pipeline_tick(&p, 0);
    cr_assert_float_eq(lc.s.value, 0.5, 1e-12);
    cr_assert_float_eq(lc.s.numerator, 2, 0);
    cr_assert_float_eq(lc.s.denominator, 4, 0);
    kw_pipeline_release(&p);
    kw_config_release(&cfg);
}
