/* slack_blocks: Block Kit rendering for the Slack notifiers.
 * Severity shows as an emoji at the front of the header, not as an
 * attachments[].color bar: Slack documents attachments as legacy secondary
 * content that clients may fold behind "Show more", and top-level blocks
 * keep the 50-block budget and the notification text in one place. */
#include "slack_blocks.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"

/* Labels text of one alert: 8 labels of 64 + 256 bytes with separators. */
#define WHERE_MAX 2700

/* A growing string. */
struct text {
    char *s;
    size_t len, cap;
};

static void put_n(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = 2 * (t->len + n + 1);
        t->s = xrealloc(t->s, t->cap);
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void put(struct text *t, const char *s)
{
    put_n(t, s, strlen(s));
}

/* Our own short formatted pieces only; user text goes through put_esc. */
static void putf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct text *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        put_n(t, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Slack reads &, < and > as control characters in mrkdwn. */
static void put_esc(struct text *t, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '&')
            put(t, "&amp;");
        else if (*p == '<')
            put(t, "&lt;");
        else if (*p == '>')
            put(t, "&gt;");
        else
            put_n(t, p, 1);
    }
}

/* Cut t to at most max characters, ending in "…". Slack counts characters,
 * not bytes; never cut inside a UTF-8 sequence, nor (when t is escaped
 * mrkdwn) inside an &entity;. */
static void clip(struct text *t, size_t max, bool escaped)
{
    size_t chars = 0, cut = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (((unsigned char)t->s[i] & 0xC0) == 0x80)
            continue;
        if (chars == max - 1)
            cut = i;
        chars++;
    }
    if (chars <= max)
        return;
    for (size_t i = cut; escaped && i > 0 && cut - i < 6; i--) {
        if (t->s[i - 1] == ';')
            break;
        if (t->s[i - 1] == '&') {
            cut = i - 1;
            break;
        }
    }
    t->len = cut;
    t->s[cut] = '\0';
    put(t, "…");
}

static char *take(struct text *t)
{
    return t->s ? t->s : xstrdup("");
}

char *kw_slack_blocks_escape(const char *text, size_t max_chars)
{
    struct text t = {0};
    put_esc(&t, text);
    clip(&t, max_chars, true);
    return take(&t);
}

static cJSON *text_obj(const char *type, const char *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "text", s);
    if (strcmp(type, "plain_text") == 0)
        cJSON_AddTrueToObject(o, "emoji");
    return o;
}

/* Append {"type": type, key: item} to blocks. */
static void add_block(cJSON *blocks, const char *type, const char *key, cJSON *item)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", type);
    cJSON_AddItemToObject(b, key, item);
    cJSON_AddItemToArray(blocks, b);
}

/* A section with t (cut to Slack's limit) as its mrkdwn text; frees t. */
static void add_section(cJSON *blocks, struct text *t)
{
    clip(t, KW_SLACK_MAX_SECTION, true);
    char *s = take(t);
    add_block(blocks, "section", "text", text_obj("mrkdwn", *s ? s : " "));
    free(s);
}

static bool is_resolved(const struct kw_alert *a)
{
    return a->status == KW_ALERT_RESOLVED;
}

static const char *emoji(const struct kw_alert *a)
{
    if (is_resolved(a))
        return ":white_check_mark:";
    return a->severity == KW_SEV_CRITICAL ? ":rotating_light:" : ":warning:";
}

static const char *severity_name(const struct kw_alert *a)
{
    return a->severity == KW_SEV_CRITICAL ? "critical" : "warning";
}

static bool is_url(const char *s)
{
    return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

static int64_t incident_ms(const struct kw_alert *a)
{
    return a->at_ms + a->interval_ms - a->since_ms;
}

static void add_header(cJSON *blocks, const struct kw_notification *n)
{
    const struct kw_alert *a = &n->alerts[0];
    bool resolved = n->kind == KW_NOTIFY_RESOLVED || is_resolved(a);
    char where[WHERE_MAX];
    kw_alert_labels_text(a, where, sizeof where);
    struct text t = {0};
    if (resolved)
        put(&t, ":white_check_mark: RESOLVED");
    else
        putf(&t, "%s %s %s", emoji(a), kw_notification_status_word(n), severity_name(a));
    put(&t, " · ");
    put(&t, a->kpi);
    put(&t, " · ");
    put(&t, where);
    if (n->nalerts > 1)
        putf(&t, " (+%zu more)", n->nalerts - 1);
    clip(&t, KW_SLACK_MAX_HEADER, false);
    char *s = take(&t);
    add_block(blocks, "header", "text", text_obj("plain_text", s));
    free(s);
}

/* The lead's numbers: observed vs expected and band, change, since when, impact. */
static void add_lead_values(cJSON *blocks, const struct kw_alert *a)
{
    char obs[32], exp[32], lo[32], hi[32], pobs[32], pexp[32], chg[96], since[40], dur[24], impact[160];
    kw_alert_value_text(a, a->observed, obs, sizeof obs);
    kw_alert_value_text(a, a->expected, exp, sizeof exp);
    kw_alert_value_text(a, a->lower, lo, sizeof lo);
    kw_alert_value_text(a, a->upper, hi, sizeof hi);
    kw_alert_value_text(a, a->peak_observed, pobs, sizeof pobs);
    kw_alert_value_text(a, a->peak_expected, pexp, sizeof pexp);
    kw_alert_change_text(a, chg, sizeof chg);
    kw_time_format(a->since_ms, since, sizeof since);
    kw_duration_text(incident_ms(a), dur, sizeof dur);
    kw_alert_impact_text(a, impact, sizeof impact);
    bool resolved = is_resolved(a);

    struct text t = {0};
    if (a->cause == KW_CAUSE_NODATA) {
        putf(&t, resolved ? "*Reporting again* after a gap since %s" : "*No data* since %s", since);
    } else if (resolved && isnan(a->observed)) {
        put(&t, "*Now* no data (the series stopped reporting)");
    } else {
        putf(&t, "*%s* %s vs *expected* %s", resolved ? "Now" : "Observed", obs, exp);
        if (isfinite(a->lower) || isfinite(a->upper))
            putf(&t, " (normal %s..%s%s)", lo, hi, kw_alert_band_note(a));
    }
    if (!resolved && chg[0]) {
        putf(&t, "\n*Change* %s", chg);
        if (a->kind == KW_KIND_RATE && isfinite(a->denominator))
            putf(&t, " (n=%.0f)", a->denominator);
    }
    if (isfinite(a->peak_observed) && isfinite(a->peak_expected) && (resolved || a->peak_observed != a->observed))
        putf(&t, "\n*Peak* %s vs %s expected", pobs, pexp);
    if (resolved)
        putf(&t, "\n*Lasted* %s (since %s)", dur, since);
    else if (a->intervals > 0)
        putf(&t, "\n*Since* %s (%s, %d interval%s)", since, dur, a->intervals, a->intervals == 1 ? "" : "s");
    else
        putf(&t, "\n*Since* %s (%s)", since, dur);
    if (impact[0]) {
        put(&t, resolved ? "\n*Total impact* " : "\n*Impact* ");
        put_esc(&t, impact);
    }
    for (int i = 0; i < a->ncontributors && i < KW_ALERT_CONTRIBUTORS; i++) {
        const struct kw_alert_contributor *c = &a->contributors[i];
        char cv[32];
        if (i == 0)
            put(&t, "\n*Top contributors*");
        put(&t, "\n• ");
        put_esc(&t, c->labels);
        putf(&t, " %.0f%% of the excess (%s", 100.0 * c->share, kw_alert_value_text(a, c->observed, cv, sizeof cv));
        putf(&t, " vs %s expected)", kw_alert_value_text(a, c->expected, cv, sizeof cv));
    }
    if (a->description[0]) {
        put(&t, "\n");
        put_esc(&t, a->description);
    }
    /* Links that are not URLs cannot be buttons (Slack rejects them); show them as text. */
    if (a->runbook[0] && !is_url(a->runbook)) {
        put(&t, "\n*Runbook* ");
        put_esc(&t, a->runbook);
    }
    if (a->dashboard[0] && !is_url(a->dashboard)) {
        put(&t, "\n*Dashboard* ");
        put_esc(&t, a->dashboard);
    }
    add_section(blocks, &t);
}

static cJSON *field(const char *name, const char *value)
{
    struct text t = {0};
    put(&t, "*");
    put_esc(&t, name);
    put(&t, "*\n");
    put_esc(&t, value);
    clip(&t, KW_SLACK_MAX_FIELD, true);
    char *s = take(&t);
    cJSON *o = text_obj("mrkdwn", s);
    free(s);
    return o;
}

/* Labels, severity and detector as two-column fields (Slack allows 10). */
static void add_lead_fields(cJSON *blocks, const struct kw_alert *a)
{
    cJSON *fields = cJSON_CreateArray();
    int nlabels = a->nlabels < 8 ? a->nlabels : 8;
    for (int i = 0; i < nlabels; i++)
        cJSON_AddItemToArray(fields, field(a->labels[i].name, a->labels[i].value));
    if (nlabels == 0)
        cJSON_AddItemToArray(fields, field("Series", "all"));
    char buf[96];
    snprintf(buf, sizeof buf, "%s (%.0f/100)", severity_name(a), a->severity_score);
    cJSON_AddItemToArray(fields, field("Severity", buf));
    if (a->detector[0]) {
        snprintf(buf, sizeof buf, "%s, score %.1f", a->detector, a->score);
        cJSON_AddItemToArray(fields, field("Detector", buf));
    }
    add_block(blocks, "section", "fields", fields);
}

static void add_sparkline(cJSON *blocks, const struct kw_alert *a)
{
    if (a->nhistory <= 0)
        return;
    char spark[128];
    kw_alert_sparkline(a, spark, sizeof spark);
    struct text t = {0};
    putf(&t, "`%s` last %d intervals", spark, a->nhistory);
    char *s = take(&t);
    cJSON *elements = cJSON_CreateArray();
    cJSON_AddItemToArray(elements, text_obj("mrkdwn", s));
    free(s);
    add_block(blocks, "context", "elements", elements);
}

static cJSON *button(const char *label, const char *url, const char *action_id)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "button");
    cJSON_AddItemToObject(b, "text", text_obj("plain_text", label));
    cJSON_AddStringToObject(b, "url", url);
    cJSON_AddStringToObject(b, "action_id", action_id);
    return b;
}

static void add_buttons(cJSON *blocks, const struct kw_alert *a, const char *external_url)
{
    cJSON *elements = cJSON_CreateArray();
    if (is_url(a->runbook))
        cJSON_AddItemToArray(elements, button("Runbook", a->runbook, "kw_runbook"));
    if (is_url(a->dashboard))
        cJSON_AddItemToArray(elements, button("Dashboard", a->dashboard, "kw_dashboard"));
    if (external_url && is_url(external_url) && strlen(external_url) <= 3000)
        cJSON_AddItemToArray(elements, button("kpiwatch", external_url, "kw_external"));
    if (cJSON_GetArraySize(elements) == 0) {
        cJSON_Delete(elements);
        return;
    }
    add_block(blocks, "actions", "elements", elements);
}

/* One further group member on one line. */
static void add_member(cJSON *blocks, const struct kw_alert *a)
{
    char where[WHERE_MAX], obs[32], exp[32], lo[32], hi[32], chg[96], since[40], dur[24], impact[160];
    kw_alert_labels_text(a, where, sizeof where);
    kw_alert_value_text(a, a->observed, obs, sizeof obs);
    kw_alert_value_text(a, a->expected, exp, sizeof exp);
    kw_alert_value_text(a, a->lower, lo, sizeof lo);
    kw_alert_value_text(a, a->upper, hi, sizeof hi);
    kw_alert_change_text(a, chg, sizeof chg);
    kw_time_format(a->since_ms, since, sizeof since);
    kw_duration_text(incident_ms(a), dur, sizeof dur);
    kw_alert_impact_text(a, impact, sizeof impact);

    struct text t = {0};
    putf(&t, "%s *", emoji(a));
    put_esc(&t, a->kpi);
    put(&t, "* · ");
    put_esc(&t, where);
    if (is_resolved(a)) {
        if (isnan(a->observed))
            putf(&t, " — stopped reporting after %s", dur);
        else
            putf(&t, " — back to %s (expected %s) after %s", obs, exp, dur);
    } else {
        putf(&t, " — %s vs %s expected (normal %s..%s%s%s%s) since %s (%s)", obs, exp, lo, hi,
             kw_alert_band_note(a), chg[0] ? ", " : "", chg, since, dur);
    }
    if (impact[0]) {
        put(&t, " · ");
        put_esc(&t, impact);
    }
    add_section(blocks, &t);
}

void kw_slack_blocks_render(cJSON *msg, const struct kw_notification *n, const char *external_url)
{
    const struct kw_alert *lead = &n->alerts[0];
    char summary[2048];
    kw_alert_summary(lead, summary, sizeof summary);
    char *fallback = kw_slack_blocks_escape(summary, KW_SLACK_MAX_TEXT);
    cJSON_AddStringToObject(msg, "text", fallback);
    free(fallback);

    cJSON *blocks = cJSON_AddArrayToObject(msg, "blocks");
    add_header(blocks, n);
    add_lead_values(blocks, lead);
    add_lead_fields(blocks, lead);
    add_sparkline(blocks, lead);
    add_buttons(blocks, lead, external_url);

    /* The incident in one line (its size, first mover and total impact):
     * with several members, and when the first mover has resolved and left,
     * so a thread's last word still names what started it. */
    char first[KW_NOTIFY_FIRST_MOVER], lead_only[KW_NOTIFY_FIRST_MOVER];
    kw_notification_first_mover(n, first, sizeof first);
    kw_alert_mover_text(lead, lead_only, sizeof lead_only);
    if (n->nalerts > 1 || strncmp(first, lead_only, strlen(lead_only)) != 0) {
        char impact[512];
        kw_notification_impact_text(n, impact, sizeof impact);
        struct text t = {0};
        putf(&t, "*Incident* of %zu series · first mover ", n->nalerts);
        put_esc(&t, first);
        if (impact[0]) {
            put(&t, " · *total impact* ");
            put_esc(&t, impact);
        }
        clip(&t, KW_SLACK_MAX_SECTION, true); /* a context element has a section's limit */
        cJSON *elements = cJSON_CreateArray();
        char *s = take(&t);
        cJSON_AddItemToArray(elements, text_obj("mrkdwn", s));
        free(s);
        add_block(blocks, "context", "elements", elements);
    }

    size_t room = (size_t)(KW_SLACK_MAX_BLOCKS - cJSON_GetArraySize(blocks));
    size_t rest = n->nalerts - 1;
    size_t shown = rest <= room ? rest : room - 1; /* keep one block for the note */
    for (size_t i = 1; i <= shown; i++)
        add_member(blocks, &n->alerts[i]);
    if (shown < rest) {
        char note[128];
        snprintf(note, sizeof note, "…and %zu more series (%zu in this group)", rest - shown, n->nalerts);
        cJSON *elements = cJSON_CreateArray();
        cJSON_AddItemToArray(elements, text_obj("mrkdwn", note));
        add_block(blocks, "context", "elements", elements);
    }
}
