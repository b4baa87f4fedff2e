/* ingest: the JSON reader and the one validation every reader uses. */
#include "ingest.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../lib/escape.h"
#include "../lib/arena.h"
#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../notifiers/alert.h"

static const char *const reject_names[KW_REJ_COUNT] = {
    [KW_REJ_MALFORMED_JSON] = "malformed_json",
    [KW_REJ_OVERSIZED_MESSAGE] = "oversized_message",
    [KW_REJ_NOT_OBJECT] = "not_an_object",
    [KW_REJ_UNKNOWN_FIELD] = "unknown_field",
    [KW_REJ_MISSING_FIELD] = "missing_field",
    [KW_REJ_BAD_METRIC] = "bad_metric",
    [KW_REJ_BAD_VALUE] = "bad_value",
    [KW_REJ_NON_FINITE] = "non_finite_value",
    [KW_REJ_BAD_TIMESTAMP] = "bad_timestamp",
    [KW_REJ_TOO_OLD] = "timestamp_too_old",
    [KW_REJ_TOO_NEW] = "timestamp_in_future",
    [KW_REJ_TOO_MANY_LABELS] = "too_many_labels",
    [KW_REJ_LABEL_TOO_LONG] = "label_too_long",
    [KW_REJ_BAD_LABEL] = "bad_label",
    [KW_REJ_INVALID_UTF8] = "invalid_utf8",
    [KW_REJ_LATE] = "late",
    [KW_REJ_SERIES_LIMIT] = "series_limit",
    [KW_REJ_NEGATIVE_COUNT] = "negative_count",
    [KW_REJ_EMPTY_MESSAGE] = "empty_message",
    [KW_REJ_DUPLICATE_FIELD] = "duplicate_field",
    [KW_REJ_NUL_CHARACTER] = "nul_character",
    [KW_REJ_BAD_LINE] = "bad_line",
    [KW_REJ_BAD_ESCAPE] = "bad_escape",
    [KW_REJ_STRING_FIELD] = "string_field",
};

const struct kw_option kw_ingest_options[] = {
    {"max_labels", KW_OPT_INT, "16", offsetof(struct kw_ingest_limits, max_labels), 1, KW_MAX_LABELS,
     .desc = "Most labels on one point."},
    {"max_label_bytes", KW_OPT_INT, "128", offsetof(struct kw_ingest_limits, max_label_bytes), 1, KW_ALERT_LABEL_VALUE - 1,
     .desc = "Longest label name or value, in bytes."},
    {"max_metric_bytes", KW_OPT_INT, "128", offsetof(struct kw_ingest_limits, max_metric_bytes), 1, 255,
     .desc = "Longest metric name, in bytes."},
    {"max_message_bytes", KW_OPT_INT, "1048576", offsetof(struct kw_ingest_limits, max_message_bytes), 64, 268435456,
     .desc = "Largest message accepted; larger ones are rejected whole."},
    {"receive_thread", KW_OPT_BOOL, "true", offsetof(struct kw_ingest_limits, receive_thread), KW_NORANGE,
     .desc = "Receive and parse messages on a thread of their own, so aggregation and detection get the other core; false runs everything on one thread."},
    {"queue_bytes", KW_OPT_INT, "67108864", offsetof(struct kw_ingest_limits, queue_bytes), 1048576, 2147483647,
     .desc = "With receive_thread: most bytes of parsed points waiting for aggregation; when full, the receive thread stops reading and ZeroMQ's rcvhwm pushes back."},
    {"max_past", KW_OPT_DURATION, "1h", offsetof(struct kw_ingest_limits, max_past_ms), 0, 31536000,
     .desc = "Reject points older than this against the wall clock (0 = no check)."},
    {"max_future", KW_OPT_DURATION, "5m", offsetof(struct kw_ingest_limits, max_future_ms), 0, 31536000,
     .desc = "Reject points newer than this against the wall clock (0 = no check)."},
    KW_OPT_END,
};

int kw_ingest_parse(struct kw_ingest_limits *lim, const cJSON *obj, const char *path, char *err, size_t errlen)
{
    const struct kw_option *tables[] = {kw_ingest_options, NULL};
    if (kw_opts_reject_unknown(obj, tables, NULL, path, err, errlen) ||
        kw_opts_fill(kw_ingest_options, obj, lim, path, err, errlen))
        return -1;
    lim->check_time = true;
    return 0;
}

void kw_ingest_release(struct kw_ingest_limits *lim)
{
    kw_opts_release(kw_ingest_options, lim);
}

const char *kw_reject_name(enum kw_reject reason)
{
    return reason < KW_REJ_COUNT ? reject_names[reason] : "unknown";
}

void kw_ingest_reject(struct kw_ingest_stats *stats, const char *source, enum kw_reject why,
                      const char *detail)
{
    uint64_t n = ++stats->rejected[why];
    if ((n & (n - 1)) == 0) /* 1, 2, 4, 8, ...: bounded log volume under a flood */
        kw_warn(source, "rejected (%s): %s [%llu so far]", kw_reject_name(why), detail,
                (unsigned long long)n);
}

bool kw_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= len)
            return false; /* truncated sequence */
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static bool metric_name_ok(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_' || *s == ':'))
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == ':' || *s == '.' || *s == '-'))
            return false;
    return true;
}

static bool label_name_ok(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static bool is_nonfinite_text(const char *s)
{
    static const char *const names[] = {"nan", "-nan", "inf", "+inf", "-inf", "infinity", "-infinity", NULL};
    for (int i = 0; names[i]; i++)
        if (strcasecmp(s, names[i]) == 0)
            return true;
    return false;
}

int kw_point_check(const struct kw_ingest_limits *lim, const struct kw_point *pt, int64_t now_ms,
                   enum kw_reject *why, char *detail, size_t dlen)
{
    size_t mlen = strlen(pt->metric);
    if (mlen == 0) {
        *why = KW_REJ_BAD_METRIC;
        snprintf(detail, dlen, "metric must be a non-empty string");
        return -1;
    }
    if (!kw_utf8_valid(pt->metric, mlen)) {
        *why = KW_REJ_INVALID_UTF8;
        snprintf(detail, dlen, "metric is not valid UTF-8");
        return -1;
    }
    if ((int64_t)mlen > lim->max_metric_bytes || !metric_name_ok(pt->metric)) {
        *why = KW_REJ_BAD_METRIC;
        char shown[128];
        snprintf(detail, dlen, "metric \"%s\" must match [a-zA-Z_:][a-zA-Z0-9_:.-]* and be <= %d bytes",
                 kw_escape(shown, sizeof shown, pt->metric, 40), lim->max_metric_bytes);
        return -1;
    }
    if (!isfinite(pt->value)) {
        *why = KW_REJ_NON_FINITE;
        snprintf(detail, dlen, "%s.value is not finite", pt->metric);
        return -1;
    }
    if (pt->nlabels > lim->max_labels) {
        *why = KW_REJ_TOO_MANY_LABELS;
        snprintf(detail, dlen, "%s has more than %d labels", pt->metric, lim->max_labels);
        return -1;
    }
    for (int i = 0; i < pt->nlabels; i++) {
        const char *name = pt->labels[i].name, *value = pt->labels[i].value;
        size_t nlen = strlen(name), vlen = strlen(value);
        if (!kw_utf8_valid(name, nlen) || !kw_utf8_valid(value, vlen)) {
            *why = KW_REJ_INVALID_UTF8;
            snprintf(detail, dlen, "%s has a label that is not valid UTF-8", pt->metric);
            return -1;
        }
        if (!label_name_ok(name)) {
            *why = KW_REJ_BAD_LABEL;
            char shown[128];
            snprintf(detail, dlen, "%s.labels.%s must be a string under a name matching [a-zA-Z_][a-zA-Z0-9_]*",
                     pt->metric, kw_escape(shown, sizeof shown, name, 40));
            return -1;
        }
        if ((int64_t)nlen > lim->max_label_bytes || (int64_t)vlen > lim->max_label_bytes) {
            *why = KW_REJ_LABEL_TOO_LONG;
            snprintf(detail, dlen, "%s.labels.%.40s%s is %zu bytes (max %d)", pt->metric, name,
                     nlen > 40 ? "..." : "", nlen > vlen ? nlen : vlen, lim->max_label_bytes);
            return -1;
        }
        for (int k = 0; k < i; k++) {
            if (strcmp(pt->labels[k].name, name) == 0) {
                *why = KW_REJ_BAD_LABEL;
                snprintf(detail, dlen, "%s.labels.%s appears twice", pt->metric, name);
                return -1;
            }
        }
    }
    /* Age checks last: a point that is malformed is reported as such first. */
    if (lim->check_time && lim->max_past_ms > 0 && pt->ts_ms < now_ms - lim->max_past_ms) {
        *why = KW_REJ_TOO_OLD;
        snprintf(detail, dlen, "%s.ts is %.0f s in the past (max_past %.0f s)", pt->metric,
                 (double)(now_ms - pt->ts_ms) / 1000.0, (double)lim->max_past_ms / 1000.0);
        return -1;
    }
    if (lim->check_time && lim->max_future_ms > 0 && pt->ts_ms > now_ms + lim->max_future_ms) {
        *why = KW_REJ_TOO_NEW;
        snprintf(detail, dlen, "%s.ts is %.0f s in the future (max_future %.0f s)", pt->metric,
                 (double)(pt->ts_ms - now_ms) / 1000.0, (double)lim->max_future_ms / 1000.0);
        return -1;
    }
    return 0;
}

/* The arena of the message being parsed on this thread (see kw_ingest_message). */
static _Thread_local struct kw_arena *json_arena;

void kw_ingest_point(const struct kw_ingest_limits *lim, struct kw_ingest_stats *stats, const char *source,
                     const struct kw_point *pt, int64_t now_ms, kw_point_sink sink, void *ctx)
{
    enum kw_reject why;
    char detail[200];
    if (kw_point_check(lim, pt, now_ms, &why, detail, sizeof detail)) {
        kw_ingest_reject(stats, source, why, detail);
        return;
    }
    /* what the aggregator allocates with cJSON outlives the message */
    struct kw_arena *arena = json_arena;
    json_arena = NULL;
    int refused = sink(ctx, pt, &why);
    json_arena = arena;
    if (refused) {
        snprintf(detail, sizeof detail, "%s point refused by the aggregator", pt->metric);
        kw_ingest_reject(stats, source, why, detail);
        return;
    }
    stats->points_accepted++;
}

/* The JSON reader: the shape of one point (fields, their JSON types) into
 * pt. What the values mean is checked by kw_point_check. */
static int read_json_point(const cJSON *obj, struct kw_point *pt, enum kw_reject *why, char *detail, size_t dlen)
{
    if (!cJSON_IsObject(obj)) {
        *why = KW_REJ_NOT_OBJECT;
        snprintf(detail, dlen, "a point must be a JSON object");
        return -1;
    }
    const cJSON *metric = NULL, *labels = NULL, *value = NULL, *ts = NULL, *item;
    cJSON_ArrayForEach(item, obj) {
        const cJSON **slot = NULL;
        if (strcmp(item->string, "metric") == 0)
            slot = &metric;
        else if (strcmp(item->string, "labels") == 0)
            slot = &labels;
        else if (strcmp(item->string, "value") == 0)
            slot = &value;
        else if (strcmp(item->string, "ts") == 0)
            slot = &ts;
        if (slot && *slot) {
            *why = KW_REJ_DUPLICATE_FIELD; /* which one wins is a guess: refuse to guess */
            snprintf(detail, dlen, "field \"%s\" appears twice", item->string);
            return -1;
        }
        if (slot) {
            *slot = item;
        } else {
            *why = kw_utf8_valid(item->string, strlen(item->string)) ? KW_REJ_UNKNOWN_FIELD
                                                                     : KW_REJ_INVALID_UTF8;
            char shown[128];
            snprintf(detail, dlen, "unknown field \"%s\" (valid: metric, labels, value, ts)",
                     *why == KW_REJ_UNKNOWN_FIELD ? kw_escape(shown, sizeof shown, item->string, 40) : "?");
            return -1;
        }
    }
    if (!metric || !value || !ts) {
        *why = KW_REJ_MISSING_FIELD;
        snprintf(detail, dlen, "missing \"%s\"", !metric ? "metric" : !value ? "value" : "ts");
        return -1;
    }
    if (!cJSON_IsString(metric)) {
        *why = KW_REJ_BAD_METRIC;
        snprintf(detail, dlen, "metric must be a non-empty string");
        return -1;
    }
    pt->metric = metric->valuestring;
    if (cJSON_IsNumber(value)) {
        pt->value = value->valuedouble;
    } else {
        bool nonfinite = cJSON_IsString(value) && is_nonfinite_text(value->valuestring);
        *why = nonfinite ? KW_REJ_NON_FINITE : KW_REJ_BAD_VALUE;
        snprintf(detail, dlen, "value must be a finite number");
        return -1;
    }
    int rc = -1;
    if (cJSON_IsNumber(ts))
        rc = kw_time_from_number(ts->valuedouble, &pt->ts_ms);
    else if (cJSON_IsString(ts))
        rc = kw_time_parse_zoned(ts->valuestring, &pt->ts_ms);
    if (rc) {
        *why = KW_REJ_BAD_TIMESTAMP;
        snprintf(detail, dlen, "ts must be epoch seconds, epoch ms or RFC 3339 with a zone (Z or +hh:mm)");
        return -1;
    }
    pt->nlabels = 0;
    if (labels && !cJSON_IsNull(labels)) {
        if (!cJSON_IsObject(labels)) {
            *why = KW_REJ_BAD_LABEL;
            snprintf(detail, dlen, "labels must be an object of strings");
            return -1;
        }
        cJSON_ArrayForEach(item, labels) {
            if (pt->nlabels >= KW_MAX_LABELS) {
                *why = KW_REJ_TOO_MANY_LABELS;
                snprintf(detail, dlen, "more than %d labels", KW_MAX_LABELS);
                return -1;
            }
            if (!cJSON_IsString(item)) {
                *why = KW_REJ_BAD_LABEL;
                snprintf(detail, dlen, "label values must be strings");
                return -1;
            }
            pt->labels[pt->nlabels].name = item->string;
            pt->labels[pt->nlabels].value = item->valuestring;
            pt->nlabels++;
        }
    }
    return 0;
}

static void ingest_one(const struct kw_ingest_limits *lim, struct kw_ingest_stats *stats,
                       const char *source, const cJSON *obj, int64_t now_ms,
                       kw_point_sink sink, void *ctx)
{
    struct kw_point pt;
    enum kw_reject why;
    char detail[200];
    if (read_json_point(obj, &pt, &why, detail, sizeof detail)) {
        kw_ingest_reject(stats, source, why, detail);
        return;
    }
    kw_ingest_point(lim, stats, source, &pt, now_ms, sink, ctx);
}

static void ingest_value(const struct kw_ingest_limits *lim, struct kw_ingest_stats *stats,
                         const char *source, const cJSON *root, int64_t now_ms,
                         kw_point_sink sink, void *ctx)
{
    if (cJSON_IsArray(root)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, root)
            ingest_one(lim, stats, source, item, now_ms, sink, ctx);
    } else {
        ingest_one(lim, stats, source, root, now_ms, sink, ctx);
    }
}

/* True when text holds the JSON escape \u0000 (a backslash that is not
 * itself escaped, then u0000). cJSON would end the C string there, so
 * "good\u0000evil" would silently become "good". */
static bool has_escaped_nul(const char *text, size_t len)
{
    for (size_t i = 0; i + 6 <= len; i++) {
        if (text[i] != '\\')
            continue;
        if (text[i + 1] == 'u' && text[i + 2] == '0' && text[i + 3] == '0' && text[i + 4] == '0' && text[i + 5] == '0')
            return true;
        i++; /* skip the escaped character: in \\u0000 the backslash is escaped, not the u */
    }
    return false;
}

static void ingest_values(const struct kw_ingest_limits *lim, struct kw_ingest_stats *stats,
                          const char *source, const char *data, size_t len, int64_t now_ms,
                          kw_point_sink sink, void *ctx);

/* cJSON allocates every node and string of a message; parsed here they
 * come from a per-thread arena instead, reset after each message, so
 * parsing allocates nothing in the steady state. cJSON's hooks are
 * process-wide: outside a message (current arena NULL) they are plain
 * malloc and free, so every other use of cJSON is unchanged. */
static pthread_once_t json_hooks_once = PTHREAD_ONCE_INIT;

static void *json_malloc(size_t n)
{
    return json_arena ? kw_arena_alloc(json_arena, n) : malloc(n);
}

static void json_free(void *p)
{
    if (!json_arena || !kw_arena_owns(json_arena, p))
        free(p);
}

static void json_hooks_install(void)
{
    cJSON_Hooks hooks = {json_malloc, json_free};
    cJSON_InitHooks(&hooks);
}

static _Thread_local struct kw_arena thread_arena; /* reused across messages; see kw_ingest_thread_end */

void kw_ingest_message(const struct kw_ingest_limits *lim, struct kw_ingest_stats *stats,
                       const char *source, const char *data, size_t len, int64_t now_ms,
                       kw_point_sink sink, void *ctx)
{
    pthread_once(&json_hooks_once, json_hooks_install);
    json_arena = &thread_arena;
    ingest_values(lim, stats, source, data, len, now_ms, sink, ctx);
    json_arena = NULL;
    kw_arena_reset(&thread_arena);
}

void kw_ingest_thread_end(void)
{
    kw_arena_release(&thread_arena);
}

static void ingest_values(const struct kw_ingest_limits *lim, struct kw_ingest_stats *stats,
                          const char *source, const char *data, size_t len, int64_t now_ms,
                          kw_point_sink sink, void *ctx)
{
    stats->messages++;
    if ((int64_t)len > lim->max_message_bytes) {
        char detail[96];
        snprintf(detail, sizeof detail, "message of %zu bytes exceeds max_message_bytes %lld", len,
                 (long long)lim->max_message_bytes);
        kw_ingest_reject(stats, source, KW_REJ_OVERSIZED_MESSAGE, detail);
        return;
    }
    /* A message holds one or more JSON values separated by whitespace (NDJSON). */
    const char *p = data, *end = data + len;
    bool any = false;
    while (p < end) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p == end)
            break;
        const char *parse_end = NULL;
        cJSON *root = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &parse_end, false);
        if (!root) {
            char detail[160];
            const char *at = cJSON_GetErrorPtr();
            long off = (at && at >= data && at <= end) ? (long)(at - data) : (long)(p - data);
            snprintf(detail, sizeof detail, "invalid JSON at byte %ld of a %zu-byte message", off, len);
            kw_ingest_reject(stats, source, KW_REJ_MALFORMED_JSON, detail);
            return; /* the rest of the message cannot be framed reliably */
        }
        any = true;
        const char *value_end = parse_end ? parse_end : end;
        if (has_escaped_nul(p, (size_t)(value_end - p)))
            kw_ingest_reject(stats, source, KW_REJ_NUL_CHARACTER, "a string holds \\u0000; the whole JSON value is refused");
        else
            ingest_value(lim, stats, source, root, now_ms, sink, ctx);
        if (!json_arena)
            cJSON_Delete(root); /* in the arena the message's reset frees it whole, without a walk */
        p = value_end;
    }
    if (!any)
        kw_ingest_reject(stats, source, KW_REJ_EMPTY_MESSAGE, "the message is empty or only whitespace");
}
