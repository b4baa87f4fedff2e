/* timeinterval: named recurring windows of time, as Alertmanager's
 * time_intervals, for muting routes (route mute_time_intervals) or keeping
 * them active only then (active_time_intervals). A named interval is a list
 * of periods and holds at an instant when any of its periods does; a period
 * holds when every field it sets does:
 *   times          [{"start_time": "09:00", "end_time": "17:00"}]  start inclusive, end exclusive, "24:00" allowed
 *   weekdays       ["monday:friday", "sunday"]                     names only
 *   days_of_month  ["1:5", "-1"]                                   -1 is the last day of the month
 *   months         ["january:march", "12"]                         names or numbers
 *   years          ["2026:2027"]
 *   location       "Europe/Berlin"                                 IANA zone, "UTC" (default) or "Local"
 * Ranges are inclusive; a field left out or empty matches everything. Each
 * period's zone is read from the system zone database when the config is
 * loaded (lib/tzif.h), so a lookup never touches TZ and is safe on any
 * thread. A parsed set is immutable. */
#ifndef KW_TIMEINTERVAL_H
#define KW_TIMEINTERVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../lib/opts.h"
#include "../lib/tzif.h"

/* An inclusive range; for times, minutes of the day [begin, end). */
struct kw_range {
    int begin, end;
};

struct kw_ranges {
    struct kw_range *r;
    int n;
};

/* One entry of a named interval's "time_intervals". */
struct kw_time_period {
    struct kw_ranges times, weekdays, days_of_month, months, years;
    char *location;           /* as written; NULL = UTC */
    struct kw_tzif zone;
};

struct kw_time_periods {
    struct kw_time_period *items;
    int n;
};

struct kw_time_interval {
    char *name;
    struct kw_time_periods periods; /* none: the interval never holds */
};

struct kw_time_intervals {
    struct kw_time_interval *items;
    int n;
};

/* Option tables (for the reference): a named interval, one of its periods,
 * and a period's times[] entry. */
extern const struct kw_option kw_time_interval_options[];
extern const struct kw_option kw_time_period_options[];
extern const struct kw_option kw_time_range_options[];

/* Parse the "time_intervals" section node (an array; NULL or null = none)
 * into ti, loading every zone. Returns 0, or -1 with "path[i]...: reason" in
 * err; ti then still needs kw_time_intervals_release. */
int kw_time_intervals_parse(struct kw_time_intervals *ti, const cJSON *node, const char *path, char *err,
                            size_t errlen);
/* Free ti's contents. Safe on a zeroed struct. */
void kw_time_intervals_release(struct kw_time_intervals *ti);

/* The index of the interval called name, or -1. */
int kw_time_intervals_find(const struct kw_time_intervals *ti, const char *name);
/* Does the interval hold at UTC instant ms (epoch milliseconds)? */
bool kw_time_interval_contains(const struct kw_time_interval *iv, int64_t ms);

#endif
