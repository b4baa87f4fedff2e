/* outbox: the hand-off between detection and delivery, and the grouping of
 * alerts into incidents. The pipeline pushes each alert event into a bounded
 * queue (kw_outbox_alert is its on_alert sink) and goes back to ingesting;
 * the outbox thread drains the queue, holds back what a silence or an
 * inhibition rule matches,
 * walks the routing tree, and adds the alert to the aggregation group of
 * each route node it reaches (node plus its group_by values: one group is
 * one incident). A group is notified group_wait after it opens, again at
 * most every group_interval when it changed (a new member, a resolved one),
 * every repeat_interval while it fires unchanged, and once more when all
 * its members resolved. Its dedup key is stable across restarts. A
 * notification due while its node is muted (route mute_time_intervals,
 * active_time_intervals) is not sent, but the group moves on as if it had
 * been. Times are event time, so a replay groups and mutes exactly as the
 * daemon does; silences are judged at the wall clock, or in a replay at
 * event time too. The dispatcher
 * sends on its own thread; nothing below the queue runs on the ingest
 * thread.
 *   pipeline --alert events, ticks--> [queue] --outbox thread: silence, route, group--> dispatcher */
#ifndef KW_OUTBOX_H
#define KW_OUTBOX_H

#include <stdint.h>

#include "../notifiers/alert.h"
#include "../notifiers/dispatcher.h"
#include "config.h"
#include "silence.h"

struct kw_outbox;

struct kw_outbox_stats {
    uint64_t alerts;          /* events taken from the queue */
    uint64_t notifications;   /* alert x receiver handed to delivery */
    uint64_t queue_full_waits;/* times the pipeline waited for room */
    uint64_t silenced;        /* alerts whose notifications a silence held back */
    uint64_t inhibited;       /* alerts an inhibition rule held back */
    uint64_t muted;           /* notifications a route's mute or active time intervals held back */
    uint64_t incident_saves;  /* writes of the incidents file */
    /* over all receivers, from the dispatcher: */
    uint64_t sent, failed, retried, dropped, pending;
};

/* Start the outbox thread and the dispatcher for cfg's receivers and
 * routes (cfg must outlive the outbox). state_dir may be NULL (no spool);
 * with one, the open incidents are restored from its incidents.json and
 * kept there, written at most once a second and at stop.
 * silences (borrowed, may be NULL) hold back the notifications of alerts
 * they match. Returns NULL with err when delivery cannot start. */
struct kw_outbox *kw_outbox_start(const struct kw_config *cfg, const char *state_dir, struct kw_silences *silences,
                                  char *err, size_t errlen);
/* Judge silences at the event time of each alert and notification (the
 * interval end, the outbox's clock) instead of the wall clock: for a
 * replay of recorded data. Call it before the first alert. */
void kw_outbox_silence_at_event_time(struct kw_outbox *o);
/* The pipeline's on_alert sink (ctx is the outbox): queue a copy of a.
 * Waits only while the queue is full. */
void kw_outbox_alert(void *ctx, const struct kw_alert *a);
/* A firing alert's current numbers (the pipeline's on_refresh): the groups
 * that hold it show them from their next notification on; a rise to
 * critical is itself notified as an update. Queued in order with alerts. */
void kw_outbox_refresh(void *ctx, const struct kw_alert *a);
/* After state was restored: keys[0..nkeys) are the alerts that fire (and
 * the open nodata alerts). Members of open incidents not among them are
 * resolved and their incidents notified. Takes keys over (malloc'd). */
void kw_outbox_reconcile(struct kw_outbox *o, char (*keys)[24], size_t nkeys);
/* The pipeline's event time moved to clock_ms: groups whose wait is over
 * are notified. Call it after kw_pipeline_tick. Never waits (a tick is
 * dropped when the queue is full; the next one carries the clock). */
void kw_outbox_tick(struct kw_outbox *o, int64_t clock_ms);
/* Deliver what is queued (waiting up to drain_ms for receivers), stop both
 * threads and free the outbox. What was not delivered stays in the spool.
 * Accepts NULL. */
void kw_outbox_stop(struct kw_outbox *o, int64_t drain_ms);
/* A copy of the counters. */
void kw_outbox_stats(struct kw_outbox *o, struct kw_outbox_stats *out);
/* The open incidents (aggregation groups) as JSON text, as the incidents
 * file holds them: {"incidents": [{key, route, receiver, group, start_ms,
 * notified, members: [{resolved, alert}]}]}. NULL before the first change.
 * The caller frees it. Any thread. */
char *kw_outbox_incidents_json(struct kw_outbox *o);
/* The dispatcher's counters of receiver number r. */
void kw_outbox_receiver_stats(struct kw_outbox *o, int r, struct kw_receiver_stats *out);

#endif
