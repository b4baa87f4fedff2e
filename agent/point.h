/* point: one measurement as it flows from ingest to the aggregator, and the
 * reasons a message or point can be rejected. Strings in a point borrow from
 * the parsed message and live only for the duration of one callback. */
#ifndef KW_POINT_H
#define KW_POINT_H

#include <stdint.h>

#define KW_MAX_LABELS 32 /* hard cap; ingest.max_labels is at most this */

struct kw_label {
    const char *name;
    const char *value;
};

struct kw_point {
    const char *metric;
    struct kw_label labels[KW_MAX_LABELS];
    int nlabels;
    double value;
    int64_t ts_ms; /* epoch milliseconds, UTC */
};

/* Why a point (or a whole message) was not accepted. Each has a counter. */
enum kw_reject {
    KW_REJ_MALFORMED_JSON = 0,
    KW_REJ_OVERSIZED_MESSAGE,
    KW_REJ_NOT_OBJECT,
    KW_REJ_UNKNOWN_FIELD,
    KW_REJ_MISSING_FIELD,
    KW_REJ_BAD_METRIC,
    KW_REJ_BAD_VALUE,
    KW_REJ_NON_FINITE,
    KW_REJ_BAD_TIMESTAMP,
    KW_REJ_TOO_OLD,
    KW_REJ_TOO_NEW,
    KW_REJ_TOO_MANY_LABELS,
    KW_REJ_LABEL_TOO_LONG,
    KW_REJ_BAD_LABEL,
    KW_REJ_INVALID_UTF8,
    KW_REJ_LATE,          /* behind an interval that already closed */
    KW_REJ_SERIES_LIMIT,  /* max_series reached */
    KW_REJ_NEGATIVE_COUNT,/* a negative value for a sum/ratio KPI */
    KW_REJ_EMPTY_MESSAGE, /* a message with nothing in it */
    KW_REJ_DUPLICATE_FIELD, /* metric, value, ts or labels given twice */
    KW_REJ_NUL_CHARACTER, /* \u0000 in a string: C strings would silently cut it */
    KW_REJ_BAD_LINE,      /* line protocol: a line that does not follow the grammar */
    KW_REJ_BAD_ESCAPE,    /* line protocol: a backslash that ends a line */
    KW_REJ_STRING_FIELD,  /* line protocol: a string field value (no number to watch) */
    KW_REJ_COUNT
};

/* Stable snake_case name of a reason (for logs and self-metrics). */
const char *kw_reject_name(enum kw_reject reason);

#endif
