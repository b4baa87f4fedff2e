/* metrics: the agent's self-metrics in the Prometheus text exposition
 * format (version 0.0.4), rendered from a status view. Every family has
 * HELP and TYPE; counters end in _total; label values are escaped. The
 * names are listed in the README (Operations). */
#ifndef KW_METRICS_H
#define KW_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "status.h"

/* What /metrics shows beyond the status view. */
struct kw_metrics_extra {
    bool silences_known;          /* a silence store is attached */
    size_t silences_active, silences_pending;
    size_t history_series, history_bytes;
    const char *kafka;            /* the Kafka input's families (kw_kafka_metrics), or NULL */
    const cJSON *feedback_counts; /* {DETECTOR: {"false_alarm": n, "confirmed": n}} of the feedback record, or NULL */
};

/* The exposition text (caller frees; never NULL). */
char *kw_metrics_render(const struct kw_status_view *v, const struct kw_metrics_extra *x, size_t *len);

#endif
