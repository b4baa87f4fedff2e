/* pipeline: points in, alert events out. Routes each point to the KPIs that
 * use its metric and into its series' open interval, and runs the interval
 * clock: when an interval closes, its value goes through the detector; once
 * the interval's close point has passed for the whole KPI, the verdicts of
 * all its series are held to false-discovery control (fdr.h) and go through
 * the alert state machine, and any alert goes to on_alert (the agent's alert
 * queue). The daemon, replay and the demo all feed points through this same
 * pipeline. */
#ifndef KW_PIPELINE_H
#define KW_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../notifiers/alert.h"
#include "config.h"
#include "ingest.h"
#include "../lib/heap.h"
#include "series.h"

/* Called for every alert notification (firing, repeat, resolved). */
typedef void (*kw_alert_sink)(void *ctx, const struct kw_alert *alert);
/* Called for every closed interval of every series, after the alert state
 * machine has seen it (replay --scores, the status page's history). */
typedef void (*kw_interval_sink)(void *ctx, const struct kw_series *s, const struct kw_kpi_config *kpi,
                                 const struct kw_sample *sample, const struct kw_verdict *v);

#define KW_PIPELINE_INTERVAL_SINKS 4

struct kw_pipeline_stats {
    uint64_t series_created;
    uint64_t series_expired;
    uint64_t intervals_closed;
    uint64_t anomalies;
    uint64_t alerts_fired;
    uint64_t alerts_resolved;
    uint64_t alerts_repeated;
    uint64_t points_unwatched;  /* valid points whose metric no KPI uses (a typo shows up here) */
    uint64_t intervals_skipped; /* intervals jumped over without a verdict (a gap longer than a walk may take) */
    uint64_t intervals_gap;     /* empty intervals closed as missing after a restore */
    /* Times the set of firing series changed with no alert event to tell
     * of it: a firing series restored, or dropped (a Kafka partition handed
     * over), or flipped while flap control holds its notifications back.
     * Whoever mirrors the firing alerts from the events (the status board)
     * must look at the table again when this moves. */
    uint64_t firing_untold;
};

/* Event time of one KPI. Each KPI keeps its own, moved only by points it
 * accepted, so an unwatched metric or another KPI's clock skew moves
 * nothing here. While quiet it flows on with the wall clock (daemon), and
 * in live mode it never runs ahead of the wall clock, so a point from the
 * future cannot make other series' on-time points late. */
struct kw_kpi_clock {
    int64_t event_ms;      /* latest event time accepted (INT64_MIN before any point) */
    int64_t wall_ms;       /* wall clock when event_ms last advanced */
    int64_t seen_ms;       /* event_ms as of the previous tick */
    /* After a restore, intervals the agent did not observe are gaps, not
     * zeros: empty intervals starting before gap_before are missing. The
     * first point accepted after the restore sets it to that point's
     * interval; until then every empty interval is a gap. */
    int64_t gap_before;
    bool resuming;
};

struct kw_fdr_batch;

struct kw_pipeline {
    const struct kw_config *cfg;   /* not owned; must outlive the pipeline */
    struct kw_series_table table;
    struct kw_ingest_stats ingest;
    struct kw_pipeline_stats stats;
    struct kw_kpi_clock *clocks;   /* one per cfg->kpis entry */
    struct kw_fdr_batch *fdr;      /* one per cfg->kpis entry: verdicts waiting for their interval's close point */
    size_t *kpi_series;            /* live series per KPI (for kpis[].max_series) */
    size_t *kpi_pending;           /* of those, in the pending and in the firing alert phase: kept */
    size_t *kpi_firing;            /*   wherever a phase changes, so counting never walks the table */
    uint64_t *series_refused;      /* new series refused per KPI by a series limit */
    bool extrapolate;              /* let event time flow with the wall clock while quiet (daemon) */
    bool live;                     /* event time never runs ahead of the wall clock (daemon with age checks) */
    bool hold_clock;               /* intervals close on ticks only, not as points move the clock (Kafka: partitions
                                    * arrive unevenly, and a taken-over partition replays its backlog) */
    int64_t wall_ms;               /* wall clock of the latest tick */
    int64_t now_ms;                /* latest wall clock known (kw_pipeline_set_now): caps event time in live mode */
    struct kw_heap *due;           /* one per KPI: its series keyed by when they next need the clock */
    int64_t native_spacing_override_ms; /* replay: inferred spacing for interval-0 KPIs (0 = config) */
    int partition;                 /* Kafka partition of the message being ingested; -1 otherwise */
    kw_alert_sink on_alert;
    void *alert_ctx;
    /* A firing alert's current numbers after an interval that changed
     * nothing to tell (KW_T_REFRESH): for what shows open incidents (the
     * status board, the outbox's groups), never a notification by itself. */
    kw_alert_sink on_refresh;
    void *refresh_ctx;
    struct {
        kw_interval_sink fn;
        void *ctx;
    } interval_sinks[KW_PIPELINE_INTERVAL_SINKS]; /* see kw_pipeline_on_interval */
    int ninterval_sinks;
};

/* Set up a pipeline for cfg. Never fails. */
void kw_pipeline_init(struct kw_pipeline *p, const struct kw_config *cfg);
/* Free every series. Does not flush open intervals (see kw_pipeline_flush). */
void kw_pipeline_release(struct kw_pipeline *p);

/* Add a consumer of closed intervals; consumers are called in the order
 * they were added. Returns 0, or -1 when KW_PIPELINE_INTERVAL_SINKS are
 * already registered. */
int kw_pipeline_on_interval(struct kw_pipeline *p, kw_interval_sink fn, void *ctx);

/* The kw_point_sink for kw_ingest_message: ctx is the pipeline. */
int kw_pipeline_point(void *ctx, const struct kw_point *pt, enum kw_reject *why);

/* Close every interval that event time (extrapolated by wall time when
 * p->extrapolate) has passed, raise and resolve nodata alerts, and expire
 * idle series. Only the series that are due are visited (a timer queue per
 * KPI keyed by close point), so a tick costs O(due series x log n). Call
 * it after every batch of points and whenever kw_pipeline_next_due says. */
void kw_pipeline_tick(struct kw_pipeline *p, int64_t wall_ms);
/* Tell the pipeline the wall clock before handing it points, so intervals
 * the points' event time closes are decided at once (live mode never lets
 * event time pass the wall clock). kw_pipeline_tick sets it too. */
static inline void kw_pipeline_set_now(struct kw_pipeline *p, int64_t wall_ms)
{
    p->now_ms = wall_ms;
}
/* Wall milliseconds from wall_ms until the next tick has work (an interval's
 * close point, a nodata deadline, an expiry), 0 when some is due now, -1
 * when nothing is scheduled or event time does not flow with the wall
 * clock. The agent sleeps no longer than this, so a quiet stream's
 * intervals close on time. */
int64_t kw_pipeline_next_due(const struct kw_pipeline *p, int64_t wall_ms);
/* Close all open intervals now and decide every waiting verdict (end of a
 * replay, or shutdown). */
void kw_pipeline_flush(struct kw_pipeline *p);

/* The latest event time over all KPIs (extrapolated as for closing), or
 * INT64_MIN before any point: the clock that alert grouping runs on. */
int64_t kw_pipeline_clock(const struct kw_pipeline *p);

/* Number of series whose alert is firing. */
size_t kw_pipeline_firing(const struct kw_pipeline *p);

/* Insert a series restored by the state store; its KPI's event time moves
 * up to its latest point. p takes ownership of s. */
void kw_pipeline_adopt(struct kw_pipeline *p, struct kw_series *s);
/* Remove and free every series whose partition is partition (any Kafka
 * partition when partition is KW_PIPELINE_ANY_PARTITION), without alerts:
 * another agent owns them now. Returns how many were dropped. */
#define KW_PIPELINE_ANY_PARTITION (-2)
size_t kw_pipeline_drop_partition(struct kw_pipeline *p, int partition);
/* Remove and free one series of p without alerts. */
void kw_pipeline_drop(struct kw_pipeline *p, struct kw_series *s);
/* After a restore: until each KPI sees its next point, empty intervals are
 * gaps (the agent was not running), not zeros. */
void kw_pipeline_resume(struct kw_pipeline *p);

#endif
