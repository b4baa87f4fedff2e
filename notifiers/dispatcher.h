/* dispatcher: delivers notifications to receivers on its own thread, so a
 * slow or hanging receiver never stalls ingestion or detection.
 *   submit() --bounded queue--> dispatcher thread --libcurl multi--> services
 * Every notification is written to the spool (state_dir/spool/) before it is
 * queued and removed when the service acknowledged it, so one that was not
 * acknowledged survives kill -9 and is sent after the restart with the same
 * dedup key. Retries use exponential backoff with jitter and honour
 * Retry-After; each receiver has a token bucket; permanent failures and
 * notifications older than max_age go to state_dir/dead-letter.jsonl with the
 * reason. Notifications with the same (receiver, key) are delivered in the
 * order they were submitted: a resolve never overtakes its firing.
 *
 * Files under state_dir (all written atomically: tmp + fsync + rename):
 *   spool/<seq>.json       one per held notification; seq is the submit order
 *                          and continues across restarts
 *   spool/corrupt/         spool files that failed validation, moved aside
 *   refs.json              thread references (Slack ts, Message-ID) of open
 *                          (receiver, key) pairs, at most 100000, oldest
 *                          dropped; an entry goes when its RESOLVED is sent
 *   dead-letter.jsonl      appended: {"time", "receiver", "key", "kind",
 *                          "reason", "attempts", "notification"}
 *
 * Threads: submit and stats may be called from any thread (they take a
 * mutex, never the network); everything else runs on the dispatcher thread.
 * The notifier's prepare/classify/send run on the dispatcher thread only.
 * Concurrency: a receiver uses at most max_in_flight requests, and one below
 * its fair share (max_in_flight / receivers with work) may start a request
 * even when all max_in_flight are taken, so the total can exceed it by the
 * number of receivers but a hanging service never holds up another one.
 * Rate: each attempt (first try or retry) takes one token from the
 * receiver's bucket; the further requests of a multi-step notification
 * (prepare step 1, 2, ...) belong to the same attempt. A notification that
 * waits behind another of its (receiver, key) is checked against max_age
 * when its turn comes. Retries and dead letters are logged per receiver
 * ("[slack/product-team] ...") once, then at doubling intervals. */
#ifndef KW_DISPATCHER_H
#define KW_DISPATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include "../lib/opts.h"
#include "notifier.h"

/* The "delivery" config section. */
struct kw_delivery_config {
    int queue_max;              /* notifications held in memory (and spool) before dropping repeats */
    int64_t max_age_ms;         /* a notification not delivered by then is dead */
    int64_t backoff_initial_ms; /* first retry delay; doubles up to backoff_max, with full jitter */
    int64_t backoff_max_ms;
    int64_t connect_timeout_ms;
    int64_t timeout_ms;         /* whole request */
    int max_in_flight;          /* concurrent transfers over all receivers */
};

/* The option table of the "delivery" section. */
extern const struct kw_option kw_delivery_options[];

/* Counters per receiver. Read with kw_dispatcher_stats (a consistent copy). */
struct kw_receiver_stats {
    uint64_t queued;      /* accepted by submit (including restored from the spool) */
    uint64_t sent;        /* acknowledged by the service */
    uint64_t retried;     /* attempts that will be retried */
    uint64_t failed;      /* dead: permanent failure or too old */
    uint64_t dropped;     /* repeats dropped because the queue was full */
    uint64_t depth;       /* waiting or in flight now */
    int64_t oldest_ms;    /* age of the oldest held (waiting or in flight); 0 = none */
};

struct kw_dispatcher; /* opaque; owns its thread, queue, spool and curl multi handle */

/* Start a dispatcher for receivers[0..n) (borrowed: they must outlive it).
 * state_dir may be NULL (no spool, no dead-letter file, no thread references
 * across restarts); it is created when missing (one level). Restores the
 * spool and queues what it holds, in submit order, matched to receivers by
 * name (one no longer configured goes to the dead-letter file). Returns the
 * dispatcher, or NULL with err (bad cfg, state_dir not writable). */
struct kw_dispatcher *kw_dispatcher_start(const struct kw_delivery_config *cfg, const struct kw_receiver *receivers,
                                          int n, const char *state_dir, char *err, size_t errlen);
/* Queue n for receiver index r. Takes ownership of n's contents (n is
 * zeroed). Sets n->receiver to the receiver's name and n->created_ms to now
 * when it is 0. Writes the spool file (fsync) but never blocks on the
 * network. When queue_max notifications are held (waiting or in flight) the
 * oldest waiting UPDATE is dropped (counted); a FIRING or RESOLVED is never
 * dropped: the bound is exceeded instead and logged at doubling intervals.
 * An invalid n (r out of range, no alerts, unknown kind) is logged and
 * freed. Must not be called during or after kw_dispatcher_stop. */
void kw_dispatcher_submit(struct kw_dispatcher *d, int r, struct kw_notification *n);
/* Wait up to drain_ms for the queue to empty (retries due before then are
 * still made), then abort what is in flight, stop the thread and free d.
 * What was not delivered stays in the spool for the next start. Accepts
 * NULL. */
void kw_dispatcher_stop(struct kw_dispatcher *d, int64_t drain_ms);
/* A copy of receiver r's counters, taken under the lock. Zeroes out for an
 * unknown r or a NULL d. */
void kw_dispatcher_stats(struct kw_dispatcher *d, int r, struct kw_receiver_stats *out);

/* Send n through receiver r now, on the calling thread, with no retry, no
 * spool and no rate limit (kpiwatch test-notify). out gets the outcome of
 * the last step; the service's answer to each step is logged. */
void kw_notify_send_now(const struct kw_receiver *r, const struct kw_notification *n,
                        const struct kw_delivery_config *cfg, struct kw_send_outcome *out);

#endif
