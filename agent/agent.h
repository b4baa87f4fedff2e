/* agent: the daemon. Owns the config, the ZeroMQ inputs and the receive
 * thread that reads them (reader.h), the pipeline and the outbox (alert
 * queue, routing and delivery threads); runs the poll loop, which feeds the
 * received points to the pipeline; reloads on SIGHUP (a bad config, or
 * inputs that cannot be opened, never replace a good one); drains, saves
 * state and exits on SIGTERM/SIGINT. This struct is the only mutable state
 * in the process. */
#ifndef KW_AGENT_H
#define KW_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "input.h"
#include "outbox.h"
#include "pipeline.h"
#include "silence.h"

struct kw_demo;
struct kw_reader;
struct kw_http;

struct kw_agent {
    struct kw_config cfg;
    struct kw_pipeline pipeline;
    struct kw_outbox *outbox;
    struct kw_silences *silences; /* lives across reloads; persisted in state_dir */
    void *zmq_ctx;
    struct kw_input_set inputs; /* one socket per cfg.inputs entry (NULL for the kafka input) */
    struct kw_reader *reader;   /* the receive thread (ingest.receive_thread), while running */
    struct kw_kafka *kafka;     /* the kafka input's consumer, when there is one */
    int64_t next_kafka_metrics_ms;
    int signal_fd;
    bool stopping;
    int64_t next_stats_ms;
    int64_t next_outbox_tick_ms;
    int64_t next_queue_metric_ms;
    int64_t next_save_ms;
    int64_t next_feedback_ms;  /* next look at STATE_DIR/feedback (feedback.h) */
    uint64_t reloads, reload_failures;
    struct kw_demo *demo;      /* demo publisher, when running `kpiwatch demo` */
    struct kw_http *http;      /* status page, /metrics and API, and the status and history they read */
};

/* Load the config at path and set the agent up (sockets bound/connected,
 * state restored). demo_mode turns off the wall-clock age checks because
 * the demo runs in compressed time. Returns 0, or -1 with err. On error the
 * agent needs no release. */
int kw_agent_init(struct kw_agent *ag, const char *config_path, bool demo_mode, char *err, size_t errlen);
/* Run until SIGTERM/SIGINT (or stop_after_ms of wall time when > 0).
 * Returns the process exit code. */
int kw_agent_run(struct kw_agent *ag, int64_t stop_after_ms);
/* Free everything. Safe after a failed init. */
void kw_agent_release(struct kw_agent *ag);

/* Log the self-metrics counters as one line. */
void kw_agent_log_stats(const struct kw_agent *ag);

#endif
