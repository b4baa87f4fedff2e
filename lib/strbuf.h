/* strbuf: a growable text buffer for the responses the HTTP listener renders
 * (Prometheus text, HTML, SVG), with the escapes those formats need. Appends
 * never fail (they abort on out-of-memory like xmalloc). */
#ifndef KW_STRBUF_H
#define KW_STRBUF_H

#include <stddef.h>

struct kw_strbuf {
    char *data; /* always NUL-terminated once anything was appended */
    size_t len, cap;
};

/* An empty buffer. Never fails. */
void kw_strbuf_init(struct kw_strbuf *b);
/* Free the contents; b is empty again. Safe on a zeroed buffer. */
void kw_strbuf_release(struct kw_strbuf *b);
/* Hand the text over (the caller frees it; never NULL) and leave b empty. */
char *kw_strbuf_detach(struct kw_strbuf *b, size_t *len);

void kw_strbuf_append(struct kw_strbuf *b, const char *s, size_t n);
void kw_strbuf_puts(struct kw_strbuf *b, const char *s);
void kw_strbuf_printf(struct kw_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with & < > " ' written as entities: safe in HTML text and quoted attributes. */
void kw_strbuf_html(struct kw_strbuf *b, const char *s);
/* s as a Prometheus label value: backslash, double quote and newline escaped. */
void kw_strbuf_prom_label(struct kw_strbuf *b, const char *s);
/* s percent-encoded for a URL query value (unreserved characters kept). */
void kw_strbuf_url(struct kw_strbuf *b, const char *s);

#endif
