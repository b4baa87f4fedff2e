/* api_client: one libcurl request to the local agent. */
#include "api_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
    struct kw_api_reply *r = ctx;
    if (r->body.len < 1 << 20)
        kw_strbuf_append(&r->body, data, size * n);
    return size * n;
}

/* The base URL a local client reaches the listener at. */
static void base_url(const struct kw_http_config *h, char *buf, size_t len)
{
    const char *host = h->listen;
    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    snprintf(buf, len, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host, h->port);
}

int kw_api_call(const struct kw_http_config *h, const char *method, const char *path, const char *body,
                struct kw_api_reply *r, char *err, size_t errlen)
{
    char url[256];
    base_url(h, url, sizeof url);
    snprintf(url + strlen(url), sizeof url - strlen(url), "%s", path);
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "libcurl did not start");
        return -1;
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    char *auth = NULL;
    if (h->secret) {
        size_t alen = strlen(h->secret) + 32;
        auth = malloc(alen);
        snprintf(auth, alen, "Authorization: Bearer %s", h->secret);
        headers = curl_slist_append(headers, auth);
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    if (auth) { /* the token does not linger in freed memory */
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    if (code == CURLE_COULDNT_CONNECT || code == CURLE_OPERATION_TIMEDOUT || code == CURLE_COULDNT_RESOLVE_HOST)
        return 0;
    if (code != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(code));
        return -1;
    }
    return 1;
}

void kw_api_error(const struct kw_api_reply *r, char *msg, size_t len)
{
    cJSON *j = cJSON_Parse(r->body.data ? r->body.data : "");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    snprintf(msg, len, "the agent answered HTTP %ld: %s", r->status,
             cJSON_IsString(e) ? e->valuestring : r->body.data ? r->body.data : "");
    cJSON_Delete(j);
}
