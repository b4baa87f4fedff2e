/* Message templates on the wire: a slack receiver with a template posts
 * exactly the rendered text (mrkdwn-escaped values, no blocks) to a local
 * Slack webhook (tests/receivers/svc_slack.py), and an email receiver with
 * subject_template and body_template sends that subject and that text over
 * real SMTP (tests/receivers/smtpd.py), with an HTML alternative only when
 * html_template is set. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../notifiers/dispatcher.h"
#include "../../notifiers/notifier.h"
#include "../../notifiers/sample.h"
#include "fake.h"

#define PY "/usr/bin/python3"
#define NOW_MS 1732352700000LL /* 2024-11-23T09:05:00Z */

static struct fake_service svc;
static const struct kw_delivery_config delivery = {.connect_timeout_ms = 2000, .timeout_ms = 5000};

static void stop(void)
{
    fake_stop(&svc);
}

static void parse_ok(struct kw_receiver *r, const char *json)
{
    cJSON *obj = cJSON_Parse(json);
    cr_assert_not_null(obj, "bad test JSON: %s", json);
    char err[KW_ERR_LEN] = "";
    int rc = kw_receiver_parse(r, obj, "receivers[0]", err, sizeof err);
    cJSON_Delete(obj);
    cr_assert_eq(rc, 0, "%s", err);
}

/* The sample group, its lead's step label holding mrkdwn and HTML control characters. */
static void sample(struct kw_notification *n)
{
    kw_sample_notification(n, "cx", false, NOW_MS);
    snprintf(n->alerts[0].labels[1].value, sizeof n->alerts[0].labels[1].value, "<!channel> & pay");
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    cr_assert(cJSON_IsString(v), "%s is not a string", name);
    return v->valuestring;
}

Test(template_delivery, slack_posts_exactly_the_rendered_text, .fini = stop, .timeout = 20)
{
    fake_start(&svc, "slack", "[]");
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\": \"cx\", \"type\": \"slack\", \"webhook_url\": \"%s/services/T0/B0/x\", \"template\": "
             "\"{{#firing}}:rotating_light:{{/firing}} *{{lead.kpi}}* at {{lead.label.step}}{{#more}} (+{{more}} "
             "more){{/more}}\\n{{#alerts}}\\n• {{kpi}}: {{observed}} vs {{expected}} ({{deviation}})\\n{{/alerts}}\"}",
             svc.base_url);
    struct kw_receiver r;
    parse_ok(&r, json);
    struct kw_notification n;
    sample(&n);
    struct kw_send_outcome out;
    kw_notify_send_now(&r, &n, &delivery, &out);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);

    cJSON *reqs = fake_requests(&svc);
    cr_assert_eq(cJSON_GetArraySize(reqs), 1);
    const cJSON *req = cJSON_GetArrayItem(reqs, 0);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(req, "problems")), 0, "Slack would refuse it");
    const cJSON *body = cJSON_GetObjectItem(req, "json");
    cr_assert_str_eq(str(body, "text"), ":rotating_light: *step_dropoff_rate* at &lt;!channel&gt; &amp; pay (+1 more)\n"
                                        "• step_dropoff_rate: 35.3% vs 6.0% (+488%)\n"
                                        "• complaints: 28 vs 5.2 (+438%)\n");
    cr_assert_null(cJSON_GetObjectItem(body, "blocks"), "the template replaces the blocks");
    cJSON_Delete(reqs);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

/* smtpd.py in plain SMTP on loopback (tls none is allowed only there). */
static void start_smtpd(void)
{
    const char *argv[] = {PY, "tests/receivers/smtpd.py", "--port-file", "%PORTFILE%", "--log", "%LOG%", NULL};
    fake_start_cmd(&svc, argv);
}

static void email_receiver(struct kw_receiver *r, const char *templates)
{
    char json[1536];
    snprintf(json, sizeof json,
             "{\"name\": \"mail\", \"type\": \"email\", \"smtp_url\": \"smtp://127.0.0.1:%d\", \"tls\": \"none\", "
             "\"from\": \"alerts@example.com\", \"to\": [\"oncall@example.com\"], %s}",
             svc.port, templates);
    parse_ok(r, json);
}

/* A part's text with its canonical CRLF line ends read back as \n. */
static const char *part_text(const cJSON *parts, int i)
{
    static char buf[4096];
    const char *text = str(cJSON_GetArrayItem(parts, i), "text");
    size_t n = 0;
    for (; *text && n + 1 < sizeof buf; text++)
        if (*text != '\r')
            buf[n++] = *text;
    buf[n] = '\0';
    return buf;
}

static const cJSON *received(cJSON *msgs)
{
    cr_assert_eq(cJSON_GetArraySize(msgs), 1);
    const cJSON *m = cJSON_GetArrayItem(msgs, 0);
    const cJSON *problems = cJSON_GetObjectItem(m, "problems");
    char *text = cJSON_PrintUnformatted(problems);
    cr_assert_eq(cJSON_GetArraySize(problems), 0, "breaks RFC 5322/MIME: %s", text);
    free(text);
    return m;
}

Test(template_delivery, email_sends_the_rendered_subject_and_text, .fini = stop, .timeout = 30)
{
    start_smtpd();
    struct kw_receiver r;
    email_receiver(&r, "\"subject_template\": \"{{severity}} {{lead.kpi}} at {{lead.label.step}} ({{count}})\", "
                       "\"body_template\": \"Hello,\\n{{#alerts}}\\n- {{kpi}} [{{labels}}] {{observed}}\\n{{/alerts}}\"");
    struct kw_notification n;
    sample(&n);
    struct kw_send_outcome out;
    kw_notify_send_now(&r, &n, &delivery, &out);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_eq(fake_wait_requests(&svc, 1, 2000), 1);
    cJSON *msgs = fake_requests(&svc);
    const cJSON *m = received(msgs);
    cr_assert_str_eq(str(m, "subject"), "[kpiwatch] critical step_dropoff_rate at <!channel> & pay (2)");
    cr_assert_str_eq(str(m, "content_type"), "text/plain", "a text template alone makes a text-only mail");
    const cJSON *parts = cJSON_GetObjectItem(m, "parts");
    cr_assert_eq(cJSON_GetArraySize(parts), 1);
    cr_assert_str_eq(part_text(parts, 0),
                     "Hello,\n- step_dropoff_rate [journey=checkout, step=<!channel> & pay] 35.3%\n"
                     "- complaints [journey=checkout] 28\n");
    cJSON_Delete(msgs);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

Test(template_delivery, email_html_template_escapes_values, .fini = stop, .timeout = 30)
{
    start_smtpd();
    struct kw_receiver r;
    email_receiver(&r, "\"body_template\": \"{{lead.kpi}} at {{lead.label.step}}\", "
                       "\"html_template\": \"<p><b>{{lead.kpi}}</b> at {{lead.label.step}}</p>\"");
    struct kw_notification n;
    sample(&n);
    struct kw_send_outcome out;
    kw_notify_send_now(&r, &n, &delivery, &out);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_eq(fake_wait_requests(&svc, 1, 2000), 1);
    cJSON *msgs = fake_requests(&svc);
    const cJSON *m = received(msgs);
    cr_assert_str_eq(str(m, "content_type"), "multipart/alternative");
    const cJSON *parts = cJSON_GetObjectItem(m, "parts");
    cr_assert_eq(cJSON_GetArraySize(parts), 2);
    cr_assert_str_eq(part_text(parts, 0), "step_dropoff_rate at <!channel> & pay");
    cr_assert_str_eq(str(cJSON_GetArrayItem(parts, 1), "content_type"), "text/html");
    cr_assert_str_eq(part_text(parts, 1), "<p><b>step_dropoff_rate</b> at &lt;!channel&gt; &amp; pay</p>");
    cJSON_Delete(msgs);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}
