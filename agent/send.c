/* send: publish messages to an agent over ZeroMQ. */
#include "send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "../lib/strbuf.h"

static int send_one(void *s, const char *topic, const char *msg, size_t len)
{
    if (topic && zmq_send(s, topic, strlen(topic), ZMQ_SNDMORE) < 0)
        return -1;
    return zmq_send(s, msg, len, 0) < 0 ? -1 : 0;
}

int kw_send_check_format(const char *msg, size_t len, bool line_protocol, const char *what, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len && (msg[i] == ' ' || msg[i] == '\t' || msg[i] == '\r' || msg[i] == '\n'))
        i++;
    bool json = i < len && (msg[i] == '{' || msg[i] == '[');
    if (json == !line_protocol)
        return 0;
    if (json)
        snprintf(err, errlen, "%s is JSON, but the input reads InfluxDB line protocol: send line protocol, "
                 "or --format json", what);
    else
        snprintf(err, errlen, "%s is not JSON (it starts \"%.20s\"), but the input reads JSON: send a JSON point, "
                 "or --format influx for line protocol", what, msg + i);
    return -1;
}

/* Lines per message when batching: a line protocol writer's usual batch. */
#define SEND_BATCH_LINES 1000

int kw_send_run(const struct kw_send_options *opt, char *err, size_t errlen)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, opt->push ? ZMQ_PUSH : ZMQ_PUB);
    int linger = 5000; /* let queued messages leave before exit */
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, opt->endpoint) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", opt->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        zmq_ctx_term(ctx);
        return -1;
    }
    if (!opt->push) {
        /* PUB drops what is sent before the subscriber's subscription arrives. */
        struct timespec ts = {0, 500 * 1000000L};
        nanosleep(&ts, NULL);
    }
    int sent = 0, lineno = 0;
    bool refused = false;
    if (opt->nmessages > 0) {
        for (int i = 0; i < opt->nmessages; i++)
            if (send_one(s, opt->topic, opt->messages[i], strlen(opt->messages[i])) == 0)
                sent++;
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        struct kw_strbuf batch;
        kw_strbuf_init(&batch);
        int batched = 0;
        while ((len = getline(&line, &cap, stdin)) >= 0) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
            lineno++;
            if (len == 0)
                continue;
            char what[32];
            snprintf(what, sizeof what, "line %d", lineno);
            if (opt->check_format && kw_send_check_format(line, (size_t)len, opt->batch_lines, what, err, errlen)) {
                refused = true;
                break;
            }
            if (!opt->batch_lines) {
                if (send_one(s, opt->topic, line, (size_t)len) == 0)
                    sent++;
                continue;
            }
            kw_strbuf_append(&batch, line, (size_t)len);
            kw_strbuf_append(&batch, "\n", 1);
            if (++batched == SEND_BATCH_LINES) {
                if (send_one(s, opt->topic, batch.data, batch.len) == 0)
                    sent++;
                batch.len = 0; /* keep the memory for the next batch */
                batched = 0;
            }
        }
        if (batched && send_one(s, opt->topic, batch.data, batch.len) == 0)
            sent++; /* the lines before a refused one are good */
        kw_strbuf_release(&batch);
        free(line);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    if (refused) {
        size_t used = strlen(err);
        snprintf(err + used, errlen - used, " (%d message%s sent before it)", sent, sent == 1 ? "" : "s");
        return -2;
    }
    return sent;
}
