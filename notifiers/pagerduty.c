/* pagerduty: PagerDuty Events API v2. A firing or updated group triggers an
 * alert under the group's dedup key, so repeats land on the same incident;
 * the resolve closes it. The routing key travels in the JSON body, never in
 * the URL, so the URL is safe to log. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/secret.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "http.h"
#include "template.h"

#define PD_KEY_LEN 32        /* documented length of an integration key */
#define PD_SUMMARY_CHARS 1024
#define PD_FIELD_CHARS 255   /* source, component, group, class: keep them short */
#define PD_MEMBERS_MAX 20    /* members listed one line each in custom_details */
#define PD_MEMBER_CHARS 512
#define PD_LINKS_MAX 10

struct pd_config {
    char *routing_key_opt;   /* inline option; moved into routing_key by init */
    char *routing_key_file;
    char *url;
    char *client;
    char *client_url;
    char *source;            /* default: the host name (set by init) */
    char *component;         /* default: the lead alert's KPI */
    char *group;             /* default: the lead alert's labels */
    char *class_name;
    struct kw_template *summary_template; /* payload.summary; NULL = the lead's headline */
    struct kw_template *summary_template_file;
    char *routing_key;       /* resolved secret */
};

static const struct kw_option pd_options[] = {
    {"routing_key", KW_OPT_STRING, "", offsetof(struct pd_config, routing_key_opt), KW_NORANGE,
     .desc = "The 32-character integration key of an Events API v2 integration (usually \"${PAGERDUTY_KEY}\"). "
             "Set this or routing_key_file."},
    {"routing_key_file", KW_OPT_STRING, "", offsetof(struct pd_config, routing_key_file), KW_NORANGE,
     .desc = "File holding the integration key (systemd credential, Kubernetes secret)."},
    {"url", KW_OPT_STRING, "https://events.pagerduty.com/v2/enqueue", offsetof(struct pd_config, url), KW_NORANGE,
     .desc = "Events API endpoint; https:// (http:// only to a loopback address)."},
    {"client", KW_OPT_STRING, "kpiwatch", offsetof(struct pd_config, client), KW_NORANGE,
     .desc = "Name of the monitoring client shown on the incident."},
    {"client_url", KW_OPT_STRING, "", offsetof(struct pd_config, client_url), KW_NORANGE,
     .desc = "Link to the monitoring client shown on the incident (http(s) URL)."},
    {"source", KW_OPT_STRING, "", offsetof(struct pd_config, source), KW_NORANGE,
     .desc = "payload.source, the affected system; default the host name."},
    {"component", KW_OPT_STRING, "", offsetof(struct pd_config, component), KW_NORANGE,
     .desc = "payload.component; default the lead alert's KPI name."},
    {"group", KW_OPT_STRING, "", offsetof(struct pd_config, group), KW_NORANGE,
     .desc = "payload.group; default the lead alert's labels (\"journey=checkout, step=payment\")."},
    {"class", KW_OPT_STRING, "kpi anomaly", offsetof(struct pd_config, class_name), KW_NORANGE,
     .desc = "payload.class, the type of event."},
    KW_TEMPLATE_OPTIONS("summary_template", struct pd_config, summary_template, summary_template_file,
                        "Template of payload.summary (see Templates), one line of at most 1024 characters; "
                        "default the lead's headline (what, where, observed vs expected, change, impact) with \"(+N more)\"."),
    KW_OPT_END,
};

/* ---- config ------------------------------------------------------------ */

static int pd_init(void *cfg, const char *instance, const char *path, char *err, size_t errlen)
{
    struct pd_config *c = cfg;
    char key[KW_ERR_LEN], file_key[KW_ERR_LEN], p[KW_ERR_LEN];
    kw_path_key(key, sizeof key, path, "routing_key");
    kw_path_key(file_key, sizeof file_key, path, "routing_key_file");
    int rc = kw_secret_resolve(c->routing_key_opt, c->routing_key_file, 1, key, file_key, &c->routing_key, err, errlen);
    /* Keep one copy of the secret only, and wipe the other. */
    kw_secret_free(c->routing_key_opt);
    c->routing_key_opt = NULL;
    if (rc)
        return -1;
    if (kw_template_opt_pick(&c->summary_template, &c->summary_template_file, path, "summary_template", err, errlen))
        goto fail;
    size_t len = strlen(c->routing_key);
    bool clean = true;
    for (const char *s = c->routing_key; *s; s++)
        clean = clean && *s > 0x20 && *s < 0x7F;
    if (len != PD_KEY_LEN || !clean) {
        snprintf(err, errlen, "%s: must be the %d-character integration key of an Events API v2 integration "
                 "(got %zu characters%s)", c->routing_key_file ? file_key : key, PD_KEY_LEN, len,
                 clean ? "" : ", some of them blank or not ASCII");
        goto fail;
    }
    if (kw_http_check_endpoint(c->url, KW_ENDPOINT_LOOPBACK_HTTP, NULL, kw_path_key(p, sizeof p, path, "url"), err,
                               errlen))
        goto fail;
    if (c->client_url &&
        kw_http_check_endpoint(c->client_url, 0, NULL, kw_path_key(p, sizeof p, path, "client_url"), err, errlen))
        goto fail;
    if (!c->source) {
        char host[256] = "";
        if (gethostname(host, sizeof host - 1) != 0 || !host[0])
            snprintf(host, sizeof host, "kpiwatch");
        c->source = xstrdup(host);
    }
    return 0;
fail:
    kw_secret_free(c->routing_key);
    c->routing_key = NULL;
    return -1;
}

static void pd_release(void *cfg)
{
    struct pd_config *c = cfg;
    kw_secret_free(c->routing_key);
    c->routing_key = NULL;
}

/* ---- rendering ---------------------------------------------------------- */

/* kpiwatch's two severities onto PagerDuty's: "error" and "critical" are
 * both high urgency under PagerDuty's dynamic notifications, so a warning
 * stays "warning" (low urgency) and only a critical member pages. */
static const char *pd_severity(const struct kw_notification *n)
{
    return kw_notification_severity(n) == KW_SEV_CRITICAL ? "critical" : "warning";
}

static void add_link(cJSON *links, const char *href, const char *what, const struct kw_alert *a, bool lead)
{
    if (!href[0] || cJSON_GetArraySize(links) >= PD_LINKS_MAX)
        return;
    const cJSON *l;
    cJSON_ArrayForEach(l, links) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(l, "href");
        if (cJSON_IsString(h) && strcmp(h->valuestring, href) == 0)
            return;
    }
    char text[160];
    if (lead)
        snprintf(text, sizeof text, "%s", what);
    else
        snprintf(text, sizeof text, "%s (%s)", what, a->kpi);
    cJSON *o = cJSON_CreateObject();
    kw_json_add_clipped(o, "href", href, 2048, false);
    kw_json_add_clipped(o, "text", text, 128, false);
    cJSON_AddItemToArray(links, o);
}

static cJSON *pd_custom_details(const struct kw_notification *n)
{
    const struct kw_alert *a = &n->alerts[0];
    char v[64], since[40], dur[24], impact[160], spark[128];
    cJSON *d = cJSON_CreateObject();
    kw_json_add_clipped(d, "kpi", a->kpi, 128, false);
    if (a->description[0])
        kw_json_add_clipped(d, "description", a->description, 512, false);
    cJSON *labels = cJSON_AddObjectToObject(d, "labels");
    for (int i = 0; i < a->nlabels && i < KW_ALERT_MAX_LABELS; i++)
        kw_json_add_clipped(labels, a->labels[i].name, a->labels[i].value, 256, false);
    cJSON_AddStringToObject(d, "observed", kw_alert_value_text(a, a->observed, v, sizeof v));
    cJSON_AddStringToObject(d, "expected", kw_alert_value_text(a, a->expected, v, sizeof v));
    cJSON_AddStringToObject(d, "lower", kw_alert_value_text(a, a->lower, v, sizeof v));
    cJSON_AddStringToObject(d, "upper", kw_alert_value_text(a, a->upper, v, sizeof v));
    if (kw_alert_impact_text(a, impact, sizeof impact)[0])
        kw_json_add_clipped(d, "impact", impact, 160, false);
    if (a->cost_per_unit > 0 && isfinite(a->impact)) {
        snprintf(v, sizeof v, "%.0f %s", fabs(a->impact) * a->cost_per_unit, a->currency);
        kw_json_add_clipped(d, "cost", v, 64, false);
    }
    char contrib[1024];
    if (a->ncontributors > 0) /* a roll-up: which step or journey moved it */
        kw_json_add_clipped(d, "contributors", kw_alert_contributors_text(a, contrib, sizeof contrib), 512, false);
    cJSON_AddStringToObject(d, "since", kw_time_format(a->since_ms, since, sizeof since));
    cJSON_AddStringToObject(d, "duration", kw_duration_text(a->at_ms + a->interval_ms - a->since_ms, dur, sizeof dur));
    if (isfinite(a->score))
        cJSON_AddNumberToObject(d, "score", round(a->score * 10) / 10);
    if (isfinite(a->severity_score))
        cJSON_AddNumberToObject(d, "severity_score", round(a->severity_score));
    if (a->detector[0])
        kw_json_add_clipped(d, "detector", a->detector, 64, false);
    if (a->nhistory > 0)
        cJSON_AddStringToObject(d, "history", kw_alert_sparkline(a, spark, sizeof spark));
    cJSON_AddNumberToObject(d, "alerts", (double)n->nalerts);
    cJSON *members = cJSON_AddArrayToObject(d, "members");
    char line[4096];
    for (size_t i = 0; i < n->nalerts && i < PD_MEMBERS_MAX; i++) {
        kw_alert_summary(&n->alerts[i], line, sizeof line);
        char clipped[PD_MEMBER_CHARS * 4 + 8];
        kw_text_clip(clipped, sizeof clipped, line, PD_MEMBER_CHARS, false);
        cJSON_AddItemToArray(members, cJSON_CreateString(clipped));
    }
    if (n->nalerts > PD_MEMBERS_MAX)
        cJSON_AddNumberToObject(d, "more_members", (double)(n->nalerts - PD_MEMBERS_MAX));
    return d;
}

static char *pd_trigger_body(const struct pd_config *c, const struct kw_notification *n)
{
    const struct kw_alert *a = &n->alerts[0];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "routing_key", c->routing_key);
    cJSON_AddStringToObject(o, "event_action", "trigger");
    cJSON_AddStringToObject(o, "dedup_key", n->key);

    cJSON *p = cJSON_AddObjectToObject(o, "payload");
    char line[4096], more[48] = "", summary[PD_SUMMARY_CHARS * 4 + 64];
    if (c->summary_template) {
        char *text = kw_template_render(c->summary_template, n, KW_TEMPLATE_PLAIN, PD_SUMMARY_CHARS);
        kw_text_clip(summary, sizeof summary, text, PD_SUMMARY_CHARS, false);
        free(text);
    } else {
        kw_alert_headline(a, line, sizeof line); /* a page's title: the score, trend and links are in the details */
        if (n->nalerts > 1)
            snprintf(more, sizeof more, " (+%zu more)", n->nalerts - 1);
        /* The member count survives the cut. */
        kw_text_clip(summary, sizeof summary - sizeof more, line, PD_SUMMARY_CHARS - strlen(more), false);
        strcat(summary, more);
    }
    cJSON_AddStringToObject(p, "summary", summary);
    kw_json_add_clipped(p, "source", c->source, PD_FIELD_CHARS, false);
    cJSON_AddStringToObject(p, "severity", pd_severity(n));
    char ts[40];
    int64_t at = a->at_ms > 0 ? a->at_ms : n->created_ms > 0 ? n->created_ms : kw_now_ms();
    cJSON_AddStringToObject(p, "timestamp", kw_time_format(at, ts, sizeof ts));
    kw_json_add_clipped(p, "component", c->component ? c->component : a->kpi, PD_FIELD_CHARS, false);
    char labels[2048];
    if (c->group)
        kw_json_add_clipped(p, "group", c->group, PD_FIELD_CHARS, false);
    else if (a->nlabels > 0)
        kw_json_add_clipped(p, "group", kw_alert_labels_text(a, labels, sizeof labels), PD_FIELD_CHARS, false);
    kw_json_add_clipped(p, "class", c->class_name ? c->class_name : "kpi anomaly", PD_FIELD_CHARS, false);
    cJSON_AddItemToObject(p, "custom_details", pd_custom_details(n));

    cJSON *links = cJSON_AddArrayToObject(o, "links");
    for (size_t i = 0; i < n->nalerts; i++) {
        add_link(links, n->alerts[i].runbook, "Runbook", &n->alerts[i], i == 0);
        add_link(links, n->alerts[i].dashboard, "Dashboard", &n->alerts[i], i == 0);
    }
    if (c->client)
        kw_json_add_clipped(o, "client", c->client, PD_FIELD_CHARS, false);
    if (c->client_url)
        cJSON_AddStringToObject(o, "client_url", c->client_url);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int pd_prepare(void *cfg, const struct kw_notification *n, int step, struct kw_request *req,
                      char *err, size_t errlen)
{
    const struct pd_config *c = cfg;
    if (step > 0)
        return 0;
    if (n->nalerts == 0 || !n->key[0]) {
        snprintf(err, errlen, "notification has no alerts or no dedup key");
        return -1;
    }
    char *body;
    if (n->kind == KW_NOTIFY_RESOLVED) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "routing_key", c->routing_key);
        cJSON_AddStringToObject(o, "event_action", "resolve");
        cJSON_AddStringToObject(o, "dedup_key", n->key);
        body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    } else {
        body = pd_trigger_body(c, n);
    }
    kw_http_post_json(req, c->url, body, NULL);
    return 1;
}

/* "Event object is invalid: 'payload.summary' is missing; ..." from an
 * error body, or "" when the body says nothing useful. */
static void pd_error_text(const char *body, char *buf, size_t len)
{
    buf[0] = '\0';
    cJSON *o = cJSON_Parse(body ? body : "");
    if (!o)
        return;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(o, "message");
    const cJSON *errors = cJSON_GetObjectItemCaseSensitive(o, "errors");
    size_t used = 0;
    if (cJSON_IsString(msg))
        used += (size_t)snprintf(buf, len, "%s", msg->valuestring);
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, errors) {
        if (cJSON_IsString(e) && used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i++ ? "; " : used ? ": " : "", e->valuestring);
    }
    cJSON_Delete(o);
}

static int pd_render_templates(void *cfg, const struct kw_notification *n, struct kw_rendered *out)
{
    const struct pd_config *c = cfg;
    if (!c->summary_template || n->kind == KW_NOTIFY_RESOLVED)
        return 0; /* a resolve event has no summary */
    char *text = kw_template_render(c->summary_template, n, KW_TEMPLATE_PLAIN, PD_SUMMARY_CHARS);
    char *summary = xmalloc(PD_SUMMARY_CHARS * 4 + 8);
    kw_text_clip(summary, PD_SUMMARY_CHARS * 4 + 8, text, PD_SUMMARY_CHARS, false);
    free(text);
    out[0] = (struct kw_rendered){"summary_template", summary};
    return 1;
}

static void pd_classify(void *cfg, const struct kw_notification *n, int step, const struct kw_request *req,
                        const struct kw_response *resp, struct kw_send_outcome *out)
{
    kw_http_classify_default(resp, out);
    if (resp->curl_code != CURLE_OK)
        return;
    char text[KW_NOTIFY_REASON];
    pd_error_text(resp->body, text, sizeof text);
    if (out->result == KW_SEND_OK)
        snprintf(out->reason, sizeof out->reason, "HTTP %ld: %s %s", resp->status,
                 n->kind == KW_NOTIFY_RESOLVED ? "resolve" : "trigger", text[0] ? text : "accepted");
    else if (text[0])
        snprintf(out->reason, sizeof out->reason, "HTTP %ld: %s", resp->status, text);
}

const struct kw_notifier_type pagerduty_notifier = {
    .name = "pagerduty",
    .description = "PagerDuty Events API v2: triggers an alert per group (dedup key = group key) and resolves it. "
                   "payload.severity comes from the group's worst firing member: critical -> critical, "
                   "warning -> warning.",
    .options = pd_options,
    .config_size = sizeof(struct pd_config),
    /* The documented limit is about 120 events a minute per integration key. */
    .rate_per_s = 2.0,
    .burst = 10,
    .init = pd_init,
    .release = pd_release,
    .prepare = pd_prepare,
    .classify = pd_classify,
    .render_templates = pd_render_templates,
};
