/* aggregate: per-interval accumulators for sum, count, mean, last, min, max,
 * quantile, ratio and survey (nps, csat) KPIs. */
#include "aggregate.h"

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "../lib/xmalloc.h"

void kw_bucket_reset(struct kw_bucket *b, int aggregation)
{
    b->count = b->den_count = 0;
    switch (aggregation) {
    case KW_AGG_LAST:
        b->last = NAN;
        b->last_ts = INT64_MIN;
        break;
    case KW_AGG_MIN:
        b->min = INFINITY;
        break;
    case KW_AGG_MAX:
        b->max = -INFINITY;
        break;
    case KW_AGG_QUANTILE:
        b->single = NAN; /* samples stays: the buffer is reused */
        break;
    default: /* sum, den and pos, neg */
        b->sum = b->den = 0;
        break;
    }
}

void kw_bucket_release(struct kw_bucket *b, int aggregation)
{
    if (aggregation != KW_AGG_QUANTILE)
        return;
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

void kw_bucket_add(struct kw_bucket *b, int aggregation, int role, double value, int64_t ts_ms)
{
    if (role == KW_ROLE_DENOMINATOR) {
        b->den += value;
        b->den_count++;
        return;
    }
    b->count++;
    switch (aggregation) {
    case KW_AGG_SUM:
    case KW_AGG_MEAN:
    case KW_AGG_RATIO:
        b->sum += value;
        break;
    case KW_AGG_LAST:
        if (ts_ms >= b->last_ts) { /* ties: the later arrival wins */
            b->last = value;
            b->last_ts = ts_ms;
        }
        break;
    case KW_AGG_MIN:
        if (value < b->min)
            b->min = value;
        break;
    case KW_AGG_MAX:
        if (value > b->max)
            b->max = value;
        break;
    case KW_AGG_QUANTILE:
        b->single = value;
        break;
    case KW_AGG_NPS:
        b->pos += value >= 9;
        b->neg += value <= 6;
        break;
    case KW_AGG_CSAT:
        b->pos += value >= 4;
        break;
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
            s.value = b->single; /* a native single point */
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

void kw_bucket_fields(const struct kw_bucket *b, int aggregation, double f[KW_BUCKET_FIELDS])
{
    /* an empty bucket's values, then what this aggregation keeps */
    double v[KW_BUCKET_FIELDS] = {0, 0, NAN, INFINITY, -INFINITY, (double)INT64_MIN, b->count, b->den_count, 0, 0};
    switch (aggregation) {
    case KW_AGG_LAST:
        v[2] = b->last;
        v[5] = (double)b->last_ts;
        break;
    case KW_AGG_MIN:
        v[3] = b->min;
        break;
    case KW_AGG_MAX:
        v[4] = b->max;
        break;
    case KW_AGG_QUANTILE:
        v[2] = b->single;
        v[7] = 0; /* den_count holds nsamples; the samples are stored apart */
        break;
    case KW_AGG_NPS:
    case KW_AGG_CSAT:
        v[8] = b->pos;
        v[9] = b->neg;
        break;
    default:
        v[0] = b->sum;
        v[1] = b->den;
        break;
    }
    for (int i = 0; i < KW_BUCKET_FIELDS; i++)
        f[i] = v[i];
}

void kw_bucket_set_fields(struct kw_bucket *b, int aggregation, const double f[KW_BUCKET_FIELDS])
{
    b->count = (uint32_t)f[6];
    switch (aggregation) {
    case KW_AGG_LAST:
        b->last = f[2];
        b->last_ts = isnan(f[5]) ? INT64_MIN : (int64_t)f[5];
        break;
    case KW_AGG_MIN:
        b->min = isnan(f[3]) ? INFINITY : f[3];
        break;
    case KW_AGG_MAX:
        b->max = isnan(f[4]) ? -INFINITY : f[4];
        break;
    case KW_AGG_QUANTILE:
        b->single = f[2];
        break;
    case KW_AGG_NPS:
    case KW_AGG_CSAT:
        b->pos = f[8];
        b->neg = f[9];
        break;
    default:
        b->sum = f[0];
        b->den = f[1];
        b->den_count = (uint32_t)f[7];
        break;
    }
}
