/* http: the operations listener, on libmicrohttpd's own thread. It serves
 * the status page (/), a page per series (/series/KEY), /metrics
 * (Prometheus text), /healthz, /readyz and the JSON API under /api/v1
 * (alerts, incidents, series, silences, feedback on an alert). It reads
 * only what the agent publishes (status.h) and the history store
 * (history.h), each behind its own short lock, plus the thread-safe silence
 * store; feedback is queued in the state directory for the agent thread
 * (feedback.h), so it never touches the pipeline. Reads are open; writes
 * (creating and expiring silences, feedback) need
 * "Authorization: Bearer TOKEN" when a token is configured, and without one
 * are accepted only on a loopback listener, from a loopback Host name (so a
 * web page cannot rebind a DNS name onto it) and with a JSON content type
 * (so a browser cannot post a form to it). A non-loopback listener without
 * a token refuses every write and says so when it starts.
 * This module also owns the agent's status and history, so everything the
 * listener reads lives exactly as long as it does. */
#ifndef KW_HTTP_H
#define KW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../lib/opts.h"

struct kw_config;
struct kw_pipeline;
struct kw_silences;
struct kw_status;

/* The "http" config section. */
struct kw_http_config {
    char *listen;              /* numeric IPv4 or IPv6 address */
    int port;                  /* 0 = no listener */
    char *token;               /* inline token (usually "${VAR}") */
    char *token_file;
    char *external_url;        /* base URL people reach the page at; NULL = none */
    int history_series;
    int64_t history_window_ms;
    char *secret;              /* the resolved token; NULL = none */
};

/* The option table of the "http" section. */
extern const struct kw_option kw_http_options[];
/* Fill c from obj (NULL = defaults): unknown keys, a listen value that is
 * not an address, an external_url that is not http(s), a token shorter than
 * 16 characters are errors ("http.listen: ..."); the token is resolved here
 * and never quoted. Returns 0 or -1 with err; on error c needs no release. */
int kw_http_parse(struct kw_http_config *c, const cJSON *obj, const char *path, char *err, size_t errlen);
/* Free c's contents. Safe on a zeroed struct. */
void kw_http_config_release(struct kw_http_config *c);
/* True for 127.0.0.0/8 and ::1. */
bool kw_http_is_loopback(const char *listen);

struct kw_http;

/* The listener's owner, not listening yet, with an empty status. Never fails. */
struct kw_http *kw_http_new(void);
/* Apply cfg (at start and after each reload; agent thread): the status
 * takes the new config facts, the history store is kept unless its options
 * changed, and the listener starts, moves (a new address or port is bound
 * before the old one closes), takes new settings in place, or stops
 * (port 0). silences is borrowed (may be NULL: the silence endpoints then
 * answer 503) and must stay valid until the next apply or kw_http_free.
 * Returns 0, or -1 with err ("http.port: cannot listen on 127.0.0.1:9466:
 * Address already in use") when the listener cannot start; a listener that
 * was running then keeps running as it was. */
/* Before a reload: bind the listener's new port while the old listener
 * still runs, so that a port that cannot be bound refuses the whole reload
 * (the next kw_http_apply listens on it). Nothing to do when the port is
 * unchanged or 0. Returns 0, or -1 with err as kw_http_apply's. */
int kw_http_bind(struct kw_http *h, const struct kw_http_config *c, char *err, size_t errlen);
/* Close what kw_http_bind bound, when the reload is refused after all. */
void kw_http_unbind(struct kw_http *h);
int kw_http_apply(struct kw_http *h, const struct kw_config *cfg, struct kw_silences *silences, char *err,
                  size_t errlen);
/* The status the agent publishes into. */
struct kw_status *kw_http_status(struct kw_http *h);
/* The history store, for the agent thread to save and load (history.h);
 * NULL while there is no listener. Valid until the next apply. */
struct kw_history *kw_http_history(struct kw_http *h);
/* Hook the status (alert board, verdict counters) and the history store into
 * a new pipeline; call after p->on_alert is set. Agent thread. */
void kw_http_attach(struct kw_http *h, struct kw_pipeline *p);
/* Stop the listener (waiting for requests in progress) and free everything.
 * Accepts NULL. */
void kw_http_free(struct kw_http *h);

#endif
