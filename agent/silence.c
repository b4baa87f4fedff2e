/* silence: the silence store, its matching and its file. */
#include "silence.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/escape.h"
#include "../lib/fileio.h"
#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"

#define MAX_SILENCES 10000
#define EXPIRED_KEEP_MS (5LL * 24 * 3600 * 1000) /* expired silences stay listed this long, as Alertmanager does */

struct entry {
    struct kw_silence s;
    regex_t re[KW_SILENCE_MATCHERS];
    bool has_re[KW_SILENCE_MATCHERS];
};

struct kw_silences {
    pthread_mutex_t lock;
    char *path;          /* dir/silences.json, or NULL */
    struct entry *items;
    int n, cap;
};

static const char *const op_names[] = {"=", "!=", "=~", "!~"};

static void entry_free_regex(struct entry *e)
{
    for (int i = 0; i < KW_SILENCE_MATCHERS; i++)
        if (e->has_re[i])
            regfree(&e->re[i]);
    memset(e->has_re, 0, sizeof e->has_re);
}

/* Compile the regex matchers of e->s, anchored as Alertmanager anchors them. */
static int entry_compile(struct entry *e, char *err, size_t errlen)
{
    for (int i = 0; i < e->s.nmatchers; i++) {
        if (e->s.matchers[i].op != KW_MATCH_RE && e->s.matchers[i].op != KW_MATCH_NRE)
            continue;
        char anchored[KW_ALERT_LABEL_VALUE + 8];
        snprintf(anchored, sizeof anchored, "^(%s)$", e->s.matchers[i].value);
        int rc = regcomp(&e->re[i], anchored, REG_EXTENDED | REG_NOSUB);
        if (rc) {
            char why[128];
            regerror(rc, &e->re[i], why, sizeof why);
            snprintf(err, errlen, "matchers[%d].value: not a valid regular expression: %s", i, why);
            entry_free_regex(e);
            return -1;
        }
        e->has_re[i] = true;
    }
    return 0;
}

static bool entry_matches(const struct entry *e, const struct kw_alert *a)
{
    for (int i = 0; i < e->s.nmatchers; i++) {
        const char *v = kw_alert_label_value(a, e->s.matchers[i].name);
        if (!v)
            v = ""; /* an absent label matches as empty, as in Alertmanager */
        bool hit;
        switch (e->s.matchers[i].op) {
        case KW_MATCH_EQ:
            hit = strcmp(v, e->s.matchers[i].value) == 0;
            break;
        case KW_MATCH_NE:
            hit = strcmp(v, e->s.matchers[i].value) != 0;
            break;
        case KW_MATCH_RE:
            hit = regexec(&e->re[i], v, 0, NULL, 0) == 0;
            break;
        default:
            hit = regexec(&e->re[i], v, 0, NULL, 0) != 0;
            break;
        }
        if (!hit)
            return false;
    }
    return e->s.nmatchers > 0;
}

static const char *status_of(const struct kw_silence *s, int64_t now_ms)
{
    return now_ms < s->starts_ms ? "pending" : now_ms < s->ends_ms ? "active" : "expired";
}

static int copy_string(char *dst, size_t cap, const cJSON *node, const char *path, const char *key, bool required,
                       char *err, size_t errlen)
{
    if (!node || cJSON_IsNull(node)) {
        if (required) {
            snprintf(err, errlen, "%s.%s: is required", path, key);
            return -1;
        }
        dst[0] = '\0';
        return 0;
    }
    if (!cJSON_IsString(node) || strlen(node->valuestring) >= cap) {
        snprintf(err, errlen, "%s.%s: must be a string of at most %zu bytes", path, key, cap - 1);
        return -1;
    }
    snprintf(dst, cap, "%s", node->valuestring);
    return 0;
}

static int parse_time_field(const cJSON *node, int64_t fallback, int64_t *out, const char *path, const char *key,
                            char *err, size_t errlen)
{
    if (!node || cJSON_IsNull(node)) {
        if (fallback == INT64_MIN) {
            snprintf(err, errlen, "%s.%s: is required (RFC 3339)", path, key);
            return -1;
        }
        *out = fallback;
        return 0;
    }
    if (!cJSON_IsString(node) || kw_time_parse_zoned(node->valuestring, out)) {
        snprintf(err, errlen, "%s.%s: must be an RFC 3339 time with a zone", path, key);
        return -1;
    }
    return 0;
}

int kw_silence_parse(struct kw_silence *out, const cJSON *json, int64_t now_ms, const char *path, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(json)) {
        snprintf(err, errlen, "%s: must be an object", path);
        return -1;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, json) {
        static const char *const keys[] = {"id", "matchers", "starts_at", "ends_at", "created_by", "comment", "status", NULL};
        bool known = false;
        for (int i = 0; keys[i] && !known; i++)
            known = strcmp(item->string, keys[i]) == 0;
        if (!known) {
            char shown[64];
            snprintf(err, errlen, "%s.%s: unknown key (valid: matchers, starts_at, ends_at, created_by, comment)", path,
                     kw_escape(shown, sizeof shown, item->string, 40));
            return -1;
        }
    }
    const cJSON *matchers = cJSON_GetObjectItemCaseSensitive(json, "matchers");
    int n = cJSON_GetArraySize(matchers);
    if (!cJSON_IsArray(matchers) || n < 1 || n > KW_SILENCE_MATCHERS) {
        snprintf(err, errlen, "%s.matchers: must be a list of 1 to %d matchers", path, KW_SILENCE_MATCHERS);
        return -1;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, matchers) {
        char mp[160];
        snprintf(mp, sizeof mp, "%s.matchers[%d]", path, out->nmatchers);
        int i = out->nmatchers;
        if (!cJSON_IsObject(m) ||
            copy_string(out->matchers[i].name, sizeof out->matchers[i].name, cJSON_GetObjectItemCaseSensitive(m, "name"),
                        mp, "name", true, err, errlen) ||
            copy_string(out->matchers[i].value, sizeof out->matchers[i].value,
                        cJSON_GetObjectItemCaseSensitive(m, "value"), mp, "value", true, err, errlen)) {
            if (!cJSON_IsObject(m))
                snprintf(err, errlen, "%s: must be an object with name, value and op", mp);
            return -1;
        }
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(m, "op");
        out->matchers[i].op = -1;
        for (int k = 0; k < 4; k++)
            if (!op || (cJSON_IsString(op) && strcmp(op->valuestring, op_names[k]) == 0)) {
                out->matchers[i].op = op ? k : KW_MATCH_EQ;
                break;
            }
        if (out->matchers[i].op < 0) {
            snprintf(err, errlen, "%s.op: must be one of =, !=, =~, !~", mp);
            return -1;
        }
        out->nmatchers++;
    }
    if (parse_time_field(cJSON_GetObjectItemCaseSensitive(json, "starts_at"), now_ms, &out->starts_ms, path,
                         "starts_at", err, errlen) ||
        parse_time_field(cJSON_GetObjectItemCaseSensitive(json, "ends_at"), INT64_MIN, &out->ends_ms, path, "ends_at",
                         err, errlen) ||
        copy_string(out->author, sizeof out->author, cJSON_GetObjectItemCaseSensitive(json, "created_by"), path,
                    "created_by", false, err, errlen) ||
        copy_string(out->comment, sizeof out->comment, cJSON_GetObjectItemCaseSensitive(json, "comment"), path,
                    "comment", false, err, errlen) ||
        copy_string(out->id, sizeof out->id, cJSON_GetObjectItemCaseSensitive(json, "id"), path, "id", false, err,
                    errlen))
        return -1;
    if (out->ends_ms <= out->starts_ms) {
        snprintf(err, errlen, "%s.ends_at: must be after starts_at", path);
        return -1;
    }
    return 0;
}

int kw_silence_check(const struct kw_silence *sil, char *err, size_t errlen)
{
    struct entry e = {.s = *sil};
    if (entry_compile(&e, err, errlen))
        return -1;
    entry_free_regex(&e);
    return 0;
}

cJSON *kw_silence_to_json(const struct kw_silence *s, int64_t now_ms)
{
    char t[40];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "status", status_of(s, now_ms));
    cJSON *arr = cJSON_AddArrayToObject(o, "matchers");
    for (int i = 0; i < s->nmatchers; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", s->matchers[i].name);
        cJSON_AddStringToObject(m, "value", s->matchers[i].value);
        cJSON_AddStringToObject(m, "op", op_names[s->matchers[i].op]);
        cJSON_AddItemToArray(arr, m);
    }
    cJSON_AddStringToObject(o, "starts_at", kw_time_format(s->starts_ms, t, sizeof t));
    cJSON_AddStringToObject(o, "ends_at", kw_time_format(s->ends_ms, t, sizeof t));
    cJSON_AddStringToObject(o, "created_by", s->author);
    cJSON_AddStringToObject(o, "comment", s->comment);
    if (s->from_config)
        cJSON_AddBoolToObject(o, "from_config", true);
    return o;
}

/* Write the file atomically: tmp, fsync, rename. Called with the lock held. */
static void store_save(struct kw_silences *s)
{
    if (!s->path)
        return;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "silences");
    for (int i = 0; i < s->n; i++)
        if (!s->items[i].s.from_config)
            cJSON_AddItemToArray(arr, kw_silence_to_json(&s->items[i].s, 0));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char err[512];
    if (kw_write_file_atomic(s->path, text, strlen(text), err, sizeof err))
        kw_error("silence", "cannot save %s", err);
    free(text);
}

static void random_id(char id[KW_SILENCE_ID])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(rand() & 0xff); /* getrandom cannot fail on Linux >= 3.17; belt and braces */
    snprintf(id, KW_SILENCE_ID, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Append e (compiled) to the store; the lock is held. Returns 0 or -1. */
static int store_append(struct kw_silences *s, const struct kw_silence *sil, char *err, size_t errlen)
{
    if (s->n >= MAX_SILENCES) {
        snprintf(err, errlen, "there are already %d silences", MAX_SILENCES);
        return -1;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->items = xrealloc(s->items, (size_t)s->cap * sizeof *s->items);
    }
    struct entry *e = &s->items[s->n];
    memset(e, 0, sizeof *e);
    e->s = *sil;
    if (entry_compile(e, err, errlen))
        return -1;
    s->n++;
    return 0;
}

/* Drop silences expired long ago; the lock is held. */
static void store_prune(struct kw_silences *s, int64_t now_ms)
{
    int w = 0;
    for (int i = 0; i < s->n; i++) {
        if (!s->items[i].s.from_config && s->items[i].s.ends_ms + EXPIRED_KEEP_MS < now_ms) {
            entry_free_regex(&s->items[i]);
            continue;
        }
        s->items[w++] = s->items[i];
    }
    s->n = w;
}

struct kw_silences *kw_silences_open(const char *dir)
{
    struct kw_silences *s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    if (!dir || !*dir)
        return s;
    size_t plen = strlen(dir) + 16;
    s->path = xmalloc(plen);
    snprintf(s->path, plen, "%s/silences.json", dir);
    char why[512];
    char *text = kw_read_file(s->path, 64u << 20, NULL, why, sizeof why);
    if (!text && !why[0]) /* none yet */
        return s;
    if (!text)
        kw_warn("silence", "%s", why);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "silences"), *item;
    int bad = 0;
    int64_t now = kw_now_ms();
    cJSON_ArrayForEach(item, arr) {
        struct kw_silence sil;
        char err[256];
        if (kw_silence_parse(&sil, item, now, "silences[]", err, sizeof err) || !sil.id[0] ||
            store_append(s, &sil, err, sizeof err)) {
            if (++bad <= 3)
                kw_warn("silence", "%s: skipping a silence: %s", s->path, sil.id[0] ? err : "no id");
        }
    }
    if (!cJSON_IsArray(arr)) {
        kw_warn("silence", "%s is not a silence file; starting with none (the file is kept as .bad)", s->path);
        size_t blen = strlen(s->path) + 8;
        char *bad_path = xmalloc(blen);
        snprintf(bad_path, blen, "%s.bad", s->path);
        rename(s->path, bad_path);
        free(bad_path);
    }
    cJSON_Delete(root);
    return s;
}

void kw_silences_close(struct kw_silences *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        entry_free_regex(&s->items[i]);
    free(s->items);
    free(s->path);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void kw_silences_set_config(struct kw_silences *s, const struct kw_silence *list, int n)
{
    pthread_mutex_lock(&s->lock);
    int w = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->items[i].s.from_config) {
            entry_free_regex(&s->items[i]);
            continue;
        }
        s->items[w++] = s->items[i];
    }
    s->n = w;
    for (int i = 0; i < n; i++) {
        struct kw_silence sil = list[i];
        sil.from_config = true;
        snprintf(sil.id, sizeof sil.id, "config-%d", i);
        char err[256];
        if (store_append(s, &sil, err, sizeof err)) /* the config loader compiled it already */
            kw_error("silence", "silences[%d]: %s", i, err);
    }
    pthread_mutex_unlock(&s->lock);
}

int kw_silences_add(struct kw_silences *s, struct kw_silence *sil, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->lock);
    store_prune(s, kw_now_ms());
    if (!sil->id[0])
        random_id(sil->id);
    for (int i = 0; i < s->n; i++) {
        if (strcmp(s->items[i].s.id, sil->id) == 0) {
            pthread_mutex_unlock(&s->lock);
            snprintf(err, errlen, "a silence with id %s exists", sil->id);
            return -1;
        }
    }
    int rc = store_append(s, sil, err, errlen);
    if (rc == 0 && !sil->from_config) {
        store_save(s);
        char shown[96], until[40];
        kw_info("silence", "added %s until %s by %s: %s", sil->id, kw_time_format(sil->ends_ms, until, sizeof until),
                sil->author[0] ? sil->author : "(unknown)", kw_escape(shown, sizeof shown, sil->comment, 80));
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int kw_silences_expire(struct kw_silences *s, const char *id, int64_t now_ms)
{
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n; i++) {
        struct kw_silence *sil = &s->items[i].s;
        if (strcmp(sil->id, id) != 0 || sil->from_config)
            continue;
        if (sil->ends_ms > now_ms)
            sil->ends_ms = now_ms > sil->starts_ms ? now_ms : sil->starts_ms + 1;
        store_save(s);
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

cJSON *kw_silences_list(struct kw_silences *s, int64_t now_ms)
{
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&s->lock);
    for (int i = s->n - 1; i >= 0; i--)
        cJSON_AddItemToArray(arr, kw_silence_to_json(&s->items[i].s, now_ms));
    pthread_mutex_unlock(&s->lock);
    return arr;
}

bool kw_silences_match(struct kw_silences *s, const struct kw_alert *a, int64_t now_ms, char id[KW_SILENCE_ID])
{
    bool hit = false;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n && !hit; i++) {
        const struct entry *e = &s->items[i];
        if (now_ms < e->s.starts_ms || now_ms >= e->s.ends_ms || !entry_matches(e, a))
            continue;
        snprintf(id, KW_SILENCE_ID, "%s", e->s.id);
        hit = true;
    }
    pthread_mutex_unlock(&s->lock);
    return hit;
}
