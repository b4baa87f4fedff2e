/* matcher: label conditions with =, !=, =~ and !~. */
#include "matcher.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const op_names[] = {"=", "!=", "=~", "!~"};

const char *kw_match_op_name(int op)
{
    return op >= 0 && op <= KW_MATCH_NRE ? op_names[op] : "?";
}

int kw_matcher_set(struct kw_matcher *m, const char *name, const char *op, const char *value, const char *path,
                   char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->op = -1;
    for (int k = 0; k < 4; k++)
        if (strcmp(op, op_names[k]) == 0)
            m->op = k;
    if (m->op < 0) {
        snprintf(err, errlen, "%s: the operator must be one of =, !=, =~, !~", path);
        return -1;
    }
    if (!*name || strlen(name) >= sizeof m->name || strlen(value) >= sizeof m->value) {
        snprintf(err, errlen, "%s: needs a label name (at most %zu bytes) and a value (at most %zu)", path,
                 sizeof m->name - 1, sizeof m->value - 1);
        return -1;
    }
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->value, sizeof m->value, "%s", value);
    if (m->op == KW_MATCH_RE || m->op == KW_MATCH_NRE) {
        char anchored[KW_ALERT_LABEL_VALUE + 8];
        snprintf(anchored, sizeof anchored, "^(%s)$", value);
        int rc = regcomp(&m->re, anchored, REG_EXTENDED | REG_NOSUB);
        if (rc) {
            char why[128];
            regerror(rc, &m->re, why, sizeof why);
            snprintf(err, errlen, "%s: not a valid regular expression: %s", path, why);
            return -1;
        }
        m->compiled = true;
    }
    return 0;
}

int kw_matcher_parse(struct kw_matcher *m, const char *text, const char *path, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    const char *name_start = p;
    while (*p && (isalnum((unsigned char)*p) || *p == '_'))
        p++;
    char name[KW_ALERT_LABEL_NAME];
    size_t nlen = (size_t)(p - name_start);
    if (nlen == 0 || nlen >= sizeof name) {
        snprintf(err, errlen, "%s: must look like name=value, name!=value, name=~regex or name!~regex", path);
        return -1;
    }
    memcpy(name, name_start, nlen);
    name[nlen] = '\0';
    while (isspace((unsigned char)*p))
        p++;
    char op[3] = "";
    if (p[0] == '=' && p[1] == '~')
        snprintf(op, sizeof op, "=~");
    else if (p[0] == '!' && p[1] == '~')
        snprintf(op, sizeof op, "!~");
    else if (p[0] == '!' && p[1] == '=')
        snprintf(op, sizeof op, "!=");
    else if (p[0] == '=')
        snprintf(op, sizeof op, "=");
    else {
        snprintf(err, errlen, "%s: must look like name=value, name!=value, name=~regex or name!~regex", path);
        return -1;
    }
    p += strlen(op);
    while (isspace((unsigned char)*p))
        p++;
    char value[KW_ALERT_LABEL_VALUE];
    size_t vlen = strlen(p);
    while (vlen > 0 && isspace((unsigned char)p[vlen - 1]))
        vlen--;
    if (vlen >= 2 && p[0] == '"' && p[vlen - 1] == '"') { /* "quoted value" */
        p++;
        vlen -= 2;
    }
    if (vlen >= sizeof value) {
        snprintf(err, errlen, "%s: the value is longer than %zu bytes", path, sizeof value - 1);
        return -1;
    }
    memcpy(value, p, vlen);
    value[vlen] = '\0';
    return kw_matcher_set(m, name, op, value, path, err, errlen);
}

void kw_matcher_release(struct kw_matcher *m)
{
    if (m->compiled)
        regfree(&m->re);
    m->compiled = false;
}

const char *kw_alert_label_value(const struct kw_alert *a, const char *name)
{
    if (strcmp(name, "kpi") == 0)
        return a->kpi;
    if (strcmp(name, "severity") == 0)
        return a->severity == KW_SEV_CRITICAL ? "critical" : "warning";
    for (int i = 0; i < a->nlabels; i++)
        if (strcmp(a->labels[i].name, name) == 0)
            return a->labels[i].value;
    return NULL;
}

bool kw_matcher_matches(const struct kw_matcher *m, const struct kw_alert *a)
{
    const char *v = kw_alert_label_value(a, m->name);
    if (!v)
        v = "";
    switch (m->op) {
    case KW_MATCH_EQ:
        return strcmp(v, m->value) == 0;
    case KW_MATCH_NE:
        return strcmp(v, m->value) != 0;
    case KW_MATCH_RE:
        return regexec(&m->re, v, 0, NULL, 0) == 0;
    default:
        return regexec(&m->re, v, 0, NULL, 0) != 0;
    }
}

const char *kw_matcher_text(const struct kw_matcher *m, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", m->name, kw_match_op_name(m->op), m->value);
    return buf;
}
