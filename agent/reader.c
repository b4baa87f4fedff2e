/* reader: the receive thread and the byte-bounded batch queue behind it. */
#include "reader.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <zmq.h>

#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"

/* Room for the largest valid point (32 labels of two 255-byte strings)
 * many times over; small enough that a quiet stream's batch is cheap. */
#define BATCH_BYTES (64 * 1024)
#define FREE_BATCHES 8
#define RECEIVE_BURST 1000    /* messages per socket before the others get a turn */
#define FINAL_BURST 10000     /* on stop: what the sockets already hold, bounded */
#define HOLD_MS 1             /* longest a part-filled batch waits for more points */

struct batch {
    struct batch *next;
    size_t used;
    struct kw_ingest_stats delta; /* counters this batch brings (points_accepted unused) */
    char data[BATCH_BYTES];
};

struct kw_reader {
    const struct kw_input_set *inputs;
    const struct kw_input_config *cfg;
    int n;
    const struct kw_ingest_limits *lim;
    int64_t queue_bytes;

    /* reader thread only */
    struct batch *filling;
    struct kw_ingest_stats seen, pushed; /* cumulative, and as of the last push */
    int input;                           /* input of the message being read */

    pthread_t thread;
    int ready_fd;                        /* eventfd: batches wait */
    int wake_fd;                         /* eventfd: stop */
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t space;
    struct batch *head, *tail, *free;    /* under lock */
    int nfree;
    int64_t queued;                      /* bytes in head..tail, under lock */
    atomic_llong queued_view;            /* the same, readable without the lock */
};

/* Packed point: header, the length of each string, then the metric and
 * each label name and value, NUL-terminated, padded to 8 bytes so the next
 * header is aligned. The lengths spare the unpacking side a strlen each. */
struct packed {
    double value;
    int64_t ts_ms;
    uint32_t size;   /* whole record, padding included */
    uint16_t input;
    uint16_t nlabels;
};

int kw_reader_pack(char *buf, size_t cap, size_t *used, const struct kw_point *pt, int input)
{
    uint16_t len[1 + 2 * KW_MAX_LABELS];
    int n = 1 + 2 * pt->nlabels;
    len[0] = (uint16_t)strlen(pt->metric);
    size_t need = sizeof(struct packed) + (size_t)n * sizeof len[0] + len[0] + 1;
    for (int i = 0; i < pt->nlabels; i++) {
        len[1 + 2 * i] = (uint16_t)strlen(pt->labels[i].name);
        len[2 + 2 * i] = (uint16_t)strlen(pt->labels[i].value);
        need += (size_t)len[1 + 2 * i] + len[2 + 2 * i] + 2;
    }
    need = (need + 7) & ~(size_t)7;
    if (*used + need > cap)
        return -1;
    char *p = buf + *used;
    struct packed h = {.value = pt->value, .ts_ms = pt->ts_ms, .size = (uint32_t)need,
                       .input = (uint16_t)input, .nlabels = (uint16_t)pt->nlabels};
    memcpy(p, &h, sizeof h);
    memcpy(p + sizeof h, len, (size_t)n * sizeof len[0]);
    char *s = p + sizeof h + (size_t)n * sizeof len[0];
    const char *str[1 + 2 * KW_MAX_LABELS];
    str[0] = pt->metric;
    for (int i = 0; i < pt->nlabels; i++) {
        str[1 + 2 * i] = pt->labels[i].name;
        str[2 + 2 * i] = pt->labels[i].value;
    }
    for (int k = 0; k < n; k++) {
        memcpy(s, str[k], len[k]);
        s[len[k]] = '\0';
        s += len[k] + 1;
    }
    memset(s, 0, (size_t)(p + need - s));
    *used += need;
    return 0;
}

int kw_reader_unpack(const char *buf, size_t *pos, struct kw_point *pt)
{
    struct packed h;
    memcpy(&h, buf + *pos, sizeof h);
    const char *lens = buf + *pos + sizeof h;
    const char *s = lens + (size_t)(1 + 2 * h.nlabels) * sizeof(uint16_t);
    uint16_t len;
    pt->metric = s;
    memcpy(&len, lens, sizeof len);
    s += len + 1;
    pt->nlabels = h.nlabels;
    for (int i = 0; i < h.nlabels; i++) {
        pt->labels[i].name = s;
        memcpy(&len, lens + (1 + 2 * i) * sizeof len, sizeof len);
        s += len + 1;
        pt->labels[i].value = s;
        memcpy(&len, lens + (2 + 2 * i) * sizeof len, sizeof len);
        s += len + 1;
    }
    pt->value = h.value;
    pt->ts_ms = h.ts_ms;
    *pos += h.size;
    return h.input;
}

static void signal_fd(int fd)
{
    uint64_t one = 1;
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

static void clear_fd(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof v) < 0 && errno == EINTR) {
    }
}

static struct batch *take_free(struct kw_reader *r)
{
    pthread_mutex_lock(&r->lock);
    struct batch *b = r->free;
    if (b) {
        r->free = b->next;
        r->nfree--;
    }
    pthread_mutex_unlock(&r->lock);
    if (!b)
        b = xmalloc(sizeof *b);
    b->next = NULL;
    b->used = 0;
    memset(&b->delta, 0, sizeof b->delta);
    return b;
}

/* Anything received but not handed over yet: points, or counters alone. */
static bool holding(const struct kw_reader *r)
{
    if (r->filling && r->filling->used)
        return true;
    if (r->seen.messages != r->pushed.messages)
        return true;
    for (int i = 0; i < KW_REJ_COUNT; i++)
        if (r->seen.rejected[i] != r->pushed.rejected[i])
            return true;
    return false;
}

/* Queue the batch being filled, with the counters changed since the last
 * push. Waits for room while the queue is full, unless stopping. */
static void push(struct kw_reader *r)
{
    struct batch *b = r->filling;
    if (!holding(r))
        return;
    if (!b)
        b = take_free(r); /* counters alone: a message with no valid point */
    b->delta.messages = r->seen.messages - r->pushed.messages;
    for (int i = 0; i < KW_REJ_COUNT; i++)
        b->delta.rejected[i] = r->seen.rejected[i] - r->pushed.rejected[i];
    r->pushed = r->seen;
    r->filling = NULL;

    pthread_mutex_lock(&r->lock);
    while (r->head && r->queued + (int64_t)sizeof *b > r->queue_bytes && !atomic_load(&r->stop))
        pthread_cond_wait(&r->space, &r->lock);
    bool was_empty = r->head == NULL;
    if (r->tail)
        r->tail->next = b;
    else
        r->head = b;
    r->tail = b;
    r->queued += (int64_t)sizeof *b;
    atomic_store(&r->queued_view, r->queued);
    pthread_mutex_unlock(&r->lock);
    if (was_empty)
        signal_fd(r->ready_fd);
}

static int pack_sink(void *ctx, const struct kw_point *pt, enum kw_reject *why)
{
    (void)why;
    struct kw_reader *r = ctx;
    if (!r->filling)
        r->filling = take_free(r);
    if (kw_reader_pack(r->filling->data, sizeof r->filling->data, &r->filling->used, pt, r->input)) {
        push(r);
        r->filling = take_free(r);
        kw_reader_pack(r->filling->data, sizeof r->filling->data, &r->filling->used, pt, r->input);
    }
    return 0;
}

static void receive(struct kw_reader *r, int i, int burst)
{
    r->input = i;
    kw_input_receive(r->inputs->sockets[i], &r->cfg[i], r->lim, &r->seen, burst, pack_sink, r);
}

static void *reader_main(void *arg)
{
    struct kw_reader *r = arg;
    zmq_pollitem_t items[66];
    int input_of[65], n = 0;
    for (int i = 0; i < r->n && i < r->inputs->n; i++) {
        if (!r->inputs->sockets[i])
            continue;
        input_of[n] = i;
        items[n++] = (zmq_pollitem_t){.socket = r->inputs->sockets[i], .events = ZMQ_POLLIN};
    }
    items[n] = (zmq_pollitem_t){.socket = NULL, .fd = r->wake_fd, .events = ZMQ_POLLIN};
    while (!atomic_load(&r->stop)) {
        /* A part-filled batch waits up to HOLD_MS for more: the pipeline
         * thread then wakes once per batch, not once per message. */
        int rc = zmq_poll(items, n + 1, holding(r) ? HOLD_MS : -1);
        if (rc < 0) {
            if (zmq_errno() == EINTR)
                continue;
            kw_error("reader", "zmq_poll: %s", zmq_strerror(zmq_errno()));
            break;
        }
        if (rc == 0) {
            push(r); /* quiet for HOLD_MS: hand over what we have */
            continue;
        }
        for (int k = 0; k < n; k++)
            if (items[k].revents & ZMQ_POLLIN)
                receive(r, input_of[k], RECEIVE_BURST);
        if (r->filling && r->filling->used >= BATCH_BYTES / 2)
            push(r);
    }
    for (int k = 0; k < n; k++)
        receive(r, input_of[k], FINAL_BURST);
    push(r);
    kw_ingest_thread_end();
    return NULL;
}

struct kw_reader *kw_reader_start(const struct kw_input_set *inputs, const struct kw_input_config *cfg, int n,
                                  const struct kw_ingest_limits *lim, int64_t queue_bytes, char *err,
                                  size_t errlen)
{
    struct kw_reader *r = xcalloc(1, sizeof *r);
    r->inputs = inputs;
    r->cfg = cfg;
    r->n = n;
    r->lim = lim;
    /* at least two batches, so the reader can fill one while one waits */
    r->queue_bytes = queue_bytes > 2 * (int64_t)sizeof(struct batch) ? queue_bytes : 2 * (int64_t)sizeof(struct batch);
    r->ready_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->space, NULL);
    int rc = r->ready_fd < 0 || r->wake_fd < 0 ? errno : pthread_create(&r->thread, NULL, reader_main, r);
    if (rc) {
        snprintf(err, errlen, "the receive thread did not start: %s", strerror(rc));
        if (r->ready_fd >= 0)
            close(r->ready_fd);
        if (r->wake_fd >= 0)
            close(r->wake_fd);
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->space);
        free(r);
        return NULL;
    }
    return r;
}

int kw_reader_fd(const struct kw_reader *r)
{
    return r->ready_fd;
}

int64_t kw_reader_queued_bytes(const struct kw_reader *r)
{
    return r ? (int64_t)atomic_load(&((struct kw_reader *)r)->queued_view) : 0;
}

static void add_counts(struct kw_ingest_stats *stats, const struct kw_ingest_stats *delta)
{
    stats->messages += delta->messages;
    for (int i = 0; i < KW_REJ_COUNT; i++)
        stats->rejected[i] += delta->rejected[i];
}

size_t kw_reader_drain(struct kw_reader *r, struct kw_ingest_stats *stats, kw_point_sink sink, void *ctx)
{
    /* Clear the signal before taking the list: a batch pushed after the
     * take finds the queue empty and signals again. */
    clear_fd(r->ready_fd);
    pthread_mutex_lock(&r->lock);
    struct batch *b = r->head;
    r->head = r->tail = NULL;
    r->queued = 0;
    atomic_store(&r->queued_view, 0);
    pthread_cond_signal(&r->space);
    pthread_mutex_unlock(&r->lock);

    size_t points = 0;
    while (b) {
        add_counts(stats, &b->delta);
        for (size_t pos = 0; pos < b->used;) {
            struct kw_point pt;
            int input = kw_reader_unpack(b->data, &pos, &pt);
            enum kw_reject why;
            if (sink(ctx, &pt, &why)) {
                char detail[200];
                snprintf(detail, sizeof detail, "%s point refused by the aggregator", pt.metric);
                kw_ingest_reject(stats, input < r->n ? r->cfg[input].name : "input", why, detail);
            } else {
                stats->points_accepted++;
            }
            points++;
        }
        struct batch *next = b->next;
        pthread_mutex_lock(&r->lock);
        if (r->nfree < FREE_BATCHES) {
            b->next = r->free;
            r->free = b;
            r->nfree++;
            b = NULL;
        }
        pthread_mutex_unlock(&r->lock);
        free(b);
        b = next;
    }
    return points;
}

void kw_reader_stop(struct kw_reader *r, struct kw_ingest_stats *stats, kw_point_sink sink, void *ctx)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->stop, true);
    pthread_cond_broadcast(&r->space);
    pthread_mutex_unlock(&r->lock);
    signal_fd(r->wake_fd);
    pthread_join(r->thread, NULL);
    kw_reader_drain(r, stats, sink, ctx);
    while (r->free) {
        struct batch *b = r->free;
        r->free = b->next;
        free(b);
    }
    free(r->filling);
    close(r->ready_fd);
    close(r->wake_fd);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->space);
    free(r);
}
