/* log: leveled log lines on stderr. stderr is unbuffered, and each line is
 * written with one fprintf so lines from the outbox and dispatcher threads do not interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum kw_log_level min_level = KW_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void kw_log_set_level(enum kw_log_level level)
{
    min_level = level;
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

void kw_log(enum kw_log_level level, const char *component, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %-5s [%s] %s\n", stamp, now.tv_nsec / 1000000L,
            level_names[level], component, msg);
}
