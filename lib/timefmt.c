/* timefmt: timestamps in and out. Parsing is strict: a string either is a
 * complete timestamp or is rejected. */
#include "timefmt.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int parse_time(const char *text, bool require_zone, int64_t *out_ms)
{
    const char *p = text;
    int year, mon, day, hour, min, sec;
    if (digits(&p, 4, &year) || *p++ != '-' || digits(&p, 2, &mon) || *p++ != '-' ||
        digits(&p, 2, &day))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (digits(&p, 2, &hour) || *p++ != ':' || digits(&p, 2, &min) || *p++ != ':' ||
        digits(&p, 2, &sec))
        return -1;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || year < 1970 ||
        year > 2096) /* the same range as numeric timestamps */
        return -1;
    double frac = 0;
    if (*p == '.') {
        p++;
        double scale = 0.1;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p)) {
            frac += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset_min = sign * (oh * 60 + om);
    } else if (require_zone) {
        return -1;
    }
    if (*p != '\0')
        return -1;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                    .tm_hour = hour, .tm_min = min, .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    /* timegm normalises 31 Feb into March; reject such dates. */
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_mday != day && sec != 60)
        return -1;
    int64_t ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + (int64_t)llround(frac * 1000.0);
    /* A zone offset near 1970, or a date late in 2096, leaves the range of
     * numeric timestamps, which the state store holds series to. */
    if (ms < 0 || ms > 4000000000000LL)
        return -1;
    *out_ms = ms;
    return 0;
}

int kw_time_parse(const char *text, int64_t *out_ms)
{
    return parse_time(text, false, out_ms);
}

int kw_time_parse_zoned(const char *text, int64_t *out_ms)
{
    return parse_time(text, true, out_ms);
}

int kw_time_from_number(double v, int64_t *out_ms)
{
    if (!isfinite(v) || v < 0)
        return -1;
    if (v < 1e11)
        v *= 1000.0; /* epoch seconds: 1e11 s is the year 5138 */
    if (v > 4.0e12)  /* beyond the year 2096: not a real timestamp */
        return -1;
    *out_ms = (int64_t)llround(v);
    return 0;
}

const char *kw_time_format(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int rem = (int)(ms - (int64_t)t * 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rem)
        snprintf(buf, len, "%s.%03dZ", base, rem);
    else
        snprintf(buf, len, "%sZ", base);
    return buf;
}

const char *kw_time_format_plain(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

int64_t kw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kw_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
