/* csv: CSV rows to validated points. */
#include "csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"

#define MAX_COLUMNS (KW_MAX_LABELS + 3)

/* Split a CSV line in place (simple CSV: quotes allowed around a field
 * without embedded commas). Returns the number of fields. */
static int split_csv(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        while (*p == ' ')
            p++;
        char *start = p;
        if (*p == '"') {
            start = ++p;
            while (*p && *p != '"')
                p++;
            if (*p == '"')
                *p++ = '\0';
        }
        while (*p && *p != ',')
            p++;
        fields[n++] = start;
        if (!*p)
            break;
        *p++ = '\0';
    }
    for (int i = 0; i < n; i++) { /* trim trailing whitespace / CR */
        size_t len = strlen(fields[i]);
        while (len && isspace((unsigned char)fields[i][len - 1]))
            fields[i][--len] = '\0';
    }
    return n;
}

static int parse_ts_field(const char *s, int64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s && *end == '\0' && !errno)
        return kw_time_from_number(v, ms);
    return kw_time_parse(s, ms);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int kw_csv_load(struct kw_csv *csv, const char *path)
{
    memset(csv, 0, sizeof *csv);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len == 0 || (len == 1 && line[0] == '\n'))
            continue;
        if (csv->n == csv->cap) {
            csv->cap = csv->cap ? csv->cap * 2 : 1024;
            csv->lines = xrealloc(csv->lines, csv->cap * sizeof *csv->lines);
        }
        csv->lines[csv->n++] = xstrndup(line, (size_t)len);
    }
    free(line);
    fclose(f);
    return 0;
}

void kw_csv_release(struct kw_csv *csv)
{
    for (size_t i = 0; i < csv->n; i++)
        free(csv->lines[i]);
    free(csv->lines);
    memset(csv, 0, sizeof *csv);
}

struct columns {
    char *header_copy;
    char *names[MAX_COLUMNS];
    int ncols;
    bool header;
    int ts_col, value_col, metric_col;
};

static void read_columns(const struct kw_csv *csv, struct columns *c)
{
    memset(c, 0, sizeof *c);
    c->value_col = 1;
    c->metric_col = -1;
    if (csv->n == 0)
        return;
    c->header_copy = xstrdup(csv->lines[0]);
    c->ncols = split_csv(c->header_copy, c->names, MAX_COLUMNS);
    int64_t probe;
    c->header = !(c->ncols > 0 && parse_ts_field(c->names[0], &probe) == 0);
    for (int i = 0; c->header && i < c->ncols; i++) {
        if (strcmp(c->names[i], "timestamp") == 0 || strcmp(c->names[i], "ts") == 0 || strcmp(c->names[i], "time") == 0)
            c->ts_col = i;
        else if (strcmp(c->names[i], "value") == 0)
            c->value_col = i;
        else if (strcmp(c->names[i], "metric") == 0)
            c->metric_col = i;
    }
}

int64_t kw_csv_spacing(const struct kw_csv *csv)
{
    struct columns c;
    read_columns(csv, &c);
    size_t n = csv->n > 2001 ? 2001 : csv->n;
    int64_t *deltas = xmalloc((n ? n : 1) * sizeof *deltas);
    size_t nd = 0;
    int64_t prev = INT64_MIN;
    for (size_t i = c.header ? 1 : 0; i < n; i++) {
        char *copy = xstrdup(csv->lines[i]);
        char *fields[MAX_COLUMNS];
        int nf = split_csv(copy, fields, MAX_COLUMNS);
        int64_t ts;
        if (nf > c.ts_col && parse_ts_field(fields[c.ts_col], &ts) == 0) {
            if (prev != INT64_MIN && ts > prev)
                deltas[nd++] = ts - prev;
            prev = ts;
        }
        free(copy);
    }
    int64_t spacing = 0;
    if (nd) {
        qsort(deltas, nd, sizeof *deltas, cmp_i64);
        spacing = deltas[nd / 2];
    }
    free(deltas);
    free(c.header_copy);
    return spacing;
}

static bool is_nonfinite_text(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    return end != s && *end == '\0' && !isfinite(v);
}

void kw_csv_ingest(struct kw_csv *csv, const char *path, const char *metric, const struct kw_ingest_limits *lim,
                   struct kw_ingest_stats *stats, kw_point_sink sink, void *ctx)
{
    struct columns c;
    read_columns(csv, &c);
    for (size_t r = c.header ? 1 : 0; r < csv->n; r++) {
        char source[512];
        snprintf(source, sizeof source, "%s:%zu", path, r + 1);
        stats->messages++;
        char *fields[MAX_COLUMNS];
        int nf = split_csv(csv->lines[r], fields, MAX_COLUMNS);
        struct kw_point pt = {.metric = metric};
        if (nf <= c.ts_col || nf <= c.value_col) {
            kw_ingest_reject(stats, source, KW_REJ_MISSING_FIELD, "missing the timestamp or value column");
            continue;
        }
        if (parse_ts_field(fields[c.ts_col], &pt.ts_ms)) {
            kw_ingest_reject(stats, source, KW_REJ_BAD_TIMESTAMP, "ts must be epoch seconds, epoch ms or RFC 3339");
            continue;
        }
        char *end;
        pt.value = strtod(fields[c.value_col], &end);
        if (end == fields[c.value_col] || *end) {
            kw_ingest_reject(stats, source, is_nonfinite_text(fields[c.value_col]) ? KW_REJ_NON_FINITE : KW_REJ_BAD_VALUE,
                             "value must be a finite number");
            continue;
        }
        if (c.metric_col >= 0 && c.metric_col < nf)
            pt.metric = fields[c.metric_col];
        bool too_many = false;
        for (int col = 0; c.header && col < nf && col < c.ncols; col++) {
            if (col == c.ts_col || col == c.value_col || col == c.metric_col)
                continue;
            if (pt.nlabels == KW_MAX_LABELS) {
                too_many = true;
                break;
            }
            pt.labels[pt.nlabels].name = c.names[col];
            pt.labels[pt.nlabels].value = fields[col];
            pt.nlabels++;
        }
        if (too_many) {
            kw_ingest_reject(stats, source, KW_REJ_TOO_MANY_LABELS, "more label columns than a point may have");
            continue;
        }
        kw_ingest_point(lim, stats, source, &pt, 0, sink, ctx);
    }
    free(c.header_copy);
}
