/* lint: what a valid config probably does not mean. A matcher that names a
 * KPI, a label or a severity no alert can carry never matches, so its route
 * never takes an alert, its silence never mutes one and its inhibit rule
 * never holds one back, silently. These are warnings, not errors: a KPI may
 * be added later, and a config that parses keeps working. */
#ifndef KW_LINT_H
#define KW_LINT_H

#include "config.h"

/* Called once per warning, "route.routes[1]: matcher kpi=complains names no KPI (...)". */
typedef void (*kw_lint_note)(void *ctx, const char *text);

/* Check cfg; returns the number of warnings given to note (note may be NULL). */
int kw_config_lint(const struct kw_config *cfg, kw_lint_note note, void *ctx);

#endif
