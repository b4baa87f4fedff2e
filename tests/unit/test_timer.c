/* The pipeline's timer queue: the binary heap against a sorted reference,
 * and a quiet stream whose interval closes at its close point, not at a
 * later sweep, on an injected wall clock. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/config.h"
#include "../../agent/pipeline.h"
#include "../../lib/heap.h"
#include "../../lib/log.h"

struct item {
    int64_t key;
    size_t pos;
    bool in;
};

static void moved(void *it, size_t pos)
{
    struct item *i = it;
    i->pos = pos;
    i->in = pos != KW_HEAP_NONE;
}

Test(heap, pops_in_key_order_through_pushes_updates_and_removals)
{
    enum { N = 2000 };
    static struct item items[N];
    struct kw_heap h;
    kw_heap_init(&h, moved);
    uint32_t x = 12345;
    for (int round = 0; round < 20000; round++) {
        x = x * 1664525u + 1013904223u;
        struct item *it = &items[(x >> 8) % N];
        int64_t key = (int64_t)((x >> 4) % 100000) - 50000;
        if (!it->in) {
            it->key = key;
            kw_heap_push(&h, key, it);
        } else if (x & 1) {
            it->key = key;
            kw_heap_update(&h, it->pos, key);
        } else {
            kw_heap_remove(&h, it->pos);
        }
        cr_assert(!it->in || h.e[it->pos].item == it, "position callback out of step");
    }
    size_t count = 0;
    for (int i = 0; i < N; i++)
        count += items[i].in;
    cr_assert_eq(h.n, count);
    int64_t last = INT64_MIN;
    while (kw_heap_top(&h)) {
        const struct kw_heap_entry *top = kw_heap_top(&h);
        struct item *it = top->item;
        cr_assert_geq(top->key, last);
        cr_assert_eq(top->key, it->key);
        last = top->key;
        kw_heap_remove(&h, it->pos);
        cr_assert(!it->in);
    }
    kw_heap_release(&h);
}

static int closed;

static void on_interval(void *ctx, const struct kw_series *s, const struct kw_kpi_config *kpi,
                        const struct kw_sample *sample, const struct kw_verdict *v)
{
    closed++;
}

Test(timer, a_quiet_streams_interval_closes_at_its_close_point)
{
    kw_log_set_level(KW_LOG_OFF);
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_config_parse(&cfg,
                                 "{\"agent\":{\"series_ttl\":\"1d\"},\"kpis\":[{\"name\":\"c\",\"metric\":\"c\","
                                 "\"interval\":\"1m\",\"lateness\":\"10s\",\"detector\":{\"type\":\"threshold\",\"high\":9}}]}",
                                 "t.json", err, sizeof err),
                 0, "%s", err);
    struct kw_pipeline p;
    kw_pipeline_init(&p, &cfg);
    p.extrapolate = true;
    kw_pipeline_on_interval(&p, on_interval, NULL);
    closed = 0;
    const int64_t t0 = 1767225600000LL; /* an interval start */
    const int64_t wall0 = 5000000;      /* the injected wall clock */
    struct kw_point pt = {.metric = "c", .value = 1, .ts_ms = t0 + 20000};
    enum kw_reject why;
    cr_assert_eq(kw_pipeline_point(&p, &pt, &why), 0);
    kw_pipeline_tick(&p, wall0);
    /* the close point is t0 + 1m + 10s: 50 s of wall time after the point */
    int64_t wait = kw_pipeline_next_due(&p, wall0);
    cr_assert_eq(wait, 50000);
    kw_pipeline_tick(&p, wall0 + wait - 1);
    cr_assert_eq(closed, 0, "closed before its close point");
    cr_assert_eq(kw_pipeline_next_due(&p, wall0 + wait - 1), 1);
    kw_pipeline_tick(&p, wall0 + wait);
    cr_assert_eq(closed, 1, "not closed at its close point");
    /* the next one a minute later, with no point in between */
    cr_assert_eq(kw_pipeline_next_due(&p, wall0 + wait), 60000);
    kw_pipeline_tick(&p, wall0 + wait + 60000);
    cr_assert_eq(closed, 2);
    /* without a wall clock to flow with, there is nothing to wait for */
    p.extrapolate = false;
    cr_assert_eq(kw_pipeline_next_due(&p, wall0), -1);
    kw_pipeline_release(&p);
    kw_config_release(&cfg);
}
