/* lineproto: the InfluxDB line protocol reader, the second wire format of an
 * input ("format": "influx"). One message holds any number of lines:
 *   measurement[,tag=value...] field=value[,field=value...] [timestamp]
 * Each numeric field of a line becomes one point: metric = measurement when
 * the field key is "value", else measurement + "_" + field key; labels = the
 * tags; the timestamp is in the input's precision, or the receive time when
 * absent. The reader parses the message in place (escapes are undone and
 * names NUL-terminated where they lie), so strings in a point borrow from
 * the message and nothing is allocated per point. Every point then goes
 * through kw_ingest_point, the same validation as a JSON point. */
#ifndef KW_LINEPROTO_H
#define KW_LINEPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "point.h"

/* Most fields on one line; a line with more is rejected as bad_line. */
#define KW_LINEPROTO_MAX_FIELDS 64
/* Room for "measurement_field" and its NUL: longer names cannot pass
 * ingest.max_metric_bytes (at most 255) anyway. */
#define KW_LINEPROTO_METRIC_BYTES 256

/* Unit of the timestamp at the end of a line. */
enum kw_lineproto_precision { KW_LINEPROTO_NS = 0, KW_LINEPROTO_US, KW_LINEPROTO_MS, KW_LINEPROTO_S };
/* "ns", "us", "ms", "s", NULL: the choices of an input's "precision". */
extern const char *const kw_lineproto_precisions[];

enum kw_lineproto_kind { KW_LINEPROTO_FLOAT, KW_LINEPROTO_INT, KW_LINEPROTO_UINT, KW_LINEPROTO_BOOL,
                         KW_LINEPROTO_STRING };

struct kw_lineproto_field {
    const char *key;
    enum kw_lineproto_kind kind;
    double value;    /* numbers; booleans as 1 or 0 */
    const char *str; /* KW_LINEPROTO_STRING: the unescaped text */
};

/* One parsed line. Strings point into the line that was parsed. */
struct kw_lineproto_line {
    const char *measurement;
    struct kw_label tags[KW_MAX_LABELS];
    int ntags;
    struct kw_lineproto_field fields[KW_LINEPROTO_MAX_FIELDS];
    int nfields;
    bool has_ts;
    int64_t ts_ms;
};

/* Parse the len bytes at line (one line without its newline; a trailing CR
 * is part of len only if the caller left it) in place: the bytes are
 * rewritten. Checks the grammar only, not what names mean. Returns 0, or -1
 * with the reason (bad_line, bad_escape, missing_field, bad_value,
 * bad_timestamp, duplicate_field, too_many_labels, nul_character) and a
 * detail for logs. Cannot fail otherwise; allocates nothing. */
int kw_lineproto_parse_line(char *line, size_t len, int precision, struct kw_lineproto_line *out,
                            enum kw_reject *why, char *detail, size_t dlen);

/* Read a message of len bytes at data (rewritten in place; need not be
 * NUL-terminated) with timestamps in precision (enum
 * kw_lineproto_precision) and hand each valid point to sink, as
 * kw_ingest_message does for JSON. Blank lines and lines starting with #
 * are skipped; a bad line is counted in stats under its reason and logged
 * under source, and never stops the lines after it. String field values
 * are counted as string_field; the line's numeric fields still count. */
void kw_lineproto_ingest(const struct kw_ingest_limits *lim, struct kw_ingest_stats *stats, const char *source,
                         int precision, char *data, size_t len, int64_t now_ms, kw_point_sink sink, void *ctx);

#endif
