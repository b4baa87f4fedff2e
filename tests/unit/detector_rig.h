/* detector_rig: the test rig every detector unit test shares: one parsed
 * detector with the state of one series, helpers to feed it, to compare
 * verdicts, and to carry a state across a save/load round trip.
 * Test-only and included by each test file, so everything is static inline
 * (a .c here would be globbed into both test binaries as a test file). */
#ifndef KW_DETECTOR_RIG_H
#define KW_DETECTOR_RIG_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../detectors/detector.h"

/* The series rig_init creates; a test file whose detector needs another kind
 * (a count, a ratio) defines this before including the header. */
#ifndef RIG_SERIES
#define RIG_SERIES {.interval_ms = 60000}
#endif

struct rig {
    struct kw_detector det;
    struct kw_detector_state st;
    struct kw_series_info info;
};

/* Parse json into det, failing the test when it does not parse. */
static inline void rig_parse(struct kw_detector *det, const char *json, const char *path)
{
    char err[KW_ERR_LEN];
    cJSON *obj = cJSON_Parse(json);
    cr_assert_not_null(obj);
    cr_assert_eq(kw_detector_parse(det, obj, path, err, sizeof err), 0, "%s", err);
    cJSON_Delete(obj);
}

/* Parse json and create the series state for r->info as the caller set it
 * (tests that change the series kind set r->info first). */
static inline void rig_start(struct rig *r, const char *json)
{
    rig_parse(&r->det, json, "kpis[0].detector");
    kw_detector_state_init(&r->st, &r->det, &r->info);
}

/* rig_start on a fresh RIG_SERIES series. */
static inline void rig_init(struct rig *r, const char *json)
{
    r->info = (struct kw_series_info)RIG_SERIES;
    rig_start(r, json);
}

/* Fail the test unless the detector runs on r's kind of series. */
static inline void rig_check_accepts(const struct rig *r)
{
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_detector_accepts(&r->det, &r->info, err, sizeof err), 0, "%s", err);
}

static inline void rig_release(struct rig *r)
{
    kw_detector_state_release(&r->st, &r->det);
    kw_detector_release(&r->det);
}

/* Run one interval through r's detector, on st (r->st or a second copy). */
static inline struct kw_verdict rig_feed_sample(struct rig *r, struct kw_detector_state *st,
                                                const struct kw_sample *s)
{
    struct kw_verdict out;
    kw_detector_update(st, &r->det, &r->info, s, &out);
    return out;
}

/* A plain value (NAN = missing interval); the timestamp does not matter. */
static inline struct kw_verdict rig_feed(struct rig *r, double v)
{
    struct kw_sample s = {.ts_ms = 0, .value = v, .numerator = NAN, .denominator = NAN};
    return rig_feed_sample(r, &r->st, &s);
}

/* A ratio interval: k events out of n trials. */
static inline struct kw_verdict rig_feed_ratio(struct rig *r, double k, double n)
{
    struct kw_sample s = {.ts_ms = 0, .value = k / n, .numerator = k, .denominator = n};
    return rig_feed_sample(r, &r->st, &s);
}

/* A plain value at interval number slot, for detectors that place values by
 * time (seasonal slots, gaps). */
static inline struct kw_verdict rig_feed_slot(struct rig *r, struct kw_detector_state *st, int64_t slot, double v)
{
    struct kw_sample s = {.ts_ms = slot * r->info.interval_ms, .value = v, .numerator = NAN, .denominator = NAN};
    return rig_feed_sample(r, st, &s);
}

/* Equal, or both NAN. */
static inline bool same_double(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* Fail the test unless every field of the two verdicts matches (point i). */
static inline void assert_same_verdict(const struct kw_verdict *a, const struct kw_verdict *b, int i)
{
    cr_assert_eq(a->ready, b->ready, "point %d", i);
    cr_assert_eq(a->anomalous, b->anomalous, "point %d", i);
    cr_assert_eq(a->direction, b->direction, "point %d", i);
    cr_assert(same_double(a->expected, b->expected), "point %d: %.17g vs %.17g", i, a->expected, b->expected);
    cr_assert(same_double(a->lower, b->lower), "point %d", i);
    cr_assert(same_double(a->upper, b->upper), "point %d", i);
    cr_assert(same_double(a->score, b->score), "point %d: %.17g vs %.17g", i, a->score, b->score);
    cr_assert(same_double(a->anomaly_score, b->anomaly_score), "point %d", i);
    cr_assert(same_double(a->severity, b->severity), "point %d", i);
}

/* Save `from` and load it into `to` (already initialised), failing the test
 * when the load is refused. as_text goes through printed JSON and back, as a
 * restart does; otherwise the cJSON tree is loaded as is. */
static inline void rig_transfer(const struct kw_detector *from_det, const struct kw_detector_state *from,
                                const struct kw_detector *to_det, struct kw_detector_state *to, bool as_text)
{
    cJSON *saved = kw_detector_state_save(from, from_det);
    if (as_text) {
        char *text = cJSON_PrintUnformatted(saved);
        cJSON_Delete(saved);
        saved = cJSON_Parse(text);
        free(text);
    }
    cr_assert_eq(kw_detector_state_load(to, to_det, saved), 0);
    cJSON_Delete(saved);
}

/* Carry a's state into b (same config, parsed separately) through JSON text. */
static inline void rig_copy_state_text(const struct rig *a, struct rig *b)
{
    rig_transfer(&a->det, &a->st, &b->det, &b->st, true);
}

/* Create copy as a second state of r's detector and load r's state into it
 * (through text when as_text); the caller releases copy with
 * kw_detector_state_release. */
static inline void rig_clone_state(const struct rig *r, struct kw_detector_state *copy, bool as_text)
{
    kw_detector_state_init(copy, &r->det, &r->info);
    rig_transfer(&r->det, &r->st, &r->det, copy, as_text);
}

/* Save r's state and load it into a fresh state of the detector other_json
 * (same series kind). Returns what kw_detector_state_load returned. */
static inline int rig_load_under(const struct rig *r, const char *other_json)
{
    struct kw_detector other;
    rig_parse(&other, other_json, "k");
    struct kw_detector_state st2;
    kw_detector_state_init(&st2, &other, &r->info);
    cJSON *saved = kw_detector_state_save(&r->st, &r->det);
    int rc = kw_detector_state_load(&st2, &other, saved);
    cJSON_Delete(saved);
    kw_detector_state_release(&st2, &other);
    kw_detector_release(&other);
    return rc;
}

#ifdef RIG_FIXTURE
/* For tests written as Test(..., .fini = teardown): one global rig `fx` on a
 * RIG_SERIES series (tests may change fx.info before setup_json), fed by
 * interval number. */
static struct rig fx = {.info = RIG_SERIES};

/* rig_start on fx, and fail unless the detector accepts the series. */
static inline void setup_json(const char *json)
{
    rig_start(&fx, json);
    rig_check_accepts(&fx);
}

static inline void teardown(void)
{
    rig_release(&fx);
}

static inline struct kw_verdict feed_to(struct kw_detector_state *s, int64_t slot, double v)
{
    return rig_feed_slot(&fx, s, slot, v);
}

static inline struct kw_verdict feed(int64_t slot, double v)
{
    return rig_feed_slot(&fx, &fx.st, slot, v);
}
#endif

#endif
