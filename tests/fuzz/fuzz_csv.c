/* fuzz_csv: replay's CSV path. The input is written to a temp file and read
 * as `kpiwatch replay` reads a CSV: kw_csv_load, the inferred spacing for
 * native KPIs, kw_csv_ingest into the pipeline with a tick after every
 * accepted row, then the final flush; every series must then survive a
 * state save and restore. */
#include <stddef.h>
#include <stdint.h>

#include "../../agent/csv.h"
#include "fuzz_common.h"

/* A native KPI (as NAB replays run) and a 5-minute one split by a label
 * column; rows without a metric column are "value". */
#define CSV_CONFIG                                                                                        \
    "{\"agent\":{\"log_level\":\"off\",\"max_series\":100},"                                             \
    "\"kpis\":["                                                                                         \
    "{\"name\":\"value\",\"metric\":\"value\",\"aggregation\":\"last\",\"interval\":\"native\","        \
    "\"detector\":{\"type\":\"mad\",\"window\":16,\"min_points\":8},\"alert\":{\"for\":1,\"resolve_after\":1}}," \
    "{\"name\":\"value_5m\",\"metric\":\"value\",\"aggregation\":\"mean\",\"interval\":\"5m\","         \
    "\"group_by\":[\"journey\"],\"detector\":{\"type\":\"zscore\",\"window\":16,\"min_points\":8},"       \
    "\"alert\":{\"for\":1,\"resolve_after\":1}},"                                                        \
    "{\"name\":\"complaints\",\"metric\":\"complaints\",\"aggregation\":\"sum\",\"interval\":\"5m\","   \
    "\"group_by\":[\"journey\"],\"detector\":{\"type\":\"poisson\",\"min_points\":3}}"                   \
    "]}"

static struct kw_config cfg;
static char path[128], state_path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init(&cfg, CSV_CONFIG, NULL);
    cfg.ingest.check_time = false; /* as replay: recorded data is old by definition */
    fz_tmp_path(path, sizeof path, "csv");
    fz_tmp_path(state_path, sizeof state_path, "csv-state");
    return 0;
}

/* Each accepted row may close intervals, as in replay. */
static int csv_sink(void *ctx, const struct kw_point *pt, enum kw_reject *why)
{
    struct kw_pipeline *p = ctx;
    int rc = kw_pipeline_point(p, pt, why);
    if (rc == 0)
        kw_pipeline_tick(p, 0);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write(path, data, size);
    struct kw_csv csv;
    if (kw_csv_load(&csv, path))
        abort();
    struct kw_pipeline p;
    fz_pipeline(&p, &cfg, false);
    int64_t spacing = kw_csv_spacing(&csv);
    if (spacing > 0)
        p.native_spacing_override_ms = spacing;
    kw_csv_ingest(&csv, path, cfg.kpis[0].metric, &cfg.ingest, &p.ingest, csv_sink, &p);
    kw_csv_release(&csv);
    kw_pipeline_flush(&p);
    /* false: a finite but absurd value (1e308) can make a detector's state
     * non-finite, and such a series is skipped on restore by design. */
    fz_check_restore(&p, state_path, false);
    kw_pipeline_release(&p);
    return 0;
}
