/* xmalloc: allocation wrappers that abort on out-of-memory.
 * A daemon cannot do anything useful after malloc fails, so callers never
 * check for NULL; this keeps thousands of untestable branches out of the code. */
#ifndef KW_XMALLOC_H
#define KW_XMALLOC_H

#include <stddef.h>

/* Allocate size bytes; never returns NULL (aborts instead). */
void *xmalloc(size_t size);
/* Allocate zeroed n*size bytes; never returns NULL; aborts on overflow. */
void *xcalloc(size_t n, size_t size);
/* Resize ptr (may be NULL); never returns NULL. */
void *xrealloc(void *ptr, size_t size);
/* Duplicate a NUL-terminated string; s must not be NULL. */
char *xstrdup(const char *s);
/* Duplicate the first n bytes of s and terminate them. */
char *xstrndup(const char *s, size_t n);

#endif
