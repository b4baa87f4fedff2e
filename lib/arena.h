/* arena: a bump allocator for short-lived trees (one parsed message):
 * allocation is a pointer bump, freeing one piece is nothing, and a reset
 * frees everything at once while keeping the memory for the next use. */
#ifndef KW_ARENA_H
#define KW_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct kw_arena_block;

struct kw_arena {
    struct kw_arena_block *head; /* the block being filled; older ones behind it */
    size_t grown;                /* bytes of the blocks used since the last reset */
};

/* n bytes, 16-byte aligned. Never fails (grows by a new block). */
void *kw_arena_alloc(struct kw_arena *a, size_t n);
/* Does p point into memory of a? */
bool kw_arena_owns(const struct kw_arena *a, const void *p);
/* Forget every allocation; keep one block big enough for what was used. */
void kw_arena_reset(struct kw_arena *a);
/* Free all memory. Safe on a zeroed arena. */
void kw_arena_release(struct kw_arena *a);

#endif
