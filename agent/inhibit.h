/* inhibit: inhibition rules, as Alertmanager's. While an alert matching a
 * rule's source matchers fires, alerts matching its target matchers that
 * have the same values for the rule's `equal` labels are not notified (a
 * journey's roll-up firing inhibits its per-step children; a critical
 * inhibits the warning of the same series). An alert never inhibits itself. */
#ifndef KW_INHIBIT_H
#define KW_INHIBIT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "../lib/opts.h"
#include "../notifiers/alert.h"
#include "matcher.h"

struct kw_inhibit_rule {
    struct kw_matcher *source;
    int nsource;
    struct kw_matcher *target;
    int ntarget;
    struct kw_string_list equal;
};

/* The option table of inhibit_rules[] (for the reference). */
extern const struct kw_option kw_inhibit_options[];

/* Parse one rule (zeroed by the caller). Returns 0 or -1 with "path...: reason". */
int kw_inhibit_parse(struct kw_inhibit_rule *r, const cJSON *obj, const char *path, char *err, size_t errlen);
/* Free r's contents. Safe on a zeroed struct. */
void kw_inhibit_release(struct kw_inhibit_rule *r);
/* Does firing alert source inhibit target under rule r? */
bool kw_inhibit_applies(const struct kw_inhibit_rule *r, const struct kw_alert *source, const struct kw_alert *target);

#endif
