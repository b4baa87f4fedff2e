/* The pagerduty receiver against a local Events API v2 (tests/receivers/
 * svc_pagerduty.py validates every event as the service documents it):
 * trigger and resolve share the dedup key, severity mapping, links and
 * custom details, the service's answers (400, 429 with Retry-After, 500, a
 * hang), and config errors that never quote the key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/timefmt.h"
#include "rig.h"

#define KEY32 "R0123456789abcdef0123456789abcde"

static struct fake_service svc;

static void stop_svc(void)
{
    fake_stop(&svc);
}

/* The lead plus two warnings on other steps, those without a dashboard. */
static void group_of_three(struct kw_alert al[3])
{
    rig_group_of_three(al);
    al[1].dashboard[0] = al[2].dashboard[0] = '\0';
}

static struct kw_notification notification(struct kw_alert *al, size_t n, int kind)
{
    return rig_notification(al, n, kind, "pd", "checkout-dropoff/journey=checkout");
}

/* A receiver pointed at the fake, with extra options (",\"k\": v" or ""). */
static void parse_ok(struct kw_receiver *r, const char *extra)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\":\"pd\",\"type\":\"pagerduty\",\"routing_key\":\"" KEY32 "\",\"url\":\"%s/v2/enqueue\","
             "\"source\":\"kpiwatch-test\",\"client_url\":\"https://kpiwatch.example.com\"%s}",
             svc.base_url, extra);
    rig_parse_ok(r, json);
}

/* The JSON body of request i, checked by rig_request. */
static const cJSON *request(const cJSON *reqs, int i)
{
    return cJSON_GetObjectItemCaseSensitive(rig_request(reqs, i), "json");
}

Test(pagerduty, trigger_then_resolve_share_the_dedup_key, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "pagerduty", "[]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert al[3];
    group_of_three(al);
    struct kw_notification n = notification(al, 3, KW_NOTIFY_FIRING);
    struct kw_send_outcome out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);

    n.kind = KW_NOTIFY_RESOLVED;
    for (int i = 0; i < 3; i++)
        al[i].status = KW_ALERT_RESOLVED;
    out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);

    cJSON *reqs = fake_requests(&svc);
    cr_assert_eq(cJSON_GetArraySize(reqs), 2);
    const cJSON *t = request(reqs, 0), *res = request(reqs, 1);
    cr_assert_str_eq(rig_string_at(t, "routing_key", "."), KEY32);
    cr_assert_str_eq(rig_string_at(t, "event_action", "."), "trigger");
    cr_assert_str_eq(rig_string_at(t, "dedup_key", "."), n.key);
    cr_assert_str_eq(rig_string_at(t, "payload.severity", "."), "critical");
    cr_assert_str_eq(rig_string_at(t, "payload.source", "."), "kpiwatch-test");
    cr_assert_str_eq(rig_string_at(t, "payload.component", "."), "step_dropoff_rate");
    cr_assert_str_eq(rig_string_at(t, "payload.group", "."), "journey=checkout, step=payment");
    cr_assert_str_eq(rig_string_at(t, "payload.timestamp", "."), "2024-11-23T09:05:00Z");
    const char *summary = rig_string_at(t, "payload.summary", ".");
    cr_assert_str_eq(summary, "step_dropoff_rate [journey=checkout, step=payment] up to 34.6% vs 6.0% expected "
                              "(+28.6 pts) · +93 lost customers over expected (~4185 EUR) (+2 more)");

    cr_assert_str_eq(rig_string_at(t, "payload.custom_details.observed", "."), "34.6%");
    cr_assert_str_eq(rig_string_at(t, "payload.custom_details.expected", "."), "6.0%");
    cr_assert_str_eq(rig_string_at(t, "payload.custom_details.lower", "."), "1.1%");
    cr_assert_str_eq(rig_string_at(t, "payload.custom_details.upper", "."), "12.3%");
    cr_assert_str_eq(rig_string_at(t, "payload.custom_details.labels.journey", "."), "checkout");
    cr_assert_str_eq(rig_string_at(t, "payload.custom_details.labels.step", "."), "payment");
    cr_assert_str_eq(rig_string_at(t, "payload.custom_details.impact", "."), "+93 lost customers over expected (~4185 EUR)");
    cr_assert_str_eq(rig_string_at(t, "payload.custom_details.cost", "."), "4185 EUR");
    cr_assert_str_eq(rig_string_at(t, "payload.custom_details.since", "."), "2024-11-23T09:00:00Z");
    cr_assert_eq(cJSON_GetArraySize(rig_at_split(t, "payload.custom_details.members", ".")), 3);
    cr_assert(strstr(rig_string_at(t, "payload.custom_details.members.2", "."), "step=review") != NULL);

    /* Links: the lead's runbook and dashboard; the members' runbook is the same one. */
    cr_assert_eq(cJSON_GetArraySize(rig_at_split(t, "links", ".")), 2);
    cr_assert_str_eq(rig_string_at(t, "links.0.href", "."), "https://wiki.example.com/runbooks/dropoff");
    cr_assert_str_eq(rig_string_at(t, "links.0.text", "."), "Runbook");
    cr_assert_str_eq(rig_string_at(t, "links.1.href", "."), "https://grafana.example.com/d/checkout");
    cr_assert_str_eq(rig_string_at(t, "links.1.text", "."), "Dashboard");
    cr_assert_str_eq(rig_string_at(t, "client", "."), "kpiwatch");
    cr_assert_str_eq(rig_string_at(t, "client_url", "."), "https://kpiwatch.example.com");

    cr_assert_str_eq(rig_string_at(res, "event_action", "."), "resolve");
    cr_assert_str_eq(rig_string_at(res, "dedup_key", "."), n.key);
    cr_assert_str_eq(rig_string_at(res, "routing_key", "."), KEY32);
    cr_assert_null(rig_at_split(res, "payload", "."));
    cJSON_Delete(reqs);
    kw_receiver_release(&r);
}

/* A roll-up says which child moved it in the structured details too, not
 * only inside the summary text. */
Test(pagerduty, a_rollup_names_its_contributors_in_the_details, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "pagerduty", "[]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert a = checkout_alert();
    a.ncontributors = 2;
    snprintf(a.contributors[0].labels, sizeof a.contributors[0].labels, "journey=checkout, step=payment");
    a.contributors[0].excess = 88;
    a.contributors[0].share = 0.95;
    snprintf(a.contributors[1].labels, sizeof a.contributors[1].labels, "journey=checkout, step=cart");
    a.contributors[1].excess = 5;
    a.contributors[1].share = 0.05;
    struct kw_notification n = notification(&a, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cJSON *reqs = fake_requests(&svc);
    cr_assert_str_eq(rig_string_at(request(reqs, 0), "payload.custom_details.contributors", "."),
                     "top contributors: journey=checkout, step=payment 95% (+88); journey=checkout, step=cart 5% (+5)");
    cJSON_Delete(reqs);
    kw_receiver_release(&r);
}

Test(pagerduty, severity_follows_the_worst_member, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "pagerduty", "[]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert al[2] = {checkout_alert(), checkout_alert()};
    static const struct rig_severity_case cases[] = {
        {KW_SEV_WARNING, 70, 1, "warning", false},  /* "error" would be high urgency, as "critical" is */
        {KW_SEV_WARNING, 20, 1, "warning", false},
        {KW_SEV_WARNING, 20, 2, "critical", false}, /* a critical member outranks the lead */
        {KW_SEV_WARNING, 70, 2, "warning", true}, /* ... until it resolves */
        {KW_SEV_CRITICAL, 95, 1, "critical", false},
    };
    /* an update triggers again under the same key */
    rig_check_severity_cases(&svc, &r, al, cases, sizeof cases / sizeof cases[0], "checkout-dropoff/journey=checkout",
                             "json/event_action", "trigger", "json/payload/severity");
    kw_receiver_release(&r);
}

Test(pagerduty, long_fields_keep_the_summary_within_1024_characters, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "pagerduty", "[]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert a = checkout_alert();
    for (int i = 0; i < KW_ALERT_MAX_LABELS; i++) {
        snprintf(a.labels[i].name, sizeof a.labels[i].name, "label%d", i);
        memset(a.labels[i].value, 'x', 200);
        a.labels[i].value[200] = '\0';
    }
    a.nlabels = KW_ALERT_MAX_LABELS;
    /* Two-byte characters around the cut. */
    size_t used = (size_t)snprintf(a.runbook, sizeof a.runbook, "https://wiki.example.com/");
    while (used + 2 < sizeof a.runbook)
        used += (size_t)snprintf(a.runbook + used, sizeof a.runbook - used, "ü");
    snprintf(a.dashboard, sizeof a.dashboard, "%s", a.runbook);
    struct kw_notification n = notification(&a, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cJSON *reqs = fake_requests(&svc);
    const char *summary = rig_string_at(request(reqs, 0), "payload.summary", ".");
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)summary; *p; p++)
        chars += (*p & 0xC0) != 0x80;
    cr_assert(chars <= 1024 && chars > 1000, "%zu characters", chars);
    cr_assert(strcmp(summary + strlen(summary) - 3, "…") == 0, "a cut summary says so: %s", summary);
    cJSON_Delete(reqs);
    kw_receiver_release(&r);
}

Test(pagerduty, invalid_event_is_an_error_with_the_services_reason, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "pagerduty",
               "[{\"status\": 400, \"headers\": {\"Content-Type\": \"application/json\"}, \"body\": "
               "{\"status\": \"invalid event\", \"message\": \"Event object is invalid\", "
               "\"errors\": [\"'payload.summary' is missing or blank\"]}}]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert a = checkout_alert();
    struct kw_notification n = notification(&a, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_ERROR, "%s", out.reason);
    cr_assert(strstr(out.reason, "400") != NULL, "%s", out.reason);
    cr_assert(strstr(out.reason, "Event object is invalid: 'payload.summary' is missing or blank") != NULL, "%s",
              out.reason);
    kw_receiver_release(&r);
}

Test(pagerduty, throttled_is_retried_after_the_services_delay, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "pagerduty",
               "[{\"status\": 429, \"headers\": {\"Retry-After\": \"3\"}, \"body\": "
               "{\"status\": \"throttle event\", \"message\": \"Requests for this service are arriving too quickly.\"}},"
               " {\"status\": 500, \"body\": \"internal error\"}]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert a = checkout_alert();
    struct kw_notification n = notification(&a, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_RETRY, "%s", out.reason);
    cr_assert_eq(out.retry_after_ms, 3000);
    cr_assert(strstr(out.reason, "arriving too quickly") != NULL, "%s", out.reason);

    out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_RETRY, "500: %s", out.reason);
    cr_assert_eq(out.retry_after_ms, 0, "no Retry-After: the dispatcher's backoff");
    cr_assert(strstr(out.reason, "HTTP 500") != NULL, "%s", out.reason);
    kw_receiver_release(&r);
}

Test(pagerduty, hanging_service_is_retried_after_the_timeout, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "pagerduty", "[{\"delay\": 30}]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert a = checkout_alert();
    struct kw_notification n = notification(&a, 1, KW_NOTIFY_FIRING);
    struct kw_delivery_config quick = {.connect_timeout_ms = 2000, .timeout_ms = 500};
    struct kw_send_outcome out;
    int64_t t0 = kw_mono_ms();
    kw_notify_send_now(&r, &n, &quick, &out);
    int64_t took = kw_mono_ms() - t0;
    cr_assert_eq(out.result, KW_SEND_RETRY, "%s", out.reason);
    cr_assert(took < 2500, "took %lld ms", (long long)took);
    cr_assert(strstr(out.reason, "transport") != NULL, "%s", out.reason);
    kw_receiver_release(&r);
}

Test(pagerduty, key_from_a_file, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "pagerduty", "[]");
    char path[] = "/tmp/kw-pdkey-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, KEY32 "\n", 33), 33);
    close(fd);
    char json[512], err[KW_ERR_LEN] = "";
    snprintf(json, sizeof json,
             "{\"name\":\"pd\",\"type\":\"pagerduty\",\"routing_key_file\":\"%s\",\"url\":\"%s/v2/enqueue\"}", path,
             svc.base_url);
    struct kw_receiver r;
    int rc = rig_parse(&r, json, err, sizeof err);
    unlink(path);
    cr_assert_eq(rc, 0, "%s", err);
    struct kw_alert a = checkout_alert();
    struct kw_notification n = notification(&a, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cJSON *reqs = fake_requests(&svc);
    const cJSON *ev = request(reqs, 0);
    cr_assert_str_eq(rig_string_at(ev, "routing_key", "."), KEY32, "the file's newline is not part of the key");
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    cr_assert_str_eq(rig_string_at(ev, "payload.source", "."), host, "source defaults to the host name");
    cJSON_Delete(reqs);
    kw_receiver_release(&r);
}

Test(pagerduty, config_errors_name_the_key_and_never_the_secret)
{
    struct kw_receiver r;
    char err[KW_ERR_LEN];
    struct {
        const char *json, *want;
    } cases[] = {
        {"{\"name\":\"pd\",\"type\":\"pagerduty\"}",
         "receivers[0].routing_key: is required (or receivers[0].routing_key_file, a file holding it)"},
        {"{\"name\":\"pd\",\"type\":\"pagerduty\",\"routing_key\":\"" KEY32 "\",\"routing_key_file\":\"/run/k\"}",
         "receivers[0].routing_key: set either this or receivers[0].routing_key_file, not both"},
        {"{\"name\":\"pd\",\"type\":\"pagerduty\",\"routing_key\":\"s3cr3t-but-too-short\"}",
         "receivers[0].routing_key: must be the 32-character integration key"},
        {"{\"name\":\"pd\",\"type\":\"pagerduty\",\"routing_key\":\"R0123456789abcdef0123456789abc\\n\"}",
         "receivers[0].routing_key: must be the 32-character integration key"},
        {"{\"name\":\"pd\",\"type\":\"pagerduty\",\"routing_key_file\":\"/nonexistent/pd-key\"}",
         "receivers[0].routing_key_file: cannot read /nonexistent/pd-key"},
        {"{\"name\":\"pd\",\"type\":\"pagerduty\",\"routing_key\":\"" KEY32 "\",\"url\":\"http://events.example.com/v2/enqueue\"}",
         "receivers[0].url: must be an https:// URL (http:// only to a loopback address)"},
        {"{\"name\":\"pd\",\"type\":\"pagerduty\",\"routing_key\":\"" KEY32 "\",\"url\":\"https://u:p@events.example.com/\"}",
         "receivers[0].url: must not hold credentials"},
        {"{\"name\":\"pd\",\"type\":\"pagerduty\",\"routing_key\":\"" KEY32 "\",\"client_url\":\"ftp://grafana.example.com/\"}",
         "receivers[0].client_url: must be an https:// URL"},
        {"{\"name\":\"pd\",\"type\":\"pagerduty\",\"routing_key\":\"" KEY32 "\",\"severity\":\"high\"}",
         "receivers[0].severity: unknown key ("},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        cr_assert_eq(rig_parse(&r, cases[i].json, err, sizeof err), -1, "case %zu parsed", i);
        cr_assert(strstr(err, cases[i].want) != NULL, "case %zu: got \"%s\"", i, err);
        cr_assert(strstr(err, KEY32) == NULL && strstr(err, "s3cr3t") == NULL &&
                      strstr(err, "R0123456789abcdef0123456789abc") == NULL,
                  "case %zu quotes the key: %s", i, err);
    }
    /* A good config passes, with the documented defaults. */
    cr_assert_eq(rig_parse(&r, "{\"name\":\"pd\",\"type\":\"pagerduty\",\"routing_key\":\"" KEY32 "\"}", err, sizeof err), 0,
                 "%s", err);
    cr_assert_float_eq(r.rate_per_s, 2.0, 1e-9);
    cr_assert_eq(r.burst, 10);
    kw_receiver_release(&r);
}
