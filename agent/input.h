/* input: the inputs[] section and its ZeroMQ sockets. An input binds or
 * connects a SUB (topic prefixes) or PULL socket. A reload swaps a whole set
 * of sockets in one step: an unchanged endpoint keeps its socket (topics are
 * re-subscribed in place), new endpoints are opened before anything is
 * closed, and when any of them fails the running set stays exactly as it was. */
#ifndef KW_INPUT_H
#define KW_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../lib/opts.h"
#include "ingest.h"
#include "kafka.h"

enum kw_input_mode { KW_INPUT_BIND = 0, KW_INPUT_CONNECT };
enum kw_input_socket { KW_INPUT_SUB = 0, KW_INPUT_PULL };
enum kw_input_format { KW_INPUT_JSON = 0, KW_INPUT_INFLUX };
enum kw_input_type { KW_INPUT_ZMQ = 0, KW_INPUT_KAFKA };

struct kw_input_config {
    char *name;
    int type;                     /* enum kw_input_type */
    char *endpoint;
    int mode;                     /* enum kw_input_mode */
    int socket;                   /* enum kw_input_socket */
    struct kw_string_list topics; /* SUB prefixes; empty = everything */
    int rcvhwm;
    int format;                   /* enum kw_input_format */
    int precision;                /* enum kw_lineproto_precision: influx timestamps */
    struct kw_kafka_config kafka; /* type kafka (kafka.h) */
};

/* The inputs[] option table. */
extern const struct kw_option kw_input_options[];
/* Parse one inputs[] entry (zeroed by the caller). Returns 0 or -1 with
 * "path.key: reason"; on error call kw_input_release. */
int kw_input_parse(struct kw_input_config *in, const cJSON *obj, const char *path, char *err, size_t errlen);
/* Free in's contents. Safe on a zeroed struct. */
void kw_input_release(struct kw_input_config *in);

/* Open sockets, one per input config. */
struct kw_input_set {
    void **sockets;
    int n;
};

/* Open a socket for each ZeroMQ input of cfg[0..n) into out (a kafka
 * input's slot stays NULL: the agent runs its consumer, kafka.h). When prev is not NULL (a
 * reload), a socket of prev whose endpoint, mode and type match is moved
 * into out and re-subscribed; prev_cfg describes prev. On success the
 * sockets left in prev are closed and prev is emptied. On failure nothing
 * changes (prev keeps every socket) and -1 is returned with err.
 * ZeroMQ itself refuses frames over twice max_message_bytes (ZMQ_MAXMSGSIZE:
 * the peer is disconnected before the frame is buffered), so a flood of
 * huge frames cannot drive memory up; frames up to that size are counted as
 * oversized_message by ingest. */
int kw_input_set_open(struct kw_input_set *out, void *zmq_ctx, const struct kw_input_config *cfg, int n,
                      struct kw_input_set *prev, const struct kw_input_config *prev_cfg, int64_t max_message_bytes,
                      char *err, size_t errlen);
/* Close every socket. Safe on a zeroed set. */
void kw_input_set_close(struct kw_input_set *set);

/* Receive up to max_messages waiting messages from socket without
 * blocking, and read each in the input's format (a SUB socket's topic
 * frame or topic word is skipped), handing valid points to sink. Returns
 * the number of messages received. */
int kw_input_receive(void *socket, const struct kw_input_config *in, const struct kw_ingest_limits *lim,
                     struct kw_ingest_stats *stats, int max_messages, kw_point_sink sink, void *ctx);

#endif
