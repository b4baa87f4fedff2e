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
#include "../../notifiers/dispatcher.h"
#include "../../notifiers/notifier.h"
#include "fake.h"

#define FLOW_PATH "/workflows/0f1e2d3c/triggers/manual/paths/invoke"
#define FLOW_QUERY "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=flowsecret77"

static struct fake_service fake;
static const struct kw_delivery_config dcfg = {.connect_timeout_ms = 2000, .timeout_ms = 5000};

static void stop_fake(void)
{
    fake_stop(&fake);
}

/* Checkout payment drop-off rate up from 6% to 34.6%: a realistic rate alert. */
static struct kw_alert rate_alert(int i)
{
    struct kw_alert a = {0};
    snprintf(a.key, sizeof a.key, "00112233aabb%04x", i);
    snprintf(a.kpi, sizeof a.kpi, "step_dropoff_rate");
    snprintf(a.description, sizeof a.description, "Share of customers who leave the checkout at this step");
    snprintf(a.unit, sizeof a.unit, "lost customers");
    snprintf(a.detector, sizeof a.detector, "binomial");
    snprintf(a.currency, sizeof a.currency, "EUR");
    snprintf(a.runbook, sizeof a.runbook, "https://wiki.example.com/runbooks/checkout-dropoff");
    snprintf(a.dashboard, sizeof a.dashboard, "https://grafana.example.com/d/checkout?var-step=payment");
    snprintf(a.labels[0].name, sizeof a.labels[0].name, "journey");
    snprintf(a.labels[0].value, sizeof a.labels[0].value, "checkout");
    snprintf(a.labels[1].name, sizeof a.labels[1].name, "step");
    if (i == 0)
        snprintf(a.labels[1].value, sizeof a.labels[1].value, "payment");
    else
        snprintf(a.labels[1].value, sizeof a.labels[1].value, "step-%02d", i);
    a.nlabels = 2;
    a.kind = KW_KIND_RATE;
    a.status = KW_ALERT_FIRING;
    a.severity = KW_SEV_CRITICAL;
    a.direction = 1;
    a.observed = a.peak_observed = 0.346;
    a.expected = a.peak_expected = 0.06;
    a.lower = 0.011;
    a.upper = 0.123;
    a.score = 30;
    a.severity_score = 91;
    a.denominator = 179;
    a.impact = 93;
    a.cost_per_unit = 45;
    a.since_ms = 1732352400000LL; /* 2024-11-23T09:00:00Z */
    a.at_ms = a.since_ms + 300000;
    a.interval_ms = 300000;
    a.intervals = 2;
    double h[] = {0.06, 0.058, 0.061, 0.3, 0.346};
    memcpy(a.history, h, sizeof h);
    a.nhistory = 5;
    return a;
}

static void make_group(struct kw_notification *n, size_t count, int kind)
{
    memset(n, 0, sizeof *n);
    snprintf(n->receiver, sizeof n->receiver, "product-team");
    snprintf(n->key, sizeof n->key, "checkout/step_dropoff_rate");
    n->kind = kind;
    n->created_ms = kw_now_ms();
    n->alerts = calloc(count, sizeof *n->alerts);
    n->nalerts = count;
    for (size_t i = 0; i < count; i++)
        n->alerts[i] = rate_alert((int)i);
}

static void parse_ok(struct kw_receiver *r, const char *json)
{
    cJSON *obj = cJSON_Parse(json);
    cr_assert(obj != NULL, "bad test JSON: %s", json);
    char err[KW_ERR_LEN] = "";
    int rc = kw_receiver_parse(r, obj, "receivers[0]", err, sizeof err);
    cJSON_Delete(obj);
    cr_assert_eq(rc, 0, "%s", err);
}

static int parse_err(const char *json, char *err, size_t len)
{
    cJSON *obj = cJSON_Parse(json);
    cr_assert(obj != NULL, "bad test JSON: %s", json);
    struct kw_receiver r;
    int rc = kw_receiver_parse(&r, obj, "receivers[0]", err, len);
    cJSON_Delete(obj);
    if (rc == 0)
        kw_receiver_release(&r);
    return rc;
}

static void teams_receiver(struct kw_receiver *r)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"name\":\"product-team\",\"type\":\"teams\",\"webhook_url\":\"%s%s%s\"}",
             fake.base_url, FLOW_PATH, FLOW_QUERY);
    parse_ok(r, json);
}

/* The node at a path like "attachments[0].content.body[3]"; NULL when absent. */
static const cJSON *at(const cJSON *o, const char *path)
{
    const char *p = path;
    while (o && *p) {
        if (*p == '.')
            p++;
        if (*p == '[') {
            o = cJSON_GetArrayItem(o, atoi(p + 1));
            p = strchr(p, ']') + 1;
            continue;
        }
        size_t n = strcspn(p, ".[");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        o = cJSON_GetObjectItemCaseSensitive(o, name);
        p += n;
    }
    return o;
}

static const char *str_at(const cJSON *o, const char *path)
{
    const cJSON *s = at(o, path);
    return cJSON_IsString(s) ? s->valuestring : "(absent)";
}

static void assert_no_problems(const cJSON *req)
{
    const cJSON *problems = at(req, "problems");
    char *text = cJSON_PrintUnformatted(problems);
    cr_assert_eq(cJSON_GetArraySize(problems), 0, "the service would reject this: %s", text);
    free(text);
}

static const cJSON *send_one(struct kw_receiver *r, struct kw_notification *n, struct kw_send_outcome *out,
                             cJSON **all)
{
    kw_notify_send_now(r, n, &dcfg, out);
    *all = fake_requests(&fake);
    cr_assert_eq(cJSON_GetArraySize(*all), 1);
    const cJSON *req = cJSON_GetArrayItem(*all, 0);
    assert_no_problems(req);
    return req;
}

/* The value of the fact titled title in a FactSet; "(absent)" when missing. */
static const char *fact(const cJSON *factset, const char *title)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, at(factset, "facts"))
        if (strcmp(str_at(f, "title"), title) == 0)
            return str_at(f, "value");
    return "(absent)";
}

Test(teams, rate_alert_card_is_exact, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "teams", "[]");
    struct kw_receiver r;
    teams_receiver(&r);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *req = send_one(&r, &n, &out, &all);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_str_eq(out.reason, "HTTP 202");
    cr_assert_str_eq(str_at(req, "path"), FLOW_PATH);
    cr_assert_str_eq(str_at(req, "query.sig"), "flowsecret77");

    const cJSON *msg = at(req, "json");
    cr_assert_str_eq(str_at(msg, "type"), "message");
    cr_assert(cJSON_IsNull(at(msg, "attachments[0].contentUrl")));
    const cJSON *card = at(msg, "attachments[0].content");
    cr_assert_str_eq(str_at(card, "version"), "1.4");
    const cJSON *body = at(card, "body");
    cr_assert_str_eq(str_at(body, "[0].text"), "FIRING critical: step_dropoff_rate");
    cr_assert_str_eq(str_at(body, "[0].color"), "Attention");
    cr_assert_str_eq(str_at(body, "[1].text"), "journey=checkout, step=payment");
    cr_assert_str_eq(str_at(body, "[2].text"), "Share of customers who leave the checkout at this step");
    const cJSON *facts = at(body, "[3]");
    cr_assert_str_eq(str_at(facts, "type"), "FactSet");
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
    snprintf(want, sizeof want, "%s  last 5 intervals", kw_alert_sparkline(&n.alerts[0], spark, sizeof spark));
    cr_assert_str_eq(str_at(body, "[4].text"), want);
    cr_assert_eq(cJSON_GetArraySize(body), 5);
    cr_assert_str_eq(str_at(card, "actions[0].type"), "Action.OpenUrl");
    cr_assert_str_eq(str_at(card, "actions[0].title"), "Runbook");
    cr_assert_str_eq(str_at(card, "actions[0].url"), n.alerts[0].runbook);
    cr_assert_str_eq(str_at(card, "actions[1].title"), "Dashboard");
    cr_assert_str_eq(str_at(card, "actions[1].url"), n.alerts[0].dashboard);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(teams, resolved_group_of_three_lists_members, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "teams", "[]");
    struct kw_receiver r;
    teams_receiver(&r);
    struct kw_notification n;
    make_group(&n, 3, KW_NOTIFY_RESOLVED);
    for (int i = 0; i < 3; i++) {
        n.alerts[i].status = KW_ALERT_RESOLVED;
        n.alerts[i].observed = 0.061;
        n.alerts[i].at_ms = n.alerts[i].since_ms + 5 * 300000;
    }
    n.alerts[0].runbook[0] = n.alerts[0].dashboard[0] = '\0';
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *card = at(send_one(&r, &n, &out, &all), "json.attachments[0].content");
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    const cJSON *body = at(card, "body");
    cr_assert_str_eq(str_at(body, "[0].text"), "RESOLVED: step_dropoff_rate (+2 more)");
    cr_assert_str_eq(str_at(body, "[0].color"), "Good");
    cr_assert_str_eq(fact(at(body, "[3]"), "Now"), "6.1%");
    cr_assert_str_eq(fact(at(body, "[3]"), "Peak"), "34.6% vs 6.0% expected");
    cr_assert_str_eq(fact(at(body, "[3]"), "Total impact"), "+93 lost customers over expected (~4185 EUR)");
    cr_assert_str_eq(str_at(body, "[5].text"),
                     "RESOLVED **step_dropoff_rate** · journey=checkout, step=step-01 — back to 6.1% (expected 6.0%) "
                     "after 30m · +93 lost customers over expected (~4185 EUR)");
    cr_assert(strstr(str_at(body, "[6].text"), "step=step-02") != NULL);
    cr_assert(at(card, "actions") == NULL);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(teams, group_of_80_is_bounded_with_a_note, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "teams", "[]");
    struct kw_receiver r;
    teams_receiver(&r);
    struct kw_notification n;
    make_group(&n, 80, KW_NOTIFY_FIRING);
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *req = send_one(&r, &n, &out, &all);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert(strlen(str_at(req, "body")) <= 28 * 1024);
    const cJSON *body = at(req, "json.attachments[0].content.body");
    int last = cJSON_GetArraySize(body) - 1;
    char path[16];
    snprintf(path, sizeof path, "[%d].text", last);
    cr_assert_str_eq(str_at(body, path), "…and 59 more series (80 in this group)");
    snprintf(path, sizeof path, "[%d].text", last - 1);
    cr_assert(strstr(str_at(body, path), "step=step-20") != NULL, "%s", str_at(body, path));
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(teams, oversized_members_are_halved_under_28_kb, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "teams", "[]");
    struct kw_receiver r;
    teams_receiver(&r);
    struct kw_notification n;
    make_group(&n, 30, KW_NOTIFY_FIRING);
    for (size_t k = 0; k < n.nalerts; k++) {
        struct kw_alert *a = &n.alerts[k];
        a->nlabels = KW_ALERT_MAX_LABELS;
        for (int i = 2; i < a->nlabels; i++) {
            snprintf(a->labels[i].name, sizeof a->labels[i].name, "dimension_%d", i);
            memset(a->labels[i].value, 'x', 200);
        }
    }
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *req = send_one(&r, &n, &out, &all);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert(strlen(str_at(req, "body")) <= 27000, "%zu bytes", strlen(str_at(req, "body")));
    cr_assert(strstr(str_at(req, "body"), "more series (30 in this group)") != NULL);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

/* Arrays, not pointers: Criterion runs each case in a fresh process image. */
struct answer_case {
    char script[160];
    enum kw_send_result result;
    int64_t retry_after_ms;
    char reason[96];
};

ParameterizedTestParameters(teams, answers)
{
    static struct answer_case cases[] = {
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
    return cr_make_param_array(struct answer_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct answer_case *c, teams, answers, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "teams", c->script);
    struct kw_receiver r;
    teams_receiver(&r);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out;
    cJSON *all;
    send_one(&r, &n, &out, &all);
    cr_assert_eq(out.result, c->result, "%s: got %d (%s)", c->script, out.result, out.reason);
    cr_assert_eq(out.retry_after_ms, c->retry_after_ms);
    cr_assert_str_eq(out.reason, c->reason);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(teams, hanging_flow_is_retried_after_the_timeout, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "teams", "[{\"delay\": 30}]");
    struct kw_receiver r;
    teams_receiver(&r);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);
    struct kw_delivery_config quick = {.connect_timeout_ms = 2000, .timeout_ms = 500};
    struct kw_send_outcome out;
    int64_t t0 = kw_mono_ms();
    kw_notify_send_now(&r, &n, &quick, &out);
    int64_t took = kw_mono_ms() - t0;
    cr_assert_eq(out.result, KW_SEND_RETRY);
    cr_assert(strncmp(out.reason, "transport: ", 11) == 0, "%s", out.reason);
    cr_assert(took < 3000, "took %lld ms", (long long)took);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(teams, config_errors_name_the_key_never_the_secret)
{
    char err[KW_ERR_LEN];
    cr_assert_eq(parse_err("{\"name\":\"t\",\"type\":\"teams\"}", err, sizeof err), -1);
    cr_assert_str_eq(err,
                     "receivers[0].webhook_url: is required (or receivers[0].webhook_url_file, a file holding it)");
    cr_assert_eq(parse_err("{\"name\":\"t\",\"type\":\"teams\",\"webhook_url\":\"https://x.logic.azure.com/"
                           "workflows/a?sig=topsecret\",\"webhook_url_file\":\"/run/credentials/teams\"}",
                           err, sizeof err),
                 -1);
    cr_assert(strstr(err, "receivers[0].webhook_url: set either this or receivers[0].webhook_url_file") == err, "%s",
              err);
    cr_assert(strstr(err, "topsecret") == NULL, "%s", err);
    cr_assert_eq(parse_err("{\"name\":\"t\",\"type\":\"teams\",\"webhook_url\":\"x.logic.azure.com/?sig=topsecret\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].webhook_url: must be an https URL (http only to a loopback address)");
    cr_assert_eq(parse_err("{\"name\":\"t\",\"type\":\"teams\",\"webhook_url\":\"http://x.logic.azure.com/"
                           "workflows/a?sig=topsecret\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].webhook_url: must be an https URL (http only to a loopback address)");
    cr_assert(strstr(err, "topsecret") == NULL, "%s", err);
}

Test(teams, webhook_url_file_is_read_and_logged_redacted, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "teams", "[]");
    char path[192];
    snprintf(path, sizeof path, "%s/flow-url", fake.dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fprintf(f, "%s%s%s\n", fake.base_url, FLOW_PATH, FLOW_QUERY);
    fclose(f);
    char json[512];
    snprintf(json, sizeof json, "{\"name\":\"t\",\"type\":\"teams\",\"webhook_url_file\":\"%s\"}", path);
    struct kw_receiver r;
    parse_ok(&r, json);
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
    const cJSON *got = send_one(&r, &n, &out, &all);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_str_eq(str_at(got, "query.sig"), "flowsecret77");
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}
