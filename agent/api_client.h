/* api_client: the command line's client of a running agent's HTTP API
 * (`kpiwatch silence`, `kpiwatch feedback`): the listener's local address,
 * the bearer token, short timeouts, and "no agent answers" told apart from
 * a failure, so the commands can fall back to the state directory. */
#ifndef KW_API_CLIENT_H
#define KW_API_CLIENT_H

#include <stddef.h>

#include "../lib/strbuf.h"
#include "http.h"

struct kw_api_reply {
    long status;          /* HTTP status */
    struct kw_strbuf body;/* at most 1 MB of the answer */
};

/* method path (body: JSON or NULL) on the agent at h. Returns 1 when the
 * agent answered (r filled; the caller releases r->body), 0 when no agent
 * answers, -1 on another failure (err). */
int kw_api_call(const struct kw_http_config *h, const char *method, const char *path, const char *body,
                struct kw_api_reply *r, char *err, size_t errlen);
/* "the agent answered HTTP 400: REASON", REASON being the answer's "error". */
void kw_api_error(const struct kw_api_reply *r, char *msg, size_t len);

#endif
