/* feedback: the queue of verdicts on alerts and the record of what was
 * learned from them. */
#include "feedback.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../lib/fileio.h"
#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "pipeline.h"

#define MAX_RECORDS 1000 /* the record keeps the latest verdicts; counts cover all */
#define MAX_NOTE 500

static bool key_ok(const char *key)
{
    if (strlen(key) != 16)
        return false;
    for (const char *c = key; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return false;
    return true;
}

/* Write text to path atomically (lib/fileio). */
static int write_atomic(const char *path, const char *text)
{
    char err[256];
    return kw_write_file_atomic(path, text, strlen(text), err, sizeof err);
}

int kw_feedback_submit(const char *state_dir, const char *key, bool false_alarm, const char *note,
                       char id[KW_FEEDBACK_ID], char *err, size_t errlen)
{
    if (!state_dir || !state_dir[0]) {
        snprintf(err, errlen, "agent.state_dir is not set: feedback is kept there");
        return -1;
    }
    if (!key_ok(key)) {
        snprintf(err, errlen, "\"%.40s\" is not an alert key (16 hex digits, as in the alert)", key);
        return -1;
    }
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/feedback", state_dir);
    mkdir(state_dir, 0750);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int64_t now = kw_now_ms();
    /* the name sorts by submission time; the pid keeps two at once apart */
    char stem[KW_FEEDBACK_ID];
    snprintf(stem, sizeof stem, "%013lld-%d-%s", (long long)now, (int)getpid(), key);
    snprintf(path, sizeof path, "%s/%s.json", dir, stem);
    char at[40];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", stem);
    cJSON_AddStringToObject(o, "key", key);
    cJSON_AddStringToObject(o, "verdict", false_alarm ? "false_alarm" : "confirmed");
    cJSON_AddStringToObject(o, "at", kw_time_format(now, at, sizeof at));
    if (note) {
        char cut[MAX_NOTE + 1];
        snprintf(cut, sizeof cut, "%s", note);
        cJSON_AddStringToObject(o, "note", cut);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    int rc = write_atomic(path, text);
    free(text);
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    /* root queues for an agent that runs as another user: it must be able to read and remove the file */
    struct stat owner;
    if (geteuid() == 0 && stat(state_dir, &owner) == 0 && owner.st_uid != 0)
        if (chown(dir, owner.st_uid, owner.st_gid) != 0 || chown(path, owner.st_uid, owner.st_gid) != 0)
            kw_warn("feedback", "cannot give %s to the agent's user: %s", path, strerror(errno));
    if (id)
        memcpy(id, stem, sizeof stem);
    return 0;
}

static struct kw_series *find_by_key(struct kw_pipeline *p, const char *key)
{
    for (size_t i = 0; i < p->table.cap; i++)
        if (p->table.slots[i] && strcmp(p->table.slots[i]->alert_key, key) == 0)
            return p->table.slots[i];
    return NULL;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The record file as a cJSON object with "counts" and "records". */
/* The record file's JSON, or NULL (missing, too large, not JSON). */
static cJSON *read_record(const char *path)
{
    char err[256];
    char *text = kw_read_file(path, 16u << 20, NULL, err, sizeof err);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    return root;
}

static cJSON *load_record(const char *path)
{
    cJSON *root = read_record(path);
    if (!cJSON_IsObject(root)) {
        char aside[4200];
        if (root || access(path, F_OK) == 0) { /* there, but not a record: keep it for a look */
            bool moved = kw_file_move_aside(path, aside, sizeof aside) != NULL;
            kw_warn("feedback", "%s: not a feedback record; starting a new one%s%s", path,
                    moved ? ", the old one moved to " : "", moved ? aside : "");
        }
        cJSON_Delete(root);
        root = cJSON_CreateObject();
    }
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "counts"))) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "counts");
        cJSON_AddObjectToObject(root, "counts");
    }
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "records"))) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "records");
        cJSON_AddArrayToObject(root, "records");
    }
    return root;
}

static void count(cJSON *counts, const char *detector, const char *verdict)
{
    cJSON *d = cJSON_GetObjectItemCaseSensitive(counts, detector);
    if (!cJSON_IsObject(d)) {
        cJSON_DeleteItemFromObjectCaseSensitive(counts, detector);
        d = cJSON_AddObjectToObject(counts, detector);
    }
    cJSON *n = cJSON_GetObjectItemCaseSensitive(d, verdict);
    if (cJSON_IsNumber(n))
        cJSON_SetNumberValue(n, n->valuedouble + 1);
    else
        cJSON_AddNumberToObject(d, verdict, 1);
}

int kw_feedback_apply(struct kw_pipeline *p, const char *state_dir)
{
    if (!state_dir || !state_dir[0])
        return 0;
    char dir[4096], record_path[4200];
    snprintf(dir, sizeof dir, "%s/feedback", state_dir);
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* nothing queued yet */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (n == cap)
            names = xrealloc(names, (cap = cap ? 2 * cap : 16) * sizeof *names);
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (n == 0) {
        free(names);
        return 0;
    }
    qsort(names, n, sizeof *names, cmp_name);
    snprintf(record_path, sizeof record_path, "%s/feedback.json", state_dir);
    cJSON *record = load_record(record_path);
    cJSON *counts = cJSON_GetObjectItemCaseSensitive(record, "counts");
    cJSON *records = cJSON_GetObjectItemCaseSensitive(record, "records");
    int applied = 0;
    char path[8400];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cJSON *v = NULL;
        FILE *f = fopen(path, "rb");
        if (f) {
            char buf[2048];
            size_t len = fread(buf, 1, sizeof buf - 1, f);
            buf[len] = '\0';
            fclose(f);
            v = cJSON_Parse(buf);
        }
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(v, "key");
        const cJSON *verdict = cJSON_GetObjectItemCaseSensitive(v, "verdict");
        if (!cJSON_IsString(key) || !key_ok(key->valuestring) || !cJSON_IsString(verdict) ||
            (strcmp(verdict->valuestring, "false_alarm") != 0 && strcmp(verdict->valuestring, "confirmed") != 0)) {
            kw_warn("feedback", "%s: not a feedback file; removed", names[i]);
            cJSON_Delete(v);
            unlink(path);
            continue;
        }
        /* Taken before it is learned: a file that cannot be removed (a
         * state directory the agent cannot write) would otherwise be learned
         * again at every look, and one verdict would reach the strictness cap. */
        if (unlink(path) != 0 && errno != ENOENT) {
            kw_error("feedback", "%s: cannot take it (%s); not learned", path, strerror(errno));
            cJSON_Delete(v);
            continue;
        }
        bool false_alarm = strcmp(verdict->valuestring, "false_alarm") == 0;
        struct kw_series *s = find_by_key(p, key->valuestring);
        const struct kw_kpi_config *kpi = s ? &p->cfg->kpis[s->kpi] : NULL;
        bool learned = s && kw_detector_feedback(&s->det, &kpi->detector, false_alarm);
        char at[40];
        cJSON_AddStringToObject(v, "applied_at", kw_time_format(kw_now_ms(), at, sizeof at));
        if (kpi) {
            cJSON_AddStringToObject(v, "kpi", kpi->name);
            cJSON_AddStringToObject(v, "detector", kpi->detector.type->name);
            count(counts, kpi->detector.type->name, verdict->valuestring);
        }
        cJSON_AddBoolToObject(v, "learned", learned);
        cJSON_AddItemToArray(records, v);
        while (cJSON_GetArraySize(records) > MAX_RECORDS)
            cJSON_DeleteItemFromArray(records, 0);
        if (!s)
            kw_warn("feedback", "alert %s: no such series now (expired, or from another config); recorded only",
                    key->valuestring);
        else
            kw_info("feedback", "%s on %s of %s (%s): %s", false_alarm ? "false alarm" : "confirmed", s->alert_key,
                    kpi->name, kpi->detector.type->name,
                    !learned ? "recorded (this detector does not learn from feedback)"
                    : false_alarm ? "learned as normal; its test is one step stricter"
                                  : "one strictness step undone");
        applied += learned;
    }
    char *text = cJSON_PrintUnformatted(record);
    cJSON_Delete(record);
    int rc = write_atomic(record_path, text);
    free(text);
    if (rc)
        kw_error("feedback", "%s: %s; the verdicts were learned but are not in the record", record_path,
                 strerror(errno));
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc ? -1 : applied;
}

cJSON *kw_feedback_record(const char *state_dir)
{
    if (!state_dir)
        return NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/feedback.json", state_dir);
    cJSON *root = read_record(path);
    if (root && !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        root = NULL;
    }
    return root;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

const cJSON *kw_feedback_cache_get(struct kw_feedback_cache *c, const char *state_dir)
{
    if (!state_dir) {
        kw_feedback_cache_release(c);
        return NULL;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/feedback.json", state_dir);
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (exists == c->exists && (!exists || same_file(&st, &c->seen)))
        return c->record;
    kw_feedback_cache_release(c);
    if (exists) { /* stat before the read: a change in between is caught next time */
        c->record = kw_feedback_record(state_dir);
        c->seen = st;
        c->exists = true;
        c->reads++;
    }
    return c->record;
}

void kw_feedback_cache_release(struct kw_feedback_cache *c)
{
    cJSON_Delete(c->record);
    c->record = NULL;
    c->exists = false;
}
