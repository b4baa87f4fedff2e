/* The dispatcher over real HTTP on loopback, against scripted local receivers
 * (tests/receivers/httpfake.py): Retry-After, backoff, dead letters, max_age,
 * a hanging receiver beside a healthy one, the token bucket, per-key order,
 * the queue bound, the spool across kill -9, thread references across a
 * restart, corrupt spool files, and the exact alert serialisation. Times are
 * the receiver's own request timestamps. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/jsonnum.h"
#include "../../lib/timefmt.h"
#include "../../notifiers/dispatcher.h"
#include "../../notifiers/http.h"
#include "../../notifiers/notifier.h"
#include "fake.h"

/* ---- a minimal JSON notifier ------------------------------------------- */

struct post_config {
    char *url;
};

static const struct kw_option post_options[] = {
    {"url", KW_OPT_STRING, NULL, offsetof(struct post_config, url), KW_NORANGE, .desc = "Where to post."},
    KW_OPT_END,
};

static const char *const kinds[] = {"firing", "update", "resolved"};

/* {"key", "kind", "ref", "tag"}: tag is alerts[0].kpi, to tell requests apart. */
static int post_prepare(void *cfg, const struct kw_notification *n, int step, struct kw_request *req, char *err,
                        size_t errlen)
{
    const struct post_config *c = cfg;
    if (step > 0)
        return 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", n->key);
    cJSON_AddStringToObject(o, "kind", kinds[n->kind]);
    cJSON_AddStringToObject(o, "ref", n->ref);
    cJSON_AddStringToObject(o, "tag", n->alerts[0].kpi);
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    kw_http_post_json(req, c->url, body, NULL);
    return 1;
}

/* The default classification; a FIRING answered {"ts": "..."} (as Slack's
 * chat.postMessage does) returns ts as the thread reference. Scanned by hand:
 * cJSON_Parse writes a process-wide error pointer, so parsing here would race
 * with the test thread reading the receiver's log. */
static void post_classify(void *cfg, const struct kw_notification *n, int step, const struct kw_request *req,
                          const struct kw_response *resp, struct kw_send_outcome *out)
{
    kw_http_classify_default(resp, out);
    const char *p = strstr(resp->body, "\"ts\"");
    if (out->result != KW_SEND_OK || n->kind != KW_NOTIFY_FIRING || !p)
        return;
    p += 4;
    while (*p == ' ' || *p == ':')
        p++;
    if (*p++ != '"')
        return;
    size_t len = strcspn(p, "\"");
    snprintf(out->ref, sizeof out->ref, "%.*s", (int)len, p);
}

static const struct kw_notifier_type post_type = {
    .name = "testpost",
    .description = "Posts {key, kind, ref, tag} as JSON.",
    .options = post_options,
    .config_size = sizeof(struct post_config),
    .prepare = post_prepare,
    .classify = post_classify,
};

/* ---- fixtures ------------------------------------------------------------ */

#define MAXR 2

static struct fake_service svc[MAXR];
static struct post_config pcfg[MAXR];
static struct kw_receiver rcv[MAXR];
static char state_dir[64];

static void setup(void)
{
    memset(svc, 0, sizeof svc);
    snprintf(state_dir, sizeof state_dir, "/tmp/kw-disp-XXXXXX");
    cr_assert(mkdtemp(state_dir) != NULL);
}

static void teardown(void)
{
    for (int i = 0; i < MAXR; i++) {
        if (svc[i].pid > 0)
            fake_stop(&svc[i]);
        free(pcfg[i].url);
        free(rcv[i].name);
        pcfg[i].url = rcv[i].name = NULL;
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
    if (system(cmd) != 0)
        perror("rm");
}

/* (Re)configure receiver i ("hook<i>") to post to the fake i, or to url when
 * not NULL. */
static void receiver(int i, const char *url, double rate, int burst)
{
    free(pcfg[i].url);
    free(rcv[i].name);
    char name[16];
    snprintf(name, sizeof name, "hook%d", i);
    pcfg[i].url = strdup(url ? url : svc[i].base_url);
    rcv[i] = (struct kw_receiver){.name = strdup(name), .type = &post_type, .cfg = &pcfg[i],
                                  .rate_per_s = rate, .burst = burst};
}

/* Defaults of the "delivery" section with quick retries for tests. */
static struct kw_delivery_config config(void)
{
    struct kw_delivery_config cfg;
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_opts_fill(kw_delivery_options, NULL, &cfg, "delivery", err, sizeof err), 0, "%s", err);
    cfg.backoff_initial_ms = 100;
    cfg.backoff_max_ms = 400;
    cfg.connect_timeout_ms = 2000;
    cfg.timeout_ms = 5000;
    return cfg;
}

static struct kw_dispatcher *start(const struct kw_delivery_config *cfg, int n, bool spool)
{
    char err[KW_ERR_LEN] = "";
    struct kw_dispatcher *d = kw_dispatcher_start(cfg, rcv, n, spool ? state_dir : NULL, err, sizeof err);
    cr_assert(d != NULL, "%s", err);
    return d;
}

static void submit_full(struct kw_dispatcher *d, int r, int kind, const char *key, const char *tag, const char *ref,
                        int64_t created_ms)
{
    struct kw_notification n = {.kind = kind, .nalerts = 1, .created_ms = created_ms};
    n.alerts = calloc(1, sizeof *n.alerts);
    snprintf(n.alerts[0].kpi, sizeof n.alerts[0].kpi, "%s", tag);
    snprintf(n.alerts[0].key, sizeof n.alerts[0].key, "00112233aabbccdd");
    n.alerts[0].status = kind == KW_NOTIFY_RESOLVED ? KW_ALERT_RESOLVED : KW_ALERT_FIRING;
    n.alerts[0].observed = 0.1;
    n.alerts[0].expected = NAN;
    snprintf(n.key, sizeof n.key, "%s", key);
    snprintf(n.ref, sizeof n.ref, "%s", ref ? ref : "");
    kw_dispatcher_submit(d, r, &n);
    cr_assert_null(n.alerts, "submit takes the notification over");
}

static void submit(struct kw_dispatcher *d, int r, int kind, const char *key, const char *tag)
{
    submit_full(d, r, kind, key, tag, NULL, 0);
}

static double now_s(void)
{
    return (double)kw_now_ms() / 1000.0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct kw_receiver_stats stats(struct kw_dispatcher *d, int r)
{
    struct kw_receiver_stats st;
    kw_dispatcher_stats(d, r, &st);
    return st;
}

/* Wait until receiver r's counter field reaches want. */
#define WAIT_STAT(d, r, field, want, timeout_ms)                                                         \
    do {                                                                                                 \
        for (int waited_ = 0; stats(d, r).field < (uint64_t)(want) && waited_ < (timeout_ms); waited_ += 20) \
            sleep_ms(20);                                                                                \
        cr_assert_geq(stats(d, r).field, (uint64_t)(want), #field " did not reach %d", (int)(want));    \
    } while (0)

/* Field of request i's JSON body. */
static const char *body_str(const cJSON *reqs, int i, const char *name)
{
    const cJSON *req = cJSON_GetArrayItem(reqs, i);
    cr_assert(req != NULL, "request %d was not received", i);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "json"), name);
    cr_assert(cJSON_IsString(v), "request %d has no %s", i, name);
    return v->valuestring;
}

static double req_time(const cJSON *reqs, int i)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(reqs, i), "t");
    cr_assert(cJSON_IsNumber(t), "request %d has no time", i);
    return t->valuedouble;
}

static int count_files(const char *dir, const char *suffix)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        n += e->d_name[0] != '.' && len > sl && strcmp(e->d_name + len - sl, suffix) == 0;
    }
    closedir(dh);
    return n;
}

static char *spool_path(const char *name)
{
    static char path[192];
    snprintf(path, sizeof path, "%s/spool%s%s", state_dir, name[0] ? "/" : "", name);
    return path;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    buf[fread(buf, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return buf;
}

/* The dead-letter file as an array of its lines. */
static cJSON *dead_letters(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/dead-letter.jsonl", state_dir);
    cJSON *arr = cJSON_CreateArray();
    char *text = slurp(path);
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        cr_assert(o != NULL, "dead-letter line is not JSON: %s", line);
        cJSON_AddItemToArray(arr, o);
    }
    free(text);
    return arr;
}

static const char *obj_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    cr_assert(cJSON_IsString(v), "no string %s", name);
    return v->valuestring;
}

/* 30 answers of 503 (the receiver's argv holds at most 511 characters). */
static void unavailable_script(char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < 30; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s{\"status\":503}", i ? "," : "");
    snprintf(buf + used, len - used, "]");
}

/* ---- retries ------------------------------------------------------------- */

Test(dispatcher, retry_after_is_honoured, .init = setup, .fini = teardown, .timeout = 30)
{
    fake_start(&svc[0], "generic", "[{\"status\": 429, \"headers\": {\"Retry-After\": \"2\"}, \"body\": \"slow down\"}]");
    receiver(0, NULL, 0, 1);
    struct kw_delivery_config cfg = config();
    struct kw_dispatcher *d = start(&cfg, 1, false);
    submit(d, 0, KW_NOTIFY_FIRING, "k1", "first");
    cr_assert_eq(fake_wait_requests(&svc[0], 2, 6000), 2);
    WAIT_STAT(d, 0, sent, 1, 2000);
    struct kw_receiver_stats st = stats(d, 0);
    kw_dispatcher_stop(d, 1000);

    cJSON *reqs = fake_requests(&svc[0]);
    double gap = req_time(reqs, 1) - req_time(reqs, 0);
    cr_assert_geq(gap, 1.99, "retried %.3f s after a Retry-After of 2 s", gap);
    cr_assert_leq(gap, 4.0, "retry came %.3f s later", gap);
    cr_assert_str_eq(body_str(reqs, 1, "key"), "k1");
    cr_assert_eq(st.retried, 1);
    cr_assert_eq(st.sent, 1);
    cr_assert_eq(st.depth, 0);
    cJSON_Delete(reqs);
}

Test(dispatcher, server_errors_are_retried_with_backoff, .init = setup, .fini = teardown, .timeout = 30)
{
    fake_start(&svc[0], "generic", "[{\"status\": 500}, {\"status\": 502}]");
    receiver(0, NULL, 0, 1);
    struct kw_delivery_config cfg = config();
    cfg.backoff_initial_ms = 300;
    cfg.backoff_max_ms = 1000;
    struct kw_dispatcher *d = start(&cfg, 1, false);
    submit(d, 0, KW_NOTIFY_FIRING, "k1", "first");
    WAIT_STAT(d, 0, sent, 1, 5000);
    struct kw_receiver_stats st = stats(d, 0);
    kw_dispatcher_stop(d, 1000);

    cJSON *reqs = fake_requests(&svc[0]);
    cr_assert_eq(cJSON_GetArraySize(reqs), 3, "500, 502, then 200");
    /* Full jitter: the waits are below 300 ms and 600 ms (plus scheduling slack). */
    cr_assert_leq(req_time(reqs, 1) - req_time(reqs, 0), 0.3 + 0.4);
    cr_assert_leq(req_time(reqs, 2) - req_time(reqs, 1), 0.6 + 0.4);
    for (int i = 0; i < 3; i++)
        cr_assert_str_eq(body_str(reqs, i, "key"), "k1");
    cr_assert_eq(st.retried, 2);
    cr_assert_eq(st.sent, 1);
    cr_assert_eq(st.failed, 0);
    cJSON_Delete(reqs);
}

Test(dispatcher, permanent_error_is_dead_lettered_once, .init = setup, .fini = teardown, .timeout = 30)
{
    fake_start(&svc[0], "generic", "[{\"status\": 400, \"body\": \"invalid_payload\"}]");
    receiver(0, NULL, 0, 1);
    struct kw_delivery_config cfg = config();
    struct kw_dispatcher *d = start(&cfg, 1, true);
    submit(d, 0, KW_NOTIFY_FIRING, "bad-key", "rejected");
    WAIT_STAT(d, 0, failed, 1, 3000);
    sleep_ms(600); /* several backoff periods: a retry would have come */
    struct kw_receiver_stats st = stats(d, 0);
    kw_dispatcher_stop(d, 1000);

    cr_assert_eq(fake_wait_requests(&svc[0], 1, 0), 1, "a permanent error is not retried");
    cr_assert_eq(st.retried, 0);
    cr_assert_eq(st.sent, 0);
    cJSON *dl = dead_letters();
    cr_assert_eq(cJSON_GetArraySize(dl), 1);
    const cJSON *line = cJSON_GetArrayItem(dl, 0);
    cr_assert_str_eq(obj_str(line, "receiver"), "hook0");
    cr_assert_str_eq(obj_str(line, "key"), "bad-key");
    cr_assert_str_eq(obj_str(line, "kind"), "firing");
    cr_assert(strstr(obj_str(line, "reason"), "HTTP 400") && strstr(obj_str(line, "reason"), "invalid_payload"),
              "reason: %s", obj_str(line, "reason"));
    cr_assert_eq(cJSON_GetObjectItemCaseSensitive(line, "attempts")->valueint, 1);
    int64_t t;
    cr_assert_eq(kw_time_parse(obj_str(line, "time"), &t), 0);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(line, "notification");
    cr_assert_str_eq(obj_str(n, "key"), "bad-key");
    struct kw_alert a;
    cr_assert_eq(kw_alert_load(&a, cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(n, "alerts"), 0)), 0);
    cr_assert_str_eq(a.kpi, "rejected");
    cr_assert_eq(count_files(spool_path(""), ".json"), 0, "a dead notification leaves the spool");
    cJSON_Delete(dl);
}

Test(dispatcher, too_old_is_dead_lettered, .init = setup, .fini = teardown, .timeout = 30)
{
    char script[512];
    unavailable_script(script, sizeof script);
    fake_start(&svc[0], "generic", script);
    receiver(0, NULL, 0, 1);
    struct kw_delivery_config cfg = config();
    cfg.max_age_ms = 1500;
    cfg.backoff_initial_ms = 100;
    cfg.backoff_max_ms = 200;
    struct kw_dispatcher *d = start(&cfg, 1, true);
    double t0 = now_s();
    submit(d, 0, KW_NOTIFY_FIRING, "outage", "retried");
    /* Queued an hour ago (e.g. restored from the spool): dead before any attempt. */
    submit_full(d, 0, KW_NOTIFY_UPDATE, "stale", "stale", NULL, kw_now_ms() - 3600000);
    WAIT_STAT(d, 0, failed, 2, 5000);
    double t_dead = now_s();
    struct kw_receiver_stats st = stats(d, 0);
    kw_dispatcher_stop(d, 0);

    cr_assert_leq(t_dead - t0, 1.5 + 1.0, "expired %.3f s after submit", t_dead - t0);
    cr_assert_eq(st.sent, 0);
    cr_assert_eq(st.depth, 0);
    cJSON *reqs = fake_requests(&svc[0]);
    cr_assert_geq(cJSON_GetArraySize(reqs), 2, "retried until too old");
    for (int i = 0; i < cJSON_GetArraySize(reqs); i++) {
        cr_assert_str_eq(body_str(reqs, i, "key"), "outage", "the stale notification is never sent");
        cr_assert_leq(req_time(reqs, i) - t0, 1.6, "attempt after max_age");
    }
    cJSON *dl = dead_letters();
    cr_assert_eq(cJSON_GetArraySize(dl), 2);
    for (int i = 0; i < 2; i++) {
        const cJSON *line = cJSON_GetArrayItem(dl, i);
        bool stale = strcmp(obj_str(line, "key"), "stale") == 0;
        cr_assert(strstr(obj_str(line, "reason"), "max_age") != NULL, "reason: %s", obj_str(line, "reason"));
        int attempts = cJSON_GetObjectItemCaseSensitive(line, "attempts")->valueint;
        if (stale)
            cr_assert_eq(attempts, 0);
        else
            cr_assert_geq(attempts, 2);
    }
    cr_assert_eq(count_files(spool_path(""), ".json"), 0);
    cJSON_Delete(reqs);
    cJSON_Delete(dl);
}

/* ---- isolation, rate and order -------------------------------------------- */

Test(dispatcher, hanging_receiver_does_not_delay_another, .init = setup, .fini = teardown, .timeout = 40)
{
    fake_start(&svc[0], "generic", "[{\"delay\": 30}, {\"delay\": 30}, {\"delay\": 30}]");
    fake_start(&svc[1], "generic", "[]");
    receiver(0, NULL, 0, 1);
    receiver(1, NULL, 0, 1);
    struct kw_delivery_config cfg = config();
    cfg.timeout_ms = 20000;
    cfg.max_in_flight = 2;
    struct kw_dispatcher *d = start(&cfg, 2, false);
    for (int i = 0; i < 3; i++) {
        char key[8];
        snprintf(key, sizeof key, "h%d", i);
        submit(d, 0, KW_NOTIFY_FIRING, key, "hang");
    }
    /* The hanging receiver holds every slot of max_in_flight. */
    cr_assert_eq(fake_wait_requests(&svc[0], 2, 3000), 2);
    double t_submit = now_s();
    submit(d, 1, KW_NOTIFY_FIRING, "ok", "healthy");
    cr_assert_eq(fake_wait_requests(&svc[1], 1, 3000), 1, "the healthy receiver got nothing");
    cJSON *reqs = fake_requests(&svc[1]);
    double lag = req_time(reqs, 0) - t_submit;
    cr_assert_leq(lag, 1.0, "the healthy receiver waited %.3f s", lag);
    WAIT_STAT(d, 1, sent, 1, 2000);
    cr_assert_eq(stats(d, 0).depth, 3);
    cr_assert_eq(stats(d, 0).sent, 0);

    double t_stop = now_s();
    kw_dispatcher_stop(d, 0);
    cr_assert_leq(now_s() - t_stop, 2.0, "stop aborts what is in flight");
    cJSON_Delete(reqs);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

Test(dispatcher, token_bucket_paces_a_burst, .init = setup, .fini = teardown, .timeout = 40)
{
    fake_start(&svc[0], "generic", "[]");
    receiver(0, NULL, 2.0, 1); /* 2 per second, burst 1 */
    struct kw_delivery_config cfg = config();
    struct kw_dispatcher *d = start(&cfg, 1, false);
    for (int i = 0; i < 20; i++) {
        char key[8];
        snprintf(key, sizeof key, "b%d", i);
        submit(d, 0, KW_NOTIFY_FIRING, key, "burst");
    }
    cr_assert_eq(fake_wait_requests(&svc[0], 20, 15000), 20);
    kw_dispatcher_stop(d, 1000);

    cJSON *reqs = fake_requests(&svc[0]);
    double t[20], gaps[19];
    for (int i = 0; i < 20; i++)
        t[i] = req_time(reqs, i);
    qsort(t, 20, sizeof t[0], cmp_double);
    for (int i = 0; i < 19; i++)
        gaps[i] = t[i + 1] - t[i];
    qsort(gaps, 19, sizeof gaps[0], cmp_double);
    double span = t[19] - t[0];
    /* 19 gaps of 0.5 s = 9.5 s; unlimited would be well under a second. */
    cr_assert_geq(span, 8.5, "20 requests at 2/s spanned %.3f s", span);
    cr_assert_leq(span, 13.0, "20 requests at 2/s spanned %.3f s", span);
    cr_assert_geq(gaps[9], 0.45, "median gap %.3f s", gaps[9]);
    cr_assert_geq(gaps[0], 0.3, "smallest gap %.3f s", gaps[0]);
    cJSON_Delete(reqs);
}

Test(dispatcher, resolve_never_overtakes_its_firing, .init = setup, .fini = teardown, .timeout = 30)
{
    fake_start(&svc[0], "generic", "[{\"status\": 500, \"headers\": {\"Retry-After\": \"1\"}}]");
    receiver(0, NULL, 0, 1);
    struct kw_delivery_config cfg = config();
    struct kw_dispatcher *d = start(&cfg, 1, false);
    submit(d, 0, KW_NOTIFY_FIRING, "incident", "fire");
    cr_assert_eq(fake_wait_requests(&svc[0], 1, 3000), 1);
    submit(d, 0, KW_NOTIFY_RESOLVED, "incident", "resolve");
    submit(d, 0, KW_NOTIFY_UPDATE, "other", "independent");
    cr_assert_eq(fake_wait_requests(&svc[0], 4, 5000), 4);
    WAIT_STAT(d, 0, sent, 3, 2000);
    kw_dispatcher_stop(d, 1000);

    cJSON *reqs = fake_requests(&svc[0]);
    cr_assert_eq(cJSON_GetArraySize(reqs), 4);
    static const char *const want[] = {"firing", "firing", "resolved"};
    int seen = 0;
    double t_first = 0, t_retry = 0;
    for (int i = 0; i < 4; i++) {
        if (strcmp(body_str(reqs, i, "key"), "incident") != 0)
            continue;
        cr_assert_str_eq(body_str(reqs, i, "kind"), want[seen], "the incident's request %d was a %s", seen,
                         body_str(reqs, i, "kind"));
        *(seen == 0 ? &t_first : &t_retry) = seen < 2 ? req_time(reqs, i) : t_retry;
        seen++;
    }
    cr_assert_eq(seen, 3);
    cr_assert_geq(t_retry - t_first, 0.99, "the firing was retried before its Retry-After");
    /* The other key does not wait for the incident's retry. */
    cr_assert_str_eq(body_str(reqs, 1, "key"), "other");
    cJSON_Delete(reqs);
}

/* Kinds of the spooled notifications, in submit order, as "F:k U:u1 ...". */
static void spooled_kinds(char *out, size_t len)
{
    struct dirent **names;
    int n = scandir(spool_path(""), &names, NULL, alphasort);
    cr_assert(n >= 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t l = strlen(name);
        if (name[0] != '.' && l > 5 && strcmp(name + l - 5, ".json") == 0) {
            char *text = slurp(spool_path(name));
            cJSON *o = cJSON_Parse(text);
            cr_assert(o != NULL, "spool file %s is not JSON", name);
            size_t used = strlen(out);
            snprintf(out + used, len - used, "%s%c:%s", used ? " " : "", toupper(obj_str(o, "kind")[0]),
                     obj_str(o, "key"));
            cJSON_Delete(o);
            free(text);
        }
        free(names[i]);
    }
    free(names);
}

Test(dispatcher, full_queue_drops_only_updates, .init = setup, .fini = teardown, .timeout = 40)
{
    fake_start(&svc[0], "generic", "[{\"delay\": 30}]");
    receiver(0, NULL, 0, 1);
    struct kw_delivery_config cfg = config();
    cfg.queue_max = 5;
    cfg.max_in_flight = 1;
    cfg.timeout_ms = 20000;
    struct kw_dispatcher *d = start(&cfg, 1, true);
    submit(d, 0, KW_NOTIFY_FIRING, "k", "hangs");
    cr_assert_eq(fake_wait_requests(&svc[0], 1, 3000), 1);
    for (int i = 0; i < 20; i++) {
        char key[8];
        snprintf(key, sizeof key, "u%d", i);
        submit(d, 0, KW_NOTIFY_UPDATE, key, "update");
    }
    submit(d, 0, KW_NOTIFY_FIRING, "f2", "fire");
    submit(d, 0, KW_NOTIFY_RESOLVED, "k", "resolve");
    struct kw_receiver_stats st = stats(d, 0);
    cr_assert_eq(st.queued, 23);
    cr_assert_eq(st.dropped, 18, "20 updates, 18 dropped to stay at 5");
    cr_assert_eq(st.depth, 5);
    cr_assert_gt(st.oldest_ms, 0);
    /* Firings replace the two updates left, then exceed the bound; a new
     * update is then the oldest update there is and goes itself. */
    submit(d, 0, KW_NOTIFY_FIRING, "f3", "fire");
    submit(d, 0, KW_NOTIFY_FIRING, "f4", "fire");
    submit(d, 0, KW_NOTIFY_FIRING, "f5", "fire");
    submit(d, 0, KW_NOTIFY_UPDATE, "u20", "update");
    st = stats(d, 0);
    cr_assert_eq(st.dropped, 21);
    cr_assert_eq(st.depth, 6);
    kw_dispatcher_stop(d, 0);

    char kinds_text[256];
    spooled_kinds(kinds_text, sizeof kinds_text);
    cr_assert_str_eq(kinds_text, "F:k F:f2 R:k F:f3 F:f4 F:f5");

    /* After a restart against a healthy service all six go out, k's resolve after its firing. */
    fake_stop(&svc[0]);
    fake_start(&svc[0], "generic", "[]");
    receiver(0, NULL, 0, 1); /* the new port */
    d = start(&cfg, 1, true);
    cr_assert_eq(fake_wait_requests(&svc[0], 6, 5000), 6);
    WAIT_STAT(d, 0, sent, 6, 2000);
    kw_dispatcher_stop(d, 1000);
    cJSON *reqs = fake_requests(&svc[0]);
    int firing_k = -1, resolved_k = -1;
    for (int i = 0; i < 6; i++) {
        cr_assert_str_neq(body_str(reqs, i, "kind"), "update");
        if (strcmp(body_str(reqs, i, "key"), "k") == 0)
            *(strcmp(body_str(reqs, i, "kind"), "firing") == 0 ? &firing_k : &resolved_k) = i;
    }
    cr_assert(firing_k >= 0 && resolved_k > firing_k, "firing at %d, resolve at %d", firing_k, resolved_k);
    cr_assert_eq(count_files(spool_path(""), ".json"), 0);
    cJSON_Delete(reqs);
}

/* ---- the spool ------------------------------------------------------------ */

Test(dispatcher, survives_kill_9, .init = setup, .fini = teardown, .timeout = 40)
{
    char script[512];
    unavailable_script(script, sizeof script);
    fake_start(&svc[0], "generic", script);
    receiver(0, NULL, 0, 1);
    struct kw_delivery_config cfg = config();
    fflush(NULL);
    pid_t child = fork();
    cr_assert(child >= 0);
    if (child == 0) {
        char err[KW_ERR_LEN];
        struct kw_dispatcher *d = kw_dispatcher_start(&cfg, rcv, 1, state_dir, err, sizeof err);
        if (!d)
            _exit(3);
        struct kw_notification n = {.kind = KW_NOTIFY_FIRING, .nalerts = 1};
        n.alerts = calloc(1, sizeof *n.alerts);
        snprintf(n.alerts[0].kpi, sizeof n.alerts[0].kpi, "survivor");
        snprintf(n.key, sizeof n.key, "checkout/payment");
        snprintf(n.ref, sizeof n.ref, "1700000000.000100");
        kw_dispatcher_submit(d, 0, &n);
        for (;;)
            pause();
    }
    int seen = fake_wait_requests(&svc[0], 2, 5000); /* mid-retry */
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    cr_assert_geq(seen, 2, "the child never retried");
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
    cr_assert_eq(count_files(spool_path(""), ".json"), 1, "the unacknowledged notification is spooled");

    fake_start(&svc[1], "generic", "[]");
    receiver(0, svc[1].base_url, 0, 1); /* the same receiver, now at a healthy service */
    struct kw_dispatcher *d = start(&cfg, 1, true);
    cr_assert_eq(fake_wait_requests(&svc[1], 1, 5000), 1, "the spooled notification was not resent");
    WAIT_STAT(d, 0, sent, 1, 2000);
    struct kw_receiver_stats st = stats(d, 0);
    kw_dispatcher_stop(d, 1000);
    cJSON *reqs = fake_requests(&svc[1]);
    cr_assert_str_eq(body_str(reqs, 0, "key"), "checkout/payment");
    cr_assert_str_eq(body_str(reqs, 0, "ref"), "1700000000.000100");
    cr_assert_str_eq(body_str(reqs, 0, "kind"), "firing");
    cr_assert_str_eq(body_str(reqs, 0, "tag"), "survivor");
    cr_assert_eq(st.queued, 1, "restored from the spool");
    cr_assert_eq(count_files(spool_path(""), ".json"), 0, "acknowledged, so gone from the spool");
    cJSON_Delete(reqs);
}

Test(dispatcher, thread_references_follow_the_key, .init = setup, .fini = teardown, .timeout = 30)
{
    fake_start(&svc[0], "generic", "[]");
    receiver(0, NULL, 0, 1);
    struct kw_delivery_config cfg = config();
    struct kw_dispatcher *d = start(&cfg, 1, true);
    fake_script(&svc[0], "[{\"status\": 200, \"body\": {\"ok\": true, \"ts\": \"111.1\"}}]");
    submit(d, 0, KW_NOTIFY_FIRING, "A", "a-fire");
    WAIT_STAT(d, 0, sent, 1, 3000);
    submit(d, 0, KW_NOTIFY_RESOLVED, "A", "a-resolve");
    WAIT_STAT(d, 0, sent, 2, 3000);
    fake_script(&svc[0], "[{\"status\": 200, \"body\": {\"ok\": true, \"ts\": \"222.2\"}}]");
    submit(d, 0, KW_NOTIFY_FIRING, "B", "b-fire");
    WAIT_STAT(d, 0, sent, 3, 3000);
    kw_dispatcher_stop(d, 1000);

    char path[128];
    snprintf(path, sizeof path, "%s/refs.json", state_dir);
    char *text = slurp(path);
    cr_assert(text != NULL, "refs.json was not written");
    cr_assert(strstr(text, "222.2") != NULL, "B's thread is kept: %s", text);
    cr_assert(strstr(text, "111.1") == NULL, "A's thread is dropped after its resolve: %s", text);
    free(text);

    d = start(&cfg, 1, true);
    submit(d, 0, KW_NOTIFY_UPDATE, "B", "b-update");
    submit(d, 0, KW_NOTIFY_RESOLVED, "B", "b-resolve");
    submit(d, 0, KW_NOTIFY_UPDATE, "C", "c-update");
    WAIT_STAT(d, 0, sent, 3, 3000);
    kw_dispatcher_stop(d, 1000);

    cJSON *reqs = fake_requests(&svc[0]);
    cr_assert_eq(cJSON_GetArraySize(reqs), 6);
    for (int i = 0; i < 6; i++) {
        const char *tag = body_str(reqs, i, "tag"), *ref = body_str(reqs, i, "ref");
        const char *want = strcmp(tag, "a-resolve") == 0                                  ? "111.1"
                           : strcmp(tag, "b-update") == 0 || strcmp(tag, "b-resolve") == 0 ? "222.2"
                                                                                           : "";
        cr_assert_str_eq(ref, want, "%s carried ref \"%s\"", tag, ref);
    }
    text = slurp(path);
    cr_assert(text && strstr(text, "222.2") == NULL, "B's thread is dropped after its resolve: %s", text);
    free(text);
    cJSON_Delete(reqs);
}

static void write_text(const char *name, const char *text)
{
    FILE *f = fopen(spool_path(name), "wb");
    cr_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* The valid spool entry with one change at a dotted path, written as name. */
static void write_variant(const cJSON *valid, const char *name, const char *path, cJSON *value)
{
    cJSON *copy = cJSON_Duplicate(valid, 1);
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *parent = copy;
    char *last = strrchr(buf, '.');
    if (last) {
        *last = '\0';
        char *save = NULL;
        for (char *part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save))
            parent = cJSON_IsArray(parent) ? cJSON_GetArrayItem(parent, atoi(part))
                                           : cJSON_GetObjectItemCaseSensitive(parent, part);
    }
    cr_assert(parent != NULL, "no %s", path);
    if (!cJSON_ReplaceItemInObjectCaseSensitive(parent, last ? last + 1 : buf, value))
        cJSON_AddItemToObject(parent, last ? last + 1 : buf, value); /* a field the entry did not have */
    char *text = cJSON_PrintUnformatted(copy);
    write_text(name, text);
    free(text);
    cJSON_Delete(copy);
}

Test(dispatcher, corrupt_spool_files_are_moved_aside, .init = setup, .fini = teardown, .timeout = 30)
{
    /* A valid entry: spooled against a closed port, then stopped. */
    receiver(0, "http://127.0.0.1:1/", 0, 1);
    struct kw_delivery_config cfg = config();
    struct kw_dispatcher *d = start(&cfg, 1, true);
    submit(d, 0, KW_NOTIFY_FIRING, "valid", "valid");
    kw_dispatcher_stop(d, 0);
    struct dirent **names;
    int n = scandir(spool_path(""), &names, NULL, alphasort);
    char valid_name[64] = "";
    for (int i = 0; i < n; i++) {
        if (strstr(names[i]->d_name, ".json"))
            snprintf(valid_name, sizeof valid_name, "%s", names[i]->d_name);
        free(names[i]);
    }
    free(names);
    cr_assert(valid_name[0], "nothing was spooled");
    char *text = slurp(spool_path(valid_name));
    cJSON *valid = cJSON_Parse(text);
    cr_assert(valid != NULL);

    char truncated[64];
    snprintf(truncated, sizeof truncated, "%.*s", (int)(strlen(text) / 2 < 60 ? strlen(text) / 2 : 60), text);
    write_text("00000000000000000100.json", truncated);
    write_text("00000000000000000101.json", "");
    write_text("00000000000000000102.json", "[]");
    cJSON *big = cJSON_CreateArray();
    for (int i = 0; i < 100000; i++)
        cJSON_AddItemToArray(big, cJSON_CreateNumber(i));
    write_variant(valid, "00000000000000000103.json", "alerts.0.history", big);
    cJSON *labels = cJSON_CreateArray();
    for (int i = 0; i < 9; i++) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", "n");
        cJSON_AddStringToObject(l, "value", "v");
        cJSON_AddItemToArray(labels, l);
    }
    write_variant(valid, "00000000000000000104.json", "alerts.0.labels", labels);
    write_variant(valid, "00000000000000000105.json", "alerts.0.since_ms", cJSON_CreateRaw("1e999"));
    write_variant(valid, "00000000000000000106.json", "created_ms", cJSON_CreateRaw("-1e999"));
    write_variant(valid, "00000000000000000107.json", "alerts.0.intervals", cJSON_CreateRaw("1e999"));
    write_variant(valid, "00000000000000000108.json", "alerts.0.observed", cJSON_CreateRaw("1e999"));
    write_variant(valid, "00000000000000000109.json", "alerts.0.status", cJSON_CreateNumber(7));
    write_variant(valid, "00000000000000000110.json", "kind", cJSON_CreateString("exploded"));
    char longkey[600];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    write_variant(valid, "00000000000000000111.json", "key", cJSON_CreateString(longkey));
    write_variant(valid, "00000000000000000112.json", "alerts", cJSON_CreateArray());
    write_variant(valid, "00000000000000000113.json", "alerts.0.kpi", cJSON_CreateString(longkey));
    write_variant(valid, "00000000000000000114.json", "alerts.0.lower", cJSON_CreateString("nan"));
    write_text(".00000000000000000115.json.tmp", "{\"half"); /* as older versions named them */
    write_text("00000000000000000116.json.tmp", "{\"half");
    const int ncorrupt = 15;
    /* the first mover is shown in headers only: kept when intact, and a
     * damaged one costs no delivery (alerts[0] stands in) */
    write_variant(valid, "00000000000000000117.json", "first_mover", cJSON_CreateString("c [journey=x] since T, resolved"));
    write_variant(valid, "00000000000000000118.json", "first_mover", cJSON_CreateNumber(42));
    free(text);
    cJSON_Delete(valid);

    fake_start(&svc[0], "generic", "[]");
    receiver(0, NULL, 0, 1);
    d = start(&cfg, 1, true);
    cr_assert_eq(fake_wait_requests(&svc[0], 3, 5000), 3);
    WAIT_STAT(d, 0, sent, 3, 2000);
    struct kw_receiver_stats st = stats(d, 0);
    kw_dispatcher_stop(d, 1000);
    cJSON *reqs = fake_requests(&svc[0]);
    cr_assert_str_eq(body_str(reqs, 0, "key"), "valid");
    cr_assert_eq(st.queued, 3, "only the valid entries are restored");
    cr_assert_eq(count_files(spool_path(""), ".json"), 0);
    cr_assert_eq(count_files(spool_path("corrupt"), ".json"), ncorrupt, "every corrupt file is kept aside");
    cr_assert_eq(count_files(spool_path(""), ".tmp"), 0);
    cr_assert_eq(access(spool_path(".00000000000000000115.json.tmp"), F_OK), -1, "a cut-short write is removed");
    cr_assert_eq(access(spool_path("00000000000000000116.json.tmp"), F_OK), -1, "a cut-short write is removed");
    cJSON_Delete(reqs);
}

/* ---- the alert serialisation --------------------------------------------- */

static struct kw_alert awkward_alert(void)
{
    struct kw_alert a;
    memset(&a, 0, sizeof a);
    snprintf(a.key, sizeof a.key, "0123456789abcdef");
    snprintf(a.kpi, sizeof a.kpi, "dropoff \"rate\" \\ ünïcödé");
    snprintf(a.description, sizeof a.description, "line one\nline two\ttabbed");
    snprintf(a.unit, sizeof a.unit, "lost customers");
    snprintf(a.detector, sizeof a.detector, "binomial");
    snprintf(a.runbook, sizeof a.runbook, "https://wiki.example.com/r?a=1&b=2");
    snprintf(a.currency, sizeof a.currency, "EUR");
    memset(a.dashboard, 'd', sizeof a.dashboard - 1); /* full length */
    for (int i = 0; i < KW_ALERT_MAX_LABELS; i++) {
        snprintf(a.labels[i].name, sizeof a.labels[i].name, "label%d", i);
        snprintf(a.labels[i].value, sizeof a.labels[i].value, "value %d/%s", i, i % 2 ? "x" : "");
    }
    a.nlabels = KW_ALERT_MAX_LABELS;
    a.status = KW_ALERT_RESOLVED;
    a.severity = KW_SEV_CRITICAL;
    a.kind = KW_KIND_RATE;
    a.direction = -1;
    a.severity_score = 100.0 / 3.0;
    a.observed = 0.1 + 0.2;
    a.expected = -0.0;
    a.lower = 4.9406564584124654e-324; /* smallest denormal */
    a.upper = INFINITY;
    a.score = -INFINITY;
    a.peak_observed = 1.7976931348623157e308;
    a.peak_expected = NAN;
    a.denominator = 179;
    a.impact = -93.000000000000014;
    a.cost_per_unit = 2.2250738585072014e-308;
    a.since_ms = 1732352400123LL;
    a.at_ms = -86400000LL;
    a.interval_ms = 300000;
    a.intervals = 2147483647;
    for (int i = 0; i < KW_ALERT_HISTORY; i++)
        a.history[i] = i % 5 == 4 ? NAN : sqrt((double)i) * 1e-3;
    a.nhistory = KW_ALERT_HISTORY;
    return a;
}

Test(dispatcher, alert_round_trips_bit_identically)
{
    struct kw_alert a = awkward_alert(), b;
    cJSON *saved = kw_alert_save(&a);
    char *text = cJSON_PrintUnformatted(saved);
    cJSON_Delete(saved);
    cJSON *parsed = cJSON_Parse(text);
    cr_assert(parsed != NULL, "%s", text);
    char err[128] = "";
    cr_assert_eq(kw_alert_load_err(&b, parsed, err, sizeof err), 0, "%s", err);
    const double *x = &a.severity_score, *y = &b.severity_score;
    for (int i = 0; i < 11; i++) /* severity_score .. cost_per_unit */
        cr_assert_eq(memcmp(&x[i], &y[i], sizeof x[i]), 0, "double %d differs: %.17g vs %.17g", i, x[i], y[i]);
    cr_assert_eq(memcmp(a.history, b.history, sizeof a.history), 0);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "the whole struct reads back identical");
    /* Also without printing in between (raw numbers straight from save). */
    saved = kw_alert_save(&a);
    cr_assert_eq(kw_alert_load(&b, saved), 0);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    cJSON_Delete(saved);
    cJSON_Delete(parsed);
    free(text);
}

Test(dispatcher, alert_load_rejects_what_does_not_fit)
{
    struct kw_alert a = awkward_alert(), b;
    char longtext[300];
    memset(longtext, 'x', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    struct {
        const char *field;
        cJSON *value;
    } cases[] = {
        {"key", cJSON_CreateString("0123456789abcdef0123456789")}, /* 26 > 23 */
        {"dashboard", cJSON_CreateString(longtext)},
        {"kpi", cJSON_CreateNumber(3)},
        {"status", cJSON_CreateNumber(2)},
        {"kind", cJSON_CreateNumber(-1)},
        {"direction", cJSON_CreateNumber(2)},
        {"intervals", cJSON_CreateNumber(1.5)},
        {"intervals", cJSON_CreateNumber(3e9)},
        {"since_ms", cJSON_CreateNumber(1e300)},
        {"since_ms", cJSON_CreateRaw("1e999")},
        {"observed", cJSON_CreateRaw("1e999")},
        {"observed", cJSON_CreateString("nan")},
        {"observed", cJSON_CreateTrue()},
        {"labels", cJSON_CreateObject()},
        {"history", cJSON_CreateString("[]")},
        {"description", NULL}, /* missing */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* Changed on the saved tree itself: cJSON's own printer would round
         * 1.7976931348623157e308 up to infinity. */
        cJSON *o = kw_alert_save(&a);
        if (cases[i].value)
            cJSON_ReplaceItemInObjectCaseSensitive(o, cases[i].field, cases[i].value);
        else
            cJSON_DeleteItemFromObjectCaseSensitive(o, cases[i].field);
        char *mutated = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        o = cJSON_Parse(mutated);
        char err[128] = "";
        cr_assert_eq(kw_alert_load_err(&b, o, err, sizeof err), -1, "case %zu (%s) was accepted", i, cases[i].field);
        cr_assert(strstr(err, cases[i].field) != NULL, "case %zu: error \"%s\" does not name %s", i, err,
                  cases[i].field);
        static const struct kw_alert zero;
        cr_assert_eq(memcmp(&b, &zero, sizeof b), 0, "a rejected alert is left zeroed");
        cJSON_Delete(o);
        free(mutated);
    }
    cr_assert_eq(kw_alert_load(&b, NULL), -1);
}

/* ---- local notifiers ------------------------------------------------------- */

static pthread_t local_thread;
static int local_calls;

/* Like console: sends on the dispatcher thread; the first call fails. */
static void local_send(void *cfg, const struct kw_notification *n, struct kw_send_outcome *out)
{
    local_thread = pthread_self();
    out->result = local_calls++ == 0 ? KW_SEND_RETRY : KW_SEND_OK;
    snprintf(out->reason, sizeof out->reason, "%s", local_calls == 1 ? "write failed" : "");
}

static const struct kw_option no_options[] = {KW_OPT_END};

static const struct kw_notifier_type local_type = {
    .name = "local",
    .description = "Records calls.",
    .options = no_options,
    .send = local_send,
};

Test(dispatcher, local_send_runs_on_the_dispatcher_thread, .init = setup, .fini = teardown, .timeout = 30)
{
    rcv[0] = (struct kw_receiver){.name = strdup("local0"), .type = &local_type, .burst = 1};
    struct kw_delivery_config cfg = config();
    struct kw_dispatcher *d = start(&cfg, 1, false);
    submit(d, 0, KW_NOTIFY_FIRING, "k", "local");
    WAIT_STAT(d, 0, sent, 1, 3000);
    struct kw_receiver_stats st = stats(d, 0);
    kw_dispatcher_stop(d, 1000);
    cr_assert_eq(st.retried, 1);
    cr_assert_eq(st.sent, 1);
    cr_assert_eq(local_calls, 2);
    cr_assert(!pthread_equal(local_thread, pthread_self()), "send ran on the submitting thread");
}

Test(dispatcher, options_have_the_documented_defaults)
{
    struct kw_delivery_config cfg;
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_opts_fill(kw_delivery_options, NULL, &cfg, "delivery", err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.queue_max, 10000);
    cr_assert_eq(cfg.max_age_ms, 86400000);
    cr_assert_eq(cfg.backoff_initial_ms, 1000);
    cr_assert_eq(cfg.backoff_max_ms, 300000);
    cr_assert_eq(cfg.connect_timeout_ms, 5000);
    cr_assert_eq(cfg.timeout_ms, 15000);
    cr_assert_eq(cfg.max_in_flight, 16);
    for (const struct kw_option *o = kw_delivery_options; o->name; o++)
        cr_assert(o->desc && strlen(o->desc) > 20, "%s has no description", o->name);
    cJSON *bad = cJSON_Parse("{\"backoff_max\": \"soon\"}");
    cr_assert_eq(kw_opts_fill(kw_delivery_options, bad, &cfg, "delivery", err, sizeof err), -1);
    cr_assert(strstr(err, "delivery.backoff_max") != NULL, "%s", err);
    cJSON_Delete(bad);
    cfg.backoff_max_ms = 10;
    cr_assert_null(kw_dispatcher_start(&cfg, NULL, 0, NULL, err, sizeof err), "backoff_max below backoff_initial");
}
