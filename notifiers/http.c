/* http: request set-up, answer capture and default classification shared by
 * the HTTP notifiers. */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/secret.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"

void kw_http_add_header(struct kw_request *req, const char *header)
{
    req->headers = curl_slist_append(req->headers, header);
    curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, req->headers);
}

void kw_http_post_json(struct kw_request *req, const char *url, char *body, const char *const *extra_headers)
{
    free(req->url);
    req->url = xstrdup(url);
    free(req->body);
    req->body = body;
    req->body_len = strlen(body);
    curl_easy_setopt(req->easy, CURLOPT_URL, req->url);
    curl_easy_setopt(req->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(req->easy, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    kw_http_add_header(req, "Content-Type: application/json; charset=utf-8");
    /* No "Expect: 100-continue" round trip for small bodies. */
    kw_http_add_header(req, "Expect:");
    for (int i = 0; extra_headers && extra_headers[i]; i++)
        kw_http_add_header(req, extra_headers[i]);
}

int64_t kw_http_parse_retry_after(const char *value, int64_t now_ms)
{
    while (isspace((unsigned char)*value))
        value++;
    if (!*value)
        return -1;
    if (isdigit((unsigned char)*value)) {
        char *end;
        long long s = strtoll(value, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (*end || s < 0)
            return -1;
        return s > 86400 ? 86400000LL : s * 1000LL;
    }
    time_t at = curl_getdate(value, NULL);
    if (at == (time_t)-1)
        return -1;
    int64_t wait = (int64_t)at * 1000 - now_ms;
    return wait < 0 ? 0 : (wait > 86400000LL ? 86400000LL : wait);
}

static void reason_from_body(char *dst, size_t cap, long status, const char *body)
{
    char clean[160];
    size_t n = 0;
    for (const char *p = body ? body : ""; *p && n + 1 < sizeof clean; p++)
        clean[n++] = (*p == '\n' || *p == '\r' || *p == '\t' || (unsigned char)*p < 0x20) ? ' ' : *p;
    clean[n] = '\0';
    snprintf(dst, cap, "HTTP %ld%s%s", status, n ? ": " : "", clean);
}

void kw_http_classify_default(const struct kw_response *resp, struct kw_send_outcome *out)
{
    out->retry_after_ms = 0;
    if (resp->curl_code != CURLE_OK) {
        out->result = KW_SEND_RETRY;
        snprintf(out->reason, sizeof out->reason, "transport: %s",
                 resp->curl_error && *resp->curl_error ? resp->curl_error : curl_easy_strerror(resp->curl_code));
        return;
    }
    reason_from_body(out->reason, sizeof out->reason, resp->status, resp->body);
    if (resp->status >= 200 && resp->status < 300) {
        out->result = KW_SEND_OK;
    } else if (resp->status == 408 || resp->status == 429 || resp->status >= 500) {
        out->result = KW_SEND_RETRY;
        if (resp->retry_after_ms > 0)
            out->retry_after_ms = resp->retry_after_ms;
    } else {
        out->result = KW_SEND_ERROR;
    }
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct kw_http_capture *cap = ctx;
    size_t n = size * nmemb, room = KW_HTTP_BODY_MAX - cap->len;
    size_t take = n < room ? n : room;
    memcpy(cap->body + cap->len, data, take);
    cap->len += take;
    cap->body[cap->len] = '\0';
    return n; /* keep reading past the cap: the status matters more than the tail */
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct kw_http_capture *cap = ctx;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        char value[128];
        size_t vlen = n - (sizeof name - 1);
        if (vlen >= sizeof value)
            vlen = sizeof value - 1;
        memcpy(value, data + sizeof name - 1, vlen);
        value[vlen] = '\0';
        char *end = value + strlen(value);
        while (end > value && isspace((unsigned char)end[-1]))
            *--end = '\0';
        cap->retry_after_ms = kw_http_parse_retry_after(value, kw_now_ms());
    }
    return n;
}

void kw_http_capture_attach(CURL *easy, struct kw_http_capture *cap)
{
    memset(cap, 0, sizeof *cap);
    cap->retry_after_ms = -1;
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, cap);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, cap);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, cap->errbuf);
}

void kw_http_capture_response(CURL *easy, CURLcode code, const struct kw_http_capture *cap,
                              struct kw_response *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->curl_code = code;
    resp->curl_error = code == CURLE_OK ? "" : (cap->errbuf[0] ? cap->errbuf : curl_easy_strerror(code));
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->body = cap->body;
    resp->body_len = cap->len;
    resp->retry_after_ms = cap->retry_after_ms;
}

void kw_http_easy_defaults(CURL *easy, int64_t connect_timeout_ms, int64_t timeout_ms)
{
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "kpiwatch/" KW_VERSION);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
}

bool kw_http_loopback_host(const char *host)
{
    char buf[64];
    size_t len = strlen(host);
    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof buf) {
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = '\0';
        host = buf;
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int kw_http_check_url(const char *url, bool secret, char **log)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        (strcmp(scheme, "https") == 0 || (strcmp(scheme, "http") == 0 && (!secret || kw_http_loopback_host(host))))) {
        if (log) {
            char buf[320];
            if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
                snprintf(buf, sizeof buf, "%s://%s:%s/…", scheme, host, port);
            else
                snprintf(buf, sizeof buf, "%s://%s/…", scheme, host);
            *log = xstrdup(buf);
        }
        rc = 0;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

int kw_http_check_endpoint(const char *url, unsigned rules, const char *hint, const char *keypath, char *err,
                           size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL, *query = NULL;
    bool loopback_only = rules & KW_ENDPOINT_LOOPBACK_HTTP;
    int rc = -1;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        snprintf(err, errlen, "%s: is not a valid URL", keypath);
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
        snprintf(err, errlen, "%s: must not hold credentials%s%s%s", keypath, hint ? " (use " : "", hint ? hint : "",
                 hint ? ")" : "");
    else if ((rules & KW_ENDPOINT_NO_QUERY) && curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
        snprintf(err, errlen, "%s: must be a base URL without a query", keypath);
    else if (strcmp(scheme, "https") != 0 &&
             !(strcmp(scheme, "http") == 0 && (!loopback_only || kw_http_loopback_host(host))))
        snprintf(err, errlen, "%s: must be an https:// URL%s", keypath,
                 loopback_only ? " (http:// only to a loopback address)" : "");
    else
        rc = 0;
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(query);
    curl_url_cleanup(u);
    return rc;
}

int kw_http_resolve_url(char **opt, const char *file, const char *path, const char *name, bool secret, char **url,
                        char **log, char *err, size_t errlen)
{
    char key[KW_ERR_LEN], file_key[KW_ERR_LEN], file_name[64];
    snprintf(file_name, sizeof file_name, "%s_file", name);
    kw_path_key(key, sizeof key, path, name);
    kw_path_key(file_key, sizeof file_key, path, file_name);
    if (kw_secret_resolve(*opt, file, 1, key, file_key, url, err, errlen))
        return -1;
    kw_secret_free(*opt);
    *opt = NULL;
    if (kw_http_check_url(*url, secret, log)) {
        snprintf(err, errlen,
                 secret ? "%s: must be an https URL (http only to a loopback address)"
                        : "%s: must be an http(s) URL with a host",
                 file ? file_key : key);
        kw_secret_free(*url);
        *url = NULL;
        return -1;
    }
    return 0;
}
