/* The opsgenie receiver against a local Alert API v2 (tests/receivers/
 * svc_opsgenie.py validates every request as the service documents it):
 * create with alias and priority, close by alias, the region's base URL,
 * the service's answers (422, 401, 429, 503), and config errors that never
 * quote the key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/timefmt.h"
#include "rig.h"

#define API_KEY "eb243592-faa2-4ba2-a551-1afdf565c889"

static struct fake_service svc;

static void stop_svc(void)
{
    fake_stop(&svc);
}

static struct kw_notification notification(struct kw_alert *al, size_t n, int kind, const char *key)
{
    return rig_notification(al, n, kind, "og", key);
}

/* A receiver pointed at the fake, with extra options (",\"k\": v" or ""). */
static void parse_ok(struct kw_receiver *r, const char *extra)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"" API_KEY "\",\"api_url\":\"%s/\","
             "\"responders\":[\"checkout-oncall\"],\"tags\":[\"kpiwatch\",\"checkout\"],\"source\":\"kpiwatch-test\"%s}",
             svc.base_url, extra);
    rig_parse_ok(r, json);
}

Test(opsgenie, create_has_alias_priority_responders_and_details, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "opsgenie", "[]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert al[3];
    rig_group_of_three(al);
    struct kw_notification n = notification(al, 3, KW_NOTIFY_FIRING, "checkout-dropoff/journey=checkout");
    struct kw_send_outcome out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert(strstr(out.reason, "Request will be processed") != NULL, "%s", out.reason);

    cJSON *reqs = fake_requests(&svc);
    cr_assert_eq(cJSON_GetArraySize(reqs), 1);
    const cJSON *req = rig_request(reqs, 0);
    cr_assert_str_eq(rig_string_at(req, "method", "/"), "POST");
    cr_assert_str_eq(rig_string_at(req, "path", "/"), "/v2/alerts");
    cr_assert_str_eq(rig_string_at(req, "headers/authorization", "/"), "GenieKey " API_KEY);
    const cJSON *b = rig_at_split(req, "json", "/");
    cr_assert_str_eq(rig_string_at(b, "alias", "/"), n.key);
    cr_assert_str_eq(rig_string_at(b, "priority", "/"), "P1");
    const char *message = rig_string_at(b, "message", "/");
    cr_assert_str_eq(message, "step_dropoff_rate [journey=checkout, step=payment] up to 34.6% vs 6.0% expected (+2 more)");
    cr_assert_str_eq(rig_string_at(b, "responders/0/type", "/"), "team");
    cr_assert_str_eq(rig_string_at(b, "responders/0/name", "/"), "checkout-oncall");
    cr_assert_eq(cJSON_GetArraySize(rig_at_split(b, "tags", "/")), 3);
    cr_assert_str_eq(rig_string_at(b, "tags/0", "/"), "kpiwatch");
    cr_assert_str_eq(rig_string_at(b, "tags/2", "/"), "step_dropoff_rate");
    cr_assert_str_eq(rig_string_at(b, "entity", "/"), "step_dropoff_rate");
    cr_assert_str_eq(rig_string_at(b, "source", "/"), "kpiwatch-test");
    cr_assert_str_eq(rig_string_at(b, "details/observed", "/"), "34.6%");
    cr_assert_str_eq(rig_string_at(b, "details/expected", "/"), "6.0%");
    cr_assert_str_eq(rig_string_at(b, "details/normal_range", "/"), "1.1%..12.3%");
    cr_assert_str_eq(rig_string_at(b, "details/label.journey", "/"), "checkout");
    cr_assert_str_eq(rig_string_at(b, "details/cost", "/"), "4185 EUR");
    cr_assert_str_eq(rig_string_at(b, "details/runbook", "/"), "https://wiki.example.com/runbooks/dropoff");
    cr_assert_str_eq(rig_string_at(b, "details/alerts", "/"), "3");
    const char *description = rig_string_at(b, "description", "/");
    cr_assert(strstr(description, "FIRING critical | step_dropoff_rate [journey=checkout, step=payment]") != NULL,
              "%s", description);
    cr_assert(strstr(description, "step=shipping") && strstr(description, "step=review"), "every member: %s",
              description);
    cr_assert(strstr(description, "Runbook: https://wiki.example.com/runbooks/dropoff") != NULL, "%s", description);
    cJSON_Delete(reqs);
    kw_receiver_release(&r);
}

Test(opsgenie, resolve_closes_by_the_escaped_alias, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "opsgenie", "[]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert a = checkout_alert();
    struct kw_notification n = notification(&a, 1, KW_NOTIFY_FIRING, "checkout/dropoff 42&x=1");
    struct kw_send_outcome out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    /* an update is a note on the open alert: a second create would only raise its count */
    n.kind = KW_NOTIFY_UPDATE;
    out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    a.status = KW_ALERT_RESOLVED;
    n.kind = KW_NOTIFY_RESOLVED;
    out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);

    cJSON *reqs = fake_requests(&svc);
    cr_assert_eq(cJSON_GetArraySize(reqs), 3);
    cr_assert_str_eq(rig_string_at(rig_request(reqs, 0), "json/alias", "/"), "checkout/dropoff 42&x=1");
    const cJSON *note = rig_request(reqs, 1);
    cr_assert_str_eq(rig_string_at(note, "path", "/"), "/v2/alerts/checkout%2Fdropoff%2042%26x%3D1/notes");
    cr_assert_str_eq(rig_string_at(note, "query/identifierType", "/"), "alias");
    cr_assert(strncmp(rig_string_at(note, "json/note", "/"), "UPDATED: 1 alert, first mover step_dropoff_rate", 47) == 0
                  && strstr(rig_string_at(note, "json/note", "/"), "\nFIRING critical | step_dropoff_rate"),
              "%s", rig_string_at(note, "json/note", "/"));
    const cJSON *close = rig_request(reqs, 2);
    cr_assert_str_eq(rig_string_at(close, "method", "/"), "POST");
    cr_assert_str_eq(rig_string_at(close, "path", "/"), "/v2/alerts/checkout%2Fdropoff%2042%26x%3D1/close");
    cr_assert_str_eq(rig_string_at(close, "query/identifierType", "/"), "alias");
    cr_assert_null(rig_at_split(close, "query/x", "/"), "the alias must not leak into the query");
    cr_assert_str_eq(rig_string_at(close, "headers/authorization", "/"), "GenieKey " API_KEY);
    cr_assert_str_eq(rig_string_at(close, "json/source", "/"), "kpiwatch-test");
    cr_assert(strncmp(rig_string_at(close, "json/note", "/"), "RESOLVED: 1 alert, first mover step_dropoff_rate", 48) == 0
                  && strstr(rig_string_at(close, "json/note", "/"), "\nRESOLVED | step_dropoff_rate"),
              "%s", rig_string_at(close, "json/note", "/"));
    cJSON_Delete(reqs);
    kw_receiver_release(&r);
}

Test(opsgenie, priority_follows_the_worst_member, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "opsgenie", "[]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert al[2] = {checkout_alert(), checkout_alert()};
    static const struct rig_severity_case cases[] = {
        {KW_SEV_WARNING, 70, 1, "P3", false},
        {KW_SEV_WARNING, 20, 1, "P3", false},
        {KW_SEV_WARNING, 20, 2, "P1", false}, /* the critical member decides */
        {KW_SEV_WARNING, 70, 2, "P3", true}, /* ... until it resolves */
        {KW_SEV_CRITICAL, 60, 1, "P1", false},
    };
    /* priority is set when the alert is created (updates are notes) */
    rig_check_severity_cases(&svc, &r, al, cases, sizeof cases / sizeof cases[0], "k", NULL, NULL, "json/priority");
    kw_receiver_release(&r);
}

/* The region option picks the documented base URL (no network needed). */
Test(opsgenie, region_picks_the_base_url)
{
    struct {
        const char *region_json, *create, *close;
    } cases[] = {
        {"", "https://api.opsgenie.com/v2/alerts", "https://api.opsgenie.com/v2/alerts/grp%201/close?identifierType=alias"},
        {",\"region\":\"eu\"", "https://api.eu.opsgenie.com/v2/alerts",
         "https://api.eu.opsgenie.com/v2/alerts/grp%201/close?identifierType=alias"},
    };
    for (size_t i = 0; i < 2; i++) {
        char json[256], err[KW_ERR_LEN] = "";
        snprintf(json, sizeof json, "{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"" API_KEY "\"%s}",
                 cases[i].region_json);
        struct kw_receiver r;
        cr_assert_eq(rig_parse(&r, json, err, sizeof err), 0, "%s", err);
        struct kw_alert a = checkout_alert();
        struct kw_notification n = notification(&a, 1, KW_NOTIFY_FIRING, "grp 1");
        for (int kind = 0; kind < 2; kind++) {
            n.kind = kind ? KW_NOTIFY_RESOLVED : KW_NOTIFY_FIRING;
            struct kw_request req = {.easy = curl_easy_init()};
            cr_assert_eq(r.type->prepare(r.cfg, &n, 0, &req, err, sizeof err), 1, "%s", err);
            cr_assert_str_eq(req.url, kind ? cases[i].close : cases[i].create);
            cr_assert(strstr(req.url, API_KEY) == NULL);
            bool auth = false;
            for (struct curl_slist *h = req.headers; h; h = h->next)
                auth = auth || strcmp(h->data, "Authorization: GenieKey " API_KEY) == 0;
            cr_assert(auth, "the key goes in the Authorization header");
            kw_request_release(&req);
            cr_assert_eq(r.type->prepare(r.cfg, &n, 1, &req, err, sizeof err), 0, "one request per notification");
            kw_request_release(&req);
            curl_easy_cleanup(req.easy);
        }
        kw_receiver_release(&r);
    }
}

Test(opsgenie, long_names_keep_the_message_within_130_characters, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "opsgenie", "[]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert al[3];
    rig_group_of_three(al);
    memset(al[0].kpi, 'k', sizeof al[0].kpi - 1);
    al[0].kpi[sizeof al[0].kpi - 1] = '\0';
    snprintf(al[0].labels[1].value, sizeof al[0].labels[1].value, "zahlung-über-einen-sehr-langen-namen-der-nicht-passt");
    struct kw_notification n = notification(al, 3, KW_NOTIFY_FIRING, "long");
    struct kw_send_outcome out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cJSON *reqs = fake_requests(&svc);
    const char *message = rig_string_at(rig_request(reqs, 0), "json/message", "/");
    cr_assert_eq(rig_utf8_chars(message), 130, "%zu: %s", rig_utf8_chars(message), message);
    cr_assert(strstr(message, "… (+2 more)") != NULL, "the cut is marked and the count kept: %s", message);
    cr_assert_eq(rig_utf8_chars(rig_string_at(rig_request(reqs, 0), "json/tags/2", "/")), 50, "the KPI tag is cut to 50 characters");
    cJSON_Delete(reqs);
    kw_receiver_release(&r);
}

Test(opsgenie, rejected_requests_are_errors_with_the_services_message, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "opsgenie",
               "[{\"status\": 422, \"body\": {\"message\": \"Request body is not processable. Please check the errors.\","
               " \"errors\": {\"message\": \"Message can not be empty.\"}, \"took\": 0.002, \"requestId\": \"r-422\"}},"
               " {\"status\": 401, \"body\": {\"message\": \"Could not authenticate\", \"took\": 0.0, \"requestId\": \"r-401\"}},"
               " {\"status\": 404, \"body\": {\"message\": \"Alert with alias [k] does not exist\", \"took\": 0.0, \"requestId\": \"r-404\"}}]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert a = checkout_alert();
    struct kw_notification n = notification(&a, 1, KW_NOTIFY_FIRING, "k");
    struct kw_send_outcome out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_ERROR, "%s", out.reason);
    cr_assert(strstr(out.reason, "HTTP 422: Request body is not processable. Please check the errors. (message: "
                                 "Message can not be empty.) [requestId r-422]") != NULL, "%s", out.reason);
    out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_ERROR, "%s", out.reason);
    cr_assert(strstr(out.reason, "HTTP 401: Could not authenticate") != NULL, "%s", out.reason);
    n.kind = KW_NOTIFY_RESOLVED;
    out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_ERROR, "%s", out.reason);
    cr_assert(strstr(out.reason, "does not exist") != NULL, "%s", out.reason);
    kw_receiver_release(&r);
}

Test(opsgenie, throttling_and_outages_are_retried, .fini = stop_svc, .timeout = 30)
{
    fake_start(&svc, "opsgenie",
               "[{\"status\": 429, \"headers\": {\"Retry-After\": \"7\"}, \"body\": {\"message\": \"Too many requests\"}},"
               " {\"status\": 503, \"body\": \"Service Unavailable\"}]");
    struct kw_receiver r;
    parse_ok(&r, "");
    struct kw_alert a = checkout_alert();
    struct kw_notification n = notification(&a, 1, KW_NOTIFY_FIRING, "k");
    struct kw_send_outcome out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_RETRY, "%s", out.reason);
    cr_assert_eq(out.retry_after_ms, 7000);
    out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_RETRY, "%s", out.reason);
    cr_assert(strstr(out.reason, "HTTP 503") != NULL, "%s", out.reason);
    kw_receiver_release(&r);
}

Test(opsgenie, config_errors_name_the_key_and_never_the_secret)
{
    struct kw_receiver r;
    char err[KW_ERR_LEN];
    struct {
        const char *json, *want;
    } cases[] = {
        {"{\"name\":\"og\",\"type\":\"opsgenie\"}",
         "receivers[0].api_key: is required (or receivers[0].api_key_file, a file holding it)"},
        {"{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"" API_KEY "\",\"api_key_file\":\"/run/k\"}",
         "receivers[0].api_key: set either this or receivers[0].api_key_file, not both"},
        {"{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"s3cr3t value\\r\\nX-Evil: 1\"}",
         "receivers[0].api_key: must be printable ASCII without blanks"},
        {"{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"" API_KEY "\",\"region\":\"ap\"}",
         "receivers[0].region: must be one of: us, eu"},
        {"{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"" API_KEY "\",\"api_url\":\"http://opsgenie.example.com\"}",
         "receivers[0].api_url: must be an https:// URL (http:// only to a loopback address)"},
        {"{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"" API_KEY "\",\"api_url\":\"https://u:p@opsgenie.example.com\"}",
         "receivers[0].api_url: must not hold credentials (use api_key)"},
        {"{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"" API_KEY "\",\"api_url\":\"https://opsgenie.example.com/?x=1\"}",
         "receivers[0].api_url: must be a base URL without a query"},
        {"{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"" API_KEY "\",\"responders\":\"ops\"}",
         "receivers[0].responders: must be a list of strings"},
        {"{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"" API_KEY "\",\"tags\":[\"a\",\"\"]}",
         "receivers[0].tags[1]: must be a non-empty string"},
        {"{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"" API_KEY "\",\"tags\":"
         "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\","
         "\"17\",\"18\",\"19\",\"20\",\"21\"]}",
         "receivers[0].tags: at most 20 tags"},
        {"{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"" API_KEY "\",\"tags\":"
         "[\"ok\",\"this-tag-is-far-too-long-for-opsgenie-which-allows-fifty\"]}",
         "receivers[0].tags[1]: longer than 50 characters"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        cr_assert_eq(rig_parse(&r, cases[i].json, err, sizeof err), -1, "case %zu parsed", i);
        cr_assert(strstr(err, cases[i].want) != NULL, "case %zu: got \"%s\"", i, err);
        cr_assert(strstr(err, API_KEY) == NULL && strstr(err, "s3cr3t") == NULL, "case %zu quotes the key: %s", i, err);
    }
    cr_assert_eq(rig_parse(&r, "{\"name\":\"og\",\"type\":\"opsgenie\",\"api_key\":\"" API_KEY "\"}", err, sizeof err), 0,
                 "%s", err);
    kw_receiver_release(&r);
}
