/* outbox: the hand-off between detection and delivery. The pipeline pushes
 * each alert event into a bounded queue (kw_outbox_alert is its on_alert
 * sink) and goes back to ingesting; the outbox thread drains the queue,
 * holds back what a silence matches, routes each alert to its receivers and hands one notification per
 * receiver to the dispatcher, which sends on its own thread. Nothing below
 * the queue ever runs on the ingest thread.
 *   pipeline --alert events--> [queue] --outbox thread: silence, route--> dispatcher */
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
    /* over all receivers, from the dispatcher: */
    uint64_t sent, failed, retried, dropped, pending;
};

/* Start the outbox thread and the dispatcher for cfg's receivers and
 * routes (cfg must outlive the outbox). state_dir may be NULL (no spool).
 * silences (borrowed, may be NULL) hold back the notifications of alerts
 * they match. Returns NULL with err when delivery cannot start. */
struct kw_outbox *kw_outbox_start(const struct kw_config *cfg, const char *state_dir, struct kw_silences *silences,
                                  char *err, size_t errlen);
/* The pipeline's on_alert sink (ctx is the outbox): queue a copy of a.
 * Waits only while the queue is full. */
void kw_outbox_alert(void *ctx, const struct kw_alert *a);
/* Deliver what is queued (waiting up to drain_ms for receivers), stop both
 * threads and free the outbox. What was not delivered stays in the spool.
 * Accepts NULL. */
void kw_outbox_stop(struct kw_outbox *o, int64_t drain_ms);
/* A copy of the counters. */
void kw_outbox_stats(struct kw_outbox *o, struct kw_outbox_stats *out);
/* The dispatcher's counters of receiver number r. */
void kw_outbox_receiver_stats(struct kw_outbox *o, int r, struct kw_receiver_stats *out);

#endif
