/* fuzz_point: the daemon's message path, ingest → pipeline → alerts. The
 * input is one or more messages separated by 0x1E (record separator); each
 * goes through kw_ingest_message with the default limits and the age checks
 * on, then the pipeline ticks with the wall clock 20 s later. At the end
 * every series the pipeline holds must survive a state save and restore. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../agent/ingest.h"
#include "fuzz_common.h"

static struct kw_config cfg;
static char state_path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_init(&cfg, FZ_PIPELINE_CONFIG, NULL);
    fz_tmp_path(state_path, sizeof state_path, "point-state");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kw_pipeline p;
    fz_pipeline(&p, &cfg, true);
    int64_t now = FZ_NOW_MS;
    const char *msg = (const char *)data, *end = msg + size;
    while (msg <= end) {
        const char *sep = memchr(msg, 0x1e, (size_t)(end - msg));
        size_t len = (size_t)((sep ? sep : end) - msg);
        kw_ingest_message(&cfg.ingest, &p.ingest, "fuzz", msg, len, now, kw_pipeline_point, &p);
        kw_pipeline_tick(&p, now);
        now += 20000;
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
