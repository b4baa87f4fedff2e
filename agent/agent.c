/* agent: the daemon's poll loop over ZeroMQ inputs and a signalfd. */
#include "agent.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "demo.h"
#include "feedback.h"
#include "history.h"
#include "http.h"
#include "lint.h"
#include "reader.h"
#include "statestore.h"
#include "status.h"
#include "../lib/fileio.h"
#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"

#define TICK_MS 200
#define OUTBOX_TICK_MS 10
#define STATE_SAVE_MS 60000
#define FEEDBACK_POLL_MS 2000

static void state_path(const struct kw_config *cfg, char *buf, size_t len)
{
    snprintf(buf, len, "%s/state.json", cfg->state_dir);
}

static void history_path(const struct kw_config *cfg, char *buf, size_t len)
{
    snprintf(buf, len, "%s/history.json", cfg->state_dir);
}

static void save_state(struct kw_agent *ag)
{
    if (!ag->cfg.state_dir)
        return;
    char path[4096], err[KW_ERR_LEN];
    mkdir(ag->cfg.state_dir, 0750);
    state_path(&ag->cfg, path, sizeof path);
    if (kw_state_save(&ag->pipeline, path, err, sizeof err))
        kw_error("state", "could not save state: %s", err);
    else
        kw_debug("state", "saved %zu series to %s", ag->pipeline.table.count, path);
    /* With it, the status page's history, so a restart keeps the charts. */
    struct kw_history *history = kw_http_history(ag->http);
    history_path(&ag->cfg, path, sizeof path);
    if (history && kw_history_save(history, path, err, sizeof err))
        kw_error("state", "could not save the charts' history: %s", err);
}

static void lint_warning(void *component, const char *text)
{
    kw_warn(component, "%s", text);
}

/* Log each receiver that is off and why, so a missing secret is not a
 * silent loss of alerts, and each matcher that can never match. Returns
 * " (N off)" in buf, or "" when all are on. */
static const char *receivers_off(const struct kw_config *cfg, const char *component, char *buf, size_t len)
{
    kw_config_lint(cfg, lint_warning, (void *)component);
    int off = 0;
    for (int i = 0; i < cfg->nreceivers; i++) {
        if (!cfg->receivers[i].disabled)
            continue;
        kw_info(component, "receiver %s is off: %s", cfg->receivers[i].name, cfg->receivers[i].off_reason);
        off++;
    }
    buf[0] = '\0';
    if (off)
        snprintf(buf, len, " (%d off)", off);
    return buf;
}

/* Verdicts queued by `kpiwatch feedback`; what a detector learned is saved at once. */
static void take_feedback(struct kw_agent *ag)
{
    if (ag->cfg.state_dir && kw_feedback_apply(&ag->pipeline, ag->cfg.state_dir) > 0)
        save_state(ag);
}

/* Tell the outbox which alerts fire now that state is restored, so that an
 * open incident's member whose series did not come back is resolved. Not
 * with a Kafka input: series of other partitions fire on other agents. */
static void reconcile_outbox(struct kw_agent *ag)
{
    for (int i = 0; i < ag->cfg.ninputs; i++)
        if (ag->cfg.inputs[i].type == KW_INPUT_KAFKA)
            return;
    const struct kw_series_table *t = &ag->pipeline.table;
    size_t n = 0, cap = 16;
    char (*keys)[24] = xmalloc(cap * sizeof *keys);
    for (size_t i = 0; i < t->cap; i++) {
        const struct kw_series *s = t->slots[i];
        if (!s)
            continue;
        if (n + 2 > cap)
            keys = xrealloc(keys, (cap *= 2) * sizeof *keys);
        if (s->alert.phase == KW_PHASE_FIRING)
            snprintf(keys[n++], sizeof keys[0], "%s", s->alert_key);
        if (s->alert.nodata_since != INT64_MIN)
            kw_alerting_nodata_key(s, keys[n++]);
    }
    kw_outbox_reconcile(ag->outbox, keys, n);
}

static void load_state(struct kw_agent *ag)
{
    if (!ag->cfg.state_dir)
        return;
    char path[4096], err[KW_ERR_LEN];
    state_path(&ag->cfg, path, sizeof path);
    if (access(path, F_OK) != 0)
        return;
    int n = kw_state_load(&ag->pipeline, path, err, sizeof err);
    /* The agent was not running since the save: what it missed is a gap. */
    kw_pipeline_resume(&ag->pipeline);
    char aside[4200];
    if (n < 0) { /* kept for a look; the next save would overwrite it */
        bool moved = kw_file_move_aside(path, aside, sizeof aside) != NULL;
        kw_warn("state", "ignoring state: %s%s%s", err, moved ? "; moved to " : "", moved ? aside : "");
    } else
        kw_info("state", "restored %d series from %s", n, path);
}

/* A history file that does not load is moved aside: the next save would
 * otherwise replace what shows how it was damaged. */
static void load_history(struct kw_agent *ag)
{
    struct kw_history *history = kw_http_history(ag->http);
    if (!ag->cfg.state_dir || !history)
        return;
    char path[4096], aside[4200], err[KW_ERR_LEN];
    history_path(&ag->cfg, path, sizeof path);
    int n = kw_history_load(history, ag->cfg.kpis, ag->cfg.nkpis, path, err, sizeof err);
    if (n < 0) {
        snprintf(aside, sizeof aside, "%s.damaged", path);
        bool moved = rename(path, aside) == 0;
        kw_warn("state", "ignoring the charts' history: %s%s%s", err, moved ? "; moved to " : "", moved ? aside : "");
    } else if (n > 0) {
        kw_info("state", "restored the history of %d series from %s", n, path);
    }
}

/* The kafka input, if any. Series of Kafka partitions in the local state
 * file are dropped first: the changelog is their source of truth, and the
 * partitions they came from may belong to another agent now. */
static int start_kafka(struct kw_agent *ag, char *err, size_t errlen)
{
    for (int i = 0; i < ag->cfg.ninputs; i++) {
        const struct kw_input_config *in = &ag->cfg.inputs[i];
        if (in->type != KW_INPUT_KAFKA)
            continue;
        kw_pipeline_drop_partition(&ag->pipeline, KW_PIPELINE_ANY_PARTITION);
        ag->kafka = kw_kafka_start(&in->kafka, in->name, in->format, in->precision, &ag->pipeline, &ag->cfg.ingest,
                                   err, errlen);
        return ag->kafka ? 0 : -1;
    }
    return 0;
}

/* Pipeline and outbox for the current config. Returns 0 or -1 with err. */
static int setup_pipeline(struct kw_agent *ag, char *err, size_t errlen)
{
    kw_pipeline_init(&ag->pipeline, &ag->cfg);
    ag->pipeline.extrapolate = true;
    ag->pipeline.live = ag->cfg.ingest.check_time;
    ag->pipeline.hold_clock = ag->kafka != NULL; /* kw_kafka_start sets it the first time */
    kw_silences_set_config(ag->silences, ag->cfg.silences, ag->cfg.nsilences);
    ag->outbox = kw_outbox_start(&ag->cfg, ag->cfg.state_dir, ag->silences, err, errlen);
    if (!ag->outbox)
        return -1;
    ag->pipeline.on_alert = kw_outbox_alert;
    ag->pipeline.alert_ctx = ag->outbox;
    ag->pipeline.on_refresh = kw_outbox_refresh;
    ag->pipeline.refresh_ctx = ag->outbox;
    kw_http_attach(ag->http, &ag->pipeline);
    return 0;
}

int kw_agent_init(struct kw_agent *ag, const char *config_path, bool demo_mode, char *err, size_t errlen)
{
    memset(ag, 0, sizeof *ag);
    ag->signal_fd = -1;
    if (kw_config_load(&ag->cfg, config_path, err, errlen))
        return -1;
    if (ag->cfg.ninputs == 0) {
        snprintf(err, errlen, "%s: inputs: the daemon needs at least one input", config_path);
        kw_config_release(&ag->cfg);
        return -1;
    }
    kw_log_set_level((enum kw_log_level)ag->cfg.log_level);
    kw_log_set_format((enum kw_log_format)ag->cfg.log_format);
    if (demo_mode)
        ag->cfg.ingest.check_time = false;

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    ag->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    signal(SIGPIPE, SIG_IGN);

    if (ag->cfg.state_dir)
        mkdir(ag->cfg.state_dir, 0750);
    ag->silences = kw_silences_open(ag->cfg.state_dir);
    /* The listener starts first, so /healthz answers while state is restored. */
    ag->http = kw_http_new();
    if (kw_http_apply(ag->http, &ag->cfg, ag->silences, err, errlen)) {
        kw_agent_release(ag);
        return -1;
    }
    ag->zmq_ctx = zmq_ctx_new();
    if (kw_input_set_open(&ag->inputs, ag->zmq_ctx, ag->cfg.inputs, ag->cfg.ninputs, NULL, NULL,
                          ag->cfg.ingest.max_message_bytes, err, errlen) ||
        setup_pipeline(ag, err, errlen)) {
        kw_agent_release(ag);
        return -1;
    }
    kw_status_ready(kw_http_status(ag->http), KW_READY_INPUTS);
    load_state(ag);
    if (ag->cfg.state_dir) /* open incidents come back from it, with or without a state file */
        reconcile_outbox(ag);
    load_history(ag);
    if (start_kafka(ag, err, errlen)) {
        kw_agent_release(ag);
        return -1;
    }
    take_feedback(ag);
    kw_status_ready(kw_http_status(ag->http), KW_READY_STATE);
    return 0;
}

void kw_agent_log_stats(const struct kw_agent *ag)
{
    const struct kw_pipeline *p = &ag->pipeline;
    uint64_t rejected = 0;
    char reasons[512] = "";
    size_t used = 0;
    for (int r = 0; r < KW_REJ_COUNT; r++) {
        if (!p->ingest.rejected[r])
            continue;
        rejected += p->ingest.rejected[r];
        used += (size_t)snprintf(reasons + used, used < sizeof reasons ? sizeof reasons - used : 0, " %s=%llu",
                                 kw_reject_name((enum kw_reject)r), (unsigned long long)p->ingest.rejected[r]);
    }
    struct kw_outbox_stats ostats = {0};
    if (ag->outbox)
        kw_outbox_stats(ag->outbox, &ostats);
    kw_info("stats",
            "messages=%llu points_accepted=%llu points_rejected=%llu points_unwatched=%llu series=%zu intervals=%llu anomalies=%llu "
            "alerts_fired=%llu alerts_resolved=%llu firing=%zu sends=%llu send_failures=%llu send_retries=%llu "
            "notifications_dropped=%llu notifications_pending=%llu silenced=%llu inhibited=%llu muted=%llu reloads=%llu%s%s",
            (unsigned long long)p->ingest.messages, (unsigned long long)p->ingest.points_accepted,
            (unsigned long long)rejected, (unsigned long long)p->stats.points_unwatched, p->table.count, (unsigned long long)p->stats.intervals_closed,
            (unsigned long long)p->stats.anomalies, (unsigned long long)p->stats.alerts_fired,
            (unsigned long long)p->stats.alerts_resolved, kw_pipeline_firing(p),
            (unsigned long long)ostats.sent, (unsigned long long)ostats.failed, (unsigned long long)ostats.retried,
            (unsigned long long)ostats.dropped, (unsigned long long)ostats.pending, (unsigned long long)ostats.silenced,
            (unsigned long long)ostats.inhibited, (unsigned long long)ostats.muted,
            (unsigned long long)ag->reloads, rejected ? " rejected:" : "", reasons);
}

/* SIGHUP: parse the file again and open its inputs; keep the running config
 * unless both succeed. The pipeline restarts from the saved state of the
 * old one, so series whose KPI and detector did not change keep what they
 * learned; alerts already queued are delivered by the old receivers first. */
static void reload_config(struct kw_agent *ag)
{
    struct kw_config next;
    char err[KW_ERR_LEN];
    if (kw_config_load(&next, ag->cfg.path, err, sizeof err)) {
        ag->reload_failures++;
        kw_error("reload", "keeping the running config: %s", err);
        return;
    }
    if (next.ninputs == 0) {
        ag->reload_failures++;
        kw_error("reload", "keeping the running config: %s: inputs: the daemon needs at least one input", next.path);
        kw_config_release(&next);
        return;
    }
    if (!ag->cfg.ingest.check_time)
        next.ingest.check_time = false;
    if (kw_http_bind(ag->http, &next.http, err, sizeof err)) {
        ag->reload_failures++;
        kw_error("reload", "keeping the running config and listener: %s", err);
        kw_config_release(&next);
        return;
    }
    struct kw_input_set inputs;
    if (kw_input_set_open(&inputs, ag->zmq_ctx, next.inputs, next.ninputs, &ag->inputs, ag->cfg.inputs,
                          next.ingest.max_message_bytes, err, sizeof err)) {
        kw_http_unbind(ag->http);
        ag->reload_failures++;
        kw_error("reload", "keeping the running config and inputs: %s", err);
        kw_config_release(&next);
        return;
    }
    ag->inputs = inputs;

    char tmp_state[] = "/tmp/kpiwatch-reload-XXXXXX";
    int fd = mkstemp(tmp_state);
    bool saved = fd >= 0 && kw_state_save(&ag->pipeline, tmp_state, err, sizeof err) == 0;
    if (fd >= 0)
        close(fd);
    struct kw_ingest_stats ingest = ag->pipeline.ingest;
    struct kw_pipeline_stats pstats = ag->pipeline.stats;
    kw_status_retire_outbox(kw_http_status(ag->http), ag->outbox);
    kw_outbox_stop(ag->outbox, 5000);
    ag->outbox = NULL;
    kw_pipeline_release(&ag->pipeline);
    kw_config_release(&ag->cfg);
    ag->cfg = next;
    kw_log_set_level((enum kw_log_level)ag->cfg.log_level);
    kw_log_set_format((enum kw_log_format)ag->cfg.log_format);
    /* Before the new pipeline: it attaches to the history this may replace. */
    if (kw_http_apply(ag->http, &ag->cfg, ag->silences, err, sizeof err))
        kw_error("reload", "%s; the HTTP listener stays where it was", err);
    if (setup_pipeline(ag, err, sizeof err)) {
        kw_error("reload", "delivery did not start: %s; alerts are not sent until the next reload", err);
        ag->pipeline.on_alert = NULL;
        ag->pipeline.on_refresh = NULL;
    }
    ag->pipeline.ingest = ingest;
    ag->pipeline.stats = pstats;
    int n = 0;
    if (saved) {
        n = kw_state_carry(&ag->pipeline, tmp_state, err, sizeof err);
        unlink(tmp_state);
    }
    reconcile_outbox(ag);
    char off[32];
    kw_info("reload", "loaded %s: %d inputs, %d KPIs, %d receivers%s; %d series kept their state", ag->cfg.path,
            ag->cfg.ninputs, ag->cfg.nkpis, ag->cfg.nreceivers, receivers_off(&ag->cfg, "reload", off, sizeof off),
            n < 0 ? 0 : n);
    ag->reloads++;
}

/* Single-threaded path: receive and parse here, a bounded batch per
 * wake-up so signals and ticks are never starved. */
static void receive_all(struct kw_agent *ag, int index)
{
    kw_input_receive(ag->inputs.sockets[index], &ag->cfg.inputs[index], &ag->cfg.ingest, &ag->pipeline.ingest,
                     10000, kw_pipeline_point, &ag->pipeline);
}

static bool has_zmq_input(const struct kw_agent *ag)
{
    for (int i = 0; i < ag->inputs.n; i++)
        if (ag->inputs.sockets[i])
            return true;
    return false;
}

/* The receive thread takes the sockets over; a failure to start it leaves
 * them to the poll loop. */
static void start_reader(struct kw_agent *ag)
{
    if (!ag->cfg.ingest.receive_thread || !has_zmq_input(ag))
        return;
    char err[KW_ERR_LEN];
    ag->reader = kw_reader_start(&ag->inputs, ag->cfg.inputs, ag->cfg.ninputs, &ag->cfg.ingest,
                                 ag->cfg.ingest.queue_bytes, err, sizeof err);
    if (!ag->reader)
        kw_warn("agent", "%s; receiving on the main thread", err);
}

/* Everything the thread received goes into the pipeline before it stops. */
static void stop_reader(struct kw_agent *ag)
{
    kw_reader_stop(ag->reader, &ag->pipeline.ingest, kw_pipeline_point, &ag->pipeline);
    ag->reader = NULL;
}

/* The receive thread reads the config and owns the sockets: it stops
 * (handing over all it received) for the reload and starts on the result. */
static void reload(struct kw_agent *ag)
{
    stop_reader(ag);
    reload_config(ag);
    start_reader(ag); /* if the new config asks for it */
}

static void handle_signals(struct kw_agent *ag)
{
    struct signalfd_siginfo si;
    while (read(ag->signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            kw_info("agent", "SIGHUP: reloading %s", ag->cfg.path);
            reload(ag);
        } else {
            kw_info("agent", "%s: draining and exiting", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            ag->stopping = true;
        }
    }
}

int kw_agent_run(struct kw_agent *ag, int64_t stop_after_ms)
{
    int64_t started = kw_mono_ms();
    start_reader(ag);
    ag->next_stats_ms = started + ag->cfg.stats_interval_ms;
    ag->next_save_ms = started + STATE_SAVE_MS;
    char off[32];
    kw_info("agent", "kpiwatch %s running: %d inputs, %d KPIs, %d receivers%s", KW_VERSION, ag->cfg.ninputs,
            ag->cfg.nkpis, ag->cfg.nreceivers, receivers_off(&ag->cfg, "agent", off, sizeof off));
    while (!ag->stopping) {
        int n = 0, input_of[65]; /* at most 64 inputs: the config refuses more */
        zmq_pollitem_t items[66];
        for (int i = 0; i < ag->inputs.n && !ag->reader; i++) {
            if (!ag->inputs.sockets[i])
                continue; /* the kafka input: its fd is polled below */
            input_of[n] = i;
            items[n++] = (zmq_pollitem_t){.socket = ag->inputs.sockets[i], .events = ZMQ_POLLIN};
        }
        if (ag->reader) { /* the receive thread's batches, in place of the sockets */
            input_of[n] = ag->inputs.n;
            items[n++] = (zmq_pollitem_t){.socket = NULL, .fd = kw_reader_fd(ag->reader), .events = ZMQ_POLLIN};
        }
        items[n] = (zmq_pollitem_t){.socket = NULL, .fd = ag->signal_fd, .events = ZMQ_POLLIN};
        items[n + 1] = (zmq_pollitem_t){.socket = NULL, .fd = ag->kafka ? kw_kafka_fd(ag->kafka) : -1, .events = ZMQ_POLLIN};
        /* Sleep until the next interval closes at most: a quiet stream's
         * alerts are not held back by the poll. */
        long timeout = TICK_MS;
        int64_t due = kw_pipeline_next_due(&ag->pipeline, kw_now_ms());
        if (due >= 0 && due < timeout)
            timeout = due > 0 ? (long)due : 1;
        int rc = zmq_poll(items, ag->kafka ? n + 2 : n + 1, timeout);
        if (rc < 0 && zmq_errno() != EINTR) {
            kw_error("agent", "zmq_poll: %s", zmq_strerror(zmq_errno()));
            break;
        }
        if (rc > 0) {
            /* Points first: a reload stops the receive thread this poll
             * set refers to. */
            for (int i = 0; i < n; i++) {
                if (!(items[i].revents & ZMQ_POLLIN))
                    continue;
                kw_pipeline_set_now(&ag->pipeline, kw_now_ms());
                if (input_of[i] == ag->inputs.n && ag->reader)
                    kw_reader_drain(ag->reader, &ag->pipeline.ingest, kw_pipeline_point, &ag->pipeline);
                else if (input_of[i] < ag->inputs.n && !ag->reader)
                    receive_all(ag, input_of[i]);
            }
            if (items[n].revents & ZMQ_POLLIN)
                handle_signals(ag);
        }
        if (ag->kafka)
            kw_kafka_poll(ag->kafka);
        int64_t mono = kw_mono_ms();
        /* While a taken-over partition replays its backlog, intervals stay
         * open, so the replayed points are not late. */
        if (!kw_kafka_catching_up(ag->kafka))
            kw_pipeline_tick(&ag->pipeline, kw_now_ms());
        if (ag->kafka && mono >= ag->next_kafka_metrics_ms) {
            kw_status_set_kafka(kw_http_status(ag->http), kw_kafka_metrics(ag->kafka));
            ag->next_kafka_metrics_ms = mono + 1000;
        }
        /* The outbox's clock at most every OUTBOX_TICK_MS: a busy loop turns
         * once per batch of points, and each tick wakes the outbox thread. */
        if (mono >= ag->next_outbox_tick_ms) {
            kw_outbox_tick(ag->outbox, kw_pipeline_clock(&ag->pipeline));
            ag->next_outbox_tick_ms = mono + OUTBOX_TICK_MS;
        }
        if (mono >= ag->next_queue_metric_ms) {
            kw_status_set_ingest_queue(kw_http_status(ag->http), kw_reader_queued_bytes(ag->reader),
                                       ag->reader ? ag->cfg.ingest.queue_bytes : 0);
            ag->next_queue_metric_ms = mono + 1000;
        }
        kw_status_publish(kw_http_status(ag->http), &ag->pipeline, ag->outbox, ag->reloads, ag->reload_failures, false);
        if (ag->cfg.stats_interval_ms > 0 && mono >= ag->next_stats_ms) {
            kw_agent_log_stats(ag);
            ag->next_stats_ms = mono + ag->cfg.stats_interval_ms;
        }
        if (mono >= ag->next_save_ms) {
            save_state(ag);
            ag->next_save_ms = mono + STATE_SAVE_MS;
        }
        if (mono >= ag->next_feedback_ms) {
            take_feedback(ag);
            ag->next_feedback_ms = mono + FEEDBACK_POLL_MS;
        }
        if (stop_after_ms > 0 && mono - started >= stop_after_ms)
            ag->stopping = true;
    }
    /* Drain what is already queued, then persist. Leaving the group writes
     * the Kafka partitions' series to the changelog and hands them over. */
    if (ag->reader)
        stop_reader(ag);
    else
        for (int i = 0; i < ag->inputs.n; i++)
            if (ag->inputs.sockets[i])
                receive_all(ag, i);
    kw_kafka_stop(ag->kafka);
    ag->kafka = NULL;
    save_state(ag);
    kw_agent_log_stats(ag);
    return 0;
}

void kw_agent_release(struct kw_agent *ag)
{
    if (ag->demo)
        kw_demo_stop(ag->demo);
    ag->demo = NULL;
    stop_reader(ag);
    kw_kafka_stop(ag->kafka);
    ag->kafka = NULL;
    kw_input_set_close(&ag->inputs);
    kw_outbox_stop(ag->outbox, 5000);
    ag->outbox = NULL;
    kw_http_free(ag->http); /* before the silence store it reads */
    ag->http = NULL;
    kw_silences_close(ag->silences);
    ag->silences = NULL;
    if (ag->pipeline.cfg)
        kw_pipeline_release(&ag->pipeline);
    if (ag->zmq_ctx)
        zmq_ctx_term(ag->zmq_ctx);
    if (ag->signal_fd >= 0)
        close(ag->signal_fd);
    kw_config_release(&ag->cfg);
    memset(ag, 0, sizeof *ag);
    ag->signal_fd = -1;
}
