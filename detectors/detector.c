/* detector: config parsing, the generic verdict rules (warm-up, direction,
 * min_delta) and state save/restore shared by every detector type. */
#include "detector.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"

static const char *const direction_names[] = {"both", "up", "down", "auto", NULL};

static const struct kw_option common_options[] = {
    {"direction", KW_OPT_ENUM, "auto", offsetof(struct kw_detector, direction), KW_NORANGE,
     .choices = direction_names,
     .desc = "Which deviations may alert: up, down or both; auto = the side on which the KPI gets worse: up for "
             "counts and rates (complaints, drop-offs), down for csat and nps, both for the rest. Set down or both "
             "for counts where fewer is worse (orders, conversions)."},
    {"min_delta", KW_OPT_DOUBLE, "0", offsetof(struct kw_detector, min_delta), 0, 1e300,
     .desc = "Absolute floor: |value - expected| must reach this to alert."},
    {"min_delta_rel", KW_OPT_DOUBLE, "0", offsetof(struct kw_detector, min_delta_rel), 0, 1e6,
     .desc = "Relative floor: |value - expected| must reach this fraction of |expected|."},
    {"warmup", KW_OPT_INT, "0", offsetof(struct kw_detector, warmup), 0, 1000000,
     .desc = "Intervals to learn before any verdict, on top of the detector's own minimum."},
    KW_OPT_END,
};

const struct kw_option *kw_detector_common_options(void)
{
    return common_options;
}

const struct kw_detector_type *kw_detector_type_find(const char *name)
{
    for (int i = 0; kw_detector_types[i]; i++)
        if (strcmp(kw_detector_types[i]->name, name) == 0)
            return kw_detector_types[i];
    return NULL;
}

int kw_detector_parse(struct kw_detector *det, const cJSON *obj, const char *path,
                      char *err, size_t errlen)
{
    memset(det, 0, sizeof *det);
    char keypath[KW_ERR_LEN];
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "%s: must be an object with a \"type\"", path);
        return -1;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    kw_path_key(keypath, sizeof keypath, path, "type");
    if (!cJSON_IsString(type)) {
        snprintf(err, errlen, "%s: is required (a detector name)", keypath);
        return -1;
    }
    det->type = kw_detector_type_find(type->valuestring);
    if (!det->type) {
        char names[160];
        size_t used = 0;
        for (int i = 0; kw_detector_types[i] && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                     kw_detector_types[i]->name);
        snprintf(err, errlen, "%s: unknown detector \"%.40s\" (known: %s)", keypath, type->valuestring, names);
        return -1;
    }
    const struct kw_option *tables[] = {common_options, det->type->options, NULL};
    static const char *const extra[] = {"type", NULL};
    if (kw_opts_reject_unknown(obj, tables, extra, path, err, errlen))
        return -1;
    if (kw_opts_fill(common_options, obj, det, path, err, errlen))
        return -1;
    det->cfg = xcalloc(1, det->type->config_size ? det->type->config_size : 1);
    if (kw_opts_fill(det->type->options, obj, det->cfg, path, err, errlen) ||
        (det->type->config_check && det->type->config_check(det->cfg, path, err, errlen))) {
        kw_detector_release(det);
        return -1;
    }
    return 0;
}

void kw_detector_release(struct kw_detector *det)
{
    if (det->type && det->cfg) {
        if (det->type->config_release)
            det->type->config_release(det->cfg);
        kw_opts_release(det->type->options, det->cfg);
    }
    free(det->cfg);
    memset(det, 0, sizeof *det);
}

int kw_detector_accepts(const struct kw_detector *det, const struct kw_series_info *info,
                        char *err, size_t errlen)
{
    if (!det->type->accepts)
        return 0;
    return det->type->accepts(det->cfg, info, err, errlen);
}

int kw_detector_direction(const struct kw_detector *det, const struct kw_series_info *info)
{
    return det->direction == KW_DIR_AUTO ? info->direction : det->direction;
}

/* The series as the type sees it: direction = the side it may alert on. */
static struct kw_series_info type_info(const struct kw_detector *det, const struct kw_series_info *info)
{
    struct kw_series_info ti = *info;
    ti.direction = kw_detector_direction(det, info);
    return ti;
}

void kw_detector_state_init(struct kw_detector_state *st, const struct kw_detector *det,
                            const struct kw_series_info *info)
{
    struct kw_series_info ti = type_info(det, info);
    st->seen = 0;
    st->impl = det->type->state_new(det->cfg, &ti);
}

bool kw_detector_feedback(struct kw_detector_state *st, const struct kw_detector *det, bool false_alarm)
{
    if (!det->type->feedback || !st->impl)
        return false;
    det->type->feedback(st->impl, det->cfg, false_alarm);
    return true;
}

void kw_detector_state_release(struct kw_detector_state *st, const struct kw_detector *det)
{
    if (st->impl && det && det->type)
        det->type->state_free(st->impl);
    st->impl = NULL;
    st->seen = 0;
}

void kw_detector_update(struct kw_detector_state *st, const struct kw_detector *det,
                        const struct kw_series_info *info, const struct kw_sample *in,
                        struct kw_verdict *out)
{
    memset(out, 0, sizeof *out);
    out->expected = out->lower = out->upper = NAN;
    out->p_value = out->p_level = NAN;
    struct kw_series_info ti = type_info(det, info);
    int allowed = ti.direction;
    det->type->update(st->impl, det->cfg, &ti, in, out);
    if (isnan(in->value)) {
        out->ready = false;
        out->anomalous = false;
        return;
    }
    st->seen++;
    if (!out->ready || st->seen <= (uint64_t)det->warmup) {
        out->ready = false;
        out->anomalous = false;
        out->anomaly_score = 0;
        out->severity = 0;
        return;
    }
    if (!isfinite(out->anomaly_score) || out->anomaly_score < 0)
        out->anomaly_score = out->anomaly_score > 0 ? 1.0 : 0.0;
    if (out->anomaly_score > 1)
        out->anomaly_score = 1;
    if (isfinite(out->expected)) {
        double delta = in->value - out->expected;
        /* a type that accumulates evidence names its side itself: a quiet
         * interval inside a rise is still evidence of the rise */
        if (out->direction == 0)
            out->direction = delta > 0 ? 1 : (delta < 0 ? -1 : 0);
        double floor_abs = det->min_delta;
        double floor_rel = det->min_delta_rel * fabs(out->expected);
        if (fabs(delta) < floor_abs || fabs(delta) < floor_rel)
            out->anomalous = false;
    }
    if ((allowed == KW_DIR_UP && out->direction < 0) || (allowed == KW_DIR_DOWN && out->direction > 0)) {
        out->anomalous = false;
        out->anomaly_score = 0;
    }
    /* A deviation under the floors must not read as alert-level evidence. */
    if (!out->anomalous && out->anomaly_score >= 0.5)
        out->anomaly_score = 0.49;
    out->severity = round(100.0 * out->anomaly_score);
}

cJSON *kw_detector_state_save(const struct kw_detector_state *st, const struct kw_detector *det)
{
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "type", det->type->name);
    cJSON_AddNumberToObject(obj, "seen", (double)st->seen);
    cJSON_AddItemToObject(obj, "state", det->type->state_save(st->impl, det->cfg));
    return obj;
}

int kw_detector_state_load(struct kw_detector_state *st, const struct kw_detector *det,
                           const cJSON *json)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
    const cJSON *seen = cJSON_GetObjectItemCaseSensitive(json, "seen");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(json, "state");
    /* seen must fit its uint64_t: converting a larger double is undefined */
    if (!cJSON_IsString(type) || strcmp(type->valuestring, det->type->name) != 0 ||
        !cJSON_IsNumber(seen) || !(seen->valuedouble >= 0 && seen->valuedouble < 18446744073709551616.0) || !state)
        return -1;
    if (det->type->state_load(st->impl, det->cfg, state))
        return -1;
    st->seen = (uint64_t)seen->valuedouble;
    return 0;
}

double kw_squash(double x, double threshold)
{
    if (!(x > 0))
        return 0.0;
    if (!isfinite(x))
        return 1.0;
    if (!(threshold > 0))
        threshold = 1e-12;
    return x / (x + threshold);
}

double kw_neglog10(double p)
{
    if (!(p > 1e-300))
        return 300.0;
    if (p >= 1.0)
        return 0.0;
    return -log10(p);
}

unsigned kw_first_reached(unsigned max, double guess, bool (*reached)(unsigned k, const void *ctx),
                          const void *ctx)
{
    unsigned g = !(guess > 0) ? 0 : (guess >= max ? max : (unsigned)guess);
    unsigned lo, hi;
    uint64_t step = 1; /* 64 bits: doubling must not wrap before the clamps below */
    if (g == max || reached(g, ctx)) {
        hi = g;
        for (;;) {
            if (hi == 0)
                return 0;
            unsigned c = hi > step ? (unsigned)(hi - step) : 0;
            if (!reached(c, ctx)) {
                lo = c;
                break;
            }
            hi = c;
            step *= 2;
        }
    } else {
        lo = g;
        for (;;) {
            unsigned c = max - lo > step ? (unsigned)(lo + step) : max;
            if (c == max || reached(c, ctx)) {
                hi = c;
                break;
            }
            lo = c;
            step *= 2;
        }
    }
    while (hi - lo > 1) {
        unsigned mid = lo + (hi - lo) / 2;
        if (reached(mid, ctx))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

double kw_cf_quantile(double z, double g, double e)
{
    return z + g * (z * z - 1) / 6 + e * (z * z * z - 3 * z) / 24 - g * g * (2 * z * z * z - 5 * z) / 36;
}

double kw_cf_normal(double w, double g, double e)
{
    return w - g * (w * w - 1) / 6 - e * (w * w * w - 3 * w) / 24 + g * g * (4 * w * w * w - 7 * w) / 36;
}

double kw_sd_floor(double sd, double center)
{
    double f = 1e-12 * fabs(center) + 1e-12;
    return sd > f ? sd : f;
}

void kw_ew_learn(double *n, double *mu, double *var, double x, double alpha, double clip)
{
    if (clip > 0) {
        double sd = kw_sd_floor(sqrt(*var), *mu);
        double lo = *mu - clip * sd, hi = *mu + clip * sd;
        x = x < lo ? lo : (x > hi ? hi : x);
    }
    *n += 1;
    double a = 1.0 / *n > alpha ? 1.0 / *n : alpha;
    double d = x - *mu;
    *mu += a * d;
    *var = (1 - a) * (*var + a * d * d);
}
