/* pipeline: points in, alert events out. Routes each point to the KPIs that
 * use its metric and into its series' open interval, and runs the interval
 * clock: when an interval closes, its value goes through the detector and
 * the alert state machine, and any alert goes to on_alert (the agent's alert
 * queue). The daemon, replay and the demo all feed points through this same
 * pipeline. */
#ifndef KW_PIPELINE_H
#define KW_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "../notifiers/alert.h"
#include "config.h"
#include "ingest.h"
#include "series.h"

/* Called for every alert notification (firing, repeat, resolved). */
typedef void (*kw_alert_sink)(void *ctx, const struct kw_alert *alert);
/* Called for every closed interval of every series (replay --scores). */
typedef void (*kw_interval_sink)(void *ctx, const struct kw_series *s, const struct kw_kpi_config *kpi,
                                 const struct kw_sample *sample, const struct kw_verdict *v);

struct kw_pipeline_stats {
    uint64_t series_created;
    uint64_t series_expired;
    uint64_t intervals_closed;
    uint64_t anomalies;
    uint64_t alerts_fired;
    uint64_t alerts_resolved;
    uint64_t alerts_repeated;
    uint64_t points_unwatched;  /* valid points whose metric no KPI uses (a typo shows up here) */
};

struct kw_pipeline {
    const struct kw_config *cfg;   /* not owned; must outlive the pipeline */
    struct kw_series_table table;
    struct kw_ingest_stats ingest;
    struct kw_pipeline_stats stats;
    int64_t event_clock_ms;        /* latest event time seen (INT64_MIN before any point) */
    int64_t event_clock_wall_ms;   /* wall clock when event_clock_ms last advanced */
    int64_t seen_clock_ms;         /* event_clock_ms as of the previous tick */
    bool extrapolate;              /* let event time flow with the wall clock while quiet (daemon) */
    int64_t next_sweep_ms;         /* event time of the next sweep over all series */
    int64_t sweep_step_ms;
    int64_t native_spacing_override_ms; /* replay: inferred spacing for interval-0 KPIs (0 = config) */
    kw_alert_sink on_alert;
    void *alert_ctx;
    kw_interval_sink on_interval;
    void *interval_ctx;
};

/* Set up a pipeline for cfg. Never fails. */
void kw_pipeline_init(struct kw_pipeline *p, const struct kw_config *cfg);
/* Free every series. Does not flush open intervals (see kw_pipeline_flush). */
void kw_pipeline_release(struct kw_pipeline *p);

/* The kw_point_sink for kw_ingest_message: ctx is the pipeline. */
int kw_pipeline_point(void *ctx, const struct kw_point *pt, enum kw_reject *why);

/* Close every interval that event time (extrapolated by wall time when
 * p->extrapolate) has passed, and expire idle series. Call it regularly. */
void kw_pipeline_tick(struct kw_pipeline *p, int64_t wall_ms);
/* Close all open intervals now (end of a replay, or shutdown). */
void kw_pipeline_flush(struct kw_pipeline *p);

/* Number of series whose alert is firing. */
size_t kw_pipeline_firing(const struct kw_pipeline *p);

/* Insert a series restored by the state store; event time moves up to its
 * latest point. p takes ownership of s. */
void kw_pipeline_adopt(struct kw_pipeline *p, struct kw_series *s);

#endif
