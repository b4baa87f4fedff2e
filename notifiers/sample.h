/* sample: a realistic alert group for `kpiwatch test-notify`, so a receiver
 * can be tried end to end before a real incident: a checkout complaint spike
 * with a payment-step drop-off jump, with history, impact, cost and links. */
#ifndef KW_SAMPLE_H
#define KW_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "notifier.h"

/* Fill n for receiver (name) with the sample group, firing or resolved, at
 * wall time now_ms. n owns its alerts afterwards (kw_notification_release). */
void kw_sample_notification(struct kw_notification *n, const char *receiver, bool resolved, int64_t now_ms);

#endif
