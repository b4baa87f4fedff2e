/* dispatcher: the delivery thread. submit() spools a notification and puts
 * it in a lane per (receiver, key); the thread starts the head of every
 * ready lane through libcurl multi (or the notifier's local send), within
 * the receiver's token bucket and its share of max_in_flight, and retries,
 * dead-letters or acknowledges it. Also the synchronous test-notify sender. */
#include "dispatcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fileio.h"
#include "../lib/hash.h"
#include "../lib/jsonnum.h"
#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "http.h"

#define SPOOL_VERSION 1
#define SPOOL_MAX_ALERTS 10000
#define SPOOL_MAX_BYTES (64L << 20)
#define REFS_MAX 100000
#define REFS_FLUSH_MS 1000      /* dropped references are written at most this often */
#define COMPLAIN_FIRST_MS 10000 /* a repeated complaint waits this long, then twice as long, ... */
#define COMPLAIN_MAX_MS 3600000
#define POLL_MAX_MS 1000

const struct kw_option kw_delivery_options[] = {
    {"queue_max", KW_OPT_INT, "10000", offsetof(struct kw_delivery_config, queue_max), 1, 10000000,
     .desc = "Notifications held (waiting or in flight, in memory and in the spool) over all receivers. When full, "
             "the oldest waiting update is dropped; firing and resolved notifications are never dropped."},
    {"max_age", KW_OPT_DURATION, "24h", offsetof(struct kw_delivery_config, max_age_ms), 0.001, 2592000,
     .desc = "A notification not delivered this long after it was queued goes to the dead-letter file."},
    {"backoff_initial", KW_OPT_DURATION, "1s", offsetof(struct kw_delivery_config, backoff_initial_ms), 0.001, 86400,
     .desc = "Bound of the first retry delay. The bound doubles on each retry and the delay is drawn uniformly "
             "below it (full jitter); a longer Retry-After from the service wins."},
    {"backoff_max", KW_OPT_DURATION, "5m", offsetof(struct kw_delivery_config, backoff_max_ms), 0.001, 86400,
     .desc = "Cap of the retry delay bound (at least backoff_initial)."},
    {"connect_timeout", KW_OPT_DURATION, "5s", offsetof(struct kw_delivery_config, connect_timeout_ms), 0.001, 600,
     .desc = "Time allowed to connect to a service; then the attempt is retried."},
    {"timeout", KW_OPT_DURATION, "15s", offsetof(struct kw_delivery_config, timeout_ms), 0.001, 3600,
     .desc = "Time allowed for a whole request, connecting included; then the attempt is retried."},
    {"max_in_flight", KW_OPT_INT, "16", offsetof(struct kw_delivery_config, max_in_flight), 1, 1024,
     .desc = "Concurrent requests over all receivers. A receiver below its fair share (max_in_flight divided by "
             "the receivers with work) may start one even when all are taken, so a hanging service cannot "
             "hold every slot."},
    KW_OPT_END,
};

/* ---- small hash table keyed by (receiver, key) -------------------------- */

struct hent {
    struct hent *hnext;
    uint64_t hash;
    int r;
    char key[KW_NOTIFY_KEY];
};

struct htab {
    struct hent **b;
    size_t nb, n;
};

static uint64_t hkey(int r, const char *key)
{
    return kw_fnv1a_str(KW_FNV_OFFSET ^ (uint64_t)(unsigned)r, key);
}

static struct hent *htab_find(const struct htab *t, int r, const char *key)
{
    if (!t->nb)
        return NULL;
    uint64_t h = hkey(r, key);
    for (struct hent *e = t->b[h & (t->nb - 1)]; e; e = e->hnext)
        if (e->hash == h && e->r == r && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* e->r and e->key set by the caller. */
static void htab_add(struct htab *t, struct hent *e)
{
    if (t->n >= t->nb) {
        size_t nb = t->nb ? t->nb * 2 : 64;
        struct hent **b = xcalloc(nb, sizeof *b);
        for (size_t i = 0; i < t->nb; i++)
            for (struct hent *x = t->b[i], *next; x; x = next) {
                next = x->hnext;
                x->hnext = b[x->hash & (nb - 1)];
                b[x->hash & (nb - 1)] = x;
            }
        free(t->b);
        t->b = b;
        t->nb = nb;
    }
    e->hash = hkey(e->r, e->key);
    e->hnext = t->b[e->hash & (t->nb - 1)];
    t->b[e->hash & (t->nb - 1)] = e;
    t->n++;
}

static void htab_del(struct htab *t, struct hent *e)
{
    for (struct hent **p = &t->b[e->hash & (t->nb - 1)]; *p; p = &(*p)->hnext)
        if (*p == e) {
            *p = e->hnext;
            t->n--;
            return;
        }
}

/* ---- state ---------------------------------------------------------------- */

struct lane;

/* One notification held by the dispatcher. Links and flags change under
 * d->lock; n, step and attempts only before it is queued or by the thread
 * while it is busy. */
struct item {
    struct kw_notification n;
    int r;
    uint64_t seq;             /* submit order, also across restarts (the spool file name) */
    int attempts;             /* requests that came back (or failed) so far */
    int step;                 /* next request of the notifier's sequence */
    int64_t next_ms;          /* monotonic: not started before */
    bool busy;                /* in flight: owned by the thread, never dropped */
    bool expire;              /* picked only to be declared dead */
    char spool[32];           /* file name in spool/; "" = not spooled */
    struct item *prev, *next;   /* every item, in seq order */
    struct item *rprev, *rnext; /* this receiver's items, in seq order */
    struct item *lprev, *lnext; /* this lane's items, in seq order */
    struct lane *lane;
    struct item *pick_next;     /* the thread's list of items to start */
    /* thread only, while busy */
    struct kw_request req;
    struct kw_http_capture *cap;
    char last_ref[KW_NOTIFY_REF]; /* what the last OK step returned */
};

/* The items of one (receiver, key), delivered one at a time in order. It is
 * in its receiver's heap while it has items and its head is not in flight. */
struct lane {
    struct hent h;
    struct item *head, *tail;
    size_t heap_pos; /* SIZE_MAX = not in the heap */
};

/* Logs once, then at doubling intervals (collectd's complaint). */
struct complaint {
    int64_t next_ms, interval_ms;
    uint64_t count;
};

/* Per receiver; under d->lock except where marked. */
struct rstate {
    char component[96];           /* "type/name" for log lines */
    struct kw_receiver_stats st;  /* depth and counters; oldest_ms computed on read */
    struct item *first, *last;
    struct lane **heap;           /* ready-or-waiting lanes, earliest (next_ms, seq) first */
    size_t nheap, capheap;
    int in_flight;
    double tokens;
    int64_t tokens_ms;
    /* thread only */
    struct complaint retry_c, dead_c;
};

/* A thread reference (Slack ts, Message-ID) of an open (receiver, key). */
struct ref {
    struct hent h;
    char ref[KW_NOTIFY_REF];
    int64_t t_ms;
    struct ref *older, *newer;
};

struct kw_dispatcher {
    struct kw_delivery_config cfg;
    const struct kw_receiver *rcv;
    int nr;
    char *state_dir, *spool_dir; /* NULL without a state dir */
    pthread_t thread;
    pthread_mutex_t submit_lock; /* serialises submitters, so seq order is queue order */
    uint64_t next_seq;           /* under submit_lock */
    pthread_mutex_t lock;        /* everything from here to "thread only" */
    struct rstate *rs;
    struct item *first, *last;
    size_t count;
    struct htab lanes;
    int in_flight;
    bool stopping;
    int64_t deadline_ms;
    struct complaint over_c, drop_c;
    /* thread only (and start/stop while no thread runs) */
    CURLM *multi;
    uint64_t rng;
    struct htab refs;
    struct ref *oldest_ref, *newest_ref;
    bool refs_dirty;
    int64_t refs_flush_ms;
};

static const char *const kind_names[] = {"firing", "update", "resolved"};

static const char *kind_name(int kind)
{
    return kind >= 0 && kind <= KW_NOTIFY_RESOLVED ? kind_names[kind] : "?";
}

static bool complain(struct complaint *c, int64_t now, uint64_t *suppressed)
{
    c->count++;
    if (c->interval_ms && now < c->next_ms)
        return false;
    *suppressed = c->count - 1;
    c->count = 0;
    c->interval_ms = c->interval_ms ? (c->interval_ms * 2 > COMPLAIN_MAX_MS ? COMPLAIN_MAX_MS : c->interval_ms * 2)
                                    : COMPLAIN_FIRST_MS;
    c->next_ms = now + c->interval_ms;
    return true;
}

/* splitmix64: a per-dispatcher generator for the jitter. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Full jitter: uniform in [1, min(max, initial * 2^(attempts-1))]. */
static int64_t backoff_ms(struct kw_dispatcher *d, int attempts)
{
    int64_t bound = d->cfg.backoff_initial_ms;
    for (int i = 1; i < attempts && bound < d->cfg.backoff_max_ms; i++)
        bound *= 2;
    if (bound > d->cfg.backoff_max_ms)
        bound = d->cfg.backoff_max_ms;
    if (bound < 1)
        bound = 1;
    return 1 + (int64_t)(rng_next(&d->rng) % (uint64_t)bound);
}

/* ---- lanes and their heaps (under lock) ----------------------------------- */

static bool lane_before(const struct lane *a, const struct lane *b)
{
    const struct item *x = a->head, *y = b->head;
    return x->next_ms != y->next_ms ? x->next_ms < y->next_ms : x->seq < y->seq;
}

static void heap_set(struct rstate *rs, size_t i, struct lane *l)
{
    rs->heap[i] = l;
    l->heap_pos = i;
}

static void heap_up(struct rstate *rs, size_t i)
{
    struct lane *l = rs->heap[i];
    while (i > 0 && lane_before(l, rs->heap[(i - 1) / 2])) {
        heap_set(rs, i, rs->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(rs, i, l);
}

static void heap_down(struct rstate *rs, size_t i)
{
    struct lane *l = rs->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= rs->nheap)
            break;
        if (c + 1 < rs->nheap && lane_before(rs->heap[c + 1], rs->heap[c]))
            c++;
        if (!lane_before(rs->heap[c], l))
            break;
        heap_set(rs, i, rs->heap[c]);
        i = c;
    }
    heap_set(rs, i, l);
}

static void heap_push(struct rstate *rs, struct lane *l)
{
    if (rs->nheap == rs->capheap) {
        rs->capheap = rs->capheap ? rs->capheap * 2 : 16;
        rs->heap = xrealloc(rs->heap, rs->capheap * sizeof *rs->heap);
    }
    heap_set(rs, rs->nheap++, l);
    heap_up(rs, rs->nheap - 1);
}

static void heap_remove(struct rstate *rs, struct lane *l)
{
    size_t i = l->heap_pos;
    l->heap_pos = SIZE_MAX;
    struct lane *last = rs->heap[--rs->nheap];
    if (i == rs->nheap)
        return;
    heap_set(rs, i, last);
    heap_up(rs, i);
    heap_down(rs, last->heap_pos);
}

/* Append it (the newest seq) to every list; its lane becomes ready if new. */
static void enqueue(struct kw_dispatcher *d, struct item *it)
{
    struct rstate *rs = &d->rs[it->r];
    it->prev = d->last;
    *(d->last ? &d->last->next : &d->first) = it;
    d->last = it;
    it->rprev = rs->last;
    *(rs->last ? &rs->last->rnext : &rs->first) = it;
    rs->last = it;
    struct lane *lane = (struct lane *)htab_find(&d->lanes, it->r, it->n.key);
    if (!lane) {
        lane = xcalloc(1, sizeof *lane);
        lane->h.r = it->r;
        snprintf(lane->h.key, sizeof lane->h.key, "%s", it->n.key);
        lane->heap_pos = SIZE_MAX;
        htab_add(&d->lanes, &lane->h);
    }
    it->lane = lane;
    it->lprev = lane->tail;
    *(lane->tail ? &lane->tail->lnext : &lane->head) = it;
    lane->tail = it;
    if (lane->head == it)
        heap_push(rs, lane);
    d->count++;
    rs->st.depth++;
}

/* Take it out of every list (it may be busy, waiting at a lane's head, or
 * behind it); the lane's next item becomes ready. */
static void dequeue(struct kw_dispatcher *d, struct item *it)
{
    struct rstate *rs = &d->rs[it->r];
    *(it->prev ? &it->prev->next : &d->first) = it->next;
    *(it->next ? &it->next->prev : &d->last) = it->prev;
    *(it->rprev ? &it->rprev->rnext : &rs->first) = it->rnext;
    *(it->rnext ? &it->rnext->rprev : &rs->last) = it->rprev;
    struct lane *lane = it->lane;
    bool was_head = lane->head == it;
    *(it->lprev ? &it->lprev->lnext : &lane->head) = it->lnext;
    *(it->lnext ? &it->lnext->lprev : &lane->tail) = it->lprev;
    if (!lane->head) {
        if (lane->heap_pos != SIZE_MAX)
            heap_remove(rs, lane);
        htab_del(&d->lanes, &lane->h);
        free(lane);
    } else if (was_head) {
        if (lane->heap_pos != SIZE_MAX)
            heap_remove(rs, lane);
        heap_push(rs, lane);
    }
    if (it->busy) {
        rs->in_flight--;
        d->in_flight--;
    }
    d->count--;
    rs->st.depth--;
    it->lane = NULL;
    it->prev = it->next = it->rprev = it->rnext = it->lprev = it->lnext = NULL;
}

static void item_free(struct item *it)
{
    if (it) {
        kw_notification_release(&it->n);
        free(it);
    }
}

/* ---- files ---------------------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int mkdir_if_missing(const char *path)
{
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* Write text to dir/name atomically (lib/fileio); the file may hold alert
 * content, so only the agent's user may read it. */
static int write_in(const char *dir, const char *name, const char *text, char *err, size_t errlen)
{
    char *path = path_join(dir, name);
    int rc = kw_write_file_atomic_mode(path, text, strlen(text), 0600, err, errlen);
    free(path);
    return rc;
}

/* ---- notifications as JSON ------------------------------------------------ */

static cJSON *notification_save(const struct item *it)
{
    char num[24];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", SPOOL_VERSION);
    snprintf(num, sizeof num, "%" PRIu64, it->seq);
    cJSON_AddRawToObject(o, "seq", num);
    snprintf(num, sizeof num, "%" PRId64, it->n.created_ms);
    cJSON_AddRawToObject(o, "created_ms", num);
    cJSON_AddStringToObject(o, "receiver", it->n.receiver);
    cJSON_AddStringToObject(o, "key", it->n.key);
    cJSON_AddStringToObject(o, "kind", kind_name(it->n.kind));
    if (it->n.reminder)
        cJSON_AddBoolToObject(o, "reminder", true);
    cJSON_AddStringToObject(o, "ref", it->n.ref);
    if (it->n.first_mover[0])
        cJSON_AddStringToObject(o, "first_mover", it->n.first_mover);
    if (it->n.ngroup_labels > 0) {
        cJSON *gl = cJSON_AddObjectToObject(o, "group_labels");
        for (int i = 0; i < it->n.ngroup_labels; i++)
            cJSON_AddStringToObject(gl, it->n.group_labels[i].name, it->n.group_labels[i].value);
    }
    cJSON_AddNumberToObject(o, "step", it->step);
    cJSON_AddNumberToObject(o, "attempts", it->attempts);
    cJSON *alerts = cJSON_AddArrayToObject(o, "alerts");
    for (size_t i = 0; i < it->n.nalerts; i++)
        cJSON_AddItemToArray(alerts, kw_alert_save(&it->n.alerts[i]));
    return o;
}

static int get_string(const cJSON *o, const char *name, char *dst, size_t cap)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(s) || strlen(s->valuestring) >= cap)
        return -1;
    memcpy(dst, s->valuestring, strlen(s->valuestring) + 1);
    return 0;
}

static int get_int(const cJSON *o, const char *name, double min, double max, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < min || v->valuedouble > max)
        return -1;
    *out = v->valuedouble;
    return 0;
}

/* Read a spool entry into it (n, seq, step, attempts). Returns 0 or -1 with err. */
static int notification_load(const cJSON *o, struct item *it, char *err, size_t errlen)
{
    double seq, created, step, attempts, version;
    char kind[16];
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "not a JSON object");
        return -1;
    }
    if (get_int(o, "version", SPOOL_VERSION, SPOOL_VERSION, &version) ||
        get_int(o, "seq", 0, 9007199254740992.0, &seq) ||
        get_int(o, "created_ms", 0, 9007199254740992.0, &created) ||
        get_int(o, "step", 0, 1000, &step) || get_int(o, "attempts", 0, 1e9, &attempts)) {
        snprintf(err, errlen, "version, seq, created_ms, step or attempts missing or out of range");
        return -1;
    }
    if (get_string(o, "receiver", it->n.receiver, sizeof it->n.receiver) ||
        get_string(o, "key", it->n.key, sizeof it->n.key) || get_string(o, "ref", it->n.ref, sizeof it->n.ref) ||
        get_string(o, "kind", kind, sizeof kind)) {
        snprintf(err, errlen, "receiver, key, ref or kind missing or too long");
        return -1;
    }
    it->n.kind = -1;
    for (int k = 0; k <= KW_NOTIFY_RESOLVED; k++)
        if (strcmp(kind, kind_names[k]) == 0)
            it->n.kind = k;
    if (it->n.kind < 0) {
        snprintf(err, errlen, "kind \"%s\" is unknown", kind);
        return -1;
    }
    it->n.reminder = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "reminder"));
    /* shown in headers only: when damaged, alerts[0] stands in, as in older spools */
    if (get_string(o, "first_mover", it->n.first_mover, sizeof it->n.first_mover))
        it->n.first_mover[0] = '\0';
    /* shown only: what does not fit is left out */
    const cJSON *gl;
    cJSON_ArrayForEach(gl, cJSON_GetObjectItemCaseSensitive(o, "group_labels")) {
        struct kw_alert_label *l = &it->n.group_labels[it->n.ngroup_labels];
        if (it->n.ngroup_labels >= KW_ALERT_MAX_LABELS || !gl->string || !cJSON_IsString(gl) ||
            strlen(gl->string) >= sizeof l->name || strlen(gl->valuestring) >= sizeof l->value)
            continue;
        snprintf(l->name, sizeof l->name, "%s", gl->string);
        snprintf(l->value, sizeof l->value, "%s", gl->valuestring);
        it->n.ngroup_labels++;
    }
    const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(o, "alerts");
    int na = cJSON_IsArray(alerts) ? cJSON_GetArraySize(alerts) : -1;
    if (na < 1 || na > SPOOL_MAX_ALERTS) {
        snprintf(err, errlen, "alerts must be an array of 1..%d alerts", SPOOL_MAX_ALERTS);
        return -1;
    }
    it->n.alerts = xcalloc((size_t)na, sizeof *it->n.alerts);
    const cJSON *a;
    cJSON_ArrayForEach(a, alerts) {
        char why[128];
        if (kw_alert_load_err(&it->n.alerts[it->n.nalerts], a, why, sizeof why)) {
            snprintf(err, errlen, "alerts[%zu].%s", it->n.nalerts, why);
            return -1;
        }
        it->n.nalerts++;
    }
    it->seq = (uint64_t)seq;
    it->n.created_ms = (int64_t)created;
    it->step = (int)step;
    it->attempts = (int)attempts;
    return 0;
}

/* ---- spool ---------------------------------------------------------------- */

/* (Re)write it's spool file; on failure the notification lives in memory only. */
static void spool_write(struct kw_dispatcher *d, struct item *it)
{
    if (!d->spool_dir)
        return;
    if (!it->spool[0])
        snprintf(it->spool, sizeof it->spool, "%020" PRIu64 ".json", it->seq);
    cJSON *json = notification_save(it);
    char *text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    char err[KW_ERR_LEN];
    if (write_in(d->spool_dir, it->spool, text, err, sizeof err)) {
        kw_error(d->rs[it->r].component, "cannot spool notification %s (kept in memory only): %s", it->n.key, err);
        it->spool[0] = '\0';
    }
    free(text);
}

static void spool_unlink(struct kw_dispatcher *d, struct item *it)
{
    if (!it || !d->spool_dir || !it->spool[0])
        return;
    char *path = path_join(d->spool_dir, it->spool);
    if (unlink(path) != 0 && errno != ENOENT)
        kw_warn("dispatcher", "cannot remove %s: %s", path, strerror(errno));
    free(path);
    it->spool[0] = '\0';
}

static void spool_move_aside(struct kw_dispatcher *d, const char *name, const char *why)
{
    char *corrupt = path_join(d->spool_dir, "corrupt");
    char *from = path_join(d->spool_dir, name), *to = path_join(corrupt, name);
    if (mkdir_if_missing(corrupt) != 0 || rename(from, to) != 0) {
        kw_warn("dispatcher", "spool file %s is unreadable (%s) and cannot be moved aside: %s", from, why,
                strerror(errno));
    } else {
        kw_warn("dispatcher", "spool file %s is unreadable (%s); moved to %s", from, why, to);
    }
    free(corrupt);
    free(from);
    free(to);
}

/* ---- dead letters --------------------------------------------------------- */

static void dead_letter_append(struct kw_dispatcher *d, const struct item *it, const char *reason)
{
    if (!d->state_dir)
        return;
    char when[40];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "time", kw_time_format(kw_now_ms(), when, sizeof when));
    cJSON_AddStringToObject(o, "receiver", it->n.receiver);
    cJSON_AddStringToObject(o, "key", it->n.key);
    cJSON_AddStringToObject(o, "kind", kind_name(it->n.kind));
    char *safe = kw_log_redact_text(reason); /* a service may echo a credential back */
    cJSON_AddStringToObject(o, "reason", safe ? safe : "");
    free(safe);
    cJSON_AddNumberToObject(o, "attempts", it->attempts);
    cJSON_AddItemToObject(o, "notification", notification_save(it));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL: written by length below */
    char *path = path_join(d->state_dir, "dead-letter.jsonl");
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    /* One write() of the whole line: O_APPEND keeps lines whole. */
    if (fd < 0 || write(fd, text, len + 1) != (ssize_t)(len + 1) || fsync(fd) != 0)
        kw_error("dispatcher", "cannot append to %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(path);
    free(text);
}

/* ---- thread references (thread only) -------------------------------------- */

static void ref_unlink(struct kw_dispatcher *d, struct ref *e)
{
    *(e->older ? &e->older->newer : &d->oldest_ref) = e->newer;
    *(e->newer ? &e->newer->older : &d->newest_ref) = e->older;
    e->older = e->newer = NULL;
}

static void ref_append(struct kw_dispatcher *d, struct ref *e)
{
    e->older = d->newest_ref;
    *(d->newest_ref ? &d->newest_ref->newer : &d->oldest_ref) = e;
    d->newest_ref = e;
}

static void ref_set(struct kw_dispatcher *d, int r, const char *key, const char *ref, int64_t t_ms)
{
    struct ref *e = (struct ref *)htab_find(&d->refs, r, key);
    if (e) {
        ref_unlink(d, e);
    } else {
        e = xcalloc(1, sizeof *e);
        e->h.r = r;
        snprintf(e->h.key, sizeof e->h.key, "%s", key);
        htab_add(&d->refs, &e->h);
    }
    snprintf(e->ref, sizeof e->ref, "%s", ref);
    e->t_ms = t_ms;
    ref_append(d, e);
    while (d->refs.n > REFS_MAX) {
        struct ref *old = d->oldest_ref;
        ref_unlink(d, old);
        htab_del(&d->refs, &old->h);
        free(old);
    }
}

static void refs_write(struct kw_dispatcher *d)
{
    d->refs_dirty = false;
    if (!d->state_dir)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON *arr = cJSON_AddArrayToObject(o, "refs");
    for (struct ref *e = d->oldest_ref; e; e = e->newer) {
        char t[24];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "receiver", d->rcv[e->h.r].name);
        cJSON_AddStringToObject(x, "key", e->h.key);
        cJSON_AddStringToObject(x, "ref", e->ref);
        snprintf(t, sizeof t, "%" PRId64, e->t_ms);
        cJSON_AddRawToObject(x, "t", t);
        cJSON_AddItemToArray(arr, x);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char err[KW_ERR_LEN];
    if (write_in(d->state_dir, "refs.json", text, err, sizeof err))
        kw_error("dispatcher", "cannot save thread references: %s", err);
    free(text);
}

static int receiver_index(const struct kw_dispatcher *d, const char *name)
{
    for (int r = 0; r < d->nr; r++) {
        if (d->rcv[r].disabled) /* off: nothing may be sent through it */
            continue;
        char stored[sizeof ((struct kw_notification *)0)->receiver];
        snprintf(stored, sizeof stored, "%s", d->rcv[r].name); /* as a notification holds it */
        if (strcmp(stored, name) == 0)
            return r;
    }
    return -1;
}

static void refs_load(struct kw_dispatcher *d)
{
    char *path = path_join(d->state_dir, "refs.json"), err[KW_ERR_LEN] = "";
    char *text = kw_read_file(path, 256u << 20, NULL, err, sizeof err);
    if (!text && !err[0]) { /* none yet */
        free(path);
        return;
    }
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "refs");
    bool ok = cJSON_IsArray(arr);
    const cJSON *list = ok ? arr : NULL, *x;
    cJSON_ArrayForEach(x, list) {
        char name[64], key[KW_NOTIFY_KEY], ref[KW_NOTIFY_REF];
        double t;
        if (get_string(x, "receiver", name, sizeof name) || get_string(x, "key", key, sizeof key) ||
            get_string(x, "ref", ref, sizeof ref) || get_int(x, "t", -9007199254740992.0, 9007199254740992.0, &t)) {
            ok = false;
            break;
        }
        int r = receiver_index(d, name);
        if (r >= 0 && ref[0])
            ref_set(d, r, key, ref, (int64_t)t);
    }
    if (!ok) {
        char *aside = path_join(d->state_dir, "refs.json.corrupt");
        if (!err[0])
            snprintf(err, sizeof err, "%s: not a reference file", path);
        kw_warn("dispatcher", "%s; moved to %s, threads start afresh", err, aside);
        rename(path, aside);
        free(aside);
    }
    cJSON_Delete(o);
    free(text);
    free(path);
}

/* ---- the thread ----------------------------------------------------------- */

/* Take a token from r's bucket, or say in *wake when there is one. */
static bool take_token(const struct kw_receiver *rcv, struct rstate *rs, int64_t now, int64_t *wake)
{
    if (rcv->rate_per_s <= 0)
        return true;
    double burst = rcv->burst > 0 ? rcv->burst : 1;
    rs->tokens += (double)(now - rs->tokens_ms) * rcv->rate_per_s / 1000.0;
    if (rs->tokens > burst)
        rs->tokens = burst;
    rs->tokens_ms = now;
    if (rs->tokens >= 1.0) {
        rs->tokens -= 1.0;
        return true;
    }
    int64_t at = now + (int64_t)ceil((1.0 - rs->tokens) * 1000.0 / rcv->rate_per_s);
    if (at < *wake)
        *wake = at;
    return false;
}

/* Under lock: mark what may start now busy and return it as a list; lower
 * *wake to when the next waiting item could start. */
static struct item *pick(struct kw_dispatcher *d, int64_t now, int64_t *wake)
{
    int active = 0;
    for (int r = 0; r < d->nr; r++)
        active += d->rs[r].first != NULL;
    int share = d->cfg.max_in_flight / (active ? active : 1);
    if (share < 1)
        share = 1;
    int64_t wall = kw_now_ms();
    struct item *list = NULL, **tail = &list;
    for (int r = 0; r < d->nr; r++) {
        struct rstate *rs = &d->rs[r];
        while (rs->nheap) {
            struct lane *lane = rs->heap[0];
            struct item *it = lane->head;
            if (it->next_ms > now) {
                if (it->next_ms < *wake)
                    *wake = it->next_ms;
                break;
            }
            bool expired = wall - it->n.created_ms > d->cfg.max_age_ms;
            if (!expired) {
                if (rs->in_flight >= d->cfg.max_in_flight ||
                    (d->in_flight >= d->cfg.max_in_flight && rs->in_flight >= share))
                    break; /* a completion wakes the loop */
                if (!take_token(&d->rcv[r], rs, now, wake))
                    break;
            }
            heap_remove(rs, lane);
            it->busy = true;
            it->expire = expired;
            rs->in_flight++;
            d->in_flight++;
            it->pick_next = NULL;
            *tail = it;
            tail = &it->pick_next;
        }
    }
    return list;
}

/* Done with it for good: out of the queue, spool and memory. */
static void retire(struct kw_dispatcher *d, struct item *it, uint64_t *counter)
{
    spool_unlink(d, it);
    pthread_mutex_lock(&d->lock);
    (*counter)++;
    dequeue(d, it);
    pthread_mutex_unlock(&d->lock);
    item_free(it);
}

static void dead(struct kw_dispatcher *d, struct item *it, const char *reason)
{
    struct rstate *rs = &d->rs[it->r];
    dead_letter_append(d, it, reason);
    uint64_t suppressed;
    if (complain(&rs->dead_c, kw_mono_ms(), &suppressed))
        kw_error(rs->component, "%s notification %s is dead after %d attempts: %s%s%s", kind_name(it->n.kind),
                 it->n.key, it->attempts, reason, d->state_dir ? " (see dead-letter.jsonl)" : "",
                 suppressed ? " (and earlier ones not logged)" : "");
    retire(d, it, &rs->st.failed);
}

static void acknowledged(struct kw_dispatcher *d, struct item *it, const struct kw_send_outcome *out)
{
    struct rstate *rs = &d->rs[it->r];
    const char *ref = out->ref[0] ? out->ref : it->n.ref;
    if (it->n.kind == KW_NOTIFY_FIRING && ref[0]) {
        ref_set(d, it->r, it->n.key, ref, kw_now_ms());
        refs_write(d); /* before the spool entry goes: a crash must not lose the thread */
    } else if (it->n.kind == KW_NOTIFY_RESOLVED) {
        struct ref *e = (struct ref *)htab_find(&d->refs, it->r, it->n.key);
        if (e) {
            ref_unlink(d, e);
            htab_del(&d->refs, &e->h);
            free(e);
            if (!d->refs_dirty)
                d->refs_flush_ms = kw_mono_ms() + REFS_FLUSH_MS;
            d->refs_dirty = true;
        }
    }
    if (rs->retry_c.interval_ms) {
        kw_info(rs->component, "delivering again");
        memset(&rs->retry_c, 0, sizeof rs->retry_c);
    }
    kw_debug(rs->component, "%s %s delivered after %d attempts", kind_name(it->n.kind), it->n.key, it->attempts);
    retire(d, it, &rs->st.sent);
}

static void retry_later(struct kw_dispatcher *d, struct item *it, const struct kw_send_outcome *out)
{
    struct rstate *rs = &d->rs[it->r];
    int64_t delay = backoff_ms(d, it->attempts);
    if (out->retry_after_ms > delay)
        delay = out->retry_after_ms;
    if (kw_now_ms() + delay - it->n.created_ms > d->cfg.max_age_ms) {
        char reason[KW_NOTIFY_REASON + 64], age[24];
        snprintf(reason, sizeof reason, "not delivered within max_age %s; last: %s",
                 kw_duration_text(d->cfg.max_age_ms, age, sizeof age), out->reason);
        dead(d, it, reason);
        return;
    }
    uint64_t suppressed;
    if (complain(&rs->retry_c, kw_mono_ms(), &suppressed))
        kw_warn(rs->component, "%s %s failed, retrying in %lld ms: %s%s", kind_name(it->n.kind), it->n.key,
                (long long)delay, out->reason, suppressed ? " (further failures logged at doubling intervals)" : "");
    pthread_mutex_lock(&d->lock);
    rs->st.retried++;
    it->next_ms = kw_mono_ms() + delay;
    it->busy = false;
    rs->in_flight--;
    d->in_flight--;
    heap_push(rs, it->lane);
    pthread_mutex_unlock(&d->lock);
}

static void finish(struct kw_dispatcher *d, struct item *it, const struct kw_send_outcome *out)
{
    it->attempts++;
    if (out->result == KW_SEND_OK)
        acknowledged(d, it, out);
    else if (out->result == KW_SEND_RETRY)
        retry_later(d, it, out);
    else
        dead(d, it, out->reason[0] ? out->reason : "permanent failure");
}

/* Set up request it->step and hand it to curl; finish it when the notifier
 * has no such step (done) or cannot prepare it (permanent). */
static void step_start(struct kw_dispatcher *d, struct item *it, bool progressed)
{
    const struct kw_receiver *rcv = &d->rcv[it->r];
    memset(&it->req, 0, sizeof it->req);
    it->req.easy = curl_easy_init();
    kw_http_easy_defaults(it->req.easy, d->cfg.connect_timeout_ms, d->cfg.timeout_ms);
    char err[KW_ERR_LEN] = "";
    int ready = rcv->type->prepare(rcv->cfg, &it->n, it->step, &it->req, err, sizeof err);
    if (ready <= 0) {
        kw_request_release(&it->req);
        curl_easy_cleanup(it->req.easy);
        it->req.easy = NULL;
        struct kw_send_outcome out = {.result = ready < 0 ? KW_SEND_ERROR : KW_SEND_OK};
        if (ready < 0)
            snprintf(out.reason, sizeof out.reason, "%s", err[0] ? err : "cannot be rendered");
        else
            snprintf(out.ref, sizeof out.ref, "%s", it->last_ref[0] ? it->last_ref : it->n.ref);
        finish(d, it, &out);
        return;
    }
    if (progressed) /* a restart resumes here instead of repeating the steps that were acknowledged */
        spool_write(d, it);
    it->cap = xmalloc(sizeof *it->cap);
    kw_http_capture_attach(it->req.easy, it->cap);
    curl_easy_setopt(it->req.easy, CURLOPT_PRIVATE, (void *)it);
    curl_multi_add_handle(d->multi, it->req.easy);
}

static void transfer_end(struct kw_dispatcher *d, struct item *it)
{
    curl_multi_remove_handle(d->multi, it->req.easy);
    kw_request_release(&it->req);
    curl_easy_cleanup(it->req.easy);
    it->req.easy = NULL;
    free(it->cap);
    it->cap = NULL;
}

static void transfer_done(struct kw_dispatcher *d, struct item *it, CURLcode code)
{
    const struct kw_receiver *rcv = &d->rcv[it->r];
    struct kw_response resp;
    kw_http_capture_response(it->req.easy, code, it->cap, &resp);
    struct kw_send_outcome out = {0};
    rcv->type->classify(rcv->cfg, &it->n, it->step, &it->req, &resp, &out);
    kw_debug(d->rs[it->r].component, "%s %s step %d: %s (%s)", kind_name(it->n.kind), it->n.key, it->step,
             out.result == KW_SEND_OK ? "ok" : out.result == KW_SEND_RETRY ? "retry" : "failed", out.reason);
    transfer_end(d, it);
    if (out.result != KW_SEND_OK) {
        finish(d, it, &out);
        return;
    }
    if (out.ref[0]) {
        snprintf(it->last_ref, sizeof it->last_ref, "%s", out.ref);
        if (!it->n.ref[0])
            snprintf(it->n.ref, sizeof it->n.ref, "%s", out.ref);
    }
    it->step++;
    step_start(d, it, true);
}

static void begin(struct kw_dispatcher *d, struct item *it)
{
    if (it->expire) {
        char reason[96], age[24];
        snprintf(reason, sizeof reason, "not delivered within max_age %s",
                 kw_duration_text(d->cfg.max_age_ms, age, sizeof age));
        dead(d, it, reason);
        return;
    }
    if (!it->n.ref[0]) {
        const struct ref *e = (const struct ref *)htab_find(&d->refs, it->r, it->n.key);
        if (e)
            snprintf(it->n.ref, sizeof it->n.ref, "%s", e->ref);
    }
    const struct kw_receiver *rcv = &d->rcv[it->r];
    if (rcv->type->send) {
        struct kw_send_outcome out = {0};
        rcv->type->send(rcv->cfg, &it->n, &out);
        finish(d, it, &out);
        return;
    }
    step_start(d, it, false);
}

static void *run(void *arg)
{
    struct kw_dispatcher *d = arg;
    for (;;) {
        int64_t now = kw_mono_ms(), wake = now + POLL_MAX_MS;
        pthread_mutex_lock(&d->lock);
        bool stop = d->stopping && (d->count == 0 || now >= d->deadline_ms);
        struct item *list = stop ? NULL : pick(d, now, &wake);
        if (d->stopping && d->deadline_ms < wake)
            wake = d->deadline_ms;
        pthread_mutex_unlock(&d->lock);
        if (stop)
            break;
        bool progress = list != NULL;
        for (struct item *it = list, *next; it; it = next) {
            next = it->pick_next;
            begin(d, it);
        }
        int running;
        curl_multi_perform(d->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(d->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURLcode code = msg->data.result; /* msg dies with remove_handle */
            void *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            transfer_done(d, priv, code);
            progress = true;
        }
        if (d->refs_dirty && kw_mono_ms() >= d->refs_flush_ms)
            refs_write(d);
        int64_t timeout = progress ? 0 : wake - kw_mono_ms();
        if (d->refs_dirty && d->refs_flush_ms - kw_mono_ms() < timeout)
            timeout = d->refs_flush_ms - kw_mono_ms();
        timeout = timeout < 0 ? 0 : timeout > POLL_MAX_MS ? POLL_MAX_MS : timeout;
        curl_multi_poll(d->multi, NULL, 0, (int)timeout, NULL);
    }
    /* Abort what is in flight; it stays in the spool. */
    pthread_mutex_lock(&d->lock);
    for (struct item *it = d->first; it; it = it->next)
        if (it->busy && it->req.easy)
            transfer_end(d, it);
    pthread_mutex_unlock(&d->lock);
    if (d->refs_dirty)
        refs_write(d);
    return NULL;
}

/* ---- public --------------------------------------------------------------- */

/* Under lock: queue it, making room by dropping the oldest waiting UPDATE.
 * Returns an item the caller must unlink and free (dropped), or NULL; sets
 * *over when the bound is exceeded instead. */
static struct item *admit(struct kw_dispatcher *d, struct item *it, bool *over)
{
    struct item *victim = NULL;
    *over = false;
    d->rs[it->r].st.queued++;
    if (d->count >= (size_t)d->cfg.queue_max) {
        for (victim = d->first; victim; victim = victim->next)
            if (!victim->busy && victim->n.kind == KW_NOTIFY_UPDATE)
                break;
        if (victim) {
            dequeue(d, victim);
        } else if (it->n.kind == KW_NOTIFY_UPDATE) {
            d->rs[it->r].st.dropped++; /* it is the oldest update there is */
            return it;
        } else {
            *over = true;
        }
        if (victim)
            d->rs[victim->r].st.dropped++;
    }
    enqueue(d, it);
    return victim;
}

/* Log a full queue at doubling intervals (under lock for the complaints). */
static void admit_log(struct kw_dispatcher *d, const struct item *victim, bool over)
{
    uint64_t suppressed;
    if (victim && complain(&d->drop_c, kw_mono_ms(), &suppressed))
        kw_warn(d->rs[victim->r].component, "queue full (queue_max %d): dropped the oldest update %s%s",
                d->cfg.queue_max, victim->n.key, suppressed ? " (and more since the last report)" : "");
    if (over && complain(&d->over_c, kw_mono_ms(), &suppressed))
        kw_warn("dispatcher", "queue over its bound (queue_max %d, holding %zu): firing and resolved "
                "notifications are never dropped", d->cfg.queue_max, d->count);
}

/* Restore the spool in seq order (before the thread starts). */
static void spool_restore(struct kw_dispatcher *d)
{
    DIR *dir = opendir(d->spool_dir);
    if (!dir)
        return;
    struct item **found = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        const char *name = e->d_name;
        size_t len = strlen(name);
        if (len > 4 && strcmp(name + len - 4, ".tmp") == 0) { /* a write cut short */
            char *p = path_join(d->spool_dir, name);
            unlink(p);
            free(p);
            continue;
        }
        if (name[0] == '.' || len < 6 || len >= sizeof found[0]->spool || strcmp(name + len - 5, ".json") != 0)
            continue;
        char *p = path_join(d->spool_dir, name), err[KW_ERR_LEN] = "";
        char *text = kw_read_file(p, SPOOL_MAX_BYTES, NULL, err, sizeof err);
        free(p);
        if (!text && !err[0]) /* gone since the listing */
            continue;
        cJSON *json = text ? cJSON_Parse(text) : NULL;
        free(text);
        struct item *it = xcalloc(1, sizeof *it);
        if (!err[0] && !json)
            snprintf(err, sizeof err, "not valid JSON");
        if (err[0] || notification_load(json, it, err, sizeof err)) {
            spool_move_aside(d, name, err);
            item_free(it);
        } else {
            snprintf(it->spool, sizeof it->spool, "%s", name);
            if (n == cap)
                found = xrealloc(found, (cap = cap ? cap * 2 : 64) * sizeof *found);
            found[n++] = it;
        }
        cJSON_Delete(json);
        uint64_t name_seq = strtoull(name, NULL, 10); /* never reuse a name */
        if (name_seq >= d->next_seq)
            d->next_seq = name_seq + 1;
    }
    closedir(dir);
    /* insertion sort by seq: the spool is usually small and nearly sorted */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && found[j - 1]->seq > found[j]->seq; j--) {
            struct item *t = found[j];
            found[j] = found[j - 1];
            found[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        struct item *it = found[i];
        if (it->seq >= d->next_seq)
            d->next_seq = it->seq + 1;
        it->r = receiver_index(d, it->n.receiver);
        if (it->r < 0) {
            char reason[128];
            snprintf(reason, sizeof reason, "receiver \"%s\" is no longer configured or is off", it->n.receiver);
            kw_warn("dispatcher", "spooled %s notification %s: %s; moved to the dead-letter file",
                    kind_name(it->n.kind), it->n.key, reason);
            dead_letter_append(d, it, reason);
            spool_unlink(d, it);
            item_free(it);
            continue;
        }
        bool over;
        struct item *victim = admit(d, it, &over);
        admit_log(d, victim, over);
        spool_unlink(d, victim);
        item_free(victim);
    }
    if (n)
        kw_info("dispatcher", "restored %zu undelivered notifications from %s", d->count, d->spool_dir);
    free(found);
}

static void dispatcher_free(struct kw_dispatcher *d)
{
    for (struct item *it = d->first, *next; it; it = next) {
        next = it->next;
        item_free(it);
    }
    for (size_t i = 0; i < d->lanes.nb; i++)
        for (struct hent *e = d->lanes.b[i], *next; e; e = next) {
            next = e->hnext;
            free(e);
        }
    free(d->lanes.b);
    for (struct ref *e = d->oldest_ref, *next; e; e = next) {
        next = e->newer;
        free(e);
    }
    free(d->refs.b);
    for (int r = 0; d->rs && r < d->nr; r++)
        free(d->rs[r].heap);
    free(d->rs);
    if (d->multi)
        curl_multi_cleanup(d->multi);
    pthread_mutex_destroy(&d->lock);
    pthread_mutex_destroy(&d->submit_lock);
    free(d->state_dir);
    free(d->spool_dir);
    free(d);
    curl_global_cleanup();
}

struct kw_dispatcher *kw_dispatcher_start(const struct kw_delivery_config *cfg, const struct kw_receiver *receivers,
                                          int n, const char *state_dir, char *err, size_t errlen)
{
    if (cfg->queue_max < 1 || cfg->max_in_flight < 1 || cfg->max_age_ms < 1 || cfg->backoff_initial_ms < 1 ||
        cfg->backoff_max_ms < cfg->backoff_initial_ms || cfg->connect_timeout_ms < 1 || cfg->timeout_ms < 1) {
        snprintf(err, errlen, "delivery: queue_max, max_in_flight, max_age and the timeouts must be positive, "
                 "backoff_max at least backoff_initial");
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "delivery: libcurl cannot be initialised");
        return NULL;
    }
    struct kw_dispatcher *d = xcalloc(1, sizeof *d);
    d->cfg = *cfg;
    d->rcv = receivers;
    d->nr = n > 0 ? n : 0;
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->submit_lock, NULL);
    d->rs = xcalloc((size_t)(d->nr ? d->nr : 1), sizeof *d->rs);
    int64_t now = kw_mono_ms();
    for (int r = 0; r < d->nr; r++) {
        snprintf(d->rs[r].component, sizeof d->rs[r].component, "%s/%s", receivers[r].type->name, receivers[r].name);
        d->rs[r].tokens = receivers[r].burst > 0 ? receivers[r].burst : 1;
        d->rs[r].tokens_ms = now;
    }
    d->rng = (uint64_t)kw_now_ms() ^ ((uint64_t)now << 21) ^ (uint64_t)(uintptr_t)d ^ ((uint64_t)getpid() << 40);
    d->multi = curl_multi_init();
    curl_multi_setopt(d->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->max_in_flight);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)(cfg->max_in_flight + d->nr));
    if (state_dir) {
        d->state_dir = xstrdup(state_dir);
        d->spool_dir = path_join(state_dir, "spool");
        if (mkdir_if_missing(d->state_dir) || mkdir_if_missing(d->spool_dir)) {
            snprintf(err, errlen, "delivery: cannot create %s: %s", d->spool_dir, strerror(errno));
            dispatcher_free(d);
            return NULL;
        }
        refs_load(d);
        spool_restore(d);
    }
    int rc = pthread_create(&d->thread, NULL, run, d);
    if (rc != 0) {
        snprintf(err, errlen, "delivery: cannot start the dispatcher thread: %s", strerror(rc));
        dispatcher_free(d);
        return NULL;
    }
    return d;
}

void kw_dispatcher_submit(struct kw_dispatcher *d, int r, struct kw_notification *n)
{
    if (r < 0 || r >= d->nr || n->nalerts < 1 || n->nalerts > SPOOL_MAX_ALERTS || !n->alerts || n->kind < 0 ||
        n->kind > KW_NOTIFY_RESOLVED) {
        kw_error("dispatcher", "rejected notification %s: receiver %d, kind %d, %zu alerts", n->key, r, n->kind,
                 n->nalerts);
        kw_notification_release(n);
        return;
    }
    struct item *it = xcalloc(1, sizeof *it);
    it->n = *n;
    memset(n, 0, sizeof *n);
    it->r = r;
    snprintf(it->n.receiver, sizeof it->n.receiver, "%s", d->rcv[r].name);
    if (!it->n.created_ms)
        it->n.created_ms = kw_now_ms();
    pthread_mutex_lock(&d->submit_lock);
    it->seq = d->next_seq++;
    spool_write(d, it);
    pthread_mutex_lock(&d->lock);
    bool over;
    struct item *victim = admit(d, it, &over);
    admit_log(d, victim, over);
    pthread_mutex_unlock(&d->lock);
    pthread_mutex_unlock(&d->submit_lock);
    if (victim) { /* waiting, so the thread does not touch it */
        spool_unlink(d, victim);
        item_free(victim);
    }
    curl_multi_wakeup(d->multi);
}

void kw_dispatcher_stop(struct kw_dispatcher *d, int64_t drain_ms)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = true;
    d->deadline_ms = kw_mono_ms() + (drain_ms > 0 ? drain_ms : 0);
    size_t left = d->count;
    pthread_mutex_unlock(&d->lock);
    curl_multi_wakeup(d->multi);
    pthread_join(d->thread, NULL);
    pthread_mutex_lock(&d->lock);
    left = d->count;
    pthread_mutex_unlock(&d->lock);
    if (left)
        kw_info("dispatcher", "stopped with %zu notifications undelivered%s", left,
                d->spool_dir ? " (kept in the spool)" : "");
    dispatcher_free(d);
}

void kw_dispatcher_stats(struct kw_dispatcher *d, int r, struct kw_receiver_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!d || r < 0 || r >= d->nr)
        return;
    int64_t now = kw_now_ms();
    pthread_mutex_lock(&d->lock);
    *out = d->rs[r].st;
    if (d->rs[r].first) { /* the first submitted: the oldest but for callers' own created_ms */
        int64_t age = now - d->rs[r].first->n.created_ms;
        out->oldest_ms = age > 0 ? age : 1;
    }
    pthread_mutex_unlock(&d->lock);
}

void kw_notify_send_now(const struct kw_receiver *r, const struct kw_notification *n,
                        const struct kw_delivery_config *cfg, struct kw_send_outcome *out)
{
    char component[96];
    snprintf(component, sizeof component, "%s/%s", r->type->name, r->name);
    memset(out, 0, sizeof *out);
    if (r->type->send) {
        r->type->send(r->cfg, n, out);
        return;
    }
    struct kw_notification cur;
    kw_notification_copy(&cur, n);
    for (int step = 0;; step++) {
        struct kw_request req = {0};
        req.easy = curl_easy_init();
        kw_http_easy_defaults(req.easy, cfg->connect_timeout_ms, cfg->timeout_ms);
        char err[KW_ERR_LEN] = "";
        int ready = r->type->prepare(r->cfg, &cur, step, &req, err, sizeof err);
        if (ready <= 0) {
            if (ready < 0) {
                out->result = KW_SEND_ERROR;
                snprintf(out->reason, sizeof out->reason, "%s", err);
            }
            kw_request_release(&req);
            curl_easy_cleanup(req.easy);
            break;
        }
        struct kw_http_capture *cap = xmalloc(sizeof *cap);
        kw_http_capture_attach(req.easy, cap);
        CURLcode code = curl_easy_perform(req.easy);
        struct kw_response resp;
        kw_http_capture_response(req.easy, code, cap, &resp);
        struct kw_send_outcome step_out = {0};
        r->type->classify(r->cfg, &cur, step, &req, &resp, &step_out);
        kw_info(component, "step %d: %s (%s)", step,
                step_out.result == KW_SEND_OK ? "ok" : step_out.result == KW_SEND_RETRY ? "retry" : "failed",
                step_out.reason);
        *out = step_out;
        if (step_out.result == KW_SEND_OK && step_out.ref[0] && !cur.ref[0])
            snprintf(cur.ref, sizeof cur.ref, "%s", step_out.ref);
        free(cap);
        kw_request_release(&req);
        curl_easy_cleanup(req.easy);
        if (step_out.result != KW_SEND_OK)
            break;
    }
    if (out->result == KW_SEND_OK && !out->ref[0])
        snprintf(out->ref, sizeof out->ref, "%s", cur.ref);
    kw_notification_release(&cur);
}
