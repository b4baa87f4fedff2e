/* registry: every notifier type kpiwatch knows. Adding a notifier means one
 * new file in notifiers/ and one line in each list below. */
#include <stddef.h>

#include "notifier.h"

extern const struct kw_notifier_type console_notifier;

const struct kw_notifier_type *const kw_notifier_types[] = {
    &console_notifier,
    NULL,
};
