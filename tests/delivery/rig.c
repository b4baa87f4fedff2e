/* rig: shared fixtures of the delivery tests (see rig.h). */
#include "rig.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/timefmt.h"

const struct kw_delivery_config rig_delivery = {.connect_timeout_ms = 2000, .timeout_ms = 5000};

struct kw_alert rig_member_alert(int i)
{
    struct kw_alert a = checkout_alert();
    snprintf(a.key, sizeof a.key, "00112233aabb%04x", i);
    snprintf(a.description, sizeof a.description, "Share of customers who leave the checkout at this step");
    snprintf(a.runbook, sizeof a.runbook, "https://wiki.example.com/runbooks/checkout-dropoff");
    snprintf(a.dashboard, sizeof a.dashboard, "https://grafana.example.com/d/checkout?var-step=payment");
    if (i != 0)
        snprintf(a.labels[1].value, sizeof a.labels[1].value, "step-%02d", i);
    a.peak_observed = a.observed;
    a.peak_expected = a.expected;
    return a;
}

void rig_group_of_three(struct kw_alert al[3])
{
    al[0] = checkout_alert();
    for (int i = 1; i < 3; i++) {
        al[i] = checkout_alert();
        snprintf(al[i].key, sizeof al[i].key, "00112233aabbccd%d", i);
        snprintf(al[i].labels[1].value, sizeof al[i].labels[1].value, i == 1 ? "shipping" : "review");
        al[i].severity = KW_SEV_WARNING;
        al[i].severity_score = 40;
        al[i].observed = 0.2;
    }
}

void rig_group(struct kw_notification *n, size_t count, int kind, const char *receiver, const char *key)
{
    memset(n, 0, sizeof *n);
    snprintf(n->receiver, sizeof n->receiver, "%s", receiver);
    snprintf(n->key, sizeof n->key, "%s", key);
    n->kind = kind;
    n->created_ms = kw_now_ms();
    n->alerts = calloc(count, sizeof *n->alerts);
    n->nalerts = count;
    for (size_t i = 0; i < count; i++)
        n->alerts[i] = rig_member_alert((int)i);
}

void rig_resolve(struct kw_alert *a)
{
    a->status = KW_ALERT_RESOLVED;
    a->observed = 0.061;
    a->at_ms = a->since_ms + 5 * 300000;
}

struct kw_notification rig_notification(struct kw_alert *al, size_t n, int kind, const char *receiver,
                                        const char *key)
{
    struct kw_notification note = {.kind = kind, .alerts = al, .nalerts = n, .created_ms = kw_now_ms()};
    snprintf(note.receiver, sizeof note.receiver, "%s", receiver);
    snprintf(note.key, sizeof note.key, "%s", key);
    return note;
}

int rig_parse(struct kw_receiver *r, const char *json, char *err, size_t errlen)
{
    cJSON *obj = cJSON_Parse(json);
    cr_assert(obj != NULL, "bad test JSON: %s", json);
    int rc = kw_receiver_parse(r, obj, "receivers[0]", err, errlen);
    cJSON_Delete(obj);
    return rc;
}

void rig_parse_ok(struct kw_receiver *r, const char *json)
{
    char err[KW_ERR_LEN] = "";
    cr_assert_eq(rig_parse(r, json, err, sizeof err), 0, "%s", err);
}

int rig_parse_err(const char *json, char *err, size_t errlen)
{
    struct kw_receiver r;
    int rc = rig_parse(&r, json, err, errlen);
    if (rc == 0)
        kw_receiver_release(&r);
    return rc;
}

const cJSON *rig_at(const cJSON *o, const char *path)
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

const cJSON *rig_at_split(const cJSON *o, const char *path, const char *sep)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *part = strtok_r(buf, sep, &save); part && o; part = strtok_r(NULL, sep, &save))
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(part)) : cJSON_GetObjectItemCaseSensitive(o, part);
    return o;
}

const char *rig_str_at(const cJSON *o, const char *path)
{
    const cJSON *s = rig_at(o, path);
    return cJSON_IsString(s) ? s->valuestring : "(absent)";
}

const char *rig_string_at(const cJSON *o, const char *path, const char *sep)
{
    const cJSON *v = rig_at_split(o, path, sep);
    cr_assert(cJSON_IsString(v), "%s is not a string", path);
    return v->valuestring;
}

size_t rig_utf8_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

struct kw_send_outcome rig_deliver(struct kw_receiver *r, struct kw_notification *n)
{
    struct kw_send_outcome out;
    kw_notify_send_now(r, n, &rig_delivery, &out);
    return out;
}

const cJSON *rig_request(const cJSON *reqs, int i)
{
    const cJSON *req = cJSON_GetArrayItem(reqs, i);
    cr_assert(req != NULL, "request %d was not received", i);
    const cJSON *problems = cJSON_GetObjectItemCaseSensitive(req, "problems");
    char *text = cJSON_PrintUnformatted(problems);
    cr_assert_eq(cJSON_GetArraySize(problems), 0, "the service would reject request %d: %s", i, text);
    free(text);
    return req;
}

cJSON *rig_requests(struct fake_service *f, int expected)
{
    cJSON *all = fake_requests(f);
    cr_assert_eq(cJSON_GetArraySize(all), expected);
    for (int i = 0; i < expected; i++)
        rig_request(all, i);
    return all;
}

const cJSON *rig_send_one(struct fake_service *f, struct kw_receiver *r, struct kw_notification *n,
                          struct kw_send_outcome *out, cJSON **all)
{
    *out = rig_deliver(r, n);
    *all = rig_requests(f, 1);
    return cJSON_GetArrayItem(*all, 0);
}

void rig_assert_answer(struct fake_service *f, struct kw_receiver *r, struct kw_notification *n,
                       const struct rig_answer_case *c, struct kw_send_outcome *out)
{
    *out = rig_deliver(r, n);
    cr_assert_eq(out->result, c->result, "%s: got %d (%s)", c->script, out->result, out->reason);
    cr_assert_eq(out->retry_after_ms, c->retry_after_ms);
    cr_assert_str_eq(out->reason, c->reason);
    cJSON_Delete(rig_requests(f, 1));
}

void rig_assert_hang_is_retried(struct kw_receiver *r, struct kw_notification *n)
{
    struct kw_delivery_config quick = {.connect_timeout_ms = 2000, .timeout_ms = 500};
    struct kw_send_outcome out;
    int64_t t0 = kw_mono_ms();
    kw_notify_send_now(r, n, &quick, &out);
    int64_t took = kw_mono_ms() - t0;
    cr_assert_eq(out.result, KW_SEND_RETRY);
    cr_assert(strncmp(out.reason, "transport: ", 11) == 0, "%s", out.reason);
    cr_assert(took < 3000, "took %lld ms", (long long)took);
}

void rig_prepare(const struct rig_target *t, struct rig_sent *s, size_t count, int kind)
{
    memset(s, 0, sizeof *s);
    t->start("[]");
    t->receiver(&s->r);
    t->group(&s->n, count, kind);
}

const cJSON *rig_send_ok(const struct rig_target *t, struct rig_sent *s)
{
    const cJSON *req = rig_send_one(t->fake, &s->r, &s->n, &s->out, &s->all);
    cr_assert_eq(s->out.result, KW_SEND_OK, "%s", s->out.reason);
    return req;
}

void rig_sent_release(struct rig_sent *s)
{
    cJSON_Delete(s->all);
    kw_notification_release(&s->n);
    kw_receiver_release(&s->r);
}

void rig_check_answer(const struct rig_target *t, const struct rig_answer_case *c, struct kw_send_outcome *out)
{
    t->start(c->script);
    struct kw_receiver r;
    t->receiver(&r);
    struct kw_notification n;
    t->group(&n, 1, KW_NOTIFY_FIRING);
    rig_assert_answer(t->fake, &r, &n, c, out);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

void rig_check_hang(const struct rig_target *t)
{
    t->start("[{\"delay\": 30}]");
    struct kw_receiver r;
    t->receiver(&r);
    struct kw_notification n;
    t->group(&n, 1, KW_NOTIFY_FIRING);
    rig_assert_hang_is_retried(&r, &n);
    kw_notification_release(&n);
    kw_receiver_release(&r);
}

void rig_write_file(const struct fake_service *f, const char *name, const char *text, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    cr_assert(fp != NULL, "%s", path);
    fputs(text, fp);
    fclose(fp);
}

void rig_assert_url_redacted(struct kw_receiver *r, struct kw_notification *n, const struct fake_service *f)
{
    struct kw_request req = {0};
    req.easy = curl_easy_init();
    char err[KW_ERR_LEN];
    cr_assert_eq(r->type->prepare(r->cfg, n, 0, &req, err, sizeof err), 1);
    char want[96];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/…", f->port);
    cr_assert_str_eq(req.url, want);
    kw_request_release(&req);
    curl_easy_cleanup(req.easy);
}

void rig_check_severity_cases(struct fake_service *f, struct kw_receiver *r, struct kw_alert *al,
                              const struct rig_severity_case *cases, size_t ncases, const char *key,
                              const char *same_path, const char *same, const char *want_path)
{
    for (size_t i = 0; i < ncases; i++) {
        al[0].severity = cases[i].severity;
        al[0].severity_score = cases[i].score;
        al[1].status = cases[i].second_resolved ? KW_ALERT_RESOLVED : KW_ALERT_FIRING;
        /* same == NULL: every case a firing (the receiver tells updates apart) */
        int kind = same && i % 2 ? KW_NOTIFY_UPDATE : KW_NOTIFY_FIRING;
        struct kw_notification n = rig_notification(al, cases[i].members, kind, r->name, key);
        struct kw_send_outcome out = rig_deliver(r, &n);
        cr_assert_eq(out.result, KW_SEND_OK, "%s", out.reason);
    }
    cJSON *reqs = fake_requests(f);
    for (size_t i = 0; i < ncases; i++) {
        const cJSON *req = rig_request(reqs, (int)i);
        if (same)
            cr_assert_str_eq(rig_string_at(req, same_path, "/"), same, "every case, an update too: case %zu", i);
        cr_assert_str_eq(rig_string_at(req, want_path, "/"), cases[i].want, "case %zu", i);
    }
    cJSON_Delete(reqs);
}
