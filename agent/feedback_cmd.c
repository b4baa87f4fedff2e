/* feedback_cmd: a verdict through the agent's API, or through the state
 * directory when no agent answers. */
#include "feedback_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "../lib/strbuf.h"
#include "config.h"
#include "feedback.h"

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
    struct kw_strbuf *b = ctx;
    if (b->len < 1 << 16)
        kw_strbuf_append(b, data, size * n);
    return size * n;
}

/* 1 when the agent answered (status and body set), 0 when none answers, -1 on another failure (err). */
static int post(const struct kw_http_config *h, const char *path, const char *body, long *status,
                struct kw_strbuf *answer, char *err, size_t errlen)
{
    const char *host = strcmp(h->listen, "0.0.0.0") == 0 ? "127.0.0.1" : strcmp(h->listen, "::") == 0 ? "::1" : h->listen;
    char url[256], *auth = NULL;
    snprintf(url, sizeof url, strchr(host, ':') ? "http://[%s]:%d%s" : "http://%s:%d%s", host, h->port, path);
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "libcurl did not start");
        return -1;
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (h->secret) {
        size_t alen = strlen(h->secret) + 32;
        auth = malloc(alen);
        snprintf(auth, alen, "Authorization: Bearer %s", h->secret);
        headers = curl_slist_append(headers, auth);
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    CURLcode code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    if (auth) {
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

int kw_feedback_deliver(const struct kw_config *cfg, const char *key, bool false_alarm, const char *note, bool local,
                        enum kw_feedback_route *route, int *exit_code, char *err, size_t errlen)
{
    *exit_code = 1;
    if (strlen(key) != 16 || strspn(key, "0123456789abcdef") != 16) {
        snprintf(err, errlen, "\"%.40s\" is not an alert key (16 hex digits, as in the alert)", key);
        *exit_code = 2;
        return -1;
    }
    if (cfg->http.port && !local) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "verdict", false_alarm ? "false_alarm" : "confirmed");
        if (note)
            cJSON_AddStringToObject(o, "note", note);
        char *body = cJSON_PrintUnformatted(o), path[128];
        cJSON_Delete(o);
        snprintf(path, sizeof path, "/api/v1/alerts/%s/feedback", key);
        long status = 0;
        struct kw_strbuf answer;
        kw_strbuf_init(&answer);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int answered = post(&cfg->http, path, body, &status, &answer, err, errlen);
        cJSON_free(body);
        if (answered > 0 && status != 202) {
            cJSON *j = cJSON_Parse(answer.data ? answer.data : "");
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
            snprintf(err, errlen, "the agent answered HTTP %ld: %s", status,
                     cJSON_IsString(e) ? e->valuestring : answer.data ? answer.data : "");
            cJSON_Delete(j);
            if (status == 503)
                *exit_code = 3; /* the agent has no state_dir */
        }
        kw_strbuf_release(&answer);
        curl_global_cleanup();
        if (answered < 0 || (answered > 0 && status != 202))
            return -1;
        if (answered > 0) {
            *route = KW_FEEDBACK_HTTP;
            *exit_code = 0;
            return 0;
        }
    }
    if (kw_feedback_submit(cfg->state_dir, key, false_alarm, note, err, errlen)) {
        *exit_code = !cfg->state_dir ? 3 : strstr(err, "not an alert key") ? 2 : 1;
        return -1;
    }
    *route = KW_FEEDBACK_STATE_DIR;
    *exit_code = 0;
    return 0;
}
