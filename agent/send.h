/* send: `kpiwatch send`, a small publisher for trying the agent and for
 * scripts: it sends JSON messages or InfluxDB lines to an agent's input the
 * way a pipeline would (PUB for a sub input, PUSH for a pull input). */
#ifndef KW_SEND_H
#define KW_SEND_H

#include <stdbool.h>
#include <stddef.h>

struct kw_send_options {
    const char *endpoint;   /* where the agent listens, e.g. tcp://127.0.0.1:5556 */
    bool push;              /* PUSH (agent input is pull) instead of PUB */
    const char *topic;      /* PUB: sent as the first frame; NULL = none */
    const char *const *messages; /* messages to send; none = one message per line of stdin */
    int nmessages;
    bool batch_lines;       /* stdin: many lines per message (line protocol) instead of one each */
    bool check_format;      /* the input's format is known: refuse lines of the other one */
};

/* Connect and send. Returns the number of messages sent, or -1 with err;
 * -2 with err when a line of stdin does not match the format (nothing from
 * that line on is sent). */
int kw_send_run(const struct kw_send_options *opt, char *err, size_t errlen);

/* Whether msg (len bytes) is in the format the input reads: JSON starts
 * with { or [ (after blanks), line protocol does not. what names it in err
 * ("message 2", "line 7"). Returns 0, or -1 with err. */
int kw_send_check_format(const char *msg, size_t len, bool line_protocol, const char *what, char *err, size_t errlen);

#endif
