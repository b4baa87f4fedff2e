/* rig: what the delivery tests share around a fake receiver: groups of the
 * checkout alert (../checkout_alert.h) they send, a receiver parsed from
 * JSON, a notification run through
 * the notifier's send, and reading back what the fake got, each request
 * checked by the fake's validator. Each test file keeps only its cases. */
#ifndef KW_TEST_RIG_H
#define KW_TEST_RIG_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../../notifiers/dispatcher.h"
#include "../../notifiers/notifier.h"
#include "../checkout_alert.h"
#include "fake.h"

/* 2 s to connect, 5 s in all: generous for loopback, short for a hang. */
extern const struct kw_delivery_config rig_delivery;

/* Member i of a group of checkout alerts (../checkout_alert.h): its own
 * key, step "payment" for the first and "step-NN" for the others, and the
 * peak recorded. */
struct kw_alert rig_member_alert(int i);
/* The checkout alert as the lead, then warnings (severity 40, at 20%) on
 * the steps "shipping" and "review", each with its own key. */
void rig_group_of_three(struct kw_alert al[3]);
/* Fill n with count members (rig_member_alert; n owns them, release with
 * kw_notification_release) for receiver and group key. */
void rig_group(struct kw_notification *n, size_t count, int kind, const char *receiver, const char *key);
/* Mark a as resolved: back to 6.1%, five intervals after it started. */
void rig_resolve(struct kw_alert *a);
/* A notification over the caller's alerts (not owned: do not release). */
struct kw_notification rig_notification(struct kw_alert *al, size_t n, int kind, const char *receiver,
                                        const char *key);

/* Parse one receiver from JSON text (the test's JSON must be valid). Returns
 * kw_receiver_parse's result; r is to be released only on 0. */
int rig_parse(struct kw_receiver *r, const char *json, char *err, size_t errlen);
/* Parse a receiver that must be valid; fails the test with the error. */
void rig_parse_ok(struct kw_receiver *r, const char *json);
/* Parse a receiver expected to be refused; returns the result with the
 * error in err, and releases the receiver if it was accepted after all. */
int rig_parse_err(const char *json, char *err, size_t errlen);

/* The node at a path like "blocks[2].text.text"; NULL when absent. */
const cJSON *rig_at(const cJSON *o, const char *path);
/* The node at a path split by sep ("payload.members.0" with "."); a number
 * indexes an array. For keys that hold dots, split by "/". */
const cJSON *rig_at_split(const cJSON *o, const char *path, const char *sep);
/* rig_at's string, or "(absent)". */
const char *rig_str_at(const cJSON *o, const char *path);
/* rig_at_split's string; fails the test when it is not one. */
const char *rig_string_at(const cJSON *o, const char *path, const char *sep);
/* Characters in UTF-8 text (continuation bytes not counted). */
size_t rig_utf8_chars(const char *s);

/* Send n through its receiver's notifier now, with rig_delivery. */
struct kw_send_outcome rig_deliver(struct kw_receiver *r, struct kw_notification *n);
/* Request i of the fake's log; fails the test when it is missing or the
 * fake's validator found problems in it. */
const cJSON *rig_request(const cJSON *reqs, int i);
/* All requests f got, exactly expected of them, each checked as
 * rig_request does (caller deletes). */
cJSON *rig_requests(struct fake_service *f, int expected);
/* Send n with rig_delivery and return the single request f got, checked;
 * *all holds it (caller deletes). */
const cJSON *rig_send_one(struct fake_service *f, struct kw_receiver *r, struct kw_notification *n,
                          struct kw_send_outcome *out, cJSON **all);


/* An answer the fake gives (its script) and what the send must come to.
 * Arrays, not pointers: Criterion runs each case in a fresh process image. */
struct rig_answer_case {
    char script[200];
    enum kw_send_result result;
    int64_t retry_after_ms;
    char reason[96];
};
/* Send n once to f (already answering c->script) and check the outcome
 * (in *out) against c, and that f got exactly one well-formed request. */
void rig_assert_answer(struct fake_service *f, struct kw_receiver *r, struct kw_notification *n,
                       const struct rig_answer_case *c, struct kw_send_outcome *out);
/* Send n, with a 500 ms timeout, to a receiver that never answers: the send
 * must come back retryable ("transport: ...") well before the fake would. */
void rig_assert_hang_is_retried(struct kw_receiver *r, struct kw_notification *n);

/* How a test file reaches its notifier, for the checks every notifier
 * shares: start its fake with a script, parse its usual receiver pointed
 * at the fake, and fill a group of count alerts (owned by n). */
struct rig_target {
    struct fake_service *fake;
    void (*start)(const char *script);
    void (*receiver)(struct kw_receiver *r);
    void (*group)(struct kw_notification *n, size_t count, int kind);
};
/* A group a test sends through its notifier's usual receiver, and what
 * came back. */
struct rig_sent {
    struct kw_receiver r;
    struct kw_notification n;
    struct kw_send_outcome out;
    cJSON *all; /* the requests the fake got, once sent */
};
/* Start t's fake answering success, parse its usual receiver into s->r
 * and fill s->n with count alerts of kind, for the test to change before
 * rig_send_ok. Release s with rig_sent_release. */
void rig_prepare(const struct rig_target *t, struct rig_sent *s, size_t count, int kind);
/* Send s->n through s->r (outcome in s->out); fail unless it went out OK
 * as the single well-formed request the fake got, which is returned. */
const cJSON *rig_send_ok(const struct rig_target *t, struct rig_sent *s);
/* Free what rig_prepare and rig_send_ok made. */
void rig_sent_release(struct rig_sent *s);
/* Start t's fake answering c->script and check one firing alert against c
 * (rig_assert_answer); the outcome is left in *out. */
void rig_check_answer(const struct rig_target *t, const struct rig_answer_case *c, struct kw_send_outcome *out);
/* Start t's fake never answering and check that one firing alert is
 * retried after the timeout (rig_assert_hang_is_retried). */
void rig_check_hang(const struct rig_target *t);
/* Write text to the file name in f's temp dir (removed with the fake);
 * path gets its path. */
void rig_write_file(const struct fake_service *f, const char *name, const char *text, char *path, size_t pathlen);
/* Fail unless r prepares n's first request with its URL logged as f's
 * scheme and host only ("http://127.0.0.1:PORT/…"). */
void rig_assert_url_redacted(struct kw_receiver *r, struct kw_notification *n, const struct fake_service *f);

/* A group's lead set to a severity and score, the size of the group sent
 * (from the caller's alerts) and what the service must be told. */
struct rig_severity_case {
    int severity;
    double score;
    size_t members;
    const char *want;
    bool second_resolved; /* the second member (critical) has resolved */
};
/* Send each case through r as a group under key (a firing, then an update
 * every second one), then check each request f got: the string at
 * same_path (split by "/") is same, and at want_path the case's want.
 * With same NULL every case is a firing and same_path is not checked. */
void rig_check_severity_cases(struct fake_service *f, struct kw_receiver *r, struct kw_alert *al,
                              const struct rig_severity_case *cases, size_t ncases, const char *key,
                              const char *same_path, const char *same, const char *want_path);

#endif
