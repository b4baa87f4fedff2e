/* Time intervals, with Alertmanager's documented semantics (configuration.md,
 * "time_interval"): each field alone, inclusive ranges, an exclusive
 * end_time, negative days of the month, names and numbers; zones read from
 * the system's TZif files, checked against the C library's own reading of
 * the same files (an oracle) around every transition and past the last one,
 * where the footer rule applies; both 2026 DST changes in New York; config
 * errors that name the key; route inheritance; and an outbox that sends
 * nothing for a muted route while an unmuted one sends. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../agent/config.h"
#include "../../agent/outbox.h"
#include "../../lib/log.h"
#include "../../lib/timefmt.h"
#include "../../lib/tzif.h"

static struct kw_time_intervals ti;

static void quiet(void)
{
    kw_log_set_level(KW_LOG_OFF);
}

static void release(void)
{
    kw_time_intervals_release(&ti);
}

/* One interval "x" of the given periods (a JSON array). */
static void load(const char *periods)
{
    char *json = NULL;
    cr_assert_geq(asprintf(&json, "[{\"name\": \"x\", \"time_intervals\": %s}]", periods), 0);
    cJSON *node = cJSON_Parse(json);
    cr_assert(node, "bad JSON in the test: %s", json);
    char err[KW_ERR_LEN] = "";
    kw_time_intervals_release(&ti);
    cr_assert_eq(kw_time_intervals_parse(&ti, node, "time_intervals", err, sizeof err), 0, "%s", err);
    cJSON_Delete(node);
    free(json);
}

static int64_t at(const char *rfc3339)
{
    int64_t ms;
    cr_assert_eq(kw_time_parse(rfc3339, &ms), 0, "bad time in the test: %s", rfc3339);
    return ms;
}

static bool holds(const char *rfc3339)
{
    return kw_time_interval_contains(&ti.items[0], at(rfc3339));
}

Test(timeinterval, times_start_inclusive_end_exclusive, .init = quiet, .fini = release)
{
    load("[{\"times\": [{\"start_time\": \"09:00\", \"end_time\": \"17:00\"}]}]");
    cr_assert_not(holds("2026-05-04T08:59:59Z"));
    cr_assert(holds("2026-05-04T09:00:00Z"), "start_time is inclusive");
    cr_assert(holds("2026-05-04T16:59:59Z"));
    cr_assert_not(holds("2026-05-04T17:00:00Z"), "end_time is exclusive");
    load("[{\"times\": [{\"start_time\": \"22:00\", \"end_time\": \"24:00\"}, {\"start_time\": \"00:00\", \"end_time\": \"06:00\"}]}]");
    cr_assert(holds("2026-05-04T23:59:59Z"), "24:00 is the end of the day");
    cr_assert(holds("2026-05-05T05:59:00Z"), "any of the times");
    cr_assert_not(holds("2026-05-05T06:00:00Z"));
    cr_assert_not(holds("2026-05-05T21:59:59Z"));
}

Test(timeinterval, weekdays_by_name_and_range, .init = quiet, .fini = release)
{
    load("[{\"weekdays\": [\"monday:friday\"]}]");
    cr_assert(holds("2026-03-06T23:59:59Z"), "Friday is in monday:friday");
    cr_assert_not(holds("2026-03-07T00:00:00Z"), "Saturday is not");
    cr_assert_not(holds("2026-03-08T12:00:00Z"), "Sunday is not");
    cr_assert(holds("2026-03-09T00:00:00Z"), "Monday is");
    load("[{\"weekdays\": [\"Saturday\", \"SUNDAY\"]}]");
    cr_assert(holds("2026-03-07T10:00:00Z") && holds("2026-03-08T10:00:00Z"), "names are case-insensitive");
    cr_assert_not(holds("2026-03-06T10:00:00Z"));
}

Test(timeinterval, days_of_month_ranges_and_from_the_end, .init = quiet, .fini = release)
{
    load("[{\"days_of_month\": [\"1:5\", \"-1\"]}]");
    cr_assert(holds("2026-04-01T00:00:00Z") && holds("2026-04-05T23:59:59Z"), "1:5 is inclusive");
    cr_assert_not(holds("2026-04-06T00:00:00Z"));
    cr_assert(holds("2026-04-30T12:00:00Z"), "-1 is the last day of a 30-day month");
    cr_assert_not(holds("2026-04-29T12:00:00Z"));
    cr_assert(holds("2026-05-31T12:00:00Z") && !holds("2026-05-30T12:00:00Z"), "and of a 31-day month");
    /* February: -1 is the 29th in a leap year, the 28th otherwise */
    cr_assert(holds("2028-02-29T12:00:00Z"));
    cr_assert_not(holds("2028-02-28T12:00:00Z"), "2028 is a leap year: the 28th is not the last day");
    cr_assert(holds("2027-02-28T12:00:00Z"), "2027 is not: the 28th is the last day");
    load("[{\"days_of_month\": [\"-3:-1\"]}]");
    cr_assert(holds("2027-02-26T00:00:00Z") && holds("2027-02-28T00:00:00Z") && !holds("2027-02-25T23:59:59Z"));
    cr_assert(holds("2028-02-27T00:00:00Z") && !holds("2028-02-26T23:59:59Z"), "three last days of a leap February");
    load("[{\"days_of_month\": [\"29:31\"]}]");
    cr_assert_not(holds("2027-02-28T12:00:00Z"), "a range after the month's end matches nothing");
    cr_assert(holds("2028-02-29T12:00:00Z"), "and is cut at the end of a shorter month");
    cr_assert(holds("2027-03-31T12:00:00Z"));
}

Test(timeinterval, months_by_name_or_number, .init = quiet, .fini = release)
{
    load("[{\"months\": [\"january:march\", \"12\"]}]");
    cr_assert(holds("2026-01-01T00:00:00Z") && holds("2026-03-31T23:59:59Z") && holds("2026-12-15T00:00:00Z"));
    cr_assert_not(holds("2026-04-01T00:00:00Z"));
    cr_assert_not(holds("2026-11-30T23:59:59Z"));
    load("[{\"months\": [\"2:4\"]}]");
    cr_assert(holds("2026-04-30T00:00:00Z") && !holds("2026-05-01T00:00:00Z") && !holds("2026-01-31T00:00:00Z"));
}

Test(timeinterval, years_and_fields_together, .init = quiet, .fini = release)
{
    load("[{\"years\": [\"2026:2027\"]}]");
    cr_assert(holds("2026-01-01T00:00:00Z") && holds("2027-12-31T23:59:59Z"));
    cr_assert_not(holds("2025-12-31T23:59:59Z") || holds("2028-01-01T00:00:00Z"));
    /* every field set must hold; any period may */
    load("[{\"weekdays\": [\"monday:friday\"], \"times\": [{\"start_time\": \"09:00\", \"end_time\": \"17:00\"}]},"
         " {\"months\": [\"december\"], \"days_of_month\": [\"24:26\"]}]");
    cr_assert(holds("2026-03-09T10:00:00Z"));
    cr_assert_not(holds("2026-03-09T18:00:00Z"), "a weekday out of hours");
    cr_assert_not(holds("2026-03-07T10:00:00Z"), "in hours on a Saturday");
    cr_assert(holds("2026-12-26T03:00:00Z"), "the second period");
    load("[{}]");
    cr_assert(holds("1999-07-01T03:00:00Z") && holds("2026-12-26T03:00:00Z"), "empty fields match everything");
    load("[]");
    cr_assert_not(holds("2026-12-26T03:00:00Z"), "no periods: never");
}

Test(timeinterval, a_zone_shifts_every_field, .init = quiet, .fini = release)
{
    load("[{\"weekdays\": [\"friday\"], \"times\": [{\"start_time\": \"22:00\", \"end_time\": \"23:00\"}],"
         " \"location\": \"America/New_York\"}]");
    cr_assert(holds("2026-03-07T03:30:00Z"), "Friday 22:30 EST is Saturday 03:30 UTC");
    cr_assert_not(holds("2026-03-06T22:30:00Z"), "Friday 22:30 UTC is 17:30 in New York");
    cr_assert(holds("2026-07-11T02:30:00Z"), "in summer New York is UTC-4");
    cr_assert_not(holds("2026-07-11T03:30:00Z"));
    load("[{\"times\": [{\"start_time\": \"09:00\", \"end_time\": \"17:00\"}], \"location\": \"UTC\"}]");
    cr_assert(holds("2026-07-11T09:00:00Z"));
}

/* Minutes of the UTC day from..from+24h at which the interval holds, and in
 * how many separate runs. */
static int minutes_held(const char *from, int *runs)
{
    int64_t start = at(from);
    int n = 0;
    bool prev = false;
    *runs = 0;
    for (int m = 0; m < 24 * 60; m++) {
        bool in = kw_time_interval_contains(&ti.items[0], start + (int64_t)m * 60000);
        n += in;
        *runs += in && !prev;
        prev = in;
    }
    return n;
}

Test(timeinterval, dst_changes_in_new_york_2026, .init = quiet, .fini = release)
{
    int runs;
    /* 8 March 2026: 02:00 EST becomes 03:00 EDT; 02:30 never happens */
    load("[{\"times\": [{\"start_time\": \"02:30\", \"end_time\": \"02:45\"}], \"location\": \"America/New_York\"}]");
    cr_assert_eq(minutes_held("2026-03-08T05:00:00Z", &runs), 0, "02:30 on the spring-forward day never comes");
    cr_assert_eq(minutes_held("2026-03-09T04:00:00Z", &runs), 15, "the day after it does");
    cr_assert_eq(minutes_held("2026-03-07T05:00:00Z", &runs), 15, "and the day before");
    /* 1 November 2026: 02:00 EDT becomes 01:00 EST; 01:30 happens twice */
    load("[{\"times\": [{\"start_time\": \"01:30\", \"end_time\": \"01:45\"}], \"location\": \"America/New_York\"}]");
    cr_assert_eq(minutes_held("2026-11-01T04:00:00Z", &runs), 30, "01:30-01:45 twice on the fall-back day");
    cr_assert_eq(runs, 2);
    cr_assert(holds("2026-11-01T05:30:00Z") && holds("2026-11-01T06:30:00Z"), "01:30 EDT and 01:30 EST");
    cr_assert_not(holds("2026-11-01T06:00:00Z"), "01:00 EST is before the window");
    cr_assert_eq(minutes_held("2026-11-02T05:00:00Z", &runs), 15, "once the day after");
}

/* ---- the TZif reader against the C library ---------------------------------- */

static int32_t libc_offset(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    cr_assert(localtime_r(&tt, &tm));
    return (int32_t)tm.tm_gmtoff;
}

static void load_zone(struct kw_tzif *tz, const char *name)
{
    char path[256], err[KW_ERR_LEN];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
    cr_assert_eq(kw_tzif_load(tz, path, err, sizeof err), 0, "%s", err);
    setenv("TZ", name, 1); /* the oracle: this test runs in its own process, on one thread */
    tzset();
}

Test(tzif, agrees_with_the_c_library_at_every_transition_and_after_the_last, .init = quiet)
{
    static const char *const zones[] = {"America/New_York", "Europe/Berlin",    "Australia/Sydney",
                                        "Australia/Lord_Howe", "Europe/Dublin", "America/Nuuk",
                                        "America/Santiago",  "Asia/Kolkata",     "Africa/Casablanca",
                                        "Pacific/Chatham",   "America/Sao_Paulo", "Asia/Tehran"};
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        struct kw_tzif tz;
        load_zone(&tz, zones[z]);
        for (int i = 0; i < tz.n; i++) {
            if (tz.at[i] < 0) /* before 1970 the C library may read the oldest types differently */
                continue;
            for (int64_t d = -1; d <= 1; d++)
                cr_assert_eq(kw_tzif_offset(&tz, tz.at[i] + d), libc_offset(tz.at[i] + d), "%s at %lld", zones[z],
                             (long long)(tz.at[i] + d));
        }
        /* past the last transition the footer rule speaks: every 20 minutes, 2030 to 2110 */
        for (int64_t t = 1893456000; t < 4417977600; t += 1200)
            cr_assert_eq(kw_tzif_offset(&tz, t), libc_offset(t), "%s at %lld", zones[z], (long long)t);
        kw_tzif_release(&tz);
    }
}

Test(tzif, the_footer_rule_decides_after_the_last_transition, .init = quiet)
{
    struct kw_tzif tz;
    load_zone(&tz, "America/New_York");
    cr_assert(tz.has_rule, "a TZif v2+ file has a footer");
    struct tm jan = {.tm_year = 200, .tm_mon = 0, .tm_mday = 15, .tm_hour = 12};
    struct tm jul = {.tm_year = 200, .tm_mon = 6, .tm_mday = 1, .tm_hour = 12};
    int64_t t_jan = (int64_t)timegm(&jan), t_jul = (int64_t)timegm(&jul);
    cr_assert(tz.n == 0 || tz.at[tz.n - 1] < t_jan, "2100 is after the file's last transition");
    cr_assert_eq(kw_tzif_offset(&tz, t_jan), -5 * 3600, "EST in January 2100");
    cr_assert_eq(kw_tzif_offset(&tz, t_jul), -4 * 3600, "EDT in July 2100");
    /* 14 March 2100 is the second Sunday: 02:00 EST = 07:00 UTC */
    struct tm change = {.tm_year = 200, .tm_mon = 2, .tm_mday = 14, .tm_hour = 7};
    int64_t t = (int64_t)timegm(&change);
    cr_assert_eq(kw_tzif_offset(&tz, t - 1), -5 * 3600);
    cr_assert_eq(kw_tzif_offset(&tz, t), -4 * 3600);
    kw_tzif_release(&tz);

    /* and through an interval: 09:00-17:00 New York on 1 July 2100 is 13:00-21:00 UTC */
    load("[{\"times\": [{\"start_time\": \"09:00\", \"end_time\": \"17:00\"}], \"location\": \"America/New_York\"}]");
    cr_assert(kw_time_interval_contains(&ti.items[0], (t_jul + 3600) * 1000), "13:00 UTC");
    cr_assert_not(kw_time_interval_contains(&ti.items[0], (t_jul - 3600) * 1000), "11:00 UTC is 07:00 EDT");
    kw_time_intervals_release(&ti);
}

Test(tzif, posix_rules_agree_with_the_c_library, .init = quiet)
{
    static const char *const rules[] = {"EST5EDT,M3.2.0,M11.1.0", "CET-1CEST,M3.5.0,M10.5.0/3",
                                        "AEST-10AEDT,M10.1.0,M4.1.0/3", "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
                                        "IST-1GMT0,M10.5.0,M3.5.0/1", "XXX3YYY,J60/2,J300/2", "AAA-2BBB,59,299/25",
                                        "<+0545>-5:45", "EST5EDT"};
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        struct kw_tz_rule rule;
        cr_assert_eq(kw_tz_rule_parse(&rule, rules[r]), 0, "%s", rules[r]);
        setenv("TZ", rules[r], 1);
        tzset();
        for (int64_t t = 1767225600; t < 1767225600 + 3 * 366 * 86400LL; t += 900)
            cr_assert_eq(kw_tz_rule_offset(&rule, t), libc_offset(t), "%s at %lld", rules[r], (long long)t);
    }
    struct kw_tz_rule rule;
    cr_assert_neq(kw_tz_rule_parse(&rule, "EST"), 0, "no offset");
    cr_assert_neq(kw_tz_rule_parse(&rule, "EST5EDT,M3.2.0"), 0, "no end");
    cr_assert_neq(kw_tz_rule_parse(&rule, "EST5EDT,M13.2.0,M11.1.0"), 0, "month 13");
}

Test(tzif, damaged_files_are_refused, .init = quiet)
{
    char err[KW_ERR_LEN];
    struct kw_tzif tz;
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    cr_assert(f);
    unsigned char data[8192];
    size_t len = fread(data, 1, sizeof data, f);
    fclose(f);
    cr_assert_eq(kw_tzif_parse(&tz, data, len, err, sizeof err), 0, "%s", err);
    kw_tzif_release(&tz);
    for (size_t cut = 0; cut < len - 1; cut += 7)
        if (kw_tzif_parse(&tz, data, cut, err, sizeof err) == 0)
            kw_tzif_release(&tz); /* a cut inside the footer can still be whole, never past the data */
    cr_assert_neq(kw_tzif_parse(&tz, data, 60, err, sizeof err), 0, "truncated");
    data[0] = 'X';
    cr_assert_neq(kw_tzif_parse(&tz, data, len, err, sizeof err), 0);
    cr_assert_str_eq(err, "not a TZif file");
    cr_assert_neq(kw_tzif_load(&tz, "/nonexistent/zone", err, sizeof err), 0);
}

/* ---- config ------------------------------------------------------------------- */

static struct kw_config cfg;

static void unload(void)
{
    kw_config_release(&cfg);
}

static int parse_config(const char *intervals, const char *route, char *err, size_t errlen)
{
    char *json = NULL;
    cr_assert_geq(asprintf(&json,
                           "{\"kpis\": [{\"name\": \"a\", \"metric\": \"a\"}],"
                           " \"receivers\": [{\"name\": \"ops\", \"type\": \"console\"}, {\"name\": \"cx\", \"type\": \"console\"}],"
                           " \"time_intervals\": %s, \"route\": %s}",
                           intervals, route),
                  0);
    int rc = kw_config_parse(&cfg, json, "t.json", err, errlen);
    free(json);
    return rc;
}

Test(timeinterval_config, errors_name_the_key, .init = quiet)
{
    static const struct {
        const char *intervals, *route, *error;
    } cases[] = {
        {"[{\"name\": \"n\", \"time_intervals\": [{}, {\"weekdays\": [\"funday\"]}]}]", "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[0].time_intervals[1].weekdays[0]: unknown weekday \"funday\""},
        {"[{\"name\": \"n\", \"time_intervals\": [{\"weekdays\": [\"friday:monday\"]}]}]", "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[0].time_intervals[0].weekdays[0]: \"friday:monday\": the end is before the start"},
        {"[{\"name\": \"n\", \"time_intervals\": [{\"months\": [\"13\"]}]}]", "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[0].time_intervals[0].months[0]: unknown month \"13\""},
        {"[{\"name\": \"n\", \"time_intervals\": [{\"days_of_month\": [\"1\", \"0\"]}]}]", "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[0].time_intervals[0].days_of_month[1]: \"0\" is not a day of the month"},
        {"[{\"name\": \"n\", \"time_intervals\": [{\"days_of_month\": [\"-5:3\"]}]}]", "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[0].time_intervals[0].days_of_month[0]: \"-5:3\": a range starting from the end"},
        {"[{\"name\": \"n\", \"time_intervals\": [{\"days_of_month\": [\"-1:-5\"]}]}]", "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[0].time_intervals[0].days_of_month[0]: \"-1:-5\": the end is always before the start"},
        {"[{\"name\": \"n\", \"time_intervals\": [{\"years\": [\"2027:2026\"]}]}]", "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[0].time_intervals[0].years[0]: \"2027:2026\": the end is before the start"},
        {"[{\"name\": \"n\", \"time_intervals\": [{\"times\": [{\"start_time\": \"9:00\", \"end_time\": \"17:00\"}]}]}]",
         "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[0].time_intervals[0].times[0].start_time: \"9:00\" is not a time HH:MM"},
        {"[{\"name\": \"n\", \"time_intervals\": [{\"times\": [{\"start_time\": \"17:00\", \"end_time\": \"17:00\"}]}]}]",
         "{\"receiver\": \"ops\"}", "t.json: time_intervals[0].time_intervals[0].times[0].end_time: must be after start_time"},
        {"[{\"name\": \"n\", \"time_intervals\": [{\"times\": [{\"start_time\": \"09:00\"}]}]}]", "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[0].time_intervals[0].times[0].end_time: is required"},
        {"[{\"name\": \"n\", \"time_intervals\": [{\"location\": \"Mars/Olympus_Mons\"}]}]", "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[0].time_intervals[0].location: unknown time zone \"Mars/Olympus_Mons\""},
        {"[{\"name\": \"n\", \"time_intervals\": [{\"location\": \"../../etc/passwd\"}]}]", "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[0].time_intervals[0].location: \"../../etc/passwd\" is not a time zone name"},
        {"[{\"name\": \"n\", \"time_intervals\": [{\"weekday\": [\"monday\"]}]}]", "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[0].time_intervals[0].weekday: unknown key; did you mean \"weekdays\"?"},
        {"[{\"name\": \"n\"}, {\"name\": \"n\"}]", "{\"receiver\": \"ops\"}",
         "t.json: time_intervals[1].name: \"n\" is already used by time_intervals[0]"},
        {"[{\"time_intervals\": []}]", "{\"receiver\": \"ops\"}", "t.json: time_intervals[0].name: is required"},
        {"{}", "{\"receiver\": \"ops\"}", "t.json: time_intervals: must be an array"},
        {"[{\"name\": \"n\"}]", "{\"receiver\": \"ops\", \"routes\": [{\"receiver\": \"cx\", \"mute_time_intervals\": [\"n\", \"nights\"]}]}",
         "t.json: route.routes[0].mute_time_intervals[1]: no time interval is named \"nights\""},
        {"[]", "{\"receiver\": \"ops\", \"active_time_intervals\": [\"office\"]}",
         "t.json: route.active_time_intervals[0]: no time interval is named \"office\""},
        {"[]", "{\"receiver\": \"ops\", \"mute_time_intervals\": \"n\"}",
         "t.json: route.mute_time_intervals: must be an array of strings"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[KW_ERR_LEN] = "";
        cr_assert_neq(parse_config(cases[i].intervals, cases[i].route, err, sizeof err), 0, "case %zu parsed", i);
        cr_assert(strncmp(err, cases[i].error, strlen(cases[i].error)) == 0, "case %zu:\n  got  %s\n  want %s", i, err,
                  cases[i].error);
    }
}

Test(timeinterval_config, routes_inherit_their_intervals, .init = quiet, .fini = unload)
{
    char err[KW_ERR_LEN] = "";
    cr_assert_eq(parse_config("[{\"name\": \"nights\", \"time_intervals\": [{\"times\": [{\"start_time\": \"00:00\", \"end_time\": \"06:00\"}]}]},"
                              " {\"name\": \"office\", \"time_intervals\": [{\"weekdays\": [\"monday:friday\"],"
                              "   \"times\": [{\"start_time\": \"09:00\", \"end_time\": \"17:00\"}], \"location\": \"Europe/Berlin\"}]}]",
                              "{\"receiver\": \"ops\", \"routes\": ["
                              " {\"matchers\": [\"journey=a\"], \"mute_time_intervals\": [\"nights\"], \"routes\": ["
                              "   {\"matchers\": [\"step=x\"]},"
                              "   {\"matchers\": [\"step=y\"], \"mute_time_intervals\": []},"
                              "   {\"matchers\": [\"step=z\"], \"active_time_intervals\": [\"office\"]}]},"
                              " {\"matchers\": [\"journey=b\"], \"receiver\": \"cx\"}]}",
                              err, sizeof err),
                 0, "%s", err);
    const struct kw_routing *rt = &cfg.routing;
    cr_assert_eq(rt->n, 6);
    const struct kw_route_node *root = &rt->nodes[0], *a = &rt->nodes[1], *x = &rt->nodes[2], *y = &rt->nodes[3],
                               *z = &rt->nodes[4], *b = &rt->nodes[5];
    cr_assert_str_eq(z->path, "route.routes[0].routes[2]");
    int nights = kw_time_intervals_find(&cfg.time_intervals, "nights");
    cr_assert_eq(root->nmute + root->nactive + b->nmute + b->nactive, 0);
    cr_assert(a->nmute == 1 && a->mute[0] == nights);
    cr_assert(x->nmute == 1 && x->mute[0] == nights, "unset: the parent's");
    cr_assert_eq(y->nmute, 0, "[] clears what it would inherit");
    cr_assert(z->nmute == 1 && z->nactive == 1, "mute inherited, active its own");

    const struct kw_time_intervals *t = &cfg.time_intervals;
    int64_t night = at("2026-03-10T03:00:00Z"), office = at("2026-03-10T10:00:00+01:00"),
            evening = at("2026-03-10T19:00:00+01:00"), saturday = at("2026-03-14T10:00:00+01:00");
    cr_assert(kw_route_muted(x, t, night) && !kw_route_muted(x, t, office));
    cr_assert(!kw_route_muted(y, t, night));
    cr_assert(kw_route_muted(z, t, night), "a mute interval wins over an active one");
    cr_assert(!kw_route_muted(z, t, office), "active in office hours in Berlin");
    cr_assert(kw_route_muted(z, t, evening) && kw_route_muted(z, t, saturday), "outside its active interval");
    cr_assert(!kw_route_muted(root, t, night) && !kw_route_muted(b, t, saturday));
}

/* ---- the outbox --------------------------------------------------------------- */

static struct kw_alert alert(const char *kpi, const char *name, int64_t at_ms)
{
    struct kw_alert a = {0};
    snprintf(a.kpi, sizeof a.kpi, "%s", kpi);
    snprintf(a.key, sizeof a.key, "%.10s.%.10s", kpi, name);
    snprintf(a.labels[0].name, sizeof a.labels[0].name, "name");
    snprintf(a.labels[0].value, sizeof a.labels[0].value, "%s", name);
    a.nlabels = 1;
    a.status = KW_ALERT_FIRING;
    a.severity = KW_SEV_WARNING;
    a.since_ms = a.at_ms = at_ms;
    a.interval_ms = 300000;
    a.observed = 10;
    return a;
}

static uint64_t queued(struct kw_outbox *o, int r)
{
    struct kw_receiver_stats rs;
    kw_outbox_receiver_stats(o, r, &rs);
    return rs.queued;
}

/* Everything queued before it has been handled once a probe alert (its own
 * group on an unmuted route with no wait) reaches the probe receiver. */
static void barrier(struct kw_outbox *o, int64_t at_ms, int *probes)
{
    char name[16];
    snprintf(name, sizeof name, "p%d", (*probes)++);
    struct kw_alert p = alert("probe", name, at_ms);
    kw_outbox_alert(o, &p);
    for (int i = 0; i < 20000 && queued(o, 2) < (uint64_t)*probes; i++)
        usleep(1000);
    cr_assert_eq(queued(o, 2), (uint64_t)*probes, "the outbox did not get to the probe");
}

Test(timeinterval_outbox, a_muted_route_sends_nothing_and_moves_on, .init = quiet, .fini = unload, .timeout = 60)
{
    char err[KW_ERR_LEN] = "";
    const char *json =
        "{\"kpis\": [{\"name\": \"checkout\", \"metric\": \"c\"}],"
        " \"receivers\": [{\"name\": \"night-team\", \"type\": \"console\", \"stream\": \"stderr\"},"
        "   {\"name\": \"always\", \"type\": \"console\", \"stream\": \"stderr\"},"
        "   {\"name\": \"probe\", \"type\": \"console\", \"stream\": \"stderr\"}],"
        " \"time_intervals\": [{\"name\": \"nights\", \"time_intervals\": [{\"times\": [{\"start_time\": \"00:00\", \"end_time\": \"06:00\"}]}]}],"
        " \"route\": {\"receiver\": \"always\", \"group_by\": [\"name\"], \"group_wait\": \"0s\", \"group_interval\": \"5m\","
        "   \"repeat_interval\": \"12h\", \"routes\": ["
        "   {\"matchers\": [\"kpi=probe\"], \"receiver\": \"probe\"},"
        "   {\"matchers\": [\"kpi=checkout\"], \"receiver\": \"night-team\", \"group_by\": [], \"mute_time_intervals\": [\"nights\"]}]}}";
    cr_assert_eq(kw_config_parse(&cfg, json, "t.json", err, sizeof err), 0, "%s", err);
    struct kw_outbox *o = kw_outbox_start(&cfg, NULL, NULL, err, sizeof err);
    cr_assert(o, "%s", err);
    int probes = 0;

    /* 03:00: both fire; the checkout route is muted, the other sends */
    int64_t t0 = at("2026-03-10T03:00:00Z");
    struct kw_alert c1 = alert("checkout", "cart", t0), other = alert("complaints", "claims", t0);
    kw_outbox_alert(o, &c1);
    kw_outbox_alert(o, &other);
    kw_outbox_tick(o, t0 + 600000);
    barrier(o, t0 + 600000, &probes);
    struct kw_outbox_stats st;
    kw_outbox_stats(o, &st);
    cr_assert_eq(queued(o, 0), 0, "the muted route sent");
    cr_assert_eq(queued(o, 1), 1, "the unmuted route did not send");
    cr_assert_eq(st.muted, 1);

    /* 07:00, the mute over: the group is not sent late, as if it had been sent at 03:05 */
    int64_t t1 = at("2026-03-10T07:00:00Z");
    kw_outbox_tick(o, t1);
    barrier(o, t1, &probes);
    cr_assert_eq(queued(o, 0), 0, "the muted notification went out when the mute ended");
    /* a change to the group is sent as usual */
    struct kw_alert c2 = alert("checkout", "payment", t1);
    kw_outbox_alert(o, &c2);
    kw_outbox_tick(o, t1 + 600000);
    barrier(o, t1 + 600000, &probes);
    cr_assert_eq(queued(o, 0), 1, "a change after the mute was not sent");
    kw_outbox_stats(o, &st);
    cr_assert_eq(st.muted, 1);
    kw_outbox_stop(o, 0);
}
