/* The teams notifier against a local Teams Workflows webhook
 * (tests/receivers/svc_teams.py: the message envelope, an Adaptive Card 1.4,
 * 28 KB): the exact card for a rate alert, group members, the bound on a
 * group of 80, every answer class, a hanging service, and the webhook_url
 * options without leaking the URL's signature. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/timefmt.h"
#include "rig.h"

#define FLOW_PATH "/workflows/0f1e2d3c/triggers/manual/paths/invoke"
#define FLOW_QUERY "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=flowsecret77"

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

static void teams_receiver(struct kw_receiver *r)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"name\":\"product-team\",\"type\":\"teams\",\"webhook_url\":\"%s%s%s\"}",
             fake.base_url, FLOW_PATH, FLOW_QUERY);
    rig_parse_ok(r, json);
}

static void start(const char *script)
{
    fake_start(&fake, "teams", script);
}

static const struct rig_target teams = {&fake, start, teams_receiver, make_group};

/* The value of the fact titled title in a FactSet; "(absent)" when missing. */
static const char *fact(const cJSON *factset, const char *title)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, rig_at(factset, "facts"))
        if (strcmp(rig_str_at(f, "title"), title) == 0)
            return rig_str_at(f, "value");
    return "(absent)";
}

Test(teams, rate_alert_card_is_exact, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&teams, &s, 1, KW_NOTIFY_FIRING);
    const cJSON *req = rig_send_ok(&teams, &s);
    cr_assert_str_eq(s.out.reason, "HTTP 202");
    cr_assert_str_eq(rig_str_at(req, "path"), FLOW_PATH);
    cr_assert_str_eq(rig_str_at(req, "query.sig"), "flowsecret77");

    const cJSON *msg = rig_at(req, "json");
    cr_assert_str_eq(rig_str_at(msg, "type"), "message");
    cr_assert(cJSON_IsNull(rig_at(msg, "attachments[0].contentUrl")));
    const cJSON *card = rig_at(msg, "attachments[0].content");
    cr_assert_str_eq(rig_str_at(card, "version"), "1.4");
    const cJSON *body = rig_at(card, "body");
    cr_assert_str_eq(rig_str_at(body, "[0].text"), "FIRING critical: step_dropoff_rate");
    cr_assert_str_eq(rig_str_at(body, "[0].color"), "Attention");
    cr_assert_str_eq(rig_str_at(body, "[1].text"), "journey=checkout, step=payment");
    cr_assert_str_eq(rig_str_at(body, "[2].text"), "Share of customers who leave the checkout at this step");
    const cJSON *facts = rig_at(body, "[3]");
    cr_assert_str_eq(rig_str_at(facts, "type"), "FactSet");
    cr_assert_str_eq(fact(facts, "Observed"), "34.6%");
    cr_assert_str_eq(fact(facts, "Expected"), "6.0%");
    cr_assert_str_eq(fact(facts, "Normal range"), "1.1% .. 12.3%");
    cr_assert_str_eq(fact(facts, "Change"), "+28.6 pts (n=179)");
    cr_assert_str_eq(fact(facts, "Since"), "2024-11-23T09:00:00Z (10m)");
    cr_assert_str_eq(fact(facts, "Impact"), "+93 lost customers over expected (~4185 EUR)");
    cr_assert_str_eq(fact(facts, "Severity"), "critical (91/100)");
    cr_assert_str_eq(fact(facts, "journey"), "checkout");
    cr_assert_str_eq(fact(facts, "step"), "payment");
    char spark[128], want[192];
    snprintf(want, sizeof want, "%s  last 5 intervals", kw_alert_sparkline(&s.n.alerts[0], spark, sizeof spark));
    cr_assert_str_eq(rig_str_at(body, "[4].text"), want);
    cr_assert_eq(cJSON_GetArraySize(body), 5);
    cr_assert_str_eq(rig_str_at(card, "actions[0].type"), "Action.OpenUrl");
    cr_assert_str_eq(rig_str_at(card, "actions[0].title"), "Runbook");
    cr_assert_str_eq(rig_str_at(card, "actions[0].url"), s.n.alerts[0].runbook);
    cr_assert_str_eq(rig_str_at(card, "actions[1].title"), "Dashboard");
    cr_assert_str_eq(rig_str_at(card, "actions[1].url"), s.n.alerts[0].dashboard);
    rig_sent_release(&s);
}

Test(teams, resolved_group_of_three_lists_members, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&teams, &s, 3, KW_NOTIFY_RESOLVED);
    for (int i = 0; i < 3; i++) {
        s.n.alerts[i].status = KW_ALERT_RESOLVED;
        s.n.alerts[i].observed = 0.061;
        s.n.alerts[i].at_ms = s.n.alerts[i].since_ms + 5 * 300000;
    }
    s.n.alerts[0].runbook[0] = s.n.alerts[0].dashboard[0] = '\0';
    const cJSON *card = rig_at(rig_send_ok(&teams, &s), "json.attachments[0].content");
    const cJSON *body = rig_at(card, "body");
    cr_assert_str_eq(rig_str_at(body, "[0].text"), "RESOLVED: step_dropoff_rate (+2 more)");
    cr_assert_str_eq(rig_str_at(body, "[0].color"), "Good");
    cr_assert_str_eq(fact(rig_at(body, "[3]"), "Now"), "6.1%");
    cr_assert_str_eq(fact(rig_at(body, "[3]"), "Peak"), "34.6% vs 6.0% expected");
    cr_assert_str_eq(fact(rig_at(body, "[3]"), "Total impact"), "+93 lost customers over expected (~4185 EUR)");
    cr_assert_str_eq(rig_str_at(body, "[5].text"),
                     "RESOLVED **step_dropoff_rate** · journey=checkout, step=step-01 — back to 6.1% (expected 6.0%) "
                     "after 30m · +93 lost customers over expected (~4185 EUR)");
    cr_assert(strstr(rig_str_at(body, "[6].text"), "step=step-02") != NULL);
    cr_assert(rig_at(card, "actions") == NULL);
    rig_sent_release(&s);
}

Test(teams, group_of_80_is_bounded_with_a_note, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&teams, &s, 80, KW_NOTIFY_FIRING);
    const cJSON *req = rig_send_ok(&teams, &s);
    cr_assert(strlen(rig_str_at(req, "body")) <= 28 * 1024);
    const cJSON *body = rig_at(req, "json.attachments[0].content.body");
    int last = cJSON_GetArraySize(body) - 1;
    char path[16];
    snprintf(path, sizeof path, "[%d].text", last);
    cr_assert_str_eq(rig_str_at(body, path), "…and 59 more series (80 in this group)");
    snprintf(path, sizeof path, "[%d].text", last - 1);
    cr_assert(strstr(rig_str_at(body, path), "step=step-20") != NULL, "%s", rig_str_at(body, path));
    rig_sent_release(&s);
}

Test(teams, oversized_members_are_halved_under_28_kb, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&teams, &s, 30, KW_NOTIFY_FIRING);
    for (size_t k = 0; k < s.n.nalerts; k++) {
        struct kw_alert *a = &s.n.alerts[k];
        a->nlabels = KW_ALERT_MAX_LABELS;
        for (int i = 2; i < a->nlabels; i++) {
            snprintf(a->labels[i].name, sizeof a->labels[i].name, "dimension_%d", i);
            memset(a->labels[i].value, 'x', 200);
        }
    }
    const cJSON *req = rig_send_ok(&teams, &s);
    cr_assert(strlen(rig_str_at(req, "body")) <= 27000, "%zu bytes", strlen(rig_str_at(req, "body")));
    cr_assert(strstr(rig_str_at(req, "body"), "more series (30 in this group)") != NULL);
    rig_sent_release(&s);
}

ParameterizedTestParameters(teams, answers)
{
    static struct rig_answer_case cases[] = {
        {"[{\"status\":202,\"body\":\"\"}]", KW_SEND_OK, 0, "HTTP 202"},
        {"[{\"status\":200,\"body\":\"1\"}]", KW_SEND_OK, 0, "HTTP 200: 1"},
        {"[{\"status\":400,\"body\":\"InvalidRequestContent\"}]", KW_SEND_ERROR, 0, "HTTP 400: InvalidRequestContent"},
        {"[{\"status\":401,\"body\":\"DirectApiAuthorizationRequired\"}]", KW_SEND_ERROR, 0,
         "HTTP 401: DirectApiAuthorizationRequired"},
        {"[{\"status\":404,\"body\":\"WorkflowNotFound\"}]", KW_SEND_ERROR, 0, "HTTP 404: WorkflowNotFound"},
        {"[{\"status\":429,\"headers\":{\"Retry-After\":\"7\"},\"body\":\"\"}]", KW_SEND_RETRY, 7000, "HTTP 429"},
        {"[{\"status\":500,\"body\":\"\"}]", KW_SEND_RETRY, 0, "HTTP 500"},
        {"[{\"status\":502,\"body\":\"Bad Gateway\"}]", KW_SEND_RETRY, 0, "HTTP 502: Bad Gateway"},
    };
    return cr_make_param_array(struct rig_answer_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct rig_answer_case *c, teams, answers, .fini = stop_fake, .timeout = 20)
{
    struct kw_send_outcome out;
    rig_check_answer(&teams, c, &out);
}

Test(teams, hanging_flow_is_retried_after_the_timeout, .fini = stop_fake, .timeout = 20)
{
    rig_check_hang(&teams);
}

Test(teams, config_errors_name_the_key_never_the_secret)
{
    char err[KW_ERR_LEN];
    cr_assert_eq(rig_parse_err("{\"name\":\"t\",\"type\":\"teams\"}", err, sizeof err), -1);
    cr_assert_str_eq(err,
                     "receivers[0].webhook_url: is required (or receivers[0].webhook_url_file, a file holding it)");
    cr_assert_eq(rig_parse_err("{\"name\":\"t\",\"type\":\"teams\",\"webhook_url\":\"https://x.logic.azure.com/"
                           "workflows/a?sig=topsecret\",\"webhook_url_file\":\"/run/credentials/teams\"}",
                           err, sizeof err),
                 -1);
    cr_assert(strstr(err, "receivers[0].webhook_url: set either this or receivers[0].webhook_url_file") == err, "%s",
              err);
    cr_assert(strstr(err, "topsecret") == NULL, "%s", err);
    cr_assert_eq(rig_parse_err("{\"name\":\"t\",\"type\":\"teams\",\"webhook_url\":\"x.logic.azure.com/?sig=topsecret\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].webhook_url: must be an https URL (http only to a loopback address)");
    cr_assert_eq(rig_parse_err("{\"name\":\"t\",\"type\":\"teams\",\"webhook_url\":\"http://x.logic.azure.com/"
                           "workflows/a?sig=topsecret\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].webhook_url: must be an https URL (http only to a loopback address)");
    cr_assert(strstr(err, "topsecret") == NULL, "%s", err);
}

Test(teams, webhook_url_file_is_read_and_logged_redacted, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "teams", "[]");
    char url[256], path[192];
    snprintf(url, sizeof url, "%s%s%s\n", fake.base_url, FLOW_PATH, FLOW_QUERY);
    rig_write_file(&fake, "flow-url", url, path, sizeof path);
    char json[512];
    snprintf(json, sizeof json, "{\"name\":\"t\",\"type\":\"teams\",\"webhook_url_file\":\"%s\"}", path);
    struct kw_receiver r;
    rig_parse_ok(&r, json);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);
    struct kw_request req = {0};
    req.easy = curl_easy_init();
    char err[KW_ERR_LEN];
    cr_assert_eq(r.type->prepare(r.cfg, &n, 0, &req, err, sizeof err), 1);
    cr_assert(strstr(req.url, "flowsecret77") == NULL && strstr(req.url, "workflows") == NULL, "%s", req.url);
    kw_request_release(&req);
    curl_easy_cleanup(req.easy);
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *got = rig_send_one(&fake, &r, &n, &out, &all);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_str_eq(rig_str_at(got, "query.sig"), "flowsecret77");
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}
