/* alerting: the first stage of the alert engine, run where an interval
 * closes. Per (rule, series) it keeps the state machine
 *   ok --anomalous--> pending --`for` anomalous intervals--> firing
 *   firing --`resolve_after` normal intervals (and keep_firing_for)--> resolved
 * (pending that sees a normal interval goes back to ok without a word); a
 * series that flips too often is notified once as flapping, and
 * on every transition worth telling builds the alert value: severity class,
 * impact, recent history. Everything after that (routing, delivery) happens
 * below the alert queue, never here. */
#ifndef KW_ALERTING_H
#define KW_ALERTING_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../detectors/detector.h"
#include "../lib/opts.h"
#include "../notifiers/alert.h"

struct kw_kpi_config;
struct kw_series;

/* The kpis[].alert section. */
struct kw_rule_config {
    int for_intervals;        /* anomalous intervals before firing */
    int resolve_after;        /* normal intervals before resolving (hysteresis) */
    double critical_severity; /* peak severity at or above which the alert is critical */
    double min_severity;      /* verdicts below this severity count as normal */
    int64_t repeat_interval_ms; /* re-notify while firing; 0 = never */
    int64_t keep_firing_for_ms; /* stay firing this long after the last anomalous interval */
    int flap_flips;           /* flips within flap_window that make a series flapping; 0 = off */
    int64_t flap_window_ms;
    int nodata_after;         /* intervals without a point before a nodata alert; 0 = off */
};

enum kw_alert_phase { KW_PHASE_OK = 0, KW_PHASE_PENDING, KW_PHASE_FIRING };

enum kw_transition {
    KW_T_NONE = 0,   /* nothing to tell anyone */
    KW_T_FIRING,     /* became firing: notify */
    KW_T_REPEAT,     /* still firing and repeat_interval elapsed: notify again */
    KW_T_RESOLVED,   /* firing ended: notify */
    KW_T_REFRESH,    /* still firing, nothing to notify: only what it shows moved (kw_alerting_close only) */
};

struct kw_alert_state {
    int phase;                /* enum kw_alert_phase */
    int anomalous_streak;     /* consecutive anomalous intervals */
    int normal_streak;        /* consecutive normal intervals while firing */
    int intervals;            /* anomalous intervals in this incident */
    int64_t since_ms;         /* start of the incident's first anomalous interval */
    int64_t notified_ms;      /* event time of the last notification */
    double peak_severity;
    double peak_observed, peak_expected;
    double impact;            /* excess units accumulated over the incident */
    int64_t last_anomalous_ms;/* keep_firing_for counts from here */
    int flips;                /* firing/resolved transitions in the current flap window */
    int64_t flip_window_ms;   /* start of that window */
    int64_t last_flip_ms;
    bool flapping;            /* notified once as flapping; flips are not notified */
    bool notified_firing;     /* what receivers were last told */
    int64_t nodata_since;     /* a nodata alert is open: end of the last interval with data; INT64_MIN = none */
};

/* What a series keeps of its kw_alert_state. Every point and interval
 * reads the phase and the nodata mark, so they are inline; the rest is
 * allocated only while it differs from a fresh state: from an incident's
 * first anomalous interval until the series is back to ok and its flap
 * window has passed. A series that never alerts carries 24 bytes. */
struct kw_series_alert {
    int64_t nodata_since;          /* as in kw_alert_state */
    struct kw_alert_state *more;   /* NULL: the rest is a fresh state's; its phase and nodata_since are unused */
    int phase;                     /* enum kw_alert_phase */
};

/* The option table of kpis[].alert. */
extern const struct kw_option kw_rule_options[];
/* Fill rule from obj (NULL = all defaults); unknown keys are errors.
 * Returns 0 or -1 with "path.key: reason". */
int kw_rule_parse(struct kw_rule_config *rule, const cJSON *obj, const char *path, char *err, size_t errlen);
/* Free what kw_rule_parse stored. Safe on a zeroed struct. */
void kw_rule_release(struct kw_rule_config *rule);

/* Advance st by one closed interval. anomalous/severity come from the
 * verdict after rule.min_severity; excess is this interval's contribution to
 * the impact (observed minus expected, in units). Returns the transition. */
enum kw_transition kw_alerting_step(struct kw_alert_state *st, const struct kw_rule_config *rule,
                                    bool anomalous, double severity, double excess,
                                    double observed, double expected, int64_t at_ms);

/* Run one closed interval's verdict through s's state machine. On a
 * transition worth telling, fill *out and return it (else KW_T_NONE and out
 * is untouched). An interval of a firing series that changes nothing to
 * tell returns KW_T_REFRESH with *out as it stands now (value, duration,
 * impact so far, severity), so that what is shown of an open incident does
 * not stay at its first interval. The band is clipped to what the KPI's
 * kind allows. */
enum kw_transition kw_alerting_close(struct kw_series *s, const struct kw_kpi_config *kpi,
                                     const struct kw_sample *sample, struct kw_verdict *v, struct kw_alert *out);
/* A firing series that stopped reporting at event time at_ms: end its
 * incident and fill the resolve into *out. Returns false when s was not
 * firing (nothing to tell). */
bool kw_alerting_resolve_silent(struct kw_series *s, const struct kw_kpi_config *kpi, int64_t at_ms,
                                struct kw_alert *out);

/* Nodata: at event time clock, open a nodata alert for s when it has had no
 * point for kpi.alert.nodata_after intervals, or close the open one when
 * points came back. Returns true with *out filled when there is something
 * to tell. */
bool kw_alerting_nodata(struct kw_series *s, const struct kw_kpi_config *kpi, int64_t clock, struct kw_alert *out);
/* The event time at which s's nodata alert would open (INT64_MAX: never,
 * or it is open). */
int64_t kw_alerting_nodata_due(const struct kw_series *s, const struct kw_kpi_config *kpi);
/* s is being forgotten (series_ttl): close its open nodata alert, if any,
 * into *out. Returns whether there was one. */
bool kw_alerting_nodata_end(struct kw_series *s, const struct kw_kpi_config *kpi, int64_t clock, struct kw_alert *out);
/* The key of s's nodata alert (differs from its anomaly alert's key). */
void kw_alerting_nodata_key(const struct kw_series *s, char out[24]);

/* The full state of a series' alert (a copy). */
void kw_alerting_get(const struct kw_series_alert *a, struct kw_alert_state *st);
/* Store st in a, allocating the rest only when it is not a fresh state's. */
void kw_alerting_set(struct kw_series_alert *a, const struct kw_alert_state *st);
/* Free what a holds; a is then a fresh state. Accepts a zeroed struct. */
void kw_alerting_release(struct kw_series_alert *a);

/* Save / load for the state store. Load returns 0, or -1 when json is not a
 * saved state (st is then untouched). */
cJSON *kw_alerting_save(const struct kw_alert_state *st);
int kw_alerting_load(struct kw_alert_state *st, const cJSON *json);

#endif
