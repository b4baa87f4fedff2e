/* timeinterval: parsing and matching of named time intervals, with the
 * semantics of Alertmanager's time_intervals. */
#include "timeinterval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../lib/escape.h"
#include "../lib/xmalloc.h"

#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define MAX_INTERVALS 1000

static const char *const weekday_names[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday",
                                            "saturday", NULL};
static const char *const month_names[] = {"january", "february", "march", "april", "may", "june", "july",
                                          "august", "september", "october", "november", "december", NULL};

static int parse_periods(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
static void release_periods(void *field);
static int parse_times(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
static int parse_weekdays(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
static int parse_days_of_month(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
static int parse_months(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
static int parse_years(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
static void release_ranges(void *field);

const struct kw_option kw_time_interval_options[] = {
    {"name", KW_OPT_STRING, NULL, offsetof(struct kw_time_interval, name), KW_NORANGE,
     .desc = "The name routes use in mute_time_intervals and active_time_intervals."},
    {"time_intervals", KW_OPT_CUSTOM, "", offsetof(struct kw_time_interval, periods), KW_NORANGE,
     .parse = parse_periods, .release = release_periods, .type_name = "list of objects",
     .desc = "Periods (below); the interval holds when any of them does, never when there are none."},
    KW_OPT_END,
};

const struct kw_option kw_time_period_options[] = {
    {"times", KW_OPT_CUSTOM, "", offsetof(struct kw_time_period, times), KW_NORANGE,
     .parse = parse_times, .release = release_ranges, .type_name = "list of objects",
     .desc = "Times of day, [{\"start_time\": \"09:00\", \"end_time\": \"17:00\"}]: start inclusive, end exclusive "
             "(\"24:00\" is the end of the day)."},
    {"weekdays", KW_OPT_CUSTOM, "", offsetof(struct kw_time_period, weekdays), KW_NORANGE,
     .parse = parse_weekdays, .release = release_ranges, .type_name = "list of strings",
     .desc = "Days of the week by name, single or inclusive ranges: [\"monday:friday\", \"sunday\"]."},
    {"days_of_month", KW_OPT_CUSTOM, "", offsetof(struct kw_time_period, days_of_month), KW_NORANGE,
     .parse = parse_days_of_month, .release = release_ranges, .type_name = "list of strings",
     .desc = "Days of the month, inclusive ranges; negative days count from the end (-1 is the last): [\"1:5\", \"-3:-1\"]."},
    {"months", KW_OPT_CUSTOM, "", offsetof(struct kw_time_period, months), KW_NORANGE,
     .parse = parse_months, .release = release_ranges, .type_name = "list of strings",
     .desc = "Months by name or number, inclusive ranges: [\"january:march\", \"12\"]."},
    {"years", KW_OPT_CUSTOM, "", offsetof(struct kw_time_period, years), KW_NORANGE,
     .parse = parse_years, .release = release_ranges, .type_name = "list of strings",
     .desc = "Years, inclusive ranges: [\"2026:2027\"]."},
    {"location", KW_OPT_STRING, "", offsetof(struct kw_time_period, location), KW_NORANGE,
     .desc = "Time zone the other fields are read in: an IANA name from the system zone database (\"Europe/Berlin\"), "
             "\"UTC\" (the default) or \"Local\" (TZ, else /etc/localtime)."},
    KW_OPT_END,
};

struct time_range_options {
    char *start, *end;
};

const struct kw_option kw_time_range_options[] = {
    {"start_time", KW_OPT_STRING, NULL, offsetof(struct time_range_options, start), KW_NORANGE,
     .desc = "\"HH:MM\", the first minute in the range."},
    {"end_time", KW_OPT_STRING, NULL, offsetof(struct time_range_options, end), KW_NORANGE,
     .desc = "\"HH:MM\", the first minute after the range; \"24:00\" for midnight."},
    KW_OPT_END,
};

/* ---- ranges --------------------------------------------------------------- */

enum field { F_WEEKDAY, F_DAY, F_MONTH, F_YEAR };

/* A strict decimal integer, optionally negative. */
static int parse_int(const char *s, int *out)
{
    const char *p = s + (*s == '-');
    if (!*p || strlen(p) > 6)
        return -1;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return -1;
    *out = (int)strtol(s, NULL, 10);
    return 0;
}

static int name_index(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (strcasecmp(names[i], s) == 0)
            return i;
    return -1;
}

/* One end of a range. Returns 0, or -1 with the reason in why. */
static int member(enum field f, const char *s, int *out, char *why, size_t whylen)
{
    char shown[64];
    kw_escape(shown, sizeof shown, s, 40);
    int v;
    switch (f) {
    case F_WEEKDAY:
        if ((*out = name_index(weekday_names, s)) >= 0)
            return 0;
        snprintf(why, whylen, "unknown weekday \"%s\" (sunday to saturday)", shown);
        return -1;
    case F_MONTH:
        if ((v = name_index(month_names, s)) >= 0) {
            *out = v + 1;
            return 0;
        }
        if (parse_int(s, &v) == 0 && v >= 1 && v <= 12) {
            *out = v;
            return 0;
        }
        snprintf(why, whylen, "unknown month \"%s\" (january to december, or 1 to 12)", shown);
        return -1;
    case F_DAY:
        if (parse_int(s, &v) == 0 && v != 0 && v >= -31 && v <= 31) {
            *out = v;
            return 0;
        }
        snprintf(why, whylen, "\"%s\" is not a day of the month (1 to 31, or -31 to -1 from the end)", shown);
        return -1;
    case F_YEAR:
        if (parse_int(s, &v) == 0 && v >= 1 && v <= 9999) {
            *out = v;
            return 0;
        }
        snprintf(why, whylen, "\"%s\" is not a year", shown);
        return -1;
    }
    return -1;
}

/* "a" or "a:b" into r. Returns 0, or -1 with why. */
static int parse_range(enum field f, const char *s, struct kw_range *r, char *why, size_t whylen)
{
    char shown[64];
    kw_escape(shown, sizeof shown, s, 40);
    const char *colon = strchr(s, ':');
    if (!colon)
        return member(f, s, &r->begin, why, whylen) ? -1 : (r->end = r->begin, 0);
    if (strchr(colon + 1, ':')) {
        snprintf(why, whylen, "\"%s\" is neither a value nor a range \"START:END\"", shown);
        return -1;
    }
    char first[64];
    snprintf(first, sizeof first, "%.*s", (int)(colon - s), s);
    if (member(f, first, &r->begin, why, whylen) || member(f, colon + 1, &r->end, why, whylen))
        return -1;
    if (f == F_DAY) {
        /* Negative days depend on the month's length; refuse what is wrong in every month. */
        if (r->begin < 0 && r->end > 0) {
            snprintf(why, whylen, "\"%s\": a range starting from the end of the month must end there too", shown);
            return -1;
        }
        int b = r->begin < 0 ? 28 + r->begin : r->begin, e = r->end < 0 ? 28 + r->end : r->end;
        if (b > e) {
            snprintf(why, whylen, "\"%s\": the end is always before the start", shown);
            return -1;
        }
    } else if (r->begin > r->end) {
        snprintf(why, whylen, "\"%s\": the end is before the start", shown);
        return -1;
    }
    return 0;
}

static int parse_ranges(enum field f, const cJSON *node, struct kw_ranges *out, const char *path, char *err,
                        size_t errlen)
{
    if (!node)
        return 0;
    if (!cJSON_IsArray(node)) {
        snprintf(err, errlen, "%s: must be an array of strings", path);
        return -1;
    }
    out->r = xcalloc((size_t)cJSON_GetArraySize(node) + 1, sizeof *out->r);
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, node) {
        char p[KW_ERR_LEN], why[200];
        kw_path_index(p, sizeof p, path, i++);
        if (!cJSON_IsString(item)) {
            snprintf(err, errlen, "%s: must be a string", p);
            return -1;
        }
        if (parse_range(f, item->valuestring, &out->r[out->n], why, sizeof why)) {
            snprintf(err, errlen, "%s: %s", p, why);
            return -1;
        }
        out->n++;
    }
    return 0;
}

static int parse_weekdays(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    return parse_ranges(F_WEEKDAY, node, field, path, err, errlen);
}

static int parse_days_of_month(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    return parse_ranges(F_DAY, node, field, path, err, errlen);
}

static int parse_months(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    return parse_ranges(F_MONTH, node, field, path, err, errlen);
}

static int parse_years(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    return parse_ranges(F_YEAR, node, field, path, err, errlen);
}

static void release_ranges(void *field)
{
    struct kw_ranges *r = field;
    free(r->r);
    memset(r, 0, sizeof *r);
}

/* "HH:MM" (00:00 to 23:59, or 24:00) into minutes of the day. */
static int parse_clock(const char *s, int *out)
{
    if (strlen(s) != 5 || s[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return -1;
    *out = h * 60 + m;
    return 0;
}

static int parse_times(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    struct kw_ranges *out = field;
    if (!node)
        return 0;
    if (!cJSON_IsArray(node)) {
        snprintf(err, errlen, "%s: must be an array of {\"start_time\", \"end_time\"}", path);
        return -1;
    }
    out->r = xcalloc((size_t)cJSON_GetArraySize(node) + 1, sizeof *out->r);
    const struct kw_option *tables[] = {kw_time_range_options, NULL};
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, node) {
        char p[KW_ERR_LEN], kp[KW_ERR_LEN], shown[64];
        kw_path_index(p, sizeof p, path, i++);
        struct time_range_options o = {0};
        struct kw_range *r = &out->r[out->n];
        int rc = -1;
        if (!cJSON_IsObject(item)) {
            snprintf(err, errlen, "%s: must be an object {\"start_time\", \"end_time\"}", p);
        } else if (kw_opts_reject_unknown(item, tables, NULL, p, err, errlen) ||
                   kw_opts_fill(kw_time_range_options, item, &o, p, err, errlen)) {
            /* err is set */
        } else if (parse_clock(o.start, &r->begin)) {
            snprintf(err, errlen, "%s: \"%s\" is not a time HH:MM", kw_path_key(kp, sizeof kp, p, "start_time"),
                     kw_escape(shown, sizeof shown, o.start, 40));
        } else if (parse_clock(o.end, &r->end)) {
            snprintf(err, errlen, "%s: \"%s\" is not a time HH:MM", kw_path_key(kp, sizeof kp, p, "end_time"),
                     kw_escape(shown, sizeof shown, o.end, 40));
        } else if (r->begin >= r->end) {
            snprintf(err, errlen, "%s: must be after start_time", kw_path_key(kp, sizeof kp, p, "end_time"));
        } else {
            rc = 0;
            out->n++;
        }
        kw_opts_release(kw_time_range_options, &o);
        if (rc)
            return -1;
    }
    return 0;
}

/* ---- zones ---------------------------------------------------------------- */

/* A zone name from the database: no absolute path, no "..". */
static bool zone_name_ok(const char *name)
{
    if (!*name || *name == '/' || strstr(name, ".."))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '/' ||
              *p == '_' || *p == '-' || *p == '+'))
            return false;
    return true;
}

static int load_zone(struct kw_tzif *zone, const char *location, const char *path, char *err, size_t errlen)
{
    char file[512], why[KW_ERR_LEN], shown[96];
    const char *dir = getenv("TZDIR") && *getenv("TZDIR") ? getenv("TZDIR") : ZONEINFO_DIR;
    if (!location || !*location || strcmp(location, "UTC") == 0) {
        kw_tzif_utc(zone);
        return 0;
    }
    kw_escape(shown, sizeof shown, location, 60);
    if (strcmp(location, "Local") == 0) {
        /* as the C library does: TZ names the zone, unset means /etc/localtime, empty means UTC */
        const char *tz = getenv("TZ");
        if (tz && *tz == ':')
            tz++;
        if (tz && !*tz) {
            kw_tzif_utc(zone);
            return 0;
        }
        if (!tz)
            snprintf(file, sizeof file, "/etc/localtime");
        else if (*tz == '/')
            snprintf(file, sizeof file, "%s", tz);
        else if (zone_name_ok(tz))
            snprintf(file, sizeof file, "%s/%s", dir, tz);
        else if (kw_tz_rule_parse(&zone->rule, tz) == 0) { /* a POSIX rule such as "CET-1CEST,M3.5.0,M10.5.0/3" */
            zone->has_rule = true;
            return 0;
        } else {
            snprintf(err, errlen, "%s: TZ=\"%.60s\" is neither a zone nor a POSIX TZ rule", path, tz);
            return -1;
        }
    } else if (zone_name_ok(location)) {
        snprintf(file, sizeof file, "%s/%s", dir, location);
    } else {
        snprintf(err, errlen, "%s: \"%s\" is not a time zone name (like \"Europe/Berlin\")", path, shown);
        return -1;
    }
    if (kw_tzif_load(zone, file, why, sizeof why)) {
        snprintf(err, errlen, "%s: unknown time zone \"%s\" (%s)", path, shown, why);
        return -1;
    }
    return 0;
}

/* ---- periods and named intervals ----------------------------------------- */

static int parse_periods(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    struct kw_time_periods *ps = field;
    if (!node)
        return 0;
    if (!cJSON_IsArray(node)) {
        snprintf(err, errlen, "%s: must be an array of objects", path);
        return -1;
    }
    ps->items = xcalloc((size_t)cJSON_GetArraySize(node) + 1, sizeof *ps->items);
    const struct kw_option *tables[] = {kw_time_period_options, NULL};
    const cJSON *item;
    cJSON_ArrayForEach(item, node) {
        char p[KW_ERR_LEN], lp[KW_ERR_LEN];
        kw_path_index(p, sizeof p, path, ps->n);
        struct kw_time_period *tp = &ps->items[ps->n++];
        if (!cJSON_IsObject(item)) {
            snprintf(err, errlen, "%s: must be an object", p);
            return -1;
        }
        if (kw_opts_reject_unknown(item, tables, NULL, p, err, errlen) ||
            kw_opts_fill(kw_time_period_options, item, tp, p, err, errlen) ||
            load_zone(&tp->zone, tp->location, kw_path_key(lp, sizeof lp, p, "location"), err, errlen))
            return -1;
    }
    return 0;
}

static void release_periods(void *field)
{
    struct kw_time_periods *ps = field;
    for (int i = 0; i < ps->n; i++) {
        kw_opts_release(kw_time_period_options, &ps->items[i]);
        kw_tzif_release(&ps->items[i].zone);
    }
    free(ps->items);
    memset(ps, 0, sizeof *ps);
}

int kw_time_intervals_parse(struct kw_time_intervals *ti, const cJSON *node, const char *path, char *err,
                            size_t errlen)
{
    memset(ti, 0, sizeof *ti);
    if (!node || cJSON_IsNull(node))
        return 0;
    if (!cJSON_IsArray(node)) {
        snprintf(err, errlen, "%s: must be an array of named time intervals", path);
        return -1;
    }
    int n = cJSON_GetArraySize(node);
    if (n > MAX_INTERVALS) {
        snprintf(err, errlen, "%s: at most %d time intervals", path, MAX_INTERVALS);
        return -1;
    }
    ti->items = xcalloc((size_t)n + 1, sizeof *ti->items);
    const struct kw_option *tables[] = {kw_time_interval_options, NULL};
    const cJSON *item;
    cJSON_ArrayForEach(item, node) {
        char p[KW_ERR_LEN], shown[96];
        kw_path_index(p, sizeof p, path, ti->n);
        struct kw_time_interval *iv = &ti->items[ti->n++];
        if (!cJSON_IsObject(item)) {
            snprintf(err, errlen, "%s: must be an object", p);
            return -1;
        }
        if (kw_opts_reject_unknown(item, tables, NULL, p, err, errlen) ||
            kw_opts_fill(kw_time_interval_options, item, iv, p, err, errlen))
            return -1;
        int dup = kw_time_intervals_find(ti, iv->name);
        if (dup < ti->n - 1) {
            snprintf(err, errlen, "%s.name: \"%s\" is already used by %s[%d]", p,
                     kw_escape(shown, sizeof shown, iv->name, 60), path, dup);
            return -1;
        }
    }
    return 0;
}

void kw_time_intervals_release(struct kw_time_intervals *ti)
{
    for (int i = 0; i < ti->n; i++)
        kw_opts_release(kw_time_interval_options, &ti->items[i]);
    free(ti->items);
    memset(ti, 0, sizeof *ti);
}

int kw_time_intervals_find(const struct kw_time_intervals *ti, const char *name)
{
    for (int i = 0; i < ti->n; i++)
        if (ti->items[i].name && strcmp(ti->items[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- matching ------------------------------------------------------------- */

static bool in_ranges(const struct kw_ranges *rs, int v)
{
    if (rs->n == 0)
        return true;
    for (int i = 0; i < rs->n; i++)
        if (v >= rs->r[i].begin && v <= rs->r[i].end)
            return true;
    return false;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* Negative days count back from the month's last day; a range is cut at
 * the month's end, and one starting after it is skipped. */
static bool day_matches(const struct kw_ranges *rs, int day, int ndays)
{
    if (rs->n == 0)
        return true;
    for (int i = 0; i < rs->n; i++) {
        int b = rs->r[i].begin < 0 ? ndays + rs->r[i].begin + 1 : rs->r[i].begin;
        int e = rs->r[i].end < 0 ? ndays + rs->r[i].end + 1 : rs->r[i].end;
        if (b > ndays)
            continue;
        if (e > ndays)
            e = ndays;
        if (day >= b && day <= e)
            return true;
    }
    return false;
}

static bool period_contains(const struct kw_time_period *tp, int64_t ms)
{
    int64_t t = ms / 1000 - (ms % 1000 < 0);
    time_t local = (time_t)(t + kw_tzif_offset(&tp->zone, t));
    struct tm tm;
    if (!gmtime_r(&local, &tm))
        return false;
    int minute = tm.tm_hour * 60 + tm.tm_min, year = tm.tm_year + 1900, month = tm.tm_mon + 1;
    if (tp->times.n > 0) {
        bool in = false;
        for (int i = 0; i < tp->times.n && !in; i++)
            in = minute >= tp->times.r[i].begin && minute < tp->times.r[i].end; /* end exclusive */
        if (!in)
            return false;
    }
    return day_matches(&tp->days_of_month, tm.tm_mday, days_in_month(year, month)) &&
           in_ranges(&tp->months, month) && in_ranges(&tp->weekdays, tm.tm_wday) && in_ranges(&tp->years, year);
}

bool kw_time_interval_contains(const struct kw_time_interval *iv, int64_t ms)
{
    for (int i = 0; i < iv->periods.n; i++)
        if (period_contains(&iv->periods.items[i], ms))
            return true;
    return false;
}
