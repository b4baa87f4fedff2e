/* utf8: stepping through UTF-8 text one character at a time, so notifiers
 * can shorten text to a service's limit without cutting a character. */
#ifndef KW_UTF8_H
#define KW_UTF8_H

#include <stddef.h>

/* Length in bytes (1-4) of the well-formed UTF-8 sequence at s, or 0 when
 * it is malformed (overlong, a surrogate, beyond U+10FFFF, cut short). s
 * must be NUL-terminated. Never fails. */
size_t kw_utf8_seq(const unsigned char *s);

#endif
