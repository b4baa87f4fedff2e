/* heap: a binary min-heap of (key, item) with each item's position kept
 * up to date through a callback, so an item can be re-keyed or removed in
 * O(log n) without a search. Used as a timer queue keyed by due time. */
#ifndef KW_HEAP_H
#define KW_HEAP_H

#include <stddef.h>
#include <stdint.h>

/* The position of an item not in a heap. Positions fit in 32 bits, so an
 * item may keep its own in a uint32_t. */
#define KW_HEAP_NONE ((size_t)UINT32_MAX)

struct kw_heap_entry {
    int64_t key;
    void *item;
};

struct kw_heap {
    struct kw_heap_entry *e;
    size_t n, cap;
    /* told every item's new position (KW_HEAP_NONE when it leaves) */
    void (*moved)(void *item, size_t pos);
};

/* An empty heap. Never fails. */
void kw_heap_init(struct kw_heap *h, void (*moved)(void *item, size_t pos));
void kw_heap_release(struct kw_heap *h);
/* Add item with key. Never fails. */
void kw_heap_push(struct kw_heap *h, int64_t key, void *item);
/* The smallest entry, or NULL when empty. */
static inline const struct kw_heap_entry *kw_heap_top(const struct kw_heap *h)
{
    return h->n ? &h->e[0] : NULL;
}
/* Remove the entry at pos (as told by moved). */
void kw_heap_remove(struct kw_heap *h, size_t pos);
/* Give the entry at pos a new key. */
void kw_heap_update(struct kw_heap *h, size_t pos, int64_t key);

#endif
