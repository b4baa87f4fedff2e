/* outbox: the alert queue, and the thread that silences, routes and groups
 * what it holds into incident notifications. */
#include "outbox.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/fileio.h"
#include "../lib/hash.h"
#include "../lib/jsonnum.h"
#include "../lib/log.h"
#include "../lib/queue.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"

#define QUEUE_CAP 1024 /* events; ~4 KB each */
#define MAX_NODES_PER_ALERT 16
#define MAX_MEMBERS 500 /* per group; beyond it the newest members are counted, not listed */
#define MAX_GROUPS 10000 /* restored from the incidents file at most */
#define INCIDENTS_FILE "incidents.json"
#define SAVE_EVERY_MS 1000 /* the incidents file is written at most this often (and at stop) */

enum { EV_ALERT = 0, EV_TICK, EV_REFRESH, EV_RECONCILE };

struct event {
    int type;
    int64_t clock_ms;   /* EV_TICK: event time now */
    struct kw_alert alert;
    char (*keys)[24];   /* EV_RECONCILE: the keys that fire, sorted; owned by the event */
    size_t nkeys;
};

struct member {
    struct kw_alert a;
    bool resolved;      /* resolved since the group's last notification */
};

/* An aggregation group: the alerts one route node takes that share its
 * group_by values. One group is one incident, one message thread. */
struct group {
    int node;
    char base[KW_NOTIFY_KEY]; /* node path and group_by values, hashed */
    char key[KW_NOTIFY_KEY];  /* dedup key: stable across restarts */
    int64_t start_ms;         /* the first mover's start */
    char first_key[sizeof ((struct kw_alert *)0)->key]; /* the first mover, kept after it resolves */
    char first_mover[KW_NOTIFY_FIRST_MOVER - 16];  /* its "KPI [labels] since TIME" */
    int64_t first_since_ms;
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
    bool silence_event_time;      /* judge silences at event time (replay), not the wall clock */
    /* owned by the outbox thread: */
    struct group *groups;
    int ngroups, gcap;
    int64_t clock_ms;         /* event time: the latest alert interval end or tick */
    struct kw_alert *firing;  /* every alert firing now (inhibition sources) */
    int nfiring, fcap;
    char (*held)[24];         /* keys of firing alerts held back (silenced or inhibited): their resolve is not sent */
    int nheld, hcap;
    char *incidents_path;     /* state_dir/incidents.json; NULL = not kept */
    bool changed;             /* groups changed since the last snapshot */
    bool unsaved;             /* the snapshot is newer than the incidents file */
    int64_t saved_ms;         /* monotonic time of the last write of the file */
    char *snapshot;           /* the groups as JSON, for the API (guarded by lock) */
};

/* The base key of alert a at route node: node path plus its group_by
 * label values, hashed. The same incident gets the same key after a
 * restart, so PagerDuty, Opsgenie and Slack threads continue. */
static uint64_t group_base(const struct kw_route_node *node, const struct kw_alert *a, char out[KW_NOTIFY_KEY])
{
    uint64_t h = kw_fnv1a(KW_FNV_OFFSET, node->path, strlen(node->path) + 1);
    for (int i = 0; i < node->group_by.n; i++) {
        const char *name = node->group_by.items[i];
        const char *v = kw_alert_label_value(a, name);
        h = kw_fnv1a(h, name, strlen(name) + 1);
        h = kw_fnv1a(h, v ? v : "", strlen(v ? v : "") + 1);
    }
    snprintf(out, KW_NOTIFY_KEY, "%016llx", (unsigned long long)h);
    return h;
}

/* The dedup key of a group: its base, and with a correlation window also
 * the first mover's start, since then one base can have several incidents. */
static void group_key(const struct kw_route_node *node, uint64_t base, int64_t start_ms, char out[KW_NOTIFY_KEY])
{
    if (node->correlation_window_ms > 0)
        base = kw_fnv1a(base, (const char *)&start_ms, sizeof start_ms);
    snprintf(out, KW_NOTIFY_KEY, "%016llx", (unsigned long long)base);
}

/* The time a silence is judged at. The daemon uses the wall clock: people
 * set silences in wall time, and an alert's interval may have ended a
 * little before a silence added just now. A replay uses event_ms, the
 * recorded data's time, so it mutes as the daemon would have then. */
static int64_t silence_now(const struct kw_outbox *o, int64_t event_ms)
{
    return o->silence_event_time ? event_ms : kw_now_ms();
}

/* Make a the group's first mover. */
static void first_mover_set(struct group *g, const struct kw_alert *a)
{
    snprintf(g->first_key, sizeof g->first_key, "%s", a->key);
    kw_alert_mover_text(a, g->first_mover, sizeof g->first_mover);
    g->first_since_ms = a->since_ms;
}

/* The earliest member: for a group whose first mover is unknown (an
 * incidents file from before it was kept) or was absorbed by a roll-up,
 * which speaks for it from then on. */
static void first_mover_from_members(struct group *g)
{
    g->first_key[0] = '\0';
    for (int i = 0; i < g->n; i++)
        if (!g->first_key[0] || g->m[i].a.since_ms < g->first_since_ms)
            first_mover_set(g, &g->m[i].a);
}

static void group_remove(struct kw_outbox *o, struct group *g)
{
    o->changed = true;
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
static void group_send(struct kw_outbox *o, struct group *g, int kind, bool reminder)
{
    const struct kw_route_node *node = &o->cfg->routing.nodes[g->node];
    const struct kw_receiver *r = &o->cfg->receivers[node->receiver];
    /* Members silenced now are left out (a resolve still closes the incident for all). */
    int listed = 0;
    char silence[KW_SILENCE_ID];
    bool *skip = xcalloc((size_t)g->n + 1, sizeof *skip);
    for (int i = 0; i < g->n; i++) {
        skip[i] = kind != KW_NOTIFY_RESOLVED && o->silences &&
                  kw_silences_match(o->silences, &g->m[i].a, silence_now(o, o->clock_ms), silence);
        listed += !skip[i];
    }
    /* A muted node's notification is counted, not sent; the group moves on
     * as if it had been, so the mute's end does not release a backlog. */
    bool muted = !r->disabled && listed > 0 && kw_route_muted(node, &o->cfg->time_intervals, o->clock_ms);
    if (muted) {
        pthread_mutex_lock(&o->lock);
        o->stats.muted++;
        pthread_mutex_unlock(&o->lock);
        kw_debug("outbox", "group %s of %s muted", g->key, node->path);
    }
    if (!r->disabled && listed > 0 && !muted) {
        struct kw_notification note = {.kind = kind, .reminder = reminder, .created_ms = kw_now_ms(),
                                       .nalerts = (size_t)listed};
        snprintf(note.receiver, sizeof note.receiver, "%s", r->name);
        snprintf(note.key, sizeof note.key, "%s", g->key);
        note.alerts = xcalloc((size_t)listed, sizeof *note.alerts);
        bool first_firing = false;
        for (int i = 0, k = 0; i < g->n; i++) {
            if (!skip[i])
                note.alerts[k++] = g->m[i].a;
            first_firing |= !g->m[i].resolved && strcmp(g->m[i].a.key, g->first_key) == 0;
        }
        for (int l = 0; l < node->group_by.n && l < KW_ALERT_MAX_LABELS && g->n > 0; l++) {
            const char *v = kw_alert_label_value(&g->m[0].a, node->group_by.items[l]);
            struct kw_alert_label *gl = &note.group_labels[note.ngroup_labels++];
            snprintf(gl->name, sizeof gl->name, "%s", node->group_by.items[l]);
            snprintf(gl->value, sizeof gl->value, "%s", v ? v : "");
        }
        /* else alerts[0] stands in, as before the first mover was kept; a
         * resolve needs no mark, every member has resolved */
        if (g->first_key[0])
            snprintf(note.first_mover, sizeof note.first_mover, "%s%s", g->first_mover,
                     first_firing || kind == KW_NOTIFY_RESOLVED ? "" : ", resolved");
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
    o->changed = true;
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
            group_send(o, g, KW_NOTIFY_FIRING, false);
        } else if (g->dirty) {
            if (!any_firing(g)) {
                group_send(o, g, KW_NOTIFY_RESOLVED, false);
                group_remove(o, g);
                continue;
            }
            group_send(o, g, KW_NOTIFY_UPDATE, false);
        } else if (!force && node->repeat_interval_ms > 0 && o->clock_ms >= g->last_ms + node->repeat_interval_ms) {
            group_send(o, g, KW_NOTIFY_UPDATE, true);
        } else if (!force) {
            g->next_ms = o->clock_ms + node->group_interval_ms;
        }
        i++;
    }
}

static bool group_has(const struct group *g, const char *alert_key)
{
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->m[i].a.key, alert_key) == 0)
            return true;
    return false;
}

/* The open group alert a belongs to at node_index: the one that has it
 * already, else one of its base whose first mover started within the
 * node's correlation window of a's start (any, without a window). */
static struct group *group_for(struct kw_outbox *o, int node_index, const char *base, const struct kw_alert *a)
{
    const struct kw_route_node *node = &o->cfg->routing.nodes[node_index];
    struct group *near = NULL;
    for (int i = 0; i < o->ngroups; i++) {
        struct group *g = &o->groups[i];
        if (g->node != node_index || strcmp(g->base, base) != 0)
            continue;
        if (group_has(g, a->key))
            return g;
        int64_t d = a->since_ms - g->start_ms;
        if (node->correlation_window_ms == 0 || (d < 0 ? -d : d) <= node->correlation_window_ms)
            near = g;
    }
    return near;
}

static void add_to_group(struct kw_outbox *o, int node_index, const struct kw_alert *a)
{
    const struct kw_route_node *node = &o->cfg->routing.nodes[node_index];
    char base[KW_NOTIFY_KEY];
    uint64_t h = group_base(node, a, base);
    struct group *g = group_for(o, node_index, base, a);
    bool resolved = a->status == KW_ALERT_RESOLVED;
    o->changed = true;
    if (!g) {
        if (o->ngroups == o->gcap) {
            o->gcap = o->gcap ? o->gcap * 2 : 16;
            o->groups = xrealloc(o->groups, (size_t)o->gcap * sizeof *o->groups);
        }
        g = &o->groups[o->ngroups++];
        memset(g, 0, sizeof *g);
        g->node = node_index;
        g->start_ms = a->since_ms;
        snprintf(g->base, sizeof g->base, "%s", base);
        group_key(node, h, g->start_ms, g->key);
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
    if (!g->first_key[0] || a->since_ms < g->first_since_ms)
        first_mover_set(g, a);
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

/* Does the firing roll-up alert src cover alert t: t is one of the series
 * it sums up (its KPI, or a finer roll-up of it) with src's label values,
 * and src's KPI holds its children back (rollup_inhibit)? */
static bool rollup_covers(const struct kw_outbox *o, const struct kw_alert *src, const struct kw_alert *t)
{
    if (!src->rollup_of[0] || src->status != KW_ALERT_FIRING || src->cause != KW_CAUSE_ANOMALY ||
        t->cause != KW_CAUSE_ANOMALY || strcmp(src->key, t->key) == 0)
        return false;
    if (strcmp(t->kpi, src->rollup_of) != 0 && !(strcmp(t->rollup_of, src->rollup_of) == 0 && t->nlabels > src->nlabels))
        return false;
    bool inhibits = false;
    for (int k = 0; k < o->cfg->nkpis; k++)
        if (strcmp(o->cfg->kpis[k].name, src->kpi) == 0)
            inhibits = o->cfg->kpis[k].rollup_inhibit;
    for (int i = 0; i < src->nlabels && inhibits; i++) {
        const char *v = kw_alert_label_value(t, src->labels[i].name);
        inhibits = v && strcmp(v, src->labels[i].value) == 0;
    }
    return inhibits;
}

/* Is a firing alert inhibited by another firing one? */
static bool inhibited(const struct kw_outbox *o, const struct kw_alert *a)
{
    for (int i = 0; i < o->nfiring; i++)
        if (rollup_covers(o, &o->firing[i], a))
            return true;
    for (int r = 0; r < o->cfg->ninhibit; r++)
        for (int i = 0; i < o->nfiring; i++)
            if (kw_inhibit_applies(&o->cfg->inhibit[r], &o->firing[i], a))
                return true;
    return false;
}

/* A roll-up started firing: its children that wait in groups nobody was
 * told about yet are held back too (they often close the same interval
 * just before it), so the roll-up's one alert stands for them. */
static bool held_mark(struct kw_outbox *o, const char *key, bool add, bool forget);
static void rollup_absorb(struct kw_outbox *o, const struct kw_alert *src)
{
    for (int i = 0; i < o->ngroups;) {
        struct group *g = &o->groups[i];
        if (g->notified) {
            i++;
            continue;
        }
        int w = 0;
        bool first_gone = false;
        for (int m = 0; m < g->n; m++) {
            if (!g->m[m].resolved && rollup_covers(o, src, &g->m[m].a)) {
                held_mark(o, g->m[m].a.key, true, false);
                pthread_mutex_lock(&o->lock);
                o->stats.inhibited++;
                pthread_mutex_unlock(&o->lock);
                o->changed = true;
                first_gone |= strcmp(g->m[m].a.key, g->first_key) == 0;
                continue;
            }
            g->m[w++] = g->m[m];
        }
        g->n = w;
        if (first_gone)
            first_mover_from_members(g);
        if (g->n == 0) {
            group_remove(o, g);
            continue;
        }
        i++;
    }
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

/* What was due before a's interval closed goes out first, with the numbers
 * from before it, however events and the clock's ticks interleaved.
 * Returns the interval's end. */
static int64_t advance_to(struct kw_outbox *o, const struct kw_alert *a)
{
    int64_t end = a->at_ms + a->interval_ms;
    if (end > o->clock_ms) {
        o->clock_ms = end;
        flush(o, false);
    }
    return end;
}

static void take_alert(struct kw_outbox *o, const struct kw_alert *a)
{
    int64_t end = advance_to(o, a);
    track_firing(o, a);
    if (a->status == KW_ALERT_RESOLVED && held_mark(o, a->key, false, true))
        return; /* it was never notified: nor is its end */
    char silence[KW_SILENCE_ID];
    bool silenced = o->silences && kw_silences_match(o->silences, a, silence_now(o, end), silence);
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
    held_mark(o, a->key, false, true); /* notified now: its resolve will be too */
    if (a->rollup_of[0] && a->status == KW_ALERT_FIRING)
        rollup_absorb(o, a);
    int nodes[MAX_NODES_PER_ALERT];
    int n = kw_routing_nodes(&o->cfg->routing, a, nodes, MAX_NODES_PER_ALERT);
    for (int i = 0; i < n; i++)
        add_to_group(o, nodes[i], a);
}

/* A firing alert's current numbers: the groups that hold it show them in
 * their next notification. Only a rise to critical is news by itself (an
 * update at the next group_interval); the rest waits for one. The
 * published snapshot is left alone: it would be rebuilt for every firing
 * series every interval, and the API reads the numbers from the status
 * board. */
static void refresh_alert(struct kw_outbox *o, const struct kw_alert *a)
{
    advance_to(o, a);
    track_firing(o, a);
    for (int i = 0; i < o->ngroups; i++) {
        struct group *g = &o->groups[i];
        for (int m = 0; m < g->n; m++) {
            struct member *mb = &g->m[m];
            if (mb->resolved || strcmp(mb->a.key, a->key) != 0)
                continue;
            if (a->severity == KW_SEV_CRITICAL && mb->a.severity != KW_SEV_CRITICAL)
                g->dirty = true;
            mb->a = *a;
        }
    }
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* After a restart or a reload: a member the pipeline no longer fires (its
 * series did not come back: the KPI changed, the state file was older or
 * damaged) is resolved, so that the receivers that were told it fires are
 * told it ended rather than left open for good. */
static void reconcile(struct kw_outbox *o, char (*keys)[24], size_t nkeys)
{
    int resolved = 0;
    for (int i = 0; i < o->ngroups; i++) {
        struct group *g = &o->groups[i];
        for (int m = 0; m < g->n; m++) {
            struct member *mb = &g->m[m];
            if (mb->resolved || bsearch(mb->a.key, keys, nkeys, sizeof *keys, cmp_key))
                continue;
            mb->resolved = true;
            mb->a.status = KW_ALERT_RESOLVED;
            mb->a.observed = NAN; /* no value: it is no longer watched as it was */
            g->dirty = true;
            o->changed = true;
            track_firing(o, &mb->a);
            resolved++;
        }
    }
    if (resolved)
        kw_warn("outbox", "%d open alerts have no firing series after the restore (their KPI changed or the state "
                "was older); resolving them", resolved);
}

/* The open groups as JSON: the incidents file and the API's view. */
static cJSON *groups_to_json(const struct kw_outbox *o)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON *arr = cJSON_AddArrayToObject(root, "incidents");
    for (int i = 0; i < o->ngroups; i++) {
        const struct group *g = &o->groups[i];
        const struct kw_route_node *node = &o->cfg->routing.nodes[g->node];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "key", g->key);
        cJSON_AddStringToObject(j, "base", g->base);
        cJSON_AddStringToObject(j, "route", node->path);
        cJSON_AddStringToObject(j, "receiver", o->cfg->receivers[node->receiver].name);
        cJSON_AddBoolToObject(j, "receiver_enabled", !o->cfg->receivers[node->receiver].disabled);
        cJSON *by = cJSON_AddObjectToObject(j, "group");
        for (int l = 0; l < node->group_by.n && g->n > 0; l++) {
            const char *v = kw_alert_label_value(&g->m[0].a, node->group_by.items[l]);
            cJSON_AddStringToObject(by, node->group_by.items[l], v ? v : "");
        }
        cJSON_AddItemToObject(j, "start_ms", kw_json_number((double)g->start_ms));
        cJSON_AddStringToObject(j, "first_mover_key", g->first_key);
        cJSON_AddStringToObject(j, "first_mover", g->first_mover);
        cJSON_AddItemToObject(j, "first_mover_since_ms", kw_json_number((double)g->first_since_ms));
        cJSON_AddItemToObject(j, "last_ms", kw_json_number((double)g->last_ms));
        cJSON_AddItemToObject(j, "next_ms", kw_json_number((double)g->next_ms));
        cJSON_AddBoolToObject(j, "notified", g->notified);
        cJSON_AddBoolToObject(j, "dirty", g->dirty);
        cJSON_AddNumberToObject(j, "overflow", g->overflow);
        cJSON *members = cJSON_AddArrayToObject(j, "members");
        for (int m = 0; m < g->n; m++) {
            cJSON *mj = cJSON_CreateObject();
            cJSON_AddBoolToObject(mj, "resolved", g->m[m].resolved);
            cJSON_AddItemToObject(mj, "alert", kw_alert_save(&g->m[m].a));
            cJSON_AddItemToArray(members, mj);
        }
        cJSON_AddItemToArray(arr, j);
    }
    return root;
}

/* Milliseconds until the incidents file is due, or -1 when it is saved. */
static int save_due_in(const struct kw_outbox *o)
{
    if (!o->unsaved)
        return -1;
    int64_t left = o->saved_ms + SAVE_EVERY_MS - kw_mono_ms();
    return left > 0 ? (int)left : 0;
}

/* After a change: publish the groups for the API at once, and keep them
 * in the incidents file, so an incident goes on in the same thread after a
 * restart or a reload. The file is written at most every SAVE_EVERY_MS
 * (with force, now): an alert storm costs one fsync a second, not one an
 * alert, and a crash loses at most that last second of grouping. */
static void groups_publish(struct kw_outbox *o, bool force)
{
    if (o->changed) {
        o->changed = false;
        cJSON *root = groups_to_json(o);
        char *text = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        pthread_mutex_lock(&o->lock);
        free(o->snapshot);
        o->snapshot = text;
        pthread_mutex_unlock(&o->lock);
        o->unsaved = o->incidents_path != NULL;
    }
    if (!o->unsaved || (!force && save_due_in(o) > 0))
        return;
    o->unsaved = false;
    o->saved_ms = kw_mono_ms();
    char err[512];
    /* only this thread replaces the snapshot: no lock needed to read it */
    if (kw_write_file_atomic(o->incidents_path, o->snapshot, strlen(o->snapshot), err, sizeof err))
        kw_error("outbox", "incidents not saved: %s", err);
    pthread_mutex_lock(&o->lock);
    o->stats.incident_saves++;
    pthread_mutex_unlock(&o->lock);
}

static bool get_i64(const cJSON *o, const char *name, int64_t *out)
{
    double v;
    if (kw_json_get_double(cJSON_GetObjectItemCaseSensitive(o, name), &v) || fabs(v) > 4.0e15 || v != floor(v))
        return false;
    *out = (int64_t)v;
    return true;
}

/* Read the incidents file. What does not check out, or belongs to a route
 * that is gone, is left out with a warning; the file is advisory. */
static void groups_restore(struct kw_outbox *o)
{
    char err[512];
    char *text = kw_read_file(o->incidents_path, 64u << 20, NULL, err, sizeof err);
    if (!text) {
        if (err[0])
            kw_warn("outbox", "incidents not restored: %s", err);
        return;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "incidents");
    if (!cJSON_IsArray(arr)) {
        char aside[4200];
        bool moved = kw_file_move_aside(o->incidents_path, aside, sizeof aside) != NULL;
        kw_warn("outbox", "%s: not an incidents file; ignored%s%s", o->incidents_path, moved ? " and moved to " : "",
                moved ? aside : "");
        cJSON_Delete(root);
        return;
    }
    int restored = 0, skipped = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, arr) {
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "key");
        const cJSON *base = cJSON_GetObjectItemCaseSensitive(j, "base");
        const cJSON *route = cJSON_GetObjectItemCaseSensitive(j, "route");
        const cJSON *members = cJSON_GetObjectItemCaseSensitive(j, "members");
        struct group g = {.node = -1};
        for (int n = 0; cJSON_IsString(route) && n < o->cfg->routing.n; n++)
            if (strcmp(o->cfg->routing.nodes[n].path, route->valuestring) == 0)
                g.node = n;
        bool ok = g.node >= 0 && o->ngroups < MAX_GROUPS && cJSON_IsString(key) && cJSON_IsString(base) &&
                  strlen(key->valuestring) < sizeof g.key && strlen(base->valuestring) < sizeof g.base &&
                  cJSON_IsArray(members) && cJSON_GetArraySize(members) <= MAX_MEMBERS &&
                  get_i64(j, "start_ms", &g.start_ms) && get_i64(j, "last_ms", &g.last_ms) &&
                  get_i64(j, "next_ms", &g.next_ms);
        if (ok) {
            snprintf(g.key, sizeof g.key, "%s", key->valuestring);
            snprintf(g.base, sizeof g.base, "%s", base->valuestring);
            g.notified = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "notified"));
            g.dirty = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "dirty"));
            g.cap = cJSON_GetArraySize(members) + 1;
            g.m = xcalloc((size_t)g.cap, sizeof *g.m);
            const cJSON *mj;
            cJSON_ArrayForEach(mj, members) {
                struct member *m = &g.m[g.n];
                if (kw_alert_load(&m->a, cJSON_GetObjectItemCaseSensitive(mj, "alert"))) {
                    ok = false;
                    break;
                }
                m->resolved = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(mj, "resolved"));
                g.n++;
            }
            /* Files from before the first mover was kept: the earliest member. */
            const cJSON *fk = cJSON_GetObjectItemCaseSensitive(j, "first_mover_key");
            const cJSON *fm = cJSON_GetObjectItemCaseSensitive(j, "first_mover");
            if (cJSON_IsString(fk) && cJSON_IsString(fm) && strlen(fk->valuestring) < sizeof g.first_key &&
                strlen(fm->valuestring) < sizeof g.first_mover && get_i64(j, "first_mover_since_ms", &g.first_since_ms)) {
                snprintf(g.first_key, sizeof g.first_key, "%s", fk->valuestring);
                snprintf(g.first_mover, sizeof g.first_mover, "%s", fm->valuestring);
            } else {
                first_mover_from_members(&g);
            }
        }
        if (!ok || g.n == 0) {
            free(g.m);
            skipped++;
            continue;
        }
        if (o->ngroups == o->gcap) {
            o->gcap = o->gcap ? o->gcap * 2 : 16;
            o->groups = xrealloc(o->groups, (size_t)o->gcap * sizeof *o->groups);
        }
        o->groups[o->ngroups++] = g;
        for (int m = 0; m < g.n; m++)
            if (!g.m[m].resolved)
                track_firing(o, &g.m[m].a);
        restored++;
    }
    cJSON_Delete(root);
    if (restored || skipped)
        kw_info("outbox", "%d open incidents restored%s", restored, skipped ? " (some entries did not check out and were left out)" : "");
    o->changed = true;
}

static void take_event(struct kw_outbox *o, const struct event *ev)
{
    if (ev->type == EV_ALERT) {
        pthread_mutex_lock(&o->lock);
        o->stats.alerts++;
        pthread_mutex_unlock(&o->lock);
        take_alert(o, &ev->alert);
    } else if (ev->type == EV_REFRESH) {
        refresh_alert(o, &ev->alert);
    } else if (ev->type == EV_RECONCILE) {
        reconcile(o, ev->keys, ev->nkeys);
        free(ev->keys);
    } else if (ev->clock_ms > o->clock_ms) {
        o->clock_ms = ev->clock_ms;
    }
    flush(o, false);
}

static void *outbox_main(void *arg)
{
    struct kw_outbox *o = arg;
    struct event *ev = xmalloc(sizeof *ev);
    int got;
    /* wait for events, but no longer than until an unsaved change is due */
    while ((got = kw_queue_pop(&o->queue, ev, save_due_in(o))) >= 0) {
        if (got == 1)
            take_event(o, ev);
        groups_publish(o, false);
    }
    flush(o, true); /* closed: send what is pending */
    groups_publish(o, true);
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
    if (state_dir && *state_dir) {
        size_t len = strlen(state_dir) + sizeof INCIDENTS_FILE + 2;
        o->incidents_path = xmalloc(len);
        snprintf(o->incidents_path, len, "%s/%s", state_dir, INCIDENTS_FILE);
        groups_restore(o);
    }
    kw_queue_init(&o->queue, sizeof(struct event), QUEUE_CAP);
    pthread_mutex_init(&o->lock, NULL);
    pthread_create(&o->thread, NULL, outbox_main, o);
    return o;
}

void kw_outbox_silence_at_event_time(struct kw_outbox *o)
{
    /* Read by the outbox thread only after it takes an event from the
     * queue, whose lock orders this write before that read. */
    o->silence_event_time = true;
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

void kw_outbox_refresh(void *ctx, const struct kw_alert *a)
{
    struct kw_outbox *o = ctx;
    if (!o)
        return;
    struct event *ev = xmalloc(sizeof *ev);
    ev->type = EV_REFRESH;
    ev->clock_ms = 0;
    ev->alert = *a;
    /* queued as alerts are, in order: what a notification shows must not
     * depend on how busy the outbox thread was */
    kw_queue_push(&o->queue, ev);
    free(ev);
}

void kw_outbox_reconcile(struct kw_outbox *o, char (*keys)[24], size_t nkeys)
{
    if (!o) {
        free(keys);
        return;
    }
    qsort(keys, nkeys, sizeof *keys, cmp_key);
    struct event *ev = xcalloc(1, sizeof *ev);
    ev->type = EV_RECONCILE;
    ev->keys = keys;
    ev->nkeys = nkeys;
    if (kw_queue_push(&o->queue, ev))
        free(keys);
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
    free(o->incidents_path);
    free(o->snapshot);
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

char *kw_outbox_incidents_json(struct kw_outbox *o)
{
    pthread_mutex_lock(&o->lock);
    char *text = o->snapshot ? xstrdup(o->snapshot) : NULL;
    pthread_mutex_unlock(&o->lock);
    return text;
}

void kw_outbox_receiver_stats(struct kw_outbox *o, int r, struct kw_receiver_stats *out)
{
    kw_dispatcher_stats(o->dispatcher, r, out);
}
