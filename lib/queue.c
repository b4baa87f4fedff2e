/* queue: bounded blocking FIFO (mutex + two condition variables). */
#include "queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xmalloc.h"

void kw_queue_init(struct kw_queue *q, size_t item_size, size_t cap)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &attr);
    pthread_cond_init(&q->not_full, &attr);
    pthread_condattr_destroy(&attr);
    q->item_size = item_size;
    q->cap = cap ? cap : 1;
    q->items = xcalloc(q->cap, item_size);
}

void kw_queue_release(struct kw_queue *q)
{
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->items);
    q->items = NULL;
}

int kw_queue_push(struct kw_queue *q, const void *item)
{
    pthread_mutex_lock(&q->lock);
    if (q->count == q->cap && !q->closed)
        q->full_waits++;
    while (q->count == q->cap && !q->closed)
        pthread_cond_wait(&q->not_full, &q->lock);
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return -1;
    }
    size_t tail = (q->head + q->count) % q->cap;
    memcpy(q->items + tail * q->item_size, item, q->item_size);
    q->count++;
    q->pushed++;
    if (q->count > q->high_water)
        q->high_water = q->count;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

int kw_queue_try_push(struct kw_queue *q, const void *item)
{
    pthread_mutex_lock(&q->lock);
    if (q->closed || q->count == q->cap) {
        pthread_mutex_unlock(&q->lock);
        return -1;
    }
    size_t tail = (q->head + q->count) % q->cap;
    memcpy(q->items + tail * q->item_size, item, q->item_size);
    q->count++;
    q->pushed++;
    if (q->count > q->high_water)
        q->high_water = q->count;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

int kw_queue_pop(struct kw_queue *q, void *item, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed && timeout_ms != 0) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&q->not_empty, &q->lock)
                                : pthread_cond_timedwait(&q->not_empty, &q->lock, &deadline);
        if (rc == ETIMEDOUT)
            break;
    }
    int got;
    if (q->count > 0) {
        memcpy(item, q->items + q->head * q->item_size, q->item_size);
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->popped++;
        pthread_cond_signal(&q->not_full);
        got = 1;
    } else {
        got = q->closed ? -1 : 0;
    }
    pthread_mutex_unlock(&q->lock);
    return got;
}

void kw_queue_close(struct kw_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

size_t kw_queue_depth(struct kw_queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}
