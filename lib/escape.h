/* escape: untrusted text made safe to print. Names and values that came
 * from the network or a config file are quoted through this before they
 * reach a log line or a text receiver, so a newline or an escape sequence
 * in them cannot forge a line or recolour a terminal. */
#ifndef KW_ESCAPE_H
#define KW_ESCAPE_H

#include <stddef.h>

/* Copy src into dst (capacity cap > 0) with control bytes, DEL and
 * backslash written as \n, \t, \\ or \xHH, keeping at most max_in source
 * bytes (then "..." is appended). Always NUL-terminates; returns dst. */
char *kw_escape(char *dst, size_t cap, const char *src, size_t max_in);

#endif
