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

/* One open interval. Only what the KPI's aggregation reads is kept, so the
 * ring of a series stays small (24 bytes a bucket): the aggregation picks
 * the union's member, and the functions that touch it take the aggregation. */
struct kw_bucket {
    uint32_t count;                 /* points (numerator points for ratio) */
    union {
        uint32_t den_count;         /* ratio: denominator points */
        uint32_t nsamples;          /* quantile: values in samples */
    };
    union {
        struct { double sum, den; };         /* sum, mean, ratio: sum of values (numerator), of denominators */
        struct { double last; int64_t last_ts; }; /* last: value of the latest point by event time */
        double min;                          /* min */
        double max;                          /* max */
        struct { double pos, neg; };         /* nps: promoters, detractors; csat: satisfied */
        struct { double *samples; double single; }; /* quantile: reservoir (allocated on first use); a
                                                      * native interval's one value */
    };
};

/* The fields of a bucket as the state file stores them, whatever the
 * aggregation: sum, den, last, min, max, last_ts, count, den_count, pos,
 * neg. Those the aggregation does not keep read as an empty bucket's. */
#define KW_BUCKET_FIELDS 10

/* Empty a bucket (keeps a quantile's sample buffer). Never fails. */
void kw_bucket_reset(struct kw_bucket *b, int aggregation);
/* Free the sample buffer (quantile). */
void kw_bucket_release(struct kw_bucket *b, int aggregation);
/* Quantile KPIs: keep value in a uniform reservoir of at most cap values
 * (Vitter's algorithm R). Call after kw_bucket_add. seed makes the choice
 * deterministic, so a replay gives the same answer every time. */
void kw_bucket_keep_sample(struct kw_bucket *b, double value, uint32_t cap, uint64_t seed);
/* Add one point's value in the given role (survey answers are classified
 * too). Never fails. */
void kw_bucket_add(struct kw_bucket *b, int aggregation, int role, double value, int64_t ts_ms);
/* Whether value is an answer on the scale of a survey aggregation (nps:
 * a whole 0..10, csat: a whole 1..5); true for the other aggregations. */
bool kw_survey_valid(int aggregation, double value);
/* The sample for a closed interval starting at start_ms. Empty intervals are
 * 0 for sum/count KPIs (no events is a count of zero) and missing (NAN) for
 * the others; a ratio with a zero denominator is missing. A quantile sorts
 * the bucket's samples in place. nps: 100 (promoters - detractors) /
 * responses, with numerator = promoters, detractors and denominator =
 * responses filled; csat: satisfied / responses as a ratio. An interval
 * without responses is missing. */
struct kw_sample kw_bucket_sample(struct kw_bucket *b, int aggregation, double quantile, int64_t start_ms);
/* The bucket as the state file's KW_BUCKET_FIELDS numbers. */
void kw_bucket_fields(const struct kw_bucket *b, int aggregation, double f[KW_BUCKET_FIELDS]);
/* Restore a reset bucket from those numbers (already range-checked); the
 * quantile samples are restored by the caller. */
void kw_bucket_set_fields(struct kw_bucket *b, int aggregation, const double f[KW_BUCKET_FIELDS]);

#endif
