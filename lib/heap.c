/* heap: array-backed binary min-heap with position callbacks. */
#include "heap.h"

#include <stdlib.h>

#include "xmalloc.h"

void kw_heap_init(struct kw_heap *h, void (*moved)(void *item, size_t pos))
{
    h->e = NULL;
    h->n = h->cap = 0;
    h->moved = moved;
}

void kw_heap_release(struct kw_heap *h)
{
    free(h->e);
    h->e = NULL;
    h->n = h->cap = 0;
}

static void place(struct kw_heap *h, size_t pos, struct kw_heap_entry e)
{
    h->e[pos] = e;
    h->moved(e.item, pos);
}

static void sift_up(struct kw_heap *h, size_t pos)
{
    struct kw_heap_entry e = h->e[pos];
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (h->e[parent].key <= e.key)
            break;
        place(h, pos, h->e[parent]);
        pos = parent;
    }
    place(h, pos, e);
}

static void sift_down(struct kw_heap *h, size_t pos)
{
    struct kw_heap_entry e = h->e[pos];
    for (;;) {
        size_t child = 2 * pos + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->e[child + 1].key < h->e[child].key)
            child++;
        if (e.key <= h->e[child].key)
            break;
        place(h, pos, h->e[child]);
        pos = child;
    }
    place(h, pos, e);
}

void kw_heap_push(struct kw_heap *h, int64_t key, void *item)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->e = xrealloc(h->e, h->cap * sizeof *h->e);
    }
    h->e[h->n] = (struct kw_heap_entry){key, item};
    sift_up(h, h->n++);
}

void kw_heap_remove(struct kw_heap *h, size_t pos)
{
    void *gone = h->e[pos].item;
    struct kw_heap_entry last = h->e[--h->n];
    if (pos < h->n) {
        int64_t old = h->e[pos].key;
        h->e[pos] = last;
        if (last.key < old)
            sift_up(h, pos);
        else
            sift_down(h, pos);
    }
    h->moved(gone, KW_HEAP_NONE);
}

void kw_heap_update(struct kw_heap *h, size_t pos, int64_t key)
{
    int64_t old = h->e[pos].key;
    h->e[pos].key = key;
    if (key < old)
        sift_up(h, pos);
    else
        sift_down(h, pos);
}
