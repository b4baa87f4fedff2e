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
#include "../../notifiers/dispatcher.h"
#include "../../notifiers/notifier.h"
#include "fake.h"

#define HOOK_PATH "/services/T0KW/B0KW/hooksecret42"

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

/* A receiver pointed at the fake. */
static void slack_receiver(struct kw_receiver *r, const char *extra)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"name\":\"product-team\",\"type\":\"slack\",\"webhook_url\":\"%s%s\"%s%s}",
             fake.base_url, HOOK_PATH, extra ? "," : "", extra ? extra : "");
    parse_ok(r, json);
}

/* The node at a path like "blocks[2].text.text"; NULL when absent. */
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

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void assert_no_problems(const cJSON *req)
{
    const cJSON *problems = at(req, "problems");
    char *text = cJSON_PrintUnformatted(problems);
    cr_assert_eq(cJSON_GetArraySize(problems), 0, "the service would reject this: %s", text);
    free(text);
}

/* Send n and return the single request the fake got (caller deletes *all). */
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
    const cJSON *req = send_one(&r, &n, &out, &all);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);

    cr_assert_str_eq(str_at(req, "method"), "POST");
    cr_assert_str_eq(str_at(req, "path"), HOOK_PATH);
    const cJSON *body = at(req, "json");
    char summary[2048];
    cr_assert_str_eq(str_at(body, "text"), kw_alert_summary(&n.alerts[0], summary, sizeof summary));
    cr_assert_str_eq(str_at(body, "channel"), "#checkout-alerts");
    cr_assert_str_eq(str_at(body, "username"), "kpiwatch");
    cr_assert_str_eq(str_at(body, "icon_emoji"), ":chart_with_upwards_trend:");
    cr_assert(at(body, "attachments") == NULL);

    cr_assert_eq(cJSON_GetArraySize(at(body, "blocks")), 5);
    cr_assert_str_eq(str_at(body, "blocks[0].type"), "header");
    cr_assert_str_eq(str_at(body, "blocks[0].text.type"), "plain_text");
    cr_assert_str_eq(str_at(body, "blocks[0].text.text"),
                     ":rotating_light: FIRING critical · step_dropoff_rate · journey=checkout, step=payment");
    cr_assert_str_eq(str_at(body, "blocks[1].text.type"), "mrkdwn");
    cr_assert_str_eq(str_at(body, "blocks[1].text.text"),
                     "*Observed* 34.6% vs *expected* 6.0% (normal 1.1%..12.3%)\n"
                     "*Change* +28.6 pts (n=179)\n"
                     "*Since* 2024-11-23T09:00:00Z (10m, 2 intervals)\n"
                     "*Impact* +93 lost customers over expected (~4185 EUR)\n"
                     "Share of customers who leave the checkout at this step");
    cr_assert_str_eq(str_at(body, "blocks[2].fields[0].text"), "*journey*\ncheckout");
    cr_assert_str_eq(str_at(body, "blocks[2].fields[1].text"), "*step*\npayment");
    cr_assert_str_eq(str_at(body, "blocks[2].fields[2].text"), "*Severity*\ncritical (91/100)");
    cr_assert_str_eq(str_at(body, "blocks[2].fields[3].text"), "*Detector*\nbinomial, score 30.0");
    cr_assert_str_eq(str_at(body, "blocks[3].type"), "context");
    char spark[128], want[192];
    snprintf(want, sizeof want, "`%s` last 5 intervals", kw_alert_sparkline(&n.alerts[0], spark, sizeof spark));
    cr_assert_str_eq(str_at(body, "blocks[3].elements[0].text"), want);
    cr_assert_str_eq(str_at(body, "blocks[4].type"), "actions");
    cr_assert_str_eq(str_at(body, "blocks[4].elements[0].text.text"), "Runbook");
    cr_assert_str_eq(str_at(body, "blocks[4].elements[0].url"), n.alerts[0].runbook);
    cr_assert_str_eq(str_at(body, "blocks[4].elements[1].text.text"), "Dashboard");
    cr_assert_str_eq(str_at(body, "blocks[4].elements[1].url"), n.alerts[0].dashboard);
    cr_assert_eq(cJSON_GetArraySize(at(body, "blocks[4].elements")), 2);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(slack, no_buttons_without_links_and_resolved_header, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "slack", "[]");
    struct kw_receiver r;
    slack_receiver(&r, NULL);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_RESOLVED);
    n.alerts[0].status = KW_ALERT_RESOLVED;
    n.alerts[0].observed = 0.061;
    n.alerts[0].runbook[0] = n.alerts[0].dashboard[0] = '\0';
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *body = at(send_one(&r, &n, &out, &all), "json");
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_str_eq(str_at(body, "blocks[0].text.text"),
                     ":white_check_mark: RESOLVED · step_dropoff_rate · journey=checkout, step=payment");
    cr_assert(strstr(str_at(body, "blocks[1].text.text"), "*Now* 6.1% vs *expected* 6.0%") != NULL);
    cr_assert(strstr(str_at(body, "blocks[1].text.text"), "*Peak* 34.6% vs 6.0% expected") != NULL);
    const cJSON *b;
    cJSON_ArrayForEach(b, at(body, "blocks"))
        cr_assert_str_neq(str_at(b, "type"), "actions");
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(slack, group_of_three_has_a_section_per_member, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "slack", "[]");
    struct kw_receiver r;
    slack_receiver(&r, NULL);
    struct kw_notification n;
    make_group(&n, 3, KW_NOTIFY_FIRING);
    n.alerts[2].status = KW_ALERT_RESOLVED;
    n.alerts[2].observed = 0.05;
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *body = at(send_one(&r, &n, &out, &all), "json");
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_eq(cJSON_GetArraySize(at(body, "blocks")), 7);
    cr_assert(strstr(str_at(body, "blocks[0].text.text"), "(+2 more)") != NULL);
    cr_assert_str_eq(str_at(body, "blocks[5].text.text"),
                     ":rotating_light: *step_dropoff_rate* · journey=checkout, step=step-01 — 34.6% vs 6.0% expected "
                     "(normal 1.1%..12.3%, +28.6 pts) since 2024-11-23T09:00:00Z (10m) · +93 lost customers over "
                     "expected (~4185 EUR)");
    cr_assert_str_eq(str_at(body, "blocks[6].text.text"),
                     ":white_check_mark: *step_dropoff_rate* · journey=checkout, step=step-02 — back to 5.0% "
                     "(expected 6.0%) after 10m · +93 lost customers over expected (~4185 EUR)");
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(slack, group_of_80_stops_at_50_blocks_with_a_note, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "slack", "[]");
    struct kw_receiver r;
    slack_receiver(&r, NULL);
    struct kw_notification n;
    make_group(&n, 80, KW_NOTIFY_UPDATE);
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *body = at(send_one(&r, &n, &out, &all), "json");
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_eq(cJSON_GetArraySize(at(body, "blocks")), 50);
    cr_assert(strstr(str_at(body, "blocks[0].text.text"), "STILL FIRING critical") != NULL);
    cr_assert(strstr(str_at(body, "blocks[48].text.text"), "step=step-44") != NULL);
    cr_assert_str_eq(str_at(body, "blocks[49].type"), "context");
    cr_assert_str_eq(str_at(body, "blocks[49].elements[0].text"), "…and 35 more series (80 in this group)");
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(slack, long_labels_are_cut_to_header_and_section_limits, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "slack", "[]");
    struct kw_receiver r;
    slack_receiver(&r, NULL);
    struct kw_notification n;
    make_group(&n, 2, KW_NOTIFY_FIRING);
    for (size_t k = 0; k < 2; k++) {
        struct kw_alert *a = &n.alerts[k];
        a->nlabels = KW_ALERT_MAX_LABELS;
        for (int i = 0; i < a->nlabels; i++) {
            snprintf(a->labels[i].name, sizeof a->labels[i].name, "dimension_%d", i);
            /* A multibyte character, then '&', which mrkdwn makes five characters long. */
            memset(a->labels[i].value, '&', KW_ALERT_LABEL_VALUE - 1);
            memcpy(a->labels[i].value, "é<", 3);
            a->labels[i].value[KW_ALERT_LABEL_VALUE - 1] = '\0';
        }
    }
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *body = at(send_one(&r, &n, &out, &all), "json");
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    const char *header = str_at(body, "blocks[0].text.text");
    cr_assert_eq(utf8_chars(header), 150, "%zu characters", utf8_chars(header));
    cr_assert(strcmp(header + strlen(header) - strlen("…"), "…") == 0);
    const char *member = str_at(body, "blocks[5].text.text");
    size_t chars = utf8_chars(member), len = strlen(member);
    /* Cut at 3000, backing off to the start of an entity rather than splitting it. */
    cr_assert(chars <= 3000 && chars > 2994, "%zu characters", chars);
    cr_assert(strcmp(member + len - strlen("…"), "…") == 0);
    cr_assert(strncmp(member + len - strlen("…") - 5, "&amp;", 5) == 0, "%s", member + len - 12);
    cr_assert(strstr(member, "dimension_0=é&lt;&amp;&amp;") != NULL);
    cr_assert(strlen(str_at(body, "blocks[2].fields[0].text")) <= 2000 * 4);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(slack, mrkdwn_control_characters_are_escaped, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "slack", "[]");
    struct kw_receiver r;
    slack_receiver(&r, NULL);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);
    snprintf(n.alerts[0].labels[1].value, sizeof n.alerts[0].labels[1].value, "<!channel> & co");
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *body = at(send_one(&r, &n, &out, &all), "json");
    cr_assert_str_eq(str_at(body, "blocks[2].fields[1].text"), "*step*\n&lt;!channel&gt; &amp; co");
    cr_assert(strstr(str_at(body, "text"), "step=&lt;!channel&gt; &amp; co") != NULL);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

/* Arrays, not pointers: Criterion runs each case in a fresh process image. */
struct answer_case {
    char script[160];
    enum kw_send_result result;
    int64_t retry_after_ms;
    char reason[64];
};

ParameterizedTestParameters(slack, answers)
{
    static struct answer_case cases[] = {
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
    return cr_make_param_array(struct answer_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct answer_case *c, slack, answers, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "slack", c->script);
    struct kw_receiver r;
    slack_receiver(&r, NULL);
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

Test(slack, hanging_service_is_retried_after_the_timeout, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "slack", "[{\"delay\": 30}]");
    struct kw_receiver r;
    slack_receiver(&r, NULL);
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

Test(slack, config_errors_name_the_key_never_the_secret)
{
    char err[KW_ERR_LEN];
    cr_assert_eq(parse_err("{\"name\":\"s\",\"type\":\"slack\"}", err, sizeof err), -1);
    cr_assert_str_eq(err,
                     "receivers[0].webhook_url: is required (or receivers[0].webhook_url_file, a file holding it)");

    cr_assert_eq(parse_err("{\"name\":\"s\",\"type\":\"slack\",\"webhook_url\":\"https://hooks.slack.com/services/"
                           "T0/B0/topsecret1\",\"webhook_url_file\":\"/nonexistent\"}",
                           err, sizeof err),
                 -1);
    cr_assert(strstr(err, "receivers[0].webhook_url: set either this or receivers[0].webhook_url_file") == err, "%s",
              err);
    cr_assert(strstr(err, "topsecret1") == NULL, "%s", err);

    cr_assert_eq(parse_err("{\"name\":\"s\",\"type\":\"slack\",\"webhook_url\":\"hooks.slack.com/services/T0/B0/"
                           "topsecret2\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].webhook_url: must be an https URL (http only to a loopback address)");

    /* The URL is the credential: never in clear text over the network. */
    cr_assert_eq(parse_err("{\"name\":\"s\",\"type\":\"slack\",\"webhook_url\":\"http://hooks.slack.com/services/T0/"
                           "B0/topsecret3\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].webhook_url: must be an https URL (http only to a loopback address)");

    cr_assert_eq(parse_err("{\"name\":\"s\",\"type\":\"slack\",\"webhook_url\":\"https://h/x\","
                           "\"icon_emoji\":\"chart\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].icon_emoji: must look like \":emoji_name:\"");

    cr_assert_eq(parse_err("{\"name\":\"s\",\"type\":\"slack\",\"webhook_url_file\":\"/nonexistent/kw-hook\"}", err,
                           sizeof err),
                 -1);
    cr_assert(strstr(err, "receivers[0].webhook_url_file: cannot read /nonexistent/kw-hook") == err, "%s", err);
}

Test(slack, webhook_url_file_is_read_and_logged_redacted, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "slack", "[]");
    char path[192];
    snprintf(path, sizeof path, "%s/hook-url", fake.dir);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fprintf(f, "%s%s\n", fake.base_url, HOOK_PATH);
    fclose(f);
    char json[512];
    snprintf(json, sizeof json, "{\"name\":\"s\",\"type\":\"slack\",\"webhook_url_file\":\"%s\"}", path);
    struct kw_receiver r;
    parse_ok(&r, json);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);

    /* What the dispatcher would log for the request: scheme and host only. */
    struct kw_request req = {0};
    req.easy = curl_easy_init();
    char err[KW_ERR_LEN];
    cr_assert_eq(r.type->prepare(r.cfg, &n, 0, &req, err, sizeof err), 1);
    char want[96];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/…", fake.port);
    cr_assert_str_eq(req.url, want);
    kw_request_release(&req);
    cr_assert_eq(r.type->prepare(r.cfg, &n, 1, &req, err, sizeof err), 0);
    kw_request_release(&req);
    curl_easy_cleanup(req.easy);

    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *got = send_one(&r, &n, &out, &all);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_str_eq(str_at(got, "path"), HOOK_PATH);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}
