/* strbuf: growable text with HTML, Prometheus and URL escapes. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

void kw_strbuf_init(struct kw_strbuf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void kw_strbuf_release(struct kw_strbuf *b)
{
    free(b->data);
    kw_strbuf_init(b);
}

char *kw_strbuf_detach(struct kw_strbuf *b, size_t *len)
{
    char *d = b->data ? b->data : xstrdup("");
    if (len)
        *len = b->len;
    kw_strbuf_init(b);
    return d;
}

static void reserve(struct kw_strbuf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void kw_strbuf_append(struct kw_strbuf *b, const char *s, size_t n)
{
    reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void kw_strbuf_puts(struct kw_strbuf *b, const char *s)
{
    kw_strbuf_append(b, s, strlen(s));
}

void kw_strbuf_printf(struct kw_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void kw_strbuf_html(struct kw_strbuf *b, const char *s)
{
    const char *run = s;
    for (const char *p = s;; p++) {
        const char *ent = NULL;
        switch (*p) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        case '\0': break;
        default: continue;
        }
        kw_strbuf_append(b, run, (size_t)(p - run));
        if (!ent)
            return;
        kw_strbuf_puts(b, ent);
        run = p + 1;
    }
}

void kw_strbuf_prom_label(struct kw_strbuf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            kw_strbuf_puts(b, "\\\\");
        else if (*p == '"')
            kw_strbuf_puts(b, "\\\"");
        else if (*p == '\n')
            kw_strbuf_puts(b, "\\n");
        else
            kw_strbuf_append(b, p, 1);
    }
}

void kw_strbuf_url(struct kw_strbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.' || *p == '~') {
            kw_strbuf_append(b, (const char *)p, 1);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            kw_strbuf_append(b, enc, 3);
        }
    }
}
