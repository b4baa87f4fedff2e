/* feedback: what people say about an alert, learned by its series. A
 * verdict on an alert key is queued as one file in STATE_DIR/feedback/, so
 * it reaches the agent whether or not it runs; the agent passes it to the
 * series' detector and records it, with counts per detector, in
 * STATE_DIR/feedback.json. Both survive restarts. */
#ifndef KW_FEEDBACK_H
#define KW_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

struct kw_pipeline;

#define KW_FEEDBACK_ID 64

/* Queue a verdict on alert key (16 hex digits) in state_dir. note may be
 * NULL. When id is not NULL it gets the verdict's id, which its entry in
 * the record carries once applied. Returns 0, or -1 with err (no
 * state_dir, bad key, cannot write). */
int kw_feedback_submit(const char *state_dir, const char *key, bool false_alarm, const char *note,
                       char id[KW_FEEDBACK_ID], char *err, size_t errlen);

/* Apply and record every queued verdict against p's series, oldest first.
 * A verdict whose series is not (or no longer) tracked is recorded as not
 * applied. Every queued verdict is taken once. Returns the number a
 * detector learned from, or -1 when the record cannot be written (logged). */
int kw_feedback_apply(struct kw_pipeline *p, const char *state_dir);

/* The record of applied verdicts in state_dir ({"counts": {DETECTOR:
 * {"false_alarm": n, "confirmed": n}}, "records": [{id, key, verdict, note,
 * at, applied_at, kpi, detector, learned}]}; kpi and detector are missing
 * when the key matched no series), or NULL when there is none.
 * Any thread: the file is replaced atomically. The caller deletes it. */
cJSON *kw_feedback_record(const char *state_dir);

/* The record kept in memory for readers that ask often (the HTTP API): it
 * is read again only when the file changed (another inode, size or
 * modification time; every write replaces the file), so a request costs a
 * stat, not a parse. A zeroed struct is an empty cache. Not thread-safe:
 * its owner serialises the calls. */
struct kw_feedback_cache {
    cJSON *record;   /* the record as last read, or NULL */
    struct stat seen;/* the file then */
    bool exists;     /* the file existed then (seen is valid) */
    uint64_t reads;  /* times the file was read */
};

/* The record in state_dir as kw_feedback_record gives it, or NULL. It
 * belongs to c and lives until the next call or the release. */
const cJSON *kw_feedback_cache_get(struct kw_feedback_cache *c, const char *state_dir);
/* Free what c holds and leave it empty. */
void kw_feedback_cache_release(struct kw_feedback_cache *c);

#endif
