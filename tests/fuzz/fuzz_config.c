/* fuzz_config: kw_config_parse on the input and, when it parses, what a
 * SIGHUP reload does with it: the state of a pipeline built from the
 * running (good) config is restored into a pipeline built from the fuzzed
 * config, which then takes more points and ticks; its own state must then
 * save and restore whole. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/ingest.h"
#include "fuzz_common.h"

/* conf/kpiwatch.json without its input and receiver: the running config. */
#define GOOD_CONFIG                                                                                            \
    "{\"agent\":{\"log_level\":\"off\",\"max_series\":1000,\"series_ttl\":\"24h\"},"                          \
    "\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"5m\"},"                                               \
    "\"kpis\":["                                                                                              \
    "{\"name\":\"complaints\",\"metric\":\"complaints\",\"aggregation\":\"sum\",\"interval\":\"5m\","        \
    "\"group_by\":[\"journey\"],\"detector\":{\"type\":\"poisson\",\"direction\":\"up\",\"min_points\":5},"    \
    "\"alert\":{\"for\":1,\"resolve_after\":3}},"                                                            \
    "{\"name\":\"step_dropoff_rate\",\"metric\":\"journey_step_dropoffs\","                                  \
    "\"denominator\":\"journey_step_entries\",\"aggregation\":\"ratio\",\"interval\":\"5m\","                \
    "\"group_by\":[\"journey\",\"step\"],\"detector\":{\"type\":\"binomial\",\"min_points\":5},"              \
    "\"alert\":{\"for\":1,\"resolve_after\":3}},"                                                            \
    "{\"name\":\"claim_handling_minutes\",\"metric\":\"claim_handling_minutes\",\"aggregation\":\"mean\","    \
    "\"interval\":\"5m\",\"group_by\":[\"journey\"],\"detector\":{\"type\":\"mad\",\"window\":16,\"min_points\":8}}" \
    "]}"

#define STEP_MS 300000LL
#define HISTORY 40

static char state_path[128], state2_path[128];

/* One interval of traffic for every metric of the good config; complaints
 * on checkout spike in the intervals listed as incidents. */
static void feed_interval(struct kw_pipeline *p, const struct kw_ingest_limits *lim, int64_t ts, bool incident,
                          int64_t now)
{
    char msg[1024];
    long long t = (long long)(ts / 1000);
    snprintf(msg, sizeof msg,
             "[{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":%d,\"ts\":%lld},"
             "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"claims\"},\"value\":%d,\"ts\":%lld},"
             "{\"metric\":\"journey_step_entries\",\"labels\":{\"journey\":\"checkout\",\"step\":\"pay\"},\"value\":200,\"ts\":%lld},"
             "{\"metric\":\"journey_step_dropoffs\",\"labels\":{\"journey\":\"checkout\",\"step\":\"pay\"},\"value\":%d,\"ts\":%lld},"
             "{\"metric\":\"claim_handling_minutes\",\"labels\":{\"journey\":\"claims\"},\"value\":%.1f,\"ts\":%lld}]",
             incident ? 90 : 18 + (int)(t % 5), t, 10 + (int)(t % 3), t, t, incident ? 120 : 20 + (int)(t % 4), t,
             30.0 + (double)(t % 7), t);
    kw_ingest_message(lim, &p->ingest, "fuzz", msg, strlen(msg), now, kw_pipeline_point, p);
    kw_pipeline_tick(p, now);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    kw_log_set_level(KW_LOG_OFF);
    fz_tmp_path(state_path, sizeof state_path, "config-state");
    fz_tmp_path(state2_path, sizeof state2_path, "config-state2");
    /* The running pipeline's state is the same for every input: save it once. */
    struct kw_config good;
    fz_config(&good, GOOD_CONFIG);
    struct kw_pipeline p;
    fz_pipeline(&p, &good, true);
    int64_t start = (FZ_NOW_MS / STEP_MS - HISTORY) * STEP_MS;
    for (int i = 0; i < HISTORY; i++) {
        int64_t ts = start + i * STEP_MS + 7000;
        feed_interval(&p, &good.ingest, ts, i >= HISTORY - 4 && i < HISTORY - 2, ts + 1000);
    }
    fz_state_save(&p, state_path);
    kw_pipeline_release(&p);
    kw_config_release(&good);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    int rc = kw_config_parse(&cfg, text, "fuzz.json", err, sizeof err);
    free(text);
    if (rc)
        return 0;
    /* As reload: a new pipeline for the new config, then the old state. */
    struct kw_pipeline p;
    fz_pipeline(&p, &cfg, true);
    kw_state_load(&p, state_path, err, sizeof err);
    int64_t next = (FZ_NOW_MS / STEP_MS) * STEP_MS;
    for (int i = 0; i < 4; i++)
        feed_interval(&p, &cfg.ingest, next + i * STEP_MS + 7000, i == 1, next + i * STEP_MS + 8000);
    /* false: a finite but absurd value (1e308) can make a detector's state
     * non-finite, and such a series is skipped on restore by design. */
    fz_check_restore(&p, state2_path, false);
    kw_pipeline_release(&p);
    kw_config_release(&cfg);
    return 0;
}
