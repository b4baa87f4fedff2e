/* secret: inline or file-based credentials. */
#include "secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "xmalloc.h"

#define SECRET_MAX 65536

int kw_secret_resolve(const char *inline_value, const char *file_path, int required, const char *key,
                      const char *file_key, char **out, char *err, size_t errlen)
{
    *out = NULL;
    int has_inline = inline_value && *inline_value, has_file = file_path && *file_path;
    if (has_inline && has_file) {
        snprintf(err, errlen, "%s: set either this or %s, not both", key, file_key);
        return -1;
    }
    if (!has_inline && !has_file) {
        if (!required)
            return 0;
        snprintf(err, errlen, "%s: is required (or %s, a file holding it)", key, file_key);
        return -1;
    }
    if (has_inline) {
        *out = xstrdup(inline_value);
        kw_secret_redact(*out); /* whoever prints it later, the log never shows it */
        return 0;
    }
    FILE *f = fopen(file_path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read %s: %s", file_key, file_path, strerror(errno));
        return -1;
    }
    char *buf = xmalloc(SECRET_MAX + 1);
    size_t n = fread(buf, 1, SECRET_MAX + 1, f);
    fclose(f);
    if (n > SECRET_MAX) {
        snprintf(err, errlen, "%s: %s is larger than %d bytes", file_key, file_path, SECRET_MAX);
        kw_secret_free(buf);
        return -1;
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (n == 0 || strlen(buf) != n) {
        snprintf(err, errlen, "%s: %s is empty or holds a NUL byte", file_key, file_path);
        kw_secret_free(buf);
        return -1;
    }
    *out = buf;
    kw_secret_redact(buf);
    return 0;
}

/* Register text[0..len) for redaction. */
static void redact_part(const char *text, size_t len)
{
    char part[2048];
    if (len >= sizeof part)
        return;
    memcpy(part, text, len);
    part[len] = '\0';
    kw_log_redact(part);
}

void kw_secret_redact(const char *secret)
{
    kw_log_redact(secret);
    /* A URL's credentials show up on their own too: a service that answers
     * an error may echo the query's token, or the Authorization header made
     * from its user and password. */
    const char *scheme = strstr(secret, "://");
    if (!scheme)
        return;
    const char *host = scheme + 3, *at = strchr(host, '@'), *slash = strchr(host, '/');
    if (at && (!slash || at < slash)) {
        size_t ulen = (size_t)(at - host);
        redact_part(host, ulen);
        const char *colon = memchr(host, ':', ulen);
        if (colon)
            redact_part(colon + 1, (size_t)(at - colon - 1));
        unsigned char b64[4 * ((2048 + 2) / 3) + 1];
        if (ulen < 2048) {
            EVP_EncodeBlock(b64, (const unsigned char *)host, (int)ulen);
            kw_log_redact((const char *)b64);
        }
    }
    const char *q = strchr(host, '?');
    while (q) {
        const char *eq = strchr(q, '='), *end = eq ? eq + strcspn(eq, "&#") : NULL;
        if (!eq)
            break;
        redact_part(eq + 1, (size_t)(end - eq - 1));
        q = *end == '&' ? end : NULL;
    }
}

void kw_secret_free(char *secret)
{
    if (!secret)
        return;
    volatile char *p = secret;
    while (*p)
        *p++ = '\0';
    free(secret);
}
