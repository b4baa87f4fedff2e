/* feedback_cmd: a verdict through the agent's API, or through the state
 * directory when no agent answers. */
#include "feedback_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "../lib/strbuf.h"
#include "../lib/timefmt.h"
#include "api_client.h"
#include "config.h"
#include "feedback.h"

/* The agent looks for verdicts every 2 s; wait a little longer than that. */
#define APPLY_WAIT_MS 5000
#define APPLY_POLL_MS 200

static void copy_string(char *dst, size_t cap, const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    snprintf(dst, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* Ask the agent for its record of verdict id on key until it has applied
 * it or the wait is over; fills the outcome (QUEUED when it never told). */
static void await_applied(const struct kw_config *cfg, const char *key, const char *id, struct kw_feedback_result *res)
{
    char path[128], err[256];
    snprintf(path, sizeof path, "/api/v1/alerts/%s/feedback", key);
    res->outcome = KW_FEEDBACK_QUEUED;
    /* by the clock, not by counting polls: one poll of an agent that is slow
     * to answer can take the API client's whole timeout */
    int64_t deadline = kw_mono_ms() + APPLY_WAIT_MS;
    while (res->outcome == KW_FEEDBACK_QUEUED && kw_mono_ms() <= deadline) {
        struct timespec pause = {0, APPLY_POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
        struct kw_api_reply answer = {0};
        if (kw_api_call(&cfg->http, "GET", path, NULL, &answer, err, sizeof err) > 0 && answer.status == 200) {
            cJSON *j = cJSON_Parse(answer.body.data ? answer.body.data : ""), *r;
            cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(j, "records")) {
                const cJSON *rid = cJSON_GetObjectItemCaseSensitive(r, "id");
                if (!cJSON_IsString(rid) || strcmp(rid->valuestring, id) != 0)
                    continue;
                copy_string(res->kpi, sizeof res->kpi, r, "kpi");
                copy_string(res->detector, sizeof res->detector, r, "detector");
                res->outcome = !res->kpi[0] ? KW_FEEDBACK_NO_SERIES
                               : cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "learned")) ? KW_FEEDBACK_LEARNED
                                                                                              : KW_FEEDBACK_RECORDED;
            }
            cJSON_Delete(j);
        }
        kw_strbuf_release(&answer.body);
    }
}

int kw_feedback_deliver(const struct kw_config *cfg, const char *key, bool false_alarm, const char *note, bool local,
                        struct kw_feedback_result *result, int *exit_code, char *err, size_t errlen)
{
    memset(result, 0, sizeof *result);
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
        char *body = cJSON_PrintUnformatted(o), path[128], id[KW_FEEDBACK_ID] = "";
        cJSON_Delete(o);
        snprintf(path, sizeof path, "/api/v1/alerts/%s/feedback", key);
        struct kw_api_reply answer = {0};
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int answered = kw_api_call(&cfg->http, "POST", path, body, &answer, err, errlen);
        long status = answer.status;
        cJSON_free(body);
        if (answered > 0 && status != 202) {
            kw_api_error(&answer, err, errlen);
            if (status == 503)
                *exit_code = 3; /* the agent has no state_dir */
        }
        if (answered > 0 && status == 202) {
            cJSON *j = cJSON_Parse(answer.body.data ? answer.body.data : "");
            copy_string(id, sizeof id, j, "id");
            cJSON_Delete(j);
        }
        kw_strbuf_release(&answer.body);
        if (answered > 0 && status == 202) {
            result->route = KW_FEEDBACK_HTTP;
            if (id[0]) /* an agent that does not name the verdict cannot say what became of it */
                await_applied(cfg, key, id, result);
        }
        curl_global_cleanup();
        if (answered < 0 || (answered > 0 && status != 202))
            return -1;
        if (answered > 0) {
            *exit_code = 0;
            return 0;
        }
    }
    if (kw_feedback_submit(cfg->state_dir, key, false_alarm, note, NULL, err, errlen)) {
        *exit_code = !cfg->state_dir ? 3 : strstr(err, "not an alert key") ? 2 : 1;
        return -1;
    }
    result->route = KW_FEEDBACK_STATE_DIR;
    *exit_code = 0;
    return 0;
}
