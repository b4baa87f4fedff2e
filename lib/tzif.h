/* tzif: a time zone read from a TZif file of the system zone database
 * (RFC 8536), for turning UTC instants into local wall-clock time without
 * TZ, tzset or localtime_r. A loaded zone is an immutable table of
 * transitions with the UTC offset that starts at each, plus the file's
 * footer rule (a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3") for
 * instants after the last transition; a lookup is a binary search, so any
 * number of zones can be read from any number of threads at once. */
#ifndef KW_TZIF_H
#define KW_TZIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where in a year a POSIX TZ rule switches ("M3.2.0/2", "J60", "59/3"). */
struct kw_tz_rule_date {
    char kind;      /* 'J': day 1..365 with no 29 February; 'D': day 0..365 counting it; 'M': month.week.weekday */
    int day;        /* 'J', 'D' */
    int month, week, weekday; /* 'M': week 1..5 (5 = last), weekday 0 = Sunday */
    int32_t secs;   /* local time of day of the switch, -167h..167h */
};

/* A POSIX TZ rule. Offsets are seconds east of UTC (the string's are west). */
struct kw_tz_rule {
    int32_t std_offset;
    bool has_dst;
    int32_t dst_offset;
    struct kw_tz_rule_date start, end; /* into and out of daylight time */
};

struct kw_tzif {
    int64_t *at;          /* transition instants, UTC seconds, ascending; n of them */
    int32_t *offset;      /* offset[i]: UTC offset from at[i] on */
    int n;
    int32_t first_offset; /* before at[0] (the file's time type 0) */
    bool has_rule;        /* the footer: after at[n-1], or always when n == 0 */
    struct kw_tz_rule rule;
};

/* Parse a TZif file (version 1 to 4; the 64-bit data of version 2 and
 * later is used) from data[0..len). Files with leap-second records
 * ("right/" zones) are refused. Returns 0, or -1 with err; on error tz
 * needs no release. */
int kw_tzif_parse(struct kw_tzif *tz, const unsigned char *data, size_t len, char *err, size_t errlen);
/* Read and parse the file at path. Returns 0 or -1 with err ("PATH: reason"). */
int kw_tzif_load(struct kw_tzif *tz, const char *path, char *err, size_t errlen);
/* UTC itself: offset 0 always. Never fails. */
void kw_tzif_utc(struct kw_tzif *tz);
/* Free tz's contents. Safe on a zeroed struct. */
void kw_tzif_release(struct kw_tzif *tz);

/* The UTC offset (seconds east) in effect at UTC instant t (epoch seconds). */
int32_t kw_tzif_offset(const struct kw_tzif *tz, int64_t t);

/* Parse a POSIX TZ string (the TZif footer form, RFC 8536 section 3.3:
 * hours up to 167, "<+03>-3" quoted names). Returns 0 or -1. */
int kw_tz_rule_parse(struct kw_tz_rule *rule, const char *text);
/* The UTC offset rule gives at UTC instant t. */
int32_t kw_tz_rule_offset(const struct kw_tz_rule *rule, int64_t t);

#endif
