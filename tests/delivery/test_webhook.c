/* The webhook notifier against a receiver written for Alertmanager
 * (tests/receivers/svc_webhook.py checks every version 4 field and type and
 * recomputes the HMAC signature): the exact message for a rate alert, a
 * group's common labels, a resolve, max_alerts truncation, signing with the
 * right and a wrong secret, every answer class, a hanging receiver, and the
 * url / hmac_secret options without leaking either. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/timefmt.h"
#include "rig.h"

#define SECRET "whsec-5f2b9c-kwtest"

static struct fake_service fake;

static void stop_fake(void)
{
    fake_stop(&fake);
}

/* A group of count checkout alerts, all resolved for a resolve. */
static void make_group(struct kw_notification *n, size_t count, int kind)
{
    rig_group(n, count, kind, "am-bridge", "{}:{journey=\"checkout\"}");
    if (kind == KW_NOTIFY_RESOLVED)
        for (size_t i = 0; i < count; i++)
            rig_resolve(&n->alerts[i]);
}

static void webhook_receiver(struct kw_receiver *r, const char *extra)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\":\"am-bridge\",\"type\":\"webhook\",\"url\":\"%s/alertmanager?token=urlsecret9\","
             "\"external_url\":\"https://kpiwatch.example.com\"%s%s}",
             fake.base_url, extra ? "," : "", extra ? extra : "");
    rig_parse_ok(r, json);
}

static void start(const char *script)
{
    fake_start(&fake, "webhook", script);
}

static void usual_receiver(struct kw_receiver *r)
{
    webhook_receiver(r, NULL);
}

static const struct rig_target webhook = {&fake, start, usual_receiver, make_group};

/* groupLabels are the route's group_by values, as in Alertmanager, the same
 * in every message of the group whatever its members share ("kpi" is
 * alertname here). */
Test(webhook, group_labels_are_the_routes_group_by, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&webhook, &s, 1, KW_NOTIFY_FIRING);
    s.n.ngroup_labels = 2;
    snprintf(s.n.group_labels[0].name, sizeof s.n.group_labels[0].name, "journey");
    snprintf(s.n.group_labels[0].value, sizeof s.n.group_labels[0].value, "checkout");
    snprintf(s.n.group_labels[1].name, sizeof s.n.group_labels[1].name, "kpi");
    snprintf(s.n.group_labels[1].value, sizeof s.n.group_labels[1].value, "step_dropoff_rate");
    const cJSON *req = rig_send_ok(&webhook, &s);
    const cJSON *gl = rig_at(req, "json.groupLabels");
    cr_assert_eq(cJSON_GetArraySize(gl), 2, "only the group_by labels: %s", cJSON_PrintUnformatted(gl));
    cr_assert_str_eq(rig_str_at(req, "json.groupLabels.journey"), "checkout");
    cr_assert_str_eq(rig_str_at(req, "json.groupLabels.alertname"), "step_dropoff_rate");
    rig_sent_release(&s);
}

Test(webhook, rate_alert_is_alertmanager_v4, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&webhook, &s, 1, KW_NOTIFY_FIRING);
    cr_assert_eq(s.r.rate_per_s, 0.0);
    const cJSON *req = rig_send_ok(&webhook, &s);
    cr_assert_str_eq(rig_str_at(req, "path"), "/alertmanager");
    cr_assert_str_eq(rig_str_at(req, "query.token"), "urlsecret9");
    cr_assert(rig_at(req, "headers.x-kpiwatch-signature") == NULL, "unsigned unless a secret is set");

    const cJSON *m = rig_at(req, "json");
    cr_assert_str_eq(rig_str_at(m, "version"), "4");
    cr_assert_str_eq(rig_str_at(m, "groupKey"), s.n.key);
    cr_assert_eq(rig_at(m, "truncatedAlerts")->valueint, 0);
    cr_assert_str_eq(rig_str_at(m, "status"), "firing");
    cr_assert_str_eq(rig_str_at(m, "receiver"), "am-bridge");
    cr_assert_str_eq(rig_str_at(m, "externalURL"), "https://kpiwatch.example.com");
    cr_assert_str_eq(rig_str_at(m, "commonLabels.alertname"), "step_dropoff_rate");
    cr_assert_str_eq(rig_str_at(m, "groupLabels.journey"), "checkout");
    cr_assert_eq(cJSON_GetArraySize(rig_at(m, "alerts")), 1);
    const cJSON *a = rig_at(m, "alerts[0]");
    cr_assert_str_eq(rig_str_at(a, "status"), "firing");
    cr_assert_str_eq(rig_str_at(a, "labels.alertname"), "step_dropoff_rate");
    cr_assert_str_eq(rig_str_at(a, "labels.severity"), "critical");
    cr_assert_str_eq(rig_str_at(a, "labels.journey"), "checkout");
    cr_assert_str_eq(rig_str_at(a, "labels.step"), "payment");
    cr_assert_eq(cJSON_GetArraySize(rig_at(a, "labels")), 4);
    char summary[2048];
    cr_assert_str_eq(rig_str_at(a, "annotations.summary"), kw_alert_summary(&s.n.alerts[0], summary, sizeof summary));
    cr_assert_str_eq(rig_str_at(a, "annotations.description"), "Share of customers who leave the checkout at this step");
    cr_assert_str_eq(rig_str_at(a, "annotations.runbook_url"), s.n.alerts[0].runbook);
    cr_assert_str_eq(rig_str_at(a, "annotations.dashboard_url"), s.n.alerts[0].dashboard);
    cr_assert_str_eq(rig_str_at(a, "annotations.observed"), "34.6%");
    cr_assert_str_eq(rig_str_at(a, "annotations.expected"), "6.0%");
    cr_assert_str_eq(rig_str_at(a, "annotations.expected_range"), "1.1%..12.3%");
    cr_assert_str_eq(rig_str_at(a, "annotations.impact"), "+93 lost customers over expected (~4185 EUR)");
    cr_assert_str_eq(rig_str_at(a, "startsAt"), "2024-11-23T09:00:00Z");
    cr_assert_str_eq(rig_str_at(a, "endsAt"), "0001-01-01T00:00:00Z");
    cr_assert_str_eq(rig_str_at(a, "generatorURL"), s.n.alerts[0].dashboard);
    cr_assert_str_eq(rig_str_at(a, "fingerprint"), "00112233aabb0000");
    rig_sent_release(&s);
}

Test(webhook, group_common_labels_and_a_resolve, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&webhook, &s, 3, KW_NOTIFY_RESOLVED);
    s.n.alerts[2].dashboard[0] = '\0';
    s.n.alerts[2].severity = KW_SEV_WARNING;
    const cJSON *m = rig_at(rig_send_ok(&webhook, &s), "json");
    cr_assert_str_eq(rig_str_at(m, "status"), "resolved");
    cr_assert_eq(cJSON_GetArraySize(rig_at(m, "alerts")), 3);
    cr_assert_eq(cJSON_GetArraySize(rig_at(m, "commonLabels")), 2); /* alertname, journey */
    cr_assert_str_eq(rig_str_at(m, "commonLabels.journey"), "checkout");
    cr_assert(rig_at(m, "commonLabels.step") == NULL);
    cr_assert(rig_at(m, "commonLabels.severity") == NULL);
    cr_assert(rig_at(m, "commonAnnotations.dashboard_url") == NULL);
    cr_assert_str_eq(rig_str_at(m, "commonAnnotations.runbook_url"), s.n.alerts[0].runbook);
    cr_assert_str_eq(rig_str_at(m, "alerts[1].labels.step"), "step-01");
    cr_assert_str_eq(rig_str_at(m, "alerts[2].status"), "resolved");
    cr_assert_str_eq(rig_str_at(m, "alerts[2].endsAt"), "2024-11-23T09:30:00Z");
    cr_assert_str_eq(rig_str_at(m, "alerts[2].generatorURL"), "https://kpiwatch.example.com");
    cr_assert_str_eq(rig_str_at(m, "alerts[2].annotations.observed"), "6.1%");
    rig_sent_release(&s);
}

Test(webhook, max_alerts_truncates_a_group_of_80, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "webhook", "[]");
    struct kw_receiver r;
    webhook_receiver(&r, "\"max_alerts\":10");
    struct kw_notification n;
    make_group(&n, 80, KW_NOTIFY_FIRING);
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *m = rig_at(rig_send_one(&fake, &r, &n, &out, &all), "json");
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_eq(cJSON_GetArraySize(rig_at(m, "alerts")), 10);
    cr_assert_eq(rig_at(m, "truncatedAlerts")->valueint, 70);
    cr_assert_str_eq(rig_str_at(m, "alerts[9].labels.step"), "step-09");
    cJSON_Delete(all);
    kw_notification_release(&n);

    /* Without max_alerts every member goes out. */
    kw_receiver_release(&r);
    fake_stop(&fake);
    fake_start(&fake, "webhook", "[]");
    webhook_receiver(&r, NULL);
    make_group(&n, 80, KW_NOTIFY_FIRING);
    m = rig_at(rig_send_one(&fake, &r, &n, &out, &all), "json");
    cr_assert_eq(cJSON_GetArraySize(rig_at(m, "alerts")), 80);
    cr_assert_eq(rig_at(m, "truncatedAlerts")->valueint, 0);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(webhook, label_names_are_prometheus_names, .fini = stop_fake, .timeout = 20)
{
    struct rig_sent s;
    rig_prepare(&webhook, &s, 1, KW_NOTIFY_FIRING);
    struct kw_alert *a = &s.n.alerts[0];
    snprintf(a->labels[2].name, sizeof a->labels[2].name, "alertname");
    snprintf(a->labels[2].value, sizeof a->labels[2].value, "from-the-series");
    snprintf(a->labels[3].name, sizeof a->labels[3].name, "http.status");
    snprintf(a->labels[3].value, sizeof a->labels[3].value, "502");
    snprintf(a->labels[4].name, sizeof a->labels[4].name, "2xx-share");
    snprintf(a->labels[4].value, sizeof a->labels[4].value, "low");
    a->nlabels = 5;
    const cJSON *labels = rig_at(rig_send_ok(&webhook, &s), "json.alerts[0].labels");
    cr_assert_str_eq(rig_str_at(labels, "alertname"), "step_dropoff_rate");
    cr_assert_str_eq(rig_str_at(labels, "exported_alertname"), "from-the-series");
    cr_assert_str_eq(rig_str_at(labels, "http_status"), "502");
    cr_assert_str_eq(rig_str_at(labels, "_2xx_share"), "low");
    rig_sent_release(&s);
}

Test(webhook, hmac_signature_verifies_in_the_receiver, .fini = stop_fake, .timeout = 20)
{
    setenv("KW_WEBHOOK_HMAC_SECRET", SECRET, 1);
    fake_start(&fake, "webhook", "[]");
    struct kw_receiver r;
    webhook_receiver(&r, "\"hmac_secret\":\"" SECRET "\"");
    struct kw_notification n;
    make_group(&n, 3, KW_NOTIFY_FIRING);
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *req = rig_send_one(&fake, &r, &n, &out, &all); /* no problems: the signature matched */
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    const char *sig = rig_str_at(req, "headers.x-kpiwatch-signature");
    cr_assert(strncmp(sig, "sha256=", 7) == 0 && strlen(sig) == 7 + 64, "%s", sig);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(webhook, wrong_secret_is_detected, .fini = stop_fake, .timeout = 20)
{
    setenv("KW_WEBHOOK_HMAC_SECRET", SECRET, 1);
    fake_start(&fake, "webhook", "[]");
    struct kw_receiver r;
    webhook_receiver(&r, "\"hmac_secret\":\"not-the-shared-secret\"");
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out;
    kw_notify_send_now(&r, &n, &rig_delivery, &out);
    cJSON *all = fake_requests(&fake);
    const cJSON *problems = rig_at(cJSON_GetArrayItem(all, 0), "problems");
    cr_assert_eq(cJSON_GetArraySize(problems), 1);
    cr_assert_str_eq(cJSON_GetArrayItem(problems, 0)->valuestring, "signature mismatch in x-kpiwatch-signature");
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(webhook, signature_header_and_secret_file, .fini = stop_fake, .timeout = 20)
{
    setenv("KW_WEBHOOK_HMAC_SECRET", SECRET, 1);
    setenv("KW_WEBHOOK_SIGNATURE_HEADER", "X-Hub-Signature-256", 1);
    fake_start(&fake, "webhook", "[]");
    char path[192];
    rig_write_file(&fake, "hmac-key", SECRET "\n", path, sizeof path);
    char extra[320];
    snprintf(extra, sizeof extra, "\"hmac_secret_file\":\"%s\",\"signature_header\":\"X-Hub-Signature-256\"", path);
    struct kw_receiver r;
    webhook_receiver(&r, extra);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *req = rig_send_one(&fake, &r, &n, &out, &all);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert(rig_at(req, "headers.x-hub-signature-256") != NULL);
    cr_assert(rig_at(req, "headers.x-kpiwatch-timestamp") != NULL);
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

ParameterizedTestParameters(webhook, answers)
{
    static struct rig_answer_case cases[] = {
        {"[{\"status\":200,\"body\":\"\"}]", KW_SEND_OK, 0, "HTTP 200"},
        {"[{\"status\":204,\"body\":\"\"}]", KW_SEND_OK, 0, "HTTP 204"},
        {"[{\"status\":400,\"body\":\"invalid_payload\"}]", KW_SEND_ERROR, 0, "HTTP 400: invalid_payload"},
        {"[{\"status\":401,\"body\":\"bad signature\"}]", KW_SEND_ERROR, 0, "HTTP 401: bad signature"},
        {"[{\"status\":408,\"body\":\"\"}]", KW_SEND_RETRY, 0, "HTTP 408"},
        {"[{\"status\":429,\"headers\":{\"Retry-After\":\"7\"},\"body\":\"slow down\"}]", KW_SEND_RETRY, 7000,
         "HTTP 429: slow down"},
        {"[{\"status\":500,\"body\":\"\"}]", KW_SEND_RETRY, 0, "HTTP 500"},
        {"[{\"status\":503,\"headers\":{\"Retry-After\":\"7\"},\"body\":\"\"}]", KW_SEND_RETRY, 7000, "HTTP 503"},
    };
    return cr_make_param_array(struct rig_answer_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct rig_answer_case *c, webhook, answers, .fini = stop_fake, .timeout = 20)
{
    struct kw_send_outcome out;
    rig_check_answer(&webhook, c, &out);
}

Test(webhook, hanging_receiver_is_retried_after_the_timeout, .fini = stop_fake, .timeout = 20)
{
    rig_check_hang(&webhook);
}

Test(webhook, config_errors_name_the_key_never_the_secret)
{
    char err[KW_ERR_LEN];
    cr_assert_eq(rig_parse_err("{\"name\":\"w\",\"type\":\"webhook\"}", err, sizeof err), -1);
    cr_assert_str_eq(err, "receivers[0].url: is required (or receivers[0].url_file, a file holding it)");

    cr_assert_eq(rig_parse_err("{\"name\":\"w\",\"type\":\"webhook\",\"url\":\"https://r.example/h?token=topsecret\","
                           "\"url_file\":\"/run/credentials/url\"}",
                           err, sizeof err),
                 -1);
    cr_assert(strstr(err, "receivers[0].url: set either this or receivers[0].url_file") == err, "%s", err);
    cr_assert(strstr(err, "topsecret") == NULL, "%s", err);

    cr_assert_eq(rig_parse_err("{\"name\":\"w\",\"type\":\"webhook\",\"url\":\"ftp://r.example/topsecret\"}", err,
                           sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].url: must be an http(s) URL with a host");

    cr_assert_eq(rig_parse_err("{\"name\":\"w\",\"type\":\"webhook\",\"url\":\"https://r.example/h\",\"hmac_secret\":"
                           "\"hmactopsecret\",\"hmac_secret_file\":\"/run/credentials/hmac\"}",
                           err, sizeof err),
                 -1);
    cr_assert(strstr(err, "receivers[0].hmac_secret: set either this or receivers[0].hmac_secret_file") == err, "%s",
              err);
    cr_assert(strstr(err, "topsecret") == NULL, "%s", err);

    cr_assert_eq(rig_parse_err("{\"name\":\"w\",\"type\":\"webhook\",\"url\":\"https://r.example/h\",\"signature_header\":"
                           "\"X-Sig: injected\"}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].signature_header: must be a header name (letters, digits, - and _)");

    cr_assert_eq(rig_parse_err("{\"name\":\"w\",\"type\":\"webhook\",\"url\":\"https://r.example/h\",\"max_alerts\":-1}",
                           err, sizeof err),
                 -1);
    cr_assert_str_eq(err, "receivers[0].max_alerts: must be >= 0");
}

Test(webhook, url_file_is_read_and_logged_redacted, .fini = stop_fake, .timeout = 20)
{
    fake_start(&fake, "webhook", "[]");
    char url[256], path[192];
    snprintf(url, sizeof url, "%s/alertmanager?token=urlsecret9\n", fake.base_url);
    rig_write_file(&fake, "url", url, path, sizeof path);
    char json[512];
    snprintf(json, sizeof json, "{\"name\":\"w\",\"type\":\"webhook\",\"url_file\":\"%s\"}", path);
    struct kw_receiver r;
    rig_parse_ok(&r, json);
    struct kw_notification n;
    make_group(&n, 1, KW_NOTIFY_FIRING);
    rig_assert_url_redacted(&r, &n, &fake);
    struct kw_send_outcome out;
    cJSON *all;
    const cJSON *got = rig_send_one(&fake, &r, &n, &out, &all);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_str_eq(rig_str_at(got, "query.token"), "urlsecret9");
    cr_assert_str_eq(rig_str_at(got, "json.externalURL"), "");
    cJSON_Delete(all);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}
