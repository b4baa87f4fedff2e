/* Unit tests for lib/ostree: the empty tree, one element, and an oracle test
 * against a sorted array under random inserts and erases with many equal
 * keys (select, kth, rank, the sorted walk and prefix sums after every
 * operation), plus the promise mad relies on: the same set gives
 * bit-identical sums whatever order built it. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/ostree.h"

#define MAX_CAP 256

Test(ostree, empty_tree, .timeout = 30)
{
    double keys[4] = {NAN, NAN, NAN, NAN};
    struct kw_ostree t;
    kw_ostree_init(&t, 4, keys, true);
    double out[4];
    cr_assert_eq(kw_ostree_count(&t), 0);
    cr_assert_eq(kw_ostree_select(&t, 0), -1);
    cr_assert_eq(kw_ostree_select(&t, -1), -1);
    cr_assert(isnan(kw_ostree_kth(&t, 0)));
    cr_assert_eq(kw_ostree_rank(&t, 0.0, false), 0);
    cr_assert_eq(kw_ostree_rank(&t, INFINITY, true), 0);
    cr_assert_eq(kw_ostree_sorted(&t, out), 0);
    cr_assert_eq(kw_ostree_sum(&t), 0.0);
    cr_assert_eq(kw_ostree_sum_smallest(&t, 3), 0.0);
    keys[2] = 1.0;
    cr_assert_not(kw_ostree_erase(&t, 2));
    cr_assert_eq(kw_ostree_count(&t), 0);
    cr_assert_eq(kw_ostree_bytes(&t), (3 * 4 + 1) * sizeof(int32_t) + 4 * sizeof(double));
    kw_ostree_release(&t);
    kw_ostree_release(&t); /* twice is safe */
    cr_assert_eq(kw_ostree_bytes(&t), 0);

    struct kw_ostree zeroed = {0};
    kw_ostree_release(&zeroed);
}

Test(ostree, single_element, .timeout = 30)
{
    double keys[3] = {NAN, 2.5, NAN};
    struct kw_ostree t;
    kw_ostree_init(&t, 3, keys, true);
    kw_ostree_insert(&t, 1);
    cr_assert_eq(kw_ostree_count(&t), 1);
    cr_assert_eq(kw_ostree_select(&t, 0), 1);
    cr_assert_eq(kw_ostree_select(&t, 1), -1);
    cr_assert_eq(kw_ostree_kth(&t, 0), 2.5);
    cr_assert_eq(kw_ostree_rank(&t, 2.5, false), 0);
    cr_assert_eq(kw_ostree_rank(&t, 2.5, true), 1);
    cr_assert_eq(kw_ostree_rank(&t, 3.0, false), 1);
    cr_assert_eq(kw_ostree_sum(&t), 2.5);
    cr_assert_eq(kw_ostree_sum_smallest(&t, 0), 0.0);
    cr_assert_eq(kw_ostree_sum_smallest(&t, 1), 2.5);
    cr_assert_eq(kw_ostree_sum_smallest(&t, 5), 2.5);
    keys[0] = 2.5; /* same key, another slot: not in the tree */
    cr_assert_not(kw_ostree_erase(&t, 0));
    cr_assert_eq(kw_ostree_count(&t), 1);
    cr_assert(kw_ostree_erase(&t, 1));
    cr_assert_eq(kw_ostree_count(&t), 0);
    cr_assert_eq(kw_ostree_sum(&t), 0.0);
    kw_ostree_release(&t);
}

Test(ostree, sums_are_nan_when_not_kept, .timeout = 30)
{
    double keys[2] = {1.0, 2.0};
    struct kw_ostree t;
    kw_ostree_init(&t, 2, keys, false);
    kw_ostree_insert(&t, 0);
    kw_ostree_insert(&t, 1);
    cr_assert(isnan(kw_ostree_sum(&t)));
    cr_assert(isnan(kw_ostree_sum_smallest(&t, 1)));
    cr_assert_eq(kw_ostree_bytes(&t), (3 * 2 + 1) * sizeof(int32_t));
    kw_ostree_release(&t);
}

/* The oracle: every (key, slot) in the tree, kept sorted by hand. */
struct pair {
    double key;
    int slot;
};

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->slot > y->slot) - (x->slot < y->slot);
}

/* Keys of the sorted p[0..n) that are < x (<= x when or_equal). */
static int count_below(const struct pair *p, int n, double x, bool or_equal)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (p[mid].key < x || (or_equal && p[mid].key == x))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void check_against(const struct kw_ostree *t, const double *keys, const bool *in, int cap, bool sums,
                          int step)
{
    struct pair p[MAX_CAP];
    int n = 0;
    for (int s = 0; s < cap; s++)
        if (in[s])
            p[n++] = (struct pair){keys[s], s};
    qsort(p, (size_t)n, sizeof *p, pair_cmp);

    cr_assert_eq(kw_ostree_count(t), n, "step %d", step);
    cr_assert_eq(kw_ostree_select(t, n), -1, "step %d", step);
    cr_assert_eq(kw_ostree_select(t, -1), -1, "step %d", step);
    double walk[MAX_CAP];
    cr_assert_eq(kw_ostree_sorted(t, walk), n, "step %d", step);
    double prefix = 0.0; /* exact: the keys are multiples of 1/4 */
    for (int k = 0; k < n; k++) {
        cr_assert_eq(kw_ostree_select(t, k), p[k].slot, "step %d: select(%d)", step, k);
        cr_assert_eq(kw_ostree_kth(t, k), p[k].key, "step %d: kth(%d)", step, k);
        cr_assert_eq(walk[k], p[k].key, "step %d: sorted[%d]", step, k);
        if (sums)
            cr_assert_eq(kw_ostree_sum_smallest(t, k), prefix, "step %d: sum of %d smallest", step, k);
        prefix += p[k].key;
    }
    if (sums) {
        cr_assert_eq(kw_ostree_sum_smallest(t, n), prefix, "step %d", step);
        cr_assert_eq(kw_ostree_sum(t), prefix, "step %d", step);
    }
    /* rank at every key present, between keys, and beyond both ends */
    for (int i = 0; i <= n; i++) {
        double probes[3] = {i < n ? p[i].key : INFINITY, i < n ? p[i].key - 0.125 : -INFINITY,
                            i < n ? p[i].key + 0.125 : 1e300};
        for (int j = 0; j < 3; j++) {
            double x = probes[j];
            cr_assert_eq(kw_ostree_rank(t, x, false), count_below(p, n, x, false), "step %d: rank(%g)", step, x);
            cr_assert_eq(kw_ostree_rank(t, x, true), count_below(p, n, x, true), "step %d: rank(%g, <=)", step, x);
        }
    }
}

struct oracle_case {
    int capacity;
    int levels;   /* distinct keys: small values give many ties */
    bool sums;
    unsigned long seed;
};

static struct oracle_case oracle_cases[] = {
    {1, 3, true, 1},   {2, 2, true, 2},    {7, 1, true, 3},     {16, 3, false, 4},
    {64, 5, true, 5},  {64, 40, false, 6}, {200, 8, true, 7},   {MAX_CAP, 1000, true, 8},
    {MAX_CAP, 2, false, 9},
};

ParameterizedTestParameters(ostree, matches_sorted_array)
{
    return cr_make_param_array(struct oracle_case, oracle_cases, sizeof oracle_cases / sizeof oracle_cases[0]);
}

/* Random inserts, erases (also of absent slots) and clears, checked against
 * the sorted array after every operation. */
ParameterizedTest(struct oracle_case *c, ostree, matches_sorted_array, .timeout = 30)
{
    double keys[MAX_CAP];
    bool in[MAX_CAP] = {false};
    for (int s = 0; s < MAX_CAP; s++)
        keys[s] = NAN;
    struct kw_ostree t;
    kw_ostree_init(&t, c->capacity, keys, c->sums);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, c->seed);
    check_against(&t, keys, in, c->capacity, c->sums, -1);
    int steps = 3000, erased_absent = 0;
    for (int step = 0; step < steps; step++) {
        int s = (int)gsl_rng_uniform_int(rng, (unsigned long)c->capacity);
        double u = gsl_rng_uniform(rng);
        if (u < 0.002) {
            kw_ostree_clear(&t);
            memset(in, 0, sizeof in);
        } else if (!in[s] && u < 0.6) {
            keys[s] = ((double)gsl_rng_uniform_int(rng, (unsigned long)c->levels) - c->levels / 2) / 4.0;
            kw_ostree_insert(&t, s);
            in[s] = true;
        } else if (in[s]) {
            cr_assert(kw_ostree_erase(&t, s), "step %d: slot %d not found", step, s);
            in[s] = false;
        } else {
            cr_assert_not(kw_ostree_erase(&t, s), "step %d: absent slot %d erased", step, s);
            erased_absent++;
        }
        check_against(&t, keys, in, c->capacity, c->sums, step);
    }
    cr_assert_gt(erased_absent, 0);
    gsl_rng_free(rng);
    kw_ostree_release(&t);
}

/* mad rebuilds its tree from a saved ring and needs the very same sums:
 * fill one tree in slot order, another through a long history of inserts
 * and erases ending in the same set, and compare every prefix sum bit for
 * bit (keys with full mantissas, so a different grouping would show). */
Test(ostree, same_set_same_sums, .timeout = 30)
{
    enum { CAP = 200 };
    double keys[CAP];
    for (int s = 0; s < CAP; s++)
        keys[s] = NAN;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 42);
    struct kw_ostree churned;
    kw_ostree_init(&churned, CAP, keys, true);
    bool in[CAP] = {false};
    for (int step = 0; step < 20000; step++) {
        int s = (int)gsl_rng_uniform_int(rng, CAP);
        if (in[s]) {
            cr_assert(kw_ostree_erase(&churned, s));
        } else {
            keys[s] = gsl_rng_uniform(rng) * 1e3 - 500.0 + (gsl_rng_uniform(rng) < 0.2 ? 0.1 : 0.0);
            kw_ostree_insert(&churned, s);
        }
        in[s] = !in[s];
    }
    struct kw_ostree fresh;
    kw_ostree_init(&fresh, CAP, keys, true);
    for (int s = 0; s < CAP; s++)
        if (in[s])
            kw_ostree_insert(&fresh, s);
    int n = kw_ostree_count(&fresh);
    cr_assert_eq(kw_ostree_count(&churned), n);
    cr_assert_gt(n, 50);
    for (int k = 0; k <= n; k++) {
        double a = kw_ostree_sum_smallest(&fresh, k), b = kw_ostree_sum_smallest(&churned, k);
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "sum of %d smallest: %a vs %a", k, a, b);
    }
    double a = kw_ostree_sum(&fresh), b = kw_ostree_sum(&churned);
    cr_assert(memcmp(&a, &b, sizeof a) == 0, "total: %a vs %a", a, b);
    kw_ostree_release(&fresh);
    kw_ostree_release(&churned);
    gsl_rng_free(rng);
}
