/* template: compiling message templates into a flat tree of text, value and
 * section nodes, and rendering that tree over one alert group. */
#include "template.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/escape.h"
#include "../lib/strbuf.h"
#include "../lib/timefmt.h"
#include "../lib/utf8.h"
#include "../lib/xmalloc.h"

/* ---- placeholders --------------------------------------------------------- */

enum kind { K_TEXT, K_BOOL, K_NUM, K_LIST, K_OBJ };
enum scope { GROUP, ALERT };

enum field {
    /* the group */
    G_STATUS, G_KIND, G_RECEIVER, G_KEY, G_COUNT, G_MORE, G_SEVERITY, G_FIRING, G_RESOLVED, G_CRITICAL,
    G_TOTAL_IMPACT, G_TOTAL_COST, G_CURRENCY, G_LEAD, G_ALERTS, G_OTHERS, G_REMINDER,
    /* one alert */
    A_KPI, A_DESCRIPTION, A_LABELS, A_LABEL, A_OBSERVED, A_EXPECTED, A_LOWER, A_UPPER, A_DEVIATION, A_CHANGE,
    A_SCORE, A_SEVERITY, A_SEVERITY_SCORE, A_SINCE, A_DURATION, A_IMPACT, A_COST, A_CURRENCY, A_UNIT,
    A_SPARKLINE, A_RUNBOOK, A_DASHBOARD, A_DETECTOR, A_FLAPPING, A_FLIPS, A_INTERVALS, A_FIRST_MOVER,
    A_STATUS, A_KEY, A_DIRECTION, A_SUMMARY, A_INDEX, A_LAST, A_FIRING, A_RESOLVED, A_CRITICAL,
    A_CAUSE, A_NODATA, A_ROLLUP_OF, A_CONTRIBUTORS,
};

struct placeholder {
    const char *name;
    enum scope scope;
    enum kind kind;
    enum field field;
};

/* The documented names (README, "Templates"). A name in both scopes means
 * the alert's inside an alert's section and the group's outside. */
static const struct placeholder placeholders[] = {
    {"status", GROUP, K_TEXT, G_STATUS},           {"kind", GROUP, K_TEXT, G_KIND},
    {"receiver", GROUP, K_TEXT, G_RECEIVER},       {"key", GROUP, K_TEXT, G_KEY},
    {"count", GROUP, K_NUM, G_COUNT},              {"more", GROUP, K_NUM, G_MORE},
    {"severity", GROUP, K_TEXT, G_SEVERITY},       {"firing", GROUP, K_BOOL, G_FIRING},
    {"resolved", GROUP, K_BOOL, G_RESOLVED},       {"critical", GROUP, K_BOOL, G_CRITICAL},
    {"total_impact", GROUP, K_TEXT, G_TOTAL_IMPACT}, {"total_cost", GROUP, K_TEXT, G_TOTAL_COST},
    {"currency", GROUP, K_TEXT, G_CURRENCY},       {"lead", GROUP, K_OBJ, G_LEAD},
    {"alerts", GROUP, K_LIST, G_ALERTS},           {"others", GROUP, K_LIST, G_OTHERS},
    {"reminder", GROUP, K_BOOL, G_REMINDER},

    {"kpi", ALERT, K_TEXT, A_KPI},                 {"description", ALERT, K_TEXT, A_DESCRIPTION},
    {"labels", ALERT, K_TEXT, A_LABELS},           {"label", ALERT, K_TEXT, A_LABEL},
    {"observed", ALERT, K_TEXT, A_OBSERVED},       {"expected", ALERT, K_TEXT, A_EXPECTED},
    {"lower", ALERT, K_TEXT, A_LOWER},             {"upper", ALERT, K_TEXT, A_UPPER},
    {"deviation", ALERT, K_TEXT, A_DEVIATION},     {"change", ALERT, K_TEXT, A_CHANGE},
    {"score", ALERT, K_TEXT, A_SCORE},             {"severity", ALERT, K_TEXT, A_SEVERITY},
    {"severity_score", ALERT, K_TEXT, A_SEVERITY_SCORE}, {"since", ALERT, K_TEXT, A_SINCE},
    {"duration", ALERT, K_TEXT, A_DURATION},       {"impact", ALERT, K_TEXT, A_IMPACT},
    {"cost", ALERT, K_TEXT, A_COST},               {"currency", ALERT, K_TEXT, A_CURRENCY},
    {"unit", ALERT, K_TEXT, A_UNIT},               {"sparkline", ALERT, K_TEXT, A_SPARKLINE},
    {"runbook", ALERT, K_TEXT, A_RUNBOOK},         {"dashboard", ALERT, K_TEXT, A_DASHBOARD},
    {"detector", ALERT, K_TEXT, A_DETECTOR},       {"flapping", ALERT, K_BOOL, A_FLAPPING},
    {"flips", ALERT, K_NUM, A_FLIPS},              {"intervals", ALERT, K_NUM, A_INTERVALS},
    {"first_mover", ALERT, K_BOOL, A_FIRST_MOVER}, {"status", ALERT, K_TEXT, A_STATUS},
    {"key", ALERT, K_TEXT, A_KEY},                 {"direction", ALERT, K_TEXT, A_DIRECTION},
    {"summary", ALERT, K_TEXT, A_SUMMARY},         {"index", ALERT, K_NUM, A_INDEX},
    {"last", ALERT, K_BOOL, A_LAST},               {"firing", ALERT, K_BOOL, A_FIRING},
    {"resolved", ALERT, K_BOOL, A_RESOLVED},       {"critical", ALERT, K_BOOL, A_CRITICAL},
    {"cause", ALERT, K_TEXT, A_CAUSE},             {"nodata", ALERT, K_BOOL, A_NODATA},
    {"rollup_of", ALERT, K_TEXT, A_ROLLUP_OF},     {"contributors", ALERT, K_TEXT, A_CONTRIBUTORS},
};

static const struct placeholder *find_placeholder(const char *name, size_t len, enum scope scope)
{
    for (size_t i = 0; i < sizeof placeholders / sizeof placeholders[0]; i++)
        if (placeholders[i].scope == scope && strlen(placeholders[i].name) == len &&
            memcmp(placeholders[i].name, name, len) == 0)
            return &placeholders[i];
    return NULL;
}

/* ---- the compiled tree ------------------------------------------------------ */

enum node_type { N_TEXT, N_VALUE, N_SECTION, N_INVERTED };

/* Which alert a reference reads: the group itself, the lead, or the alert of
 * the enclosing alert section at that depth (0 = outermost). */
#define FRAME_GROUP (-1)
#define FRAME_LEAD (-2)

struct node {
    enum node_type type;
    size_t off, len;            /* N_TEXT: the text in src */
    enum field field;
    enum kind kind;
    int frame;
    char label[KW_ALERT_LABEL_NAME]; /* A_LABEL: the label's name */
    size_t end;                 /* sections: index of the node after the section */
};

struct kw_template {
    char *src;
    struct node *nodes;
    size_t n, cap;
};

/* A section being parsed. */
struct open {
    size_t node, name_off, name_len, tag_off;
    bool pushes; /* enters an alert: names inside resolve against it first */
};

struct parser {
    struct kw_template *t;
    struct open stack[KW_TEMPLATE_MAX_DEPTH];
    int depth, alert_depth;
    char *err;
    size_t errlen;
};

/* "line L, col C: " for byte offset off, then the reason. */
static void fail_at(struct parser *p, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_at(struct parser *p, size_t off, const char *fmt, ...)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < off && p->t->src[i]; i++) {
        if (p->t->src[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)p->t->src[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    int used = snprintf(p->err, p->errlen, "line %d, col %d: ", line, col);
    if (used < 0 || (size_t)used >= p->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + used, p->errlen - (size_t)used, fmt, ap);
    va_end(ap);
}

static struct node *add_node(struct kw_template *t, enum node_type type)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->nodes = xrealloc(t->nodes, t->cap * sizeof *t->nodes);
    }
    struct node *nd = &t->nodes[t->n++];
    memset(nd, 0, sizeof *nd);
    nd->type = type;
    return nd;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
}

/* The name as text for an error: bounded, control characters escaped. */
static const char *shown(char *buf, size_t len, const char *name, size_t n)
{
    char copy[128];
    snprintf(copy, sizeof copy, "%.*s", (int)(n < sizeof copy - 1 ? n : sizeof copy - 1), name);
    return kw_escape(buf, len, copy, 40);
}

/* Resolve name[0..len) where it stands into nd's field, kind, frame and
 * label. Returns 0, or -1 with the reason in why. */
static int resolve(const struct parser *p, const char *name, size_t len, struct node *nd, char *why, size_t whylen)
{
    char show[192];
    const char *full = name; /* errors quote the whole name */
    size_t full_len = len;
    const char *dot = memchr(name, '.', len);
    size_t head = dot ? (size_t)(dot - name) : len;
    const char *rest = dot ? dot + 1 : NULL;
    size_t rest_len = dot ? len - head - 1 : 0;
    int frame;
    if (head == 5 && memcmp(name, "label", 5) == 0 && !rest) {
        snprintf(why, whylen, "\"label\" needs a label name: {{label.journey}}");
        return -1;
    }
    if (head == 4 && memcmp(name, "lead", 4) == 0 && rest) {
        frame = FRAME_LEAD; /* lead.FIELD or lead.label.NAME */
        name = rest;
        len = rest_len;
        dot = memchr(name, '.', len);
        head = dot ? (size_t)(dot - name) : len;
        rest = dot ? dot + 1 : NULL;
        rest_len = dot ? len - head - 1 : 0;
    } else {
        const struct placeholder *g = find_placeholder(name, head, GROUP);
        const struct placeholder *a = find_placeholder(name, head, ALERT);
        if (a && p->alert_depth > 0)
            frame = p->alert_depth - 1;
        else if (g) {
            if (rest) {
                snprintf(why, whylen, "unknown placeholder \"%s\"", shown(show, sizeof show, name, len));
                return -1;
            }
            nd->field = g->field;
            nd->kind = g->kind;
            nd->frame = FRAME_GROUP;
            return 0;
        } else if (a) {
            shown(show, sizeof show, name, len);
            snprintf(why, whylen, "\"%s\" belongs to one alert: write {{lead.%s}}, or use it inside "
                     "{{#alerts}}...{{/alerts}}", show, show);
            return -1;
        } else {
            snprintf(why, whylen, "unknown placeholder \"%s\"", shown(show, sizeof show, name, len));
            return -1;
        }
    }
    const struct placeholder *a = find_placeholder(name, head, ALERT);
    bool is_label = a && a->field == A_LABEL;
    if (!a || (is_label && (!rest || !rest_len || memchr(rest, '.', rest_len))) || (!is_label && rest)) {
        snprintf(why, whylen, "unknown placeholder \"%s\"", shown(show, sizeof show, full, full_len));
        return -1;
    }
    if (is_label) {
        if (rest_len >= sizeof nd->label) {
            snprintf(why, whylen, "label name longer than %zu characters", sizeof nd->label - 1);
            return -1;
        }
        memcpy(nd->label, rest, rest_len);
        nd->label[rest_len] = '\0';
    }
    nd->field = a->field;
    nd->kind = a->kind;
    nd->frame = frame;
    return 0;
}

/* The line around a tag at [start, end) holds nothing else but blanks. */
static bool standalone(const char *src, size_t start, size_t end, size_t *line_start, size_t *line_next)
{
    size_t b = start;
    while (b > 0 && (src[b - 1] == ' ' || src[b - 1] == '\t'))
        b--;
    if (b > 0 && src[b - 1] != '\n')
        return false;
    size_t e = end;
    while (src[e] == ' ' || src[e] == '\t' || src[e] == '\r')
        e++;
    if (src[e] != '\n' && src[e] != '\0')
        return false;
    *line_start = b;
    *line_next = src[e] == '\n' ? e + 1 : e;
    return true;
}

static void add_text(struct kw_template *t, size_t from, size_t to)
{
    if (to <= from)
        return;
    struct node *nd = add_node(t, N_TEXT);
    nd->off = from;
    nd->len = to - from;
}

/* One tag at src[tag, close + 2): sigil and name already split. Returns 0 or -1. */
static int tag(struct parser *p, char sigil, size_t tag_off, size_t name_off, size_t name_len)
{
    struct kw_template *t = p->t;
    const char *name = t->src + name_off;
    char show[192], why[KW_ERR_LEN];
    if (sigil == '/') {
        if (p->depth == 0) {
            fail_at(p, tag_off, "{{/%s}} closes no open section", shown(show, sizeof show, name, name_len));
            return -1;
        }
        struct open *o = &p->stack[p->depth - 1];
        if (o->name_len != name_len || memcmp(t->src + o->name_off, name, name_len) != 0) {
            char opened[96];
            fail_at(p, tag_off, "{{/%s}} does not close section \"%s\"", shown(show, sizeof show, name, name_len),
                    shown(opened, sizeof opened, t->src + o->name_off, o->name_len));
            return -1;
        }
        t->nodes[o->node].end = t->n;
        p->alert_depth -= o->pushes;
        p->depth--;
        return 0;
    }
    struct node probe = {0};
    if (resolve(p, name, name_len, &probe, why, sizeof why)) {
        fail_at(p, tag_off, "%s", why);
        return -1;
    }
    if (sigil == 0) {
        if (probe.kind == K_LIST || probe.kind == K_OBJ) {
            shown(show, sizeof show, name, name_len);
            fail_at(p, tag_off, "\"%s\" is %s: use {{#%s}}...{{/%s}}", show,
                    probe.kind == K_LIST ? "a list" : "an alert", show, show);
            return -1;
        }
        struct node *nd = add_node(t, N_VALUE);
        *nd = probe;
        nd->type = N_VALUE;
        return 0;
    }
    if (p->depth == KW_TEMPLATE_MAX_DEPTH) {
        fail_at(p, tag_off, "sections nested deeper than %d", KW_TEMPLATE_MAX_DEPTH);
        return -1;
    }
    bool pushes = sigil == '#' && (probe.kind == K_LIST || probe.kind == K_OBJ);
    /* One member's section repeating the whole group would multiply the output. */
    if (pushes && probe.kind == K_LIST && p->alert_depth > 0) {
        fail_at(p, tag_off, "the list \"%s\" cannot be repeated inside an alert's section",
                shown(show, sizeof show, name, name_len));
        return -1;
    }
    struct node *nd = add_node(t, sigil == '#' ? N_SECTION : N_INVERTED);
    enum node_type type = nd->type;
    *nd = probe;
    nd->type = type;
    p->stack[p->depth++] = (struct open){t->n - 1, name_off, name_len, tag_off, pushes};
    p->alert_depth += pushes;
    return 0;
}

struct kw_template *kw_template_compile(const char *text, char *err, size_t errlen)
{
    size_t len = strlen(text);
    if (len > KW_TEMPLATE_MAX_SOURCE) {
        snprintf(err, errlen, "longer than %d bytes", KW_TEMPLATE_MAX_SOURCE);
        return NULL;
    }
    struct kw_template *t = xcalloc(1, sizeof *t);
    t->src = xstrdup(text);
    struct parser p = {.t = t, .err = err, .errlen = errlen};
    const char *src = t->src;
    size_t pos = 0;
    for (;;) {
        const char *open = strstr(src + pos, "{{");
        if (!open)
            break;
        size_t tag_off = (size_t)(open - src);
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            fail_at(&p, tag_off, "unclosed tag: \"{{\" without \"}}\"");
            goto fail;
        }
        size_t inner = tag_off + 2, inner_end = (size_t)(close - src), tag_end = inner_end + 2;
        char sigil = strchr("#^/!>={&", src[inner]) && src[inner] ? src[inner] : 0;
        if (sigil == '{' || sigil == '&') {
            fail_at(&p, tag_off, "unescaped values ({{{...}}}, {{&...}}) are not supported: values are always "
                    "escaped for the receiver");
            goto fail;
        }
        if (sigil == '>' || sigil == '=') {
            fail_at(&p, tag_off, "%s are not supported", sigil == '>' ? "partials ({{>...}})" : "delimiter changes");
            goto fail;
        }
        size_t name_off = inner + (sigil ? 1 : 0), name_end = inner_end;
        if (sigil != '!') {
            while (name_off < name_end && (src[name_off] == ' ' || src[name_off] == '\t'))
                name_off++;
            while (name_end > name_off && (src[name_end - 1] == ' ' || src[name_end - 1] == '\t'))
                name_end--;
            if (name_end == name_off) {
                fail_at(&p, tag_off, "empty tag");
                goto fail;
            }
            for (size_t i = name_off; i < name_end; i++) {
                if (!name_char(src[i])) {
                    char show[192];
                    fail_at(&p, tag_off, "invalid placeholder name \"%s\" (letters, digits, _, - and . only)",
                            shown(show, sizeof show, src + name_off, name_end - name_off));
                    goto fail;
                }
            }
        }
        size_t line_start, line_next, text_end = tag_off, next = tag_end;
        if (sigil && standalone(src, tag_off, tag_end, &line_start, &line_next)) {
            text_end = line_start;
            next = line_next;
        }
        add_text(t, pos, text_end);
        if (sigil != '!' && tag(&p, sigil, tag_off, name_off, name_end - name_off))
            goto fail;
        pos = next;
    }
    add_text(t, pos, len);
    if (p.depth > 0) {
        const struct open *o = &p.stack[p.depth - 1];
        char show[192];
        fail_at(&p, o->tag_off, "unclosed section \"%s\"", shown(show, sizeof show, src + o->name_off, o->name_len));
        goto fail;
    }
    return t;
fail:
    kw_template_free(t);
    return NULL;
}

void kw_template_free(struct kw_template *t)
{
    if (!t)
        return;
    free(t->src);
    free(t->nodes);
    free(t);
}

/* ---- values ------------------------------------------------------------------ */

struct value {
    const char *text;
    bool truth;
    size_t count; /* K_LIST: members */
};

struct render {
    const struct kw_template *t;
    const struct kw_notification *n;
    enum kw_template_escape esc;
    size_t max_chars, chars, mark; /* mark: output bytes while the marker still fits after them */
    bool full;
    struct kw_strbuf out;
    size_t frames[KW_TEMPLATE_MAX_DEPTH]; /* alert index of each entered alert section */
};

static bool group_critical(const struct kw_notification *n)
{
    for (size_t i = 0; i < n->nalerts; i++)
        if (n->alerts[i].severity == KW_SEV_CRITICAL)
            return true;
    return false;
}

static double alert_cost(const struct kw_alert *a)
{
    return a->cost_per_unit > 0 && isfinite(a->impact) ? fabs(a->impact) * a->cost_per_unit : NAN;
}

static struct value text_value(const char *s)
{
    return (struct value){s, s[0] != '\0', 0};
}

static struct value num_value(char *buf, size_t len, double v)
{
    snprintf(buf, len, "%.0f", v);
    return (struct value){buf, v != 0, 0};
}

static struct value bool_value(bool b)
{
    return (struct value){b ? "true" : "false", b, 0};
}

static struct value group_value(const struct kw_notification *n, enum field f, char *buf, size_t len)
{
    static const char *const kinds[] = {"firing", "update", "resolved"};
    switch (f) {
    case G_STATUS: return text_value(n->kind == KW_NOTIFY_RESOLVED ? "resolved" : "firing");
    case G_KIND: return text_value(n->kind >= 0 && n->kind <= KW_NOTIFY_RESOLVED ? kinds[n->kind] : "firing");
    case G_RECEIVER: return text_value(n->receiver);
    case G_KEY: return text_value(n->key);
    case G_COUNT: return num_value(buf, len, (double)n->nalerts);
    case G_MORE: return num_value(buf, len, (double)(n->nalerts - 1));
    case G_SEVERITY: return text_value(group_critical(n) ? "critical" : "warning");
    case G_FIRING: return bool_value(n->kind != KW_NOTIFY_RESOLVED);
    case G_RESOLVED: return bool_value(n->kind == KW_NOTIFY_RESOLVED);
    case G_CRITICAL: return bool_value(group_critical(n));
    case G_TOTAL_IMPACT:
    case G_TOTAL_COST: {
        double sum = 0;
        bool any = false;
        for (size_t i = 0; i < n->nalerts; i++) {
            const struct kw_alert *a = &n->alerts[i];
            double v = f == G_TOTAL_COST ? alert_cost(a) : a->kind == KW_KIND_CONTINUOUS ? NAN : a->impact;
            if (isfinite(v)) {
                sum += v;
                any = true;
            }
        }
        if (!any)
            return text_value("");
        snprintf(buf, len, f == G_TOTAL_IMPACT && sum > 0 ? "+%.0f" : "%.0f", sum);
        return text_value(buf);
    }
    case G_CURRENCY:
        for (size_t i = 0; i < n->nalerts; i++)
            if (n->alerts[i].currency[0])
                return text_value(n->alerts[i].currency);
        return text_value("");
    case G_LEAD: return (struct value){"", true, 1};
    case G_ALERTS: return (struct value){"", n->nalerts > 0, n->nalerts};
    case G_OTHERS: return (struct value){"", n->nalerts > 1, n->nalerts > 0 ? n->nalerts - 1 : 0};
    case G_REMINDER: return bool_value(n->reminder);
    default: return text_value("");
    }
}

static struct value alert_value(const struct kw_notification *n, size_t i, const struct node *nd, char *buf,
                                size_t len)
{
    const struct kw_alert *a = &n->alerts[i];
    switch (nd->field) {
    case A_KPI: return text_value(a->kpi);
    case A_DESCRIPTION: return text_value(a->description);
    case A_LABELS: return text_value(kw_alert_labels_text(a, buf, len));
    case A_LABEL:
        for (int k = 0; k < a->nlabels && k < KW_ALERT_MAX_LABELS; k++)
            if (strcmp(a->labels[k].name, nd->label) == 0)
                return text_value(a->labels[k].value);
        return text_value("");
    case A_OBSERVED: return text_value(kw_alert_value_text(a, a->observed, buf, len));
    case A_EXPECTED: return text_value(kw_alert_value_text(a, a->expected, buf, len));
    case A_LOWER: return text_value(kw_alert_value_text(a, a->lower, buf, len));
    case A_UPPER: return text_value(kw_alert_value_text(a, a->upper, buf, len));
    case A_DEVIATION:
    case A_CHANGE:
        buf[0] = '\0';
        if (!isfinite(a->observed) || !isfinite(a->expected))
            return text_value(buf);
        if (nd->field == A_CHANGE) /* what the built-in messages show */
            return text_value(kw_alert_change_text(a, buf, len));
        if (fabs(a->expected) > 1e-9)
            snprintf(buf, len, "%+.0f%%", 100.0 * (a->observed - a->expected) / fabs(a->expected));
        return text_value(buf);
    case A_SCORE:
        if (!isfinite(a->score))
            return text_value("");
        snprintf(buf, len, "%.1f", a->score);
        return text_value(buf);
    case A_SEVERITY: return text_value(a->severity == KW_SEV_CRITICAL ? "critical" : "warning");
    case A_SEVERITY_SCORE: return num_value(buf, len, isfinite(a->severity_score) ? a->severity_score : 0);
    case A_SINCE: return text_value(kw_time_format(a->since_ms, buf, len));
    case A_DURATION: return text_value(kw_duration_text(a->at_ms + a->interval_ms - a->since_ms, buf, len));
    case A_IMPACT: return text_value(kw_alert_impact_text(a, buf, len));
    case A_COST: {
        double cost = alert_cost(a);
        if (!isfinite(cost))
            return text_value("");
        snprintf(buf, len, "%.0f", cost);
        return text_value(buf);
    }
    case A_CURRENCY: return text_value(a->currency);
    case A_UNIT: return text_value(a->unit);
    case A_SPARKLINE: return text_value(kw_alert_sparkline(a, buf, len));
    case A_RUNBOOK: return text_value(a->runbook);
    case A_DASHBOARD: return text_value(a->dashboard);
    case A_DETECTOR: return text_value(a->detector);
    case A_FLAPPING: return bool_value(a->flapping);
    case A_FLIPS: return num_value(buf, len, a->flips);
    case A_INTERVALS: return num_value(buf, len, a->intervals);
    case A_FIRST_MOVER: return bool_value(i == 0);
    case A_STATUS: return text_value(a->status == KW_ALERT_RESOLVED ? "resolved" : "firing");
    case A_KEY: return text_value(a->key);
    case A_DIRECTION: return text_value(a->direction > 0 ? "up" : "down");
    case A_SUMMARY: return text_value(kw_alert_summary(a, buf, len));
    case A_INDEX: return num_value(buf, len, (double)(i + 1));
    case A_LAST: return bool_value(i + 1 == n->nalerts);
    case A_FIRING: return bool_value(a->status != KW_ALERT_RESOLVED);
    case A_RESOLVED: return bool_value(a->status == KW_ALERT_RESOLVED);
    case A_CRITICAL: return bool_value(a->severity == KW_SEV_CRITICAL);
    case A_CAUSE: return text_value(a->cause == KW_CAUSE_NODATA ? "nodata" : "anomaly");
    case A_NODATA: return bool_value(a->cause == KW_CAUSE_NODATA);
    case A_ROLLUP_OF: return text_value(a->rollup_of);
    case A_CONTRIBUTORS: return text_value(kw_alert_contributors_text(a, buf, len));
    default: return text_value("");
    }
}

static struct value node_value(const struct render *r, const struct node *nd, char *buf, size_t len)
{
    if (nd->frame == FRAME_GROUP)
        return group_value(r->n, nd->field, buf, len);
    return alert_value(r->n, nd->frame == FRAME_LEAD ? 0 : r->frames[nd->frame], nd, buf, len);
}

/* ---- output ------------------------------------------------------------------- */

static const size_t marker_chars = 12; /* "…[truncated]" */

/* Append one unit (a character, or the escape sequence standing for one) of
 * chars characters; past the limit, cut back to the mark and end with the marker. */
static void put_unit(struct render *r, const char *s, size_t len, size_t chars)
{
    if (r->full)
        return;
    if (r->chars + chars > r->max_chars) {
        r->out.len = r->mark;
        r->out.data[r->mark] = '\0';
        kw_strbuf_puts(&r->out, KW_TEMPLATE_TRUNCATED);
        r->full = true;
        return;
    }
    kw_strbuf_append(&r->out, s, len);
    r->chars += chars;
    if (r->chars + marker_chars <= r->max_chars)
        r->mark = r->out.len;
}

/* The escape sequence for ASCII c in r's mode, or NULL to write c itself. */
static const char *escaped(const struct render *r, unsigned char c, char *buf, size_t len)
{
    switch (r->esc) {
    case KW_TEMPLATE_JSON:
        switch (c) {
        case '"': return "\\\"";
        case '\\': return "\\\\";
        case '\n': return "\\n";
        case '\r': return "\\r";
        case '\t': return "\\t";
        default:
            if (c < 0x20) {
                snprintf(buf, len, "\\u%04x", c);
                return buf;
            }
            return NULL;
        }
    case KW_TEMPLATE_HTML:
        switch (c) {
        case '&': return "&amp;";
        case '<': return "&lt;";
        case '>': return "&gt;";
        case '"': return "&quot;";
        case '\'': return "&#39;";
        default: return NULL;
        }
    case KW_TEMPLATE_SLACK:
        switch (c) {
        case '&': return "&amp;";
        case '<': return "&lt;";
        case '>': return "&gt;";
        default: return NULL;
        }
    default:
        return NULL;
    }
}

/* Text of len bytes, character by character; values are escaped. */
static void put_text(struct render *r, const char *s, size_t len, bool value)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end && *p && !r->full) {
        size_t n = kw_utf8_seq(p);
        if (n == 0 || p + n > end) {
            p++; /* malformed: dropped */
            continue;
        }
        char buf[8];
        const char *esc = value && n == 1 ? escaped(r, *p, buf, sizeof buf) : NULL;
        if (esc)
            put_unit(r, esc, strlen(esc), strlen(esc));
        else
            put_unit(r, (const char *)p, n, 1);
        p += n;
    }
}

static void render_range(struct render *r, size_t from, size_t to, int depth)
{
    char buf[4096];
    for (size_t i = from; i < to && !r->full;) {
        const struct node *nd = &r->t->nodes[i];
        if (nd->type == N_TEXT) {
            put_text(r, r->t->src + nd->off, nd->len, false);
            i++;
            continue;
        }
        struct value v = node_value(r, nd, buf, sizeof buf);
        if (nd->type == N_VALUE) {
            put_text(r, v.text, strlen(v.text), true);
            i++;
            continue;
        }
        if (nd->type == N_INVERTED) {
            if (!v.truth)
                render_range(r, i + 1, nd->end, depth);
        } else if (nd->kind == K_LIST) {
            /* compile() allows lists outside alert sections only: depth is 0 here */
            for (size_t k = nd->field == G_OTHERS ? 1 : 0; k < r->n->nalerts && !r->full; k++) {
                r->frames[depth] = k;
                render_range(r, i + 1, nd->end, depth + 1);
            }
        } else if (nd->kind == K_OBJ) {
            r->frames[depth] = 0; /* the lead */
            render_range(r, i + 1, nd->end, depth + 1);
        } else if (v.truth) {
            render_range(r, i + 1, nd->end, depth);
        }
        i = nd->end;
    }
}

char *kw_template_render(const struct kw_template *t, const struct kw_notification *n,
                         enum kw_template_escape esc, size_t max_chars)
{
    struct render r = {.t = t, .n = n, .esc = esc, .max_chars = max_chars < 32 ? 32 : max_chars};
    kw_strbuf_init(&r.out);
    kw_strbuf_puts(&r.out, ""); /* data is never NULL below */
    if (n->nalerts > 0)
        render_range(&r, 0, t->n, 0);
    return kw_strbuf_detach(&r.out, NULL);
}

/* ---- options ------------------------------------------------------------------ */

int kw_template_opt_parse(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    struct kw_template **t = field;
    if (!node)
        return 0;
    if (!cJSON_IsString(node) || !node->valuestring[0]) {
        snprintf(err, errlen, "%s: must be a non-empty string (a template)", path);
        return -1;
    }
    char why[KW_ERR_LEN];
    *t = kw_template_compile(node->valuestring, why, sizeof why);
    if (!*t) {
        snprintf(err, errlen, "%s: %s", path, why);
        return -1;
    }
    return 0;
}

int kw_template_opt_parse_file(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    struct kw_template **t = field;
    if (!node)
        return 0;
    if (!cJSON_IsString(node) || !node->valuestring[0]) {
        snprintf(err, errlen, "%s: must be a file name", path);
        return -1;
    }
    const char *file = node->valuestring;
    FILE *f = fopen(file, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read %s: %s", path, file, strerror(errno));
        return -1;
    }
    char *text = xmalloc(KW_TEMPLATE_MAX_SOURCE + 2);
    size_t n = fread(text, 1, KW_TEMPLATE_MAX_SOURCE + 1, f);
    fclose(f);
    text[n] = '\0';
    int rc = -1;
    if (n > KW_TEMPLATE_MAX_SOURCE)
        snprintf(err, errlen, "%s: %s is larger than %d bytes", path, file, KW_TEMPLATE_MAX_SOURCE);
    else if (strlen(text) != n)
        snprintf(err, errlen, "%s: %s holds a NUL byte", path, file);
    else {
        /* The newline editors add at the end is not part of the message. */
        if (n > 0 && text[n - 1] == '\n')
            text[--n] = '\0';
        if (n > 0 && text[n - 1] == '\r')
            text[--n] = '\0';
        char why[KW_ERR_LEN];
        *t = n ? kw_template_compile(text, why, sizeof why) : NULL;
        if (!n)
            snprintf(err, errlen, "%s: %s is empty", path, file);
        else if (!*t)
            snprintf(err, errlen, "%s: %s: %s", path, file, why);
        else
            rc = 0;
    }
    free(text);
    return rc;
}

void kw_template_opt_release(void *field)
{
    struct kw_template **t = field;
    kw_template_free(*t);
    *t = NULL;
}

int kw_template_opt_pick(struct kw_template **tpl, struct kw_template **file_tpl, const char *path,
                         const char *key, char *err, size_t errlen)
{
    if (*tpl && *file_tpl) {
        char keypath[KW_ERR_LEN];
        snprintf(err, errlen, "%s: set either this or %s_file, not both", kw_path_key(keypath, sizeof keypath, path, key),
                 key);
        return -1;
    }
    if (*file_tpl) {
        *tpl = *file_tpl;
        *file_tpl = NULL;
    }
    return 0;
}
