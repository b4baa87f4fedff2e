/* The slack_bot notifier against a local Slack Web API
 * (tests/receivers/svc_slack_bot.py: bearer token, channel, thread_ts,
 * chat.update needing a channel ID and a ts it issued): one thread per alert
 * group, {"ok": false} answers on HTTP 200, rate limits, a hanging service,
 * and the token options without leaking the token. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/timefmt.h"
#include "rig.h"

#define TOKEN "xoxb-1111-2222-kwtesttoken"
#define CHANNEL "C0TESTCHAN1"

static struct fake_service fake;

static void start_api(const char *script)
{
    setenv("KW_SLACK_BOT_TOKEN", TOKEN, 1); /* the fake accepts only this token */
    fake_start(&fake, "slack_bot", script);
}

static void stop_fake(void)
{
    fake_stop(&fake);
}

/* A group of count checkout alerts, all resolved for a resolve. */
static void make_group(struct kw_notification *n, size_t count, int kind)
{
    rig_group(n, count, kind, "product-team", "checkout/step_dropoff_rate");
    if (kind == KW_NOTIFY_RESOLVED)
        for (size_t i = 0; i < count; i++)
            rig_resolve(&n->alerts[i]);
}

static void bot_receiver(struct kw_receiver *r, const char *token, const char *channel)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\":\"product-team\",\"type\":\"slack_bot\",\"token\":\"%s\",\"channel\":\"%s\","
             "\"api_url\":\"%s/api\"}",
             token, channel, fake.base_url);
    rig_parse_ok(r, json);
}

static void usual_receiver(struct kw_receiver *r)
{
    bot_receiver(r, TOKEN, CHANNEL);
}

static const struct rig_target slack_bot = {&fake, start_api, usual_receiver, make_group};

/* Send a group of count alerts of kind through r, as a reply or edit
 * under ref when one is given, and check it went out OK; the outcome. */
static struct kw_send_outcome send_ok(struct kw_receiver *r, size_t count, int kind, const char *ref)
{
    struct kw_notification n;
    make_group(&n, count, kind);
    if (ref)
        snprintf(n.ref, sizeof n.ref, "%s", ref);
    struct kw_send_outcome out;
    kw_notify_send_now(r, &n, &rig_delivery, &out);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    kw_notification_release(&n);
    return out;
}

/* A Slack message ts: seconds, '.', six digits. */
static int is_ts(const char *s)
{
    size_t i = 0;
    while (isdigit((unsigned char)s[i]))
        i++;
    if (i == 0 || s[i] != '.')
        return 0;
    for (int k = 1; k <= 6; k++)
        if (!isdigit((unsigned char)s[i + k]))
            return 0;
    return s[i + 7] == '\0';
}

Test(slack_bot, firing_posts_a_message_and_keeps_its_ts, .fini = stop_fake, .timeout = 20)
{
    start_api("[]");
    struct kw_receiver r;
    bot_receiver(&r, TOKEN, CHANNEL);
    cr_assert_eq(r.rate_per_s, 1.0);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out;
    kw_notify_send_now(&r, &n, &rig_delivery, &out);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert(is_ts(out.ref), "ref \"%s\" is not a message ts", out.ref);

    cJSON *all = rig_requests(&fake, 1);
    const cJSON *req = cJSON_GetArrayItem(all, 0);
    cr_assert_str_eq(rig_str_at(req, "path"), "/api/chat.postMessage");
    cr_assert_str_eq(rig_str_at(req, "headers.authorization"), "Bearer " TOKEN);
    cr_assert(strncmp(rig_str_at(req, "headers.content-type"), "application/json; charset=utf-8", 31) == 0);
    const cJSON *body = rig_at(req, "json");
    cr_assert_str_eq(rig_str_at(body, "channel"), CHANNEL);
    cr_assert(rig_at(body, "thread_ts") == NULL);
    char summary[2048];
    cr_assert_str_eq(rig_str_at(body, "text"), kw_alert_summary(&n.alerts[0], summary, sizeof summary));
    cr_assert_str_eq(rig_str_at(body, "blocks[0].text.text"),
                     ":rotating_light: FIRING critical · step_dropoff_rate · journey=checkout, step=payment");
    cr_assert(strncmp(rig_str_at(body, "blocks[1].text.text"), "*Observed* 34.6% vs *expected* 6.0% (normal 1.1%..12.3%)",
                      56) == 0);
    cr_assert_str_eq(rig_str_at(body, "blocks[4].elements[0].url"), n.alerts[0].runbook);
    cr_assert_str_eq(rig_str_at(body, "blocks[4].elements[1].url"), n.alerts[0].dashboard);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(slack_bot, group_is_one_thread_and_the_resolve_edits_the_original, .fini = stop_fake, .timeout = 20)
{
    start_api("[]");
    struct kw_receiver r;
    bot_receiver(&r, TOKEN, CHANNEL);
    struct kw_send_outcome out = send_ok(&r, 3, KW_NOTIFY_FIRING, NULL);
    char ref[KW_NOTIFY_REF];
    snprintf(ref, sizeof ref, "%s", out.ref);
    cr_assert(is_ts(ref), "%s", ref);

    out = send_ok(&r, 3, KW_NOTIFY_UPDATE, ref);
    cr_assert_str_eq(out.ref, ref, "a reply must keep the parent as the group's ref");

    out = send_ok(&r, 3, KW_NOTIFY_RESOLVED, ref);
    cr_assert_str_eq(out.reason, "chat.update: ok");
    cr_assert_str_eq(out.ref, ref);

    cJSON *all = rig_requests(&fake, 4);
    const cJSON *update = cJSON_GetArrayItem(all, 1);
    cr_assert_str_eq(rig_str_at(update, "path"), "/api/chat.postMessage");
    cr_assert_str_eq(rig_str_at(update, "json.thread_ts"), ref);
    cr_assert(strstr(rig_str_at(update, "json.blocks[0].text.text"), "UPDATED critical") != NULL);
    const cJSON *reply = cJSON_GetArrayItem(all, 2);
    cr_assert_str_eq(rig_str_at(reply, "path"), "/api/chat.postMessage");
    cr_assert_str_eq(rig_str_at(reply, "json.channel"), CHANNEL);
    cr_assert_str_eq(rig_str_at(reply, "json.thread_ts"), ref);
    cr_assert_str_eq(rig_str_at(reply, "json.blocks[0].text.text"),
                     ":white_check_mark: RESOLVED · step_dropoff_rate · journey=checkout, step=payment (+2 more)");
    const cJSON *edit = cJSON_GetArrayItem(all, 3);
    cr_assert_str_eq(rig_str_at(edit, "path"), "/api/chat.update");
    cr_assert_str_eq(rig_str_at(edit, "json.channel"), CHANNEL);
    cr_assert_str_eq(rig_str_at(edit, "json.ts"), ref);
    cr_assert(rig_at(edit, "json.thread_ts") == NULL);
    cr_assert(strncmp(rig_str_at(edit, "json.blocks[0].text.text"), ":white_check_mark: RESOLVED", 27) == 0);
    cr_assert(strstr(rig_str_at(edit, "json.blocks[1].text.text"), "*Lasted* 30m (since 2024-11-23T09:00:00Z)") != NULL,
              "%s", rig_str_at(edit, "json.blocks[1].text.text"));
    cJSON_Delete(all);
    kw_receiver_release(&r);
}

Test(slack_bot, channel_by_name_keeps_the_id_for_chat_update, .fini = stop_fake, .timeout = 20)
{
    start_api("[]");
    struct kw_receiver r;
    bot_receiver(&r, TOKEN, "#checkout-alerts");
    struct kw_send_outcome out = send_ok(&r, 1, KW_NOTIFY_FIRING, NULL);
    /* The fake answers a #name with the ID C0KWFAKE01, as Slack answers with the real ID. */
    cr_assert(strncmp(out.ref, "C0KWFAKE01/", 11) == 0 && is_ts(out.ref + 11), "%s", out.ref);
    char ref[KW_NOTIFY_REF];
    snprintf(ref, sizeof ref, "%s", out.ref);

    send_ok(&r, 1, KW_NOTIFY_RESOLVED, ref);
    cJSON *all = rig_requests(&fake, 3);
    cr_assert_str_eq(rig_str_at(cJSON_GetArrayItem(all, 0), "json.channel"), "#checkout-alerts");
    cr_assert_str_eq(rig_str_at(cJSON_GetArrayItem(all, 1), "json.channel"), "C0KWFAKE01");
    cr_assert_str_eq(rig_str_at(cJSON_GetArrayItem(all, 1), "json.thread_ts"), ref + 11);
    cr_assert_str_eq(rig_str_at(cJSON_GetArrayItem(all, 2), "path"), "/api/chat.update");
    cr_assert_str_eq(rig_str_at(cJSON_GetArrayItem(all, 2), "json.channel"), "C0KWFAKE01");
    cr_assert_str_eq(rig_str_at(cJSON_GetArrayItem(all, 2), "json.ts"), ref + 11);
    cJSON_Delete(all);
    kw_receiver_release(&r);
}

Test(slack_bot, update_or_resolve_without_a_ref_posts_a_new_message, .fini = stop_fake, .timeout = 20)
{
    start_api("[]");
    struct kw_receiver r;
    bot_receiver(&r, TOKEN, CHANNEL);
    struct kw_send_outcome out = send_ok(&r, 1, KW_NOTIFY_UPDATE, NULL);
    cr_assert(is_ts(out.ref), "%s", out.ref);
    out = send_ok(&r, 1, KW_NOTIFY_RESOLVED, NULL);
    cr_assert_str_eq(out.ref, "", "nothing threads under a resolve, and it must not edit itself");
    cJSON *all = rig_requests(&fake, 2);
    cr_assert(rig_at(cJSON_GetArrayItem(all, 0), "json.thread_ts") == NULL);
    cr_assert_str_eq(rig_str_at(cJSON_GetArrayItem(all, 1), "path"), "/api/chat.postMessage");
    cr_assert(rig_at(cJSON_GetArrayItem(all, 1), "json.thread_ts") == NULL);
    cJSON_Delete(all);
    kw_receiver_release(&r);
}

Test(slack_bot, resolve_of_a_deleted_original_is_still_delivered, .fini = stop_fake, .timeout = 20)
{
    start_api("[]");
    struct kw_receiver r;
    bot_receiver(&r, TOKEN, CHANNEL);
    /* under a ts the fake never issued */
    struct kw_send_outcome out = send_ok(&r, 1, KW_NOTIFY_RESOLVED, "1700000000.000001");
    cr_assert_str_eq(out.reason, "resolved in the thread; original not updated: message_not_found");
    cJSON *all = rig_requests(&fake, 2);
    cJSON_Delete(all);
    kw_receiver_release(&r);
}

Test(slack_bot, group_of_80_stays_within_block_limits, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&slack_bot, &s, 80, KW_NOTIFY_FIRING);
    const cJSON *body = rig_at(rig_send_ok(&slack_bot, &s), "json");
    cr_assert_eq(cJSON_GetArraySize(rig_at(body, "blocks")), 50);
    cr_assert_str_eq(rig_str_at(body, "blocks[49].elements[0].text"), "…and 36 more series (80 in this group)");
    rig_sent_release(&s);
}

ParameterizedTestParameters(slack_bot, answers)
{
    static struct rig_answer_case cases[] = {
        {"[{\"status\":200,\"body\":{\"ok\":false,\"error\":\"channel_not_found\"}}]", KW_SEND_ERROR, 0,
         "chat.postMessage: channel_not_found"},
        {"[{\"status\":200,\"body\":{\"ok\":false,\"error\":\"not_in_channel\"}}]", KW_SEND_ERROR, 0,
         "chat.postMessage: not_in_channel"},
        {"[{\"status\":200,\"body\":{\"ok\":false,\"error\":\"invalid_blocks\"}}]", KW_SEND_ERROR, 0,
         "chat.postMessage: invalid_blocks"},
        {"[{\"status\":200,\"headers\":{\"Retry-After\":\"7\"},\"body\":{\"ok\":false,\"error\":\"ratelimited\"}}]",
         KW_SEND_RETRY, 7000, "chat.postMessage: ratelimited"},
        {"[{\"status\":429,\"headers\":{\"Retry-After\":\"7\"},\"body\":{\"ok\":false,\"error\":\"ratelimited\"}}]",
         KW_SEND_RETRY, 7000, "HTTP 429: {\"ok\": false, \"error\": \"ratelimited\"}"},
        {"[{\"status\":200,\"body\":{\"ok\":false,\"error\":\"internal_error\"}}]", KW_SEND_RETRY, 0,
         "chat.postMessage: internal_error"},
        {"[{\"status\":500,\"body\":\"\"}]", KW_SEND_RETRY, 0, "HTTP 500"},
        {"[{\"status\":200,\"body\":\"<html>captive portal</html>\"}]", KW_SEND_RETRY, 0,
         "chat.postMessage: not a Slack API answer (HTTP 200)"},
        {"[{\"status\":400,\"body\":\"invalid_payload\"}]", KW_SEND_ERROR, 0, "HTTP 400: invalid_payload"},
    };
    return cr_make_param_array(struct rig_answer_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct rig_answer_case *c, slack_bot, answers, .fini = stop_fake, .timeout = 20)
{
    struct kw_send_outcome out;
    rig_check_answer(&slack_bot, c, &out);
    cr_assert_str_eq(out.ref, "");
}

Test(slack_bot, wrong_token_is_invalid_auth, .fini = stop_fake, .timeout = 20)
{
    start_api("[]");
    struct kw_receiver r;
    bot_receiver(&r, "xoxb-someone-elses-token", CHANNEL);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out;
    kw_notify_send_now(&r, &n, &rig_delivery, &out);
    cr_assert_eq(out.result, KW_SEND_ERROR);
    cr_assert_str_eq(out.reason, "chat.postMessage: invalid_auth");
    cJSON *all = fake_requests(&fake);
    cr_assert_eq(cJSON_GetArraySize(rig_at(cJSON_GetArrayItem(all, 0), "problems")), 1);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(slack_bot, hanging_api_is_retried_after_the_timeout, .fini = stop_fake, .timeout = 20)
{
    rig_check_hang(&slack_bot);
}

Test(slack_bot, config_errors_name_the_key_never_the_token)
{
    char err[KW_ERR_LEN];
    cr_assert_eq(rig_parse_err("{\"name\":\"b\",\"type\":\"slack_bot\",\"channel\":\"C0TESTCHAN1\"}", err, sizeof err), -1);
    cr_assert_str_eq(err, "receivers[0].token: is required (or receivers[0].token_file, a file holding it)");

    cr_assert_eq(rig_parse_err("{\"name\":\"b\",\"type\":\"slack_bot\",\"token\":\"xoxb-topsecret\"}", err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].channel: is required");
    cr_assert_eq(
        rig_parse_err("{\"name\":\"b\",\"type\":\"slack_bot\",\"token\":\"xoxb-topsecret\",\"channel\":\"\"}", err,
                  sizeof err),
        -1);
    cr_assert(strncmp(err, "receivers[0].channel: is required", 33) == 0, "%s", err);

    cr_assert_eq(rig_parse_err("{\"name\":\"b\",\"type\":\"slack_bot\",\"channel\":\"C0TESTCHAN1\",\"token\":"
                           "\"xoxb-topsecret\",\"token_file\":\"/run/credentials/token\"}",
                           err, sizeof err),
                 -1);
    cr_assert(strstr(err, "receivers[0].token: set either this or receivers[0].token_file") == err, "%s", err);
    cr_assert(strstr(err, "topsecret") == NULL, "%s", err);

    cr_assert_eq(rig_parse_err("{\"name\":\"b\",\"type\":\"slack_bot\",\"channel\":\"C0TESTCHAN1\",\"token\":"
                           "\"xoxb-top secret\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].token: must not contain whitespace");

    cr_assert_eq(rig_parse_err("{\"name\":\"b\",\"type\":\"slack_bot\",\"channel\":\"C0TESTCHAN1\",\"token\":"
                           "\"xoxb-topsecret\",\"api_url\":\"slack.com/api\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].api_url: must be an https URL (http only to a loopback address)");
    /* The bearer token must not go out in clear text. */
    cr_assert_eq(rig_parse_err("{\"name\":\"b\",\"type\":\"slack_bot\",\"channel\":\"C0TESTCHAN1\",\"token\":"
                           "\"xoxb-topsecret\",\"api_url\":\"http://slack.com/api\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].api_url: must be an https URL (http only to a loopback address)");
}

Test(slack_bot, token_file_is_read, .fini = stop_fake, .timeout = 20)
{
    start_api("[]");
    char path[192];
    rig_write_file(&fake, "bot-token", TOKEN "\n", path, sizeof path);
    char json[512];
    snprintf(json, sizeof json,
             "{\"name\":\"b\",\"type\":\"slack_bot\",\"token_file\":\"%s\",\"channel\":\"%s\",\"api_url\":\"%s/api/\"}",
             path, CHANNEL, fake.base_url);
    struct kw_receiver r;
    rig_parse_ok(&r, json);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out;
    kw_notify_send_now(&r, &n, &rig_delivery, &out);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cJSON *all = rig_requests(&fake, 1);
    cr_assert_str_eq(rig_str_at(cJSON_GetArrayItem(all, 0), "headers.authorization"), "Bearer " TOKEN);
    cr_assert_str_eq(rig_str_at(cJSON_GetArrayItem(all, 0), "path"), "/api/chat.postMessage");
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}
