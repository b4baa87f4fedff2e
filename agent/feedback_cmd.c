/* feedback_cmd: a verdict through the agent's API, or through the state
 * directory when no agent answers. */
#include "feedback_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "../lib/strbuf.h"
#include "api_client.h"
#include "config.h"
#include "feedback.h"

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
        kw_strbuf_release(&answer.body);
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
