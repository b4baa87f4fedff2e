/* detector_series: generated series for the detector unit tests and the
 * scenarios several detectors are put through on them: twins, two states
 * of one config fed the same series, which must agree bit for bit when one
 * also sees missing intervals (gaps change nothing) or was restored from
 * the other's saved state (a restart changes nothing); a daily sine with
 * spikes; an incident and the return to normal. Each test gives its own
 * config, seed and numbers, and asserts on what the scenario counted.
 * Included after detector_rig.h (and its RIG_SERIES); static inline for
 * the same reason. */
#ifndef KW_DETECTOR_SERIES_H
#define KW_DETECTOR_SERIES_H

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "detector_rig.h"

/* Interval i of a test series, drawn from rng. */
typedef struct kw_sample (*rig_series)(gsl_rng *rng, int i);

/* A plain value as a sample (NAN = missing); the timestamp does not matter. */
static inline struct kw_sample rig_value(double v)
{
    return (struct kw_sample){.ts_ms = 0, .value = v, .numerator = NAN, .denominator = NAN};
}

/* k events out of n trials as a sample. */
static inline struct kw_sample rig_ratio(double k, double n)
{
    return (struct kw_sample){.ts_ms = 0, .value = k / n, .numerator = k, .denominator = n};
}

/* Feed s to a and to b; fail unless the two verdicts match (point i). */
static inline void twin_feed_both(struct rig *a, struct rig *b, const struct kw_sample *s, int i)
{
    struct kw_verdict va = rig_feed_sample(a, &a->st, s), vb = rig_feed_sample(b, &b->st, s);
    assert_same_verdict(&va, &vb, i);
}

/* Feed a missing interval to r; fail unless it is neither ready nor anomalous. */
static inline void twin_assert_gap_is_quiet(struct rig *r)
{
    struct kw_verdict g = rig_feed(r, NAN);
    cr_assert_not(g.ready);
    cr_assert_not(g.anomalous);
}

/* Two fresh states of json fed n intervals of series (rng seeded with seed);
 * the first also gets a missing interval before every step i with
 * i % gap_every == gap_at. Fails unless every gap is quiet and every
 * verdict matches. */
static inline void twins_assert_gaps_change_nothing(const char *json, unsigned long seed, int n, rig_series series,
                                                    int gap_every, int gap_at)
{
    struct rig a, b;
    rig_init(&a, json);
    rig_init(&b, json);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    for (int i = 0; i < n; i++) {
        struct kw_sample s = series(rng, i);
        if (i % gap_every == gap_at)
            twin_assert_gap_is_quiet(&a);
        twin_feed_both(&a, &b, &s, i);
    }
    gsl_rng_free(rng);
    rig_release(&a);
    rig_release(&b);
}

/* Fail unless r's detector refuses the raw state json (a wrong shape or
 * value), given straight to its state_load. */
static inline void twin_assert_state_refused(const struct rig *r, const char *json)
{
    cJSON *bad = cJSON_Parse(json);
    cr_assert_eq(r->det.type->state_load(r->st.impl, r->det.cfg, bad), -1);
    cJSON_Delete(bad);
}

/* Two fresh states of json: feed the first `before` intervals of warm (rng
 * seeded with seed), carry its state into the second through JSON text as
 * a restart does, then feed both `after` intervals of series (i from 0,
 * drawing on from the same rng). Fails unless the second counts the
 * intervals the first has seen, every verdict matches, and the restored
 * detector then refuses each raw state in refused (NULL-terminated; NULL
 * for none). */
static inline void twins_assert_restart_changes_nothing(const char *json, unsigned long seed, rig_series warm,
                                                        int before, rig_series series, int after,
                                                        const char *const *refused)
{
    struct rig a, b;
    rig_init(&a, json);
    rig_init(&b, json);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    for (int i = 0; i < before; i++) {
        struct kw_sample s = warm(rng, i);
        rig_feed_sample(&a, &a.st, &s);
    }
    rig_copy_state_text(&a, &b);
    cr_assert_eq(b.st.seen, a.st.seen);
    for (int i = 0; i < after; i++) {
        struct kw_sample s = series(rng, i);
        twin_feed_both(&a, &b, &s, i);
    }
    for (; refused && *refused; refused++)
        twin_assert_state_refused(&b, *refused);
    gsl_rng_free(rng);
    rig_release(&a);
    rig_release(&b);
}

/* Interval t of a daily sine around 1000 (amplitude 100, per_day
 * intervals a day) with gaussian noise of sd noise. */
static inline double rig_daily_sine(int64_t t, int per_day, gsl_rng *rng, double noise)
{
    return 1000 + 100 * sin(2 * M_PI * (double)t / per_day) + gsl_ran_gaussian(rng, noise);
}

/* What rig_daily_sine_spikes counted among the ready verdicts. */
struct rig_spike_count {
    int ready, spikes, caught, false_alarms;
};

/* Feed r, by interval number, `days` days of a daily sine (seed 42, noise
 * sd 5) with a spike of +60 (odd intervals) or -60 at every 97th interval
 * after day 10, and count. When check_direction, every ready spike must
 * point its way. */
static inline struct rig_spike_count rig_daily_sine_spikes(struct rig *r, int per_day, int days, bool check_direction)
{
    struct rig_spike_count c = {0};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 42);
    for (int64_t t = 0; t < (int64_t)per_day * days; t++) {
        double v = rig_daily_sine(t, per_day, rng, 5);
        bool spike = t > per_day * 10 && t % 97 == 0;
        if (spike)
            v += (t % 2 ? 60 : -60);
        struct kw_verdict out = rig_feed_slot(r, &r->st, t, v);
        if (!out.ready)
            continue;
        c.ready++;
        if (spike) {
            c.spikes++;
            c.caught += out.anomalous;
            if (check_direction)
                cr_assert_eq(out.direction, t % 2 ? 1 : -1);
        } else {
            c.false_alarms += out.anomalous;
        }
    }
    gsl_rng_free(rng);
    return c;
}

/* What an incident did to a detector: intervals alarmed during it, the
 * expected value at its start and at its end, alarms pointing down after
 * it (dips) and the last interval after it that alarmed (-1: none). */
struct rig_incident {
    int alarmed, dips, last_alarm;
    double first_expected, last_expected;
};

/* Feed a fresh state of json `warm` intervals of normal (rng seeded with
 * seed), then `during` intervals of incident and `after` of normal again,
 * and report. */
static inline struct rig_incident rig_run_incident(const char *json, unsigned long seed, rig_series normal, int warm,
                                                   rig_series incident, int during, int after)
{
    struct rig r;
    rig_init(&r, json);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    for (int i = 0; i < warm; i++) {
        struct kw_sample s = normal(rng, i);
        rig_feed_sample(&r, &r.st, &s);
    }
    struct rig_incident c = {.last_alarm = -1, .first_expected = NAN, .last_expected = NAN};
    for (int i = 0; i < during; i++) {
        struct kw_sample s = incident(rng, i);
        struct kw_verdict v = rig_feed_sample(&r, &r.st, &s);
        c.alarmed += v.anomalous;
        if (i == 0)
            c.first_expected = v.expected;
        c.last_expected = v.expected;
    }
    for (int i = 0; i < after; i++) {
        struct kw_sample s = normal(rng, i);
        struct kw_verdict v = rig_feed_sample(&r, &r.st, &s);
        c.dips += v.anomalous && v.direction < 0;
        if (v.anomalous)
            c.last_alarm = i;
    }
    gsl_rng_free(rng);
    rig_release(&r);
    return c;
}

#endif
