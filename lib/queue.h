/* queue: a bounded FIFO of fixed-size values between two threads. push
 * blocks while the queue is full (back-pressure on the producer, never a
 * silent drop); pop waits up to a timeout. Closing wakes everyone: pushes
 * then fail and pops drain what is left. */
#ifndef KW_QUEUE_H
#define KW_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kw_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    unsigned char *items;
    size_t item_size, cap, head, count;
    bool closed;
    uint64_t pushed, popped, full_waits; /* counters, read under the lock */
    size_t high_water;
};

/* Set up an empty queue of cap values of item_size bytes. Never fails. */
void kw_queue_init(struct kw_queue *q, size_t item_size, size_t cap);
/* Free the queue's storage; no thread may use it any more. */
void kw_queue_release(struct kw_queue *q);
/* Copy item in; waits while the queue is full. Returns 0, or -1 when the
 * queue is closed (item not queued). */
int kw_queue_push(struct kw_queue *q, const void *item);
/* Copy item in when there is room. Returns 0, or -1 when the queue is full
 * or closed (item not queued). Never waits. */
int kw_queue_try_push(struct kw_queue *q, const void *item);
/* Copy the oldest value out. Waits up to timeout_ms (< 0: forever).
 * Returns 1 when a value was taken, 0 on timeout, -1 when the queue is
 * closed and empty. */
int kw_queue_pop(struct kw_queue *q, void *item, int timeout_ms);
/* Refuse further pushes and wake every waiter. */
void kw_queue_close(struct kw_queue *q);
/* Values waiting now. */
size_t kw_queue_depth(struct kw_queue *q);

#endif
