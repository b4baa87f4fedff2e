/* replay: recorded points through the production pipeline. */
#include "replay.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ingest.h"
#include "../lib/log.h"
#include "pipeline.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"

#define MAX_COLUMNS 24

struct replay_ctx {
    const struct kw_replay_options *opt;
    FILE *scores;
    unsigned long alerts;
};

static void print_alert(void *ctx, const struct kw_alert *a)
{
    struct replay_ctx *rc = ctx;
    rc->alerts++;
    if (rc->opt->quiet)
        return;
    if (rc->opt->json) {
        cJSON *o = kw_alert_to_json(a);
        char *text = cJSON_PrintUnformatted(o);
        printf("%s\n", text);
        free(text);
        cJSON_Delete(o);
    } else {
        char line[2048];
        printf("%s\n", kw_alert_summary(a, line, sizeof line));
    }
}

static void fmt_num(char *buf, size_t len, double v)
{
    if (isfinite(v))
        snprintf(buf, len, "%.10g", v);
    else
        buf[0] = '\0';
}

static void write_score(void *ctx, const struct kw_series *s, const struct kw_kpi_config *kpi,
                        const struct kw_sample *sample, const struct kw_verdict *v)
{
    struct replay_ctx *rc = ctx;
    char ts[32], value[32], expected[32], lower[32], upper[32], score[32];
    kw_time_format_plain(sample->ts_ms, ts, sizeof ts);
    fmt_num(value, sizeof value, sample->value);
    fmt_num(expected, sizeof expected, v->ready ? v->expected : NAN);
    fmt_num(lower, sizeof lower, v->ready ? v->lower : NAN);
    fmt_num(upper, sizeof upper, v->ready ? v->upper : NAN);
    fmt_num(score, sizeof score, v->ready ? v->score : NAN);
    fprintf(rc->scores, "%s,%s", ts, kpi->name);
    const char *val = s->values;
    for (int i = 0; i < kpi->group_by.n; i++) {
        fprintf(rc->scores, "%s%s=%s", i ? ";" : "{", kpi->group_by.items[i], val);
        val += strlen(val) + 1;
    }
    fprintf(rc->scores, "%s,%s,%s,%s,%s,%s,%.6f,%d,%d\n", kpi->group_by.n ? "}" : "", value, expected, lower,
            upper, score, v->ready ? v->anomaly_score : 0.0, v->ready && v->anomalous ? 1 : 0,
            s->alert.phase == KW_PHASE_FIRING ? 1 : 0);
}

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

struct csv_rows {
    char **lines;
    size_t n, cap;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Median spacing of the first timestamps: the nominal interval of native data. */
static int64_t infer_spacing(struct csv_rows *rows, int ts_col, bool header)
{
    size_t n = rows->n > 2001 ? 2001 : rows->n;
    int64_t *deltas = xmalloc(n * sizeof *deltas);
    size_t nd = 0;
    int64_t prev = INT64_MIN;
    for (size_t i = header ? 1 : 0; i < n; i++) {
        char *copy = xstrdup(rows->lines[i]);
        char *fields[MAX_COLUMNS];
        int nf = split_csv(copy, fields, MAX_COLUMNS);
        int64_t ts;
        if (nf > ts_col && parse_ts_field(fields[ts_col], &ts) == 0) {
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
    return spacing;
}

static int read_lines(const char *path, struct csv_rows *rows)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len == 0 || (len == 1 && line[0] == '\n'))
            continue;
        if (rows->n == rows->cap) {
            rows->cap = rows->cap ? rows->cap * 2 : 1024;
            rows->lines = xrealloc(rows->lines, rows->cap * sizeof *rows->lines);
        }
        rows->lines[rows->n++] = xstrdup(line);
    }
    free(line);
    fclose(f);
    return 0;
}

static void free_rows(struct csv_rows *rows)
{
    for (size_t i = 0; i < rows->n; i++)
        free(rows->lines[i]);
    free(rows->lines);
}

static void replay_csv(struct kw_pipeline *p, struct csv_rows *rows, const char *metric, const char *source)
{
    char *header_copy = xstrdup(rows->lines[0]);
    char *names[MAX_COLUMNS];
    int ncols = split_csv(header_copy, names, MAX_COLUMNS);
    int64_t probe;
    bool header = !(ncols > 0 && parse_ts_field(names[0], &probe) == 0);
    int ts_col = 0, value_col = 1, metric_col = -1;
    if (header) {
        for (int i = 0; i < ncols; i++) {
            if (strcmp(names[i], "timestamp") == 0 || strcmp(names[i], "ts") == 0 || strcmp(names[i], "time") == 0)
                ts_col = i;
            else if (strcmp(names[i], "value") == 0)
                value_col = i;
            else if (strcmp(names[i], "metric") == 0)
                metric_col = i;
        }
    }
    int64_t spacing = infer_spacing(rows, ts_col, header);
    if (spacing > 0)
        p->native_spacing_override_ms = spacing;

    for (size_t r = header ? 1 : 0; r < rows->n; r++) {
        char *fields[MAX_COLUMNS];
        int nf = split_csv(rows->lines[r], fields, MAX_COLUMNS);
        struct kw_point pt = {.metric = metric};
        char detail[160];
        if (nf <= ts_col || nf <= value_col || parse_ts_field(fields[ts_col], &pt.ts_ms)) {
            snprintf(detail, sizeof detail, "line %zu: bad or missing timestamp", r + 1);
            kw_ingest_reject(&p->ingest, source, KW_REJ_BAD_TIMESTAMP, detail);
            continue;
        }
        char *end;
        pt.value = strtod(fields[value_col], &end);
        if (end == fields[value_col] || *end) {
            snprintf(detail, sizeof detail, "line %zu: value \"%.30s\" is not a number", r + 1, fields[value_col]);
            kw_ingest_reject(&p->ingest, source, KW_REJ_BAD_VALUE, detail);
            continue;
        }
        if (!isfinite(pt.value)) {
            snprintf(detail, sizeof detail, "line %zu: value is not finite", r + 1);
            kw_ingest_reject(&p->ingest, source, KW_REJ_NON_FINITE, detail);
            continue;
        }
        if (metric_col >= 0 && metric_col < nf)
            pt.metric = fields[metric_col];
        for (int c = 0; header && c < nf && c < ncols && pt.nlabels < KW_MAX_LABELS; c++) {
            if (c == ts_col || c == value_col || c == metric_col)
                continue;
            pt.labels[pt.nlabels].name = names[c];
            pt.labels[pt.nlabels].value = fields[c];
            pt.nlabels++;
        }
        enum kw_reject why;
        p->ingest.messages++;
        if (kw_pipeline_point(p, &pt, &why)) {
            snprintf(detail, sizeof detail, "line %zu refused", r + 1);
            kw_ingest_reject(&p->ingest, source, why, detail);
        } else {
            p->ingest.points_accepted++;
        }
        kw_pipeline_tick(p, 0);
    }
    free(header_copy);
}

/* Feed a JSON-lines file one message per line without holding it in memory. */
static int replay_jsonl(struct kw_pipeline *p, const struct kw_config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len == 0 || (len == 1 && line[0] == '\n'))
            continue;
        kw_ingest_message(&cfg->ingest, &p->ingest, path, line, (size_t)len, 0, kw_pipeline_point, p);
        kw_pipeline_tick(p, 0);
    }
    free(line);
    fclose(f);
    return 0;
}

static bool is_jsonl(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && (strcmp(dot, ".jsonl") == 0 || strcmp(dot, ".ndjson") == 0 || strcmp(dot, ".json") == 0);
}

int kw_replay_run(const struct kw_replay_options *opt, char *err, size_t errlen)
{
    struct kw_config cfg;
    if (kw_config_load(&cfg, opt->config_path, err, errlen))
        return 3;
    kw_log_set_level((enum kw_log_level)cfg.log_level);
    cfg.ingest.check_time = false; /* recorded data is old by definition */
    struct replay_ctx rc = {.opt = opt};
    if (opt->scores_path) {
        rc.scores = fopen(opt->scores_path, "w");
        if (!rc.scores) {
            snprintf(err, errlen, "%s: %s", opt->scores_path, strerror(errno));
            kw_config_release(&cfg);
            return 1;
        }
        fprintf(rc.scores, "timestamp,series,value,expected,lower,upper,score,anomaly_score,anomaly,firing\n");
    }
    const char *metric = opt->metric ? opt->metric : cfg.kpis[0].metric;
    int status = 0;
    for (int f = 0; f < opt->nfiles; f++) {
        struct kw_pipeline p;
        kw_pipeline_init(&p, &cfg);
        p.on_alert = print_alert;
        p.alert_ctx = &rc;
        if (rc.scores) {
            p.on_interval = write_score;
            p.interval_ctx = &rc;
        }
        unsigned long alerts_before = rc.alerts;
        struct csv_rows rows = {0};
        /* JSON lines stream; CSV is read whole because its first rows give the spacing. */
        int rcode = is_jsonl(opt->files[f]) ? replay_jsonl(&p, &cfg, opt->files[f])
                                            : read_lines(opt->files[f], &rows);
        if (rcode) {
            snprintf(err, errlen, "%s: %s", opt->files[f], strerror(errno));
            free_rows(&rows);
            kw_pipeline_release(&p);
            status = 1;
            break;
        }
        if (rows.n)
            replay_csv(&p, &rows, metric, opt->files[f]);
        kw_pipeline_flush(&p);
        uint64_t rejected = 0;
        for (int r = 0; r < KW_REJ_COUNT; r++)
            rejected += p.ingest.rejected[r];
        kw_info("replay", "%s: %llu points, %llu rejected, %zu series, %llu intervals, %llu anomalous, %lu alert notifications",
                opt->files[f], (unsigned long long)p.ingest.points_accepted, (unsigned long long)rejected,
                p.table.count, (unsigned long long)p.stats.intervals_closed, (unsigned long long)p.stats.anomalies,
                rc.alerts - alerts_before);
        free_rows(&rows);
        kw_pipeline_release(&p);
    }
    if (rc.scores)
        fclose(rc.scores);
    kw_config_release(&cfg);
    return status;
}
