/* alert: the alert value that flows from the alert engine to notifiers.
 * A plain fixed-size struct: it can be copied into queues and spool files
 * with no question of who owns what. */
#ifndef KW_ALERT_H
#define KW_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define KW_ALERT_MAX_LABELS 8
#define KW_ALERT_LABEL_NAME 64
#define KW_ALERT_LABEL_VALUE 256
#define KW_ALERT_HISTORY 24
#define KW_ALERT_TEXT 256
#define KW_ALERT_CONTRIBUTORS 5

enum kw_alert_status { KW_ALERT_FIRING = 0, KW_ALERT_RESOLVED = 1 };
enum kw_alert_severity { KW_SEV_WARNING = 0, KW_SEV_CRITICAL = 1 };
enum kw_kpi_kind { KW_KIND_COUNT = 0, KW_KIND_RATE, KW_KIND_CONTINUOUS };
/* What the alert is about. */
enum kw_alert_cause {
    KW_CAUSE_ANOMALY = 0, /* the detector judged the KPI's value anomalous */
    KW_CAUSE_NODATA,      /* the series (or the whole KPI) stopped arriving */
};

struct kw_alert_label {
    char name[KW_ALERT_LABEL_NAME];
    char value[KW_ALERT_LABEL_VALUE];
};

/* A child series of a roll-up and its part in the roll-up's deviation. */
struct kw_alert_contributor {
    char labels[KW_ALERT_TEXT];        /* "journey=checkout, step=payment" */
    double observed, expected;
    double excess;                     /* in units, in the alert's direction */
    double share;                      /* excess / total excess of the children, 0..1 */
};

struct kw_alert {
    char key[24];                      /* stable id of (kpi, labels): 16 hex digits */
    char kpi[KW_ALERT_LABEL_NAME];
    char description[KW_ALERT_TEXT];
    char unit[KW_ALERT_LABEL_NAME];    /* e.g. "complaints", "drop-offs" */
    char detector[32];
    char runbook[KW_ALERT_TEXT];
    char dashboard[KW_ALERT_TEXT];
    char currency[8];
    struct kw_alert_label labels[KW_ALERT_MAX_LABELS];
    int nlabels;
    int status;                        /* enum kw_alert_status */
    bool repeat;                       /* firing, and already notified: a reminder */
    bool flapping;                     /* the series keeps firing and resolving; flips are not notified */
    int flips;                         /* firing/resolved flips in the flap window */
    int severity;                      /* enum kw_alert_severity */
    int kind;                          /* enum kw_kpi_kind */
    int direction;                     /* +1 above expected, -1 below */
    double severity_score;             /* 0..100, peak while firing */
    double observed, expected, lower, upper, score;
    double peak_observed, peak_expected; /* the worst interval of the incident */
    double denominator;                /* rate KPIs: trials in the last interval */
    double impact;                     /* excess units over the incident (e.g. extra complaints) */
    double cost_per_unit;              /* 0 = no cost estimate */
    int64_t since_ms;                  /* start of the first anomalous interval */
    int64_t at_ms;                     /* start of the interval that caused this notification */
    int64_t interval_ms;
    int intervals;                     /* anomalous intervals in the incident so far */
    double history[KW_ALERT_HISTORY];  /* recent values, oldest first; NAN = no data */
    int nhistory;
    int cause;                         /* enum kw_alert_cause */
    char rollup_of[KW_ALERT_LABEL_NAME]; /* a roll-up: the KPI it sums up ("" = none) */
    struct kw_alert_contributor contributors[KW_ALERT_CONTRIBUTORS]; /* roll-ups: largest first */
    int ncontributors;
};

/* The alert as an exact JSON object for the spool and state files (not for
 * people: see kw_alert_to_json). Doubles are printed so they read back
 * bit-identical; NaN is null, +/-Inf the strings "inf"/"-inf". Only the used
 * labels and history values are written. The caller owns the result; never
 * fails. */
cJSON *kw_alert_save(const struct kw_alert *a);
/* Read an object written by kw_alert_save into a (zeroed first). Validates
 * everything: strings must fit their fields, counts their arrays, enums
 * their range, integers must be integral and in range, doubles finite, null
 * (NaN) or "inf"/"-inf". Returns 0, or -1 (a is then zeroed). */
int kw_alert_load(struct kw_alert *a, const cJSON *json);
/* kw_alert_load that also says which field was wrong ("labels[2].name: too
 * long") in err on failure. */
int kw_alert_load_err(struct kw_alert *a, const cJSON *json, char *err, size_t errlen);

#endif
