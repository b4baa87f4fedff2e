/* outbox: the alert queue and the thread that routes what it holds. */
#include "outbox.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/queue.h"
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
    struct kw_delivery_config delivery;
};

static int notify_kind(const struct kw_alert *a)
{
    if (a->status == KW_ALERT_RESOLVED)
        return KW_NOTIFY_RESOLVED;
    return a->repeat ? KW_NOTIFY_UPDATE : KW_NOTIFY_FIRING;
}

static void deliver(struct kw_outbox *o, const struct kw_alert *a)
{
    int targets[MAX_TARGETS];
    int n = kw_routing_match(&o->cfg->routing, a, targets, MAX_TARGETS);
    for (int i = 0; i < n; i++) {
        const struct kw_receiver *r = &o->cfg->receivers[targets[i]];
        if (!r->enabled)
            continue;
        struct kw_notification note = {.kind = notify_kind(a), .nalerts = 1, .created_ms = 0};
        snprintf(note.receiver, sizeof note.receiver, "%s", r->name);
        snprintf(note.key, sizeof note.key, "%s", a->key);
        note.alerts = (struct kw_alert *)a;
        struct kw_send_outcome out;
        kw_notify_send_now(r, &note, &o->delivery, &out);
        pthread_mutex_lock(&o->lock);
        o->stats.notifications++;
        if (out.result == KW_SEND_OK)
            o->stats.sent++;
        else
            o->stats.failed++;
        pthread_mutex_unlock(&o->lock);
        if (out.result != KW_SEND_OK) {
            char component[96];
            snprintf(component, sizeof component, "%s/%s", r->type->name, r->name);
            kw_error(component, "could not deliver alert %s: %s", a->key, out.reason[0] ? out.reason : "failed");
        }
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

struct kw_outbox *kw_outbox_start(const struct kw_config *cfg, const char *state_dir, char *err, size_t errlen)
{
    (void)state_dir;
    (void)err;
    (void)errlen;
    struct kw_outbox *o = xcalloc(1, sizeof *o);
    o->cfg = cfg;
    o->delivery = (struct kw_delivery_config){.connect_timeout_ms = 5000, .timeout_ms = 15000};
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
    (void)drain_ms;
    kw_queue_close(&o->queue);
    pthread_join(o->thread, NULL);
    kw_queue_release(&o->queue);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

void kw_outbox_stats(struct kw_outbox *o, struct kw_outbox_stats *out)
{
    pthread_mutex_lock(&o->lock);
    *out = o->stats;
    out->queue_full_waits = 0;
    pthread_mutex_unlock(&o->lock);
    pthread_mutex_lock(&o->queue.lock);
    out->queue_full_waits = o->queue.full_waits;
    pthread_mutex_unlock(&o->queue.lock);
}
