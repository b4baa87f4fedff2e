/* notifier: the vtable every alert receiver type implements. A notifier
 * parses its options, renders a batch of alerts into its own wire format and
 * delivers it, reporting OK, RETRY (with a delay) or ERROR. Retrying and
 * queueing belong to the dispatcher, never to a notifier. */
#ifndef KW_NOTIFIER_H
#define KW_NOTIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "../lib/opts.h"

enum kw_send_result { KW_SEND_OK = 0, KW_SEND_RETRY, KW_SEND_ERROR };

struct kw_notifier_type {
    const char *name;
    const char *description;
    const struct kw_option *options; /* KW_OPT_END terminated */
    size_t config_size;
    /* Meaning checks and secret resolution after the options are filled.
     * instance is the receiver's name, for log lines. May be NULL. Returns 0,
     * or -1 with "path.key: reason" in err. */
    int (*init)(void *cfg, const char *instance, const char *path, char *err, size_t errlen);
    /* Free what init allocated beyond the option table. May be NULL. */
    void (*release)(void *cfg);
    /* Deliver n alerts (one group). On RETRY, *retry_after_ms may be set
     * (0 = let the dispatcher choose the backoff). */
    enum kw_send_result (*send)(void *cfg, const struct kw_alert *alerts, size_t n,
                                int64_t *retry_after_ms, char *err, size_t errlen);
};

/* A configured receiver: one notifier type with its options. */
struct kw_receiver {
    char *name;
    const struct kw_notifier_type *type;
    void *cfg;
};

extern const struct kw_notifier_type *const kw_notifier_types[];

/* Look up a notifier type by name; NULL when unknown. */
const struct kw_notifier_type *kw_notifier_type_find(const char *name);

/* Parse {"name": ..., "type": ..., options...} into rcv. Returns 0 or -1 with
 * the key path in err; on error rcv needs no release. */
int kw_receiver_parse(struct kw_receiver *rcv, const cJSON *obj, const char *path,
                      char *err, size_t errlen);
/* Free rcv's contents. Safe on a zeroed struct. */
void kw_receiver_release(struct kw_receiver *rcv);

/* Shared rendering helpers. */

/* "journey=checkout, step=payment" into buf. */
const char *kw_alert_labels_text(const struct kw_alert *a, char *buf, size_t len);
/* Unicode sparkline of the alert's history, e.g. "▁▂▂▁▃█". */
const char *kw_alert_sparkline(const struct kw_alert *a, char *buf, size_t len);
/* Format a KPI value for people: rates as percentages, counts as integers. */
const char *kw_alert_value_text(const struct kw_alert *a, double v, char *buf, size_t len);
/* One-line summary: what moved, where, by how much vs expected, since when, cost. */
const char *kw_alert_summary(const struct kw_alert *a, char *buf, size_t len);
/* The alert as a JSON object (caller owns it). */
cJSON *kw_alert_to_json(const struct kw_alert *a);

#endif
