/* fdr: false-discovery control across the series of one KPI. The verdicts
 * of all series that close one interval wait until its close point (end +
 * lateness) has passed, then the Benjamini-Hochberg rule at the detector's
 * level decides which new alarms stand, so more series do not mean more
 * false alarms. A series already firing goes on as its detector says. */
#ifndef KW_FDR_H
#define KW_FDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../detectors/detector.h"

struct kw_series;

struct kw_fdr_entry {
    struct kw_series *series; /* not owned */
    uint64_t seq;             /* arrival order, for a stable hand-over */
    struct kw_sample sample;
    struct kw_verdict verdict;
};

/* The waiting verdicts of one KPI. */
struct kw_fdr_batch {
    struct kw_fdr_entry *e;
    size_t n, cap;
    uint64_t next_seq;
    bool unsorted; /* an entry arrived out of interval order (several intervals closed at once) */
};

/* Receives each verdict once its batch is decided. */
typedef void (*kw_fdr_decide)(void *ctx, struct kw_series *s, const struct kw_sample *sample, struct kw_verdict *v);

/* Queue one verdict. Never fails. */
void kw_fdr_push(struct kw_fdr_batch *b, struct kw_series *s, const struct kw_sample *sample,
                 const struct kw_verdict *v);
/* Decide every queued verdict of an interval starting at or before upto_ms
 * (one Benjamini-Hochberg pass per interval, oldest first) and hand each to
 * decide. Returns how many were handed over. */
size_t kw_fdr_resolve(struct kw_fdr_batch *b, int64_t upto_ms, kw_fdr_decide decide, void *ctx);
/* The earliest interval start queued, or INT64_MAX when empty. */
int64_t kw_fdr_oldest(const struct kw_fdr_batch *b);
/* Drop the queued verdicts of s (it is being freed). */
void kw_fdr_forget(struct kw_fdr_batch *b, const struct kw_series *s);
/* Free the batch's memory. Safe on a zeroed struct. */
void kw_fdr_release(struct kw_fdr_batch *b);

/* The Benjamini-Hochberg cutoff for m p-values (any order, NAN = not
 * tested, left out of m) at level q: the largest p_(k) with
 * p_(k) <= k q / m, or -1 when none qualifies. Reorders p. */
double kw_fdr_cutoff(double *p, size_t m, double q);

#endif
