/* fuzz_lineproto: the daemon's path for an influx input, lines → pipeline →
 * alerts. The input is one or more messages separated by 0x1E (record
 * separator); each is copied into a buffer of exactly its size (so any read
 * past the message is a sanitizer report), parsed in place by
 * kw_lineproto_ingest with the precision cycling ns, us, ms, s, and the
 * pipeline ticks 20 s later. Every point that reaches the pipeline must pass
 * kw_point_check again, and every series must survive a state save and
 * restore. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../agent/lineproto.h"
#include "fuzz_common.h"

static struct kw_config cfg;
static char state_path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init(&cfg, FZ_PIPELINE_CONFIG, NULL);
    fz_tmp_path(state_path, sizeof state_path, "lineproto-state");
    return 0;
}

struct sink_ctx {
    struct kw_pipeline *p;
    int64_t now;
};

/* What the reader hands on is a valid point, with strings that end inside
 * the message or the reader's own metric buffer. */
static int checked_sink(void *ctx, const struct kw_point *pt, enum kw_reject *why)
{
    struct sink_ctx *s = ctx;
    enum kw_reject again;
    char detail[200];
    if (kw_point_check(&cfg.ingest, pt, s->now, &again, detail, sizeof detail))
        abort();
    return kw_pipeline_point(s->p, pt, why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kw_pipeline p;
    fz_pipeline(&p, &cfg, true);
    struct sink_ctx s = {&p, FZ_NOW_MS};
    const char *msg = (const char *)data, *end = msg + size;
    for (int i = 0; msg <= end; i++) {
        const char *sep = memchr(msg, 0x1e, (size_t)(end - msg));
        size_t len = (size_t)((sep ? sep : end) - msg);
        char *copy = malloc(len ? len : 1);
        memcpy(copy, msg, len);
        kw_lineproto_ingest(&cfg.ingest, &p.ingest, "fuzz", i % 4, copy, len, s.now, checked_sink, &s);
        free(copy);
        kw_pipeline_tick(&p, s.now);
        s.now += 20000;
        if (!sep)
            break;
        msg = sep + 1;
    }
    /* false: a finite but absurd value (1e308) can make a detector's state
     * non-finite, and such a series is skipped on restore by design. */
    fz_check_restore(&p, state_path, false);
    kw_pipeline_release(&p);
    return 0;
}
