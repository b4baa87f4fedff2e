/* http: what every HTTP notifier shares: setting up a JSON POST on a
 * request, reading Retry-After, performing one transfer, and the default
 * classification of an answer (2xx ok; 408, 429 and 5xx retried, honouring
 * Retry-After; other 4xx permanent, with the service's body as the reason;
 * transport errors and timeouts retried), and the checks of a configured
 * URL. */
#ifndef KW_HTTP_H
#define KW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notifier.h"

/* Most response bytes kept for classification and logs. */
#define KW_HTTP_BODY_MAX 8192

/* Set req up as a POST of body (taken over; must be malloc'd) to url with
 * Content-Type: application/json plus extra headers (NULL-terminated list of
 * "Name: value", may be NULL). Never fails. */
void kw_http_post_json(struct kw_request *req, const char *url, char *body, const char *const *extra_headers);
/* Add one "Name: value" header to req. */
void kw_http_add_header(struct kw_request *req, const char *header);

/* Parse a Retry-After value (delta seconds or an HTTP date) relative to
 * now_ms. Returns milliseconds to wait (>= 0), or -1 when unparseable. */
int64_t kw_http_parse_retry_after(const char *value, int64_t now_ms);

/* The default classification described above, into out. */
void kw_http_classify_default(const struct kw_response *resp, struct kw_send_outcome *out);

/* True when host is a loopback address: localhost, 127.0.0.0/8 or ::1
 * (bracketed or not), written in any form inet_pton reads. */
bool kw_http_loopback_host(const char *host);
/* 0 when url parses, has a host and is https or http; with secret (the URL
 * itself is a credential), plain http only to 127.*, localhost or [::1].
 * *log (when log is not NULL) gets "scheme://host[:port]/…" (caller frees).
 * -1 otherwise. */
int kw_http_check_url(const char *url, bool secret, char **log);
/* Rules of kw_http_check_endpoint beyond those it always applies. */
enum {
    KW_ENDPOINT_LOOPBACK_HTTP = 1, /* plain http only to a loopback address */
    KW_ENDPOINT_NO_QUERY = 2,      /* a base URL that paths are appended to */
};
/* Check url, the service endpoint a receiver's config gives at keypath: it
 * parses with a host, holds no credentials (they have keys of their own;
 * hint, when not NULL, names them), is https (or http; only to a loopback
 * address under KW_ENDPOINT_LOOPBACK_HTTP) and, under KW_ENDPOINT_NO_QUERY,
 * has no query. Returns 0, or -1 with err naming keypath and the rule,
 * never the URL. */
int kw_http_check_endpoint(const char *url, unsigned rules, const char *hint, const char *keypath, char *err,
                           size_t errlen);
/* Resolve the URL a receiver posts to, given inline (*opt) or in a file,
 * under the keys name and name_file below path, then check it as
 * kw_http_check_url does (secret: the URL is itself the credential). *opt is
 * freed and cleared: the resolved *url (kw_secret_free) is the only copy
 * kept; *log gets its loggable form (free). Returns 0, or -1 with err naming
 * the key, never the URL, and nothing left to free. */
int kw_http_resolve_url(char **opt, const char *file, const char *path, const char *name, bool secret, char **url,
                        char **log, char *err, size_t errlen);

/* Response capture for one easy handle: body (bounded) and Retry-After. */
struct kw_http_capture {
    char body[KW_HTTP_BODY_MAX + 1];
    size_t len;
    int64_t retry_after_ms;
    char errbuf[CURL_ERROR_SIZE];
};
/* Point easy's write, header and error callbacks at cap (zeroing it). */
void kw_http_capture_attach(CURL *easy, struct kw_http_capture *cap);
/* Fill resp from a finished transfer. */
void kw_http_capture_response(CURL *easy, CURLcode code, const struct kw_http_capture *cap,
                              struct kw_response *resp);
/* Apply the standard options to a fresh easy handle: timeouts, no signals,
 * protocols limited to http(s) and smtp(s), a User-Agent. */
void kw_http_easy_defaults(CURL *easy, int64_t connect_timeout_ms, int64_t timeout_ms);

#endif
