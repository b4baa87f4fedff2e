/* notifier: the vtable every alert receiver type implements, and the
 * notification it delivers. A notifier parses its options, renders one
 * notification (an alert group, firing or resolved) into its service's wire
 * format, sets up the request on a libcurl easy handle, and classifies the
 * answer as OK, RETRY (with a delay) or ERROR (with the service's reason).
 * Queueing, retrying, rate limiting and the spool belong to the dispatcher;
 * a notifier never loops, sleeps or performs a transfer itself. */
#ifndef KW_NOTIFIER_H
#define KW_NOTIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "../lib/opts.h"
#include "alert.h"

#define KW_NOTIFY_KEY 96
#define KW_NOTIFY_REF 160
#define KW_NOTIFY_FIRST_MOVER 640
#define KW_NOTIFY_REASON 256

enum kw_send_result { KW_SEND_OK = 0, KW_SEND_RETRY, KW_SEND_ERROR };

/* Why a notification is sent. */
enum kw_notify_kind {
    KW_NOTIFY_FIRING = 0,  /* the group started firing: a new message / incident */
    KW_NOTIFY_UPDATE,      /* still firing, changed or repeated */
    KW_NOTIFY_RESOLVED,    /* every member resolved */
};

/* One delivery: an alert group for one receiver. The dispatcher owns it;
 * notifiers only read it. alerts[0] is the group's lead (the first mover). */
struct kw_notification {
    char receiver[64];          /* receiver name */
    char key[KW_NOTIFY_KEY];    /* dedup key: the same for firing, updates and the resolve
                                 * (PagerDuty dedup_key, Opsgenie alias, Slack thread) */
    int kind;                   /* enum kw_notify_kind */
    bool reminder;              /* an UPDATE with no change: repeat_interval came round */
    char ref[KW_NOTIFY_REF];    /* what the first OK send returned for this key on this
                                 * receiver (Slack ts, email Message-ID); "" = none */
    int64_t created_ms;         /* wall clock when it was queued */
    struct kw_alert *alerts;    /* owned; nalerts >= 1 */
    size_t nalerts;
    /* The incident's first mover, "KPI [labels] since TIME": the member
     * that started first, also after it resolved and left alerts[] (then
     * ending in ", resolved"); "" = alerts[0]'s, as in older spools. */
    char first_mover[KW_NOTIFY_FIRST_MOVER];
    /* The route's group_by labels and the group's values ("kpi" as is);
     * none in spools written before they were kept. */
    struct kw_alert_label group_labels[KW_ALERT_MAX_LABELS];
    int ngroup_labels;
};

/* A request under construction. prepare() fills it; the dispatcher performs
 * the transfer and then frees everything here with kw_request_release. */
struct kw_request {
    CURL *easy;                 /* fresh easy handle, timeouts already set */
    struct curl_slist *headers; /* owned; set as CURLOPT_HTTPHEADER by kw_request_* helpers */
    char *body;                 /* owned request body (HTTP) or message (SMTP) */
    size_t body_len;
    size_t body_off;            /* SMTP upload position */
    struct curl_slist *rcpt;    /* SMTP recipients; owned */
    char *url;                  /* owned; for logs (secrets redacted by the notifier's own choice) */
    char ref[KW_NOTIFY_REF];    /* a reference prepare() made (email Message-ID) for classify() */
};

/* The answer to one request. */
struct kw_response {
    CURLcode curl_code;         /* CURLE_OK when the transfer completed */
    const char *curl_error;     /* text for curl_code; "" when OK */
    long status;                /* HTTP status or SMTP reply code; 0 when no answer */
    const char *body;           /* response body, NUL-terminated (may be truncated) */
    size_t body_len;
    int64_t retry_after_ms;     /* from a Retry-After header (seconds or HTTP date); -1 = none */
};

/* What a send came to. */
struct kw_send_outcome {
    enum kw_send_result result;
    int64_t retry_after_ms;          /* RETRY: wait at least this long; 0 = dispatcher's backoff */
    char reason[KW_NOTIFY_REASON];   /* for logs and the dead-letter file */
    char ref[KW_NOTIFY_REF];         /* OK: reference to keep for later sends with this key */
};

/* One message template's output, for `kpiwatch template render`. */
struct kw_rendered {
    const char *key;  /* the option that holds the template ("template", "subject_template") */
    char *text;       /* owned by the caller */
};
#define KW_RENDERED_MAX 4

struct kw_notifier_type {
    const char *name;
    const char *description;
    const struct kw_option *options; /* KW_OPT_END terminated */
    size_t config_size;
    double rate_per_s;               /* default token-bucket rate; 0 = unlimited */
    int burst;                       /* default token-bucket size */
    /* Meaning checks and secret resolution after the options are filled.
     * instance is the receiver's name, for log lines. May be NULL. Returns 0,
     * or -1 with "path.key: reason" in err (never quoting a secret). On
     * failure it frees what it allocated. */
    int (*init)(void *cfg, const char *instance, const char *path, char *err, size_t errlen);
    /* Free what init allocated beyond the option table. May be NULL. */
    void (*release)(void *cfg);
    /* Local delivery with no network (console, file). When set, prepare and
     * classify are not used. Must not block for long. */
    void (*send)(void *cfg, const struct kw_notification *n, struct kw_send_outcome *out);
    /* Set up request number step (0, 1, ...) of n on req. A notification may
     * need several requests in order (Slack bot: reply in the thread, then
     * update the original). Returns 1 when req is ready, 0 when there is no
     * such step (n is done), -1 when n cannot be sent at all (err says why;
     * a permanent failure). */
    int (*prepare)(void *cfg, const struct kw_notification *n, int step, struct kw_request *req,
                   char *err, size_t errlen);
    /* Classify the answer to request step of n. */
    void (*classify)(void *cfg, const struct kw_notification *n, int step, const struct kw_request *req,
                     const struct kw_response *resp, struct kw_send_outcome *out);
    /* What each configured message template makes of n, as it would be
     * sent: fills up to KW_RENDERED_MAX entries and returns how many (0 when
     * the receiver uses its built-in rendering). May be NULL. */
    int (*render_templates)(void *cfg, const struct kw_notification *n, struct kw_rendered *out);
};

/* A configured receiver: one notifier type with its options. */
struct kw_receiver {
    char *name;
    const struct kw_notifier_type *type;
    void *cfg;
    double rate_per_s;   /* token bucket (receiver option "rate_limit", default the type's) */
    int burst;
    bool disabled;       /* configured but off ("enabled": false): cfg is NULL and nothing is sent */
    char off_reason[192];/* why it is off, for people: "\"enabled\" is false"; "" when on */
};

extern const struct kw_notifier_type *const kw_notifier_types[];

/* Options every receiver has (rate_limit, burst), for the reference. */
const struct kw_option *kw_receiver_common_options(void);

/* Look up a notifier type by name; NULL when unknown. */
const struct kw_notifier_type *kw_notifier_type_find(const char *name);

/* Parse {"name": ..., "type": ..., options...} into rcv. Returns 0 or -1 with
 * the key path in err; on error rcv needs no release. */
int kw_receiver_parse(struct kw_receiver *rcv, const cJSON *obj, const char *path,
                      char *err, size_t errlen);
/* Free rcv's contents. Safe on a zeroed struct. */
void kw_receiver_release(struct kw_receiver *rcv);

/* Free a notification's alerts and zero it. Safe on a zeroed struct. */
void kw_notification_release(struct kw_notification *n);
/* Deep copy src into dst. Never fails. */
void kw_notification_copy(struct kw_notification *dst, const struct kw_notification *src);

/* Free what a request holds (not the easy handle). Safe on a zeroed struct. */
void kw_request_release(struct kw_request *req);

/* Shared rendering helpers. */

/* "journey=checkout, step=payment" into buf. */
const char *kw_alert_labels_text(const struct kw_alert *a, char *buf, size_t len);
/* Unicode sparkline of the alert's history, e.g. "▁▂▂▁▃█". */
const char *kw_alert_sparkline(const struct kw_alert *a, char *buf, size_t len);
/* Format a KPI value for people: rates as percentages, counts as integers. */
const char *kw_alert_value_text(const struct kw_alert *a, double v, char *buf, size_t len);
/* observed against expected as people read it: "+7.3 pts" for rates, "+35%"
 * where both sides are positive, else the difference in the alert's unit
 * ("-119 NPS points"); "" without an expectation. */
const char *kw_alert_change_text(const struct kw_alert *a, char *buf, size_t len);
/* What a notification says it is: "FIRING" (new), "UPDATED" (a member
 * joined, resolved or rose to critical), "STILL FIRING" (a reminder:
 * nothing changed) or "RESOLVED". */
const char *kw_notification_status_word(const struct kw_notification *n);
/* The group's severity for paging: the worst of its firing members (a
 * member that resolved no longer pages), or of all when none fires (a
 * resolve). A member's severity is its peak while it fired. */
int kw_notification_severity(const struct kw_notification *n);
/* An alert as a first mover is named: "KPI [labels] since TIME". */
const char *kw_alert_mover_text(const struct kw_alert *a, char *buf, size_t len);
/* The incident's first mover as headers show it: n->first_mover, or alerts[0]'s "KPI [labels] since TIME". */
const char *kw_notification_first_mover(const struct kw_notification *n, char *buf, size_t len);
/* The band is one interval's; evidence summed over several (a CUSUM) can
 * fire on values inside it, which would read as a contradiction. Shown
 * right after the band: " for one interval; a sustained shift", or "". */
const char *kw_alert_band_note(const struct kw_alert *a);
/* The alert in one short line for titles (a PagerDuty summary, a phone's
 * notification): what, where, observed against expected, the change and
 * the impact; "step_dropoff_rate [journey=checkout, step=payment] up to 34.6%
 * vs 6.0% expected (+28.6 pts) · +93 lost customers over expected (~4185 EUR)". */
const char *kw_alert_headline(const struct kw_alert *a, char *buf, size_t len);
/* Whether a's impact is a total people can add up: extra events of a count
 * or a rate. The deviations of a mean or a score (NPS points, minutes)
 * summed over intervals are not one. */
bool kw_alert_has_impact(const struct kw_alert *a);
/* "+93 lost customers over expected (~4185 EUR)", or "" when there is no impact. */
const char *kw_alert_impact_text(const struct kw_alert *a, char *buf, size_t len);
/* Human duration: "45s", "12m", "3h05m", "2d04h". */
const char *kw_duration_text(int64_t ms, char *buf, size_t len);
/* Roll-ups: "top contributors: journey=checkout, step=payment 62% (+40), ..."
 * into buf, or "" when the alert lists none. */
const char *kw_alert_contributors_text(const struct kw_alert *a, char *buf, size_t len);
/* An incident's impact over its members, per unit, with the money where
 * costs are known: "+443 lost customers, +54 complaints (~20583 EUR in
 * all)", or "" when no member has an impact. */
const char *kw_notification_impact_text(const struct kw_notification *n, char *buf, size_t len);
/* One-line summary: what moved, where, by how much vs expected, since when, cost. */
const char *kw_alert_summary(const struct kw_alert *a, char *buf, size_t len);
/* The alert as a JSON object for people and tools (caller owns it). */
cJSON *kw_alert_to_json(const struct kw_alert *a);

/* Copy src into dst (cap >= 8 bytes) as well-formed UTF-8 of at most
 * max_chars (>= 2) characters, for a service's field limit: malformed bytes
 * are dropped, control characters become spaces (except newlines when
 * multiline). A cut ends in "…". Never fails. */
void kw_text_clip(char *dst, size_t cap, const char *src, size_t max_chars, bool multiline);
/* Add text to obj under name, clipped as kw_text_clip does. */
void kw_json_add_clipped(cJSON *obj, const char *name, const char *text, size_t max_chars, bool multiline);
/* Characters (not bytes) in UTF-8 text. */
size_t kw_text_chars(const char *s);
/* A KW_OPT_CUSTOM parser for a struct kw_string_list of non-empty strings
 * (recipients, responders, tags); release with kw_opt_release_string_list. */
int kw_notifier_parse_names(const cJSON *node, void *field, const char *path, char *err, size_t errlen);

#endif
