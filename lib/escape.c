/* escape: printable copies of untrusted text. */
#include "escape.h"

#include <stdio.h>
#include <string.h>

char *kw_escape(char *dst, size_t cap, const char *src, size_t max_in)
{
    size_t used = 0, i = 0;
    for (; src[i] && i < max_in; i++) {
        unsigned char c = (unsigned char)src[i];
        char buf[5];
        if (c == '\n')
            snprintf(buf, sizeof buf, "\\n");
        else if (c == '\t')
            snprintf(buf, sizeof buf, "\\t");
        else if (c == '\\')
            snprintf(buf, sizeof buf, "\\\\");
        else if (c < 0x20 || c == 0x7f)
            snprintf(buf, sizeof buf, "\\x%02x", c);
        else
            snprintf(buf, sizeof buf, "%c", c);
        size_t n = strlen(buf);
        if (used + n + 4 > cap) /* room for "..." and the NUL */
            break;
        memcpy(dst + used, buf, n);
        used += n;
    }
    if (src[i] && used + 4 <= cap) {
        memcpy(dst + used, "...", 3);
        used += 3;
    }
    dst[used] = '\0';
    return dst;
}
