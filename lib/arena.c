/* arena: blocks chained newest first; a reset merges them into one. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

#include "xmalloc.h"

#define MIN_BLOCK (64 * 1024)

struct kw_arena_block {
    struct kw_arena_block *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
};

static struct kw_arena_block *block_new(size_t cap, struct kw_arena_block *next)
{
    struct kw_arena_block *b = xmalloc(sizeof *b + cap);
    b->next = next;
    b->cap = cap;
    b->used = 0;
    return b;
}

void *kw_arena_alloc(struct kw_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct kw_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = b ? b->cap * 2 : MIN_BLOCK;
        while (cap < n)
            cap *= 2;
        a->head = b = block_new(cap, b);
    }
    void *p = b->data + b->used;
    b->used += n;
    a->grown += n;
    return p;
}

bool kw_arena_owns(const struct kw_arena *a, const void *p)
{
    uintptr_t x = (uintptr_t)p;
    for (const struct kw_arena_block *b = a->head; b; b = b->next)
        if (x >= (uintptr_t)b->data && x < (uintptr_t)b->data + b->cap)
            return true;
    return false;
}

void kw_arena_reset(struct kw_arena *a)
{
    struct kw_arena_block *b = a->head;
    if (b && b->next) { /* several blocks: one of their total size from now on */
        size_t total = 0;
        while (b) {
            struct kw_arena_block *next = b->next;
            total += b->cap;
            free(b);
            b = next;
        }
        a->head = block_new(total, NULL);
    } else if (b) {
        b->used = 0;
    }
    a->grown = 0;
}

void kw_arena_release(struct kw_arena *a)
{
    struct kw_arena_block *b = a->head;
    while (b) {
        struct kw_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->grown = 0;
}
