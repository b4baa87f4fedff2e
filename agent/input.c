/* input: inputs[] options and ZeroMQ sockets. */
#include "input.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "lineproto.h"

static const char *const input_modes[] = {"bind", "connect", NULL};
static const char *const input_sockets[] = {"sub", "pull", NULL};
static const char *const input_formats[] = {"json", "influx", NULL};
static const char *const input_types[] = {"zmq", "kafka", NULL};
/* What only a ZeroMQ input has. */
static const char *const zmq_only[] = {"endpoint", "mode", "socket", "rcvhwm", NULL};

const struct kw_option kw_input_options[] = {
    {"name", KW_OPT_STRING, NULL, offsetof(struct kw_input_config, name), KW_NORANGE,
     .desc = "Name used in logs and self-metrics."},
    {"type", KW_OPT_ENUM, "zmq", offsetof(struct kw_input_config, type), KW_NORANGE,
     .choices = input_types, .desc = "zmq (a ZeroMQ socket) or kafka (a consumer group; its keys are listed below)."},
    {"endpoint", KW_OPT_STRING, "", offsetof(struct kw_input_config, endpoint), KW_NORANGE,
     .desc = "ZeroMQ endpoint, e.g. tcp://127.0.0.1:5556 or ipc:///run/kpiwatch.sock (required for zmq)."},
    {"mode", KW_OPT_ENUM, "bind", offsetof(struct kw_input_config, mode), KW_NORANGE,
     .choices = input_modes, .desc = "bind: publishers connect to us; connect: we connect to a publisher."},
    {"socket", KW_OPT_ENUM, "sub", offsetof(struct kw_input_config, socket), KW_NORANGE,
     .choices = input_sockets, .desc = "sub (PUB/SUB fan-out, topic filters) or pull (PUSH/PULL, back-pressure)."},
    {"topics", KW_OPT_CUSTOM, "", offsetof(struct kw_input_config, topics), KW_NORANGE,
     .parse = kw_opt_parse_string_list, .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "SUB topic prefixes; [] subscribes to everything."},
    {"rcvhwm", KW_OPT_INT, "1000", offsetof(struct kw_input_config, rcvhwm), 1, 100000000,
     .desc = "ZeroMQ's receive queue per connected publisher, in messages (ZeroMQ counts messages, not bytes); bursts "
             "wait in ingest.queue_bytes once parsed."},
    {"format", KW_OPT_ENUM, "json", offsetof(struct kw_input_config, format), KW_NORANGE,
     .choices = input_formats, .desc = "Wire format of messages: json (kpiwatch points) or influx (InfluxDB line protocol)."},
    {"precision", KW_OPT_ENUM, "ns", offsetof(struct kw_input_config, precision), KW_NORANGE,
     .choices = kw_lineproto_precisions, .desc = "influx: unit of line timestamps (ns, us, ms or s)."},
    KW_OPT_END,
};

int kw_input_parse(struct kw_input_config *in, const cJSON *obj, const char *path, char *err, size_t errlen)
{
    const struct kw_option *tables[] = {kw_input_options, NULL};
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "%s: must be an object", path);
        return -1;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "kafka") == 0) {
        char key[KW_ERR_LEN];
        const struct kw_option *kafka_tables[] = {kw_input_options, kw_kafka_options, NULL};
        if (kw_opts_reject_unknown(obj, kafka_tables, NULL, path, err, errlen) ||
            kw_opts_fill(kw_input_options, obj, in, path, err, errlen))
            return -1;
        for (int i = 0; zmq_only[i]; i++) {
            if (cJSON_GetObjectItemCaseSensitive(obj, zmq_only[i])) {
                snprintf(err, errlen, "%s: only a zmq input has it", kw_path_key(key, sizeof key, path, zmq_only[i]));
                return -1;
            }
        }
        if (in->format != KW_INPUT_INFLUX && cJSON_GetObjectItemCaseSensitive(obj, "precision")) {
            snprintf(err, errlen, "%s.precision: only an influx input has a timestamp precision", path);
            return -1;
        }
        kw_opt_release_string_list(&in->topics); /* "topics" are the Kafka topics here */
        return kw_kafka_parse(&in->kafka, obj, path, err, errlen);
    }
    if (kw_opts_reject_unknown(obj, tables, NULL, path, err, errlen) ||
        kw_opts_fill(kw_input_options, obj, in, path, err, errlen))
        return -1;
    if (!in->endpoint) {
        snprintf(err, errlen, "%s.endpoint: is required (a non-empty string)", path);
        return -1;
    }
    if (!strstr(in->endpoint, "://")) {
        snprintf(err, errlen, "%s.endpoint: must look like tcp://HOST:PORT, ipc://PATH or inproc://NAME", path);
        return -1;
    }
    if (in->socket == KW_INPUT_PULL && in->topics.n > 0) {
        snprintf(err, errlen, "%s.topics: only a sub socket has topics", path);
        return -1;
    }
    if (in->format != KW_INPUT_INFLUX && cJSON_GetObjectItemCaseSensitive(obj, "precision")) {
        snprintf(err, errlen, "%s.precision: only an influx input has a timestamp precision", path);
        return -1;
    }
    return 0;
}

void kw_input_release(struct kw_input_config *in)
{
    kw_kafka_config_release(&in->kafka);
    kw_opts_release(kw_input_options, in);
}

static bool same_socket(const struct kw_input_config *a, const struct kw_input_config *b)
{
    return a->type == KW_INPUT_ZMQ && b->type == KW_INPUT_ZMQ && strcmp(a->endpoint, b->endpoint) == 0 &&
           a->mode == b->mode && a->socket == b->socket;
}

static void subscribe(void *s, const struct kw_string_list *topics, int option)
{
    if (topics->n == 0)
        zmq_setsockopt(s, option, "", 0);
    for (int t = 0; t < topics->n; t++)
        zmq_setsockopt(s, option, topics->items[t], strlen(topics->items[t]));
}

static void *open_socket(void *ctx, const struct kw_input_config *in, int index, int64_t max_msg, char *err,
                         size_t errlen)
{
    void *s = zmq_socket(ctx, in->socket == KW_INPUT_SUB ? ZMQ_SUB : ZMQ_PULL);
    int linger = 0, hwm = in->rcvhwm;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (in->socket == KW_INPUT_SUB)
        subscribe(s, &in->topics, ZMQ_SUBSCRIBE);
    int rc = in->mode == KW_INPUT_BIND ? zmq_bind(s, in->endpoint) : zmq_connect(s, in->endpoint);
    if (rc != 0) {
        snprintf(err, errlen, "inputs[%d] (%s): cannot %s %s: %s", index, in->name,
                 in->mode == KW_INPUT_BIND ? "bind" : "connect", in->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    kw_info("input", "%s: %s %s %s", in->name, in->socket == KW_INPUT_SUB ? "SUB" : "PULL",
            in->mode == KW_INPUT_BIND ? "bound to" : "connected to", in->endpoint);
    return s;
}

int kw_input_set_open(struct kw_input_set *out, void *zmq_ctx, const struct kw_input_config *cfg, int n,
                      struct kw_input_set *prev, const struct kw_input_config *prev_cfg, int64_t max_message_bytes,
                      char *err, size_t errlen)
{
    int64_t max_msg = 2 * max_message_bytes + 4096; /* room for a topic frame */
    void **sockets = xcalloc((size_t)n + 1, sizeof *sockets);
    int *from = xcalloc((size_t)n + 1, sizeof *from); /* index into prev, or -1 = opened here */
    bool *taken = xcalloc(prev ? (size_t)prev->n + 1 : 1, sizeof *taken);
    for (int i = 0; i < n; i++) {
        from[i] = -1;
        for (int j = 0; prev && j < prev->n; j++) {
            if (!taken[j] && same_socket(&cfg[i], &prev_cfg[j])) {
                from[i] = j;
                taken[j] = true;
                break;
            }
        }
        if (from[i] >= 0 || cfg[i].type == KW_INPUT_KAFKA)
            continue;
        sockets[i] = open_socket(zmq_ctx, &cfg[i], i, max_msg, err, errlen);
        if (!sockets[i]) {
            for (int k = 0; k < i; k++)
                if (from[k] < 0 && sockets[k])
                    zmq_close(sockets[k]);
            free(sockets);
            free(from);
            free(taken);
            return -1;
        }
    }
    /* Every new socket is up: move the kept ones over, then close the rest. */
    for (int i = 0; i < n; i++) {
        if (from[i] < 0)
            continue;
        void *s = prev->sockets[from[i]];
        sockets[i] = s;
        const struct kw_input_config *old = &prev_cfg[from[i]];
        if (cfg[i].socket == KW_INPUT_SUB) {
            subscribe(s, &old->topics, ZMQ_UNSUBSCRIBE);
            subscribe(s, &cfg[i].topics, ZMQ_SUBSCRIBE);
        }
        int hwm = cfg[i].rcvhwm; /* applies to connections made from now on */
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    }
    if (prev) {
        for (int j = 0; j < prev->n; j++)
            if (!taken[j] && prev->sockets[j])
                zmq_close(prev->sockets[j]);
        free(prev->sockets);
        prev->sockets = NULL;
        prev->n = 0;
    }
    free(from);
    free(taken);
    out->sockets = sockets;
    out->n = n;
    return 0;
}

void kw_input_set_close(struct kw_input_set *set)
{
    for (int i = 0; i < set->n; i++)
        if (set->sockets[i])
            zmq_close(set->sockets[i]);
    free(set->sockets);
    set->sockets = NULL;
    set->n = 0;
}

int kw_input_receive(void *socket, const struct kw_input_config *in, const struct kw_ingest_limits *lim,
                     struct kw_ingest_stats *stats, int max_messages, kw_point_sink sink, void *ctx)
{
    int n = 0;
    for (; n < max_messages; n++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        /* Multipart [topic][payload]: the payload is the last frame. */
        while (zmq_msg_more(&msg)) {
            zmq_msg_close(&msg);
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) < 0)
                break;
        }
        char *data = zmq_msg_data(&msg);
        size_t len = zmq_msg_size(&msg);
        if (in->format == KW_INPUT_INFLUX) {
            /* Parsed in place: the message is ours until zmq_msg_close. A
             * line has spaces of its own, so there is no "topic line" form. */
            kw_lineproto_ingest(lim, stats, in->name, in->precision, data, len, kw_now_ms(), sink, ctx);
            zmq_msg_close(&msg);
            continue;
        }
        /* Single frame "topic {json}": skip the topic word. */
        if (len && data[0] != '{' && data[0] != '[' && in->socket == KW_INPUT_SUB) {
            char *sp = memchr(data, ' ', len);
            if (sp) {
                len -= (size_t)(sp + 1 - data);
                data = sp + 1;
            }
        }
        kw_ingest_message(lim, stats, in->name, data, len, kw_now_ms(), sink, ctx);
        zmq_msg_close(&msg);
    }
    return n;
}
