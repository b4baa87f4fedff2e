/* alert: exact JSON serialisation of the alert value for the spool and state
 * files. One table lists every field, so save and load cannot drift apart,
 * and load trusts nothing it reads (the files may be truncated or edited). */
#include "alert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/jsonnum.h"

enum field_type { F_STRING, F_INT, F_INT64, F_DOUBLE };

struct field {
    const char *name;
    enum field_type type;
    size_t offset;
    size_t size;            /* F_STRING: capacity including the NUL */
    int64_t min, max;       /* F_INT, F_INT64 */
};

#define STR(f) {#f, F_STRING, offsetof(struct kw_alert, f), sizeof(((struct kw_alert *)0)->f), 0, 0}
#define INT(f, lo, hi) {#f, F_INT, offsetof(struct kw_alert, f), 0, lo, hi}
#define I64(f) {#f, F_INT64, offsetof(struct kw_alert, f), 0, -KW_EXACT_INT, KW_EXACT_INT}
#define DBL(f) {#f, F_DOUBLE, offsetof(struct kw_alert, f), 0, 0, 0}

/* Integers a JSON number (a double) holds exactly. */
#define KW_EXACT_INT 9007199254740992LL

static const struct field fields[] = {
    STR(key), STR(kpi), STR(description), STR(unit), STR(detector), STR(runbook), STR(dashboard), STR(currency),
    INT(status, KW_ALERT_FIRING, KW_ALERT_RESOLVED),
    INT(severity, KW_SEV_WARNING, KW_SEV_CRITICAL),
    INT(kind, KW_KIND_COUNT, KW_KIND_CONTINUOUS),
    INT(direction, -1, 1),
    DBL(severity_score), DBL(observed), DBL(expected), DBL(lower), DBL(upper), DBL(score),
    DBL(peak_observed), DBL(peak_expected), DBL(denominator), DBL(impact), DBL(cost_per_unit),
    I64(since_ms), I64(at_ms), I64(interval_ms),
    INT(intervals, 0, 2147483647),
    INT(flips, 0, 1000000),
};

/* Doubles: exact text for finite values, null for NaN, strings for the
 * infinities (kw_json_number would fold them into NaN). */
static cJSON *save_double(double v)
{
    if (isinf(v))
        return cJSON_CreateString(v > 0 ? "inf" : "-inf");
    return kw_json_number(v);
}

static int load_double(const cJSON *item, double *out)
{
    if (cJSON_IsNull(item)) {
        *out = NAN;
        return 0;
    }
    if (cJSON_IsString(item)) {
        if (strcmp(item->valuestring, "inf") == 0)
            *out = INFINITY;
        else if (strcmp(item->valuestring, "-inf") == 0)
            *out = -INFINITY;
        else
            return -1;
        return 0;
    }
    return kw_json_get_double(item, out); /* finite numbers only */
}

static int load_int64(const cJSON *item, int64_t min, int64_t max, int64_t *out)
{
    if (cJSON_IsRaw(item)) { /* saved but not printed and parsed yet */
        char *end;
        long long v = strtoll(item->valuestring, &end, 10);
        if (end == item->valuestring || *end || v < min || v > max)
            return -1;
        *out = v;
        return 0;
    }
    if (!cJSON_IsNumber(item))
        return -1;
    double v = item->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < (double)min || v > (double)max)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static cJSON *save_int64(int64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)v);
    return cJSON_CreateRaw(text);
}

static int load_string(const cJSON *item, char *dst, size_t cap)
{
    if (!cJSON_IsString(item))
        return -1;
    size_t len = strlen(item->valuestring);
    if (len >= cap)
        return -1;
    memcpy(dst, item->valuestring, len + 1);
    return 0;
}

cJSON *kw_alert_save(const struct kw_alert *a)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const struct field *f = &fields[i];
        const char *p = (const char *)a + f->offset;
        cJSON *item = NULL;
        switch (f->type) {
        case F_STRING: {
            char buf[KW_ALERT_LABEL_VALUE + 1]; /* larger than every string field */
            size_t len = strnlen(p, f->size - 1);
            memcpy(buf, p, len);
            buf[len] = '\0';
            item = cJSON_CreateString(buf);
            break;
        }
        case F_INT: item = save_int64(*(const int *)p); break;
        case F_INT64: item = save_int64(*(const int64_t *)p); break;
        case F_DOUBLE: item = save_double(*(const double *)p); break;
        }
        cJSON_AddItemToObject(o, f->name, item);
    }
    cJSON_AddBoolToObject(o, "repeat", a->repeat);
    cJSON_AddBoolToObject(o, "flapping", a->flapping);
    cJSON *labels = cJSON_AddArrayToObject(o, "labels");
    int nlabels = a->nlabels < 0 ? 0 : a->nlabels > KW_ALERT_MAX_LABELS ? KW_ALERT_MAX_LABELS : a->nlabels;
    for (int i = 0; i < nlabels; i++) {
        char name[KW_ALERT_LABEL_NAME], value[KW_ALERT_LABEL_VALUE];
        snprintf(name, sizeof name, "%.*s", (int)sizeof name - 1, a->labels[i].name);
        snprintf(value, sizeof value, "%.*s", (int)sizeof value - 1, a->labels[i].value);
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", name);
        cJSON_AddStringToObject(l, "value", value);
        cJSON_AddItemToArray(labels, l);
    }
    if (a->cause != KW_CAUSE_ANOMALY)
        cJSON_AddItemToObject(o, "cause", save_int64(a->cause));
    if (a->rollup_of[0]) {
        char name[KW_ALERT_LABEL_NAME];
        snprintf(name, sizeof name, "%.*s", (int)sizeof name - 1, a->rollup_of);
        cJSON_AddStringToObject(o, "rollup_of", name);
    }
    int ncontrib = a->ncontributors < 0 ? 0 : a->ncontributors > KW_ALERT_CONTRIBUTORS ? KW_ALERT_CONTRIBUTORS
                                                                                          : a->ncontributors;
    if (ncontrib > 0) {
        cJSON *list = cJSON_AddArrayToObject(o, "contributors");
        for (int i = 0; i < ncontrib; i++) {
            const struct kw_alert_contributor *c = &a->contributors[i];
            char text[KW_ALERT_TEXT];
            snprintf(text, sizeof text, "%.*s", (int)sizeof text - 1, c->labels);
            cJSON *item = cJSON_CreateObject();
            cJSON_AddStringToObject(item, "labels", text);
            cJSON_AddItemToObject(item, "observed", save_double(c->observed));
            cJSON_AddItemToObject(item, "expected", save_double(c->expected));
            cJSON_AddItemToObject(item, "excess", save_double(c->excess));
            cJSON_AddItemToObject(item, "share", save_double(c->share));
            cJSON_AddItemToArray(list, item);
        }
    }
    cJSON *history = cJSON_AddArrayToObject(o, "history");
    int nhistory = a->nhistory < 0 ? 0 : a->nhistory > KW_ALERT_HISTORY ? KW_ALERT_HISTORY : a->nhistory;
    for (int i = 0; i < nhistory; i++)
        cJSON_AddItemToArray(history, save_double(a->history[i]));
    return o;
}

static int bad(struct kw_alert *a, char *err, size_t errlen, const char *field, const char *why)
{
    memset(a, 0, sizeof *a);
    snprintf(err, errlen, "%s: %s", field, why);
    return -1;
}

int kw_alert_load_err(struct kw_alert *a, const cJSON *json, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (!cJSON_IsObject(json))
        return bad(a, err, errlen, "alert", "not an object");
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const struct field *f = &fields[i];
        char *p = (char *)a + f->offset;
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, f->name);
        if (!item)
            return bad(a, err, errlen, f->name, "missing");
        int64_t v;
        switch (f->type) {
        case F_STRING:
            if (load_string(item, p, f->size))
                return bad(a, err, errlen, f->name, "not a string that fits");
            break;
        case F_INT:
            if (load_int64(item, f->min, f->max, &v))
                return bad(a, err, errlen, f->name, "not an integer in range");
            *(int *)p = (int)v;
            break;
        case F_INT64:
            if (load_int64(item, f->min, f->max, &v))
                return bad(a, err, errlen, f->name, "not an integer in range");
            *(int64_t *)p = v;
            break;
        case F_DOUBLE:
            if (load_double(item, (double *)p))
                return bad(a, err, errlen, f->name, "not a number, null, \"inf\" or \"-inf\"");
            break;
        }
    }
    const cJSON *repeat = cJSON_GetObjectItemCaseSensitive(json, "repeat");
    const cJSON *flapping = cJSON_GetObjectItemCaseSensitive(json, "flapping");
    if (!cJSON_IsBool(repeat) || !cJSON_IsBool(flapping))
        return bad(a, err, errlen, !cJSON_IsBool(repeat) ? "repeat" : "flapping", "not true or false");
    a->repeat = cJSON_IsTrue(repeat);
    a->flapping = cJSON_IsTrue(flapping);
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(json, "labels");
    if (!cJSON_IsArray(labels) || cJSON_GetArraySize(labels) > KW_ALERT_MAX_LABELS)
        return bad(a, err, errlen, "labels", "not an array of at most 8 labels");
    const cJSON *l;
    cJSON_ArrayForEach(l, labels) {
        struct kw_alert_label *dst = &a->labels[a->nlabels];
        if (!cJSON_IsObject(l) ||
            load_string(cJSON_GetObjectItemCaseSensitive(l, "name"), dst->name, sizeof dst->name) ||
            load_string(cJSON_GetObjectItemCaseSensitive(l, "value"), dst->value, sizeof dst->value))
            return bad(a, err, errlen, "labels", "not {\"name\", \"value\"} strings that fit");
        a->nlabels++;
    }
    const cJSON *history = cJSON_GetObjectItemCaseSensitive(json, "history");
    if (!cJSON_IsArray(history) || cJSON_GetArraySize(history) > KW_ALERT_HISTORY)
        return bad(a, err, errlen, "history", "not an array of at most 24 values");
    const cJSON *h;
    cJSON_ArrayForEach(h, history) {
        if (load_double(h, &a->history[a->nhistory]))
            return bad(a, err, errlen, "history", "holds something other than a number or null");
        a->nhistory++;
    }
    /* Fields added later are optional, so older spool files still load. */
    const cJSON *cause = cJSON_GetObjectItemCaseSensitive(json, "cause");
    int64_t v;
    if (cause) {
        if (load_int64(cause, KW_CAUSE_ANOMALY, KW_CAUSE_NODATA, &v))
            return bad(a, err, errlen, "cause", "not an integer in range");
        a->cause = (int)v;
    }
    const cJSON *rollup_of = cJSON_GetObjectItemCaseSensitive(json, "rollup_of");
    if (rollup_of && load_string(rollup_of, a->rollup_of, sizeof a->rollup_of))
        return bad(a, err, errlen, "rollup_of", "not a string that fits");
    const cJSON *contributors = cJSON_GetObjectItemCaseSensitive(json, "contributors");
    if (contributors) {
        if (!cJSON_IsArray(contributors) || cJSON_GetArraySize(contributors) > KW_ALERT_CONTRIBUTORS)
            return bad(a, err, errlen, "contributors", "not an array of at most 5 entries");
        const cJSON *c;
        cJSON_ArrayForEach(c, contributors) {
            struct kw_alert_contributor *dst = &a->contributors[a->ncontributors];
            if (!cJSON_IsObject(c) ||
                load_string(cJSON_GetObjectItemCaseSensitive(c, "labels"), dst->labels, sizeof dst->labels) ||
                load_double(cJSON_GetObjectItemCaseSensitive(c, "observed"), &dst->observed) ||
                load_double(cJSON_GetObjectItemCaseSensitive(c, "expected"), &dst->expected) ||
                load_double(cJSON_GetObjectItemCaseSensitive(c, "excess"), &dst->excess) ||
                load_double(cJSON_GetObjectItemCaseSensitive(c, "share"), &dst->share))
                return bad(a, err, errlen, "contributors", "not {labels, observed, expected, excess, share}");
            a->ncontributors++;
        }
    }
    return 0;
}

int kw_alert_load(struct kw_alert *a, const cJSON *json)
{
    char err[128];
    return kw_alert_load_err(a, json, err, sizeof err);
}
