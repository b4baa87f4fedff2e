/* aggregate: per-interval accumulators. A bucket collects the points of one
 * series in one interval; closing it yields the sample a detector sees. */
#ifndef KW_AGGREGATE_H
#define KW_AGGREGATE_H

#include <stdbool.h>
#include <stdint.h>

#include "../detectors/detector.h"

enum kw_aggregation {
    KW_AGG_SUM = 0, KW_AGG_COUNT, KW_AGG_MEAN, KW_AGG_LAST, KW_AGG_RATIO, KW_AGG_MAX, KW_AGG_MIN, KW_AGG_QUANTILE
};

enum kw_point_role { KW_ROLE_VALUE = 0, KW_ROLE_NUMERATOR = 0, KW_ROLE_DENOMINATOR = 1 };

struct kw_bucket {
    double sum;       /* sum of values (numerator for ratio) */
    double den;       /* ratio: sum of denominator values */
    double last;      /* value of the latest point by event time */
    double min, max;
    int64_t last_ts;
    uint32_t count;   /* points (numerator points for ratio) */
    uint32_t den_count;
    double *samples;  /* quantile KPIs: reservoir of values, allocated on first use */
    uint32_t nsamples;
};

/* Empty a bucket (keeps its sample buffer). Never fails. */
void kw_bucket_reset(struct kw_bucket *b);
/* Free the sample buffer. */
void kw_bucket_release(struct kw_bucket *b);
/* Quantile KPIs: keep value in a uniform reservoir of at most cap values
 * (Vitter's algorithm R). Call after kw_bucket_add. seed makes the choice
 * deterministic, so a replay gives the same answer every time. */
void kw_bucket_keep_sample(struct kw_bucket *b, double value, uint32_t cap, uint64_t seed);
/* Add one point's value in the given role. Never fails. */
void kw_bucket_add(struct kw_bucket *b, int role, double value, int64_t ts_ms);
/* The sample for a closed interval starting at start_ms. Empty intervals are
 * 0 for sum/count KPIs (no events is a count of zero) and missing (NAN) for
 * the others; a ratio with a zero denominator is missing. A quantile sorts
 * the bucket's samples in place. */
struct kw_sample kw_bucket_sample(struct kw_bucket *b, int aggregation, double quantile, int64_t start_ms);

#endif
