/* kafka: the Kafka input. Agents that share a group_id split the input
 * topics' partitions between them (librdkafka consumer group), and a
 * partition's series follow it: before an agent consumes a partition it was
 * assigned, it restores that partition's series from the changelog topic
 * (changelog.h); while it owns the partition it writes the series that
 * changed to the changelog every commit_interval; on revocation it writes
 * them a last time and drops them. Messages go through the same ingest
 * (JSON or line protocol, kw_point_check, rejection counters) as ZeroMQ.
 *
 * At least once: offsets are committed only after the changelog holds the
 * state of every point of the messages before them, so a crash replays
 * messages, never loses them. The eager protocol (range assignor) is the
 * default: every partition is revoked before any is reassigned, so no
 * series is ever owned by two agents; cooperative-sticky is also handled
 * (only the moved partitions are revoked and restored).
 *
 * Everything runs on the agent's thread: librdkafka's own threads only
 * fetch and send, and wake the poll loop through kw_kafka_fd. */
#ifndef KW_KAFKA_H
#define KW_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../lib/opts.h"
#include "ingest.h"

struct kw_pipeline;

enum kw_kafka_security { KW_KAFKA_PLAINTEXT = 0, KW_KAFKA_SSL, KW_KAFKA_SASL_PLAINTEXT, KW_KAFKA_SASL_SSL };

struct kw_kafka_config {
    char *brokers;
    struct kw_string_list topics;
    char *group_id;
    char *changelog_topic;
    int security_protocol;          /* enum kw_kafka_security */
    char *sasl_mechanism;
    char *sasl_username;
    char *sasl_password;            /* inline (usually ${ENV}); wiped once resolved */
    char *sasl_password_file;
    char *ssl_ca_location;
    struct kw_string_map properties; /* passed to librdkafka as they are */
    int64_t commit_interval_ms;
    int64_t restore_timeout_ms;
    char *password;                 /* the resolved SASL password (secret) */
};

/* The options of an input of type kafka (beside name, type, format). */
extern const struct kw_option kw_kafka_options[];
/* Fill kc from obj and check what the values mean (topics given, SASL
 * settings complete, properties librdkafka knows and kpiwatch does not
 * set itself). Returns 0, or -1 with "path.key: reason"; on error call
 * kw_kafka_config_release. Connects to nothing. */
int kw_kafka_parse(struct kw_kafka_config *kc, const cJSON *obj, const char *path, char *err, size_t errlen);
/* Free kc's contents (the secret is wiped). Safe on a zeroed struct. */
void kw_kafka_config_release(struct kw_kafka_config *kc);

struct kw_kafka;

/* Join the group and subscribe. name, format and precision are the
 * input's (enum kw_input_format, kw_lineproto_precision). p and lim are
 * borrowed and must stay at the same address for the consumer's life (the
 * agent's pipeline and ingest limits). Returns NULL with err when librdkafka
 * refuses the settings; brokers that are down are retried, not an error. */
struct kw_kafka *kw_kafka_start(const struct kw_kafka_config *kc, const char *name, int format, int precision,
                                struct kw_pipeline *p, const struct kw_ingest_limits *lim, char *err, size_t errlen);
/* A file descriptor that becomes readable when the consumer has messages or
 * events (rd_kafka_queue_io_event_enable), for zmq_poll. */
int kw_kafka_fd(const struct kw_kafka *k);
/* Every commit_interval, write the changelog and then commit the messages
 * taken on earlier turns; then take what the consumer has (a bounded
 * batch, so signals and ticks are never starved; rebalances run here).
 * Call it on every turn of the poll loop, before kw_pipeline_tick. */
void kw_kafka_poll(struct kw_kafka *k);
/* True while a partition assigned since the last rebalance is replaying
 * its backlog (up to restore_timeout): the interval clock should hold, so
 * replayed points land in their still-open intervals. */
bool kw_kafka_catching_up(const struct kw_kafka *k);
/* The /metrics families of the consumer (Prometheus text; caller frees). */
char *kw_kafka_metrics(const struct kw_kafka *k);
/* Leave the group: the revocation writes the changelog, commits and drops
 * the partitions' series from the pipeline. Then free everything. Accepts NULL. */
void kw_kafka_stop(struct kw_kafka *k);

#endif
