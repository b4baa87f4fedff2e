/* feedback: what people say about an alert, learned by its series. A
 * verdict on an alert key is queued as one file in STATE_DIR/feedback/, so
 * it reaches the agent whether or not it runs; the agent passes it to the
 * series' detector and records it, with counts per detector, in
 * STATE_DIR/feedback.json. Both survive restarts. */
#ifndef KW_FEEDBACK_H
#define KW_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct kw_pipeline;

/* Queue a verdict on alert key (16 hex digits) in state_dir. note may be
 * NULL. Returns 0, or -1 with err (no state_dir, bad key, cannot write). */
int kw_feedback_submit(const char *state_dir, const char *key, bool false_alarm, const char *note, char *err,
                       size_t errlen);

/* Apply and record every queued verdict against p's series, oldest first.
 * A verdict whose series is not (or no longer) tracked is recorded as not
 * applied. Every queued verdict is taken once. Returns the number a
 * detector learned from, or -1 when the record cannot be written (logged). */
int kw_feedback_apply(struct kw_pipeline *p, const char *state_dir);

/* The record of applied verdicts in state_dir ({"counts": {DETECTOR:
 * {"false_alarm": n, "confirmed": n}}, "records": [{key, verdict, note,
 * at, applied_at, kpi, detector, learned}]}), or NULL when there is none.
 * Any thread: the file is replaced atomically. The caller deletes it. */
cJSON *kw_feedback_record(const char *state_dir);

#endif
