/* fuzz_history: kw_history_load of the input (as the status page's history
 * file) into a store, one more interval for a few series, a save, and a
 * check that the saved file loads every series the store held.
 * With KPIWATCH_FUZZ_SEED_DIR set, the binary instead writes realistic
 * history files (the seed corpus) into that directory and exits. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/history.h"
#include "../../agent/series.h"
#include "fuzz_common.h"

#define MAX_SERIES 16
#define WINDOW_MS 86400000LL
#define STEP_MS 60000LL /* the 1-minute KPIs of FZ_PIPELINE_CONFIG */
#define NSERIES 3

static struct kw_config cfg;
static char path[128], saved_path[128];

/* complaints{journey=checkout}, complaints{journey=claims}, dropoff{journey=checkout,step=pay} */
static void make_series(struct kw_series *s[NSERIES])
{
    static const char checkout[] = "checkout", claims[] = "claims", pay[] = "checkout\0pay";
    const struct {
        int kpi;
        const char *values;
        size_t len;
    } def[NSERIES] = {{0, checkout, sizeof checkout}, {0, claims, sizeof claims}, {1, pay, sizeof pay}};
    for (int i = 0; i < NSERIES; i++)
        s[i] = kw_series_new(&cfg.kpis[def[i].kpi], def[i].kpi, kw_series_hash(def[i].kpi, def[i].values, def[i].len),
                             def[i].values, def[i].len, 0);
}

static void free_series(struct kw_series *s[NSERIES])
{
    for (int i = 0; i < NSERIES; i++)
        kw_series_free(s[i], &cfg.kpis[s[i]->kpi]);
}

/* The interval starting at ts of series s closes with value. */
static void push(struct kw_history *h, struct kw_series *s, int64_t ts, double value, bool ready, bool anomalous)
{
    s->open_start = ts + STEP_MS;
    kw_series_history_push(s, value);
    struct kw_sample sample = {.ts_ms = ts, .value = value, .numerator = NAN, .denominator = NAN};
    struct kw_verdict v = {.ready = ready, .anomalous = anomalous, .expected = 12, .lower = 4, .upper = 20,
                           .anomaly_score = anomalous ? 0.95 : 0.05};
    kw_history_sink(h, s, &cfg.kpis[s->kpi], &sample, &v);
}

static void save_or_die(struct kw_history *h, const char *to)
{
    char err[KW_ERR_LEN];
    if (kw_history_save(h, to, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
}

/* Seed corpus: a warming store, one with an anomaly, and a long one. */
static void write_seeds(const char *dir)
{
    struct kw_series *s[NSERIES];
    make_series(s);
    struct kw_history *h = kw_history_new(MAX_SERIES, WINDOW_MS);
    int64_t start = (FZ_NOW_MS / STEP_MS - 200) * STEP_MS;
    char out[512];
    for (int t = 0; t < 200; t++) {
        for (int i = 0; i < NSERIES; i++)
            push(h, s[i], start + t * STEP_MS, i == 0 && t >= 60 && t < 64 ? 95 : 10 + t % 5, t >= 5,
                 i == 0 && t >= 60 && t < 64);
        const char *name = t == 3 ? "warming" : t == 62 ? "anomalous" : t == 199 ? "long" : NULL;
        if (name) {
            snprintf(out, sizeof out, "%s/history-%s.json", dir, name);
            save_or_die(h, out);
        }
    }
    kw_history_free(h);
    free_series(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init(&cfg, FZ_PIPELINE_CONFIG, write_seeds);
    fz_tmp_path(path, sizeof path, "history");
    fz_tmp_path(saved_path, sizeof saved_path, "history-saved");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write(path, data, size);
    struct kw_history *h = kw_history_new(MAX_SERIES, WINDOW_MS);
    char err[KW_ERR_LEN];
    kw_history_load(h, cfg.kpis, cfg.nkpis, path, err, sizeof err);
    /* the restored series take points as admitted ones do */
    struct kw_series *s[NSERIES];
    make_series(s);
    int64_t now = (FZ_NOW_MS / STEP_MS) * STEP_MS;
    for (int i = 0; i < NSERIES; i++)
        push(h, s[i], now, 50, true, i == 0);
    struct kw_history_entry *list;
    size_t n = kw_history_list(h, NULL, true, 0, &list);
    kw_history_entries_free(list, n);
    size_t tracked, bytes;
    kw_history_usage(h, &tracked, &bytes);
    /* what the store holds, its file must give back */
    save_or_die(h, saved_path);
    struct kw_history *back = kw_history_new(MAX_SERIES, WINDOW_MS);
    int loaded = kw_history_load(back, cfg.kpis, cfg.nkpis, saved_path, err, sizeof err);
    if (loaded != (int)tracked) {
        fprintf(stderr, "a saved history loads %d of its %zu series: %s\n", loaded, tracked, err);
        abort();
    }
    kw_history_free(back);
    kw_history_free(h);
    free_series(s);
    return 0;
}
