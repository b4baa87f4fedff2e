/* replay: recorded points through the production pipeline. */
#include "replay.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "config.h"
#include "csv.h"
#include "ingest.h"
#include "outbox.h"
#include "pipeline.h"

/* An alert of the current file that fired: did any firing of it go out? */
struct fired {
    char key[sizeof ((struct kw_alert *)0)->key];
    bool passed;
};

struct replay_ctx {
    const struct kw_replay_options *opt;
    FILE *scores;
    struct kw_outbox *outbox;       /* of the current file; NULL with no receivers */
    struct kw_silences *silences;
    unsigned long alerts;           /* alert notifications of the current file */
    unsigned long silenced;         /* of them, held back by a silence */
    struct fired *fired;
    int nfired, fcap;
};

/* Does a silence hold alert event a back? The outbox's rule, at the same
 * event time (the end of a's interval): a firing is held when a silence
 * matches it; a resolve is held when no firing of it went out, or, for an
 * alert not seen firing, when a silence matches it. Counted here, on the
 * pipeline's thread, so the summary holds with --quiet too. */
static bool held_by_silence(struct replay_ctx *rc, const struct kw_alert *a)
{
    char id[KW_SILENCE_ID];
    bool match = kw_silences_match(rc->silences, a, a->at_ms + a->interval_ms, id);
    int i = 0;
    while (i < rc->nfired && strcmp(rc->fired[i].key, a->key) != 0)
        i++;
    if (a->status == KW_ALERT_RESOLVED) {
        if (i == rc->nfired)
            return match;
        bool held = !rc->fired[i].passed;
        rc->fired[i] = rc->fired[--rc->nfired];
        return held;
    }
    if (i == rc->nfired) {
        if (rc->nfired == rc->fcap) {
            rc->fcap = rc->fcap ? rc->fcap * 2 : 16;
            rc->fired = xrealloc(rc->fired, (size_t)rc->fcap * sizeof *rc->fired);
        }
        rc->fired[rc->nfired++] = (struct fired){.passed = false};
        snprintf(rc->fired[i].key, sizeof rc->fired[i].key, "%s", a->key);
    }
    rc->fired[i].passed = rc->fired[i].passed || !match;
    return match;
}

/* Count, then hand over to delivery exactly as the daemon does. */
static void on_alert(void *ctx, const struct kw_alert *a)
{
    struct replay_ctx *rc = ctx;
    rc->alerts++;
    if (held_by_silence(rc, a))
        rc->silenced++;
    if (rc->outbox)
        kw_outbox_alert(rc->outbox, a);
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
    for (int i = 0; i < kpi->group_by.n; i++, val = kw_series_next_value(val))
        fprintf(rc->scores, "%s%s=%s", i ? ";" : "{", kpi->group_by.items[i], val);
    fprintf(rc->scores, "%s,%s,%s,%s,%s,%s,%.6f,%d,%d\n", kpi->group_by.n ? "}" : "", value, expected, lower,
            upper, score, v->ready ? v->anomaly_score : 0.0, v->ready && v->anomalous ? 1 : 0,
            s->alert.phase == KW_PHASE_FIRING ? 1 : 0);
}

struct replay_file {
    struct kw_pipeline *p;
    struct replay_ctx *rc;
};

/* Move event time on, as the daemon's poll loop does after a message. */
static void tick(struct replay_file *f)
{
    kw_pipeline_tick(f->p, 0);
    kw_outbox_tick(f->rc->outbox, kw_pipeline_clock(f->p));
}

/* Feed a JSON-lines file one message per line without holding it in memory. */
static int replay_jsonl(struct replay_file *rf, const struct kw_config *cfg, const char *path)
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
        kw_ingest_message(&cfg->ingest, &rf->p->ingest, path, line, (size_t)len, 0, kw_pipeline_point, rf->p);
        tick(rf);
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

/* CSV rows: each accepted point may close intervals, as a message would. */
static int csv_sink(void *ctx, const struct kw_point *pt, enum kw_reject *why)
{
    struct replay_file *f = ctx;
    int rc = kw_pipeline_point(f->p, pt, why);
    if (rc == 0)
        tick(f);
    return rc;
}

/* --json and --quiet replace the configured receivers: JSON lines on
 * stdout, or nothing. */
static int override_receivers(struct kw_config *cfg, const struct kw_replay_options *opt, char *err, size_t errlen)
{
    if (!opt->json && !opt->quiet)
        return 0;
    for (int i = 0; i < cfg->nreceivers; i++)
        kw_receiver_release(&cfg->receivers[i]);
    kw_routing_release(&cfg->routing);
    cfg->nreceivers = 0;
    if (opt->quiet)
        return 0;
    cJSON *console = cJSON_Parse("{\"name\":\"replay\",\"type\":\"console\",\"format\":\"json\"}");
    int rc = kw_receiver_parse(&cfg->receivers[0], console, "--json", err, errlen);
    cJSON_Delete(console);
    if (rc)
        return -1;
    cfg->nreceivers = 1;
    return kw_routing_parse(&cfg->routing, NULL, cfg->receivers, 1, NULL, err, errlen);
}

int kw_replay_run(const struct kw_replay_options *opt, char *err, size_t errlen)
{
    struct kw_config cfg;
    if (kw_config_load(&cfg, opt->config_path, err, errlen))
        return 3;
    kw_log_set_level((enum kw_log_level)cfg.log_level);
    cfg.ingest.check_time = false; /* recorded data is old by definition */
    if (override_receivers(&cfg, opt, err, errlen)) {
        kw_config_release(&cfg);
        return 3;
    }
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
    rc.silences = kw_silences_open(NULL); /* the config's silences apply in a backtest too */
    kw_silences_set_config(rc.silences, cfg.silences, cfg.nsilences);
    const char *metric = opt->metric ? opt->metric : cfg.kpis[0].metric;
    int status = 0;
    for (int f = 0; f < opt->nfiles; f++) {
        /* A backtest sends what it would have sent, but keeps no spool: it
         * must not deliver a past run's leftovers or leave its own behind.
         * Each file gets its own outbox, so incidents and the event clock
         * do not run on from one file into the next. */
        if (cfg.nreceivers > 0) {
            rc.outbox = kw_outbox_start(&cfg, NULL, rc.silences, err, errlen);
            if (!rc.outbox) {
                status = 1;
                break;
            }
            kw_outbox_silence_at_event_time(rc.outbox);
        }
        rc.alerts = rc.silenced = 0;
        rc.nfired = 0;
        struct kw_pipeline p;
        kw_pipeline_init(&p, &cfg);
        p.on_alert = on_alert;
        p.alert_ctx = &rc;
        p.on_refresh = kw_outbox_refresh; /* not counted: nothing new to tell */
        p.refresh_ctx = rc.outbox;
        if (rc.scores)
            kw_pipeline_on_interval(&p, write_score, &rc);
        struct replay_file rf = {&p, &rc};
        if (is_jsonl(opt->files[f])) {
            /* JSON lines stream through the daemon's message reader. */
            if (replay_jsonl(&rf, &cfg, opt->files[f]))
                status = 1;
        } else {
            /* CSV is read whole because its first rows give the spacing. */
            struct kw_csv csv;
            if (kw_csv_load(&csv, opt->files[f]) == 0) {
                int64_t spacing = kw_csv_spacing(&csv);
                if (spacing > 0)
                    p.native_spacing_override_ms = spacing;
                kw_csv_ingest(&csv, opt->files[f], metric, &cfg.ingest, &p.ingest, csv_sink, &rf);
                kw_csv_release(&csv);
            } else {
                status = 1;
            }
        }
        if (status) {
            snprintf(err, errlen, "%s: %s", opt->files[f], strerror(errno));
            kw_pipeline_release(&p);
            kw_outbox_stop(rc.outbox, 60000);
            break;
        }
        kw_pipeline_flush(&p);
        kw_outbox_stop(rc.outbox, 60000); /* this file's alerts go out before its summary */
        rc.outbox = NULL;
        uint64_t rejected = 0;
        for (int r = 0; r < KW_REJ_COUNT; r++)
            rejected += p.ingest.rejected[r];
        /* The summary is the command's output, not a log line: printed at any
         * log level, on stderr, since stdout carries the alerts (--json,
         * console receivers). */
        fprintf(stderr,
                "%s: %llu points, %llu rejected, %zu series, %llu intervals, %llu anomalous, %lu alert notifications, "
                "%lu of them silenced\n",
                opt->files[f], (unsigned long long)p.ingest.points_accepted, (unsigned long long)rejected,
                p.table.count, (unsigned long long)p.stats.intervals_closed, (unsigned long long)p.stats.anomalies,
                rc.alerts, rc.silenced);
        kw_pipeline_release(&p);
    }
    free(rc.fired);
    kw_silences_close(rc.silences);
    if (rc.scores)
        fclose(rc.scores);
    kw_config_release(&cfg);
    return status;
}
