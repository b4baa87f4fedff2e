/* ostree: order-statistics treap with fixed slot priorities and optional
 * subtree sums; see ostree.h for why the shape and the sums are canonical. */
#include "ostree.h"

#include <math.h>
#include <stdlib.h>

#include "xmalloc.h"

/* The arrays of a tree, taken apart once per call rather than once a level.
 * size[-1] is 0, so "no child" (-1) needs no branch in size arithmetic. */
struct view {
    const double *key;
    int32_t *left, *right, *size;
    double *sum;
};

static struct view view_of(const struct kw_ostree *t)
{
    int32_t *link = t->link;
    size_t cap = (size_t)t->capacity;
    return (struct view){t->key, link, link + cap, link + 2 * cap + 1, t->sum};
}

/* murmur3 finaliser: a bijection on 32 bits, so priorities never tie. */
static inline uint32_t slot_priority(int32_t slot)
{
    uint32_t x = (uint32_t)slot;
    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    return x;
}

static inline bool key_less(const struct view *v, int32_t a, int32_t b)
{
    return v->key[a] < v->key[b] || (v->key[a] == v->key[b] && a < b);
}

/* Recompute x's sum from its children. The grouping is part of the
 * contract (ostree.h): never update a sum incrementally. */
static inline void pull_sum(const struct view *v, int32_t x)
{
    int32_t l = v->left[x], r = v->right[x];
    v->sum[x] = ((l >= 0 ? v->sum[l] : 0.0) + v->key[x]) + (r >= 0 ? v->sum[r] : 0.0);
}

/* After an insert or erase of slot, the nodes whose subtrees changed lie on
 * slot's search path (after an erase, the merged spine does too) and, after
 * an insert, on the two spines below slot that the split cut: recompute
 * their sums bottom-up. */
static void resum(const struct view *v, int32_t x, int32_t slot)
{
    if (x < 0)
        return;
    if (x == slot) {
        resum(v, v->left[x], slot);  /* all < slot: walks right */
        resum(v, v->right[x], slot); /* all > slot: walks left */
    } else {
        resum(v, key_less(v, slot, x) ? v->left[x] : v->right[x], slot);
    }
    pull_sum(v, x);
}

/* Split subtree x into the slots before and after slot (which is not in
 * it), written to *l and *r. Recursion depth is the length of the cut,
 * O(1) expected. */
static void split(const struct view *v, int32_t x, int32_t slot, int32_t *l, int32_t *r)
{
    if (x < 0) {
        *l = *r = -1;
        return;
    }
    if (key_less(v, x, slot)) {
        *l = x;
        split(v, v->right[x], slot, &v->right[x], r);
    } else {
        *r = x;
        split(v, v->left[x], slot, l, &v->left[x]);
    }
    v->size[x] = 1 + v->size[v->left[x]] + v->size[v->right[x]];
}

void kw_ostree_init(struct kw_ostree *t, int capacity, const double *keys, bool with_sums)
{
    t->key = keys;
    t->link = xmalloc((3 * (size_t)capacity + 1) * sizeof *t->link);
    t->sum = with_sums ? xmalloc((size_t)capacity * sizeof *t->sum) : NULL;
    t->root = -1;
    t->capacity = capacity;
    view_of(t).size[-1] = 0;
}

void kw_ostree_release(struct kw_ostree *t)
{
    free(t->link);
    free(t->sum);
    *t = (struct kw_ostree){.root = -1};
}

void kw_ostree_clear(struct kw_ostree *t)
{
    t->root = -1;
}

/* Top-down: walk past the nodes that outrank slot (each gains it), then
 * slot takes the place of the subtree below and splits it. */
void kw_ostree_insert(struct kw_ostree *t, int slot)
{
    struct view v = view_of(t);
    uint32_t prio = slot_priority(slot);
    int32_t *link = &t->root, x = *link;
    while (x >= 0 && slot_priority(x) > prio) {
        v.size[x]++;
        link = key_less(&v, slot, x) ? &v.left[x] : &v.right[x];
        x = *link;
    }
    *link = slot;
    v.size[slot] = 1 + v.size[x];
    split(&v, x, slot, &v.left[slot], &v.right[slot]);
    if (v.sum)
        resum(&v, t->root, slot);
}

/* Top-down: find slot (each node passed loses it), then merge its two
 * subtrees into its place, the higher priority on top at every step. */
bool kw_ostree_erase(struct kw_ostree *t, int slot)
{
    struct view v = view_of(t);
    int32_t *link = &t->root, x = *link;
    while (x >= 0 && x != slot) {
        v.size[x]--;
        link = key_less(&v, slot, x) ? &v.left[x] : &v.right[x];
        x = *link;
    }
    if (x < 0) { /* not there: give back what the walk took */
        for (x = t->root; x >= 0; x = key_less(&v, slot, x) ? v.left[x] : v.right[x])
            v.size[x]++;
        return false;
    }
    int32_t a = v.left[slot], b = v.right[slot];
    while (a >= 0 && b >= 0) {
        if (slot_priority(a) > slot_priority(b)) {
            v.size[a] += v.size[b];
            *link = a;
            link = &v.right[a];
            a = *link;
        } else {
            v.size[b] += v.size[a];
            *link = b;
            link = &v.left[b];
            b = *link;
        }
    }
    *link = a >= 0 ? a : b;
    if (v.sum)
        resum(&v, t->root, slot);
    return true;
}

int kw_ostree_count(const struct kw_ostree *t)
{
    return t->root >= 0 ? view_of(t).size[t->root] : 0;
}

int kw_ostree_select(const struct kw_ostree *t, int k)
{
    struct view v = view_of(t);
    int32_t x = t->root;
    if (k < 0 || x < 0 || k >= v.size[x])
        return -1;
    for (;;) {
        int32_t ls = v.size[v.left[x]];
        if (k < ls) {
            x = v.left[x];
        } else if (k == ls) {
            return x;
        } else {
            k -= ls + 1;
            x = v.right[x];
        }
    }
}

double kw_ostree_kth(const struct kw_ostree *t, int k)
{
    int slot = kw_ostree_select(t, k);
    return slot >= 0 ? t->key[slot] : NAN;
}

int kw_ostree_rank(const struct kw_ostree *t, double x, bool or_equal)
{
    struct view v = view_of(t);
    int rank = 0;
    int32_t n = t->root;
    while (n >= 0) {
        double key = v.key[n];
        if (key < x || (or_equal && key == x)) {
            rank += v.size[v.left[n]] + 1;
            n = v.right[n];
        } else {
            n = v.left[n];
        }
    }
    return rank;
}

/* In-order walk: recursion on the left, a loop down the right spine. */
static void sorted_from(const struct view *v, int32_t x, double *out, int *n)
{
    for (; x >= 0; x = v->right[x]) {
        sorted_from(v, v->left[x], out, n);
        out[(*n)++] = v->key[x];
    }
}

int kw_ostree_sorted(const struct kw_ostree *t, double *out)
{
    struct view v = view_of(t);
    int n = 0;
    sorted_from(&v, t->root, out, &n);
    return n;
}

double kw_ostree_sum_smallest(const struct kw_ostree *t, int k)
{
    struct view v = view_of(t);
    if (!v.sum)
        return NAN;
    double acc = 0.0;
    int32_t x = t->root;
    while (k > 0 && x >= 0) {
        int32_t l = v.left[x], ls = v.size[l];
        if (k <= ls) {
            x = l;
        } else {
            acc += (l >= 0 ? v.sum[l] : 0.0) + v.key[x];
            k -= ls + 1;
            x = v.right[x];
        }
    }
    return acc;
}

double kw_ostree_sum(const struct kw_ostree *t)
{
    if (!t->sum)
        return NAN;
    return t->root >= 0 ? t->sum[t->root] : 0.0;
}

size_t kw_ostree_bytes(const struct kw_ostree *t)
{
    if (!t->link)
        return 0;
    size_t b = (3 * (size_t)t->capacity + 1) * sizeof *t->link;
    return b + (t->sum ? (size_t)t->capacity * sizeof *t->sum : 0);
}
