/* teams: posts an alert group to a Microsoft Teams Workflows webhook ("Post
 * to a channel when a webhook request is received") as an Adaptive Card 1.4
 * in a message envelope. The webhook URL is a secret (it carries a SAS
 * signature) and is logged as scheme://host only. Workflows answers 202;
 * any 2xx is success, 429 and 5xx are retried, other 4xx are permanent. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/secret.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "http.h"
#include "notifier.h"
#include "template.h"

/* Further group members shown before "…and N more series". */
#define TEAMS_MAX_MEMBERS 20
/* Teams drops messages above about 28 KB; stay under it. */
#define TEAMS_MAX_BYTES 27000
#define WHERE_MAX 2700
#define TEAMS_TEXT_CHARS 20000   /* a template's text, before the byte limit is checked */

struct teams_config {
    char *webhook_url;      /* inline secret; wiped once resolved */
    char *webhook_url_file;
    struct kw_template *template;      /* the card's text instead of the built-in card; NULL = built-in */
    struct kw_template *template_file;
    char *url;              /* the resolved webhook URL (secret) */
    char *url_log;          /* scheme://host, for logs */
};

static const struct kw_option teams_options[] = {
    {"webhook_url", KW_OPT_STRING, "", offsetof(struct teams_config, webhook_url), KW_NORANGE,
     .desc = "Workflows webhook URL (https://...logic.azure.com/workflows/...), usually \"${TEAMS_WEBHOOK_URL}\". "
             "It is a secret: logged as scheme and host only. Required unless webhook_url_file is set."},
    {"webhook_url_file", KW_OPT_STRING, "", offsetof(struct teams_config, webhook_url_file), KW_NORANGE,
     .desc = "File holding the webhook URL instead of webhook_url."},
    KW_TEMPLATE_OPTIONS("template", struct teams_config, template, template_file,
                        "Message template (see Templates); when set, the card holds its text (Teams markdown) "
                        "as one text block instead of the built-in facts."),
    KW_OPT_END,
};

static void teams_release(void *cfg)
{
    struct teams_config *c = cfg;
    kw_secret_free(c->url);
    free(c->url_log);
    c->url = c->url_log = NULL;
}

static int teams_init(void *cfg, const char *instance, const char *path, char *err, size_t errlen)
{
    struct teams_config *c = cfg;
    if (kw_template_opt_pick(&c->template, &c->template_file, path, "template", err, errlen))
        return -1;
    return kw_http_resolve_url(&c->webhook_url, c->webhook_url_file, path, "webhook_url", true, &c->url, &c->url_log,
                               err, errlen);
}

static bool is_url(const char *s)
{
    return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

static cJSON *text_block(cJSON *body, const char *text)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "TextBlock");
    cJSON_AddStringToObject(b, "text", text);
    cJSON_AddTrueToObject(b, "wrap");
    cJSON_AddItemToArray(body, b);
    return b;
}

static void fact(cJSON *facts, const char *title, const char *value)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "title", title);
    cJSON_AddStringToObject(f, "value", value);
    cJSON_AddItemToArray(facts, f);
}

static void add_lead(cJSON *body, const struct kw_notification *n)
{
    const struct kw_alert *a = &n->alerts[0];
    bool resolved = n->kind == KW_NOTIFY_RESOLVED || a->status == KW_ALERT_RESOLVED;
    const char *sev = a->severity == KW_SEV_CRITICAL ? "critical" : "warning";
    char title[256], where[WHERE_MAX];
    if (resolved)
        snprintf(title, sizeof title, "RESOLVED: %s", a->kpi);
    else
        snprintf(title, sizeof title, "%s %s: %s", kw_notification_status_word(n), sev,
                 a->kpi);
    if (n->nalerts > 1) {
        size_t used = strlen(title);
        snprintf(title + used, sizeof title - used, " (+%zu more)", n->nalerts - 1);
    }
    cJSON *t = text_block(body, title);
    cJSON_AddStringToObject(t, "size", "Large");
    cJSON_AddStringToObject(t, "weight", "Bolder");
    cJSON_AddStringToObject(t, "color", resolved ? "Good" : a->severity == KW_SEV_CRITICAL ? "Attention" : "Warning");
    kw_alert_labels_text(a, where, sizeof where);
    t = text_block(body, where);
    cJSON_AddTrueToObject(t, "isSubtle");
    cJSON_AddStringToObject(t, "spacing", "None");
    if (a->description[0])
        text_block(body, a->description);

    char obs[32], exp[32], lo[32], hi[32], band[128], chg[80], since[96], ts[40], dur[24], impact[160], buf[160];
    kw_alert_value_text(a, a->observed, obs, sizeof obs);
    kw_alert_value_text(a, a->expected, exp, sizeof exp);
    kw_alert_value_text(a, a->lower, lo, sizeof lo);
    kw_alert_value_text(a, a->upper, hi, sizeof hi);
    snprintf(band, sizeof band, "%s .. %s%s", lo, hi, kw_alert_band_note(a));
    kw_alert_change_text(a, chg, sizeof chg);
    if (chg[0] && a->kind == KW_KIND_RATE && isfinite(a->denominator)) {
        size_t used = strlen(chg);
        snprintf(chg + used, sizeof chg - used, " (n=%.0f)", a->denominator);
    }
    kw_duration_text(a->at_ms + a->interval_ms - a->since_ms, dur, sizeof dur);
    snprintf(since, sizeof since, "%s (%s)", kw_time_format(a->since_ms, ts, sizeof ts), dur);
    kw_alert_impact_text(a, impact, sizeof impact);

    cJSON *fs = cJSON_CreateObject();
    cJSON_AddStringToObject(fs, "type", "FactSet");
    cJSON *facts = cJSON_AddArrayToObject(fs, "facts");
    fact(facts, resolved ? "Now" : "Observed", isnan(a->observed) ? "no data" : obs);
    fact(facts, "Expected", exp);
    if (isfinite(a->lower) || isfinite(a->upper))
        fact(facts, "Normal range", band);
    if (!resolved && chg[0])
        fact(facts, "Change", chg);
    if (resolved && isfinite(a->peak_observed)) {
        char pobs[32], pexp[32];
        snprintf(buf, sizeof buf, "%s vs %s expected", kw_alert_value_text(a, a->peak_observed, pobs, sizeof pobs),
                 kw_alert_value_text(a, a->peak_expected, pexp, sizeof pexp));
        fact(facts, "Peak", buf);
    }
    fact(facts, "Since", since);
    if (impact[0])
        fact(facts, resolved ? "Total impact" : "Impact", impact);
    snprintf(buf, sizeof buf, "%s (%.0f/100)", sev, a->severity_score);
    fact(facts, "Severity", buf);
    char contrib[1024];
    if (a->ncontributors > 0) /* a roll-up: which step or journey moved it */
        fact(facts, "Top contributors", kw_alert_contributors_text(a, contrib, sizeof contrib) + strlen("top contributors: "));
    if (a->detector[0]) {
        snprintf(buf, sizeof buf, "%s, score %.1f", a->detector, a->score);
        fact(facts, "Detector", buf);
    }
    for (int i = 0; i < a->nlabels && i < KW_ALERT_MAX_LABELS; i++)
        fact(facts, a->labels[i].name, a->labels[i].value);
    if (a->runbook[0] && !is_url(a->runbook))
        fact(facts, "Runbook", a->runbook);
    if (a->dashboard[0] && !is_url(a->dashboard))
        fact(facts, "Dashboard", a->dashboard);
    cJSON_AddItemToArray(body, fs);

    if (a->nhistory > 0) {
        char spark[128], line[192];
        kw_alert_sparkline(a, spark, sizeof spark);
        snprintf(line, sizeof line, "%s  last %d intervals", spark, a->nhistory);
        t = text_block(body, line);
        cJSON_AddStringToObject(t, "fontType", "Monospace");
        cJSON_AddTrueToObject(t, "isSubtle");
    }
}

static void add_member(cJSON *body, const struct kw_alert *a, bool first)
{
    char where[WHERE_MAX], obs[32], exp[32], lo[32], hi[32], chg[48], since[40], dur[24], impact[160];
    kw_alert_labels_text(a, where, sizeof where);
    kw_alert_value_text(a, a->observed, obs, sizeof obs);
    kw_alert_value_text(a, a->expected, exp, sizeof exp);
    kw_alert_value_text(a, a->lower, lo, sizeof lo);
    kw_alert_value_text(a, a->upper, hi, sizeof hi);
    kw_alert_change_text(a, chg, sizeof chg);
    kw_time_format(a->since_ms, since, sizeof since);
    kw_duration_text(a->at_ms + a->interval_ms - a->since_ms, dur, sizeof dur);
    kw_alert_impact_text(a, impact, sizeof impact);
    size_t cap = sizeof where + 512;
    char *line = xmalloc(cap);
    int used;
    if (a->status == KW_ALERT_RESOLVED && isnan(a->observed))
        used = snprintf(line, cap, "RESOLVED **%s** · %s — stopped reporting after %s", a->kpi, where, dur);
    else if (a->status == KW_ALERT_RESOLVED)
        used = snprintf(line, cap, "RESOLVED **%s** · %s — back to %s (expected %s) after %s", a->kpi, where, obs,
                        exp, dur);
    else
        used = snprintf(line, cap, "%s **%s** · %s — %s vs %s expected (normal %s..%s%s%s%s) since %s (%s)",
                        a->severity == KW_SEV_CRITICAL ? "CRITICAL" : "WARNING", a->kpi, where, obs, exp, lo, hi,
                        kw_alert_band_note(a), chg[0] ? ", " : "", chg, since, dur);
    if (impact[0] && used > 0 && (size_t)used < cap)
        snprintf(line + used, cap - (size_t)used, " · %s", impact);
    cJSON *t = text_block(body, line);
    if (first)
        cJSON_AddTrueToObject(t, "separator");
    free(line);
}

static void add_action(cJSON *actions, const char *title, const char *url)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "type", "Action.OpenUrl");
    cJSON_AddStringToObject(a, "title", title);
    cJSON_AddStringToObject(a, "url", url);
    cJSON_AddItemToArray(actions, a);
}

/* The message envelope around an empty card; *body gets the card's body. */
static cJSON *envelope(cJSON **card_out, cJSON **body)
{
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "type", "message");
    cJSON *atts = cJSON_AddArrayToObject(msg, "attachments");
    cJSON *att = cJSON_CreateObject();
    cJSON_AddItemToArray(atts, att);
    cJSON_AddStringToObject(att, "contentType", "application/vnd.microsoft.card.adaptive");
    cJSON_AddNullToObject(att, "contentUrl");
    cJSON *card = cJSON_AddObjectToObject(att, "content");
    cJSON_AddStringToObject(card, "$schema", "http://adaptivecards.io/schemas/adaptive-card.json");
    cJSON_AddStringToObject(card, "type", "AdaptiveCard");
    cJSON_AddStringToObject(card, "version", "1.4");
    /* Teams renders cards narrow unless asked; the fact set needs the width. */
    cJSON_AddStringToObject(cJSON_AddObjectToObject(card, "msteams"), "width", "Full");
    *body = cJSON_AddArrayToObject(card, "body");
    *card_out = card;
    return msg;
}

/* A card holding text only (a template's output); caller frees. */
static char *render_text(const char *text)
{
    cJSON *card, *body;
    cJSON *msg = envelope(&card, &body);
    text_block(body, text);
    char *json = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    return json;
}

/* The whole message with at most shown further members; caller frees. */
static char *render(const struct kw_notification *n, size_t shown)
{
    const struct kw_alert *lead = &n->alerts[0];
    cJSON *card, *body;
    cJSON *msg = envelope(&card, &body);
    add_lead(body, n);
    size_t rest = n->nalerts - 1;
    for (size_t i = 1; i <= shown && i <= rest; i++)
        add_member(body, &n->alerts[i], i == 1);
    if (shown < rest) {
        char note[128];
        snprintf(note, sizeof note, "…and %zu more series (%zu in this group)", rest - shown, n->nalerts);
        cJSON_AddTrueToObject(text_block(body, note), "isSubtle");
    }
    cJSON *actions = cJSON_CreateArray();
    if (is_url(lead->runbook))
        add_action(actions, "Runbook", lead->runbook);
    if (is_url(lead->dashboard))
        add_action(actions, "Dashboard", lead->dashboard);
    if (cJSON_GetArraySize(actions) > 0)
        cJSON_AddItemToObject(card, "actions", actions);
    else
        cJSON_Delete(actions);
    char *text = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    return text;
}

static int teams_prepare(void *cfg, const struct kw_notification *n, int step, struct kw_request *req, char *err,
                         size_t errlen)
{
    const struct teams_config *c = cfg;
    if (step > 0)
        return 0;
    if (n->nalerts == 0) {
        snprintf(err, errlen, "empty alert group");
        return -1;
    }
    char *body;
    if (c->template) {
        /* Cut the text until the card fits: escaping may make it longer than its characters. */
        for (size_t max_chars = TEAMS_TEXT_CHARS;; max_chars /= 2) {
            char *text = kw_template_render(c->template, n, KW_TEMPLATE_PLAIN, max_chars);
            body = render_text(text);
            free(text);
            if (strlen(body) <= TEAMS_MAX_BYTES || max_chars < 128)
                break;
            free(body);
        }
    } else {
        size_t rest = n->nalerts - 1;
        size_t shown = rest < TEAMS_MAX_MEMBERS ? rest : TEAMS_MAX_MEMBERS;
        body = render(n, shown);
        while (strlen(body) > TEAMS_MAX_BYTES && shown > 0) {
            free(body);
            shown /= 2;
            body = render(n, shown);
        }
    }
    kw_http_post_json(req, c->url, body, NULL);
    free(req->url);
    req->url = xstrdup(c->url_log);
    return 1;
}

static int teams_render_templates(void *cfg, const struct kw_notification *n, struct kw_rendered *out)
{
    const struct teams_config *c = cfg;
    if (!c->template)
        return 0;
    out[0] = (struct kw_rendered){"template", kw_template_render(c->template, n, KW_TEMPLATE_PLAIN, TEAMS_TEXT_CHARS)};
    return 1;
}

static void teams_classify(void *cfg, const struct kw_notification *n, int step, const struct kw_request *req,
                           const struct kw_response *resp, struct kw_send_outcome *out)
{
    kw_http_classify_default(resp, out);
}

const struct kw_notifier_type teams_notifier = {
    .name = "teams",
    .description = "Microsoft Teams Workflows webhook: an Adaptive Card per alert group with facts and "
                   "runbook/dashboard links.",
    .options = teams_options,
    .config_size = sizeof(struct teams_config),
    /* Teams documents 4 requests per second per webhook as the ceiling. */
    .rate_per_s = 1,
    .burst = 4,
    .init = teams_init,
    .release = teams_release,
    .prepare = teams_prepare,
    .classify = teams_classify,
    .render_templates = teams_render_templates,
};
