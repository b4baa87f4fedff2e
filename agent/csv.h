/* csv: the CSV reader for replay. A file is "timestamp,value[,label...]"
 * rows with an optional header naming the columns (timestamp|ts|time,
 * value, metric, and any other column is a label of that name). Each row
 * is read into a point and goes through the same validation as a JSON
 * point (kw_ingest_point), so a bad row is rejected with the same reason. */
#ifndef KW_CSV_H
#define KW_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"

struct kw_csv {
    char **lines;
    size_t n, cap;
};

/* Read every non-empty line of path. Returns 0, or -1 with errno set. On
 * error csv needs no release. */
int kw_csv_load(struct kw_csv *csv, const char *path);
/* Free the lines. Safe on a zeroed struct. */
void kw_csv_release(struct kw_csv *csv);
/* Median spacing of the first 2,000 timestamps: the nominal interval of
 * native data, or 0 when it cannot be told. */
int64_t kw_csv_spacing(const struct kw_csv *csv);
/* Feed every row to sink through kw_ingest_point. metric names rows
 * without a metric column. Rejections are logged under "path:LINE". */
void kw_csv_ingest(struct kw_csv *csv, const char *path, const char *metric, const struct kw_ingest_limits *lim,
                   struct kw_ingest_stats *stats, kw_point_sink sink, void *ctx);

#endif
