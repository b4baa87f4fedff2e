/* The slack notifier against a local Slack incoming-webhook receiver
 * (tests/receivers/svc_slack.py, which checks Block Kit limits as Slack
 * does): the exact message for a rate alert, group members, the 50-block
 * and 150/3000-character limits, mrkdwn escaping, every answer class, a
 * hanging service, and the webhook_url options without leaking the secret. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/timefmt.h"
#include "rig.h"

#define HOOK_PATH "/services/T0KW/B0KW/hooksecret42"

static struct fake_service fake;

static void stop_fake(void)
{
    fake_stop(&fake);
}

/* A group of count checkout alerts. */
static void make_group(struct kw_notification *n, size_t count, int kind)
{
    rig_group(n, count, kind, "product-team", "checkout/step_dropoff_rate");
}

/* A receiver pointed at the fake. */
static void slack_receiver(struct kw_receiver *r, const char *extra)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"name\":\"product-team\",\"type\":\"slack\",\"webhook_url\":\"%s%s\"%s%s}",
             fake.base_url, HOOK_PATH, extra ? "," : "", extra ? extra : "");
    rig_parse_ok(r, json);
}

static void start(const char *script)
{
    fake_start(&fake, "slack", script);
}

static void usual_receiver(struct kw_receiver *r)
{
    slack_receiver(r, NULL);
}

static const struct rig_target slack = {&fake, start, usual_receiver, make_group};

Test(slack, rate_alert_message_is_exact, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "slack", "[]");
    struct kw_receiver r;
    slack_receiver(&r, "\"channel\":\"#checkout-alerts\",\"username\":\"kpiwatch\","
                       "\"icon_emoji\":\":chart_with_upwards_trend:\"");
    cr_assert_eq(r.rate_per_s, 1.0);
    cr_assert_eq(r.burst, 1);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *req = rig_send_one(&fake, &r, &n, &out, &all);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);

    cr_assert_str_eq(rig_str_at(req, "method"), "POST");
    cr_assert_str_eq(rig_str_at(req, "path"), HOOK_PATH);
    const cJSON *body = rig_at(req, "json");
    char summary[2048];
    cr_assert_str_eq(rig_str_at(body, "text"), kw_alert_summary(&n.alerts[0], summary, sizeof summary));
    cr_assert_str_eq(rig_str_at(body, "channel"), "#checkout-alerts");
    cr_assert_str_eq(rig_str_at(body, "username"), "kpiwatch");
    cr_assert_str_eq(rig_str_at(body, "icon_emoji"), ":chart_with_upwards_trend:");
    cr_assert(rig_at(body, "attachments") == NULL);

    cr_assert_eq(cJSON_GetArraySize(rig_at(body, "blocks")), 5);
    cr_assert_str_eq(rig_str_at(body, "blocks[0].type"), "header");
    cr_assert_str_eq(rig_str_at(body, "blocks[0].text.type"), "plain_text");
    cr_assert_str_eq(rig_str_at(body, "blocks[0].text.text"),
                     ":rotating_light: FIRING critical · step_dropoff_rate · journey=checkout, step=payment");
    cr_assert_str_eq(rig_str_at(body, "blocks[1].text.type"), "mrkdwn");
    cr_assert_str_eq(rig_str_at(body, "blocks[1].text.text"),
                     "*Observed* 34.6% vs *expected* 6.0% (normal 1.1%..12.3%)\n"
                     "*Change* +28.6 pts (n=179)\n"
                     "*Since* 2024-11-23T09:00:00Z (10m, 2 intervals)\n"
                     "*Impact* +93 lost customers over expected (~4185 EUR)\n"
                     "Share of customers who leave the checkout at this step");
    cr_assert_str_eq(rig_str_at(body, "blocks[2].fields[0].text"), "*journey*\ncheckout");
    cr_assert_str_eq(rig_str_at(body, "blocks[2].fields[1].text"), "*step*\npayment");
    cr_assert_str_eq(rig_str_at(body, "blocks[2].fields[2].text"), "*Severity*\ncritical (91/100)");
    cr_assert_str_eq(rig_str_at(body, "blocks[2].fields[3].text"), "*Detector*\nbinomial, score 30.0");
    cr_assert_str_eq(rig_str_at(body, "blocks[3].type"), "context");
    char spark[128], want[192];
    snprintf(want, sizeof want, "`%s` last 5 intervals", kw_alert_sparkline(&n.alerts[0], spark, sizeof spark));
    cr_assert_str_eq(rig_str_at(body, "blocks[3].elements[0].text"), want);
    cr_assert_str_eq(rig_str_at(body, "blocks[4].type"), "actions");
    cr_assert_str_eq(rig_str_at(body, "blocks[4].elements[0].text.text"), "Runbook");
    cr_assert_str_eq(rig_str_at(body, "blocks[4].elements[0].url"), n.alerts[0].runbook);
    cr_assert_str_eq(rig_str_at(body, "blocks[4].elements[1].text.text"), "Dashboard");
    cr_assert_str_eq(rig_str_at(body, "blocks[4].elements[1].url"), n.alerts[0].dashboard);
    cr_assert_eq(cJSON_GetArraySize(rig_at(body, "blocks[4].elements")), 2);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(slack, no_buttons_without_links_and_resolved_header, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&slack, &s, 1, KW_NOTIFY_RESOLVED);
    s.n.alerts[0].status = KW_ALERT_RESOLVED;
    s.n.alerts[0].observed = 0.061;
    s.n.alerts[0].runbook[0] = s.n.alerts[0].dashboard[0] = '\0';
    const cJSON *body = rig_at(rig_send_ok(&slack, &s), "json");
    cr_assert_str_eq(rig_str_at(body, "blocks[0].text.text"),
                     ":white_check_mark: RESOLVED · step_dropoff_rate · journey=checkout, step=payment");
    cr_assert(strstr(rig_str_at(body, "blocks[1].text.text"), "*Now* 6.1% vs *expected* 6.0%") != NULL);
    cr_assert(strstr(rig_str_at(body, "blocks[1].text.text"), "*Peak* 34.6% vs 6.0% expected") != NULL);
    const cJSON *b;
    cJSON_ArrayForEach(b, rig_at(body, "blocks"))
        cr_assert_str_neq(rig_str_at(b, "type"), "actions");
    rig_sent_release(&s);
}

/* The incident's last word still names what started it: a resolve whose
 * only member is not the first mover says whose incident it was. */
Test(slack, a_resolve_without_its_first_mover_names_it, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&slack, &s, 1, KW_NOTIFY_RESOLVED);
    s.n.alerts[0].status = KW_ALERT_RESOLVED;
    snprintf(s.n.first_mover, sizeof s.n.first_mover,
             "step_dropoff_rate:journey [journey=checkout] since 2024-11-23T08:55:00Z");
    const cJSON *body = rig_at(rig_send_ok(&slack, &s), "json");
    const cJSON *b, *context = NULL;
    cJSON_ArrayForEach(b, rig_at(body, "blocks"))
        if (strcmp(rig_str_at(b, "type"), "context") == 0)
            context = b;
    cr_assert_not_null(context, "no incident line");
    cr_assert_str_eq(rig_str_at(context, "elements[0].text"),
                     "*Incident* of 1 series · first mover step_dropoff_rate:journey [journey=checkout] since "
                     "2024-11-23T08:55:00Z · *total impact* +93 lost customers (~4185 EUR in all)");
    rig_sent_release(&s);
}

Test(slack, group_of_three_has_a_section_per_member, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&slack, &s, 3, KW_NOTIFY_FIRING);
    s.n.alerts[2].status = KW_ALERT_RESOLVED;
    s.n.alerts[2].observed = 0.05;
    const cJSON *body = rig_at(rig_send_ok(&slack, &s), "json");
    cr_assert_eq(cJSON_GetArraySize(rig_at(body, "blocks")), 8);
    cr_assert(strstr(rig_str_at(body, "blocks[0].text.text"), "(+2 more)") != NULL);
    /* the incident in one line: size, first mover, total impact over the members */
    cr_assert_str_eq(rig_str_at(body, "blocks[5].elements[0].text"),
                     "*Incident* of 3 series · first mover step_dropoff_rate [journey=checkout, step=payment] since "
                     "2024-11-23T09:00:00Z · *total impact* +279 lost customers (~12555 EUR in all)");
    cr_assert_str_eq(rig_str_at(body, "blocks[6].text.text"),
                     ":rotating_light: *step_dropoff_rate* · journey=checkout, step=step-01 — 34.6% vs 6.0% expected "
                     "(normal 1.1%..12.3%, +28.6 pts) since 2024-11-23T09:00:00Z (10m) · +93 lost customers over "
                     "expected (~4185 EUR)");
    cr_assert_str_eq(rig_str_at(body, "blocks[7].text.text"),
                     ":white_check_mark: *step_dropoff_rate* · journey=checkout, step=step-02 — back to 5.0% "
                     "(expected 6.0%) after 10m · +93 lost customers over expected (~4185 EUR)");
    rig_sent_release(&s);
}

Test(slack, group_of_80_stops_at_50_blocks_with_a_note, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&slack, &s, 80, KW_NOTIFY_UPDATE);
    const cJSON *body = rig_at(rig_send_ok(&slack, &s), "json");
    cr_assert_eq(cJSON_GetArraySize(rig_at(body, "blocks")), 50);
    cr_assert(strstr(rig_str_at(body, "blocks[0].text.text"), "UPDATED critical") != NULL);
    cr_assert(strstr(rig_str_at(body, "blocks[48].text.text"), "step=step-43") != NULL);
    cr_assert_str_eq(rig_str_at(body, "blocks[49].type"), "context");
    cr_assert_str_eq(rig_str_at(body, "blocks[49].elements[0].text"), "…and 36 more series (80 in this group)");
    rig_sent_release(&s);
}

Test(slack, long_labels_are_cut_to_header_and_section_limits, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&slack, &s, 2, KW_NOTIFY_FIRING);
    for (size_t k = 0; k < 2; k++) {
        struct kw_alert *a = &s.n.alerts[k];
        a->nlabels = KW_ALERT_MAX_LABELS;
        for (int i = 0; i < a->nlabels; i++) {
            snprintf(a->labels[i].name, sizeof a->labels[i].name, "dimension_%d", i);
            /* A multibyte character, then '&', which mrkdwn makes five characters long. */
            memset(a->labels[i].value, '&', KW_ALERT_LABEL_VALUE - 1);
            memcpy(a->labels[i].value, "é<", 3);
            a->labels[i].value[KW_ALERT_LABEL_VALUE - 1] = '\0';
        }
    }
    const cJSON *body = rig_at(rig_send_ok(&slack, &s), "json");
    const char *header = rig_str_at(body, "blocks[0].text.text");
    cr_assert_eq(rig_utf8_chars(header), 150, "%zu characters", rig_utf8_chars(header));
    cr_assert(strcmp(header + strlen(header) - strlen("…"), "…") == 0);
    /* the incident line names the first mover's labels too: cut to a section's limit */
    cr_assert_leq(rig_utf8_chars(rig_str_at(body, "blocks[5].elements[0].text")), 3000);
    const char *member = rig_str_at(body, "blocks[6].text.text");
    size_t chars = rig_utf8_chars(member), len = strlen(member);
    /* Cut at 3000, backing off to the start of an entity rather than splitting it. */
    cr_assert(chars <= 3000 && chars > 2994, "%zu characters", chars);
    cr_assert(strcmp(member + len - strlen("…"), "…") == 0);
    cr_assert(strncmp(member + len - strlen("…") - 5, "&amp;", 5) == 0, "%s", member + len - 12);
    cr_assert(strstr(member, "dimension_0=é&lt;&amp;&amp;") != NULL);
    cr_assert(strlen(rig_str_at(body, "blocks[2].fields[0].text")) <= 2000 * 4);
    rig_sent_release(&s);
}

Test(slack, mrkdwn_control_characters_are_escaped, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&slack, &s, 1, KW_NOTIFY_FIRING);
    snprintf(s.n.alerts[0].labels[1].value, sizeof s.n.alerts[0].labels[1].value, "<!channel> & co");
    const cJSON *body = rig_at(rig_send_ok(&slack, &s), "json");
    cr_assert_str_eq(rig_str_at(body, "blocks[2].fields[1].text"), "*step*\n&lt;!channel&gt; &amp; co");
    cr_assert(strstr(rig_str_at(body, "text"), "step=&lt;!channel&gt; &amp; co") != NULL);
    rig_sent_release(&s);
}

ParameterizedTestParameters(slack, answers)
{
    static struct rig_answer_case cases[] = {
        {"[{\"status\":200,\"body\":\"ok\"}]", KW_SEND_OK, 0, "HTTP 200: ok"},
        {"[{\"status\":400,\"body\":\"invalid_payload\"}]", KW_SEND_ERROR, 0, "HTTP 400: invalid_payload"},
        {"[{\"status\":404,\"body\":\"channel_not_found\"}]", KW_SEND_ERROR, 0, "HTTP 404: channel_not_found"},
        {"[{\"status\":404,\"body\":\"no_service\"}]", KW_SEND_ERROR, 0, "HTTP 404: no_service"},
        {"[{\"status\":403,\"body\":\"invalid_token\"}]", KW_SEND_ERROR, 0, "HTTP 403: invalid_token"},
        {"[{\"status\":429,\"headers\":{\"Retry-After\":\"7\"},\"body\":\"rate_limited\"}]", KW_SEND_RETRY, 7000,
         "HTTP 429: rate_limited"},
        {"[{\"status\":500,\"body\":\"rollup_error\"}]", KW_SEND_RETRY, 0, "HTTP 500: rollup_error"},
        {"[{\"status\":503,\"body\":\"\"}]", KW_SEND_RETRY, 0, "HTTP 503"},
    };
    return cr_make_param_array(struct rig_answer_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct rig_answer_case *c, slack, answers, .fini = stop_fake, .timeout = 20)
{
    struct kw_send_outcome out;
    rig_check_answer(&slack, c, &out);
}

Test(slack, hanging_service_is_retried_after_the_timeout, .fini = stop_fake, .timeout = 20)
{
    rig_check_hang(&slack);
}

Test(slack, config_errors_name_the_key_never_the_secret)
{
    char err[KW_ERR_LEN];
    cr_assert_eq(rig_parse_err("{\"name\":\"s\",\"type\":\"slack\"}", err, sizeof err), -1);
    cr_assert_str_eq(err,
                     "receivers[0].webhook_url: is required (or receivers[0].webhook_url_file, a file holding it)");

    cr_assert_eq(rig_parse_err("{\"name\":\"s\",\"type\":\"slack\",\"webhook_url\":\"https://hooks.slack.com/services/"
                           "T0/B0/topsecret1\",\"webhook_url_file\":\"/nonexistent\"}",
                           err, sizeof err),
                 -1);
    cr_assert(strstr(err, "receivers[0].webhook_url: set either this or receivers[0].webhook_url_file") == err, "%s",
              err);
    cr_assert(strstr(err, "topsecret1") == NULL, "%s", err);

    cr_assert_eq(rig_parse_err("{\"name\":\"s\",\"type\":\"slack\",\"webhook_url\":\"hooks.slack.com/services/T0/B0/"
                           "topsecret2\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].webhook_url: must be an https URL (http only to a loopback address)");

    /* The URL is the credential: never in clear text over the network. */
    cr_assert_eq(rig_parse_err("{\"name\":\"s\",\"type\":\"slack\",\"webhook_url\":\"http://hooks.slack.com/services/T0/"
                           "B0/topsecret3\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].webhook_url: must be an https URL (http only to a loopback address)");

    cr_assert_eq(rig_parse_err("{\"name\":\"s\",\"type\":\"slack\",\"webhook_url\":\"https://h/x\","
                           "\"icon_emoji\":\"chart\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].icon_emoji: must look like \":emoji_name:\"");

    cr_assert_eq(rig_parse_err("{\"name\":\"s\",\"type\":\"slack\",\"webhook_url_file\":\"/nonexistent/kw-hook\"}", err,
                           sizeof err),
                 -1);
    cr_assert(strstr(err, "receivers[0].webhook_url_file: cannot read /nonexistent/kw-hook") == err, "%s", err);
}

Test(slack, webhook_url_file_is_read_and_logged_redacted, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "slack", "[]");
    char url[256], path[192];
    snprintf(url, sizeof url, "%s%s\n", fake.base_url, HOOK_PATH);
    rig_write_file(&fake, "hook-url", url, path, sizeof path);
    char json[512];
    snprintf(json, sizeof json, "{\"name\":\"s\",\"type\":\"slack\",\"webhook_url_file\":\"%s\"}", path);
    struct kw_receiver r;
    rig_parse_ok(&r, json);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);

    /* What the dispatcher would log for the request: scheme and host only. */
    rig_assert_url_redacted(&r, &n, &fake);
    struct kw_request req = {0};
    req.easy = curl_easy_init();
    char err[KW_ERR_LEN];
    cr_assert_eq(r.type->prepare(r.cfg, &n, 1, &req, err, sizeof err), 0);
    kw_request_release(&req);
    curl_easy_cleanup(req.easy);

    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *got = rig_send_one(&fake, &r, &n, &out, &all);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_str_eq(rig_str_at(got, "path"), HOOK_PATH);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}
