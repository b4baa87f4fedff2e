/* detector: the vtable every outlier detector implements, and the generic
 * wrapper the pipeline uses. A detector type parses its own options, keeps
 * per-series state, turns each interval's value into a verdict, and can save
 * and restore that state so a restart keeps what it learned.
 * Options shared by every detector (direction, min_delta, min_delta_rel,
 * warmup) are applied here, so each type only does its own statistics. */
#ifndef KW_DETECTOR_H
#define KW_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../lib/jsonnum.h"
#include "../lib/opts.h"

/* One closed interval of a KPI series, as the detector sees it. */
struct kw_sample {
    int64_t ts_ms;      /* interval start, epoch milliseconds (UTC) */
    double value;       /* the KPI value; NAN = the interval had no data */
    double numerator;   /* ratio KPIs: events (e.g. drop-offs); NAN otherwise */
    double denominator; /* ratio KPIs: trials (e.g. entries); NAN otherwise */
    double detractors;  /* nps KPIs: responses 0-6 (numerator = promoters 9-10, denominator = responses) */
};

/* What the series looks like, known when its state is created. */
struct kw_series_info {
    int64_t interval_ms; /* length of one interval; > 0 */
    bool is_ratio;       /* numerator/denominator are filled */
    bool is_count;       /* value is a non-negative event count (sum/count KPIs) */
    bool is_nps;         /* an nps KPI: numerator, detractors and denominator are filled */
    /* enum kw_direction: the side on which the KPI gets worse (up for
     * complaints and drop-offs, down for csat and nps, 0 = both). The
     * wrapper replaces it with the side the detector may alert on before
     * the type sees it, so a type can spend its evidence on that side. */
    int direction;
    /* How many series the KPI's false-discovery control weighs this one
     * against (the pipeline keeps it current; 0 or 1 = alone). Evidence
     * that must beat it is allowed to grow that much further. */
    double multiplicity;
};

/* KW_DIR_AUTO (the default) alerts on the KPI's bad side (info.direction). */
enum kw_direction { KW_DIR_BOTH = 0, KW_DIR_UP = 1, KW_DIR_DOWN = 2, KW_DIR_AUTO = 3 };

struct kw_verdict {
    bool ready;           /* false while warming up or on a missing interval; nothing below is meaningful then */
    bool anomalous;       /* the detector's own test fired (before the generic filters) */
    int direction;        /* +1 value above expected, -1 below, 0 equal */
    double expected;      /* what the detector expected for this interval */
    double lower, upper;  /* values outside [lower, upper] are anomalous (surprise: context only, see surprise.c) */
    double score;         /* native statistic, signed + above / - below (z, -log10 p, S/h, ...) */
    double anomaly_score; /* in [0,1], rises with the evidence; 0.5 at the detector's alert threshold */
    double severity;      /* 0..100; set by the wrapper from anomaly_score */
    /* The evidence as a p-value on the verdict's side, and the level it was
     * held against (anomalous = p_value < p_level before the generic
     * filters); NAN when the detector has no p-value. The pipeline uses
     * them for false-discovery control across a KPI's series. */
    double p_value, p_level;
};

/* One detector type. Everything in a detector's .c file is static except its
 * `const struct kw_detector_type NAME_detector`, listed in registry.c. */
struct kw_detector_type {
    const char *name;
    const char *description;
    const struct kw_option *options; /* the type's own keys; KW_OPT_END terminated */
    size_t config_size;              /* size of the type's config struct */
    /* Meaning checks after options are filled (e.g. "high must be > low").
     * May be NULL. Returns 0, or -1 with "path.key: reason" in err. */
    int (*config_check)(void *cfg, const char *path, char *err, size_t errlen);
    /* Free what config_check allocated beyond the option table. May be NULL. */
    void (*config_release)(void *cfg);
    /* Whether this type can run on a series of this kind; NULL = any. On
     * mismatch returns -1 with a reason (e.g. "needs a ratio KPI"). */
    int (*accepts)(const void *cfg, const struct kw_series_info *info, char *err, size_t errlen);
    /* New zeroed per-series state. Never fails. */
    void *(*state_new)(const void *cfg, const struct kw_series_info *info);
    /* Consume one interval and fill the verdict (already zeroed by the caller).
     * Must handle NAN value (missing interval): leave learned state usable and
     * return ready=false. Must be O(1) or O(log w) amortised where an
     * incremental form exists. */
    void (*update)(void *state, const void *cfg, const struct kw_series_info *info,
                   const struct kw_sample *in, struct kw_verdict *out);
    /* Serialise the state to a new cJSON value; the caller owns it. */
    cJSON *(*state_save)(const void *state, const void *cfg);
    /* Restore into a state from state_new. Returns 0, or -1 when the JSON does
     * not match this config (the caller then starts from a fresh state). */
    int (*state_load)(void *state, const void *cfg, const cJSON *json);
    /* Free the state; accepts NULL. */
    void (*state_free)(void *state);
    /* Bytes of state for one series (for the memory figures); may be NULL. */
    size_t (*state_bytes)(const void *state);
    /* Operator feedback on the series' latest alert: false_alarm = true
     * learns what alerted as normal and makes the series' test stricter
     * (within the type's documented bounds); false (confirmed) undoes one
     * such step. May be NULL: the feedback is then only recorded. */
    void (*feedback)(void *state, const void *cfg, bool false_alarm);
};

/* A configured detector: a type plus its parsed options. Shared by all the
 * series of a KPI; owned by the config that parsed it. */
struct kw_detector {
    const struct kw_detector_type *type;
    void *cfg;           /* type's config struct, filled from type->options */
    int direction;       /* enum kw_direction: which side may alert */
    double min_delta;    /* absolute floor on |value - expected| to alert */
    double min_delta_rel;/* relative floor: |value - expected| >= rel * |expected| */
    int warmup;          /* extra intervals to learn before any verdict; 0 = type's own minimum */
};

/* Per-series state of a configured detector. */
struct kw_detector_state {
    uint64_t seen;       /* non-missing intervals consumed */
    void *impl;          /* the type's state */
};

/* The registry: NULL-terminated list of all detector types. */
extern const struct kw_detector_type *const kw_detector_types[];

/* The option table shared by every detector (direction, min_delta, ...). */
const struct kw_option *kw_detector_common_options(void);

/* Look up a type by name; NULL when unknown. */
const struct kw_detector_type *kw_detector_type_find(const char *name);

/* Parse {"type": NAME, ...options} into det. Unknown keys, wrong types and
 * bad ranges fail with the key path. Returns 0, or -1 with err set; on error
 * det needs no release. */
int kw_detector_parse(struct kw_detector *det, const cJSON *obj, const char *path,
                      char *err, size_t errlen);
/* kw_detector_parse, then check that det can run on series like info;
 * the error names path. Returns 0 or -1 with err (det needs no release). */
int kw_detector_parse_for(struct kw_detector *det, const cJSON *obj, const struct kw_series_info *info,
                          const char *path, char *err, size_t errlen);
/* The detector a KPI gets when its config names none: chosen by the kind of
 * series (see registry.c), falling back to mad when the kind's default cannot
 * run on it. Returns 0 or -1 with err. */
int kw_detector_parse_default(struct kw_detector *det, const struct kw_series_info *info, const char *path,
                              char *err, size_t errlen);
/* Free det's contents (not det itself). Safe on a zeroed struct. */
void kw_detector_release(struct kw_detector *det);

/* Check that det can run on a series of this kind. Returns 0 or -1 + err. */
int kw_detector_accepts(const struct kw_detector *det, const struct kw_series_info *info,
                        char *err, size_t errlen);

/* Create per-series state. Never fails. */
void kw_detector_state_init(struct kw_detector_state *st, const struct kw_detector *det,
                            const struct kw_series_info *info);
/* Free the per-series state's contents. Safe on a zeroed struct. */
void kw_detector_state_release(struct kw_detector_state *st, const struct kw_detector *det);

/* Run one interval through det and apply the generic rules: warmup,
 * direction, min_delta and min_delta_rel, and severity = 100 * anomaly_score.
 * out is fully written. */
void kw_detector_update(struct kw_detector_state *st, const struct kw_detector *det,
                        const struct kw_series_info *info, const struct kw_sample *in,
                        struct kw_verdict *out);

/* The side det may alert on for a series like info (auto resolved). */
int kw_detector_direction(const struct kw_detector *det, const struct kw_series_info *info);

/* Pass operator feedback to the type. Returns true when the type learned
 * from it, false when it has no feedback callback. */
bool kw_detector_feedback(struct kw_detector_state *st, const struct kw_detector *det, bool false_alarm);

/* Save st as {"seen": N, "state": ...}; the caller owns the result. */
cJSON *kw_detector_state_save(const struct kw_detector_state *st, const struct kw_detector *det);
/* Restore st (from kw_detector_state_init) from JSON. Returns 0 or -1 (st
 * then stays fresh). */
int kw_detector_state_load(struct kw_detector_state *st, const struct kw_detector *det,
                           const cJSON *json);

/* Shared helpers for detector implementations. */

/* Map a non-negative statistic x to [0,1): x / (x + threshold), so the score
 * is 0.5 exactly at the alert threshold and rises with the evidence. */
double kw_squash(double x, double threshold);
/* -log10 of a tail probability, floored so p = 0 gives a large finite value. */
double kw_neglog10(double p);

/* The smallest k in [0, max] where reached(k, ctx) holds, for a predicate
 * that goes from false to true as k grows; max counts as reached without a
 * call. Gallops from guess (clamped to [0, max]; NAN = 0), then bisects:
 * O(log |answer - guess|) calls. Used to turn a tail probability into a
 * value bound. */
unsigned kw_first_reached(unsigned max, double guess, bool (*reached)(unsigned k, const void *ctx),
                          const void *ctx);
/* Second-order Cornish-Fisher: the standard-score quantile at normal
 * quantile z, for skewness g and excess kurtosis e ... */
double kw_cf_quantile(double z, double g, double e);
/* ... and its inverse: the normal quantile of standard score w. */
double kw_cf_normal(double w, double g, double e);

/* sd, floored at 1e-12 (|center| + 1), so a flat baseline still gives
 * finite scores and any real change from it stands out. */
double kw_sd_floor(double sd, double center);
/* Learn x into an exponentially weighted mean and variance (*n values so
 * far) with weight a = max(alpha, 1/n), so the first values get their plain
 * mean and 1/n variance:  d = x - mu;  mu += a d;  var = (1 - a)(var + a d^2).
 * With clip > 0, x is first clamped to mu -+ clip sd (sd as kw_sd_floor of
 * the baseline before x), so one outlier cannot drag the baseline. */
void kw_ew_learn(double *n, double *mu, double *var, double x, double alpha, double clip);

#endif
