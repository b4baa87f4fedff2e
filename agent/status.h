/* status: what the agent thread publishes for the HTTP thread. The pipeline
 * and the outbox belong to the agent thread and are never read from
 * another one; instead the agent publishes, at most once a second, a copy
 * of its counters (ingest, pipeline, per KPI, per receiver), its readiness
 * and the config facts a reader needs (KPI names, units, links), and keeps
 * a board of active and recently resolved alerts fed by the alert sink.
 * Readers copy a view under the lock; the lock is never held per point.
 *   pipeline --on_alert--> [status: board] --> outbox
 *   pipeline --interval sink--> [status: verdict counters] --> history */
#ifndef KW_STATUS_H
#define KW_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../notifiers/alert.h"
#include "../notifiers/dispatcher.h"
#include "config.h"
#include "history.h"
#include "outbox.h"
#include "pipeline.h"

enum { KW_READY_CONFIG = 1, KW_READY_INPUTS = 2, KW_READY_STATE = 4, KW_READY_ALL = 7 };

#define KW_STATUS_RESOLVED 64 /* recently resolved alerts kept for the API and the page */

struct kw_status_kpi {
    char name[KW_ALERT_LABEL_NAME];
    char description[KW_ALERT_TEXT];
    char unit[KW_ALERT_LABEL_NAME];
    char detector[32];
    char runbook[KW_ALERT_TEXT];
    char dashboard[KW_ALERT_TEXT];
    int kind;                     /* enum kw_kpi_kind */
    int64_t interval_ms;
    int ngroup_by;
    char group_by[KW_ALERT_MAX_LABELS][KW_ALERT_LABEL_NAME];
    /* counters; those of a KPI that keeps its name carry over a reload */
    uint64_t series, series_refused;
    uint64_t intervals, verdicts_normal, verdicts_anomalous, verdicts_warming;
    uint64_t alerts_ok, alerts_pending, alerts_firing; /* series per alert state, now */
};

struct kw_status_receiver {
    char name[64];
    char type[32];
    bool enabled;
    struct kw_receiver_stats stats; /* counters carry over reloads by receiver name */
};

/* A consistent copy for a reader. */
struct kw_status_view {
    int64_t now_ms, started_ms, published_ms;
    int ready;                    /* KW_READY_* bits */
    struct kw_ingest_stats ingest;
    struct kw_pipeline_stats pipeline;
    uint64_t series;
    uint64_t outbox_alerts, outbox_notifications, queue_full_waits;
    uint64_t outbox_muted;        /* notifications muted by route time intervals */
    int64_t ingest_queue_bytes;   /* parsed points waiting for aggregation (receive thread) */
    int64_t ingest_queue_limit;   /* ingest.queue_bytes; 0 = no receive thread */
    uint64_t reloads, reload_failures;
    int64_t last_reload_ms;       /* 0 = never reloaded */
    bool last_reload_ok;
    int64_t state_saved_ms;       /* mtime of STATE_DIR/state.json; 0 = none */
    bool persistent;              /* a state_dir is configured */
    int nkpis;
    struct kw_status_kpi *kpis;
    int nreceivers;
    struct kw_status_receiver *receivers;
};

/* A recently resolved alert with the wall time it was resolved at. */
struct kw_status_resolved {
    struct kw_alert alert;
    int64_t resolved_ms;
};

struct kw_status;

/* A new, empty status. Never fails. */
struct kw_status *kw_status_new(void);
/* Free it. Accepts NULL. */
void kw_status_free(struct kw_status *st);

/* Take the facts readers need from cfg (copied: cfg may go away on a
 * reload). Agent thread; call at start and after every reload. */
void kw_status_configure(struct kw_status *st, const struct kw_config *cfg);
/* The base URL of the status page, for links in alerts ("" = none). */
void kw_status_set_external_url(struct kw_status *st, const char *url);
/* Mark one readiness condition as met (KW_READY_*). */
void kw_status_ready(struct kw_status *st, int flag);

/* Put st between p and its alert sink (set p->on_alert first) and register
 * the interval sink, which counts verdicts and feeds history (may be NULL).
 * Agent thread. */
void kw_status_attach(struct kw_status *st, struct kw_pipeline *p, struct kw_history *history);
/* Point the interval sink at another history store (NULL = none). Agent thread. */
void kw_status_set_history(struct kw_status *st, struct kw_history *history);
/* Publish the counters of p and o (o may be NULL). Cheap to call every
 * loop: it copies at most once a second unless force. Agent thread. */
void kw_status_publish(struct kw_status *st, const struct kw_pipeline *p, struct kw_outbox *o, uint64_t reloads,
                       uint64_t reload_failures, bool force);
/* The outbox o is about to be stopped (reload): keep its counters. */
void kw_status_retire_outbox(struct kw_status *st, struct kw_outbox *o);

/* A copy of the latest publication. Any thread. Free with kw_status_view_release. */
void kw_status_read(struct kw_status *st, struct kw_status_view *out);
void kw_status_view_release(struct kw_status_view *v);
/* Copies of the active alerts (latest notification of each firing series,
 * oldest incident first) and of the recently resolved ones (newest first).
 * Counts returned; arrays owned by the caller (free()). Any thread. */
size_t kw_status_active(struct kw_status *st, struct kw_alert **out);
size_t kw_status_resolved(struct kw_status *st, struct kw_status_resolved **out);

/* Active alerts grouped into incidents, as the alert engine grouped them
 * (the outbox's aggregation groups; one incident that reaches several
 * receivers is shown once). Active alerts in no group (held back by a
 * silence or inhibition, or before the outbox reported) are grouped by
 * their "journey" label, else by KPI. */
struct kw_status_incident {
    char key[96];                 /* the dedup key sent to receivers; "" for the fallback grouping */
    char by[KW_ALERT_TEXT];       /* the group_by labels, "journey" / "journey,step"; "kpi" in the fallback */
    char value[KW_ALERT_LABEL_VALUE]; /* their values, "checkout" / "checkout,payment"; "" = everything */
    char receivers[KW_ALERT_TEXT];/* "cx-slack, cx-console" */
    size_t *members;              /* indexes into the alerts passed in, first mover first */
    size_t n;
    int64_t since_ms;             /* the first mover's start */
    int severity;                 /* the worst member's */
};
/* Publish the outbox's incidents JSON (kw_outbox_incidents_json; owned by
 * st from now on; NULL keeps the last). Agent thread. */
void kw_status_set_incidents(struct kw_status *st, char *json);
/* Publish the Kafka input's /metrics families (kw_kafka_metrics; owned by
 * st from now on). Agent thread. */
void kw_status_set_kafka(struct kw_status *st, char *text);
/* The receive thread's queue: bytes waiting now, and its bound (0 = none). */
void kw_status_set_ingest_queue(struct kw_status *st, int64_t bytes, int64_t limit);
/* A copy of the last text published (caller frees), or NULL. Any thread. */
char *kw_status_kafka(struct kw_status *st);
/* Group alerts[0..n) (sorted oldest first, as kw_status_active returns
 * them). Returns the count; free with kw_status_incidents_free. Any thread. */
size_t kw_status_incidents(struct kw_status *st, const struct kw_alert *alerts, size_t n,
                           struct kw_status_incident **out);
void kw_status_incidents_free(struct kw_status_incident *inc, size_t n);

#endif
