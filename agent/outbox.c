/* outbox: the alert queue, and the thread that silences, routes and groups
 * what it holds into incident notifications. */
#include "outbox.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/queue.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"

#define QUEUE_CAP 1024 /* events; ~4 KB each */
#define MAX_NODES_PER_ALERT 16
#define MAX_MEMBERS 500 /* per group; beyond it the newest members are counted, not listed */

enum { EV_ALERT = 0, EV_TICK };

struct event {
    int type;
    int64_t clock_ms;   /* EV_TICK: event time now */
    struct kw_alert alert;
};

struct member {
    struct kw_alert a;
    bool resolved;      /* resolved since the group's last notification */
};

/* An aggregation group: the alerts one route node takes that share its
 * group_by values. One group is one incident, one message thread. */
struct group {
    int node;
    char key[KW_NOTIFY_KEY];  /* dedup key: stable across restarts */
    struct member *m;
    int n, cap;
    int overflow;             /* members not listed (beyond MAX_MEMBERS) */
    bool notified;            /* its first (FIRING) notification went out */
    bool dirty;               /* changed since the last notification */
    int64_t next_ms;          /* event time of the next flush check */
    int64_t last_ms;          /* event time of the last notification */
};

struct kw_outbox {
    const struct kw_config *cfg;
    struct kw_queue queue;
    pthread_t thread;
    pthread_mutex_t lock; /* guards stats */
    struct kw_outbox_stats stats;
    struct kw_dispatcher *dispatcher;
    struct kw_silences *silences; /* borrowed; may be NULL */
    /* owned by the outbox thread: */
    struct group *groups;
    int ngroups, gcap;
    int64_t clock_ms;         /* event time: the latest alert interval end or tick */
    struct kw_alert *firing;  /* every alert firing now (inhibition sources) */
    int nfiring, fcap;
    char (*held)[24];         /* keys of firing alerts held back (silenced or inhibited): their resolve is not sent */
    int nheld, hcap;
};

static uint64_t fnv1a(uint64_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The group key of alert a at route node: node path plus its group_by
 * label values, hashed. The same incident gets the same key after a
 * restart, so PagerDuty, Opsgenie and Slack threads continue. */
static void group_key(const struct kw_route_node *node, const struct kw_alert *a, char out[KW_NOTIFY_KEY])
{
    uint64_t h = fnv1a(1469598103934665603ULL, node->path, strlen(node->path) + 1);
    for (int i = 0; i < node->group_by.n; i++) {
        const char *name = node->group_by.items[i];
        const char *v = kw_alert_label_value(a, name);
        h = fnv1a(h, name, strlen(name) + 1);
        h = fnv1a(h, v ? v : "", strlen(v ? v : "") + 1);
    }
    snprintf(out, KW_NOTIFY_KEY, "%016llx", (unsigned long long)h);
}

static struct group *group_find(struct kw_outbox *o, const char *key)
{
    for (int i = 0; i < o->ngroups; i++)
        if (strcmp(o->groups[i].key, key) == 0)
            return &o->groups[i];
    return NULL;
}

static void group_remove(struct kw_outbox *o, struct group *g)
{
    free(g->m);
    *g = o->groups[--o->ngroups];
}

static int cmp_since(const void *x, const void *y)
{
    const struct kw_alert *a = x, *b = y;
    if (a->status != b->status) /* firing first */
        return a->status == KW_ALERT_FIRING ? -1 : 1;
    return (a->since_ms > b->since_ms) - (a->since_ms < b->since_ms);
}

/* Send the group to its node's receiver, then forget resolved members. */
static void group_send(struct kw_outbox *o, struct group *g, int kind)
{
    const struct kw_route_node *node = &o->cfg->routing.nodes[g->node];
    const struct kw_receiver *r = &o->cfg->receivers[node->receiver];
    /* Members silenced now are left out (a resolve still closes the incident for all). */
    int listed = 0;
    char silence[KW_SILENCE_ID];
    bool *skip = xcalloc((size_t)g->n + 1, sizeof *skip);
    for (int i = 0; i < g->n; i++) {
        skip[i] = kind != KW_NOTIFY_RESOLVED && o->silences && kw_silences_match(o->silences, &g->m[i].a, kw_now_ms(), silence);
        listed += !skip[i];
    }
    if (!r->disabled && listed > 0) {
        struct kw_notification note = {.kind = kind, .created_ms = kw_now_ms(), .nalerts = (size_t)listed};
        snprintf(note.receiver, sizeof note.receiver, "%s", r->name);
        snprintf(note.key, sizeof note.key, "%s", g->key);
        note.alerts = xcalloc((size_t)listed, sizeof *note.alerts);
        for (int i = 0, k = 0; i < g->n; i++)
            if (!skip[i])
                note.alerts[k++] = g->m[i].a;
        /* the lead is the first mover: firing members by start, then the resolved */
        qsort(note.alerts, note.nalerts, sizeof *note.alerts, cmp_since);
        kw_dispatcher_submit(o->dispatcher, node->receiver, &note);
        pthread_mutex_lock(&o->lock);
        o->stats.notifications++;
        pthread_mutex_unlock(&o->lock);
    }
    free(skip);
    int w = 0;
    for (int i = 0; i < g->n; i++)
        if (!g->m[i].resolved)
            g->m[w++] = g->m[i];
    g->n = w;
    g->notified = g->notified || listed > 0 || kind == KW_NOTIFY_RESOLVED;
    g->dirty = false;
    g->last_ms = o->clock_ms;
    g->next_ms = o->clock_ms + node->group_interval_ms;
}

static bool any_firing(const struct group *g)
{
    for (int i = 0; i < g->n; i++)
        if (!g->m[i].resolved)
            return true;
    return false;
}

/* Send what is due at the current event time; with force, everything that
 * is pending (shutdown, end of a replay). */
static void flush(struct kw_outbox *o, bool force)
{
    for (int i = 0; i < o->ngroups;) {
        struct group *g = &o->groups[i];
        const struct kw_route_node *node = &o->cfg->routing.nodes[g->node];
        if (!force && o->clock_ms < g->next_ms) {
            i++;
            continue;
        }
        if (!g->notified) {
            if (!any_firing(g)) { /* over before anyone needed to know */
                group_remove(o, g);
                continue;
            }
            group_send(o, g, KW_NOTIFY_FIRING);
        } else if (g->dirty) {
            if (!any_firing(g)) {
                group_send(o, g, KW_NOTIFY_RESOLVED);
                group_remove(o, g);
                continue;
            }
            group_send(o, g, KW_NOTIFY_UPDATE);
        } else if (!force && node->repeat_interval_ms > 0 && o->clock_ms >= g->last_ms + node->repeat_interval_ms) {
            group_send(o, g, KW_NOTIFY_UPDATE);
        } else if (!force) {
            g->next_ms = o->clock_ms + node->group_interval_ms;
        }
        i++;
    }
}

static void add_to_group(struct kw_outbox *o, int node_index, const struct kw_alert *a)
{
    const struct kw_route_node *node = &o->cfg->routing.nodes[node_index];
    char key[KW_NOTIFY_KEY];
    group_key(node, a, key);
    struct group *g = group_find(o, key);
    bool resolved = a->status == KW_ALERT_RESOLVED;
    if (!g) {
        if (o->ngroups == o->gcap) {
            o->gcap = o->gcap ? o->gcap * 2 : 16;
            o->groups = xrealloc(o->groups, (size_t)o->gcap * sizeof *o->groups);
        }
        g = &o->groups[o->ngroups++];
        memset(g, 0, sizeof *g);
        g->node = node_index;
        snprintf(g->key, sizeof g->key, "%s", key);
        g->next_ms = o->clock_ms + node->group_wait_ms;
        /* A resolve for a group we do not know: its firing went out before
         * a restart. Send the resolve, so the incident does not stay open. */
        g->notified = resolved;
        g->last_ms = o->clock_ms;
        if (resolved)
            g->next_ms = o->clock_ms;
    }
    struct member *m = NULL;
    for (int i = 0; i < g->n && !m; i++)
        if (strcmp(g->m[i].a.key, a->key) == 0)
            m = &g->m[i];
    if (!m) {
        if (g->n >= MAX_MEMBERS) {
            g->overflow++;
            return;
        }
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 4;
            g->m = xrealloc(g->m, (size_t)g->cap * sizeof *g->m);
        }
        m = &g->m[g->n++];
        memset(m, 0, sizeof *m);
        g->dirty = true; /* a new member */
    } else if (m->resolved != resolved) {
        g->dirty = true;
    }
    m->a = *a;
    m->resolved = resolved;
}

/* Keep o->firing in step with a. */
static void track_firing(struct kw_outbox *o, const struct kw_alert *a)
{
    int i = 0;
    while (i < o->nfiring && strcmp(o->firing[i].key, a->key) != 0)
        i++;
    if (a->status == KW_ALERT_RESOLVED) {
        if (i < o->nfiring)
            o->firing[i] = o->firing[--o->nfiring];
        return;
    }
    if (i == o->nfiring) {
        if (o->nfiring == o->fcap) {
            o->fcap = o->fcap ? o->fcap * 2 : 16;
            o->firing = xrealloc(o->firing, (size_t)o->fcap * sizeof *o->firing);
        }
        o->nfiring++;
    }
    o->firing[i] = *a;
}

/* Is a firing alert inhibited by another firing one? */
static bool inhibited(const struct kw_outbox *o, const struct kw_alert *a)
{
    for (int r = 0; r < o->cfg->ninhibit; r++)
        for (int i = 0; i < o->nfiring; i++)
            if (kw_inhibit_applies(&o->cfg->inhibit[r], &o->firing[i], a))
                return true;
    return false;
}

/* Remember (or, with forget, drop) that alert key was held back. Returns
 * whether it was held. */
static bool held_mark(struct kw_outbox *o, const char *key, bool add, bool forget)
{
    for (int i = 0; i < o->nheld; i++) {
        if (strcmp(o->held[i], key) != 0)
            continue;
        if (forget)
            memcpy(o->held[i], o->held[--o->nheld], sizeof o->held[i]);
        return true;
    }
    if (add) {
        if (o->nheld == o->hcap) {
            o->hcap = o->hcap ? o->hcap * 2 : 16;
            o->held = xrealloc(o->held, (size_t)o->hcap * sizeof *o->held);
        }
        snprintf(o->held[o->nheld++], sizeof o->held[0], "%s", key);
    }
    return false;
}

static void take_alert(struct kw_outbox *o, const struct kw_alert *a)
{
    /* What was due before this alert's interval closed goes out first. */
    int64_t end = a->at_ms + a->interval_ms;
    if (end > o->clock_ms) {
        o->clock_ms = end;
        flush(o, false);
    }
    track_firing(o, a);
    if (a->status == KW_ALERT_RESOLVED && held_mark(o, a->key, false, true))
        return; /* it was never notified: nor is its end */
    char silence[KW_SILENCE_ID];
    bool silenced = o->silences && kw_silences_match(o->silences, a, kw_now_ms(), silence);
    if (silenced || (a->status == KW_ALERT_FIRING && inhibited(o, a))) {
        /* still evaluated and counted; only the notification is held back */
        bool known = false;
        for (int i = 0; i < o->ngroups && !known; i++)
            for (int m = 0; m < o->groups[i].n && !known; m++)
                known = strcmp(o->groups[i].m[m].a.key, a->key) == 0;
        if (!known) /* an alert already in a group goes on; only new ones are held */
            held_mark(o, a->key, true, false);
        pthread_mutex_lock(&o->lock);
        if (silenced)
            o->stats.silenced++;
        else
            o->stats.inhibited++;
        pthread_mutex_unlock(&o->lock);
        kw_debug("outbox", "alert %s of %s %s", a->key, a->kpi, silenced ? "silenced" : "inhibited");
        if (!known)
            return;
    }
    int nodes[MAX_NODES_PER_ALERT];
    int n = kw_routing_nodes(&o->cfg->routing, a, nodes, MAX_NODES_PER_ALERT);
    for (int i = 0; i < n; i++)
        add_to_group(o, nodes[i], a);
}

static void *outbox_main(void *arg)
{
    struct kw_outbox *o = arg;
    struct event *ev = xmalloc(sizeof *ev);
    while (kw_queue_pop(&o->queue, ev, -1) == 1) {
        if (ev->type == EV_ALERT) {
            pthread_mutex_lock(&o->lock);
            o->stats.alerts++;
            pthread_mutex_unlock(&o->lock);
            take_alert(o, &ev->alert);
        } else if (ev->clock_ms > o->clock_ms) {
            o->clock_ms = ev->clock_ms;
        }
        flush(o, false);
    }
    flush(o, true); /* closed: send what is pending */
    free(ev);
    return NULL;
}

struct kw_outbox *kw_outbox_start(const struct kw_config *cfg, const char *state_dir, struct kw_silences *silences,
                                  char *err, size_t errlen)
{
    struct kw_outbox *o = xcalloc(1, sizeof *o);
    o->cfg = cfg;
    o->silences = silences;
    o->clock_ms = INT64_MIN / 2;
    o->dispatcher = kw_dispatcher_start(&cfg->delivery, cfg->receivers, cfg->nreceivers, state_dir, err, errlen);
    if (!o->dispatcher) {
        free(o);
        return NULL;
    }
    kw_queue_init(&o->queue, sizeof(struct event), QUEUE_CAP);
    pthread_mutex_init(&o->lock, NULL);
    pthread_create(&o->thread, NULL, outbox_main, o);
    return o;
}

void kw_outbox_alert(void *ctx, const struct kw_alert *a)
{
    struct kw_outbox *o = ctx;
    struct event *ev = xmalloc(sizeof *ev);
    ev->type = EV_ALERT;
    ev->clock_ms = 0;
    ev->alert = *a;
    if (kw_queue_push(&o->queue, ev))
        kw_error("outbox", "alert %s arrived after shutdown began; not delivered", a->key);
    free(ev);
}

void kw_outbox_tick(struct kw_outbox *o, int64_t clock_ms)
{
    if (!o || clock_ms == INT64_MIN)
        return;
    struct event *ev = xcalloc(1, sizeof *ev);
    ev->type = EV_TICK;
    ev->clock_ms = clock_ms;
    kw_queue_try_push(&o->queue, ev); /* a tick may be dropped: the next one carries the clock on */
    free(ev);
}

void kw_outbox_stop(struct kw_outbox *o, int64_t drain_ms)
{
    if (!o)
        return;
    kw_queue_close(&o->queue); /* the outbox thread routes what is queued, flushes, then ends */
    pthread_join(o->thread, NULL);
    kw_dispatcher_stop(o->dispatcher, drain_ms);
    for (int i = 0; i < o->ngroups; i++)
        free(o->groups[i].m);
    free(o->groups);
    free(o->firing);
    free(o->held);
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
