/* fuzz_state: kw_state_load of the input (as a state file) into a pipeline
 * with one KPI per detector type, then more traffic, a save, and a check
 * that the saved file restores every series it holds.
 * With KPIWATCH_FUZZ_SEED_DIR set, the binary instead writes realistic
 * state files (the seed corpus) into that directory and exits. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/ingest.h"
#include "fuzz_common.h"

#define MEAN_KPI(name, det)                                                                                  \
    "{\"name\":\"" name "\",\"metric\":\"claim_handling_minutes\",\"aggregation\":\"mean\",\"interval\":\"5m\"," \
    "\"group_by\":[\"journey\"],\"detector\":" det ",\"alert\":{\"for\":1,\"resolve_after\":2}}"

/* Small windows and seasons so a few hours of traffic warm every detector. */
#define STATE_CONFIG                                                                                          \
    "{\"agent\":{\"log_level\":\"off\",\"max_series\":500,\"series_ttl\":\"24h\"},"                          \
    "\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"5m\"},"                                              \
    "\"kpis\":["                                                                                             \
    "{\"name\":\"complaints\",\"metric\":\"complaints\",\"aggregation\":\"sum\",\"interval\":\"5m\","       \
    "\"group_by\":[\"journey\"],\"quantile_samples\":16,"                                                    \
    "\"detector\":{\"type\":\"poisson\",\"min_points\":5},\"alert\":{\"for\":1,\"resolve_after\":2}},"        \
    "{\"name\":\"step_dropoff_rate\",\"metric\":\"journey_step_dropoffs\","                                 \
    "\"denominator\":\"journey_step_entries\",\"aggregation\":\"ratio\",\"interval\":\"5m\","               \
    "\"group_by\":[\"journey\",\"step\"],\"match\":{\"step\":\"pay\"},"                                     \
    "\"detector\":{\"type\":\"binomial\",\"min_points\":5},\"alert\":{\"for\":1,\"resolve_after\":2}},"       \
    MEAN_KPI("handling_mad", "{\"type\":\"mad\",\"window\":16,\"min_points\":8}") ","                       \
    MEAN_KPI("handling_esd", "{\"type\":\"esd\",\"window\":36,\"season\":\"1h\",\"min_points\":12}") ","   \
    MEAN_KPI("handling_cusum", "{\"type\":\"cusum\",\"min_points\":5,\"rebaseline_after\":5}") ","          \
    MEAN_KPI("handling_zscore", "{\"type\":\"zscore\",\"window\":16,\"min_points\":8}") ","                 \
    MEAN_KPI("handling_ensemble", "{\"type\":\"ensemble\",\"combine\":\"vote\",\"members\":["              \
             "{\"type\":\"mad\",\"window\":16,\"min_points\":8},{\"type\":\"ewma\",\"min_points\":5}]}") ","     \
    MEAN_KPI("handling_threshold", "{\"type\":\"threshold\",\"high\":50}") ","                              \
    "{\"name\":\"cart_visits\",\"metric\":\"journey_step_entries\",\"match\":{\"step\":\"cart\"},"          \
    "\"aggregation\":\"sum\",\"kind\":\"continuous\",\"interval\":\"5m\",\"group_by\":[\"journey\"],"        \
    "\"detector\":{\"type\":\"holt_winters\",\"season\":\"1h\"},\"alert\":{\"for\":1,\"resolve_after\":2}}," \
    "{\"name\":\"visits_per_hour\",\"metric\":\"visits\",\"aggregation\":\"sum\",\"kind\":\"continuous\","  \
    "\"interval\":\"1h\",\"group_by\":[\"journey\"],"                                                        \
    "\"detector\":{\"type\":\"seasonal\",\"period\":\"hour_of_day\",\"history\":3,\"min_history\":1}},"     \
    "{\"name\":\"page_latency_ms\",\"metric\":\"page_latency_ms\",\"aggregation\":\"quantile\","           \
    "\"quantile\":0.9,\"quantile_samples\":16,\"interval\":\"1m\",\"lateness\":\"2m\",\"group_by\":[\"journey\"]," \
    "\"detector\":{\"type\":\"ewma\",\"min_points\":5},\"alert\":{\"for\":1,\"resolve_after\":2}},"           \
    "{\"name\":\"value\",\"metric\":\"value\",\"aggregation\":\"last\",\"interval\":\"native\","            \
    "\"detector\":{\"type\":\"surprise\",\"window\":16,\"season\":\"1h\",\"seasons\":2,\"week\":\"2h\","   \
    "\"season_window\":16,\"history\":20,\"min_history\":10,\"hold_off\":3},"                              \
    "\"alert\":{\"for\":1,\"resolve_after\":2}}"                                                             \
    "]}"

#define STEP_MS 300000LL

static struct kw_config cfg;
static char path[128], saved_path[128];

/* Five minutes of traffic on every KPI starting at ts (ms); incident
 * raises complaints, drop-offs and handling time on checkout. */
static void feed_step(struct kw_pipeline *p, int64_t ts, bool incident, int64_t now)
{
    static const char *const journeys[] = {"checkout", "claims"};
    char msg[4096];
    long long t = (long long)(ts / 1000);
    for (int j = 0; j < 2; j++) {
        bool hit = incident && j == 0;
        const char *jn = journeys[j];
        int n = snprintf(msg, sizeof msg,
            "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"%s\"},\"value\":%d,\"ts\":%lld}\n"
            "{\"metric\":\"journey_step_entries\",\"labels\":{\"journey\":\"%s\",\"step\":\"pay\"},\"value\":200,\"ts\":%lld}\n"
            "{\"metric\":\"journey_step_dropoffs\",\"labels\":{\"journey\":\"%s\",\"step\":\"pay\"},\"value\":%d,\"ts\":%lld}\n"
            "{\"metric\":\"journey_step_entries\",\"labels\":{\"journey\":\"%s\",\"step\":\"cart\"},\"value\":%d,\"ts\":%lld}\n"
            "{\"metric\":\"claim_handling_minutes\",\"labels\":{\"journey\":\"%s\"},\"value\":%.2f,\"ts\":%lld}\n"
            "{\"metric\":\"visits\",\"labels\":{\"journey\":\"%s\"},\"value\":%d,\"ts\":%lld}\n",
            jn, hit ? 95 : 15 + (int)(t % 7), t, jn, t, jn, hit ? 140 : 20 + (int)(t % 5), t,
            jn, 300 + (int)((t / 300) % 12) * 10, t, jn, hit ? 75.0 : 30.0 + (double)(t % 11) / 3.0, t,
            jn, 100 + (int)(t % 13), t);
        for (int m = 0; m < 5; m++)
            n += snprintf(msg + n, sizeof msg - (size_t)n,
                          "{\"metric\":\"page_latency_ms\",\"labels\":{\"journey\":\"%s\"},\"value\":%d,\"ts\":%lld}\n",
                          jn, hit ? 2500 : 200 + (int)((t + m) % 17) * 3, t + m * 60);
        if (j == 0)
            snprintf(msg + n, sizeof msg - (size_t)n, "{\"metric\":\"value\",\"value\":%.3f,\"ts\":%lld}",
                     hit ? 99.0 : 50.0 + (double)(t % 9) / 4.0, t);
        kw_ingest_message(&cfg.ingest, &p->ingest, "fuzz", msg, strlen(msg), now, kw_pipeline_point, p);
    }
    kw_pipeline_tick(p, now);
}

/* Seed corpus: state after warm-up, while an incident fires, after it
 * resolved, and of a pipeline that saw only a few points. */
static void write_seeds(const char *dir)
{
    struct kw_pipeline p;
    fz_pipeline(&p, &cfg, true);
    int64_t start = (FZ_NOW_MS / STEP_MS - 60) * STEP_MS;
    char out[512];
    for (int i = 0; i < 60; i++) {
        int64_t ts = start + i * STEP_MS + 7000;
        feed_step(&p, ts, i >= 40 && i < 43, ts + 2000);
        const char *name = i == 2 ? "fresh" : i == 20 ? "young" : i == 38 ? "warm" : i == 42 ? "firing" : i == 44 ? "firing-late" : i == 59 ? "resolved" : NULL;
        if (name) {
            snprintf(out, sizeof out, "%s/state-%s.json", dir, name);
            fz_state_save(&p, out);
        }
    }
    kw_pipeline_release(&p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init(&cfg, STATE_CONFIG, write_seeds);
    fz_tmp_path(path, sizeof path, "state");
    fz_tmp_path(saved_path, sizeof saved_path, "state-saved");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write(path, data, size);
    struct kw_pipeline p;
    fz_pipeline(&p, &cfg, true);
    char err[KW_ERR_LEN];
    kw_state_load(&p, path, err, sizeof err);
    kw_pipeline_resume(&p); /* as at start-up: the time since the save is a gap */
    int64_t next = (FZ_NOW_MS / STEP_MS) * STEP_MS;
    for (int i = 0; i < 3; i++)
        feed_step(&p, next + i * STEP_MS + 7000, i == 1, next + i * STEP_MS + 9000);
    fz_check_restore(&p, saved_path, false);
    kw_pipeline_release(&p);
    return 0;
}
