/* feedback_cmd: how `kpiwatch feedback` delivers a verdict. It posts it to
 * the running agent's HTTP API when one answers there (http.listen and
 * http.port of the config, with its token), else queues it in
 * STATE_DIR/feedback/ itself; both end in the same queue. */
#ifndef KW_FEEDBACK_CMD_H
#define KW_FEEDBACK_CMD_H

#include <stdbool.h>
#include <stddef.h>

struct kw_config;

enum kw_feedback_route { KW_FEEDBACK_HTTP, KW_FEEDBACK_STATE_DIR };

/* Deliver a verdict on alert key. local skips the API. Returns 0 and sets
 * *route, or -1 with err and the process exit code in *exit_code: 2 for a
 * bad key, 3 when there is nowhere to keep it (no state_dir), 1 otherwise
 * (the agent refused, the directory cannot be written). */
int kw_feedback_deliver(const struct kw_config *cfg, const char *key, bool false_alarm, const char *note, bool local,
                        enum kw_feedback_route *route, int *exit_code, char *err, size_t errlen);

#endif
