/* webhook: posts an alert group as Prometheus Alertmanager's webhook JSON
 * (version 4), so receivers written for Alertmanager work unchanged. With
 * an HMAC secret the exact body is signed (HMAC-SHA256, "sha256=<hex>", as
 * GitHub-style verifiers expect). 2xx is success; 408, 429 and 5xx are
 * retried honouring Retry-After; other 4xx are permanent. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../lib/secret.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "http.h"
#include "notifier.h"
#include "template.h"

/* Alertmanager's zero time: what it sends as endsAt for a firing alert. */
#define ZERO_TIME "0001-01-01T00:00:00Z"

struct webhook_config {
    char *url;               /* inline secret; wiped once resolved */
    char *url_file;
    int max_alerts;
    char *hmac_secret;       /* inline secret; wiped once resolved */
    char *hmac_secret_file;
    char *signature_header;
    char *external_url;
    struct kw_template *body_template; /* the whole body instead of Alertmanager's JSON; NULL = built-in */
    struct kw_template *body_template_file;
    int body_escape;         /* enum kw_template_escape: KW_TEMPLATE_PLAIN or KW_TEMPLATE_JSON */
    char *target;            /* the resolved URL (may hold a token) */
    char *target_log;        /* scheme://host, for logs */
    char *key;               /* the resolved HMAC key; NULL = unsigned */
    char *receiver;          /* the receiver's name, for "receiver" */
};

/* Indexes are enum kw_template_escape values. */
static const char *const webhook_escapes[] = {"none", "json", NULL};

static const struct kw_option webhook_options[] = {
    {"url", KW_OPT_STRING, "", offsetof(struct webhook_config, url), KW_NORANGE,
     .desc = "Receiver URL; may hold a token, so it is treated as a secret (logged as scheme and host). "
             "Required unless url_file is set."},
    {"url_file", KW_OPT_STRING, "", offsetof(struct webhook_config, url_file), KW_NORANGE,
     .desc = "File holding the receiver URL instead of url."},
    {"max_alerts", KW_OPT_INT, "0", offsetof(struct webhook_config, max_alerts), 0, 100000,
     .desc = "Most alerts per message; the rest are counted in truncatedAlerts. 0 = all (as in Alertmanager)."},
    {"hmac_secret", KW_OPT_STRING, "", offsetof(struct webhook_config, hmac_secret), KW_NORANGE,
     .desc = "Key for signing the body with HMAC-SHA256, usually \"${WEBHOOK_HMAC_SECRET}\"; unset = unsigned."},
    {"hmac_secret_file", KW_OPT_STRING, "", offsetof(struct webhook_config, hmac_secret_file), KW_NORANGE,
     .desc = "File holding the HMAC key instead of hmac_secret."},
    {"signature_header", KW_OPT_STRING, "X-Kpiwatch-Signature", offsetof(struct webhook_config, signature_header),
     KW_NORANGE,
     .desc = "Header carrying \"sha256=<hex HMAC of the body>\" when signing; X-Kpiwatch-Timestamp (epoch "
             "seconds) is sent with it."},
    {"external_url", KW_OPT_STRING, "", offsetof(struct webhook_config, external_url), KW_NORANGE,
     .desc = "Sent as externalURL, and as generatorURL of alerts without a dashboard link."},
    KW_TEMPLATE_OPTIONS("body_template", struct webhook_config, body_template, body_template_file,
                        "Template of the whole request body (see Templates), sent instead of Alertmanager's JSON "
                        "with Content-Type application/json: the template's author writes the JSON around the "
                        "values."),
    {"body_escape", KW_OPT_ENUM, "none", offsetof(struct webhook_config, body_escape), KW_NORANGE,
     .choices = webhook_escapes,
     .desc = "How body_template writes values: none (as they are) or json (escaped for the inside of a JSON "
             "string, so a quote or newline in a label cannot break the body)."},
    KW_OPT_END,
};

/* An HTTP header name: RFC 9110 token characters only. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

static void webhook_release(void *cfg)
{
    struct webhook_config *c = cfg;
    kw_secret_free(c->target);
    kw_secret_free(c->key);
    free(c->target_log);
    free(c->receiver);
    c->target = c->key = c->target_log = c->receiver = NULL;
}

static int webhook_init(void *cfg, const char *instance, const char *path, char *err, size_t errlen)
{
    struct webhook_config *c = cfg;
    char key[KW_ERR_LEN], file_key[KW_ERR_LEN];
    if (kw_template_opt_pick(&c->body_template, &c->body_template_file, path, "body_template", err, errlen))
        return -1;
    if (kw_http_resolve_url(&c->url, c->url_file, path, "url", false, &c->target, &c->target_log, err, errlen))
        return -1;
    kw_path_key(key, sizeof key, path, "hmac_secret");
    kw_path_key(file_key, sizeof file_key, path, "hmac_secret_file");
    if (kw_secret_resolve(c->hmac_secret, c->hmac_secret_file, 0, key, file_key, &c->key, err, errlen)) {
        webhook_release(c);
        return -1;
    }
    kw_secret_free(c->hmac_secret);
    c->hmac_secret = NULL;
    if (!c->signature_header || !is_token(c->signature_header)) {
        snprintf(err, errlen, "%s: must be a header name (letters, digits, - and _)",
                 kw_path_key(key, sizeof key, path, "signature_header"));
        webhook_release(c);
        return -1;
    }
    if (c->external_url && kw_http_check_url(c->external_url, false, NULL)) {
        snprintf(err, errlen, "%s: must be an http(s) URL with a host",
                 kw_path_key(key, sizeof key, path, "external_url"));
        webhook_release(c);
        return -1;
    }
    c->receiver = xstrdup(instance ? instance : "");
    return 0;
}

/* A Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*): other characters become '_'. */
static void label_name(const char *in, char *out, size_t len)
{
    size_t n = 0;
    if (isdigit((unsigned char)*in) && n + 1 < len)
        out[n++] = '_';
    for (; *in && n + 1 < len; in++)
        out[n++] = (isalnum((unsigned char)*in) || *in == '_') && (unsigned char)*in < 0x80 ? *in : '_';
    out[n] = '\0';
}

static cJSON *alert_labels(const struct kw_alert *a)
{
    cJSON *labels = cJSON_CreateObject();
    cJSON_AddStringToObject(labels, "alertname", a->kpi);
    cJSON_AddStringToObject(labels, "severity", a->severity == KW_SEV_CRITICAL ? "critical" : "warning");
    for (int i = 0; i < a->nlabels && i < KW_ALERT_MAX_LABELS; i++) {
        char name[KW_ALERT_LABEL_NAME + 16];
        label_name(a->labels[i].name, name, sizeof name);
        /* A series label that clashes with ours keeps its value under Prometheus' "exported_" prefix. */
        if (cJSON_GetObjectItemCaseSensitive(labels, name)) {
            char renamed[sizeof name + 16];
            snprintf(renamed, sizeof renamed, "exported_%s", name);
            snprintf(name, sizeof name, "%s", renamed);
        }
        if (!cJSON_GetObjectItemCaseSensitive(labels, name))
            cJSON_AddStringToObject(labels, name, a->labels[i].value);
    }
    return labels;
}

static cJSON *alert_annotations(const struct kw_alert *a)
{
    char summary[2048], obs[32], exp[32], lo[32], hi[32], band[80], impact[160];
    cJSON *ann = cJSON_CreateObject();
    cJSON_AddStringToObject(ann, "summary", kw_alert_summary(a, summary, sizeof summary));
    if (a->description[0])
        cJSON_AddStringToObject(ann, "description", a->description);
    if (a->runbook[0])
        cJSON_AddStringToObject(ann, "runbook_url", a->runbook);
    if (a->dashboard[0])
        cJSON_AddStringToObject(ann, "dashboard_url", a->dashboard);
    cJSON_AddStringToObject(ann, "observed", kw_alert_value_text(a, a->observed, obs, sizeof obs));
    cJSON_AddStringToObject(ann, "expected", kw_alert_value_text(a, a->expected, exp, sizeof exp));
    snprintf(band, sizeof band, "%s..%s", kw_alert_value_text(a, a->lower, lo, sizeof lo),
             kw_alert_value_text(a, a->upper, hi, sizeof hi));
    cJSON_AddStringToObject(ann, "expected_range", band);
    if (kw_alert_impact_text(a, impact, sizeof impact)[0])
        cJSON_AddStringToObject(ann, "impact", impact);
    return ann;
}

static cJSON *alert_json(const struct webhook_config *c, const struct kw_alert *a)
{
    char ts[40];
    bool resolved = a->status == KW_ALERT_RESOLVED;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", resolved ? "resolved" : "firing");
    cJSON_AddItemToObject(o, "labels", alert_labels(a));
    cJSON_AddItemToObject(o, "annotations", alert_annotations(a));
    cJSON_AddStringToObject(o, "startsAt", kw_time_format(a->since_ms, ts, sizeof ts));
    /* The end of the incident, as the resolved summary counts it. */
    cJSON_AddStringToObject(o, "endsAt",
                            resolved ? kw_time_format(a->at_ms + a->interval_ms, ts, sizeof ts) : ZERO_TIME);
    cJSON_AddStringToObject(o, "generatorURL",
                            a->dashboard[0] ? a->dashboard : c->external_url ? c->external_url : "");
    cJSON_AddStringToObject(o, "fingerprint", a->key);
    return o;
}

/* The name/value pairs every alert's object under member has (Alertmanager's commonLabels). */
static cJSON *common(const cJSON *alerts, const char *member)
{
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(alerts, 0), member);
    cJSON *out = cJSON_Duplicate(first, 1);
    const cJSON *a;
    cJSON_ArrayForEach(a, alerts) {
        const cJSON *obj = cJSON_GetObjectItemCaseSensitive(a, member);
        cJSON *kv = out->child;
        while (kv) {
            cJSON *next = kv->next;
            const cJSON *other = cJSON_GetObjectItemCaseSensitive(obj, kv->string);
            if (!cJSON_IsString(other) || strcmp(other->valuestring, kv->valuestring) != 0)
                cJSON_DeleteItemFromObjectCaseSensitive(out, kv->string);
            kv = next;
        }
    }
    return out;
}

static char *render(const struct webhook_config *c, const struct kw_notification *n)
{
    size_t sent = n->nalerts;
    if (c->max_alerts > 0 && sent > (size_t)c->max_alerts)
        sent = (size_t)c->max_alerts;
    cJSON *alerts = cJSON_CreateArray();
    bool firing = false;
    for (size_t i = 0; i < sent; i++) {
        cJSON_AddItemToArray(alerts, alert_json(c, &n->alerts[i]));
        firing |= n->alerts[i].status == KW_ALERT_FIRING;
    }
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "version", "4");
    cJSON_AddStringToObject(msg, "groupKey", n->key);
    cJSON_AddNumberToObject(msg, "truncatedAlerts", (double)(n->nalerts - sent));
    cJSON_AddStringToObject(msg, "status", firing ? "firing" : "resolved");
    cJSON_AddStringToObject(msg, "receiver", c->receiver);
    /* The route's group_by values, as Alertmanager sends them ("kpi" is
     * alertname here); a spool from before they were kept states what every
     * member shares instead. */
    if (n->ngroup_labels > 0) {
        cJSON *gl = cJSON_AddObjectToObject(msg, "groupLabels");
        for (int i = 0; i < n->ngroup_labels; i++)
            cJSON_AddStringToObject(gl, strcmp(n->group_labels[i].name, "kpi") == 0 ? "alertname" : n->group_labels[i].name,
                                    n->group_labels[i].value);
    } else {
        cJSON_AddItemToObject(msg, "groupLabels", common(alerts, "labels"));
    }
    cJSON_AddItemToObject(msg, "commonLabels", common(alerts, "labels"));
    cJSON_AddItemToObject(msg, "commonAnnotations", common(alerts, "annotations"));
    cJSON_AddStringToObject(msg, "externalURL", c->external_url ? c->external_url : "");
    cJSON_AddItemToObject(msg, "alerts", alerts);
    char *text = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    return text;
}

static int webhook_prepare(void *cfg, const struct kw_notification *n, int step, struct kw_request *req,
                           char *err, size_t errlen)
{
    const struct webhook_config *c = cfg;
    if (step > 0)
        return 0;
    if (n->nalerts == 0) {
        snprintf(err, errlen, "empty alert group");
        return -1;
    }
    char *body = c->body_template ? kw_template_render(c->body_template, n, c->body_escape, KW_TEMPLATE_MAX_OUTPUT)
                                  : render(c, n);
    char sig_header[320] = "", ts_header[64] = "";
    if (c->key) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        if (!HMAC(EVP_sha256(), c->key, (int)strlen(c->key), (const unsigned char *)body, strlen(body), mac,
                  &maclen)) {
            snprintf(err, errlen, "HMAC-SHA256 signing failed");
            free(body);
            return -1;
        }
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        for (unsigned int i = 0; i < maclen; i++)
            snprintf(hex + 2 * i, 3, "%02x", mac[i]);
        snprintf(sig_header, sizeof sig_header, "%s: sha256=%s", c->signature_header, hex);
        snprintf(ts_header, sizeof ts_header, "X-Kpiwatch-Timestamp: %lld", (long long)(kw_now_ms() / 1000));
    }
    const char *headers[] = {sig_header, ts_header, NULL};
    kw_http_post_json(req, c->target, body, c->key ? headers : NULL);
    free(req->url);
    req->url = xstrdup(c->target_log);
    return 1;
}

static int webhook_render_templates(void *cfg, const struct kw_notification *n, struct kw_rendered *out)
{
    const struct webhook_config *c = cfg;
    if (!c->body_template)
        return 0;
    out[0] = (struct kw_rendered){"body_template",
                                  kw_template_render(c->body_template, n, c->body_escape, KW_TEMPLATE_MAX_OUTPUT)};
    return 1;
}

static void webhook_classify(void *cfg, const struct kw_notification *n, int step, const struct kw_request *req,
                             const struct kw_response *resp, struct kw_send_outcome *out)
{
    kw_http_classify_default(resp, out);
}

const struct kw_notifier_type webhook_notifier = {
    .name = "webhook",
    .description = "Generic webhook with Prometheus Alertmanager's JSON (version 4), optionally signed with "
                   "HMAC-SHA256.",
    .options = webhook_options,
    .config_size = sizeof(struct webhook_config),
    .rate_per_s = 0, /* our own receivers: no documented limit */
    .burst = 1,
    .init = webhook_init,
    .release = webhook_release,
    .prepare = webhook_prepare,
    .classify = webhook_classify,
    .render_templates = webhook_render_templates,
};
