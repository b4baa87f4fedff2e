/* slack: posts an alert group to a Slack incoming webhook as a Block Kit
 * message (see slack_blocks.c). The webhook URL is the credential: it comes
 * from ${ENV} or a file and is logged as scheme://host only. Slack answers
 * 200 "ok"; 429 (with Retry-After) and 5xx are retried; other 4xx such as
 * invalid_payload, channel_not_found or no_service are permanent. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/secret.h"
#include "../lib/xmalloc.h"
#include "http.h"
#include "notifier.h"
#include "slack_blocks.h"
#include "template.h"

struct slack_config {
    char *webhook_url;      /* inline secret; wiped once resolved */
    char *webhook_url_file;
    char *channel;
    char *username;
    char *icon_emoji;
    char *external_url;
    struct kw_template *template;      /* the message text instead of the blocks; NULL = built-in */
    struct kw_template *template_file;
    char *url;              /* the resolved webhook URL (secret) */
    char *url_log;          /* scheme://host, for logs */
};

static const struct kw_option slack_options[] = {
    {"webhook_url", KW_OPT_STRING, "", offsetof(struct slack_config, webhook_url), KW_NORANGE,
     .desc = "Incoming webhook URL (https://hooks.slack.com/services/...), usually \"${SLACK_WEBHOOK_URL}\". "
             "It is a secret: logged as scheme and host only. Required unless webhook_url_file is set."},
    {"webhook_url_file", KW_OPT_STRING, "", offsetof(struct slack_config, webhook_url_file), KW_NORANGE,
     .desc = "File holding the webhook URL (systemd credential, Kubernetes secret) instead of webhook_url."},
    {"channel", KW_OPT_STRING, "", offsetof(struct slack_config, channel), KW_NORANGE,
     .desc = "Channel override (\"#alerts\"); only legacy webhooks honour it, app webhooks post to their own channel."},
    {"username", KW_OPT_STRING, "", offsetof(struct slack_config, username), KW_NORANGE,
     .desc = "Sender name override (legacy webhooks only)."},
    {"icon_emoji", KW_OPT_STRING, "", offsetof(struct slack_config, icon_emoji), KW_NORANGE,
     .desc = "Sender icon override such as \":chart_with_upwards_trend:\" (legacy webhooks only)."},
    {"external_url", KW_OPT_STRING, "", offsetof(struct slack_config, external_url), KW_NORANGE,
     .desc = "Link to this kpiwatch's page (or any base URL); shown as a \"kpiwatch\" button when set."},
    KW_TEMPLATE_OPTIONS("template", struct slack_config, template, template_file,
                        "Message template (see Templates); when set, its text (mrkdwn, values escaped) is sent "
                        "as the message instead of the built-in blocks."),
    KW_OPT_END,
};

static void slack_release(void *cfg)
{
    struct slack_config *c = cfg;
    kw_secret_free(c->url);
    free(c->url_log);
    c->url = c->url_log = NULL;
}

static int slack_init(void *cfg, const char *instance, const char *path, char *err, size_t errlen)
{
    struct slack_config *c = cfg;
    char key[KW_ERR_LEN];
    if (kw_template_opt_pick(&c->template, &c->template_file, path, "template", err, errlen))
        return -1;
    if (kw_http_resolve_url(&c->webhook_url, c->webhook_url_file, path, "webhook_url", true, &c->url, &c->url_log,
                            err, errlen))
        return -1;
    /* A plain link, not a secret: an internal http:// page is fine. */
    if (c->external_url && strncmp(c->external_url, "https://", 8) != 0 &&
        strncmp(c->external_url, "http://", 7) != 0) {
        snprintf(err, errlen, "%s: must be an http(s) URL", kw_path_key(key, sizeof key, path, "external_url"));
        slack_release(c);
        return -1;
    }
    if (c->icon_emoji && (c->icon_emoji[0] != ':' || c->icon_emoji[strlen(c->icon_emoji) - 1] != ':' ||
                          strlen(c->icon_emoji) < 3)) {
        snprintf(err, errlen, "%s: must look like \":emoji_name:\"", kw_path_key(key, sizeof key, path, "icon_emoji"));
        slack_release(c);
        return -1;
    }
    return 0;
}

static int slack_prepare(void *cfg, const struct kw_notification *n, int step, struct kw_request *req, char *err,
                         size_t errlen)
{
    const struct slack_config *c = cfg;
    if (step > 0)
        return 0;
    if (n->nalerts == 0) {
        snprintf(err, errlen, "empty alert group");
        return -1;
    }
    cJSON *msg = cJSON_CreateObject();
    if (c->template) {
        char *text = kw_template_render(c->template, n, KW_TEMPLATE_SLACK, KW_SLACK_MAX_TEXT);
        cJSON_AddStringToObject(msg, "text", text);
        free(text);
    } else {
        kw_slack_blocks_render(msg, n, c->external_url);
    }
    if (c->channel)
        cJSON_AddStringToObject(msg, "channel", c->channel);
    if (c->username)
        cJSON_AddStringToObject(msg, "username", c->username);
    if (c->icon_emoji)
        cJSON_AddStringToObject(msg, "icon_emoji", c->icon_emoji);
    /* Runbook and dashboard links in the fallback text would unfurl into previews. */
    cJSON_AddFalseToObject(msg, "unfurl_links");
    cJSON_AddFalseToObject(msg, "unfurl_media");
    char *body = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    kw_http_post_json(req, c->url, body, NULL);
    /* libcurl copied the URL; what stays in the request is for logs. */
    free(req->url);
    req->url = xstrdup(c->url_log);
    return 1;
}

static int slack_render_templates(void *cfg, const struct kw_notification *n, struct kw_rendered *out)
{
    const struct slack_config *c = cfg;
    if (!c->template)
        return 0;
    out[0] = (struct kw_rendered){"template", kw_template_render(c->template, n, KW_TEMPLATE_SLACK, KW_SLACK_MAX_TEXT)};
    return 1;
}

static void slack_classify(void *cfg, const struct kw_notification *n, int step, const struct kw_request *req,
                           const struct kw_response *resp, struct kw_send_outcome *out)
{
    /* Slack's webhook answers follow HTTP: 200 "ok", 429/5xx transient, other
     * 4xx carry the error code (invalid_payload, no_service) as the body. */
    kw_http_classify_default(resp, out);
}

const struct kw_notifier_type slack_notifier = {
    .name = "slack",
    .description = "Slack incoming webhook: a Block Kit message per alert group, with values, labels, sparkline "
                   "and runbook/dashboard buttons.",
    .options = slack_options,
    .config_size = sizeof(struct slack_config),
    .rate_per_s = 1, /* Slack: one message per second per webhook, short bursts tolerated */
    .burst = 1,
    .init = slack_init,
    .release = slack_release,
    .prepare = slack_prepare,
    .classify = slack_classify,
    .render_templates = slack_render_templates,
};
