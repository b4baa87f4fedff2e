/* log: leveled log lines on stderr. stderr is unbuffered, and each line is
 * written with one fprintf so lines from other threads do not interleave.
 * Registered secrets are cut out of the message before it is printed. */
#include "log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xmalloc.h"

#define MAX_SECRETS 256
#define REDACTED "[redacted]"

static enum kw_log_level min_level = KW_LOG_INFO;
static enum kw_log_format line_format = KW_LOG_TEXT;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char *secrets[MAX_SECRETS];
static int nsecrets, next_secret;

void kw_log_set_level(enum kw_log_level level)
{
    min_level = level;
}

void kw_log_set_format(enum kw_log_format format)
{
    line_format = format;
}

int kw_log_level_parse(const char *name, enum kw_log_level *out)
{
    for (int i = 0; i <= KW_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum kw_log_level)i;
            return 0;
        }
    }
    return -1;
}

void kw_log_redact(const char *secret)
{
    if (!secret || strlen(secret) < 6)
        return;
    pthread_mutex_lock(&secrets_lock);
    for (int i = 0; i < nsecrets; i++) {
        if (strcmp(secrets[i], secret) == 0) {
            pthread_mutex_unlock(&secrets_lock);
            return;
        }
    }
    char *copy = strdup(secret);
    if (copy) {
        free(secrets[next_secret]);
        secrets[next_secret] = copy;
        next_secret = (next_secret + 1) % MAX_SECRETS;
        if (nsecrets < MAX_SECRETS)
            nsecrets++;
    }
    pthread_mutex_unlock(&secrets_lock);
}

/* Replace every registered secret in msg (NUL-terminated, capacity cap). */
static void cut_secrets(char *msg, size_t cap)
{
    pthread_mutex_lock(&secrets_lock);
    for (int i = 0; i < nsecrets; i++) {
        size_t slen = strlen(secrets[i]), rlen = strlen(REDACTED);
        for (char *at = strstr(msg, secrets[i]); at; at = strstr(at + rlen, secrets[i])) {
            if ((size_t)(at - msg) + rlen + 1 > cap) { /* no room for the marker: cut the line here */
                *at = '\0';
                break;
            }
            size_t tail = strlen(at + slen);
            if ((size_t)(at - msg) + rlen + tail + 1 > cap)
                tail = cap - (size_t)(at - msg) - rlen - 1;
            memmove(at + rlen, at + slen, tail);
            at[rlen + tail] = '\0';
            memcpy(at, REDACTED, rlen);
        }
    }
    pthread_mutex_unlock(&secrets_lock);
}

char *kw_log_redact_text(const char *text)
{
    /* A secret is at least 6 bytes, its marker 10: twice the text always has room. */
    size_t cap = 2 * strlen(text) + sizeof REDACTED;
    char *copy = xmalloc(cap);
    memcpy(copy, text, strlen(text) + 1);
    cut_secrets(copy, cap);
    return copy;
}

/* "scheme://user:password@host" becomes "scheme://[redacted]@host". */
static void cut_userinfo(char *msg, size_t cap)
{
    for (char *p = strstr(msg, "://"); p; p = strstr(p + 3, "://")) {
        char *start = p + 3, *q = start;
        while (*q && *q != '@' && *q != '/' && *q != ' ' && *q != '"' && *q != '?' && *q != '#')
            q++;
        if (*q != '@' || q == start || !memchr(start, ':', (size_t)(q - start)))
            continue;
        size_t rlen = strlen(REDACTED), tail = strlen(q);
        if ((size_t)(start - msg) + rlen + tail + 1 > cap)
            continue;
        memmove(start + rlen, q, tail + 1);
        memcpy(start, REDACTED, rlen);
    }
}

/* msg as a logfmt value: quoted, with quotes, backslashes and controls escaped. */
static void logfmt_quote(const char *msg, char *out, size_t cap)
{
    size_t n = 0;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)msg; *p && n + 6 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else if (*p < 0x20 || *p == 0x7f) {
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
}

void kw_log(enum kw_log_level level, const char *component, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cut_secrets(msg, sizeof msg);
    cut_userinfo(msg, sizeof msg);

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    if (line_format == KW_LOG_LOGFMT) {
        char quoted[sizeof msg * 4 + 8];
        logfmt_quote(msg, quoted, sizeof quoted);
        /* Component names are [a-z/_-] plus receiver names, which may hold anything: quote when needed. */
        char comp[256];
        bool plain = component[0] != '\0';
        for (const char *c = component; *c && plain; c++)
            plain = *c > ' ' && *c != '"' && *c != '=' && *c != '\\' && (unsigned char)*c < 0x7f;
        if (plain)
            snprintf(comp, sizeof comp, "%s", component);
        else
            logfmt_quote(component, comp, sizeof comp);
        fprintf(stderr, "ts=%s.%03ldZ level=%s component=%s msg=%s\n", stamp, now.tv_nsec / 1000000L,
                level_names[level], comp, quoted);
    } else {
        fprintf(stderr, "%s.%03ldZ %-5s [%s] %s\n", stamp, now.tv_nsec / 1000000L, level_names[level], component,
                msg);
    }
}
