/* series: one KPI series (a KPI plus the values of its group_by labels) with
 * its open intervals, detector state and alert state, and the table of live
 * series: open addressing with linear probing and backward-shift deletion,
 * so lookups stay O(1) and expiry leaves no tombstones. */
#ifndef KW_SERIES_H
#define KW_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "../detectors/detector.h"
#include "aggregate.h"
#include "../notifiers/alert.h"
#include "alerting.h"

struct kw_kpi_config;

/* Laid out for the ingest path: what every point reads (the hash, the
 * clock, the timer position, the nodata mark) comes first; the group_by
 * values and then the ring of open intervals follow the record in the same
 * allocation. The alert state beyond its phase and nodata mark lives apart,
 * only while it says more than a fresh state would (alerting.h). */
struct kw_series {
    uint64_t hash;
    int64_t open_start;            /* start of the oldest open interval */
    int64_t last_point_ts;         /* latest event time seen for this series */
    struct kw_series_alert alert;
    uint32_t due_pos;              /* position in its KPI's timer queue; KW_HEAP_NONE = not queued */
    int kpi;                       /* index into the config's kpis */
    int partition;                 /* Kafka partition its points come from; -1 = not from Kafka */
    uint16_t nbuckets;             /* length of the ring (at most 64, kpi.c) */
    uint16_t values_len;           /* bytes of values (at most 8 labels x 256) */
    /* read when an interval closes */
    int64_t interval_ms;           /* the interval its detector sees (kw_series_info) */
    struct kw_detector_state det;
    int64_t last_start;            /* the last closed interval (for roll-up contributions) */
    double last_expected;          /* its expected value; NAN = detector not ready */
    double last_denominator;
    double history[KW_ALERT_HISTORY]; /* ring of recent interval values for sparklines */
    uint8_t history_pos, history_len;
    char alert_key[17];            /* stable 16-hex-digit id of (kpi name, sorted labels) */
    char values[];                 /* group_by label values, each NUL-terminated, in group_by order;
                                    * the ring follows them */
};

/* The ring of open intervals: nbuckets buckets after the values. */
static inline struct kw_bucket *kw_series_ring(const struct kw_series *s)
{
    uintptr_t end = (uintptr_t)(s->values + s->values_len);
    return (struct kw_bucket *)((end + _Alignof(struct kw_bucket) - 1) & ~(uintptr_t)(_Alignof(struct kw_bucket) - 1));
}

struct kw_series_table {
    struct kw_series **slots;
    uint16_t *tags;                /* per slot, the top 16 bits of its series' hash: a probe reads a
                                    * record only on a likely match, one cache miss per lookup instead
                                    * of one per probe (2 bytes a slot) */
    size_t cap;                    /* power of two */
    size_t count;
};

/* A new series of KPI number k (config kpi) for the group_by values blob
 * (len bytes, each value NUL-terminated, in group_by order), with fresh
 * intervals and detector state. interval_ms overrides the KPI's interval
 * length seen by the detector when > 0 (replay of native data). Never fails;
 * free with kw_series_free. */
struct kw_series *kw_series_new(const struct kw_kpi_config *kpi, int k, uint64_t hash, const char *values, size_t len,
                                int64_t interval_ms);
/* Free s and everything it owns; kpi must be the config it was made with. Accepts NULL. */
void kw_series_free(struct kw_series *s, const struct kw_kpi_config *kpi);
/* Append one closed interval's value to the sparkline history. */
void kw_series_history_push(struct kw_series *s, double v);
/* The sparkline history, oldest first, into out; returns how many values. */
int kw_series_history(const struct kw_series *s, double out[KW_ALERT_HISTORY]);
/* What s's detector is told about it: its KPI's kind and s's interval
 * (multiplicity as kw_kpi_series_info leaves it; the pipeline sets it). */
struct kw_series_info kw_series_info(const struct kw_series *s, const struct kw_kpi_config *kpi);
/* The next group_by value after v in s->values (call with s->values first). */
static inline const char *kw_series_next_value(const char *v)
{
    while (*v)
        v++;
    return v + 1;
}

/* Initialise an empty table. Never fails. */
void kw_series_table_init(struct kw_series_table *t);
/* Free every series with free_series(series, ctx), then the table's slots. */
void kw_series_table_release(struct kw_series_table *t, void (*free_series)(struct kw_series *, void *), void *ctx);

/* Hash of (kpi, values blob). */
uint64_t kw_series_hash(int kpi, const char *values, size_t len);
/* Find a series; NULL when absent. */
struct kw_series *kw_series_find(const struct kw_series_table *t, uint64_t hash, int kpi,
                                 const char *values, size_t len);
/* Insert s (not already present); the table takes no ownership of s's
 * contents beyond the pointer. Grows as needed. Never fails. */
void kw_series_insert(struct kw_series_table *t, struct kw_series *s);
/* Remove s from the table (does not free it). */
void kw_series_remove(struct kw_series_table *t, struct kw_series *s);

/* The stable alert key of (kpi name, label name=value pairs sorted by name)
 * as 16 hex digits into out[17]. */
void kw_series_alert_key(const char *kpi, const char *const *names, const char *const *values, int n,
                         char out[17]);

#endif
