/* outbox: the alert queue and the thread that routes what it holds. */
#include "outbox.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/queue.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "../notifiers/dispatcher.h"

#define QUEUE_CAP 1024 /* alert events; ~4 KB each */
#define MAX_TARGETS 16

struct kw_outbox {
    const struct kw_config *cfg;
    struct kw_queue queue;
    pthread_t thread;
    pthread_mutex_t lock; /* guards stats */
    struct kw_outbox_stats stats;
    struct kw_dispatcher *dispatcher;
    struct kw_silences *silences; /* borrowed; may be NULL */
};

static int notify_kind(const struct kw_alert *a)
{
    if (a->status == KW_ALERT_RESOLVED)
        return KW_NOTIFY_RESOLVED;
    return a->repeat ? KW_NOTIFY_UPDATE : KW_NOTIFY_FIRING;
}

static void deliver(struct kw_outbox *o, const struct kw_alert *a)
{
    char silence[KW_SILENCE_ID];
    if (o->silences && kw_silences_match(o->silences, a, kw_now_ms(), silence)) {
        /* still evaluated and counted; only the notification is held back */
        pthread_mutex_lock(&o->lock);
        o->stats.silenced++;
        pthread_mutex_unlock(&o->lock);
        kw_debug("outbox", "alert %s of %s silenced by %s", a->key, a->kpi, silence);
        return;
    }
    int targets[MAX_TARGETS];
    int n = kw_routing_match(&o->cfg->routing, a, targets, MAX_TARGETS);
    for (int i = 0; i < n; i++) {
        const struct kw_receiver *r = &o->cfg->receivers[targets[i]];
        if (!r->enabled)
            continue;
        struct kw_notification note = {.kind = notify_kind(a), .nalerts = 1, .created_ms = kw_now_ms()};
        snprintf(note.receiver, sizeof note.receiver, "%s", r->name);
        snprintf(note.key, sizeof note.key, "%s", a->key);
        note.alerts = xmalloc(sizeof *note.alerts);
        note.alerts[0] = *a;
        kw_dispatcher_submit(o->dispatcher, targets[i], &note);
        pthread_mutex_lock(&o->lock);
        o->stats.notifications++;
        pthread_mutex_unlock(&o->lock);
    }
}

static void *outbox_main(void *arg)
{
    struct kw_outbox *o = arg;
    struct kw_alert *a = xmalloc(sizeof *a);
    while (kw_queue_pop(&o->queue, a, -1) == 1) {
        pthread_mutex_lock(&o->lock);
        o->stats.alerts++;
        pthread_mutex_unlock(&o->lock);
        deliver(o, a);
    }
    free(a);
    return NULL;
}

struct kw_outbox *kw_outbox_start(const struct kw_config *cfg, const char *state_dir, struct kw_silences *silences,
                                  char *err, size_t errlen)
{
    struct kw_outbox *o = xcalloc(1, sizeof *o);
    o->cfg = cfg;
    o->silences = silences;
    o->dispatcher = kw_dispatcher_start(&cfg->delivery, cfg->receivers, cfg->nreceivers, state_dir, err, errlen);
    if (!o->dispatcher) {
        free(o);
        return NULL;
    }
    kw_queue_init(&o->queue, sizeof(struct kw_alert), QUEUE_CAP);
    pthread_mutex_init(&o->lock, NULL);
    pthread_create(&o->thread, NULL, outbox_main, o);
    return o;
}

void kw_outbox_alert(void *ctx, const struct kw_alert *a)
{
    struct kw_outbox *o = ctx;
    if (kw_queue_push(&o->queue, a))
        kw_error("outbox", "alert %s arrived after shutdown began; not delivered", a->key);
}

void kw_outbox_stop(struct kw_outbox *o, int64_t drain_ms)
{
    if (!o)
        return;
    kw_queue_close(&o->queue); /* the outbox thread routes what is queued, then ends */
    pthread_join(o->thread, NULL);
    kw_dispatcher_stop(o->dispatcher, drain_ms);
    kw_queue_release(&o->queue);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

void kw_outbox_stats(struct kw_outbox *o, struct kw_outbox_stats *out)
{
    pthread_mutex_lock(&o->lock);
    *out = o->stats;
    pthread_mutex_unlock(&o->lock);
    pthread_mutex_lock(&o->queue.lock);
    out->queue_full_waits = o->queue.full_waits;
    pthread_mutex_unlock(&o->queue.lock);
    for (int r = 0; r < o->cfg->nreceivers; r++) {
        struct kw_receiver_stats rs;
        kw_dispatcher_stats(o->dispatcher, r, &rs);
        out->sent += rs.sent;
        out->failed += rs.failed;
        out->retried += rs.retried;
        out->dropped += rs.dropped;
        out->pending += rs.depth;
    }
}

void kw_outbox_receiver_stats(struct kw_outbox *o, int r, struct kw_receiver_stats *out)
{
    kw_dispatcher_stats(o->dispatcher, r, out);
}
