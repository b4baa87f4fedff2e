/* aggregate: per-interval accumulators for sum, count, mean, last, min, max,
 * quantile, ratio and survey (nps, csat) KPIs. */
#include "aggregate.h"

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "../lib/xmalloc.h"

void kw_bucket_reset(struct kw_bucket *b)
{
    b->sum = b->den = 0;
    b->last = NAN;
    b->min = INFINITY;
    b->max = -INFINITY;
    b->last_ts = INT64_MIN;
    b->count = b->den_count = 0;
    b->nsamples = 0;
    b->pos = b->neg = 0;
}

void kw_bucket_release(struct kw_bucket *b)
{
    free(b->samples);
    b->samples = NULL;
    b->nsamples = 0;
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void kw_bucket_keep_sample(struct kw_bucket *b, double value, uint32_t cap, uint64_t seed)
{
    if (!b->samples)
        b->samples = xmalloc(cap * sizeof *b->samples);
    if (b->nsamples < cap) {
        b->samples[b->nsamples++] = value;
        return;
    }
    uint64_t j = splitmix64(seed ^ b->count) % b->count; /* count includes this value */
    if (j < cap)
        b->samples[j] = value;
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

bool kw_survey_valid(int aggregation, double value)
{
    if (aggregation == KW_AGG_NPS)
        return value >= 0 && value <= 10 && value == floor(value);
    if (aggregation == KW_AGG_CSAT)
        return value >= 1 && value <= 5 && value == floor(value);
    return true;
}

void kw_bucket_add_response(struct kw_bucket *b, int aggregation, double value)
{
    if (aggregation == KW_AGG_NPS) {
        b->pos += value >= 9;
        b->neg += value <= 6;
    } else if (aggregation == KW_AGG_CSAT) {
        b->pos += value >= 4;
    }
}

struct kw_sample kw_bucket_sample(struct kw_bucket *b, int aggregation, double quantile, int64_t start_ms)
{
    struct kw_sample s = {.ts_ms = start_ms, .value = NAN, .numerator = NAN, .denominator = NAN, .detractors = NAN};
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
    case KW_AGG_QUANTILE:
        if (b->nsamples) {
            gsl_sort(b->samples, 1, b->nsamples);
            s.value = gsl_stats_quantile_from_sorted_data(b->samples, 1, b->nsamples, quantile);
        } else if (b->count) {
            s.value = b->last; /* a native single point */
        }
        break;
    case KW_AGG_RATIO:
        s.numerator = b->sum;
        s.denominator = b->den;
        if (b->den > 0)
            s.value = b->sum / b->den;
        break;
    case KW_AGG_NPS:
        if (b->count) {
            s.numerator = b->pos;
            s.detractors = b->neg;
            s.denominator = b->count;
            s.value = 100.0 * (b->pos - b->neg) / b->count;
        }
        break;
    case KW_AGG_CSAT:
        if (b->count) {
            s.numerator = b->pos;
            s.denominator = b->count;
            s.value = b->pos / b->count;
        }
        break;
    }
    return s;
}
