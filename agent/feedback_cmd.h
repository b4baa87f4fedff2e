/* feedback_cmd: how `kpiwatch feedback` delivers a verdict. It posts it to
 * the running agent's HTTP API when one answers there (http.listen and
 * http.port of the config, with its token), else queues it in
 * STATE_DIR/feedback/ itself; both end in the same queue. Through the API
 * it then waits a few seconds for the agent to apply the verdict, so it can
 * say whether the key matched a series. */
#ifndef KW_FEEDBACK_CMD_H
#define KW_FEEDBACK_CMD_H

#include <stdbool.h>
#include <stddef.h>

struct kw_config;

enum kw_feedback_route { KW_FEEDBACK_HTTP, KW_FEEDBACK_STATE_DIR };

/* What became of a verdict. */
enum kw_feedback_outcome {
    KW_FEEDBACK_QUEUED,    /* not applied yet (no agent, or it did not within the wait) */
    KW_FEEDBACK_LEARNED,   /* the series' detector learned it */
    KW_FEEDBACK_RECORDED,  /* recorded; the series' detector does not learn from feedback */
    KW_FEEDBACK_NO_SERIES, /* recorded only: the key matches no series the agent tracks */
};

struct kw_feedback_result {
    enum kw_feedback_route route;
    enum kw_feedback_outcome outcome;
    char kpi[64], detector[32]; /* of the series, when one matched */
};

/* Deliver a verdict on alert key. local skips the API. Returns 0 with
 * *result, or -1 with err and the process exit code in *exit_code: 2 for
 * a bad key, 3 when there is nowhere to keep it (no state_dir), 1
 * otherwise (the agent refused, the directory cannot be written). */
int kw_feedback_deliver(const struct kw_config *cfg, const char *key, bool false_alarm, const char *note, bool local,
                        struct kw_feedback_result *result, int *exit_code, char *err, size_t errlen);

#endif
