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

/* kpis[].rollups: each entry is a subset of group_by to sum the KPI up to. */
struct kw_rollups {
    struct kw_string_list *by;
    int n;
};

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
    struct kw_rollups rollups;    /* as configured; the config adds one KPI per roll-up */
    bool rollup_inhibit;          /* a firing roll-up holds back its children's new alerts */
    int rollup_of;                /* a roll-up: index of the KPI it sums up; -1 = a configured KPI */
    struct kw_detector detector;
    struct kw_rule_config alert;
};

/* The kpis[] option table (for the config reference). */
extern const struct kw_option kw_kpi_options[];

/* Parse one kpis[] entry at path into kpi (zeroed by the caller). Returns 0,
 * or -1 with "path.key: reason" in err; on error call kw_kpi_release. */
int kw_kpi_parse(struct kw_kpi_config *kpi, const cJSON *item, const char *path, char *err, size_t errlen);
/* Parse roll-up number r of the KPI at item (already parsed as parent,
 * index parent_index) into kpi (zeroed by the caller): the same KPI under
 * the name "NAME:DIMS" ("NAME:total" for []) with group_by = the roll-up's
 * labels. Returns 0 or -1 with err; on error call kw_kpi_release. */
int kw_kpi_parse_rollup(struct kw_kpi_config *kpi, const cJSON *item, const struct kw_kpi_config *parent,
                        int parent_index, int r, const char *path, char *err, size_t errlen);
/* Free kpi's contents. Safe on a zeroed or partly parsed struct. */
void kw_kpi_release(struct kw_kpi_config *kpi);

/* What a series of this KPI looks like to its detector. */
struct kw_series_info kw_kpi_series_info(const struct kw_kpi_config *kpi);

#endif
