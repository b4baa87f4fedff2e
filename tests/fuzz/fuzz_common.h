/* fuzz_common: what the libFuzzer targets share: per-process temp files,
 * fixed configs, a pipeline set up as the daemon sets it up, an alert sink
 * that checks each alert survives the spool format, and the check that a
 * pipeline's state saves and restores exactly; the start every target
 * shares (config, seed corpus, temp files removed at exit). Header-only so
 * each target stays one translation unit plus the library. */
#ifndef KW_FUZZ_COMMON_H
#define KW_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/config.h"
#include "../../agent/pipeline.h"
#include "../../agent/statestore.h"
#include "../../lib/log.h"
#include "../../notifiers/alert.h"

/* 2023-11-14T22:13:20Z: the wall clock every target pretends it is. */
#define FZ_NOW_MS 1700000000000LL

/* The ingest → pipeline config: a sum, a ratio and a quantile KPI, each
 * grouped by journey. Small windows so detectors warm up within one input. */
#define FZ_PIPELINE_CONFIG                                                                                        \
    "{\"agent\":{\"log_level\":\"off\",\"max_series\":200,\"series_ttl\":\"1h\"},"                               \
    "\"ingest\":{\"max_past\":\"1h\",\"max_future\":\"5m\"},"                                                   \
    "\"kpis\":["                                                                                                 \
    "{\"name\":\"complaints\",\"metric\":\"complaints\",\"aggregation\":\"sum\",\"interval\":\"1m\","          \
    "\"lateness\":\"0s\",\"group_by\":[\"journey\"],\"max_series\":50,"                                         \
    "\"detector\":{\"type\":\"poisson\",\"min_points\":3},\"alert\":{\"for\":1,\"resolve_after\":1}},"          \
    "{\"name\":\"dropoff\",\"metric\":\"journey_step_dropoffs\",\"denominator\":\"journey_step_entries\","      \
    "\"aggregation\":\"ratio\",\"interval\":\"1m\",\"lateness\":\"1m\",\"group_by\":[\"journey\",\"step\"],"   \
    "\"detector\":{\"type\":\"binomial\",\"min_points\":3},\"alert\":{\"for\":1,\"resolve_after\":1}},"         \
    "{\"name\":\"latency_p90\",\"metric\":\"latency_ms\",\"aggregation\":\"quantile\",\"quantile\":0.9,"        \
    "\"quantile_samples\":16,\"interval\":\"1m\",\"group_by\":[\"journey\"],"                                   \
    "\"detector\":{\"type\":\"mad\",\"window\":16,\"min_points\":8},\"alert\":{\"for\":1,\"resolve_after\":1}}" \
    "]}"

/* Parse a config that must be valid (the fixed ones); abort otherwise. */
static inline void fz_config(struct kw_config *cfg, const char *text)
{
    char err[KW_ERR_LEN];
    if (kw_config_parse(cfg, text, "fuzz.json", err, sizeof err)) {
        fprintf(stderr, "fixed config does not parse: %s\n", err);
        abort();
    }
}

/* The usual start of a target: logging off and cfg parsed from a fixed
 * config. With KPIWATCH_FUZZ_SEED_DIR set and write_seeds given, the
 * binary instead writes its seed corpus into that directory and exits. */
static inline void fz_init(struct kw_config *cfg, const char *config, void (*write_seeds)(const char *dir))
{
    kw_log_set_level(KW_LOG_OFF);
    fz_config(cfg, config);
    const char *seeds = getenv("KPIWATCH_FUZZ_SEED_DIR");
    if (write_seeds && seeds && *seeds) {
        write_seeds(seeds);
        exit(0);
    }
}

#define FZ_MAX_TMP 4

/* The temp files of this process (fz_tmp_path), removed at exit. */
static inline const char **fz_tmp_files(void)
{
    static const char *files[FZ_MAX_TMP + 1];
    return files;
}

static inline void fz_tmp_remove_all(void)
{
    for (const char **f = fz_tmp_files(); *f; f++)
        unlink(*f);
}

/* Make buf (which must live to the exit) a temp file path for this
 * process, removed at exit. In /dev/shm when there is one: the state
 * store fsyncs every save. */
static inline void fz_tmp_path(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "%s/kpiwatch-fuzz-%s-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", tag);
    int fd = mkstemp(buf);
    if (fd < 0) {
        perror("mkstemp");
        abort();
    }
    close(fd);
    const char **files = fz_tmp_files();
    int n = 0;
    while (files[n])
        n++;
    if (n == FZ_MAX_TMP) {
        fprintf(stderr, "more than %d temp files\n", FZ_MAX_TMP);
        abort();
    }
    files[n] = buf;
    if (n == 0)
        atexit(fz_tmp_remove_all);
}

static inline void fz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size)) {
        perror(path);
        abort();
    }
    fclose(f);
}

/* Every alert goes to the spool as kw_alert_save JSON and must read back. */
static inline void fz_on_alert(void *ctx, const struct kw_alert *a)
{
    (void)ctx;
    cJSON *json = kw_alert_save(a);
    struct kw_alert back;
    char err[KW_ERR_LEN];
    if (kw_alert_load_err(&back, json, err, sizeof err)) {
        char *text = cJSON_PrintUnformatted(json);
        fprintf(stderr, "an alert does not survive the spool format: %s\n%s\n", err, text);
        abort();
    }
    cJSON_Delete(json);
}

/* A pipeline as the daemon runs it: event time flows with the wall clock,
 * and never ahead of it when the config checks ages. */
static inline void fz_pipeline(struct kw_pipeline *p, const struct kw_config *cfg, bool daemon)
{
    kw_pipeline_init(p, cfg);
    p->extrapolate = daemon;
    p->live = daemon && cfg->ingest.check_time;
    p->on_alert = fz_on_alert;
}

/* Save p's state to path; abort when it cannot be written. */
static inline void fz_state_save(const struct kw_pipeline *p, const char *path)
{
    char err[KW_ERR_LEN];
    if (kw_state_save(p, path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
}

/* Each series of a state file as printed JSON, keyed by KPI and labels. */
static inline cJSON *fz_state_series(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    size_t n = fread(buf, 1, (size_t)size, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *root = cJSON_Parse(buf), *by_key = cJSON_CreateObject(), *s;
    free(buf);
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(root, "series")) {
        char *values = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(s, "values"));
        char key[4096];
        snprintf(key, sizeof key, "%s %s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "kpi")), values);
        char *text = cJSON_PrintUnformatted(s);
        cJSON_AddItemToObject(by_key, key, cJSON_CreateString(text));
        free(text);
        free(values);
    }
    cJSON_Delete(root);
    return by_key;
}

/* What a pipeline holds, the state store must give back exactly: save p to
 * path, restore it into a fresh pipeline and save that to path.2. Every
 * restored series must save byte-identical to what was saved, and with
 * all_back every series must come back (a reload or restart would
 * otherwise silently drop it). all_back is off where the state came from a
 * fuzzed file, whose absurd numbers may make a detector's state
 * non-finite: such a series is skipped on restore by design. */
static inline void fz_check_restore(const struct kw_pipeline *p, const char *path, bool all_back)
{
    char err[KW_ERR_LEN], path2[256];
    snprintf(path2, sizeof path2, "%s.2", path);
    fz_state_save(p, path);
    struct kw_pipeline back;
    fz_pipeline(&back, p->cfg, true);
    kw_log_set_level(KW_LOG_WARN); /* say which series was skipped, and why */
    int n = kw_state_load(&back, path, err, sizeof err);
    kw_log_set_level(KW_LOG_OFF);
    if (n < 0 || (all_back && (size_t)n != p->table.count)) {
        fprintf(stderr, "saved %zu series, restored %d %s\n", p->table.count, n, n < 0 ? err : "");
        abort();
    }
    fz_state_save(&back, path2);
    kw_pipeline_release(&back);
    cJSON *before = fz_state_series(path), *after = fz_state_series(path2), *s;
    unlink(path2);
    cJSON_ArrayForEach(s, after) {
        const cJSON *was = cJSON_GetObjectItemCaseSensitive(before, s->string);
        if (!was || strcmp(was->valuestring, s->valuestring) != 0) {
            fprintf(stderr, "series %s changed through a save and restore:\nsaved    %s\nrestored %s\n", s->string,
                    was ? was->valuestring : "(absent)", s->valuestring);
            abort();
        }
    }
    cJSON_Delete(before);
    cJSON_Delete(after);
}

#endif
