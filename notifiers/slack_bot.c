/* slack_bot: posts alert groups through Slack's Web API with a bot token, so
 * a group is one thread: FIRING posts a message (its ts becomes the group's
 * ref), updates reply in its thread, and the resolve replies in the thread,
 * then edits the original (chat.update) to show it resolved. The Web API
 * answers HTTP 200 with {"ok": false, "error": ...} on failure. */
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

struct slack_bot_config {
    char *token;         /* inline secret; wiped once resolved */
    char *token_file;
    char *channel;
    char *api_url;
    char *external_url;
    struct kw_template *template;      /* the message text instead of the blocks; NULL = built-in */
    struct kw_template *template_file;
    char *secret;        /* the resolved token */
    char *auth_header;   /* "Authorization: Bearer ..." (secret) */
};

static const struct kw_option slack_bot_options[] = {
    {"token", KW_OPT_STRING, "", offsetof(struct slack_bot_config, token), KW_NORANGE,
     .desc = "Bot token (xoxb-...) with the chat:write scope, usually \"${SLACK_BOT_TOKEN}\". Required unless "
             "token_file is set."},
    {"token_file", KW_OPT_STRING, "", offsetof(struct slack_bot_config, token_file), KW_NORANGE,
     .desc = "File holding the bot token instead of token."},
    {"channel", KW_OPT_STRING, NULL, offsetof(struct slack_bot_config, channel), KW_NORANGE,
     .desc = "Channel ID (C0123ABCDEF) or name (\"#alerts\") to post to; the bot must be a member. With a name, "
             "the ID Slack answers with is kept for chat.update, which accepts IDs only."},
    {"api_url", KW_OPT_STRING, "https://slack.com/api", offsetof(struct slack_bot_config, api_url), KW_NORANGE,
     .desc = "Web API base URL; methods are appended (/chat.postMessage)."},
    {"external_url", KW_OPT_STRING, "", offsetof(struct slack_bot_config, external_url), KW_NORANGE,
     .desc = "Link to this kpiwatch's page (or any base URL); shown as a \"kpiwatch\" button when set."},
    KW_TEMPLATE_OPTIONS("template", struct slack_bot_config, template, template_file,
                        "Message template (see Templates); when set, its text (mrkdwn, values escaped) is posted "
                        "instead of the built-in blocks, in the thread and in the resolved edit alike."),
    KW_OPT_END,
};

/* Web API errors worth another try; the rest need a person. */
static const char *const transient_errors[] = {
    "ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
    "team_added_to_org", NULL,
};

/* chat.update failures that leave the resolve delivered (it is in the thread). */
static const char *const update_soft_errors[] = {
    "message_not_found", "cant_update_message", "edit_window_closed", NULL,
};

static bool in_list(const char *s, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static void slack_bot_release(void *cfg)
{
    struct slack_bot_config *c = cfg;
    kw_secret_free(c->secret);
    kw_secret_free(c->auth_header);
    c->secret = c->auth_header = NULL;
}

static int slack_bot_init(void *cfg, const char *instance, const char *path, char *err, size_t errlen)
{
    struct slack_bot_config *c = cfg;
    char key[KW_ERR_LEN], file_key[KW_ERR_LEN];
    if (kw_template_opt_pick(&c->template, &c->template_file, path, "template", err, errlen))
        return -1;
    if (!c->api_url || kw_http_check_url(c->api_url, true, NULL)) {
        snprintf(err, errlen, "%s: must be an https URL (http only to a loopback address)",
                 kw_path_key(key, sizeof key, path, "api_url"));
        return -1;
    }
    /* A plain link, not a secret: an internal http:// page is fine. */
    if (c->external_url && strncmp(c->external_url, "https://", 8) != 0 &&
        strncmp(c->external_url, "http://", 7) != 0) {
        snprintf(err, errlen, "%s: must be an http(s) URL", kw_path_key(key, sizeof key, path, "external_url"));
        return -1;
    }
    if (!c->channel) {
        snprintf(err, errlen, "%s: is required (a channel ID or #name)", kw_path_key(key, sizeof key, path, "channel"));
        return -1;
    }
    kw_path_key(key, sizeof key, path, "token");
    kw_path_key(file_key, sizeof file_key, path, "token_file");
    if (kw_secret_resolve(c->token, c->token_file, 1, key, file_key, &c->secret, err, errlen))
        return -1;
    kw_secret_free(c->token);
    c->token = NULL;
    if (strpbrk(c->secret, " \t\r\n")) {
        snprintf(err, errlen, "%s: must not contain whitespace", c->token_file ? file_key : key);
        slack_bot_release(c);
        return -1;
    }
    size_t len = strlen(c->api_url);
    while (len > 0 && c->api_url[len - 1] == '/')
        c->api_url[--len] = '\0';
    size_t hlen = strlen(c->secret) + 32;
    c->auth_header = xmalloc(hlen);
    snprintf(c->auth_header, hlen, "Authorization: Bearer %s", c->secret);
    return 0;
}

/* A ref is the message ts, or "CHANNEL_ID/ts" when the channel was
 * configured by name (chat.update needs the ID Slack answered with). */
static void split_ref(const struct slack_bot_config *c, const char *ref, char *channel, size_t clen, char *ts,
                      size_t tlen)
{
    const char *slash = strchr(ref, '/');
    if (slash) {
        snprintf(channel, clen, "%.*s", (int)(slash - ref), ref);
        snprintf(ts, tlen, "%s", slash + 1);
    } else {
        snprintf(channel, clen, "%s", c->channel);
        snprintf(ts, tlen, "%s", ref);
    }
}

/* Steps: no ref, or FIRING: 0 = new message. UPDATE with a ref: 0 = thread
 * reply. RESOLVED with a ref: 0 = thread reply, 1 = chat.update of the original. */
static int slack_bot_prepare(void *cfg, const struct kw_notification *n, int step, struct kw_request *req,
                             char *err, size_t errlen)
{
    const struct slack_bot_config *c = cfg;
    if (n->nalerts == 0) {
        snprintf(err, errlen, "empty alert group");
        return -1;
    }
    bool threaded = n->ref[0] && n->kind != KW_NOTIFY_FIRING;
    int steps = !threaded ? 1 : n->kind == KW_NOTIFY_RESOLVED ? 2 : 1;
    if (step >= steps)
        return 0;
    char channel[KW_NOTIFY_REF], ts[KW_NOTIFY_REF];
    split_ref(c, n->ref, channel, sizeof channel, ts, sizeof ts);

    cJSON *msg = cJSON_CreateObject();
    const char *method;
    if (step == 1) {
        method = "chat.update";
        cJSON_AddStringToObject(msg, "channel", channel);
        cJSON_AddStringToObject(msg, "ts", ts);
    } else {
        method = "chat.postMessage";
        cJSON_AddStringToObject(msg, "channel", threaded ? channel : c->channel);
        if (threaded)
            cJSON_AddStringToObject(msg, "thread_ts", ts);
        cJSON_AddFalseToObject(msg, "unfurl_links");
        cJSON_AddFalseToObject(msg, "unfurl_media");
    }
    if (c->template) {
        char *text = kw_template_render(c->template, n, KW_TEMPLATE_SLACK, KW_SLACK_MAX_TEXT);
        cJSON_AddStringToObject(msg, "text", text);
        free(text);
    } else {
        kw_slack_blocks_render(msg, n, c->external_url);
    }
    char *body = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);

    size_t ulen = strlen(c->api_url) + 32;
    char *url = xmalloc(ulen);
    snprintf(url, ulen, "%s/%s", c->api_url, method);
    const char *headers[] = {c->auth_header, NULL};
    kw_http_post_json(req, url, body, headers);
    free(url);
    return 1;
}

static int slack_bot_render_templates(void *cfg, const struct kw_notification *n, struct kw_rendered *out)
{
    const struct slack_bot_config *c = cfg;
    if (!c->template)
        return 0;
    out[0] = (struct kw_rendered){"template", kw_template_render(c->template, n, KW_TEMPLATE_SLACK, KW_SLACK_MAX_TEXT)};
    return 1;
}

static void slack_bot_classify(void *cfg, const struct kw_notification *n, int step, const struct kw_request *req,
                               const struct kw_response *resp, struct kw_send_outcome *out)
{
    const struct slack_bot_config *c = cfg;
    const char *method = step == 1 ? "chat.update" : "chat.postMessage";
    kw_http_classify_default(resp, out);
    if (out->result != KW_SEND_OK)
        return; /* transport, 429 with Retry-After, 5xx, other 4xx: as HTTP says */

    cJSON *json = cJSON_ParseWithLength(resp->body ? resp->body : "", resp->body_len);
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(json, "ok");
    if (!cJSON_IsBool(ok)) {
        /* Not the Web API talking (a proxy or captive portal): try again later. */
        out->result = KW_SEND_RETRY;
        snprintf(out->reason, sizeof out->reason, "%s: not a Slack API answer (HTTP %ld)", method, resp->status);
        cJSON_Delete(json);
        return;
    }
    if (cJSON_IsFalse(ok)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(json, "error");
        const char *error = cJSON_IsString(e) ? e->valuestring : "unknown_error";
        snprintf(out->reason, sizeof out->reason, "%s: %.200s", method, error);
        if (in_list(error, transient_errors)) {
            out->result = KW_SEND_RETRY;
            out->retry_after_ms = resp->retry_after_ms > 0 ? resp->retry_after_ms : 0;
        } else if (step == 1 && in_list(error, update_soft_errors)) {
            out->result = KW_SEND_OK;
            snprintf(out->reason, sizeof out->reason, "resolved in the thread; original not updated: %.160s", error);
            snprintf(out->ref, sizeof out->ref, "%s", n->ref);
        } else {
            out->result = KW_SEND_ERROR;
        }
        cJSON_Delete(json);
        return;
    }
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(json, "ts");
    const cJSON *channel = cJSON_GetObjectItemCaseSensitive(json, "channel");
    snprintf(out->reason, sizeof out->reason, "%s: ok", method);
    if (n->ref[0] && n->kind != KW_NOTIFY_FIRING) {
        /* Replies and edits keep the thread's parent as the group's ref. */
        snprintf(out->ref, sizeof out->ref, "%s", n->ref);
    } else if (n->kind == KW_NOTIFY_RESOLVED) {
        /* A resolve posted on its own ends the group: nothing will thread
         * under it, and a ref here would make the next step edit it. */
    } else if (cJSON_IsString(ts) && *ts->valuestring) {
        if (cJSON_IsString(channel) && *channel->valuestring && strcmp(channel->valuestring, c->channel) != 0)
            snprintf(out->ref, sizeof out->ref, "%s/%s", channel->valuestring, ts->valuestring);
        else
            snprintf(out->ref, sizeof out->ref, "%s", ts->valuestring);
    }
    cJSON_Delete(json);
}

const struct kw_notifier_type slack_bot_notifier = {
    .name = "slack_bot",
    .description = "Slack Web API with a bot token: one thread per alert group; updates reply in the thread and "
                   "the resolve edits the original message.",
    .options = slack_bot_options,
    .config_size = sizeof(struct slack_bot_config),
    .rate_per_s = 1, /* chat.postMessage: about one message per second per channel */
    .burst = 1,
    .init = slack_bot_init,
    .release = slack_bot_release,
    .prepare = slack_bot_prepare,
    .classify = slack_bot_classify,
    .render_templates = slack_bot_render_templates,
};
