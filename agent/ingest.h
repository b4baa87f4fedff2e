/* ingest: turn raw messages into validated points. Every reader (JSON here,
 * CSV in csv.c, line protocol in lineproto.c) reads the shape of a point
 * and then calls the same validation, kw_point_check, so a point is judged
 * the same whatever its format. The JSON reader accepts one point, an
 * array of points, or newline-delimited points:
 *   {"metric":"complaints","labels":{"journey":"checkout"},"value":3,"ts":1700000000}
 * Every rejected point or message is counted by reason and logged at doubling
 * intervals, so a flood of bad input neither crashes nor floods the log. */
#ifndef KW_INGEST_H
#define KW_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../lib/opts.h"
#include "point.h"

struct kw_ingest_limits {
    int max_labels;            /* per point, <= KW_MAX_LABELS */
    int max_label_bytes;       /* label name or value */
    int max_metric_bytes;
    int max_message_bytes;
    bool receive_thread;       /* receive and parse on a thread of their own (reader.h) */
    int queue_bytes;           /* bound on parsed points waiting for the pipeline thread */
    int64_t max_past_ms;       /* reject ts older than now - max_past (0 = no check) */
    int64_t max_future_ms;     /* reject ts newer than now + max_future (0 = no check) */
    bool check_time;           /* false in replay and demo (recorded or compressed time) */
};

struct kw_ingest_stats {
    uint64_t messages;
    uint64_t points_accepted;
    uint64_t rejected[KW_REJ_COUNT];
};

/* Receives each valid point. Returns 0 when the point was taken, or -1 with
 * *why set when a later stage refused it (late, series limit). */
typedef int (*kw_point_sink)(void *ctx, const struct kw_point *pt, enum kw_reject *why);

/* The ingest option table and parser (the "ingest" section). */
extern const struct kw_option kw_ingest_options[];
int kw_ingest_parse(struct kw_ingest_limits *lim, const cJSON *obj, const char *path, char *err, size_t errlen);
void kw_ingest_release(struct kw_ingest_limits *lim);

/* The one validation every reader (JSON, CSV, line protocol) applies to a
 * point it has read: metric name, finite value, labels (count, names,
 * UTF-8, lengths, duplicates) and, when lim->check_time, the timestamp
 * against now_ms. Returns 0, or -1 with the reason and a detail for logs. */
int kw_point_check(const struct kw_ingest_limits *lim, const struct kw_point *pt, int64_t now_ms,
                   enum kw_reject *why, char *detail, size_t dlen);
/* Check pt, hand it to sink, and count the outcome in stats (rejections
 * are logged under source at doubling intervals). */
void kw_ingest_point(const struct kw_ingest_limits *lim, struct kw_ingest_stats *stats, const char *source,
                     const struct kw_point *pt, int64_t now_ms, kw_point_sink sink, void *ctx);

/* Parse one message of len bytes (need not be NUL-terminated) and hand each
 * valid point to sink. now_ms is the wall clock for the age checks. Never
 * fails as a whole: bad parts are counted in stats and logged under source. */
void kw_ingest_message(const struct kw_ingest_limits *lim, struct kw_ingest_stats *stats,
                       const char *source, const char *data, size_t len, int64_t now_ms,
                       kw_point_sink sink, void *ctx);

/* Give back the memory this thread's JSON parsing keeps between messages;
 * a thread that called kw_ingest_message calls this before it ends. */
void kw_ingest_thread_end(void);

/* Count one rejection and log it when the count reaches a power of two. */
void kw_ingest_reject(struct kw_ingest_stats *stats, const char *source, enum kw_reject why,
                      const char *detail);

/* True when the len bytes at s are well-formed UTF-8 (no overlongs, no
 * surrogates, nothing truncated). */
bool kw_utf8_valid(const char *s, size_t len);

#endif
