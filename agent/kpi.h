/* kpi: what users want watched. A KPI is a metric (or a ratio of two)
 * aggregated per interval, split into series by group_by labels, judged by
 * one detector and one alert rule. This module owns the kpis[] options and
 * their meaning checks; the detector section is parsed by the detector
 * registry and the alert section by the alert engine. */
#ifndef KW_KPI_H
#define KW_KPI_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "../detectors/detector.h"
#include "../lib/opts.h"
#include "aggregate.h"
#include "alerting.h"

struct kw_kpi_config {
    char *name;
    char *description;
    char *metric;
    char *denominator;            /* ratio KPIs: the denominator metric */
    int aggregation;              /* enum kw_aggregation */
    int kind;                     /* enum kw_kpi_kind, derived from aggregation */
    int64_t interval_ms;          /* 0 = native: each point is its own interval */
    int64_t native_spacing_ms;    /* nominal spacing of native points */
    int64_t lateness_ms;          /* how long an interval stays open for late points */
    int max_series;               /* most series of this KPI; 0 = agent.max_series */
    double quantile;              /* quantile KPIs: which one, 0..1 */
    int quantile_samples;         /* quantile KPIs: reservoir size per interval */
    struct kw_string_list group_by;
    struct kw_string_map match;   /* only points whose labels equal these */
    char *unit;
    double cost_per_unit;
    char *currency;
    char *runbook;
    char *dashboard;
    bool fdr;                     /* false-discovery control across the series per interval */
    struct kw_detector detector;
    struct kw_rule_config alert;
};

/* The kpis[] option table (for the config reference). */
extern const struct kw_option kw_kpi_options[];

/* Parse one kpis[] entry at path into kpi (zeroed by the caller). Returns 0,
 * or -1 with "path.key: reason" in err; on error call kw_kpi_release. */
int kw_kpi_parse(struct kw_kpi_config *kpi, const cJSON *item, const char *path, char *err, size_t errlen);
/* Free kpi's contents. Safe on a zeroed or partly parsed struct. */
void kw_kpi_release(struct kw_kpi_config *kpi);

/* What a series of this KPI looks like to its detector. */
struct kw_series_info kw_kpi_series_info(const struct kw_kpi_config *kpi);

#endif
