/* status: counters, readiness and the alert board, published for readers. */
#include "status.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "../lib/hash.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "kpi.h"
#include "series.h"

#define PUBLISH_EVERY_MS 1000
#define MAX_ACTIVE 10000 /* alerts on the board; beyond it the oldest synthesized ones are not added */
#define BOARD_SLOTS 32768 /* the board's key index: a power of two, at least twice MAX_ACTIVE */

struct verdict_counters {
    char name[KW_ALERT_LABEL_NAME];
    uint64_t intervals, normal, anomalous, warming;
};

struct carry {
    char name[64];
    struct kw_receiver_stats stats;
};

struct kw_status {
    pthread_mutex_t lock;
    /* Under the lock: what readers copy. */
    struct kw_status_view view;
    char state_path[4200];
    struct kw_alert *active;
    size_t nactive, active_cap;
    /* Open addressing over active[].key, linear probing: each slot holds
     * a board position + 1, 0 when empty. Board order carries no meaning
     * (readers sort), so a removal moves the last alert into the gap. */
    uint32_t *board_index;
    struct kw_status_resolved resolved[KW_STATUS_RESOLVED];
    int nresolved, resolved_next;
    char *incidents_json;
    char *kafka_metrics;
    /* Agent thread only. */
    const struct kw_config *cfg;
    char external_url[KW_ALERT_TEXT];
    int64_t next_publish_mono;
    uint64_t seen_reloads, seen_failures;
    struct verdict_counters *counters;
    int ncounters;
    struct carry *carry;
    int ncarry;
    uint64_t muted_carry;         /* muted notifications of outboxes retired by reloads */
    kw_alert_sink next_alert, next_refresh;
    void *next_ctx, *next_refresh_ctx;
    struct kw_history *history;
    /* The board follows the pipeline's alert events; it is compared with
     * the series table only when the firing set may have changed without
     * one: a reload, the pipeline's firing_untold, or a firing series the
     * board had no room for. */
    bool board_stale;
    uint64_t board_untold;
};

struct kw_status *kw_status_new(void)
{
    struct kw_status *st = xcalloc(1, sizeof *st);
    pthread_mutex_init(&st->lock, NULL);
    st->view.started_ms = kw_now_ms();
    st->board_index = xcalloc(BOARD_SLOTS, sizeof *st->board_index);
    return st;
}

void kw_status_free(struct kw_status *st)
{
    if (!st)
        return;
    kw_status_view_release(&st->view);
    free(st->active);
    free(st->board_index);
    free(st->counters);
    free(st->carry);
    free(st->incidents_json);
    free(st->kafka_metrics);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void kw_status_configure(struct kw_status *st, const struct kw_config *cfg)
{
    st->cfg = cfg;
    st->board_stale = true; /* a KPI gone on reload takes its series' alerts with it */
    /* Verdict counters follow their KPI by name across a reload. */
    struct verdict_counters *counters = xcalloc((size_t)cfg->nkpis + 1, sizeof *counters);
    for (int k = 0; k < cfg->nkpis; k++) {
        copy_text(counters[k].name, sizeof counters[k].name, cfg->kpis[k].name);
        for (int o = 0; o < st->ncounters; o++)
            if (strcmp(st->counters[o].name, counters[k].name) == 0)
                counters[k] = st->counters[o];
    }
    free(st->counters);
    st->counters = counters;
    st->ncounters = cfg->nkpis;

    struct kw_status_kpi *kpis = xcalloc((size_t)cfg->nkpis + 1, sizeof *kpis);
    for (int k = 0; k < cfg->nkpis; k++) {
        const struct kw_kpi_config *c = &cfg->kpis[k];
        struct kw_status_kpi *s = &kpis[k];
        copy_text(s->name, sizeof s->name, c->name);
        copy_text(s->description, sizeof s->description, c->description);
        copy_text(s->unit, sizeof s->unit, c->unit);
        copy_text(s->detector, sizeof s->detector, c->detector.type ? c->detector.type->name : "");
        copy_text(s->runbook, sizeof s->runbook, c->runbook);
        copy_text(s->dashboard, sizeof s->dashboard, c->dashboard);
        s->kind = c->kind;
        s->interval_ms = c->interval_ms;
        s->ngroup_by = c->group_by.n < KW_ALERT_MAX_LABELS ? c->group_by.n : KW_ALERT_MAX_LABELS;
        for (int g = 0; g < s->ngroup_by; g++)
            copy_text(s->group_by[g], sizeof s->group_by[g], c->group_by.items[g]);
    }
    struct kw_status_receiver *rcv = xcalloc((size_t)cfg->nreceivers + 1, sizeof *rcv);
    for (int r = 0; r < cfg->nreceivers; r++) {
        copy_text(rcv[r].name, sizeof rcv[r].name, cfg->receivers[r].name);
        copy_text(rcv[r].type, sizeof rcv[r].type, cfg->receivers[r].type ? cfg->receivers[r].type->name : "");
        rcv[r].enabled = !cfg->receivers[r].disabled;
        for (int c = 0; c < st->ncarry; c++)
            if (strcmp(st->carry[c].name, rcv[r].name) == 0)
                rcv[r].stats = st->carry[c].stats;
    }
    pthread_mutex_lock(&st->lock);
    free(st->view.kpis);
    free(st->view.receivers);
    st->view.kpis = kpis;
    st->view.nkpis = cfg->nkpis;
    st->view.receivers = rcv;
    st->view.nreceivers = cfg->nreceivers;
    st->view.persistent = cfg->state_dir && cfg->state_dir[0];
    if (st->view.persistent)
        snprintf(st->state_path, sizeof st->state_path, "%s/state.json", cfg->state_dir);
    else
        st->state_path[0] = '\0';
    st->view.ready |= KW_READY_CONFIG;
    pthread_mutex_unlock(&st->lock);
    st->next_publish_mono = 0; /* publish the new shape at once */
}

void kw_status_set_external_url(struct kw_status *st, const char *url)
{
    copy_text(st->external_url, sizeof st->external_url, url);
    size_t n = strlen(st->external_url);
    while (n > 0 && st->external_url[n - 1] == '/')
        st->external_url[--n] = '\0';
}

void kw_status_ready(struct kw_status *st, int flag)
{
    pthread_mutex_lock(&st->lock);
    st->view.ready |= flag;
    pthread_mutex_unlock(&st->lock);
}

/* ---- the alert board ---------------------------------------------------- */

static size_t key_slot(const char *key)
{
    return kw_hash_mix(kw_fnv1a_str(KW_FNV_OFFSET, key)) & (BOARD_SLOTS - 1);
}

/* The index slot that holds key, or the empty slot where it would go. */
static size_t find_slot(const struct kw_status *st, const char *key)
{
    size_t i = key_slot(key);
    while (st->board_index[i] && strcmp(st->active[st->board_index[i] - 1].key, key) != 0)
        i = (i + 1) & (BOARD_SLOTS - 1);
    return i;
}

static ssize_t find_active(const struct kw_status *st, const char *key)
{
    uint32_t at = st->board_index[find_slot(st, key)];
    return at ? (ssize_t)at - 1 : -1;
}

/* Empties slot i and moves later entries of its probe run back into the
 * gap, so that every lookup still finds its key without tombstones. */
static void clear_slot(struct kw_status *st, size_t i)
{
    size_t gap = i;
    for (size_t j = (i + 1) & (BOARD_SLOTS - 1); st->board_index[j]; j = (j + 1) & (BOARD_SLOTS - 1)) {
        size_t home = key_slot(st->active[st->board_index[j] - 1].key);
        /* j's entry may fill the gap unless its home lies cyclically in (gap, j] */
        if (((j - home) & (BOARD_SLOTS - 1)) >= ((j - gap) & (BOARD_SLOTS - 1))) {
            st->board_index[gap] = st->board_index[j];
            gap = j;
        }
    }
    st->board_index[gap] = 0;
}

static void reindex_board(struct kw_status *st)
{
    memset(st->board_index, 0, BOARD_SLOTS * sizeof *st->board_index);
    for (size_t i = 0; i < st->nactive; i++)
        st->board_index[find_slot(st, st->active[i].key)] = (uint32_t)i + 1;
}

/* Lock held. False when the board is full and a is not on it. */
static bool upsert_active(struct kw_status *st, const struct kw_alert *a)
{
    size_t slot = find_slot(st, a->key);
    if (st->board_index[slot]) {
        st->active[st->board_index[slot] - 1] = *a;
        return true;
    }
    if (st->nactive >= MAX_ACTIVE)
        return false;
    if (st->nactive == st->active_cap) {
        st->active_cap = st->active_cap ? st->active_cap * 2 : 16;
        st->active = xrealloc(st->active, st->active_cap * sizeof *st->active);
    }
    st->active[st->nactive++] = *a;
    st->board_index[slot] = (uint32_t)st->nactive;
    return true;
}

/* Lock held. */
static void remove_active(struct kw_status *st, size_t i)
{
    clear_slot(st, find_slot(st, st->active[i].key));
    size_t last = --st->nactive;
    if (i != last) {
        st->board_index[find_slot(st, st->active[last].key)] = (uint32_t)i + 1;
        st->active[i] = st->active[last];
    }
}

/* a as the board keeps it: alerts link to their series on the status page
 * when the KPI has no dashboard. */
static struct kw_alert with_link(const struct kw_status *st, const struct kw_alert *a)
{
    struct kw_alert copy = *a;
    if (!copy.dashboard[0] && st->external_url[0])
        snprintf(copy.dashboard, sizeof copy.dashboard, "%s/series/%s", st->external_url, copy.key);
    return copy;
}

static void on_alert(void *ctx, const struct kw_alert *a)
{
    struct kw_status *st = ctx;
    struct kw_alert copy = with_link(st, a);
    pthread_mutex_lock(&st->lock);
    if (copy.status == KW_ALERT_RESOLVED) {
        ssize_t i = find_active(st, copy.key);
        if (i >= 0)
            remove_active(st, (size_t)i);
        st->resolved[st->resolved_next] = (struct kw_status_resolved){.alert = copy, .resolved_ms = kw_now_ms()};
        st->resolved_next = (st->resolved_next + 1) % KW_STATUS_RESOLVED;
        if (st->nresolved < KW_STATUS_RESOLVED)
            st->nresolved++;
    } else if (!upsert_active(st, &copy)) {
        st->board_stale = true; /* added by a later sync_board, once there is room */
    }
    pthread_mutex_unlock(&st->lock);
    if (st->next_alert)
        st->next_alert(st->next_ctx, &copy);
}

/* A firing alert's current numbers: the board shows them; an alert not
 * on the board (it had no room) is left to the next sync. */
static void on_refresh(void *ctx, const struct kw_alert *a)
{
    struct kw_status *st = ctx;
    struct kw_alert copy = with_link(st, a);
    pthread_mutex_lock(&st->lock);
    size_t slot = find_slot(st, copy.key);
    if (st->board_index[slot])
        st->active[st->board_index[slot] - 1] = copy;
    pthread_mutex_unlock(&st->lock);
    if (st->next_refresh)
        st->next_refresh(st->next_refresh_ctx, &copy);
}

/* An alert for a series restored firing from the state file: it fired
 * before this process started, so no notification passed the board. */
static void synthesize(const struct kw_status *st, const struct kw_series *s, const struct kw_kpi_config *kpi,
                       struct kw_alert *a)
{
    struct kw_alert_state alert;
    kw_alerting_get(&s->alert, &alert);
    const struct kw_alert_state *as = &alert;
    memset(a, 0, sizeof *a);
    copy_text(a->key, sizeof a->key, s->alert_key);
    copy_text(a->kpi, sizeof a->kpi, kpi->name);
    copy_text(a->description, sizeof a->description, kpi->description);
    copy_text(a->unit, sizeof a->unit, kpi->unit);
    copy_text(a->detector, sizeof a->detector, kpi->detector.type ? kpi->detector.type->name : "");
    copy_text(a->runbook, sizeof a->runbook, kpi->runbook);
    copy_text(a->dashboard, sizeof a->dashboard, kpi->dashboard);
    if (!a->dashboard[0] && st->external_url[0])
        snprintf(a->dashboard, sizeof a->dashboard, "%s/series/%s", st->external_url, a->key);
    copy_text(a->currency, sizeof a->currency, kpi->currency);
    const char *v = s->values;
    a->nlabels = kpi->group_by.n < KW_ALERT_MAX_LABELS ? kpi->group_by.n : KW_ALERT_MAX_LABELS;
    for (int i = 0; i < a->nlabels; i++, v = kw_series_next_value(v)) {
        copy_text(a->labels[i].name, sizeof a->labels[i].name, kpi->group_by.items[i]);
        copy_text(a->labels[i].value, sizeof a->labels[i].value, v);
    }
    a->status = KW_ALERT_FIRING;
    a->severity = as->peak_severity >= kpi->alert.critical_severity ? KW_SEV_CRITICAL : KW_SEV_WARNING;
    a->kind = kpi->kind;
    a->direction = as->impact >= 0 ? 1 : -1;
    a->severity_score = as->peak_severity;
    a->observed = a->peak_observed = as->peak_observed;
    a->expected = a->peak_expected = as->peak_expected;
    a->lower = a->upper = a->score = a->denominator = NAN;
    a->impact = as->impact;
    a->cost_per_unit = kpi->cost_per_unit;
    a->since_ms = as->since_ms;
    a->at_ms = s->open_start;
    a->interval_ms = s->interval_ms;
    a->intervals = as->intervals;
    a->nhistory = kw_series_history(s, a->history);
}

/* When the board may have drifted from the series table, make it agree:
 * a firing series missing from it (restored from state) is added, an
 * alert whose series no longer fires (its KPI went on reload, its
 * partition was handed over, flap control held the resolve back) leaves.
 * While the board is full this walks at every publication (once a second). */
static void sync_board(struct kw_status *st, const struct kw_pipeline *p, int nkpis)
{
    /* Alert events reach the board only while it is the pipeline's sink. */
    bool fed = p->on_alert == on_alert && p->alert_ctx == st;
    if (fed && !st->board_stale && st->board_untold == p->stats.firing_untold)
        return;
    size_t nnew = 0, new_cap = 0;
    bool full = false;
    struct kw_alert *fresh = NULL;
    bool *keep = xcalloc(st->nactive + 1, sizeof *keep);
    for (size_t i = 0; i < p->table.cap; i++) {
        const struct kw_series *s = p->table.slots[i];
        if (!s || s->kpi >= nkpis)
            continue;
        if (s->alert.nodata_since != INT64_MIN) {
            /* an open nodata alert stays until its resolve comes */
            char key[24];
            kw_alerting_nodata_key(s, key);
            ssize_t a = find_active(st, key);
            if (a >= 0)
                keep[a] = true;
        }
        if (s->alert.phase != KW_PHASE_FIRING)
            continue;
        ssize_t a = find_active(st, s->alert_key); /* the agent thread alone changes the board */
        if (a >= 0) {
            keep[a] = true;
            continue;
        }
        if (st->nactive + nnew >= MAX_ACTIVE) {
            full = true;
            continue;
        }
        if (nnew == new_cap) {
            new_cap = new_cap ? new_cap * 2 : 8;
            fresh = xrealloc(fresh, new_cap * sizeof *fresh);
        }
        synthesize(st, s, &st->cfg->kpis[s->kpi], &fresh[nnew++]);
    }
    pthread_mutex_lock(&st->lock);
    size_t w = 0;
    for (size_t r = 0; r < st->nactive; r++)
        if (keep[r])
            st->active[w++] = st->active[r];
    st->nactive = w;
    reindex_board(st);
    for (size_t i = 0; i < nnew; i++)
        upsert_active(st, &fresh[i]);
    pthread_mutex_unlock(&st->lock);
    free(keep);
    free(fresh);
    st->board_stale = full;
    st->board_untold = p->stats.firing_untold;
}

/* ---- sinks ---------------------------------------------------------------- */

static void on_interval(void *ctx, const struct kw_series *s, const struct kw_kpi_config *kpi,
                        const struct kw_sample *sample, const struct kw_verdict *v)
{
    struct kw_status *st = ctx;
    if (s->kpi < st->ncounters) {
        struct verdict_counters *c = &st->counters[s->kpi];
        c->intervals++;
        if (!v->ready)
            c->warming++;
        else if (v->anomalous)
            c->anomalous++;
        else
            c->normal++;
    }
    if (st->history)
        kw_history_sink(st->history, s, kpi, sample, v);
}

void kw_status_attach(struct kw_status *st, struct kw_pipeline *p, struct kw_history *history)
{
    st->next_alert = p->on_alert;
    st->next_ctx = p->alert_ctx;
    p->on_alert = on_alert;
    p->alert_ctx = st;
    st->next_refresh = p->on_refresh;
    st->next_refresh_ctx = p->refresh_ctx;
    p->on_refresh = on_refresh;
    p->refresh_ctx = st;
    st->board_stale = true;
    st->history = history;
    kw_pipeline_on_interval(p, on_interval, st);
}

void kw_status_set_history(struct kw_status *st, struct kw_history *history)
{
    st->history = history;
}

/* ---- publication ---------------------------------------------------------- */

static void add_counters(struct kw_receiver_stats *to, const struct kw_receiver_stats *from)
{
    to->queued += from->queued;
    to->sent += from->sent;
    to->retried += from->retried;
    to->failed += from->failed;
    to->dropped += from->dropped;
}

static struct carry *carry_for(struct kw_status *st, const char *name)
{
    for (int c = 0; c < st->ncarry; c++)
        if (strcmp(st->carry[c].name, name) == 0)
            return &st->carry[c];
    st->carry = xrealloc(st->carry, (size_t)(st->ncarry + 1) * sizeof *st->carry);
    struct carry *c = &st->carry[st->ncarry++];
    memset(c, 0, sizeof *c);
    copy_text(c->name, sizeof c->name, name);
    return c;
}

void kw_status_retire_outbox(struct kw_status *st, struct kw_outbox *o)
{
    if (!o || !st->cfg)
        return;
    struct kw_outbox_stats os;
    kw_outbox_stats(o, &os);
    st->muted_carry += os.muted;
    for (int r = 0; r < st->cfg->nreceivers; r++) {
        struct kw_receiver_stats rs;
        kw_outbox_receiver_stats(o, r, &rs);
        add_counters(&carry_for(st, st->cfg->receivers[r].name)->stats, &rs);
    }
}

void kw_status_publish(struct kw_status *st, const struct kw_pipeline *p, struct kw_outbox *o, uint64_t reloads,
                       uint64_t reload_failures, bool force)
{
    if (!st->cfg)
        return;
    int64_t wall = kw_now_ms();
    bool reloaded = reloads != st->seen_reloads, failed = reload_failures != st->seen_failures;
    if (reloaded || failed) {
        pthread_mutex_lock(&st->lock);
        st->view.last_reload_ms = wall;
        st->view.last_reload_ok = !failed;
        pthread_mutex_unlock(&st->lock);
        st->seen_reloads = reloads;
        st->seen_failures = reload_failures;
        force = true;
    }
    int64_t mono = kw_mono_ms();
    if (!force && mono < st->next_publish_mono)
        return;
    st->next_publish_mono = mono + PUBLISH_EVERY_MS;
    if (o)
        kw_status_set_incidents(st, kw_outbox_incidents_json(o));

    const struct kw_config *cfg = st->cfg;
    int nkpis = cfg->nkpis, nrcv = cfg->nreceivers;
    /* Build the new counters outside the lock, then swap them in. */
    struct kw_status_kpi *kpis = xcalloc((size_t)nkpis + 1, sizeof *kpis);
    pthread_mutex_lock(&st->lock);
    if (st->view.nkpis == nkpis)
        memcpy(kpis, st->view.kpis, (size_t)nkpis * sizeof *kpis);
    pthread_mutex_unlock(&st->lock);
    for (int k = 0; k < nkpis; k++) {
        struct kw_status_kpi *s = &kpis[k];
        if (p->kpi_series) { /* the pipeline keeps them as alert phases change */
            s->series = p->kpi_series[k];
            s->alerts_firing = p->kpi_firing[k];
            s->alerts_pending = p->kpi_pending[k];
            s->alerts_ok = s->series - s->alerts_firing - s->alerts_pending;
        } else {
            s->series = s->alerts_firing = s->alerts_pending = s->alerts_ok = 0;
        }
        s->series_refused = p->series_refused ? p->series_refused[k] : 0;
        if (k < st->ncounters) {
            s->intervals = st->counters[k].intervals;
            s->verdicts_normal = st->counters[k].normal;
            s->verdicts_anomalous = st->counters[k].anomalous;
            s->verdicts_warming = st->counters[k].warming;
        }
    }
    sync_board(st, p, nkpis);

    struct kw_status_receiver *rcv = xcalloc((size_t)nrcv + 1, sizeof *rcv);
    pthread_mutex_lock(&st->lock);
    if (st->view.nreceivers == nrcv)
        memcpy(rcv, st->view.receivers, (size_t)nrcv * sizeof *rcv);
    pthread_mutex_unlock(&st->lock);
    for (int r = 0; r < nrcv; r++) {
        struct kw_receiver_stats cur = {0};
        if (o)
            kw_outbox_receiver_stats(o, r, &cur);
        struct kw_receiver_stats total = {0};
        for (int c = 0; c < st->ncarry; c++)
            if (strcmp(st->carry[c].name, cfg->receivers[r].name) == 0)
                total = st->carry[c].stats;
        add_counters(&total, &cur);
        total.depth = cur.depth;
        total.oldest_ms = cur.oldest_ms;
        rcv[r].stats = total;
    }
    struct kw_outbox_stats os = {0};
    if (o)
        kw_outbox_stats(o, &os);

    pthread_mutex_lock(&st->lock);
    free(st->view.kpis);
    free(st->view.receivers);
    st->view.kpis = kpis;
    st->view.nkpis = nkpis;
    st->view.receivers = rcv;
    st->view.nreceivers = nrcv;
    st->view.ingest = p->ingest;
    st->view.pipeline = p->stats;
    st->view.series = p->table.count;
    st->view.outbox_alerts = os.alerts;
    st->view.outbox_notifications = os.notifications;
    st->view.queue_full_waits = os.queue_full_waits;
    st->view.outbox_muted = st->muted_carry + os.muted;
    st->view.reloads = reloads;
    st->view.reload_failures = reload_failures;
    st->view.published_ms = wall;
    pthread_mutex_unlock(&st->lock);
}

/* ---- readers -------------------------------------------------------------- */

void kw_status_read(struct kw_status *st, struct kw_status_view *out)
{
    char path[sizeof st->state_path];
    pthread_mutex_lock(&st->lock);
    *out = st->view;
    out->kpis = xmalloc((size_t)(out->nkpis + 1) * sizeof *out->kpis);
    memcpy(out->kpis, st->view.kpis, (size_t)out->nkpis * sizeof *out->kpis);
    out->receivers = xmalloc((size_t)(out->nreceivers + 1) * sizeof *out->receivers);
    memcpy(out->receivers, st->view.receivers, (size_t)out->nreceivers * sizeof *out->receivers);
    memcpy(path, st->state_path, sizeof path);
    pthread_mutex_unlock(&st->lock);
    out->now_ms = kw_now_ms();
    struct stat sb;
    out->state_saved_ms = path[0] && stat(path, &sb) == 0
                              ? (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000
                              : 0;
}

void kw_status_view_release(struct kw_status_view *v)
{
    free(v->kpis);
    free(v->receivers);
    v->kpis = NULL;
    v->receivers = NULL;
    v->nkpis = v->nreceivers = 0;
}

static int by_since(const void *a, const void *b)
{
    const struct kw_alert *x = a, *y = b;
    if (x->since_ms != y->since_ms)
        return x->since_ms < y->since_ms ? -1 : 1;
    return strcmp(x->key, y->key);
}

size_t kw_status_active(struct kw_status *st, struct kw_alert **out)
{
    pthread_mutex_lock(&st->lock);
    size_t n = st->nactive;
    *out = xmalloc((n ? n : 1) * sizeof **out);
    if (n) /* an empty board may have no array yet */
        memcpy(*out, st->active, n * sizeof **out);
    pthread_mutex_unlock(&st->lock);
    qsort(*out, n, sizeof **out, by_since);
    return n;
}

size_t kw_status_resolved(struct kw_status *st, struct kw_status_resolved **out)
{
    pthread_mutex_lock(&st->lock);
    size_t n = (size_t)st->nresolved;
    *out = xmalloc((n ? n : 1) * sizeof **out);
    for (size_t i = 0; i < n; i++) /* newest first */
        (*out)[i] = st->resolved[(st->resolved_next - 1 - (int)i + KW_STATUS_RESOLVED) % KW_STATUS_RESOLVED];
    pthread_mutex_unlock(&st->lock);
    return n;
}

void kw_status_set_incidents(struct kw_status *st, char *json)
{
    if (!json)
        return;
    pthread_mutex_lock(&st->lock);
    free(st->incidents_json);
    st->incidents_json = json;
    pthread_mutex_unlock(&st->lock);
}

void kw_status_set_ingest_queue(struct kw_status *st, int64_t bytes, int64_t limit)
{
    pthread_mutex_lock(&st->lock);
    st->view.ingest_queue_bytes = bytes;
    st->view.ingest_queue_limit = limit;
    pthread_mutex_unlock(&st->lock);
}

void kw_status_set_kafka(struct kw_status *st, char *text)
{
    pthread_mutex_lock(&st->lock);
    free(st->kafka_metrics);
    st->kafka_metrics = text;
    pthread_mutex_unlock(&st->lock);
}

char *kw_status_kafka(struct kw_status *st)
{
    pthread_mutex_lock(&st->lock);
    char *copy = st->kafka_metrics ? xstrdup(st->kafka_metrics) : NULL;
    pthread_mutex_unlock(&st->lock);
    return copy;
}

static struct kw_status_incident *incident_new(struct kw_status_incident *inc, size_t *ninc, size_t n)
{
    struct kw_status_incident *g = &inc[(*ninc)++];
    memset(g, 0, sizeof *g);
    g->members = xmalloc((n ? n : 1) * sizeof *g->members);
    return g;
}

static void incident_add(struct kw_status_incident *g, const struct kw_alert *alerts, size_t i)
{
    if (g->n == 0 || alerts[i].since_ms < g->since_ms)
        g->since_ms = alerts[i].since_ms;
    if (g->n == 0 || alerts[i].severity > g->severity)
        g->severity = alerts[i].severity;
    g->members[g->n++] = i;
}

/* The outbox's groups, as indexes into alerts. */
static void engine_incidents(const cJSON *root, const struct kw_alert *alerts, size_t n, bool *covered,
                             struct kw_status_incident *inc, size_t *ninc)
{
    const cJSON *j;
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(root, "incidents")) {
        struct kw_status_incident *g = incident_new(inc, ninc, n);
        const cJSON *m;
        for (size_t i = 0; i < n; i++) { /* alerts order: first mover first */
            cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(j, "members")) {
                const cJSON *key = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "alert"), "key");
                if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "resolved")) && cJSON_IsString(key) &&
                    strcmp(key->valuestring, alerts[i].key) == 0) {
                    incident_add(g, alerts, i);
                    break;
                }
            }
        }
        const cJSON *rcv = cJSON_GetObjectItemCaseSensitive(j, "receiver");
        if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "receiver_enabled")))
            rcv = NULL; /* a receiver that is off was told nothing */
        /* the same members at another receiver: one incident, two receivers */
        struct kw_status_incident *same = NULL;
        for (size_t k = 0; k + 1 < *ninc && !same; k++)
            if (inc[k].n == g->n && g->n > 0 && memcmp(inc[k].members, g->members, g->n * sizeof *g->members) == 0)
                same = &inc[k];
        if (g->n == 0 || same) {
            if (same && cJSON_IsString(rcv) && !strstr(same->receivers, rcv->valuestring)) {
                size_t len = strlen(same->receivers);
                snprintf(same->receivers + len, sizeof same->receivers - len, "%s%s", len ? ", " : "",
                         rcv->valuestring);
            }
            free(g->members);
            (*ninc)--;
            continue;
        }
        for (size_t i = 0; i < g->n; i++)
            covered[g->members[i]] = true;
        copy_text(g->key, sizeof g->key, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "key")));
        copy_text(g->receivers, sizeof g->receivers, cJSON_IsString(rcv) ? rcv->valuestring : "");
        const cJSON *l;
        size_t blen = 0, vlen = 0;
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(j, "group")) {
            if (!cJSON_IsString(l))
                continue;
            blen += (size_t)snprintf(g->by + blen, blen < sizeof g->by ? sizeof g->by - blen : 0, "%s%s",
                                     blen ? "," : "", l->string);
            vlen += (size_t)snprintf(g->value + vlen, vlen < sizeof g->value ? sizeof g->value - vlen : 0, "%s%s",
                                     vlen ? "," : "", l->valuestring);
        }
    }
}

size_t kw_status_incidents(struct kw_status *st, const struct kw_alert *alerts, size_t n,
                           struct kw_status_incident **out)
{
    bool *covered = xcalloc(n + 1, sizeof *covered);
    size_t ninc = 0;
    pthread_mutex_lock(&st->lock);
    cJSON *root = st->incidents_json ? cJSON_Parse(st->incidents_json) : NULL;
    pthread_mutex_unlock(&st->lock);
    /* at most one per engine group (each routed copy is one until merged) plus one per alert */
    size_t groups = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "incidents"));
    struct kw_status_incident *inc = xcalloc(groups + n + 1, sizeof *inc);
    engine_incidents(root, alerts, n, covered, inc, &ninc);
    cJSON_Delete(root);
    size_t engine = ninc;
    for (size_t i = 0; i < n; i++) {
        if (covered[i])
            continue;
        const struct kw_alert *a = &alerts[i];
        const char *by = "kpi", *value = a->kpi;
        for (int l = 0; l < a->nlabels; l++) {
            if (strcmp(a->labels[l].name, "journey") == 0) {
                by = "journey";
                value = a->labels[l].value;
            }
        }
        struct kw_status_incident *g = NULL;
        for (size_t k = engine; k < ninc && !g; k++)
            if (strcmp(inc[k].by, by) == 0 && strcmp(inc[k].value, value) == 0)
                g = &inc[k];
        if (!g) {
            g = incident_new(inc, &ninc, n);
            copy_text(g->by, sizeof g->by, by);
            copy_text(g->value, sizeof g->value, value);
        }
        incident_add(g, alerts, i);
    }
    free(covered);
    if (ninc == 0) {
        free(inc);
        inc = NULL;
    }
    *out = inc;
    return ninc;
}

void kw_status_incidents_free(struct kw_status_incident *inc, size_t n)
{
    if (!inc)
        return;
    for (size_t i = 0; i < n; i++)
        free(inc[i].members);
    free(inc);
}
