/* opts: fill and validate config structs from declarative option tables. */
#include "opts.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "xmalloc.h"

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    char reason[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", path, reason);
    return -1;
}

const char *kw_path_key(char *buf, size_t len, const char *path, const char *key)
{
    if (path && *path)
        snprintf(buf, len, "%s.%s", path, key);
    else
        snprintf(buf, len, "%s", key);
    return buf;
}

const char *kw_path_index(char *buf, size_t len, const char *path, int index)
{
    snprintf(buf, len, "%s[%d]", path ? path : "", index);
    return buf;
}

int kw_parse_duration(const char *text, int64_t *out_ms)
{
    errno = 0;
    char *end;
    double v = strtod(text, &end);
    if (end == text || errno || !isfinite(v) || v < 0)
        return -1;
    double scale;
    if (*end == '\0' || strcmp(end, "s") == 0)
        scale = 1000.0;
    else if (strcmp(end, "ms") == 0)
        scale = 1.0;
    else if (strcmp(end, "m") == 0)
        scale = 60e3;
    else if (strcmp(end, "h") == 0)
        scale = 3600e3;
    else if (strcmp(end, "d") == 0)
        scale = 86400e3;
    else if (strcmp(end, "w") == 0)
        scale = 7 * 86400e3;
    else
        return -1;
    double ms = v * scale;
    if (ms > 9.0e15)
        return -1;
    *out_ms = (int64_t)llround(ms);
    return 0;
}

static bool has_range(const struct kw_option *o)
{
    return o->min <= o->max;
}

static int check_range(const struct kw_option *o, double v, const char *path, char *err, size_t errlen)
{
    if (!has_range(o))
        return 0;
    if (v < o->min)
        return fail(err, errlen, path, "must be >= %g", o->min);
    if (v > o->max)
        return fail(err, errlen, path, "must be <= %g", o->max);
    return 0;
}

static int enum_index(const struct kw_option *o, const char *text)
{
    for (int i = 0; o->choices[i]; i++)
        if (strcmp(o->choices[i], text) == 0)
            return i;
    return -1;
}

static void choices_text(const struct kw_option *o, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; o->choices[i] && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", o->choices[i]);
}

/* Parse one value given either as JSON (node) or as default text (def). */
static int parse_one(const struct kw_option *o, const cJSON *node, const char *def, void *field,
                     const char *path, char *err, size_t errlen)
{
    switch (o->type) {
    case KW_OPT_INT:
    case KW_OPT_DOUBLE: {
        double v;
        if (node) {
            if (!cJSON_IsNumber(node))
                return fail(err, errlen, path, "must be a number");
            v = node->valuedouble;
        } else {
            v = strtod(def, NULL);
        }
        if (node && !isfinite(v))
            return fail(err, errlen, path, "must be finite");
        if (o->type == KW_OPT_INT) {
            if (v != floor(v) || fabs(v) > 2147483647.0)
                return fail(err, errlen, path, "must be an integer");
        }
        if (check_range(o, v, path, err, errlen))
            return -1;
        if (o->type == KW_OPT_INT)
            *(int *)field = (int)v;
        else
            *(double *)field = v;
        return 0;
    }
    case KW_OPT_BOOL:
        if (node) {
            if (!cJSON_IsBool(node))
                return fail(err, errlen, path, "must be true or false");
            *(bool *)field = cJSON_IsTrue(node);
        } else {
            *(bool *)field = strcmp(def, "true") == 0;
        }
        return 0;
    case KW_OPT_STRING: {
        const char *s = def;
        if (node) {
            if (!cJSON_IsString(node))
                return fail(err, errlen, path, "must be a string");
            s = node->valuestring;
            if (!o->def && !*s) /* required: an empty string is not a value */
                return fail(err, errlen, path, "is required (a non-empty string)");
        }
        free(*(char **)field);
        *(char **)field = (s && *s) ? xstrdup(s) : NULL;
        return 0;
    }
    case KW_OPT_ENUM: {
        const char *s = def;
        if (node) {
            if (!cJSON_IsString(node))
                return fail(err, errlen, path, "must be a string");
            s = node->valuestring;
        }
        int idx = enum_index(o, s);
        if (idx < 0) {
            char list[160];
            choices_text(o, list, sizeof list);
            if (node && (node->type & KW_JSON_SUBSTITUTED)) /* the value may be a secret: do not echo it */
                return fail(err, errlen, path, "must be one of: %s (the value came from the environment)", list);
            char shown[64];
            return fail(err, errlen, path, "must be one of: %s (got \"%s\")", list, kw_escape(shown, sizeof shown, s, 40));
        }
        *(int *)field = idx;
        return 0;
    }
    case KW_OPT_DURATION: {
        int64_t ms;
        if (node && cJSON_IsNumber(node)) {
            double v = node->valuedouble;
            if (!isfinite(v) || v < 0 || v > 9.0e12)
                return fail(err, errlen, path, "must be a non-negative duration");
            ms = (int64_t)llround(v * 1000.0);
        } else if (node && cJSON_IsString(node)) {
            if (kw_parse_duration(node->valuestring, &ms)) {
                char shown[64];
                if (node->type & KW_JSON_SUBSTITUTED)
                    return fail(err, errlen, path, "must be a duration like \"30s\", \"5m\", \"1h\" (the value came from the environment)");
                return fail(err, errlen, path, "must be a duration like \"30s\", \"5m\", \"1h\" (got \"%s\")",
                            kw_escape(shown, sizeof shown, node->valuestring, 40));
            }
        } else if (node) {
            return fail(err, errlen, path, "must be a duration (number of seconds or \"5m\")");
        } else if (kw_parse_duration(def, &ms)) {
            return fail(err, errlen, path, "bad built-in default \"%s\"", def);
        }
        if (check_range(o, (double)ms / 1000.0, path, err, errlen))
            return -1;
        *(int64_t *)field = ms;
        return 0;
    }
    case KW_OPT_CUSTOM:
        return o->parse(node, field, path, err, errlen);
    }
    return fail(err, errlen, path, "unsupported option type");
}

int kw_opts_fill(const struct kw_option *table, const cJSON *obj, void *dst,
                 const char *path, char *err, size_t errlen)
{
    if (obj && !cJSON_IsObject(obj))
        return fail(err, errlen, path && *path ? path : "(top level)", "must be an object");
    for (const struct kw_option *o = table; o->name; o++) {
        char keypath[KW_ERR_LEN];
        kw_path_key(keypath, sizeof keypath, path, o->name);
        const cJSON *node = obj ? cJSON_GetObjectItemCaseSensitive(obj, o->name) : NULL;
        if (node && cJSON_IsNull(node))
            node = NULL;
        if (!node && !o->def)
            return fail(err, errlen, keypath, "is required");
        void *field = (char *)dst + o->offset;
        if (parse_one(o, node, o->def, field, keypath, err, errlen))
            return -1;
    }
    return 0;
}

static bool in_table(const struct kw_option *table, const char *key)
{
    for (const struct kw_option *o = table; o->name; o++)
        if (strcmp(o->name, key) == 0)
            return true;
    return false;
}

/* Levenshtein distance of two short keys (longer keys count as far apart). */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 1 << 20;
    int row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static void consider(const char *key, const char *candidate, const char **best, int *best_dist)
{
    int d = edit_distance(key, candidate);
    if (d < *best_dist) {
        *best_dist = d;
        *best = candidate;
    }
}

int kw_opts_reject_unknown(const cJSON *obj, const struct kw_option *const *tables,
                           const char *const *extra, const char *path, char *err, size_t errlen)
{
    if (!obj)
        return 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        bool known = false;
        for (int t = 0; tables && tables[t] && !known; t++)
            known = in_table(tables[t], item->string);
        for (int e = 0; extra && extra[e] && !known; e++)
            known = strcmp(extra[e], item->string) == 0;
        if (known)
            continue;
        char valid[160], keypath[KW_ERR_LEN], key[64];
        size_t used = 0;
        int count = 0, best_dist = 1 << 30;
        const char *best = NULL;
        valid[0] = '\0';
        for (int e = 0; extra && extra[e]; e++, count++) {
            used += (size_t)snprintf(valid + (used < sizeof valid ? used : sizeof valid - 1),
                                     used < sizeof valid ? sizeof valid - used : 1, "%s%s", used ? ", " : "", extra[e]);
            consider(item->string, extra[e], &best, &best_dist);
        }
        for (int t = 0; tables && tables[t]; t++)
            for (const struct kw_option *o = tables[t]; o->name; o++, count++) {
                used += (size_t)snprintf(valid + (used < sizeof valid ? used : sizeof valid - 1),
                                         used < sizeof valid ? sizeof valid - used : 1, "%s%s", used ? ", " : "", o->name);
                consider(item->string, o->name, &best, &best_dist);
            }
        kw_path_key(keypath, sizeof keypath, path, kw_escape(key, sizeof key, item->string, 40));
        size_t klen = strlen(item->string);
        if (best && best_dist <= (klen > 6 ? 2 : 1))
            return fail(err, errlen, keypath, "unknown key; did you mean \"%s\"?", best);
        if (used < sizeof valid)
            return fail(err, errlen, keypath, "unknown key (valid: %s)", valid);
        return fail(err, errlen, keypath, "unknown key (%d keys are valid here; kpiwatch options lists them)", count);
    }
    return 0;
}

void kw_opts_release(const struct kw_option *table, void *dst)
{
    for (const struct kw_option *o = table; o->name; o++) {
        void *field = (char *)dst + o->offset;
        if (o->type == KW_OPT_STRING) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (o->type == KW_OPT_CUSTOM && o->release) {
            o->release(field);
        }
    }
}

static const char *type_name(const struct kw_option *o)
{
    if (o->type_name)
        return o->type_name;
    switch (o->type) {
    case KW_OPT_INT: return "integer";
    case KW_OPT_DOUBLE: return "number";
    case KW_OPT_BOOL: return "boolean";
    case KW_OPT_STRING: return "string";
    case KW_OPT_ENUM: return "enum";
    case KW_OPT_DURATION: return "duration";
    case KW_OPT_CUSTOM: return "object";
    }
    return "?";
}

void kw_opts_print_markdown(const struct kw_option *table, void *stream)
{
    FILE *out = stream;
    for (const struct kw_option *o = table; o->name; o++) {
        char extra[200] = "";
        if (o->type == KW_OPT_ENUM) {
            char list[160];
            choices_text(o, list, sizeof list);
            snprintf(extra, sizeof extra, " One of: %s.", list);
        } else if (has_range(o)) {
            snprintf(extra, sizeof extra, " Range %.15g..%.15g%s.", o->min, o->max,
                     o->type == KW_OPT_DURATION ? " s" : "");
        }
        fprintf(out, "| `%s` | %s | %s | %s%s |\n", o->name, type_name(o),
                o->def ? (*o->def ? o->def : "(none)") : "**required**", o->desc ? o->desc : "", extra);
    }
}

/* ---- list and map options ---------------------------------------------- */

int kw_opt_parse_string_list(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    struct kw_string_list *list = field;
    if (!node)
        return 0;
    if (!cJSON_IsArray(node)) {
        snprintf(err, errlen, "%s: must be an array of strings", path);
        return -1;
    }
    int n = cJSON_GetArraySize(node);
    list->items = xcalloc((size_t)n + 1, sizeof *list->items);
    const cJSON *item;
    cJSON_ArrayForEach(item, node) {
        if (!cJSON_IsString(item)) {
            char p[KW_ERR_LEN];
            snprintf(err, errlen, "%s: must be a string", kw_path_index(p, sizeof p, path, list->n));
            return -1;
        }
        list->items[list->n++] = xstrdup(item->valuestring);
    }
    return 0;
}

void kw_opt_release_string_list(void *field)
{
    struct kw_string_list *list = field;
    for (int i = 0; i < list->n; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

int kw_opt_parse_string_map(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    struct kw_string_map *m = field;
    if (!node)
        return 0;
    if (!cJSON_IsObject(node)) {
        snprintf(err, errlen, "%s: must be an object of label: value", path);
        return -1;
    }
    int n = cJSON_GetArraySize(node);
    m->names = xcalloc((size_t)n + 1, sizeof *m->names);
    m->values = xcalloc((size_t)n + 1, sizeof *m->values);
    const cJSON *item;
    cJSON_ArrayForEach(item, node) {
        if (!cJSON_IsString(item)) {
            char p[KW_ERR_LEN];
            snprintf(err, errlen, "%s: must be a string", kw_path_key(p, sizeof p, path, item->string));
            return -1;
        }
        m->names[m->n] = xstrdup(item->string);
        m->values[m->n] = xstrdup(item->valuestring);
        m->n++;
    }
    return 0;
}

void kw_opt_release_string_map(void *field)
{
    struct kw_string_map *m = field;
    for (int i = 0; i < m->n; i++) {
        free(m->names[i]);
        free(m->values[i]);
    }
    free(m->names);
    free(m->values);
    memset(m, 0, sizeof *m);
}
