/* inhibit: source/target matchers with equal labels. */
#include "inhibit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"

struct rule_options {
    struct kw_string_list source, target, equal;
};

const struct kw_option kw_inhibit_options[] = {
    {"source_matchers", KW_OPT_CUSTOM, NULL, offsetof(struct rule_options, source), KW_NORANGE,
     .parse = kw_opt_parse_string_list, .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "Matchers of the alerts that inhibit, e.g. [\"kpi=checkout_dropoff_total\"]."},
    {"target_matchers", KW_OPT_CUSTOM, NULL, offsetof(struct rule_options, target), KW_NORANGE,
     .parse = kw_opt_parse_string_list, .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "Matchers of the alerts that are inhibited, e.g. [\"kpi=step_dropoff_rate\"]."},
    {"equal", KW_OPT_CUSTOM, "", offsetof(struct rule_options, equal), KW_NORANGE,
     .parse = kw_opt_parse_string_list, .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "Labels that must have the same value on source and target, e.g. [\"journey\"]."},
    KW_OPT_END,
};

static int parse_list(struct kw_matcher **out, int *n, const struct kw_string_list *list, const char *path,
                      const char *key, char *err, size_t errlen)
{
    *out = xcalloc((size_t)list->n + 1, sizeof **out);
    for (int i = 0; i < list->n; i++) {
        char mpath[KW_ERR_LEN];
        snprintf(mpath, sizeof mpath, "%s.%s[%d]", path, key, i);
        if (kw_matcher_parse(&(*out)[i], list->items[i], mpath, err, errlen))
            return -1;
        (*n)++;
    }
    if (list->n == 0) {
        snprintf(err, errlen, "%s.%s: must list at least one matcher", path, key);
        return -1;
    }
    return 0;
}

int kw_inhibit_parse(struct kw_inhibit_rule *r, const cJSON *obj, const char *path, char *err, size_t errlen)
{
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "%s: must be an object", path);
        return -1;
    }
    const struct kw_option *tables[] = {kw_inhibit_options, NULL};
    struct rule_options o = {0};
    int rc = -1;
    if (kw_opts_reject_unknown(obj, tables, NULL, path, err, errlen) ||
        kw_opts_fill(kw_inhibit_options, obj, &o, path, err, errlen) ||
        parse_list(&r->source, &r->nsource, &o.source, path, "source_matchers", err, errlen) ||
        parse_list(&r->target, &r->ntarget, &o.target, path, "target_matchers", err, errlen))
        goto out;
    r->equal = o.equal;
    memset(&o.equal, 0, sizeof o.equal); /* moved */
    rc = 0;
out:
    kw_opts_release(kw_inhibit_options, &o);
    return rc;
}

void kw_inhibit_release(struct kw_inhibit_rule *r)
{
    for (int i = 0; i < r->nsource; i++)
        kw_matcher_release(&r->source[i]);
    for (int i = 0; i < r->ntarget; i++)
        kw_matcher_release(&r->target[i]);
    free(r->source);
    free(r->target);
    kw_opt_release_string_list(&r->equal);
    memset(r, 0, sizeof *r);
}

static bool all_match(const struct kw_matcher *m, int n, const struct kw_alert *a)
{
    for (int i = 0; i < n; i++)
        if (!kw_matcher_matches(&m[i], a))
            return false;
    return true;
}

bool kw_inhibit_applies(const struct kw_inhibit_rule *r, const struct kw_alert *source, const struct kw_alert *target)
{
    if (strcmp(source->key, target->key) == 0 || source->status != KW_ALERT_FIRING)
        return false;
    if (!all_match(r->source, r->nsource, source) || !all_match(r->target, r->ntarget, target))
        return false;
    for (int i = 0; i < r->equal.n; i++) {
        const char *a = kw_alert_label_value(source, r->equal.items[i]);
        const char *b = kw_alert_label_value(target, r->equal.items[i]);
        if (strcmp(a ? a : "", b ? b : "") != 0)
            return false;
    }
    return true;
}
