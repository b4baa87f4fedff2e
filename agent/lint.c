/* lint: matchers that can never match (see lint.h). */
#include "lint.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

struct lint {
    const struct kw_config *cfg;
    kw_lint_note note;
    void *ctx;
    int n;
};

static void warn(struct lint *l, const char *text)
{
    l->n++;
    if (l->note)
        l->note(l->ctx, text);
}

static bool is_kpi(const struct kw_config *cfg, const char *name)
{
    for (int k = 0; k < cfg->nkpis; k++)
        if (strcmp(cfg->kpis[k].name, name) == 0)
            return true;
    return false;
}

/* Labels an alert can carry: a KPI's group_by labels (roll-ups carry a subset). */
static bool is_label(const struct kw_config *cfg, const char *name)
{
    if (strcmp(name, "kpi") == 0 || strcmp(name, "severity") == 0)
        return true;
    for (int k = 0; k < cfg->nkpis; k++)
        for (int i = 0; i < cfg->kpis[k].group_by.n; i++)
            if (strcmp(cfg->kpis[k].group_by.items[i], name) == 0)
                return true;
    return false;
}

static void kpi_list(const struct kw_config *cfg, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < cfg->nkpis && used < len; k++) {
        int n = snprintf(buf + used, len - used, "%s%s", k ? ", " : "", cfg->kpis[k].name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* Does the anchored regex match "", the value of an absent label? */
static bool matches_empty(const char *value)
{
    char anchored[KW_ALERT_LABEL_VALUE + 8];
    regex_t re;
    snprintf(anchored, sizeof anchored, "^(%s)$", value);
    if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool empty = regexec(&re, "", 0, NULL, 0) == 0;
    regfree(&re);
    return empty;
}

/* An absent label matches as "": only "=" with a value, and a regex that
 * needs at least one character, need the label present. */
static void check_matcher(struct lint *l, const char *where, const char *name, int op, const char *value)
{
    char text[1024], m[256], kpis[512];
    snprintf(m, sizeof m, "%s%s%s", name, kw_match_op_name(op), value);
    if (op != KW_MATCH_EQ && op != KW_MATCH_RE)
        return;
    if (op == KW_MATCH_EQ ? !value[0] : matches_empty(value))
        return;
    if (!is_label(l->cfg, name)) {
        snprintf(text, sizeof text, "%s: matcher %s never matches: no KPI has the label %s in its group_by", where, m,
                 name);
        warn(l, text);
    } else if (op == KW_MATCH_EQ && strcmp(name, "kpi") == 0 && !is_kpi(l->cfg, value)) {
        kpi_list(l->cfg, kpis, sizeof kpis);
        snprintf(text, sizeof text, "%s: matcher %s never matches: no KPI is named %s (KPIs: %s)", where, m, value,
                 kpis);
        warn(l, text);
    } else if (op == KW_MATCH_EQ && strcmp(name, "severity") == 0 && strcmp(value, "critical") != 0 &&
               strcmp(value, "warning") != 0) {
        snprintf(text, sizeof text, "%s: matcher %s never matches: severity is critical or warning", where, m);
        warn(l, text);
    }
}

static void check_matchers(struct lint *l, const char *where, const struct kw_matcher *ms, int n)
{
    for (int i = 0; i < n; i++)
        check_matcher(l, where, ms[i].name, ms[i].op, ms[i].value);
}

int kw_config_lint(const struct kw_config *cfg, kw_lint_note note, void *ctx)
{
    struct lint l = {.cfg = cfg, .note = note, .ctx = ctx};
    char where[256], text[512];
    for (int i = 0; i < cfg->routing.n; i++)
        check_matchers(&l, cfg->routing.nodes[i].path, cfg->routing.nodes[i].matchers, cfg->routing.nodes[i].nmatchers);
    for (int r = 0; r < cfg->ninhibit; r++) {
        const struct kw_inhibit_rule *rule = &cfg->inhibit[r];
        snprintf(where, sizeof where, "inhibit_rules[%d].source_matchers", r);
        check_matchers(&l, where, rule->source, rule->nsource);
        snprintf(where, sizeof where, "inhibit_rules[%d].target_matchers", r);
        check_matchers(&l, where, rule->target, rule->ntarget);
        for (int e = 0; e < rule->equal.n; e++)
            if (!is_label(cfg, rule->equal.items[e])) {
                snprintf(text, sizeof text,
                         "inhibit_rules[%d].equal: no KPI has the label %s in its group_by, so every source and "
                         "target agree on it (both without it)",
                         r, rule->equal.items[e]);
                warn(&l, text);
            }
    }
    for (int s = 0; s < cfg->nsilences; s++) {
        snprintf(where, sizeof where, "silences[%d]", s);
        for (int i = 0; i < cfg->silences[s].nmatchers; i++)
            check_matcher(&l, where, cfg->silences[s].matchers[i].name, cfg->silences[s].matchers[i].op,
                          cfg->silences[s].matchers[i].value);
    }
    return l.n;
}
