/* aggregate: per-interval accumulators. A bucket collects the points of one
 * series in one interval; closing it yields the sample a detector sees.
 * Survey KPIs take one point per response: nps counts promoters (9-10)
 * and detractors (0-6) of 0-10 answers, csat the satisfied (4-5) of 1-5. */
#ifndef KW_AGGREGATE_H
#define KW_AGGREGATE_H

#include <stdbool.h>
#include <stdint.h>

#include "../detectors/detector.h"

enum kw_aggregation {
    KW_AGG_SUM = 0, KW_AGG_COUNT, KW_AGG_MEAN, KW_AGG_LAST, KW_AGG_RATIO, KW_AGG_MAX, KW_AGG_MIN, KW_AGG_QUANTILE,
    KW_AGG_NPS, KW_AGG_CSAT
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
    double pos, neg;  /* survey KPIs: promoters / satisfied, and detractors */
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
/* Whether value is an answer on the scale of a survey aggregation (nps:
 * a whole 0..10, csat: a whole 1..5); true for the other aggregations. */
bool kw_survey_valid(int aggregation, double value);
/* Survey KPIs: classify one response (call after kw_bucket_add). */
void kw_bucket_add_response(struct kw_bucket *b, int aggregation, double value);
/* The sample for a closed interval starting at start_ms. Empty intervals are
 * 0 for sum/count KPIs (no events is a count of zero) and missing (NAN) for
 * the others; a ratio with a zero denominator is missing. A quantile sorts
 * the bucket's samples in place. nps: 100 (promoters - detractors) /
 * responses, with numerator = promoters, detractors and denominator =
 * responses filled; csat: satisfied / responses as a ratio. An interval
 * without responses is missing. */
struct kw_sample kw_bucket_sample(struct kw_bucket *b, int aggregation, double quantile, int64_t start_ms);

#endif
