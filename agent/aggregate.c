/* aggregate: per-interval accumulators for sum, count, mean, last, min, max
 * and ratio KPIs. */
#include "aggregate.h"

#include <math.h>

#include "config.h"

void kw_bucket_reset(struct kw_bucket *b)
{
    b->sum = b->den = 0;
    b->last = NAN;
    b->min = INFINITY;
    b->max = -INFINITY;
    b->last_ts = INT64_MIN;
    b->count = b->den_count = 0;
}

void kw_bucket_add(struct kw_bucket *b, int role, double value, int64_t ts_ms)
{
    if (role == KW_ROLE_DENOMINATOR) {
        b->den += value;
        b->den_count++;
        return;
    }
    b->sum += value;
    b->count++;
    if (value < b->min)
        b->min = value;
    if (value > b->max)
        b->max = value;
    if (ts_ms >= b->last_ts) { /* ties: the later arrival wins */
        b->last = value;
        b->last_ts = ts_ms;
    }
}

struct kw_sample kw_bucket_sample(const struct kw_bucket *b, int aggregation, int64_t start_ms)
{
    struct kw_sample s = {.ts_ms = start_ms, .value = NAN, .numerator = NAN, .denominator = NAN};
    switch (aggregation) {
    case KW_AGG_SUM:
        s.value = b->sum;
        break;
    case KW_AGG_COUNT:
        s.value = b->count;
        break;
    case KW_AGG_MEAN:
        if (b->count)
            s.value = b->sum / b->count;
        break;
    case KW_AGG_LAST:
        if (b->count)
            s.value = b->last;
        break;
    case KW_AGG_MAX:
        if (b->count)
            s.value = b->max;
        break;
    case KW_AGG_MIN:
        if (b->count)
            s.value = b->min;
        break;
    case KW_AGG_RATIO:
        s.numerator = b->sum;
        s.denominator = b->den;
        if (b->den > 0)
            s.value = b->sum / b->den;
        break;
    }
    return s;
}
