/* ostree: an order-statistics treap over the slots 0..capacity-1 of a
 * caller's array of double keys, ordered by (key, slot) so equal keys stay
 * distinct: insert, erase, k-th smallest, rank and (optionally) sums of the
 * k smallest, all O(log n) expected. Sliding-window detectors keep their
 * window in the key array and the order of its values here. */
#ifndef KW_OSTREE_H
#define KW_OSTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A node's priority is a fixed bijective hash of its slot, so the shape
 * depends only on the set of (key, slot) pairs in the tree, never on the
 * order of past updates. Subtree sums are always recomputed from the
 * children as (sum[left] + key) + sum[right], so the same set gives
 * bit-identical sums however it was reached (e.g. rebuilt from a saved
 * window). Memory: 12 bytes a slot, 20 with sums, plus 4. */
struct kw_ostree {
    const double *key; /* borrowed: key[slot], owned by the caller */
    int32_t *link;     /* one block: left[capacity], right[capacity], then
                        * subtree sizes [-1..capacity) (size of -1, no child, is 0) */
    double *sum;       /* [capacity] subtree sums; NULL when not kept */
    int32_t root;      /* -1 when empty */
    int32_t capacity;
};

/* Set up an empty tree for slots 0..capacity-1 (capacity >= 1) ordered by
 * keys[slot]. keys is borrowed: it must outlive the tree and must not move.
 * with_sums keeps subtree sums (8 more bytes a slot) for
 * kw_ostree_sum_smallest and kw_ostree_sum. Never fails (aborts on
 * out-of-memory); release with kw_ostree_release. */
void kw_ostree_init(struct kw_ostree *t, int capacity, const double *keys, bool with_sums);
/* Free the tree's arrays (not the keys); the tree is left empty with
 * capacity 0. Safe on a zeroed or released tree. */
void kw_ostree_release(struct kw_ostree *t);
/* Empty the tree, O(1). Never fails. */
void kw_ostree_clear(struct kw_ostree *t);

/* Insert slot (0 <= slot < capacity, not already in the tree) under its
 * current key, which must not be NAN and must not change while the slot is
 * in the tree. Never fails. */
void kw_ostree_insert(struct kw_ostree *t, int slot);
/* Remove slot; its key must still be the one it was inserted under. Returns
 * false, leaving the tree unchanged, when the slot is not found. */
bool kw_ostree_erase(struct kw_ostree *t, int slot);

/* Number of slots in the tree. Never fails. */
int kw_ostree_count(const struct kw_ostree *t);
/* The slot holding the k-th smallest key (0-based), or -1 when k is not in
 * [0, count). Ties are ordered by slot. */
int kw_ostree_select(const struct kw_ostree *t, int k);
/* The k-th smallest key (0-based), or NAN when k is not in [0, count). */
double kw_ostree_kth(const struct kw_ostree *t, int k);
/* Number of keys < x, or <= x when or_equal. Never fails. */
int kw_ostree_rank(const struct kw_ostree *t, double x, bool or_equal);
/* Write the keys in ascending order to out (room for count keys); returns
 * the count. Never fails. */
int kw_ostree_sorted(const struct kw_ostree *t, double *out);

/* Sum of the k smallest keys (all of them when k >= count, 0 when k <= 0),
 * added in tree order: bit-identical for the same set of (key, slot), but
 * not always equal to adding the sorted keys one by one. NAN for a tree
 * made without sums. */
double kw_ostree_sum_smallest(const struct kw_ostree *t, int k);
/* Sum of all keys (0 when empty), in tree order. NAN for a tree made
 * without sums. */
double kw_ostree_sum(const struct kw_ostree *t);

/* Heap bytes the tree owns (not the keys, not the struct). Never fails. */
size_t kw_ostree_bytes(const struct kw_ostree *t);

#endif
