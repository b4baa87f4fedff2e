/* fdr: per-KPI, per-interval batches of verdicts and the Benjamini-Hochberg
 * step-up rule (Benjamini & Hochberg, JRSS B 57(1), 1995). */
#include "fdr.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"
#include "series.h"

void kw_fdr_push(struct kw_fdr_batch *b, struct kw_series *s, const struct kw_sample *sample,
                 const struct kw_verdict *v)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->e = xrealloc(b->e, b->cap * sizeof *b->e);
    }
    if (b->n > 0 && sample->ts_ms < b->e[b->n - 1].sample.ts_ms)
        b->unsorted = true;
    b->e[b->n++] = (struct kw_fdr_entry){.series = s, .seq = b->next_seq++, .sample = *sample, .verdict = *v};
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double kw_fdr_cutoff(double *p, size_t m, double q)
{
    size_t tested = 0;
    for (size_t i = 0; i < m; i++)
        if (!isnan(p[i]))
            p[tested++] = p[i];
    qsort(p, tested, sizeof *p, cmp_double);
    double cut = -1;
    for (size_t k = 1; k <= tested; k++)
        if (p[k - 1] <= (double)k * q / (double)tested)
            cut = p[k - 1];
    return cut;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct kw_fdr_entry *x = a, *y = b;
    if (x->sample.ts_ms != y->sample.ts_ms)
        return x->sample.ts_ms < y->sample.ts_ms ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static bool tested(const struct kw_verdict *v)
{
    return v->ready && isfinite(v->p_value) && v->p_level > 0;
}

/* Apply the rule to e[0..m): one interval's verdicts. p-values are taken
 * relative to their level (all equal within a KPI unless feedback made a
 * series stricter, which its p already carries), so the level is 1. A
 * verdict without a p-value keeps its own decision. */
static void decide_group(struct kw_fdr_entry *e, size_t m)
{
    double *p = xmalloc(m * sizeof *p);
    for (size_t i = 0; i < m; i++)
        p[i] = tested(&e[i].verdict) ? e[i].verdict.p_value / e[i].verdict.p_level : NAN;
    double cut = kw_fdr_cutoff(p, m, 1.0);
    free(p);
    for (size_t i = 0; i < m; i++) {
        struct kw_verdict *v = &e[i].verdict;
        /* only new alarms are discoveries: a firing series goes on as its detector says */
        if (e[i].series->alert.phase == KW_PHASE_FIRING)
            continue;
        if (v->anomalous && tested(v) && v->p_value / v->p_level > cut) {
            v->anomalous = false;
            if (v->anomaly_score >= 0.5)
                v->anomaly_score = 0.49;
            v->severity = round(100.0 * v->anomaly_score);
        }
    }
}

size_t kw_fdr_resolve(struct kw_fdr_batch *b, int64_t upto_ms, kw_fdr_decide decide, void *ctx)
{
    if (b->n == 0)
        return 0;
    /* usually one interval closes at a time and arrives in order */
    if (b->unsorted)
        qsort(b->e, b->n, sizeof *b->e, cmp_entry);
    b->unsorted = false;
    size_t due = 0;
    while (due < b->n && b->e[due].sample.ts_ms <= upto_ms)
        due++;
    for (size_t i = 0; i < due;) {
        size_t j = i;
        while (j < due && b->e[j].sample.ts_ms == b->e[i].sample.ts_ms)
            j++;
        decide_group(b->e + i, j - i);
        i = j;
    }
    for (size_t i = 0; i < due; i++)
        decide(ctx, b->e[i].series, &b->e[i].sample, &b->e[i].verdict);
    memmove(b->e, b->e + due, (b->n - due) * sizeof *b->e);
    b->n -= due;
    if (b->n == 0 && b->cap > 1024) {
        /* a KPI with many series holds one verdict each only until its
         * interval is decided: give the array back in between */
        free(b->e);
        b->e = NULL;
        b->cap = 0;
    }
    return due;
}

int64_t kw_fdr_oldest(const struct kw_fdr_batch *b)
{
    if (b->n > 0 && !b->unsorted)
        return b->e[0].sample.ts_ms;
    int64_t t = INT64_MAX;
    for (size_t i = 0; i < b->n; i++)
        if (b->e[i].sample.ts_ms < t)
            t = b->e[i].sample.ts_ms;
    return t;
}

void kw_fdr_forget(struct kw_fdr_batch *b, const struct kw_series *s)
{
    /* keeps the order of the rest */
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->e[i].series != s)
            b->e[w++] = b->e[i];
    b->n = w;
}

void kw_fdr_release(struct kw_fdr_batch *b)
{
    free(b->e);
    memset(b, 0, sizeof *b);
}
