/* matcher: one label condition on an alert, as Alertmanager writes them:
 * "journey=checkout", "severity!=warning", "step=~pay.*", "kpi!~test_.*".
 * Regular expressions are POSIX extended and anchored at both ends; an
 * absent label matches as the empty string; the KPI name is the label
 * "kpi" and the severity the label "severity". Used by routes, silences
 * and inhibition rules. */
#ifndef KW_MATCHER_H
#define KW_MATCHER_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "../notifiers/alert.h"

enum kw_match_op { KW_MATCH_EQ = 0, KW_MATCH_NE, KW_MATCH_RE, KW_MATCH_NRE };

struct kw_matcher {
    char name[KW_ALERT_LABEL_NAME];
    char value[KW_ALERT_LABEL_VALUE];
    int op;          /* enum kw_match_op */
    bool compiled;   /* re holds the anchored regex */
    regex_t re;
};

/* Parse "NAME OP VALUE" (spaces around OP allowed, VALUE may be quoted)
 * into m and compile a regex. Returns 0, or -1 with "path: reason". */
int kw_matcher_parse(struct kw_matcher *m, const char *text, const char *path, char *err, size_t errlen);
/* The same from name, op text and value. */
int kw_matcher_set(struct kw_matcher *m, const char *name, const char *op, const char *value, const char *path,
                   char *err, size_t errlen);
/* Free the compiled regex. Safe on a zeroed or released matcher. */
void kw_matcher_release(struct kw_matcher *m);
/* The value alert a has for label name ("kpi", "severity" or a label); NULL when absent. */
const char *kw_alert_label_value(const struct kw_alert *a, const char *name);
/* Does a satisfy m? */
bool kw_matcher_matches(const struct kw_matcher *m, const struct kw_alert *a);
/* "name=~value" into buf. */
const char *kw_matcher_text(const struct kw_matcher *m, char *buf, size_t len);
/* The operator's text: "=", "!=", "=~" or "!~". */
const char *kw_match_op_name(int op);

#endif
