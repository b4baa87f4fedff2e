/* The email receiver against a real SMTP server on loopback
 * (tests/receivers/smtpd.py, aiosmtpd) with STARTTLS on a certificate made
 * here, AUTH, and a MIME parser checking every message: recipients,
 * multipart/alternative, headers, HTML escaping, threading of the resolve,
 * and what the server's refusals and failures come to. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../lib/timefmt.h"
#include "rig.h"

#define PY "/usr/bin/python3"
#define PASSWORD "correct horse battery"

static struct fake_service svc;
static char certdir[64];
static char cert[128], key[128];

/* A self-signed certificate for 127.0.0.1, as a private relay would have. */
static void make_cert(void)
{
    snprintf(certdir, sizeof certdir, "/tmp/kw-smtp-cert-XXXXXX");
    cr_assert(mkdtemp(certdir) != NULL);
    snprintf(cert, sizeof cert, "%s/cert.pem", certdir);
    snprintf(key, sizeof key, "%s/key.pem", certdir);
    char cmd[768];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1",
             key, cert);
    cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
}

static void cleanup(void)
{
    fake_stop(&svc);
    if (certdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", certdir);
        if (system(cmd) != 0)
            perror("rm");
    }
}

/* smtpd.py with STARTTLS and AUTH, plus extra arguments (NULL-terminated). */
static void start_smtpd(bool tls, bool smtps, bool auth, const char *const *extra)
{
    const char *argv[32] = {PY, "tests/receivers/smtpd.py", "--port-file", "%PORTFILE%", "--log", "%LOG%"};
    int n = 6;
    if (tls) {
        argv[n++] = "--cert";
        argv[n++] = cert;
        argv[n++] = "--key";
        argv[n++] = key;
    }
    if (smtps)
        argv[n++] = "--smtps";
    if (auth) {
        argv[n++] = "--user";
        argv[n++] = "kpiwatch";
        argv[n++] = "--password";
        argv[n++] = PASSWORD;
    }
    for (int i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    fake_start_cmd(&svc, argv);
}

/* The checkout alert with a runbook URL whose query the HTML must escape. */
static struct kw_alert rate_alert(void)
{
    struct kw_alert a = checkout_alert();
    snprintf(a.runbook, sizeof a.runbook, "https://wiki.example.com/runbooks/dropoff?step=payment&lang=en");
    return a;
}

/* The lead (with a hostile label value) plus two warnings: a group of 3. */
static void group_of_three(struct kw_alert al[3])
{
    al[0] = rate_alert();
    snprintf(al[0].labels[2].name, sizeof al[0].labels[2].name, "variant");
    snprintf(al[0].labels[2].value, sizeof al[0].labels[2].value, "<script>alert(1)</script>");
    al[0].nlabels = 3;
    for (int i = 1; i < 3; i++) {
        al[i] = rate_alert();
        snprintf(al[i].labels[1].value, sizeof al[i].labels[1].value, i == 1 ? "shipping" : "review");
        al[i].severity = KW_SEV_WARNING;
        al[i].severity_score = 40;
        al[i].observed = 0.2;
    }
}

static struct kw_notification notification(struct kw_alert *al, size_t n, int kind)
{
    return rig_notification(al, n, kind, "mail", "checkout-dropoff/journey=checkout");
}

/* A receiver for the running smtpd: scheme, and extra options (",\"k\": v"
 * or ""); a "from" among them replaces the default sender. */
/* Send one rate alert a through r, firing, now. */
static struct kw_send_outcome send_alert(struct kw_receiver *r, struct kw_alert *a)
{
    struct kw_notification n = notification(a, 1, KW_NOTIFY_FIRING);
    return rig_deliver(r, &n);
}

/* Send a through r, which must go out OK as one mail: every mail the
 * server got (caller deletes), that one checked and in *m. */
static cJSON *mail_of(struct kw_receiver *r, struct kw_alert *a, const cJSON **m)
{
    struct kw_send_outcome out = send_alert(r, a);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert_eq(fake_wait_requests(&svc, 1, 2000), 1);
    cJSON *msgs = fake_requests(&svc);
    *m = rig_request(msgs, 0);
    return msgs;
}

static void parse_ok(struct kw_receiver *r, const char *scheme, const char *extra)
{
    char json[1536];
    snprintf(json, sizeof json,
             "{\"name\":\"mail\",\"type\":\"email\",\"smtp_url\":\"%s://127.0.0.1:%d\",\"ca_file\":\"%s\"%s"
             "\"to\":[\"oncall@example.com\",\"Team Lead <lead@example.com>\"]%s}",
             scheme, svc.port, cert, strstr(extra, "\"from\"") ? "," : ",\"from\":\"kpiwatch <alerts@example.com>\",",
             extra);
    rig_parse_ok(r, json);
}

#define AUTH ",\"username\":\"kpiwatch\",\"password\":\"" PASSWORD "\""

static const char *field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    cr_assert(cJSON_IsString(v), "%s is not a string", name);
    return v->valuestring;
}

/* A header's raw value, or NULL. */
static const char *header(const cJSON *m, const char *name)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(m, "headers")) {
        if (strcasecmp(cJSON_GetArrayItem(h, 0)->valuestring, name) == 0)
            return cJSON_GetArrayItem(h, 1)->valuestring;
    }
    return NULL;
}

static const cJSON *part(const cJSON *m, int i)
{
    const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "parts"), i);
    cr_assert(p != NULL, "no part %d", i);
    return p;
}

Test(email, starttls_auth_two_recipients_multipart, .init = make_cert, .fini = cleanup, .timeout = 30)
{
    start_smtpd(true, false, true, NULL);
    struct kw_receiver r;
    parse_ok(&r, "smtp", AUTH ",\"hello\":\"kpiwatch.example.com\"");
    struct kw_alert al[3];
    group_of_three(al);
    struct kw_notification n = notification(al, 3, KW_NOTIFY_FIRING);
    struct kw_send_outcome out = rig_deliver(&r, &n);
    cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    cr_assert(strncmp(out.ref, "<checkout-dropoff-journey-checkout.", 35) == 0, "%s", out.ref);
    cr_assert(strstr(out.ref, "@kpiwatch>") != NULL, "%s", out.ref);

    cr_assert_eq(fake_wait_requests(&svc, 1, 2000), 1);
    cJSON *msgs = fake_requests(&svc);
    const cJSON *m = rig_request(msgs, 0);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(m, "tls")), "STARTTLS was not used");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(m, "authenticated")));
    cr_assert_str_eq(field(m, "auth_user"), "kpiwatch");
    cr_assert_str_eq(field(m, "ehlo"), "kpiwatch.example.com");
    cr_assert_str_eq(field(m, "mail_from"), "alerts@example.com");
    const cJSON *rcpt = cJSON_GetObjectItem(m, "rcpt_tos");
    cr_assert_eq(cJSON_GetArraySize(rcpt), 2);
    cr_assert_str_eq(cJSON_GetArrayItem(rcpt, 0)->valuestring, "oncall@example.com");
    cr_assert_str_eq(cJSON_GetArrayItem(rcpt, 1)->valuestring, "lead@example.com");

    cr_assert_str_eq(header(m, "Message-ID"), out.ref);
    cr_assert_not_null(header(m, "Date"));
    cr_assert_str_eq(header(m, "From"), "kpiwatch <alerts@example.com>");
    cr_assert(strstr(header(m, "To"), "oncall@example.com") && strstr(header(m, "To"), "Team Lead <lead@example.com>"),
              "%s", header(m, "To"));
    cr_assert_null(header(m, "In-Reply-To"), "the first mail starts the thread");
    cr_assert_str_eq(header(m, "Auto-Submitted"), "auto-generated");
    cr_assert_str_eq(field(m, "subject"),
                     "[kpiwatch] Incident: step_dropoff_rate [journey=checkout, step=payment, "
                     "variant=<script>alert(1)</script>] since 2024-11-23T09:00:00Z");

    cr_assert_str_eq(field(m, "content_type"), "multipart/alternative");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(m, "parts")), 2);
    const cJSON *text = part(m, 0), *html = part(m, 1);
    cr_assert_str_eq(field(text, "content_type"), "text/plain");
    cr_assert_str_eq(field(text, "charset"), "utf-8");
    cr_assert_str_eq(field(html, "content_type"), "text/html");
    cr_assert_str_eq(field(html, "charset"), "utf-8");

    const char *t = field(text, "text");
    cr_assert(strstr(t, "FIRING critical: 3 alerts") != NULL, "%s", t);
    cr_assert(strstr(t, "FIRING critical | step_dropoff_rate [journey=checkout, step=payment") != NULL, "%s", t);
    cr_assert(strstr(t, "step=shipping") && strstr(t, "step=review"), "every member: %s", t);
    cr_assert(strstr(t, "Runbook:   https://wiki.example.com/runbooks/dropoff?step=payment&lang=en") != NULL, "%s", t);
    cr_assert(strstr(t, "▁") != NULL, "the trend: %s", t);

    const char *h = field(html, "text");
    cr_assert(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL, "label value escaped: %s", h);
    cr_assert(strstr(h, "<script") == NULL, "no markup from data: %s", h);
    cr_assert(strstr(h, "<a href=\"https://wiki.example.com/runbooks/dropoff?step=payment&amp;lang=en\">Runbook</a>") != NULL,
              "%s", h);
    cr_assert(strstr(h, "<td>34.6%</td>") != NULL, "%s", h);
    cr_assert(strstr(h, "step=shipping") && strstr(h, "step=review"), "every member: %s", h);
    cJSON_Delete(msgs);
    kw_receiver_release(&r);
}

Test(email, resolve_replies_in_the_thread_of_the_first_mail, .init = make_cert, .fini = cleanup, .timeout = 30)
{
    start_smtpd(true, false, true, NULL);
    struct kw_receiver r;
    parse_ok(&r, "smtp", AUTH);
    struct kw_alert a = rate_alert();
    struct kw_notification n = notification(&a, 1, KW_NOTIFY_FIRING);
    struct kw_send_outcome first = rig_deliver(&r, &n);
    cr_assert_eq(first.result, KW_SEND_OK, "%s", first.reason);

    snprintf(n.ref, sizeof n.ref, "%s", first.ref); /* what the dispatcher keeps for the key */
    n.kind = KW_NOTIFY_UPDATE;
    struct kw_send_outcome update = rig_deliver(&r, &n);
    cr_assert_eq(update.result, KW_SEND_OK, "%s", update.reason);
    cr_assert_str_eq(update.ref, first.ref, "the thread's root stays the reference");

    a.status = KW_ALERT_RESOLVED;
    a.observed = 0.061;
    n.kind = KW_NOTIFY_RESOLVED;
    struct kw_send_outcome resolved = rig_deliver(&r, &n);
    cr_assert_eq(resolved.result, KW_SEND_OK, "%s", resolved.reason);

    cr_assert_eq(fake_wait_requests(&svc, 3, 2000), 3);
    cJSON *msgs = fake_requests(&svc);
    const cJSON *m0 = rig_request(msgs, 0), *m1 = rig_request(msgs, 1), *m2 = rig_request(msgs, 2);
    cr_assert_str_eq(header(m0, "Message-ID"), first.ref);
    for (int i = 1; i < 3; i++) {
        const cJSON *m = i == 1 ? m1 : m2;
        cr_assert_str_eq(header(m, "In-Reply-To"), first.ref, "message %d", i);
        cr_assert_str_eq(header(m, "References"), first.ref, "message %d", i);
        cr_assert_str_neq(header(m, "Message-ID"), first.ref, "every mail has its own Message-ID");
    }
    /* one subject for the incident, so that clients which thread by subject keep it together */
    cr_assert_str_eq(field(m0, "subject"), "[kpiwatch] Incident: step_dropoff_rate [journey=checkout, step=payment] since "
                                           "2024-11-23T09:00:00Z");
    cr_assert_str_eq(field(m1, "subject"), field(m0, "subject"));
    cr_assert_str_eq(field(m2, "subject"), field(m0, "subject"));
    cr_assert(strncmp(field(part(m1, 0), "text"), "UPDATED critical", 16) == 0, "the status leads the body: %s",
              field(part(m1, 0), "text"));
    cr_assert(strstr(field(part(m2, 0), "text"), "RESOLVED | step_dropoff_rate [journey=checkout, step=payment] back to 6.1%") != NULL,
              "%s", field(part(m2, 0), "text"));
    cJSON_Delete(msgs);
    kw_receiver_release(&r);
}

Test(email, non_ascii_subject_is_an_encoded_word, .init = make_cert, .fini = cleanup, .timeout = 30)
{
    start_smtpd(true, false, true, NULL);
    struct kw_receiver r;
    parse_ok(&r, "smtp", AUTH ",\"subject_prefix\":\"[Störung]\",\"from\":\"Überwachung <alerts@example.com>\"");
    struct kw_alert a = rate_alert();
    snprintf(a.labels[0].value, sizeof a.labels[0].value, "Zürich – Kasse");
    const cJSON *m;
    cJSON *msgs = mail_of(&r, &a, &m); /* no 8-bit header bytes among its checks */
    cr_assert(strncmp(header(m, "Subject"), "=?UTF-8?B?", 10) == 0, "%s", header(m, "Subject"));
    cr_assert_str_eq(field(m, "subject"),
                     "[Störung] Incident: step_dropoff_rate [journey=Zürich – Kasse, step=payment] since 2024-11-23T09:00:00Z");
    cr_assert(strstr(header(m, "From"), "=?UTF-8?B?") != NULL, "%s", header(m, "From"));
    cr_assert(strstr(field(part(m, 0), "text"), "journey=Zürich – Kasse") != NULL);
    cJSON_Delete(msgs);
    kw_receiver_release(&r);
}

Test(email, implicit_tls_on_smtps, .init = make_cert, .fini = cleanup, .timeout = 30)
{
    start_smtpd(true, true, true, NULL);
    struct kw_receiver r;
    parse_ok(&r, "smtps", AUTH);
    struct kw_alert a = rate_alert();
    const cJSON *m;
    cJSON *msgs = mail_of(&r, &a, &m);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(m, "tls")));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(m, "authenticated")));
    cJSON_Delete(msgs);
    kw_receiver_release(&r);
}

Test(email, refused_recipient_is_an_error, .init = make_cert, .fini = cleanup, .timeout = 30)
{
    const char *extra[] = {"--reject-rcpt", "lead@example.com", NULL};
    start_smtpd(true, false, true, extra);
    struct kw_receiver r;
    parse_ok(&r, "smtp", AUTH);
    struct kw_alert a = rate_alert();
    struct kw_send_outcome out = send_alert(&r, &a);
    cr_assert_eq(out.result, KW_SEND_ERROR, "%s", out.reason);
    cr_assert(strstr(out.reason, "SMTP 550 (permanent)") != NULL, "%s", out.reason);
    cr_assert_eq(fake_wait_requests(&svc, 1, 300), 0, "nothing was delivered");
    kw_receiver_release(&r);
}

Test(email, greylisting_is_retried, .init = make_cert, .fini = cleanup, .timeout = 30)
{
    const char *extra[] = {"--tempfail", NULL};
    start_smtpd(true, false, true, extra);
    struct kw_receiver r;
    parse_ok(&r, "smtp", AUTH);
    struct kw_alert a = rate_alert();
    struct kw_send_outcome out = send_alert(&r, &a);
    cr_assert_eq(out.result, KW_SEND_RETRY, "%s", out.reason);
    cr_assert(strstr(out.reason, "SMTP 451 (temporary)") != NULL, "%s", out.reason);
    kw_receiver_release(&r);
}

Test(email, wrong_password_is_an_error, .init = make_cert, .fini = cleanup, .timeout = 30)
{
    start_smtpd(true, false, true, NULL);
    struct kw_receiver r;
    parse_ok(&r, "smtp", ",\"username\":\"kpiwatch\",\"password\":\"not the password\"");
    struct kw_alert a = rate_alert();
    struct kw_send_outcome out = send_alert(&r, &a);
    cr_assert_eq(out.result, KW_SEND_ERROR, "%s", out.reason);
    cr_assert(strstr(out.reason, "535") != NULL, "%s", out.reason);
    cr_assert(strstr(out.reason, "not the password") == NULL, "%s", out.reason);
    kw_receiver_release(&r);
}

Test(email, no_silent_downgrade_without_starttls, .init = make_cert, .fini = cleanup, .timeout = 30)
{
    start_smtpd(false, false, false, NULL); /* a server offering no STARTTLS */
    struct kw_receiver r;
    parse_ok(&r, "smtp", "");
    struct kw_alert a = rate_alert();
    struct kw_send_outcome out = send_alert(&r, &a);
    cr_assert_eq(out.result, KW_SEND_ERROR, "%s", out.reason);
    cr_assert(strstr(out.reason, "STARTTLS") != NULL, "%s", out.reason);
    cr_assert_eq(fake_wait_requests(&svc, 1, 300), 0, "nothing went out in clear text");
    kw_receiver_release(&r);
}

Test(email, untrusted_certificate_is_an_error, .init = make_cert, .fini = cleanup, .timeout = 30)
{
    start_smtpd(true, false, true, NULL);
    char json[512], err[KW_ERR_LEN] = "";
    snprintf(json, sizeof json,
             "{\"name\":\"mail\",\"type\":\"email\",\"smtp_url\":\"smtp://127.0.0.1:%d\",\"from\":\"alerts@example.com\","
             "\"to\":[\"oncall@example.com\"]" AUTH "}",
             svc.port);
    struct kw_receiver r;
    cr_assert_eq(rig_parse(&r, json, err, sizeof err), 0, "%s", err);
    struct kw_alert a = rate_alert();
    struct kw_send_outcome out = send_alert(&r, &a);
    cr_assert_eq(out.result, KW_SEND_ERROR, "the self-signed certificate is not trusted without ca_file: %s", out.reason);
    cr_assert_eq(fake_wait_requests(&svc, 1, 300), 0);
    kw_receiver_release(&r);
}

Test(email, plain_smtp_only_to_loopback, .init = make_cert, .fini = cleanup, .timeout = 30)
{
    start_smtpd(false, false, false, NULL);
    struct kw_receiver r;
    parse_ok(&r, "smtp", ",\"tls\":\"none\"");
    struct kw_alert a = rate_alert();
    const cJSON *m;
    cJSON *msgs = mail_of(&r, &a, &m);
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(m, "tls")));
    cJSON_Delete(msgs);
    kw_receiver_release(&r);

    char err[KW_ERR_LEN] = "";
    cr_assert_eq(rig_parse(&r,
                       "{\"name\":\"mail\",\"type\":\"email\",\"smtp_url\":\"smtp://mail.example.com:25\",\"tls\":\"none\","
                       "\"from\":\"alerts@example.com\",\"to\":[\"oncall@example.com\"]}",
                       err, sizeof err),
                 -1);
    cr_assert(strstr(err, "receivers[0].tls: \"none\" would send mail and password in clear text; it is allowed only "
                          "to a loopback host (got mail.example.com)") != NULL, "%s", err);
}

Test(email, unreachable_server_is_retried, .init = make_cert, .fini = cleanup, .timeout = 30)
{
    start_smtpd(true, false, true, NULL);
    struct kw_receiver r;
    parse_ok(&r, "smtp", AUTH);
    fake_stop(&svc); /* nothing listens on the port now */
    struct kw_alert a = rate_alert();
    struct kw_send_outcome out = send_alert(&r, &a);
    cr_assert_eq(out.result, KW_SEND_RETRY, "%s", out.reason);
    cr_assert(strstr(out.reason, "transport") != NULL, "%s", out.reason);
    kw_receiver_release(&r);
}

Test(email, config_errors_name_the_key_and_never_the_secret)
{
    struct kw_receiver r;
    char err[KW_ERR_LEN];
#define BASE "\"name\":\"mail\",\"type\":\"email\",\"from\":\"alerts@example.com\",\"to\":[\"oncall@example.com\"]"
    struct {
        const char *json, *want;
    } cases[] = {
        {"{\"name\":\"mail\",\"type\":\"email\",\"from\":\"a@example.com\",\"to\":[\"b@example.com\"]}",
         "receivers[0].smtp_url: is required"},
        {"{" BASE ",\"smtp_url\":\"smtp://mail.example.com:587\",\"username\":\"u\"}",
         "receivers[0].password: is required (or receivers[0].password_file, a file holding it)"},
        {"{" BASE ",\"smtp_url\":\"smtp://mail.example.com:587\",\"password\":\"" PASSWORD "\"}",
         "receivers[0].password: is set but username is not"},
        {"{" BASE ",\"smtp_url\":\"smtp://mail.example.com:587\",\"username\":\"u\",\"password\":\"" PASSWORD "\","
         "\"password_file\":\"/run/pw\"}",
         "receivers[0].password: set either this or receivers[0].password_file, not both"},
        {"{" BASE ",\"smtp_url\":\"https://mail.example.com\"}",
         "receivers[0].smtp_url: must be smtp:// (STARTTLS) or smtps:// (implicit TLS)"},
        {"{" BASE ",\"smtp_url\":\"smtp://u:" "s3cr3t" "@mail.example.com:587\"}",
         "receivers[0].smtp_url: must not hold credentials"},
        {"{" BASE ",\"smtp_url\":\"smtps://mail.example.com:465\",\"tls\":\"none\"}",
         "receivers[0].tls: \"none\" does not apply to smtps://"},
        {"{" BASE ",\"smtp_url\":\"smtp://192.0.2.1:25\",\"tls\":\"none\"}",
         "receivers[0].tls: \"none\" would send mail and password in clear text"},
        {"{\"name\":\"mail\",\"type\":\"email\",\"smtp_url\":\"smtp://m.example.com\",\"from\":\"not an address\","
         "\"to\":[\"b@example.com\"]}",
         "receivers[0].from: must be an address"},
        {"{\"name\":\"mail\",\"type\":\"email\",\"smtp_url\":\"smtp://m.example.com\",\"from\":\"a@example.com\","
         "\"to\":[]}",
         "receivers[0].to: needs 1 to 100 recipients"},
        {"{\"name\":\"mail\",\"type\":\"email\",\"smtp_url\":\"smtp://m.example.com\",\"from\":\"a@example.com\","
         "\"to\":[\"b@example.com\",\"x@example.com\\r\\nBcc: evil@example.com\"]}",
         "receivers[0].to[1]: must be an address"},
        {"{" BASE ",\"smtp_url\":\"smtp://m.example.com\",\"hello\":\"bad name\\r\\nRSET\"}",
         "receivers[0].hello: must be a host name"},
        {"{" BASE ",\"smtp_url\":\"smtp://m.example.com\",\"ca_file\":\"/nonexistent/ca.pem\"}",
         "receivers[0].ca_file: cannot read /nonexistent/ca.pem"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        cr_assert_eq(rig_parse(&r, cases[i].json, err, sizeof err), -1, "case %zu parsed", i);
        cr_assert(strstr(err, cases[i].want) != NULL, "case %zu: got \"%s\"", i, err);
        cr_assert(strstr(err, PASSWORD) == NULL && strstr(err, "s3cr3t") == NULL, "case %zu quotes a secret: %s", i,
                  err);
    }
    cr_assert_eq(rig_parse(&r, "{" BASE ",\"smtp_url\":\"smtp://m.example.com:587\"}", err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(r.rate_per_s, 0.0, 1e-9);
    cr_assert_eq(r.burst, 1);
    kw_receiver_release(&r);
#undef BASE
}
