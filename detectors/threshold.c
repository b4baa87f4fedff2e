/* threshold: static bounds. Alerts when the value leaves [low, high].
 * Needs no history, so it is ready from the first interval. Use it for hard
 * limits that never change (an SLO, a regulatory cap). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "../lib/xmalloc.h"
#include "detector.h"

struct threshold_config {
    double low;
    double high;
};

struct threshold_state {
    int unused; /* stateless; kept so save/load have an object */
};

static const struct kw_option threshold_options[] = {
    {"low", KW_OPT_DOUBLE, "-inf", offsetof(struct threshold_config, low), KW_NORANGE,
     .desc = "Lower bound; values below it alert."},
    {"high", KW_OPT_DOUBLE, "inf", offsetof(struct threshold_config, high), KW_NORANGE,
     .desc = "Upper bound; values above it alert."},
    KW_OPT_END,
};

static int threshold_check(void *cfg, const char *path, char *err, size_t errlen)
{
    const struct threshold_config *c = cfg;
    if (isinf(c->low) && isinf(c->high)) {
        snprintf(err, errlen, "%s: threshold needs \"low\", \"high\" or both", path);
        return -1;
    }
    if (!(c->low < c->high)) {
        snprintf(err, errlen, "%s.high: must be > low (%g)", path, c->low);
        return -1;
    }
    return 0;
}

static void *threshold_new(const void *cfg, const struct kw_series_info *info)
{
    (void)cfg;
    (void)info;
    return xcalloc(1, sizeof(struct threshold_state));
}

static void threshold_update(void *state, const void *cfg, const struct kw_series_info *info,
                             const struct kw_sample *in, struct kw_verdict *out)
{
    (void)state;
    (void)info;
    const struct threshold_config *c = cfg;
    if (isnan(in->value))
        return;
    out->ready = true;
    out->lower = c->low;
    out->upper = c->high;
    /* Expected: the violated bound, or the value itself when inside. */
    if (in->value > c->high) {
        out->expected = c->high;
        out->score = in->value - c->high;
    } else if (in->value < c->low) {
        out->expected = c->low;
        out->score = in->value - c->low;
    } else {
        out->expected = in->value;
        out->score = 0;
    }
    out->anomalous = out->score != 0;
    /* Excess relative to the bound's magnitude; 0.5 just past the bound. */
    double scale = fabs(out->expected) > 0 ? fabs(out->expected) : 1.0;
    out->anomaly_score = out->anomalous ? 0.5 + 0.5 * kw_squash(fabs(out->score), scale) : 0.0;
}

static cJSON *threshold_save(const void *state, const void *cfg)
{
    (void)state;
    (void)cfg;
    return cJSON_CreateObject();
}

static int threshold_load(void *state, const void *cfg, const cJSON *json)
{
    (void)state;
    (void)cfg;
    return cJSON_IsObject(json) ? 0 : -1;
}

static size_t threshold_bytes(const void *state)
{
    (void)state;
    return sizeof(struct threshold_state);
}

const struct kw_detector_type threshold_detector = {
    .name = "threshold",
    .description = "Static bounds: alert when the value leaves [low, high].",
    .options = threshold_options,
    .config_size = sizeof(struct threshold_config),
    .config_check = threshold_check,
    .state_new = threshold_new,
    .update = threshold_update,
    .state_save = threshold_save,
    .state_load = threshold_load,
    .state_free = free,
    .state_bytes = threshold_bytes,
};
