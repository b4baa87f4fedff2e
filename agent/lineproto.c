/* lineproto: InfluxDB line protocol lines to validated points, parsed in
 * place with no allocation. */
#include "lineproto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/escape.h"

const char *const kw_lineproto_precisions[] = {"ns", "us", "ms", "s", NULL};

/* The last timestamp kw_time_from_number accepts (October 2096), so a line
 * and a JSON point are held to the same range. */
#define MAX_TS_MS 4000000000000LL

static int fail(enum kw_reject *why, enum kw_reject reason, char *detail, size_t dlen, const char *text)
{
    *why = reason;
    snprintf(detail, dlen, "%s", text);
    return -1;
}

/* Read a name (measurement, tag key or value, field key) from s[*pos] up to
 * the first unescaped comma, space or, when eq_ends, equals sign. The name
 * is unescaped over itself: a backslash before one of those characters is
 * dropped, before any other character it is kept with that character. On
 * return *pos is at the delimiter (or len) and *name_end where the unescaped
 * name ends (<= *pos, so a NUL can go there). Returns the delimiter, 0 at
 * the end of the line, or -1 when a backslash is the line's last byte. */
static int scan_name(char *s, size_t len, size_t *pos, bool eq_ends, size_t *name_end)
{
    size_t r = *pos, w = *pos;
    while (r < len) {
        char c = s[r];
        if (c == '\\') {
            if (r + 1 == len)
                return -1;
            char next = s[r + 1];
            if (next != ',' && next != ' ' && !(eq_ends && next == '='))
                s[w++] = c;
            s[w++] = next;
            r += 2;
            continue;
        }
        if (c == ',' || c == ' ' || (eq_ends && c == '='))
            break;
        s[w++] = c;
        r++;
    }
    *pos = r;
    *name_end = w;
    return r < len ? s[r] : 0;
}

/* A double-quoted string value starting at s[*pos] == '"': \" and \\ are
 * undone, the closing quote becomes the NUL. Returns 0 with *pos after the
 * quote, or -1 when the quote is never closed. */
static int scan_string(char *s, size_t len, size_t *pos, const char **out)
{
    size_t r = *pos + 1, w = r;
    *out = s + r;
    while (r < len) {
        char c = s[r];
        if (c == '"') {
            s[w] = '\0';
            *pos = r + 1;
            return 0;
        }
        if (c == '\\' && r + 1 < len && (s[r + 1] == '"' || s[r + 1] == '\\'))
            r++;
        s[w++] = s[r++];
    }
    return -1;
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Plain decimals ("42", "-0.25") of at most 15 digits: the mantissa and the
 * power of ten are exact doubles, so one division is correctly rounded and
 * gives what strtod gives, without its locale and slow path. Returns false
 * when the text is not of that form. */
static bool fast_decimal(const char *p, size_t n, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (p[i] == '-' || p[i] == '+'))
        neg = p[i++] == '-';
    uint64_t mant = 0;
    int digits = 0, frac = -1;
    for (; i < n; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            mant = mant * 10 + (uint64_t)(p[i] - '0');
            if (++digits > 15)
                return false;
            if (frac >= 0)
                frac++;
        } else if (p[i] == '.' && frac < 0) {
            frac = 0;
        } else {
            return false;
        }
    }
    if (digits == 0)
        return false;
    double v = (double)mant;
    if (frac > 0)
        v /= pow10_exact[frac];
    *out = neg ? -v : v;
    return true;
}

static bool is_bool(const char *p, size_t n, double *out)
{
    static const char *const yes[] = {"t", "T", "true", "True", "TRUE", NULL};
    static const char *const no[] = {"f", "F", "false", "False", "FALSE", NULL};
    for (int i = 0; yes[i]; i++)
        if (strlen(yes[i]) == n && memcmp(p, yes[i], n) == 0)
            return (*out = 1.0), true;
    for (int i = 0; no[i]; i++)
        if (strlen(no[i]) == n && memcmp(p, no[i], n) == 0)
            return (*out = 0.0), true;
    return false;
}

/* Only what a decimal float is written with: no hex, inf or nan for strtod. */
static bool only_number_chars(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '-' || p[i] == '+' || p[i] == 'e' || p[i] == 'E'))
            return false;
    return true;
}

/* Digits only, into *out; false on anything else or overflow. */
static bool parse_digits(const char *p, size_t n, uint64_t *out)
{
    if (n == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* An unquoted field value of n bytes (not NUL-terminated): 12i, 12u, a
 * float or a boolean. Returns 0 or -1 with the reason. */
static int parse_value(const char *p, size_t n, struct kw_lineproto_field *f, enum kw_reject *why, char *detail,
                       size_t dlen)
{
    char shown[96], text[128];
    if (n == 0)
        return fail(why, KW_REJ_BAD_VALUE, detail, dlen, "a field has no value");
    uint64_t u;
    if (p[n - 1] == 'i') {
        bool neg = p[0] == '-';
        size_t skip = (p[0] == '-' || p[0] == '+') ? 1 : 0;
        if (parse_digits(p + skip, n - 1 - skip, &u) && u <= (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) {
            f->kind = KW_LINEPROTO_INT;
            f->value = neg ? -(double)u : (double)u;
            return 0;
        }
    } else if (p[n - 1] == 'u') {
        if (parse_digits(p, n - 1, &u)) {
            f->kind = KW_LINEPROTO_UINT;
            f->value = (double)u;
            return 0;
        }
    } else if (is_bool(p, n, &f->value)) {
        f->kind = KW_LINEPROTO_BOOL;
        return 0;
    } else if (fast_decimal(p, n, &f->value)) {
        f->kind = KW_LINEPROTO_FLOAT;
        return 0;
    } else if (n < sizeof text && only_number_chars(p, n)) {
        /* Exponents and long mantissas: strtod, on a terminated copy (the
         * value may be the message's last byte, with no room for a NUL). */
        memcpy(text, p, n);
        text[n] = '\0';
        char *end;
        f->value = strtod(text, &end);
        if (end == text + n) {
            f->kind = KW_LINEPROTO_FLOAT; /* 1e999 is inf: kw_point_check calls it non_finite_value */
            return 0;
        }
    }
    snprintf(text, sizeof text, "%.*s", (int)(n < 60 ? n : 60), p);
    bool nonfinite = strcasecmp(text, "nan") == 0 || strcasecmp(text, "inf") == 0 || strcasecmp(text, "+inf") == 0 ||
                     strcasecmp(text, "-inf") == 0 || strcasecmp(text, "infinity") == 0 ||
                     strcasecmp(text, "-infinity") == 0;
    *why = nonfinite ? KW_REJ_NON_FINITE : KW_REJ_BAD_VALUE;
    snprintf(detail, dlen, "field value \"%s\" is not a number (float, 12i, 12u, true/false or \"string\")",
             kw_escape(shown, sizeof shown, text, 40));
    return -1;
}

static int parse_timestamp(const char *p, size_t n, int precision, int64_t *ms, enum kw_reject *why, char *detail,
                           size_t dlen)
{
    static const uint64_t per_ms[] = {[KW_LINEPROTO_NS] = 1000000, [KW_LINEPROTO_US] = 1000, [KW_LINEPROTO_MS] = 1};
    uint64_t v;
    if (!parse_digits(p, n, &v))
        return fail(why, KW_REJ_BAD_TIMESTAMP, detail, dlen,
                    "the timestamp must be a non-negative integer (epoch in the input's precision)");
    if (precision == KW_LINEPROTO_S)
        v = v > (uint64_t)MAX_TS_MS ? (uint64_t)MAX_TS_MS + 1 : v * 1000;
    else
        v /= per_ms[precision]; /* truncate: the point belongs to the millisecond it falls in */
    if (v > (uint64_t)MAX_TS_MS)
        return fail(why, KW_REJ_BAD_TIMESTAMP, detail, dlen,
                    "the timestamp is beyond the year 2096 (is the input's precision right?)");
    *ms = (int64_t)v;
    return 0;
}

int kw_lineproto_parse_line(char *s, size_t len, int precision, struct kw_lineproto_line *out,
                            enum kw_reject *why, char *detail, size_t dlen)
{
    char shown[96];
    out->ntags = out->nfields = 0;
    out->has_ts = false;
    out->ts_ms = 0;
    if (memchr(s, '\0', len))
        return fail(why, KW_REJ_NUL_CHARACTER, detail, dlen, "the line holds a NUL byte");

    size_t pos = 0, end;
    int d = scan_name(s, len, &pos, false, &end);
    if (d < 0)
        return fail(why, KW_REJ_BAD_ESCAPE, detail, dlen, "a backslash ends the line");
    if (d == 0)
        return fail(why, KW_REJ_MISSING_FIELD, detail, dlen, "no field set after the measurement");
    if (end == 0)
        return fail(why, KW_REJ_BAD_LINE, detail, dlen, "the line has no measurement");
    s[end] = '\0';
    out->measurement = s;

    while (d == ',') { /* the tag set */
        size_t key = ++pos;
        d = scan_name(s, len, &pos, true, &end);
        if (d < 0)
            return fail(why, KW_REJ_BAD_ESCAPE, detail, dlen, "a backslash ends the line");
        if (d != '=')
            return fail(why, KW_REJ_BAD_LINE, detail, dlen, "a tag has no = (tag sets are ,key=value)");
        if (end == key)
            return fail(why, KW_REJ_BAD_LINE, detail, dlen, "a tag key is empty");
        s[end] = '\0';
        size_t value = ++pos;
        d = scan_name(s, len, &pos, true, &end);
        if (d < 0)
            return fail(why, KW_REJ_BAD_ESCAPE, detail, dlen, "a backslash ends the line");
        if (d == '=')
            return fail(why, KW_REJ_BAD_LINE, detail, dlen, "a tag value holds an unescaped =");
        if (end == value)
            return fail(why, KW_REJ_BAD_LINE, detail, dlen, "a tag value is empty (leave the tag out instead)");
        if (d == 0)
            return fail(why, KW_REJ_MISSING_FIELD, detail, dlen, "no field set after the tags");
        s[end] = '\0';
        if (out->ntags == KW_MAX_LABELS) {
            *why = KW_REJ_TOO_MANY_LABELS;
            snprintf(detail, dlen, "more than %d tags", KW_MAX_LABELS);
            return -1;
        }
        out->tags[out->ntags++] = (struct kw_label){s + key, s + value};
    }

    pos++; /* the space (maybe overwritten by a NUL) before the field set */
    while (pos < len && s[pos] == ' ')
        pos++;
    if (pos == len)
        return fail(why, KW_REJ_MISSING_FIELD, detail, dlen, "no field set after the measurement");
    for (;;) { /* the field set */
        size_t key = pos;
        d = scan_name(s, len, &pos, true, &end);
        if (d < 0)
            return fail(why, KW_REJ_BAD_ESCAPE, detail, dlen, "a backslash ends the line");
        if (d != '=') {
            char text[48]; /* the key may end the message: no NUL after it */
            snprintf(text, sizeof text, "%.*s", (int)(end - key < 40 ? end - key : 40), s + key);
            *why = KW_REJ_BAD_LINE;
            snprintf(detail, dlen, "field \"%s\" has no = (fields are key=value)",
                     kw_escape(shown, sizeof shown, text, 40));
            return -1;
        }
        if (end == key)
            return fail(why, KW_REJ_BAD_LINE, detail, dlen, "a field key is empty");
        s[end] = '\0';
        if (out->nfields == KW_LINEPROTO_MAX_FIELDS) {
            *why = KW_REJ_BAD_LINE;
            snprintf(detail, dlen, "more than %d fields", KW_LINEPROTO_MAX_FIELDS);
            return -1;
        }
        struct kw_lineproto_field *f = &out->fields[out->nfields];
        f->key = s + key;
        f->str = NULL;
        pos++;
        if (pos < len && s[pos] == '"') {
            if (scan_string(s, len, &pos, &f->str))
                return fail(why, KW_REJ_BAD_LINE, detail, dlen, "a string field value has no closing quote");
            f->kind = KW_LINEPROTO_STRING;
            f->value = 0;
            if (pos < len && s[pos] != ',' && s[pos] != ' ')
                return fail(why, KW_REJ_BAD_LINE, detail, dlen, "text after a string field's closing quote");
        } else {
            size_t value = pos;
            while (pos < len && s[pos] != ',' && s[pos] != ' ')
                pos++;
            if (parse_value(s + value, pos - value, f, why, detail, dlen))
                return -1;
        }
        for (int k = 0; k < out->nfields; k++) {
            if (strcmp(out->fields[k].key, f->key) == 0) {
                *why = KW_REJ_DUPLICATE_FIELD; /* which one wins would be a guess */
                snprintf(detail, dlen, "field \"%s\" appears twice", kw_escape(shown, sizeof shown, f->key, 40));
                return -1;
            }
        }
        out->nfields++;
        if (pos == len || s[pos] == ' ')
            break;
        pos++; /* the comma before the next field */
    }

    while (pos < len && s[pos] == ' ')
        pos++;
    if (pos == len)
        return 0; /* no timestamp: the caller uses the receive time */
    size_t ts = pos;
    while (pos < len && s[pos] != ' ' && s[pos] != '\t')
        pos++;
    size_t ts_end = pos;
    while (pos < len && (s[pos] == ' ' || s[pos] == '\t'))
        pos++;
    if (pos < len)
        return fail(why, KW_REJ_BAD_LINE, detail, dlen, "text after the timestamp");
    if (parse_timestamp(s + ts, ts_end - ts, precision, &out->ts_ms, why, detail, dlen))
        return -1;
    out->has_ts = true;
    return 0;
}

/* One parsed line's numeric fields as points through kw_ingest_point. */
static void ingest_fields(const struct kw_ingest_limits *lim, struct kw_ingest_stats *stats, const char *source,
                          const struct kw_lineproto_line *line, size_t lineno, int64_t now_ms, kw_point_sink sink,
                          void *ctx)
{
    struct kw_point pt;
    char metric[KW_LINEPROTO_METRIC_BYTES], detail[200], shown[96];
    size_t mlen = strlen(line->measurement);
    pt.nlabels = line->ntags;
    memcpy(pt.labels, line->tags, (size_t)line->ntags * sizeof pt.labels[0]);
    pt.ts_ms = line->has_ts ? line->ts_ms : now_ms;
    for (int i = 0; i < line->nfields; i++) {
        const struct kw_lineproto_field *f = &line->fields[i];
        if (f->kind == KW_LINEPROTO_STRING) {
            snprintf(detail, sizeof detail, "line %zu: field \"%s\" is a string; only numbers can be watched", lineno,
                     kw_escape(shown, sizeof shown, f->key, 40));
            kw_ingest_reject(stats, source, KW_REJ_STRING_FIELD, detail);
            continue;
        }
        if (strcmp(f->key, "value") == 0) {
            pt.metric = line->measurement;
        } else {
            size_t klen = strlen(f->key);
            if (mlen + 1 + klen >= sizeof metric) {
                snprintf(detail, sizeof detail, "line %zu: metric %s_... is longer than %zu bytes", lineno,
                         kw_escape(shown, sizeof shown, line->measurement, 40), sizeof metric - 1);
                kw_ingest_reject(stats, source, KW_REJ_BAD_METRIC, detail);
                continue;
            }
            memcpy(metric, line->measurement, mlen);
            metric[mlen] = '_';
            memcpy(metric + mlen + 1, f->key, klen + 1);
            pt.metric = metric;
        }
        pt.value = f->value;
        kw_ingest_point(lim, stats, source, &pt, now_ms, sink, ctx);
    }
}

void kw_lineproto_ingest(const struct kw_ingest_limits *lim, struct kw_ingest_stats *stats, const char *source,
                         int precision, char *data, size_t len, int64_t now_ms, kw_point_sink sink, void *ctx)
{
    stats->messages++;
    if ((int64_t)len > lim->max_message_bytes) {
        char detail[96];
        snprintf(detail, sizeof detail, "message of %zu bytes exceeds max_message_bytes %lld", len,
                 (long long)lim->max_message_bytes);
        kw_ingest_reject(stats, source, KW_REJ_OVERSIZED_MESSAGE, detail);
        return;
    }
    struct kw_lineproto_line line;
    bool any = false;
    size_t pos = 0, lineno = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t start = pos, stop = nl ? (size_t)(nl - data) : len;
        pos = stop + 1;
        lineno++;
        if (stop > start && data[stop - 1] == '\r')
            stop--;
        while (start < stop && (data[start] == ' ' || data[start] == '\t'))
            start++;
        if (start == stop || data[start] == '#')
            continue;
        any = true;
        enum kw_reject why;
        char why_text[160], detail[200];
        if (kw_lineproto_parse_line(data + start, stop - start, precision, &line, &why, why_text, sizeof why_text)) {
            snprintf(detail, sizeof detail, "line %zu: %s", lineno, why_text);
            kw_ingest_reject(stats, source, why, detail);
            continue;
        }
        ingest_fields(lim, stats, source, &line, lineno, now_ms, sink, ctx);
    }
    if (!any)
        kw_ingest_reject(stats, source, KW_REJ_EMPTY_MESSAGE, "the message has no line other than blanks and comments");
}
