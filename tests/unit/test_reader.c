/* Unit tests for the receive thread: the packed point format, and a real
 * thread on a real ZeroMQ socket handing every point over in order, with
 * its counters, under a queue bound that forces it to wait. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "../../agent/reader.h"
#include "../../lib/log.h"

Test(reader, pack_round_trip)
{
    char buf[512];
    size_t used = 0;
    struct kw_point a = {.metric = "drop_offs", .nlabels = 2, .value = -0.25, .ts_ms = 1700000000123};
    a.labels[0] = (struct kw_label){"journey", "checkout"};
    a.labels[1] = (struct kw_label){"step", ""};
    struct kw_point b = {.metric = "m", .nlabels = 0, .value = 1e300, .ts_ms = -5};
    cr_assert_eq(kw_reader_pack(buf, sizeof buf, &used, &a, 3), 0);
    cr_assert_eq(used % 8, 0, "records stay 8-byte aligned");
    cr_assert_eq(kw_reader_pack(buf, sizeof buf, &used, &b, 0), 0);

    size_t pos = 0;
    struct kw_point out;
    cr_assert_eq(kw_reader_unpack(buf, &pos, &out), 3);
    cr_assert_str_eq(out.metric, "drop_offs");
    cr_assert_eq(out.nlabels, 2);
    cr_assert_str_eq(out.labels[0].name, "journey");
    cr_assert_str_eq(out.labels[0].value, "checkout");
    cr_assert_str_eq(out.labels[1].name, "step");
    cr_assert_str_eq(out.labels[1].value, "");
    cr_assert_eq(out.value, -0.25);
    cr_assert_eq(out.ts_ms, 1700000000123);
    cr_assert_eq(kw_reader_unpack(buf, &pos, &out), 0);
    cr_assert_str_eq(out.metric, "m");
    cr_assert_eq(out.nlabels, 0);
    cr_assert_eq(out.value, 1e300);
    cr_assert_eq(out.ts_ms, -5);
    cr_assert_eq(pos, used);
}

Test(reader, pack_refuses_what_does_not_fit)
{
    char buf[40];
    size_t used = 0;
    struct kw_point a = {.metric = "a_rather_long_metric_name", .value = 1, .ts_ms = 1};
    cr_assert_eq(kw_reader_pack(buf, sizeof buf, &used, &a, 0), -1);
    cr_assert_eq(used, 0, "a refused point leaves the buffer as it was");
}

struct seen {
    long n;
    long out_of_order;
    long refused;
    struct kw_reader *reader;
    int64_t max_queued;
};

/* Refuses every point whose value is a multiple of 1000, as a series
 * limit would, and checks the order of everything else. */
static int order_sink(void *ctx, const struct kw_point *pt, enum kw_reject *why)
{
    struct seen *s = ctx;
    if ((long)pt->value != s->n)
        s->out_of_order++;
    s->n++;
    int64_t q = kw_reader_queued_bytes(s->reader);
    if (q > s->max_queued)
        s->max_queued = q;
    if ((long)pt->value % 1000 == 0) {
        *why = KW_REJ_SERIES_LIMIT;
        s->refused++;
        return -1;
    }
    return 0;
}

static struct kw_ingest_limits limits(void)
{
    return (struct kw_ingest_limits){.max_labels = 8, .max_label_bytes = 64, .max_metric_bytes = 64,
                                     .max_message_bytes = 1 << 20, .check_time = false};
}

Test(reader, hands_over_every_point_in_order_under_a_tight_bound)
{
    kw_log_set_level(KW_LOG_ERROR);
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    cr_assert_eq(zmq_bind(pull, "inproc://reader-test"), 0);
    cr_assert_eq(zmq_connect(push, "inproc://reader-test"), 0);
    void *sockets[] = {pull};
    struct kw_input_set set = {.sockets = sockets, .n = 1};
    struct kw_input_config in = {.name = "test-input", .socket = KW_INPUT_PULL, .format = KW_INPUT_JSON};
    struct kw_ingest_limits lim = limits();
    char err[256];
    /* the smallest bound: the thread must wait for the pipeline often */
    struct kw_reader *r = kw_reader_start(&set, &in, 1, &lim, 1, err, sizeof err);
    cr_assert_not_null(r, "%s", err);

    struct seen seen = {.reader = r};
    struct kw_ingest_stats stats = {0};
    const long messages = 400, per_message = 100;
    long value = 0;
    for (long m = 0; m < messages; m++) {
        char msg[100 * 120], *p = msg;
        p += sprintf(p, "[");
        for (long k = 0; k < per_message; k++, value++)
            p += sprintf(p, "%s{\"metric\":\"m\",\"labels\":{\"journey\":\"j%ld\"},\"value\":%ld,\"ts\":1700000000}",
                         k ? "," : "", value % 7, value);
        p += sprintf(p, "]");
        cr_assert_eq(zmq_send(push, msg, (size_t)(p - msg), 0), p - msg);
        if (m % 50 == 0)
            cr_assert_eq(zmq_send(push, "{not json", 9, 0), 9);
        /* drain now and then, as the pipeline thread does between ticks */
        if (m % 20 == 0) {
            struct pollfd pfd = {.fd = kw_reader_fd(r), .events = POLLIN};
            if (poll(&pfd, 1, 0) > 0)
                kw_reader_drain(r, &stats, order_sink, &seen);
        }
    }
    while (seen.n < messages * per_message) {
        struct pollfd pfd = {.fd = kw_reader_fd(r), .events = POLLIN};
        cr_assert_gt(poll(&pfd, 1, 5000), 0, "the reader stalled at %ld points", seen.n);
        kw_reader_drain(r, &stats, order_sink, &seen);
    }
    /* then messages with no valid point: their counters alone must come through */
    for (int k = 0; k < 3; k++)
        cr_assert_eq(zmq_send(push, "[1]", 3, 0), 3);
    while (stats.rejected[KW_REJ_NOT_OBJECT] < 3) {
        struct pollfd pfd = {.fd = kw_reader_fd(r), .events = POLLIN};
        cr_assert_gt(poll(&pfd, 1, 5000), 0, "counters of point-less messages never came");
        kw_reader_drain(r, &stats, order_sink, &seen);
    }
    kw_reader_stop(r, &stats, order_sink, &seen);

    cr_assert_eq(seen.n, messages * per_message);
    cr_assert_eq(seen.out_of_order, 0);
    cr_assert_eq(stats.messages, (uint64_t)(messages + messages / 50 + 3));
    cr_assert_eq(stats.rejected[KW_REJ_NOT_OBJECT], 3);
    cr_assert_eq(stats.rejected[KW_REJ_MALFORMED_JSON], (uint64_t)(messages / 50));
    cr_assert_eq(stats.rejected[KW_REJ_SERIES_LIMIT], (uint64_t)seen.refused);
    cr_assert_eq(stats.points_accepted, (uint64_t)(messages * per_message - seen.refused));
    /* the bound (two batches at the least) held while points were waiting */
    cr_assert_leq(seen.max_queued, 2 * 70 * 1024, "queued %lld bytes", (long long)seen.max_queued);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

Test(reader, stop_hands_over_what_the_socket_already_holds)
{
    kw_log_set_level(KW_LOG_ERROR);
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    cr_assert_eq(zmq_bind(pull, "inproc://reader-stop"), 0);
    cr_assert_eq(zmq_connect(push, "inproc://reader-stop"), 0);
    for (int v = 1; v <= 300; v++) {
        char msg[128];
        int len = snprintf(msg, sizeof msg, "{\"metric\":\"m\",\"value\":%d,\"ts\":1700000000}", v);
        cr_assert_eq(zmq_send(push, msg, (size_t)len, 0), len);
    }
    void *sockets[] = {pull};
    struct kw_input_set set = {.sockets = sockets, .n = 1};
    struct kw_input_config in = {.name = "test-input", .socket = KW_INPUT_PULL, .format = KW_INPUT_JSON};
    struct kw_ingest_limits lim = limits();
    char err[256];
    struct kw_reader *r = kw_reader_start(&set, &in, 1, &lim, 64 << 20, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    struct seen seen = {.n = 1, .reader = r};
    struct kw_ingest_stats stats = {0};
    kw_reader_stop(r, &stats, order_sink, &seen); /* no drain before: stop alone must hand all over */
    cr_assert_eq(seen.n, 301);
    cr_assert_eq(seen.out_of_order, 0);
    cr_assert_eq(stats.messages, 300);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}
