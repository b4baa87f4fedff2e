/* config: the agent's JSON configuration, parsed and validated in one pass.
 * Every error names the key path ("kpis[2].detector.window: must be >= 8");
 * a JSON syntax error names the line and column. ${VAR} and ${VAR:-default}
 * in string values are replaced from the environment, so secrets stay out of
 * the file. A parsed config is immutable; reload builds a new one. */
#ifndef KW_CONFIG_H
#define KW_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "../detectors/detector.h"
#include "../notifiers/notifier.h"
#include "../notifiers/alert.h"
#include "ingest.h"
#include "../lib/opts.h"

enum kw_aggregation {
    KW_AGG_SUM = 0, KW_AGG_COUNT, KW_AGG_MEAN, KW_AGG_LAST, KW_AGG_RATIO, KW_AGG_MAX, KW_AGG_MIN, KW_AGG_QUANTILE
};
enum kw_input_mode { KW_INPUT_BIND = 0, KW_INPUT_CONNECT };
enum kw_input_socket { KW_INPUT_SUB = 0, KW_INPUT_PULL };

struct kw_string_list {
    char **items;
    int n;
};

struct kw_matcher_list {
    char **names;
    char **values;
    int n;
};

struct kw_input_config {
    char *name;
    char *endpoint;
    int mode;                     /* enum kw_input_mode */
    int socket;                   /* enum kw_input_socket */
    struct kw_string_list topics; /* SUB prefixes; empty = everything */
    int rcvhwm;
};

struct kw_rule_config {
    int for_intervals;        /* anomalous intervals before firing */
    int resolve_after;        /* normal intervals before resolving (hysteresis) */
    double critical_severity; /* peak severity at or above which the alert is critical */
    double min_severity;      /* verdicts below this severity count as normal */
    int64_t repeat_interval_ms; /* re-notify while firing; 0 = never */
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
    double quantile;              /* quantile KPIs: which one, 0..1 */
    int quantile_samples;         /* quantile KPIs: reservoir size per interval */
    struct kw_string_list group_by;
    struct kw_matcher_list match; /* only points whose labels equal these */
    char *unit;
    double cost_per_unit;
    char *currency;
    char *runbook;
    char *dashboard;
    struct kw_detector detector;
    struct kw_rule_config alert;
};

struct kw_route_config {
    struct kw_matcher_list match;
    char *receiver;
    int receiver_index;
    bool cont;
};

struct kw_config {
    char *path;
    int log_level;
    char *state_dir;
    int max_series;
    int64_t series_ttl_ms;
    int64_t stats_interval_ms;
    struct kw_ingest_limits ingest;
    struct kw_input_config *inputs;
    int ninputs;
    struct kw_kpi_config *kpis;
    int nkpis;
    struct kw_receiver *receivers;
    int nreceivers;
    char *default_receiver;
    int default_receiver_index;
    struct kw_route_config *routes;
    int nroutes;
};

/* Load and validate the config at path into cfg. Returns 0, or -1 with a
 * message in err ("path: kpis[0].interval: ..."); on error cfg needs no release. */
int kw_config_load(struct kw_config *cfg, const char *path, char *err, size_t errlen);
/* Same from a string (name is used in messages). */
int kw_config_parse(struct kw_config *cfg, const char *text, const char *name, char *err, size_t errlen);
/* Free cfg's contents. Safe on a zeroed struct. */
void kw_config_release(struct kw_config *cfg);

/* Index of the receiver named name, or -1. */
int kw_config_receiver_index(const struct kw_config *cfg, const char *name);

/* Print every option table as Markdown (the README's config reference). */
void kw_config_print_reference(void *stream);

#endif
