/* reader: the receive thread. It owns the ZeroMQ input sockets while it
 * runs, receives and parses every message (JSON or line protocol, through
 * the same readers and validation as the single-threaded path), and hands
 * the valid points to the pipeline thread in batches, in the order they
 * were received. Aggregation and detection then have a core of their own.
 *
 * A batch is a flat buffer of packed points (no pointers, nothing to free
 * per point) plus the ingest counters it changed, so every counter is added
 * up on the pipeline thread alone. The queue between the two threads is
 * bounded in bytes: when it is full the reader stops receiving, and
 * ZeroMQ's own queue (rcvhwm) pushes back on the publisher. */
#ifndef KW_READER_H
#define KW_READER_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "input.h"

struct kw_reader;

/* Start the thread on the open sockets of inputs (configured by cfg[0..n)),
 * which it uses exclusively until kw_reader_stop. lim and cfg must stay
 * valid until then. queue_bytes bounds the points waiting for the pipeline.
 * Returns NULL with err when the thread cannot start. */
struct kw_reader *kw_reader_start(const struct kw_input_set *inputs, const struct kw_input_config *cfg, int n,
                                  const struct kw_ingest_limits *lim, int64_t queue_bytes, char *err,
                                  size_t errlen);
/* Readable (poll) while batches wait to be drained. */
int kw_reader_fd(const struct kw_reader *r);
/* Hand every waiting point to sink, in order, and add the counters of the
 * drained batches to stats (points refused by sink are counted there under
 * their input's name). Returns the number of points handed over. */
size_t kw_reader_drain(struct kw_reader *r, struct kw_ingest_stats *stats, kw_point_sink sink, void *ctx);
/* Bytes of points waiting for the pipeline now (for /metrics). */
int64_t kw_reader_queued_bytes(const struct kw_reader *r);
/* Receive what the sockets already hold (bounded, as the single-threaded
 * drain on shutdown), stop the thread, and hand everything still queued to
 * sink. The sockets go back to the caller. Accepts NULL. */
void kw_reader_stop(struct kw_reader *r, struct kw_ingest_stats *stats, kw_point_sink sink, void *ctx);

/* Packing, exposed for tests: append pt (already valid) to buf of cap
 * bytes at *used; returns 0, or -1 when it does not fit. */
int kw_reader_pack(char *buf, size_t cap, size_t *used, const struct kw_point *pt, int input);
/* Unpack the point at buf + *pos into pt (strings point into buf) and
 * advance *pos; returns its input index. */
int kw_reader_unpack(const char *buf, size_t *pos, struct kw_point *pt);

#endif
