/* registry: every notifier type kpiwatch knows. Adding a notifier means one
 * new file in notifiers/, its extern declaration and one entry in the list. */
#include <stddef.h>

#include "notifier.h"

extern const struct kw_notifier_type console_notifier;
extern const struct kw_notifier_type slack_notifier;
extern const struct kw_notifier_type slack_bot_notifier;
extern const struct kw_notifier_type teams_notifier;
extern const struct kw_notifier_type webhook_notifier;
extern const struct kw_notifier_type pagerduty_notifier;
extern const struct kw_notifier_type opsgenie_notifier;
extern const struct kw_notifier_type email_notifier;

const struct kw_notifier_type *const kw_notifier_types[] = {
    &console_notifier,
    &slack_notifier,
    &slack_bot_notifier,
    &teams_notifier,
    &webhook_notifier,
    &pagerduty_notifier,
    &opsgenie_notifier,
    &email_notifier,
    NULL,
};
