/* http: the operations listener (libmicrohttpd), its options and its endpoints. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "../lib/log.h"
#include "../lib/secret.h"
#include "../lib/strbuf.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "../notifiers/notifier.h"
#include "config.h"
#include "feedback.h"
#include "history.h"
#include "metrics.h"
#include "page.h"
#include "silence.h"
#include "status.h"

#define MAX_BODY 65536       /* a silence is a few hundred bytes */
#define MIN_TOKEN 16
#define RECENT_POINTS 24     /* history attached to each alert in /api/v1/alerts */
#define CHARTS_PER_KPI 12    /* series charted per KPI on the overview */

/* ---- options -------------------------------------------------------------- */

const struct kw_option kw_http_options[] = {
    {"listen", KW_OPT_STRING, "127.0.0.1", offsetof(struct kw_http_config, listen), KW_NORANGE,
     .desc = "Address the HTTP listener binds: a numeric IPv4 or IPv6 address (0.0.0.0 for every IPv4 interface, :: for every interface)."},
    {"port", KW_OPT_INT, "0", offsetof(struct kw_http_config, port), 0, 65535,
     .desc = "TCP port of the status page, /metrics and the API; 0 = no listener. The shipped configs use 9466."},
    {"token", KW_OPT_STRING, "", offsetof(struct kw_http_config, token), KW_NORANGE,
     .desc = "Bearer token that write endpoints (silences, feedback) require, at least 16 characters; use \"${VAR}\". "
             "Without a token, writes are accepted only on a loopback listener."},
    {"token_file", KW_OPT_STRING, "", offsetof(struct kw_http_config, token_file), KW_NORANGE,
     .desc = "File holding the token (a systemd credential or Kubernetes secret), instead of token."},
    {"external_url", KW_OPT_STRING, "", offsetof(struct kw_http_config, external_url), KW_NORANGE,
     .desc = "Base URL people reach the status page at (https://kpiwatch.example.com); alerts of KPIs without a "
             "dashboard then link to their series' page under it."},
    {"history_series", KW_OPT_INT, "500", offsetof(struct kw_http_config, history_series), 1, 100000,
     .desc = "Most series whose recent history the status page and /api/v1/series keep: about 48 bytes per "
             "interval of history_window each (13.5 KiB for a day of 5-minute intervals)."},
    {"history_window", KW_OPT_DURATION, "1d", offsetof(struct kw_http_config, history_window_ms), 3600, 604800,
     .desc = "How far back each tracked series' history goes (at most 2016 intervals)."},
    KW_OPT_END,
};

bool kw_http_is_loopback(const char *listen)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, listen, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, listen, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int kw_http_parse(struct kw_http_config *c, const cJSON *obj, const char *path, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    const struct kw_option *tables[] = {kw_http_options, NULL};
    char key[KW_ERR_LEN], file_key[KW_ERR_LEN];
    if (kw_opts_reject_unknown(obj, tables, NULL, path, err, errlen) ||
        kw_opts_fill(kw_http_options, obj, c, path, err, errlen))
        goto fail;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, c->listen, &a4) != 1 && inet_pton(AF_INET6, c->listen, &a6) != 1) {
        snprintf(err, errlen, "%s: must be a numeric IPv4 or IPv6 address such as 127.0.0.1, ::1 or 0.0.0.0",
                 kw_path_key(key, sizeof key, path, "listen"));
        goto fail;
    }
    if (c->external_url && strncmp(c->external_url, "https://", 8) != 0 && strncmp(c->external_url, "http://", 7) != 0) {
        snprintf(err, errlen, "%s: must be an http(s) URL", kw_path_key(key, sizeof key, path, "external_url"));
        goto fail;
    }
    kw_path_key(key, sizeof key, path, "token");
    kw_path_key(file_key, sizeof file_key, path, "token_file");
    if (kw_secret_resolve(c->token, c->token_file, 0, key, file_key, &c->secret, err, errlen))
        goto fail;
    if (c->secret && strlen(c->secret) < MIN_TOKEN) {
        snprintf(err, errlen, "%s: must be at least %d characters", c->token_file ? file_key : key, MIN_TOKEN);
        goto fail;
    }
    /* The resolved copy is the only one kept. */
    kw_secret_free(c->token);
    c->token = NULL;
    return 0;
fail:
    kw_http_config_release(c);
    return -1;
}

void kw_http_config_release(struct kw_http_config *c)
{
    kw_secret_free(c->token);
    c->token = NULL;
    kw_secret_free(c->secret);
    c->secret = NULL;
    kw_opts_release(kw_http_options, c);
    memset(c, 0, sizeof *c);
}

/* ---- the listener's state --------------------------------------------------- */

struct kw_http {
    pthread_mutex_t lock; /* held by a request while it reads anything below; never by the agent's hot path */
    struct MHD_Daemon *daemon;
    int bound_fd;         /* the next listener's socket, bound by kw_http_bind before a reload; -1 = none */
    char listen[64];
    int port;
    bool loopback;
    char *token;          /* a copy of the resolved token; NULL = none */
    char external_url[KW_ALERT_TEXT];
    struct kw_silences *silences;
    char *state_dir;      /* where feedback is queued; NULL = none */
    struct kw_feedback_cache feedback; /* STATE_DIR/feedback.json, read when it changes */
    struct kw_history *history;
    int history_series;
    int64_t history_window_ms;
    struct kw_status *status;
};

struct request {
    struct kw_strbuf body;
    bool too_big;
};

struct kw_http *kw_http_new(void)
{
    struct kw_http *h = xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    h->status = kw_status_new();
    h->bound_fd = -1;
    return h;
}

struct kw_status *kw_http_status(struct kw_http *h)
{
    return h->status;
}

struct kw_history *kw_http_history(struct kw_http *h)
{
    return h->history; /* only the agent thread replaces it */
}

void kw_http_attach(struct kw_http *h, struct kw_pipeline *p)
{
    kw_status_attach(h->status, p, h->history);
}

/* ---- responses -------------------------------------------------------------- */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *ctype, char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    /* The page is self-contained: no script runs and nothing is fetched from anywhere. */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                            "form-action 'none'; frame-ancestors 'none'");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"kpiwatch\"");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", strstr(body, "POST") ? "GET, HEAD, POST" :
                                            strstr(body, "DELETE") ? "DELETE" : "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    char *body = xstrdup(text);
    return respond(c, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result respond_json(struct MHD_Connection *c, unsigned status, cJSON *json)
{
    char *body = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    size_t len = strlen(body);
    char *copy = xmalloc(len + 2); /* MHD frees with free(); cJSON may use its own allocator */
    memcpy(copy, body, len);
    copy[len] = '\n';
    copy[len + 1] = '\0';
    cJSON_free(body);
    return respond(c, status, "application/json", copy, len + 1);
}

static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    return respond_json(c, status, o);
}

static void add_time(cJSON *o, const char *key, int64_t ms)
{
    char buf[40];
    cJSON_AddStringToObject(o, key, kw_time_format(ms, buf, sizeof buf));
}

static cJSON *number_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static void client_address(struct MHD_Connection *c, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(buf, len, "?");
    if (!ci || !ci->client_addr)
        return;
    if (ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr, buf, (socklen_t)len);
    else if (ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr, buf, (socklen_t)len);
}

/* ---- write authorisation ------------------------------------------------------ */

static bool same_secret(const char *given, const char *want)
{
    size_t a = strlen(given), b = strlen(want);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)(given[i < a ? i : 0] ^ want[i]);
    return diff == 0;
}

/* "127.0.0.1:9466", "localhost", "[::1]:9466": a name only this machine resolves to itself. */
static bool loopback_host(const char *host)
{
    if (!host)
        return false;
    char name[128];
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        if (!end || (size_t)(end - host - 1) >= sizeof name)
            return false;
        memcpy(name, host + 1, (size_t)(end - host - 1));
        name[end - host - 1] = '\0';
    } else {
        snprintf(name, sizeof name, "%s", host);
        char *colon = strchr(name, ':');
        if (colon)
            *colon = '\0';
    }
    return strcmp(name, "localhost") == 0 || kw_http_is_loopback(name);
}

/* 0 when the request may write, else the status to answer (message in msg).
 * Lock held. */
static unsigned authorize_write(struct kw_http *h, struct MHD_Connection *c, char *msg, size_t len)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h->token) {
        if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 || !same_secret(auth + 7, h->token)) {
            snprintf(msg, len, "this endpoint needs \"Authorization: Bearer TOKEN\" with the configured http.token");
            return MHD_HTTP_UNAUTHORIZED;
        }
        return 0;
    }
    if (!h->loopback) {
        snprintf(msg, len, "writes are off: no http.token is configured and the listener is not on loopback");
        return MHD_HTTP_FORBIDDEN;
    }
    if (!loopback_host(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST))) {
        snprintf(msg, len, "without an http.token, writes must name a loopback host (127.0.0.1, localhost, [::1])");
        return MHD_HTTP_FORBIDDEN;
    }
    return 0;
}

/* ---- JSON views ----------------------------------------------------------------- */

static cJSON *point_json(const struct kw_history_point *p)
{
    cJSON *o = cJSON_CreateObject();
    add_time(o, "ts", p->ts_ms);
    cJSON_AddItemToObject(o, "observed", number_or_null(p->observed));
    cJSON_AddItemToObject(o, "expected", number_or_null(p->expected));
    cJSON_AddItemToObject(o, "lower", number_or_null(p->lower));
    cJSON_AddItemToObject(o, "upper", number_or_null(p->upper));
    cJSON_AddNumberToObject(o, "score", round((double)p->score * 10000) / 10000);
    cJSON_AddBoolToObject(o, "anomalous", (p->flags & KW_HP_ANOMALOUS) != 0);
    cJSON_AddBoolToObject(o, "firing", (p->flags & KW_HP_FIRING) != 0);
    return o;
}

static cJSON *labels_json(const struct kw_alert_label *labels, int n)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < n; i++)
        cJSON_AddStringToObject(o, labels[i].name, labels[i].value);
    return o;
}

static cJSON *series_json(const struct kw_history_entry *e, int last_n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", e->key);
    cJSON_AddStringToObject(o, "kpi", e->kpi);
    cJSON_AddItemToObject(o, "labels", labels_json(e->labels, e->nlabels));
    cJSON_AddNumberToObject(o, "interval_seconds", (double)e->interval_ms / 1000.0);
    cJSON_AddBoolToObject(o, "firing", e->firing);
    cJSON_AddNumberToObject(o, "score", round(e->score * 10000) / 10000);
    cJSON *pts = cJSON_AddArrayToObject(o, "points");
    int from = last_n > 0 && e->npoints > last_n ? e->npoints - last_n : 0;
    for (int i = from; i < e->npoints; i++)
        cJSON_AddItemToArray(pts, point_json(&e->points[i]));
    return o;
}

static void series_url(const struct kw_http *h, const char *key, char *buf, size_t len)
{
    snprintf(buf, len, "%s/series/%s", h->external_url, key);
}

/* An alert for the API: the notifier's JSON plus silence, link and recent history. Lock held. */
/* The latest verdict people gave on alert key in record (kw_feedback_record), or NULL. */
static const cJSON *latest_feedback(const cJSON *record, const char *key)
{
    const cJSON *found = NULL, *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(record, "records")) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(r, "key");
        if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
            found = r; /* oldest first: the last one wins */
    }
    return found;
}

static cJSON *alert_json(struct kw_http *h, const struct kw_alert *a, int64_t now, const cJSON *feedback)
{
    cJSON *o = kw_alert_to_json(a);
    const cJSON *f = latest_feedback(feedback, a->key);
    if (f) {
        cJSON *fo = cJSON_AddObjectToObject(o, "feedback");
        static const char *const fields[] = {"verdict", "note", "at", "applied_at", "learned"};
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, fields[i]);
            if (v)
                cJSON_AddItemToObject(fo, fields[i], cJSON_Duplicate(v, false));
        }
    } else {
        cJSON_AddNullToObject(o, "feedback");
    }
    char id[KW_SILENCE_ID], url[KW_ALERT_TEXT + 64];
    if (h->silences && a->status == KW_ALERT_FIRING && kw_silences_match(h->silences, a, now, id))
        cJSON_AddStringToObject(o, "silenced_by", id);
    else
        cJSON_AddNullToObject(o, "silenced_by");
    series_url(h, a->key, url, sizeof url);
    cJSON_AddStringToObject(o, "url", url);
    struct kw_history_entry e;
    if (h->history && kw_history_get(h->history, a->key, &e) == 0) {
        cJSON *s = series_json(&e, RECENT_POINTS);
        cJSON_AddItemToObject(o, "recent", cJSON_DetachItemFromObject(s, "points"));
        cJSON_Delete(s);
        kw_history_entry_release(&e);
    }
    return o;
}

/* ---- endpoints (lock held) --------------------------------------------------------- */

static enum MHD_Result get_alerts(struct kw_http *h, struct MHD_Connection *c)
{
    int64_t now = kw_now_ms();
    struct kw_alert *active;
    struct kw_status_resolved *res;
    size_t n = kw_status_active(h->status, &active), nres = kw_status_resolved(h->status, &res);
    const cJSON *feedback = kw_feedback_cache_get(&h->feedback, h->state_dir);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "alerts");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, alert_json(h, &active[i], now, feedback));
    cJSON *rarr = cJSON_AddArrayToObject(o, "resolved");
    for (size_t i = 0; i < nres; i++) {
        cJSON *a = alert_json(h, &res[i].alert, now, feedback);
        add_time(a, "resolved_at", res[i].resolved_ms);
        cJSON_AddItemToArray(rarr, a);
    }
    free(active);
    free(res);
    return respond_json(c, MHD_HTTP_OK, o);
}

static enum MHD_Result get_incidents(struct kw_http *h, struct MHD_Connection *c)
{
    int64_t now = kw_now_ms();
    struct kw_alert *active;
    size_t n = kw_status_active(h->status, &active);
    struct kw_status_incident *inc;
    size_t ninc = kw_status_incidents(h->status, active, n, &inc);
    const cJSON *feedback = kw_feedback_cache_get(&h->feedback, h->state_dir);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "grouping", "the alert engine's groups (route group_by and correlation_window); "
                                           "alerts held back from notification grouped by journey, else by KPI");
    cJSON *arr = cJSON_AddArrayToObject(o, "incidents");
    for (size_t i = 0; i < ninc; i++) {
        const struct kw_status_incident *g = &inc[i];
        cJSON *io = cJSON_CreateObject();
        char id[KW_ALERT_LABEL_VALUE + KW_ALERT_TEXT + 8];
        snprintf(id, sizeof id, "%s=%s", g->by, g->value);
        cJSON_AddStringToObject(io, "id", g->key[0] ? g->key : id);
        if (g->key[0])
            cJSON_AddStringToObject(io, "dedup_key", g->key);
        cJSON_AddStringToObject(io, "by", g->by);
        cJSON_AddStringToObject(io, "value", g->value);
        cJSON_AddStringToObject(io, "receivers", g->receivers);
        cJSON_AddStringToObject(io, "severity", g->severity == KW_SEV_CRITICAL ? "critical" : "warning");
        add_time(io, "since", g->since_ms);
        cJSON_AddStringToObject(io, "first_mover", active[g->members[0]].key);
        cJSON *impact = cJSON_AddArrayToObject(io, "impact");
        bool all_silenced = true;
        cJSON *members = cJSON_CreateArray();
        for (size_t m = 0; m < g->n; m++) {
            const struct kw_alert *a = &active[g->members[m]];
            cJSON *aj = alert_json(h, a, now, feedback);
            all_silenced &= !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(aj, "silenced_by"));
            cJSON_AddItemToArray(members, aj);
            if (!kw_alert_has_impact(a))
                continue;
            cJSON *u = NULL, *it;
            cJSON_ArrayForEach(it, impact)
                if (strcmp(cJSON_GetObjectItemCaseSensitive(it, "unit")->valuestring, a->unit) == 0)
                    u = it;
            if (!u) {
                u = cJSON_CreateObject();
                cJSON_AddStringToObject(u, "unit", a->unit);
                cJSON_AddNumberToObject(u, "value", 0);
                cJSON_AddNumberToObject(u, "cost", 0);
                cJSON_AddStringToObject(u, "currency", a->currency);
                cJSON_AddItemToArray(impact, u);
            }
            cJSON *val = cJSON_GetObjectItemCaseSensitive(u, "value"), *cost = cJSON_GetObjectItemCaseSensitive(u, "cost");
            cJSON_SetNumberValue(val, val->valuedouble + a->impact);
            cJSON_SetNumberValue(cost, cost->valuedouble + fabs(a->impact) * a->cost_per_unit);
        }
        cJSON_AddBoolToObject(io, "silenced", all_silenced && g->n > 0);
        cJSON_AddItemToObject(io, "members", members);
        cJSON_AddItemToArray(arr, io);
    }
    kw_status_incidents_free(inc, ninc);
    free(active);
    return respond_json(c, MHD_HTTP_OK, o);
}

struct arg_filter {
    struct kw_alert_label want[KW_ALERT_MAX_LABELS];
    int n;
    bool too_many;
};

static enum MHD_Result collect_label(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct arg_filter *f = cls;
    if (strcmp(key, "kpi") == 0 || strcmp(key, "key") == 0 || strcmp(key, "points") == 0)
        return MHD_YES;
    if (f->n >= KW_ALERT_MAX_LABELS) {
        f->too_many = true;
        return MHD_YES;
    }
    snprintf(f->want[f->n].name, sizeof f->want[f->n].name, "%s", key);
    snprintf(f->want[f->n].value, sizeof f->want[f->n].value, "%s", value ? value : "");
    f->n++;
    return MHD_YES;
}

static bool labels_match(const struct kw_history_entry *e, const struct arg_filter *f)
{
    for (int i = 0; i < f->n; i++) {
        bool found = false;
        for (int l = 0; l < e->nlabels && !found; l++)
            found = strcmp(e->labels[l].name, f->want[i].name) == 0 && strcmp(e->labels[l].value, f->want[i].value) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* 404 naming the KPIs there are, when the running config has no KPI
 * (roll-ups included) named name; NULL when it has one. */
static cJSON *unknown_kpi(struct kw_http *h, const char *name)
{
    struct kw_status_view v;
    kw_status_read(h->status, &v);
    bool found = !(v.ready & KW_READY_CONFIG); /* not published yet: cannot tell */
    for (int k = 0; k < v.nkpis && !found; k++)
        found = strcmp(v.kpis[k].name, name) == 0;
    cJSON *o = NULL;
    if (!found) {
        o = cJSON_CreateObject();
        char msg[KW_ALERT_LABEL_NAME + 32];
        snprintf(msg, sizeof msg, "no KPI named \"%.*s\"", KW_ALERT_LABEL_NAME, name);
        cJSON_AddStringToObject(o, "error", msg);
        cJSON *names = cJSON_AddArrayToObject(o, "kpis");
        for (int k = 0; k < v.nkpis; k++)
            cJSON_AddItemToArray(names, cJSON_CreateString(v.kpis[k].name));
    }
    kw_status_view_release(&v);
    return o;
}

static enum MHD_Result get_series(struct kw_http *h, struct MHD_Connection *c)
{
    if (!h->history)
        return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no history store");
    const char *key = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key");
    const char *kpi = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "kpi");
    struct kw_history_entry e;
    if (key) {
        if (kw_history_get(h->history, key, &e))
            return respond_error(c, MHD_HTTP_NOT_FOUND, "series %.32s is not tracked", key);
    } else {
        if (!kpi)
            return respond_error(c, MHD_HTTP_BAD_REQUEST, "give kpi=NAME (and label=value for each group_by label) or key=KEY");
        cJSON *unknown = unknown_kpi(h, kpi);
        if (unknown)
            return respond_json(c, MHD_HTTP_NOT_FOUND, unknown);
        struct arg_filter f = {0};
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_label, &f);
        if (f.too_many)
            return respond_error(c, MHD_HTTP_BAD_REQUEST, "at most %d labels", KW_ALERT_MAX_LABELS);
        struct kw_history_entry *all;
        size_t n = kw_history_list(h->history, kpi, false, 0, &all), hit = 0, at = 0;
        for (size_t i = 0; i < n; i++)
            if (labels_match(&all[i], &f) && hit++ == 0)
                at = i;
        if (hit != 1) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "error", hit ? "several tracked series match: add labels or use key="
                                                    : "no tracked series matches; a series is listed once its first "
                                                      "interval has closed");
            cJSON *cands = cJSON_AddArrayToObject(o, "candidates");
            for (size_t i = 0; i < n && cJSON_GetArraySize(cands) < 50; i++) {
                if (!labels_match(&all[i], &f))
                    continue;
                cJSON *cj = cJSON_CreateObject();
                cJSON_AddStringToObject(cj, "key", all[i].key);
                cJSON_AddItemToObject(cj, "labels", labels_json(all[i].labels, all[i].nlabels));
                cJSON_AddItemToArray(cands, cj);
            }
            kw_history_entries_free(all, n);
            return respond_json(c, hit ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_NOT_FOUND, o);
        }
        char found[17];
        memcpy(found, all[at].key, sizeof found);
        kw_history_entries_free(all, n);
        if (kw_history_get(h->history, found, &e))
            return respond_error(c, MHD_HTTP_NOT_FOUND, "the series left the history store");
    }
    const char *points = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "points");
    int last_n = points ? atoi(points) : 0;
    cJSON *o = series_json(&e, last_n > 0 ? last_n : 0);
    kw_history_entry_release(&e);
    return respond_json(c, MHD_HTTP_OK, o);
}

static enum MHD_Result get_silences(struct kw_http *h, struct MHD_Connection *c)
{
    if (!h->silences)
        return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no silence store");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "silences", kw_silences_list(h->silences, kw_now_ms()));
    return respond_json(c, MHD_HTTP_OK, o);
}

static void matchers_text(const struct kw_silence *s, char *buf, size_t len)
{
    static const char *const ops[] = {"=", "!=", "=~", "!~"};
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->nmatchers && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s%s\"%s\"", i ? "," : "", s->matchers[i].name,
                                 ops[s->matchers[i].op & 3], s->matchers[i].value);
}

/* The gate of every write endpoint: the token (or a loopback listener),
 * then for one with a JSON body (r not NULL) its content type and size.
 * what names the write in the log ("a silence"). Returns true, with the
 * refusal in *answer, when the write may not go on; who gets the client. */
static bool write_refused(struct kw_http *h, struct MHD_Connection *c, const struct request *r, const char *what,
                          char who[64], enum MHD_Result *answer)
{
    char msg[256];
    unsigned denied = authorize_write(h, c, msg, sizeof msg);
    client_address(c, who, 64);
    if (denied) {
        kw_warn("http", "refused %s from %s: %s", what, who, msg);
        *answer = respond_error(c, denied, "%s", msg);
        return true;
    }
    if (!r)
        return false;
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ctype || strncasecmp(ctype, "application/json", 16) != 0) {
        *answer = respond_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "send %s as Content-Type: application/json", what);
        return true;
    }
    if (r->too_big) {
        *answer = respond_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "the body is larger than %d bytes", MAX_BODY);
        return true;
    }
    return false;
}

static enum MHD_Result post_silence(struct kw_http *h, struct MHD_Connection *c, struct request *r)
{
    char who[64];
    enum MHD_Result refused;
    if (write_refused(h, c, r, "a silence", who, &refused))
        return refused;
    if (!h->silences)
        return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no silence store");
    cJSON *json = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
    if (!json)
        return respond_error(c, MHD_HTTP_BAD_REQUEST, "the body is not JSON");
    struct kw_silence sil;
    char err[KW_ERR_LEN];
    int64_t now = kw_now_ms();
    int rc = kw_silence_parse(&sil, json, now, "silence", err, sizeof err);
    cJSON_Delete(json);
    if (rc)
        return respond_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
    if (kw_silences_add(h->silences, &sil, err, sizeof err))
        return respond_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
    char matchers[512];
    matchers_text(&sil, matchers, sizeof matchers);
    kw_info("http", "silence %s added by %s from %s: %s", sil.id, sil.author[0] ? sil.author : "(anonymous)", who, matchers);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", sil.id);
    cJSON_AddItemToObject(o, "silence", kw_silence_to_json(&sil, now));
    return respond_json(c, MHD_HTTP_CREATED, o);
}

/* POST /api/v1/alerts/KEY/feedback {"verdict":"false_alarm"|"confirmed","note":...}: queued in the
 * state directory like `kpiwatch feedback`, so the agent thread learns it at its next look (2 s). */
static enum MHD_Result post_feedback(struct kw_http *h, struct MHD_Connection *c, struct request *r, const char *key)
{
    char who[64];
    enum MHD_Result refused;
    if (write_refused(h, c, r, "feedback", who, &refused))
        return refused;
    if (!h->state_dir)
        return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "agent.state_dir is not set: feedback is kept there");
    cJSON *json = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
    const cJSON *verdict = cJSON_GetObjectItemCaseSensitive(json, "verdict");
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(json, "note");
    bool false_alarm = cJSON_IsString(verdict) && strcmp(verdict->valuestring, "false_alarm") == 0;
    bool confirmed = cJSON_IsString(verdict) && strcmp(verdict->valuestring, "confirmed") == 0;
    if (!json || (!false_alarm && !confirmed) || (note && !cJSON_IsString(note) && !cJSON_IsNull(note))) {
        cJSON_Delete(json);
        return respond_error(c, MHD_HTTP_BAD_REQUEST,
                             "send {\"verdict\": \"false_alarm\" or \"confirmed\", \"note\": \"why\" (optional)}");
    }
    char err[KW_ERR_LEN], keycopy[40], id[KW_FEEDBACK_ID];
    snprintf(keycopy, sizeof keycopy, "%.*s", (int)strcspn(key, "/"), key);
    int rc = kw_feedback_submit(h->state_dir, keycopy, false_alarm, cJSON_IsString(note) ? note->valuestring : NULL,
                                id, err, sizeof err);
    cJSON_Delete(json);
    if (rc)
        return respond_error(c, strstr(err, "not an alert key") ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR,
                             "%s", err);
    kw_info("http", "%s on alert %s queued from %s", false_alarm ? "false alarm" : "confirmed", keycopy, who);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "key", keycopy);
    cJSON_AddStringToObject(o, "verdict", false_alarm ? "false_alarm" : "confirmed");
    cJSON_AddBoolToObject(o, "queued", true);
    return respond_json(c, MHD_HTTP_ACCEPTED, o);
}

/* GET /api/v1/alerts/KEY/feedback: the verdicts the agent applied on KEY,
 * oldest first, as recorded (a record without "kpi" matched no series). */
static enum MHD_Result get_feedback(struct kw_http *h, struct MHD_Connection *c, const char *key)
{
    if (!h->state_dir)
        return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "agent.state_dir is not set: feedback is kept there");
    char keycopy[40];
    snprintf(keycopy, sizeof keycopy, "%.*s", (int)strcspn(key, "/"), key);
    const cJSON *record = kw_feedback_cache_get(&h->feedback, h->state_dir), *r;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", keycopy);
    cJSON *records = cJSON_AddArrayToObject(o, "records");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(record, "records")) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(r, "key");
        if (cJSON_IsString(k) && strcmp(k->valuestring, keycopy) == 0)
            cJSON_AddItemToArray(records, cJSON_Duplicate(r, true));
    }
    return respond_json(c, MHD_HTTP_OK, o);
}

static enum MHD_Result delete_silence(struct kw_http *h, struct MHD_Connection *c, const char *id)
{
    char who[64];
    enum MHD_Result refused;
    if (write_refused(h, c, NULL, "to expire a silence", who, &refused))
        return refused;
    if (!h->silences)
        return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no silence store");
    if (kw_silences_expire(h->silences, id, kw_now_ms()))
        return respond_error(c, MHD_HTTP_NOT_FOUND, "no silence %.40s that can be expired (config silences cannot)", id);
    kw_info("http", "silence %.40s expired from %s", id, who);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "status", "expired");
    return respond_json(c, MHD_HTTP_OK, o);
}

static enum MHD_Result get_metrics(struct kw_http *h, struct MHD_Connection *c)
{
    struct kw_status_view v;
    kw_status_read(h->status, &v);
    struct kw_metrics_extra x = {0};
    if (h->silences) {
        x.silences_known = true;
        cJSON *list = kw_silences_list(h->silences, v.now_ms), *s;
        cJSON_ArrayForEach(s, list) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(s, "status");
            if (cJSON_IsString(st) && strcmp(st->valuestring, "active") == 0)
                x.silences_active++;
            else if (cJSON_IsString(st) && strcmp(st->valuestring, "pending") == 0)
                x.silences_pending++;
        }
        cJSON_Delete(list);
    }
    if (h->history)
        kw_history_usage(h->history, &x.history_series, &x.history_bytes);
    char *kafka = kw_status_kafka(h->status);
    x.kafka = kafka;
    const cJSON *feedback = kw_feedback_cache_get(&h->feedback, h->state_dir);
    x.feedback_counts = cJSON_GetObjectItemCaseSensitive(feedback, "counts");
    size_t len;
    char *body = kw_metrics_render(&v, &x, &len);
    free(kafka);
    kw_status_view_release(&v);
    return respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

static enum MHD_Result get_readyz(struct kw_http *h, struct MHD_Connection *c)
{
    struct kw_status_view v;
    kw_status_read(h->status, &v);
    int ready = v.ready;
    kw_status_view_release(&v);
    if (ready == KW_READY_ALL)
        return respond_text(c, MHD_HTTP_OK, "ready\n");
    char msg[160];
    snprintf(msg, sizeof msg, "not ready:%s%s%s\n", ready & KW_READY_CONFIG ? "" : " config not loaded;",
             ready & KW_READY_INPUTS ? "" : " inputs not bound;", ready & KW_READY_STATE ? "" : " state not restored;");
    return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
}

/* The overview (key NULL) or one series' page. */
static enum MHD_Result get_page(struct kw_http *h, struct MHD_Connection *c, const char *key)
{
    struct kw_status_view v;
    kw_status_read(h->status, &v);
    int64_t now = v.now_ms;
    struct kw_page_data d = {.view = &v, .history = h->history, .per_kpi = CHARTS_PER_KPI};
    struct kw_alert *active = NULL;
    struct kw_status_resolved *res = NULL;
    d.nactive = kw_status_active(h->status, &active);
    d.active = active;
    d.nresolved = kw_status_resolved(h->status, &res);
    d.resolved = res;
    char (*ids)[KW_SILENCE_ID] = xcalloc(d.nactive + 1, sizeof *ids);
    const char **silenced = xcalloc(d.nactive + 1, sizeof *silenced);
    cJSON *list = NULL;
    if (h->silences) {
        for (size_t i = 0; i < d.nactive; i++)
            if (kw_silences_match(h->silences, &active[i], now, ids[i]))
                silenced[i] = ids[i];
        list = kw_silences_list(h->silences, now);
    }
    d.silenced_by = silenced;
    d.silences = list;
    d.only_kpi = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "kpi");
    struct kw_status_incident *inc = NULL;
    d.nincidents = kw_status_incidents(h->status, active, d.nactive, &inc);
    d.incidents = inc;
    size_t len;
    char *body = key ? kw_page_render_series(&d, key, &len) : kw_page_render(&d, &len);
    kw_status_incidents_free(inc, d.nincidents);
    cJSON_Delete(list);
    free(silenced);
    free(ids);
    free(active);
    free(res);
    kw_status_view_release(&v);
    if (!body)
        return respond_error(c, MHD_HTTP_NOT_FOUND, "series %.32s is not tracked (the history keeps at most %d series)",
                             key, h->history_series);
    return respond(c, MHD_HTTP_OK, "text/html; charset=utf-8", body, len);
}

static enum MHD_Result route(struct kw_http *h, struct MHD_Connection *c, const char *url, const char *method,
                             struct request *r)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0, del = strcmp(method, "DELETE") == 0;
    if (strcmp(url, "/api/v1/silences") == 0) {
        if (get)
            return get_silences(h, c);
        if (post)
            return post_silence(h, c, r);
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET, HEAD or POST\n");
    }
    if (strncmp(url, "/api/v1/silences/", 17) == 0) {
        if (del)
            return delete_silence(h, c, url + 17);
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use DELETE\n");
    }
    if (strncmp(url, "/api/v1/alerts/", 15) == 0) {
        const char *tail = strchr(url + 15, '/');
        if (tail && strcmp(tail, "/feedback") == 0) {
            if (post)
                return post_feedback(h, c, r, url + 15);
            if (get)
                return get_feedback(h, c, url + 15);
            return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET, HEAD or POST\n");
        }
    }
    if (!get)
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET or HEAD\n");
    if (strcmp(url, "/") == 0)
        return get_page(h, c, NULL);
    if (strncmp(url, "/series/", 8) == 0)
        return get_page(h, c, url + 8);
    if (strcmp(url, "/metrics") == 0)
        return get_metrics(h, c);
    if (strcmp(url, "/healthz") == 0)
        return respond_text(c, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0)
        return get_readyz(h, c);
    if (strcmp(url, "/api/v1/alerts") == 0)
        return get_alerts(h, c);
    if (strcmp(url, "/api/v1/incidents") == 0)
        return get_incidents(h, c);
    if (strcmp(url, "/api/v1/series") == 0)
        return get_series(h, c);
    return respond_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint: %.100s", url);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct kw_http *h = cls;
    struct request *r = *con_cls;
    if (!r) { /* headers only: wait for the body */
        r = xcalloc(1, sizeof *r);
        kw_strbuf_init(&r->body);
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > MAX_BODY)
            r->too_big = true;
        else
            kw_strbuf_append(&r->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&h->lock);
    enum MHD_Result rc = route(h, c, url, method, r);
    pthread_mutex_unlock(&h->lock);
    return rc;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct request *r = *con_cls;
    if (!r)
        return;
    kw_strbuf_release(&r->body);
    free(r);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    kw_warn("http", "%s", msg);
}

/* ---- lifecycle -------------------------------------------------------------------- */

/* Bind and listen ourselves, so a refusal names its reason. Returns the socket or -1. */
static int open_socket(const char *listen_addr, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    int family;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, listen_addr, &s4->sin_addr) == 1) {
        family = s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        len = sizeof *s4;
    } else if (inet_pton(AF_INET6, listen_addr, &s6->sin6_addr) == 1) {
        family = s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        len = sizeof *s6;
    } else {
        snprintf(err, errlen, "http.listen: not an address");
        return -1;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "http: socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) { /* "::" takes IPv4 too; any other IPv6 address only itself */
        int v6only = !IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
        int why = errno;
        snprintf(err, errlen, "http.port: cannot bind %s%s%s:%d: %s", family == AF_INET6 ? "[" : "", listen_addr,
                 family == AF_INET6 ? "]" : "", port, strerror(why));
        close(fd);
        errno = why; /* kw_http_bind tells an overlap with its own listener from the rest */
        return -1;
    }
    return fd;
}

static struct MHD_Daemon *start_daemon(struct kw_http *h, const struct kw_http_config *c, char *err, size_t errlen)
{
    int fd = h->bound_fd >= 0 ? h->bound_fd : open_socket(c->listen, c->port, err, errlen);
    h->bound_fd = -1;
    if (fd < 0)
        return NULL;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, h,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)32,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)15,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_END);
    if (!d) {
        close(fd);
        snprintf(err, errlen, "http: the listener on %s:%d did not start", c->listen, c->port);
    }
    return d;
}

void kw_http_unbind(struct kw_http *h)
{
    if (h->bound_fd >= 0)
        close(h->bound_fd);
    h->bound_fd = -1;
}

int kw_http_bind(struct kw_http *h, const struct kw_http_config *c, char *err, size_t errlen)
{
    kw_http_unbind(h);
    bool same_port = h->daemon && c->port == h->port;
    if (!c->port || (same_port && strcmp(c->listen, h->listen) == 0))
        return 0;
    h->bound_fd = open_socket(c->listen, c->port, err, errlen);
    if (h->bound_fd >= 0)
        return 0;
    /* Another address on the running port may overlap the running listener
     * ("0.0.0.0" and "127.0.0.1"): kw_http_apply binds it once the old one
     * has closed, and reopens the old one if that fails. */
    if (same_port && errno == EADDRINUSE) {
        err[0] = '\0';
        return 0;
    }
    return -1;
}

int kw_http_apply(struct kw_http *h, const struct kw_config *cfg, struct kw_silences *silences, char *err,
                  size_t errlen)
{
    const struct kw_http_config *c = &cfg->http;
    kw_status_configure(h->status, cfg);
    kw_status_set_external_url(h->status, c->port ? c->external_url : NULL);

    /* The history lives while there is a listener, and starts afresh only when its shape changes. */
    struct kw_history *old_history = NULL, *new_history = h->history;
    if (c->port == 0) {
        old_history = h->history;
        new_history = NULL;
    } else if (!h->history || c->history_series != h->history_series || c->history_window_ms != h->history_window_ms) {
        old_history = h->history;
        new_history = kw_history_new(c->history_series, c->history_window_ms);
    }

    struct MHD_Daemon *old_daemon = NULL, *new_daemon = h->daemon;
    bool moved = c->port == 0 || !h->daemon || c->port != h->port || strcmp(c->listen, h->listen) != 0;
    if (moved) {
        old_daemon = h->daemon;
        new_daemon = NULL;
        if (c->port) {
            bool freed = false;
            if (h->daemon && c->port == h->port && h->bound_fd < 0) {
                /* Same port, an address that overlaps the old one: free the port first. */
                MHD_stop_daemon(h->daemon);
                pthread_mutex_lock(&h->lock);
                h->daemon = NULL;
                pthread_mutex_unlock(&h->lock);
                old_daemon = NULL;
                freed = true;
            }
            new_daemon = start_daemon(h, c, err, errlen);
            if (!new_daemon) {
                if (freed) { /* the listener stays where it was: reopen it */
                    struct kw_http_config was = *c;
                    char ignored[256];
                    was.listen = h->listen;
                    struct MHD_Daemon *back = start_daemon(h, &was, ignored, sizeof ignored);
                    pthread_mutex_lock(&h->lock);
                    h->daemon = back;
                    pthread_mutex_unlock(&h->lock);
                }
                if (new_history != h->history)
                    kw_history_free(new_history);
                return -1;
            }
        }
    }
    pthread_mutex_lock(&h->lock);
    h->daemon = new_daemon;
    snprintf(h->listen, sizeof h->listen, "%s", c->listen ? c->listen : "");
    h->port = c->port;
    h->loopback = kw_http_is_loopback(h->listen);
    kw_secret_free(h->token);
    h->token = c->secret ? xstrdup(c->secret) : NULL;
    snprintf(h->external_url, sizeof h->external_url, "%s", c->external_url ? c->external_url : "");
    size_t n = strlen(h->external_url);
    while (n > 0 && h->external_url[n - 1] == '/')
        h->external_url[--n] = '\0';
    h->silences = silences;
    free(h->state_dir);
    h->state_dir = cfg->state_dir ? xstrdup(cfg->state_dir) : NULL;
    kw_feedback_cache_release(&h->feedback); /* the state directory may have moved */
    h->history = new_history;
    h->history_series = c->history_series;
    h->history_window_ms = c->history_window_ms;
    pthread_mutex_unlock(&h->lock);
    kw_status_set_history(h->status, new_history);
    /* No request can be reading the old store now: requests read it under the lock. */
    kw_history_free(old_history);
    if (old_daemon)
        MHD_stop_daemon(old_daemon);
    if (c->port && moved) {
        kw_info("http", "listening on http://%s%s%s:%d/ (status page, /metrics, /api/v1)", strchr(c->listen, ':') ? "[" : "",
                c->listen, strchr(c->listen, ':') ? "]" : "", c->port);
        if (!c->secret && !h->loopback)
            kw_warn("http", "no http.token and %s is not a loopback address: every write (silences) is refused",
                    c->listen);
        else if (!c->secret)
            kw_info("http", "no http.token: writes (silences) are accepted from loopback only");
    } else if (!c->port && old_daemon) {
        kw_info("http", "listener stopped (http.port is 0)");
    }
    return 0;
}

void kw_http_free(struct kw_http *h)
{
    if (!h)
        return;
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    if (h->bound_fd >= 0)
        close(h->bound_fd);
    kw_history_free(h->history);
    kw_status_free(h->status);
    kw_secret_free(h->token);
    free(h->state_dir);
    kw_feedback_cache_release(&h->feedback);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
