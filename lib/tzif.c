/* tzif: TZif files (RFC 8536) and POSIX TZ rules, read into immutable
 * tables; civil dates by Howard Hinnant's days-from-civil algorithm. */
#include "tzif.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define TZIF_MAX_BYTES (1 << 20) /* the largest real zone file is about 4 KB */
#define TZIF_HEADER 44

/* ---- civil dates ------------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The year that day number days (since 1970-01-01) falls in. */
static int64_t year_of_days(int64_t days)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10); /* March-based year: January and February belong to the next */
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* ---- POSIX TZ rules ---------------------------------------------------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A zone abbreviation: three or more letters, or <...> of letters, digits, + and -. */
static const char *parse_name(const char *p)
{
    const char *start = p;
    if (*p == '<') {
        for (start = ++p; is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-'; p++)
            ;
        return *p == '>' && p - start >= 3 ? p + 1 : NULL;
    }
    while (is_alpha(*p))
        p++;
    return p - start >= 3 ? p : NULL;
}

static const char *parse_number(const char *p, int max, int *out)
{
    if (!is_digit(*p))
        return NULL;
    int v = 0;
    while (is_digit(*p)) {
        v = v * 10 + (*p++ - '0');
        if (v > max)
            return NULL;
    }
    *out = v;
    return p;
}

/* [+-]hh[:mm[:ss]] with hours up to max_hours, into seconds. */
static const char *parse_hms(const char *p, int max_hours, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!(p = parse_number(p, max_hours, &h)))
        return NULL;
    if (*p == ':' && (!(p = parse_number(p + 1, 59, &m)) || (*p == ':' && !(p = parse_number(p + 1, 59, &s)))))
        return NULL;
    *out = sign * (h * 3600 + m * 60 + s);
    return p;
}

static const char *parse_rule_date(const char *p, struct kw_tz_rule_date *d)
{
    memset(d, 0, sizeof *d);
    if (*p == 'J') {
        d->kind = 'J';
        if (!(p = parse_number(p + 1, 365, &d->day)) || d->day < 1)
            return NULL;
    } else if (*p == 'M') {
        d->kind = 'M';
        if (!(p = parse_number(p + 1, 12, &d->month)) || d->month < 1 || *p != '.' ||
            !(p = parse_number(p + 1, 5, &d->week)) || d->week < 1 || *p != '.' ||
            !(p = parse_number(p + 1, 6, &d->weekday)))
            return NULL;
    } else {
        d->kind = 'D';
        if (!(p = parse_number(p, 365, &d->day)))
            return NULL;
    }
    d->secs = 7200; /* 02:00 unless given */
    if (*p == '/' && !(p = parse_hms(p + 1, 167, &d->secs)))
        return NULL;
    return p;
}

int kw_tz_rule_parse(struct kw_tz_rule *rule, const char *text)
{
    memset(rule, 0, sizeof *rule);
    const char *p = parse_name(text);
    int32_t west;
    if (!p || !(p = parse_hms(p, 24, &west)))
        return -1;
    rule->std_offset = -west;
    if (!*p)
        return 0;
    if (!(p = parse_name(p)))
        return -1;
    rule->has_dst = true;
    rule->dst_offset = rule->std_offset + 3600;
    if ((is_digit(*p) || *p == '+' || *p == '-')) {
        if (!(p = parse_hms(p, 24, &west)))
            return -1;
        rule->dst_offset = -west;
    }
    if (!*p) /* no rule: the US one, as the reference implementation assumes */
        p = ",M3.2.0,M11.1.0";
    if (*p != ',' || !(p = parse_rule_date(p + 1, &rule->start)) || *p != ',' ||
        !(p = parse_rule_date(p + 1, &rule->end)) || *p)
        return -1;
    return 0;
}

/* The local time (seconds since the epoch, as if local were UTC) at which
 * d happens in year y. */
static int64_t rule_local(const struct kw_tz_rule_date *d, int64_t y)
{
    int64_t day;
    if (d->kind == 'J') {
        day = days_from_civil(y, 1, 1) + d->day - 1 + (is_leap(y) && d->day >= 60);
    } else if (d->kind == 'D') {
        day = days_from_civil(y, 1, 1) + d->day;
    } else {
        int64_t first = days_from_civil(y, d->month, 1);
        int wday = (int)((first % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        int mday = (d->weekday - wday + 7) % 7 + (d->week - 1) * 7;
        while (mday >= month_days(y, d->month))
            mday -= 7; /* week 5: the last such weekday */
        day = first + mday;
    }
    return day * 86400 + d->secs;
}

int32_t kw_tz_rule_offset(const struct kw_tz_rule *rule, int64_t t)
{
    if (!rule->has_dst)
        return rule->std_offset;
    int64_t y = year_of_days(floor_div(t + rule->std_offset, 86400));
    /* the start is given in standard time, the end in daylight time */
    int64_t start = rule_local(&rule->start, y) - rule->std_offset;
    int64_t end = rule_local(&rule->end, y) - rule->dst_offset;
    bool dst = start <= end ? t >= start && t < end          /* northern: daylight inside the year */
                            : !(t >= end && t < start);       /* southern: daylight across the new year */
    return dst ? rule->dst_offset : rule->std_offset;
}

/* ---- TZif files --------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct header {
    char version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_header(const unsigned char *p, size_t len, struct header *h)
{
    if (len < TZIF_HEADER || memcmp(p, "TZif", 4) != 0)
        return -1;
    h->version = (char)p[4];
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    return 0;
}

/* Bytes of the data block after a header, with timesize-byte times. */
static size_t block_size(const struct header *h, size_t timesize)
{
    return (size_t)h->timecnt * timesize + h->timecnt + (size_t)h->typecnt * 6 + h->charcnt +
           (size_t)h->leapcnt * (timesize + 4) + h->isstdcnt + h->isutcnt;
}

static int fail(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -1;
}

int kw_tzif_parse(struct kw_tzif *tz, const unsigned char *data, size_t len, char *err, size_t errlen)
{
    memset(tz, 0, sizeof *tz);
    struct header h;
    if (read_header(data, len, &h))
        return fail(err, errlen, "not a TZif file");
    /* counts are bounded first, so the sizes below cannot overflow */
    if (h.timecnt > 1000000 || h.typecnt > 256 || h.charcnt > 65536 || h.leapcnt > 10000 ||
        h.isutcnt > 256 || h.isstdcnt > 256)
        return fail(err, errlen, "TZif counts out of range");
    size_t timesize = 4, off = TZIF_HEADER;
    if (h.version >= '2') {
        /* skip the 32-bit data to the 64-bit header and data */
        off += block_size(&h, 4);
        if (off > len || read_header(data + off, len - off, &h))
            return fail(err, errlen, "truncated TZif file");
        if (h.timecnt > 1000000 || h.typecnt > 256 || h.charcnt > 65536 || h.leapcnt > 10000 ||
            h.isutcnt > 256 || h.isstdcnt > 256)
            return fail(err, errlen, "TZif counts out of range");
        off += TZIF_HEADER;
        timesize = 8;
    }
    if (h.typecnt == 0 || (h.isstdcnt && h.isstdcnt != h.typecnt) || (h.isutcnt && h.isutcnt != h.typecnt))
        return fail(err, errlen, "inconsistent TZif counts");
    if (h.leapcnt > 0)
        return fail(err, errlen, "zones with leap seconds (right/) are not supported");
    if (block_size(&h, timesize) > len - off)
        return fail(err, errlen, "truncated TZif file");
    const unsigned char *times = data + off, *idx = times + (size_t)h.timecnt * timesize;
    const unsigned char *types = idx + h.timecnt;
    int32_t utoff[256];
    for (uint32_t i = 0; i < h.typecnt; i++) {
        utoff[i] = (int32_t)be32(types + 6 * i);
        if (utoff[i] == INT32_MIN || utoff[i] < -25 * 3600 || utoff[i] > 26 * 3600)
            return fail(err, errlen, "TZif offset out of range");
    }
    tz->at = xcalloc((size_t)h.timecnt + 1, sizeof *tz->at);
    tz->offset = xcalloc((size_t)h.timecnt + 1, sizeof *tz->offset);
    for (uint32_t i = 0; i < h.timecnt; i++) {
        tz->at[i] = timesize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
        if (idx[i] >= h.typecnt || (i > 0 && tz->at[i] <= tz->at[i - 1])) {
            kw_tzif_release(tz);
            return fail(err, errlen, "bad TZif transition");
        }
        tz->offset[i] = utoff[idx[i]];
    }
    tz->n = (int)h.timecnt;
    tz->first_offset = utoff[0];
    if (timesize == 8) {
        /* the footer: "\nTZ string\n" */
        const char *foot = (const char *)data + off + block_size(&h, 8);
        size_t left = len - off - block_size(&h, 8);
        const char *nl = left > 1 && foot[0] == '\n' ? memchr(foot + 1, '\n', left - 1) : NULL;
        if (!nl) {
            kw_tzif_release(tz);
            return fail(err, errlen, "TZif footer missing");
        }
        char rule[128];
        size_t rlen = (size_t)(nl - foot - 1);
        if (rlen >= sizeof rule) {
            kw_tzif_release(tz);
            return fail(err, errlen, "TZif footer too long");
        }
        memcpy(rule, foot + 1, rlen);
        rule[rlen] = '\0';
        if (rlen > 0) {
            if (kw_tz_rule_parse(&tz->rule, rule)) {
                kw_tzif_release(tz);
                snprintf(err, errlen, "bad TZif footer rule \"%s\"", rule);
                return -1;
            }
            tz->has_rule = true;
        }
    }
    return 0;
}

int kw_tzif_load(struct kw_tzif *tz, const char *path, char *err, size_t errlen)
{
    memset(tz, 0, sizeof *tz);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    unsigned char *data = xmalloc(TZIF_MAX_BYTES);
    size_t len = fread(data, 1, TZIF_MAX_BYTES, f);
    bool too_big = len == TZIF_MAX_BYTES;
    fclose(f);
    char why[200];
    int rc = too_big ? (snprintf(why, sizeof why, "larger than %d bytes", TZIF_MAX_BYTES), -1)
                     : kw_tzif_parse(tz, data, len, why, sizeof why);
    free(data);
    if (rc)
        snprintf(err, errlen, "%s: %s", path, why);
    return rc;
}

void kw_tzif_utc(struct kw_tzif *tz)
{
    memset(tz, 0, sizeof *tz);
}

void kw_tzif_release(struct kw_tzif *tz)
{
    free(tz->at);
    free(tz->offset);
    memset(tz, 0, sizeof *tz);
}

int32_t kw_tzif_offset(const struct kw_tzif *tz, int64_t t)
{
    if (tz->n == 0)
        return tz->has_rule ? kw_tz_rule_offset(&tz->rule, t) : tz->first_offset;
    if (t < tz->at[0])
        return tz->first_offset;
    if (t > tz->at[tz->n - 1] && tz->has_rule)
        return kw_tz_rule_offset(&tz->rule, t);
    int lo = 0, hi = tz->n - 1; /* the last transition at or before t */
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return tz->offset[lo];
}
