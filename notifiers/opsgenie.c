/* opsgenie: Opsgenie Alert API v2. A firing or updated group creates an
 * alert whose alias is the group's key (Opsgenie deduplicates open alerts by
 * alias, so repeats only raise its count); the resolve closes the alert by
 * that alias. The API key goes in the Authorization header, never the URL. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/secret.h"
#include "../lib/strbuf.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "http.h"
#include "template.h"

/* Documented limits of the create-alert request, in characters. */
#define OG_MESSAGE_CHARS 130
#define OG_DESCRIPTION_CHARS 15000
#define OG_DETAILS_CHARS 8000   /* keys and values together */
#define OG_DETAIL_VALUE_CHARS 1000
#define OG_ENTITY_CHARS 512
#define OG_SOURCE_CHARS 100
#define OG_NOTE_CHARS 25000
#define OG_TAGS_MAX 20
#define OG_TAG_CHARS 50
#define OG_RESPONDERS_MAX 50
#define OG_MEMBERS_MAX 50       /* members listed in the description */

struct og_config {
    char *api_key_opt;   /* inline option; moved into api_key by init */
    char *api_key_file;
    int region;          /* 0 us, 1 eu */
    char *api_url;       /* override of the region's base URL */
    struct kw_string_list responders;
    struct kw_string_list tags;
    char *entity;        /* default: the lead alert's KPI */
    char *source;        /* default: the host name (set by init) */
    struct kw_template *message_template;     /* NULL = built-in */
    struct kw_template *message_template_file;
    struct kw_template *description_template; /* NULL = built-in */
    struct kw_template *description_template_file;
    char *api_key;       /* resolved secret */
    char *base;          /* base URL without a trailing slash */
};

static const char *const og_regions[] = {"us", "eu", NULL};
static const char *const og_region_urls[] = {"https://api.opsgenie.com", "https://api.eu.opsgenie.com"};

static const struct kw_option og_options[] = {
    {"api_key", KW_OPT_STRING, "", offsetof(struct og_config, api_key_opt), KW_NORANGE,
     .desc = "API key of an Opsgenie API integration (usually \"${OPSGENIE_API_KEY}\"); set this or api_key_file."},
    {"api_key_file", KW_OPT_STRING, "", offsetof(struct og_config, api_key_file), KW_NORANGE,
     .desc = "File holding the API key (systemd credential, Kubernetes secret)."},
    {"region", KW_OPT_ENUM, "us", offsetof(struct og_config, region), KW_NORANGE, .choices = og_regions,
     .desc = "us: https://api.opsgenie.com; eu: https://api.eu.opsgenie.com (accounts hosted in the EU)."},
    {"api_url", KW_OPT_STRING, "", offsetof(struct og_config, api_url), KW_NORANGE,
     .desc = "Base URL overriding region, e.g. a proxy; https:// (http:// only to a loopback address)."},
    {"responders", KW_OPT_CUSTOM, "", offsetof(struct og_config, responders), KW_NORANGE,
     .parse = kw_notifier_parse_names, .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "Team names to notify, e.g. [\"checkout-oncall\"]; [] = the integration's own routing."},
    {"tags", KW_OPT_CUSTOM, "", offsetof(struct og_config, tags), KW_NORANGE,
     .parse = kw_notifier_parse_names, .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "Tags on every alert (up to 20, 50 characters each); the lead KPI's name is added when there is room."},
    {"entity", KW_OPT_STRING, "", offsetof(struct og_config, entity), KW_NORANGE,
     .desc = "The alert's entity (its domain); default the lead alert's KPI name."},
    {"source", KW_OPT_STRING, "", offsetof(struct og_config, source), KW_NORANGE,
     .desc = "The alert's source; default the host name."},
    KW_TEMPLATE_OPTIONS("message_template", struct og_config, message_template, message_template_file,
                        "Template of the alert's message (see Templates), one line of at most 130 characters; "
                        "default KPI, labels and observed vs expected with \"(+N more)\"."),
    KW_TEMPLATE_OPTIONS("description_template", struct og_config, description_template, description_template_file,
                        "Template of the alert's description (see Templates), at most 15000 characters; default "
                        "one summary line per member, then the lead's description and links."),
    KW_OPT_END,
};

/* ---- config ------------------------------------------------------------ */

static int og_init(void *cfg, const char *instance, const char *path, char *err, size_t errlen)
{
    struct og_config *c = cfg;
    char key[KW_ERR_LEN], file_key[KW_ERR_LEN], p[KW_ERR_LEN];
    kw_path_key(key, sizeof key, path, "api_key");
    kw_path_key(file_key, sizeof file_key, path, "api_key_file");
    int rc = kw_secret_resolve(c->api_key_opt, c->api_key_file, 1, key, file_key, &c->api_key, err, errlen);
    kw_secret_free(c->api_key_opt); /* keep one copy of the secret only */
    c->api_key_opt = NULL;
    if (rc)
        return -1;
    if (kw_template_opt_pick(&c->message_template, &c->message_template_file, path, "message_template", err,
                             errlen) ||
        kw_template_opt_pick(&c->description_template, &c->description_template_file, path, "description_template",
                             err, errlen))
        goto fail;
    /* It goes into a header: a blank or a line break would corrupt the request. */
    for (const char *s = c->api_key; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7F) {
            snprintf(err, errlen, "%s: must be printable ASCII without blanks (%zu characters given)",
                     c->api_key_file ? file_key : key, strlen(c->api_key));
            goto fail;
        }
    }
    if (c->api_url && kw_http_check_endpoint(c->api_url, KW_ENDPOINT_LOOPBACK_HTTP | KW_ENDPOINT_NO_QUERY, "api_key",
                                             kw_path_key(p, sizeof p, path, "api_url"), err, errlen))
        goto fail;
    if (c->responders.n > OG_RESPONDERS_MAX) {
        snprintf(err, errlen, "%s: at most %d responders", kw_path_key(p, sizeof p, path, "responders"),
                 OG_RESPONDERS_MAX);
        goto fail;
    }
    if (c->tags.n > OG_TAGS_MAX) {
        snprintf(err, errlen, "%s: at most %d tags", kw_path_key(p, sizeof p, path, "tags"), OG_TAGS_MAX);
        goto fail;
    }
    for (int i = 0; i < c->tags.n; i++) {
        if (kw_text_chars(c->tags.items[i]) > OG_TAG_CHARS) {
            char tp[KW_ERR_LEN];
            snprintf(err, errlen, "%s: longer than %d characters",
                     kw_path_index(tp, sizeof tp, kw_path_key(p, sizeof p, path, "tags"), i), OG_TAG_CHARS);
            goto fail;
        }
    }
    if (!c->source) {
        char host[256] = "";
        if (gethostname(host, sizeof host - 1) != 0 || !host[0])
            snprintf(host, sizeof host, "kpiwatch");
        c->source = xstrdup(host);
    }
    c->base = xstrdup(c->api_url ? c->api_url : og_region_urls[c->region]);
    size_t len = strlen(c->base);
    while (len > 0 && c->base[len - 1] == '/')
        c->base[--len] = '\0';
    return 0;
fail:
    kw_secret_free(c->api_key);
    c->api_key = NULL;
    return -1;
}

static void og_release(void *cfg)
{
    struct og_config *c = cfg;
    kw_secret_free(c->api_key);
    free(c->base);
    c->api_key = c->base = NULL;
}

/* ---- rendering ---------------------------------------------------------- */

/* critical -> P1, warning -> P3 (P2, P4 and P5 are left to the team's own
 * rules). The worst firing member of the group decides. */
static const char *og_priority(const struct kw_notification *n)
{
    return kw_notification_severity(n) == KW_SEV_CRITICAL ? "P1" : "P3";
}

/* Details within the documented total; an entry that does not fit is left out. */
static void add_detail(cJSON *d, size_t *budget, const char *name, const char *value)
{
    if (!value || !value[0])
        return;
    char buf[OG_DETAIL_VALUE_CHARS * 4 + 8];
    kw_text_clip(buf, sizeof buf, value, OG_DETAIL_VALUE_CHARS, false);
    size_t cost = kw_text_chars(name) + kw_text_chars(buf);
    if (cost > *budget)
        return;
    *budget -= cost;
    cJSON_AddStringToObject(d, name, buf);
}

static cJSON *og_details(const struct kw_notification *n)
{
    const struct kw_alert *a = &n->alerts[0];
    size_t budget = OG_DETAILS_CHARS;
    char v[96], lo[32], hi[32], since[40], dur[24], impact[160], labels[2048];
    cJSON *d = cJSON_CreateObject();
    add_detail(d, &budget, "kpi", a->kpi);
    add_detail(d, &budget, "labels", kw_alert_labels_text(a, labels, sizeof labels));
    add_detail(d, &budget, "observed", kw_alert_value_text(a, a->observed, v, sizeof v));
    add_detail(d, &budget, "expected", kw_alert_value_text(a, a->expected, v, sizeof v));
    snprintf(v, sizeof v, "%s..%s", kw_alert_value_text(a, a->lower, lo, sizeof lo),
             kw_alert_value_text(a, a->upper, hi, sizeof hi));
    add_detail(d, &budget, "normal_range", v);
    add_detail(d, &budget, "since", kw_time_format(a->since_ms, since, sizeof since));
    add_detail(d, &budget, "duration", kw_duration_text(a->at_ms + a->interval_ms - a->since_ms, dur, sizeof dur));
    add_detail(d, &budget, "impact", kw_alert_impact_text(a, impact, sizeof impact));
    char contrib[1024];
    if (a->ncontributors > 0) /* a roll-up: which step or journey moved it */
        add_detail(d, &budget, "contributors", kw_alert_contributors_text(a, contrib, sizeof contrib));
    if (a->cost_per_unit > 0 && isfinite(a->impact)) {
        snprintf(v, sizeof v, "%.0f %s", fabs(a->impact) * a->cost_per_unit, a->currency);
        add_detail(d, &budget, "cost", v);
    }
    if (isfinite(a->score)) {
        snprintf(v, sizeof v, "%.1f", a->score);
        add_detail(d, &budget, "score", v);
    }
    snprintf(v, sizeof v, "%.0f", a->severity_score);
    add_detail(d, &budget, "severity_score", v);
    add_detail(d, &budget, "detector", a->detector);
    add_detail(d, &budget, "runbook", a->runbook);
    add_detail(d, &budget, "dashboard", a->dashboard);
    snprintf(v, sizeof v, "%zu", n->nalerts);
    add_detail(d, &budget, "alerts", v);
    /* One key per label, so Opsgenie rules can route on them. */
    for (int i = 0; i < a->nlabels && i < KW_ALERT_MAX_LABELS; i++) {
        char name[KW_ALERT_LABEL_NAME + 8];
        snprintf(name, sizeof name, "label.%s", a->labels[i].name);
        add_detail(d, &budget, name, a->labels[i].value);
    }
    return d;
}

static char *og_description(const struct kw_notification *n)
{
    size_t cap = 64 * 1024, used = 0;
    char *text = xmalloc(cap), line[4096];
    text[0] = '\0';
    for (size_t i = 0; i < n->nalerts && i < OG_MEMBERS_MAX && used < cap; i++)
        used += (size_t)snprintf(text + used, cap - used, "%s\n", kw_alert_summary(&n->alerts[i], line, sizeof line));
    if (n->nalerts > OG_MEMBERS_MAX && used < cap)
        used += (size_t)snprintf(text + used, cap - used, "... and %zu more\n", n->nalerts - OG_MEMBERS_MAX);
    const struct kw_alert *a = &n->alerts[0];
    if (a->description[0] && used < cap)
        used += (size_t)snprintf(text + used, cap - used, "\n%s: %s\n", a->kpi, a->description);
    if (a->runbook[0] && used < cap)
        used += (size_t)snprintf(text + used, cap - used, "Runbook: %s\n", a->runbook);
    if (a->dashboard[0] && used < cap)
        snprintf(text + used, cap - used, "Dashboard: %s\n", a->dashboard);
    return text;
}

/* The alert's message: the template's, or KPI, labels and values. */
static void og_message(const struct og_config *c, const struct kw_notification *n, char *message, size_t len)
{
    if (c->message_template) {
        char *text = kw_template_render(c->message_template, n, KW_TEMPLATE_PLAIN, OG_MESSAGE_CHARS);
        kw_text_clip(message, len, text, OG_MESSAGE_CHARS, false);
        free(text);
        return;
    }
    const struct kw_alert *a = &n->alerts[0];
    char labels[2048], obs[32], exp[32], line[4096], more[48] = "";
    kw_alert_labels_text(a, labels, sizeof labels);
    snprintf(line, sizeof line, "%s [%s] %s %s vs %s expected", a->kpi, labels,
             a->direction > 0 ? "up to" : "down to", kw_alert_value_text(a, a->observed, obs, sizeof obs),
             kw_alert_value_text(a, a->expected, exp, sizeof exp));
    if (n->nalerts > 1)
        snprintf(more, sizeof more, " (+%zu more)", n->nalerts - 1);
    /* The member count survives the cut. */
    kw_text_clip(message, len - sizeof more, line, OG_MESSAGE_CHARS - strlen(more), false);
    strcat(message, more);
}

static char *og_create_body(const struct og_config *c, const struct kw_notification *n)
{
    const struct kw_alert *a = &n->alerts[0];
    cJSON *o = cJSON_CreateObject();
    char message[OG_MESSAGE_CHARS * 4 + 64];
    og_message(c, n, message, sizeof message);
    cJSON_AddStringToObject(o, "message", message);
    cJSON_AddStringToObject(o, "alias", n->key);
    char *description = c->description_template ? kw_template_render(c->description_template, n, KW_TEMPLATE_PLAIN,
                                                                     OG_DESCRIPTION_CHARS)
                                                : og_description(n);
    kw_json_add_clipped(o, "description", description, OG_DESCRIPTION_CHARS, true);
    free(description);
    if (c->responders.n > 0) {
        cJSON *r = cJSON_AddArrayToObject(o, "responders");
        for (int i = 0; i < c->responders.n; i++) {
            cJSON *team = cJSON_CreateObject();
            cJSON_AddStringToObject(team, "type", "team");
            cJSON_AddStringToObject(team, "name", c->responders.items[i]);
            cJSON_AddItemToArray(r, team);
        }
    }
    cJSON *tags = cJSON_AddArrayToObject(o, "tags");
    for (int i = 0; i < c->tags.n; i++)
        cJSON_AddItemToArray(tags, cJSON_CreateString(c->tags.items[i]));
    if (c->tags.n < OG_TAGS_MAX && a->kpi[0]) {
        char tag[OG_TAG_CHARS * 4 + 8];
        kw_text_clip(tag, sizeof tag, a->kpi, OG_TAG_CHARS, false);
        cJSON_AddItemToArray(tags, cJSON_CreateString(tag));
    }
    cJSON_AddItemToObject(o, "details", og_details(n));
    kw_json_add_clipped(o, "entity", c->entity ? c->entity : a->kpi, OG_ENTITY_CHARS, false);
    kw_json_add_clipped(o, "source", c->source, OG_SOURCE_CHARS, false);
    cJSON_AddStringToObject(o, "priority", og_priority(n));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* A note on the alert: the status, then one line per member as it stands,
 * within the documented 25,000 characters. */
static char *og_note_body(const struct og_config *c, const struct kw_notification *n)
{
    cJSON *o = cJSON_CreateObject();
    kw_json_add_clipped(o, "source", c->source, OG_SOURCE_CHARS, false);
    cJSON_AddStringToObject(o, "user", "kpiwatch");
    struct kw_strbuf note;
    kw_strbuf_init(&note);
    char first[KW_NOTIFY_FIRST_MOVER], line[4096];
    kw_strbuf_printf(&note, "%s: %zu alert%s, first mover %s",
                     kw_notification_status_word(n), n->nalerts,
                     n->nalerts == 1 ? "" : "s", kw_notification_first_mover(n, first, sizeof first));
    for (size_t i = 0; i < n->nalerts; i++)
        kw_strbuf_printf(&note, "\n%s", kw_alert_summary(&n->alerts[i], line, sizeof line));
    kw_json_add_clipped(o, "note", note.data ? note.data : "", OG_NOTE_CHARS, true);
    kw_strbuf_release(&note);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int og_prepare(void *cfg, const struct kw_notification *n, int step, struct kw_request *req,
                      char *err, size_t errlen)
{
    const struct og_config *c = cfg;
    if (step > 0)
        return 0;
    if (n->nalerts == 0 || !n->key[0]) {
        snprintf(err, errlen, "notification has no alerts or no alias");
        return -1;
    }
    char url[1024], auth[1024];
    char *body;
    if (n->kind != KW_NOTIFY_FIRING) {
        /* An alias has one open alert: a second create only raises its count,
         * so an update is a note on it, and a resolve closes it with one. */
        char *alias = curl_easy_escape(req->easy, n->key, 0);
        snprintf(url, sizeof url, "%s/v2/alerts/%s/%s?identifierType=alias", c->base, alias,
                 n->kind == KW_NOTIFY_RESOLVED ? "close" : "notes");
        curl_free(alias);
        body = og_note_body(c, n);
    } else {
        snprintf(url, sizeof url, "%s/v2/alerts", c->base);
        body = og_create_body(c, n);
    }
    snprintf(auth, sizeof auth, "Authorization: GenieKey %s", c->api_key);
    const char *headers[] = {auth, NULL};
    kw_http_post_json(req, url, body, headers);
    explicit_bzero(auth, sizeof auth);
    return 1;
}

/* "Request body is not processable. (message: Message can not be empty.)"
 * from an answer, or "" when it says nothing useful. */
static void og_answer_text(const char *body, char *buf, size_t len)
{
    buf[0] = '\0';
    cJSON *o = cJSON_Parse(body ? body : "");
    if (!o)
        return;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(o, "message");
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(o, "result");
    const cJSON *errors = cJSON_GetObjectItemCaseSensitive(o, "errors");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "requestId");
    size_t used = 0;
    if (cJSON_IsString(msg))
        used += (size_t)snprintf(buf, len, "%s", msg->valuestring);
    else if (cJSON_IsString(result))
        used += (size_t)snprintf(buf, len, "%s", result->valuestring);
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, errors) {
        if (cJSON_IsString(e) && used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%s: %s", i++ ? "; " : " (", e->string ? e->string : "",
                                     e->valuestring);
    }
    if (i > 0 && used < len)
        used += (size_t)snprintf(buf + used, len - used, ")");
    if (cJSON_IsString(id) && used < len)
        snprintf(buf + used, len - used, " [requestId %s]", id->valuestring);
    cJSON_Delete(o);
}

static int og_render_templates(void *cfg, const struct kw_notification *n, struct kw_rendered *out)
{
    const struct og_config *c = cfg;
    int used = 0;
    if (n->kind == KW_NOTIFY_RESOLVED)
        return 0; /* the close request carries a note, not the templates */
    if (c->message_template) {
        char *message = xmalloc(OG_MESSAGE_CHARS * 4 + 64);
        og_message(c, n, message, OG_MESSAGE_CHARS * 4 + 64);
        out[used++] = (struct kw_rendered){"message_template", message};
    }
    if (c->description_template) {
        char *text = kw_template_render(c->description_template, n, KW_TEMPLATE_PLAIN, OG_DESCRIPTION_CHARS);
        char *description = xmalloc(OG_DESCRIPTION_CHARS * 4 + 8);
        kw_text_clip(description, OG_DESCRIPTION_CHARS * 4 + 8, text, OG_DESCRIPTION_CHARS, true);
        free(text);
        out[used++] = (struct kw_rendered){"description_template", description};
    }
    return used;
}

static void og_classify(void *cfg, const struct kw_notification *n, int step, const struct kw_request *req,
                        const struct kw_response *resp, struct kw_send_outcome *out)
{
    /* 2xx ok; 400, 401, 403, 404, 422 permanent; 429 and 5xx retried. */
    kw_http_classify_default(resp, out);
    if (resp->curl_code != CURLE_OK)
        return;
    char text[KW_NOTIFY_REASON];
    og_answer_text(resp->body, text, sizeof text);
    if (text[0])
        snprintf(out->reason, sizeof out->reason, "HTTP %ld: %s%s", resp->status,
                 out->result != KW_SEND_OK ? "" : n->kind == KW_NOTIFY_RESOLVED ? "close: " : "create: ", text);
}

const struct kw_notifier_type opsgenie_notifier = {
    .name = "opsgenie",
    .description = "Opsgenie Alert API v2: creates an alert per group (alias = group key), adds a note with every "
                   "update, and closes it by alias with a last one. "
                   "priority comes from the group's worst firing member: critical -> P1, warning -> P3.",
    .options = og_options,
    .config_size = sizeof(struct og_config),
    /* The alert API's limits depend on the plan; this stays under the smallest. */
    .rate_per_s = 2.0,
    .burst = 10,
    .init = og_init,
    .release = og_release,
    .prepare = og_prepare,
    .classify = og_classify,
    .render_templates = og_render_templates,
};
