/* demo: a simulated publisher of customer-journey metrics, so a newcomer
 * sees real alerts within a minute. It runs in its own thread with its own
 * ZeroMQ socket and publishes over the agent's real input endpoint, in
 * compressed time (a simulated day passes in seconds). */
#ifndef KW_DEMO_H
#define KW_DEMO_H

#include <stddef.h>
#include <stdint.h>

struct kw_demo_options {
    const char *endpoint;     /* where to publish (connects to it) */
    int push;                 /* 1: PUSH socket (agent input is PULL), 0: PUB */
    int64_t interval_ms;      /* simulated interval between batches */
    int64_t wall_per_interval_ms; /* wall time per simulated interval */
    int64_t start_ms;         /* simulated time of the first batch */
    unsigned long seed;
};

struct kw_demo;

/* Start the publisher thread. Returns NULL with err when the socket cannot
 * connect. ctx is the ZeroMQ context (shared, thread-safe). */
struct kw_demo *kw_demo_start(void *zmq_ctx, const struct kw_demo_options *opt, char *err, size_t errlen);
/* Stop the thread and free the demo. Accepts NULL. */
void kw_demo_stop(struct kw_demo *demo);

/* Fill buf with one simulated interval's points as a JSON array (for tests
 * and the benchmark). t_ms is the interval start; returns the length. */
size_t kw_demo_render_interval(void *rng, int64_t t_ms, int64_t interval_ms, int64_t origin_ms, char *buf,
                               size_t cap);

#endif
