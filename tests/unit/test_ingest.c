/* Unit tests for ingest: the point format, timestamps and every rejection
 * reason (malformed JSON, unknown fields, NaN/Inf, huge labels, truncated
 * UTF-8, out-of-range timestamps). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/ingest.h"
#include "../../lib/log.h"
#include "../../lib/timefmt.h"

#define NOW_MS 1700000000000LL

struct capture {
    int n;
    struct {
        char metric[64];
        double value;
        int64_t ts;
        int nlabels;
        char label0[64];
    } pts[16];
};

static int capture_sink(void *ctx, const struct kw_point *pt, enum kw_reject *why)
{
    (void)why;
    struct capture *c = ctx;
    if (c->n < 16) {
        snprintf(c->pts[c->n].metric, 64, "%s", pt->metric);
        c->pts[c->n].value = pt->value;
        c->pts[c->n].ts = pt->ts_ms;
        c->pts[c->n].nlabels = pt->nlabels;
        if (pt->nlabels)
            snprintf(c->pts[c->n].label0, 64, "%s=%s", pt->labels[0].name, pt->labels[0].value);
    }
    c->n++;
    return 0;
}

static struct kw_ingest_limits limits(void)
{
    return (struct kw_ingest_limits){.max_labels = 4, .max_label_bytes = 32, .max_metric_bytes = 40,
                                     .max_message_bytes = 4096, .max_past_ms = 3600000,
                                     .max_future_ms = 300000, .check_time = true};
}

static void quiet(void)
{
    kw_log_set_level(KW_LOG_OFF);
}

static struct kw_ingest_stats run(const char *msg, struct capture *cap)
{
    struct kw_ingest_limits lim = limits();
    struct kw_ingest_stats st = {0};
    memset(cap, 0, sizeof *cap);
    kw_ingest_message(&lim, &st, "test", msg, strlen(msg), NOW_MS, capture_sink, cap);
    return st;
}

Test(ingest, single_point, .init = quiet)
{
    struct capture cap;
    struct kw_ingest_stats st =
        run("{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":3,\"ts\":1700000000}", &cap);
    cr_assert_eq(st.points_accepted, 1);
    cr_assert_eq(cap.n, 1);
    cr_assert_str_eq(cap.pts[0].metric, "complaints");
    cr_assert_str_eq(cap.pts[0].label0, "journey=checkout");
    cr_assert_float_eq(cap.pts[0].value, 3.0, 1e-12);
    cr_assert_eq(cap.pts[0].ts, NOW_MS);
}

Test(ingest, array_and_ndjson_batches, .init = quiet)
{
    struct capture cap;
    struct kw_ingest_stats st = run("[{\"metric\":\"a\",\"value\":1,\"ts\":1700000000},"
                                    "{\"metric\":\"b\",\"value\":2,\"ts\":1700000000}]",
                                    &cap);
    cr_assert_eq(st.points_accepted, 2);
    st = run("{\"metric\":\"a\",\"value\":1,\"ts\":1700000000}\n{\"metric\":\"b\",\"value\":2,\"ts\":1700000001}\n"
             "{\"metric\":\"c\",\"value\":3,\"ts\":1700000002}\n",
             &cap);
    cr_assert_eq(st.points_accepted, 3);
    cr_assert_str_eq(cap.pts[2].metric, "c");
    cr_assert_eq(cap.pts[2].ts, NOW_MS + 2000);
}

Test(ingest, timestamp_forms, .init = quiet)
{
    struct capture cap;
    run("[{\"metric\":\"a\",\"value\":1,\"ts\":1700000000123},"
        "{\"metric\":\"a\",\"value\":1,\"ts\":\"2023-11-14T22:13:20Z\"},"
        "{\"metric\":\"a\",\"value\":1,\"ts\":\"2023-11-14T23:13:20.5+01:00\"},"
        "{\"metric\":\"a\",\"value\":1,\"ts\":1699999999.25}]",
        &cap);
    cr_assert_eq(cap.n, 4);
    cr_assert_eq(cap.pts[0].ts, 1700000000123LL, "epoch ms");
    cr_assert_eq(cap.pts[1].ts, 1700000000000LL, "RFC 3339 UTC");
    cr_assert_eq(cap.pts[2].ts, 1700000000500LL, "RFC 3339 with offset and fraction");
    cr_assert_eq(cap.pts[3].ts, 1699999999250LL, "fractional epoch seconds");
}

/* Criterion may run each test in a re-executed process, so parameters hold
 * their text inline rather than pointers into this process's memory. */
struct reject_case {
    char msg[256];
    enum kw_reject why;
};

static struct reject_case reject_cases[] = {
    {"{\"metric\":\"a\",\"value\":1,", KW_REJ_MALFORMED_JSON},
    {"not json at all", KW_REJ_MALFORMED_JSON},
    {"[1]", KW_REJ_NOT_OBJECT},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":1700000000,\"colour\":\"red\"}", KW_REJ_UNKNOWN_FIELD},
    {"{\"metric\":\"a\",\"value\":1}", KW_REJ_MISSING_FIELD},
    {"{\"value\":1,\"ts\":1700000000}", KW_REJ_MISSING_FIELD},
    {"{\"metric\":\"9bad name\",\"value\":1,\"ts\":1700000000}", KW_REJ_BAD_METRIC},
    {"{\"metric\":\"a\",\"value\":\"7\",\"ts\":1700000000}", KW_REJ_BAD_VALUE},
    {"{\"metric\":\"a\",\"value\":\"NaN\",\"ts\":1700000000}", KW_REJ_NON_FINITE},
    {"{\"metric\":\"a\",\"value\":\"-Infinity\",\"ts\":1700000000}", KW_REJ_NON_FINITE},
    {"{\"metric\":\"a\",\"value\":1e999,\"ts\":1700000000}", KW_REJ_NON_FINITE},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":\"yesterday\"}", KW_REJ_BAD_TIMESTAMP},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":\"2023-02-31T00:00:00Z\"}", KW_REJ_BAD_TIMESTAMP},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":-5}", KW_REJ_BAD_TIMESTAMP},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":1699990000}", KW_REJ_TOO_OLD},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":1700001000}", KW_REJ_TOO_NEW},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":1700000000,\"labels\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\"}}",
     KW_REJ_TOO_MANY_LABELS},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":1700000000,\"labels\":{\"journey\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}",
     KW_REJ_LABEL_TOO_LONG},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":1700000000,\"labels\":{\"journey\":7}}", KW_REJ_BAD_LABEL},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":1700000000,\"labels\":{\"bad-name\":\"x\"}}", KW_REJ_BAD_LABEL},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":1700000000,\"labels\":[\"x\"]}", KW_REJ_BAD_LABEL},
    /* "caf\xc3" is "café" cut in the middle of its last character */
    {"{\"metric\":\"a\",\"value\":1,\"ts\":1700000000,\"labels\":{\"journey\":\"caf\xc3\"}}", KW_REJ_INVALID_UTF8},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":1700000000,\"labels\":{\"journey\":\"\xed\xa0\x80\"}}", KW_REJ_INVALID_UTF8},
    {"", KW_REJ_EMPTY_MESSAGE},
    {" \n\t ", KW_REJ_EMPTY_MESSAGE},
    {"{\"metric\":\"a\",\"metric\":\"b\",\"value\":1,\"ts\":1700000000}", KW_REJ_DUPLICATE_FIELD},
    {"{\"metric\":\"a\",\"value\":1,\"value\":2,\"ts\":1700000000}", KW_REJ_DUPLICATE_FIELD},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":1700000000,\"labels\":{},\"labels\":{\"j\":\"x\"}}", KW_REJ_DUPLICATE_FIELD},
    {"{\"metric\":\"good\\u0000evil\",\"value\":1,\"ts\":1700000000}", KW_REJ_NUL_CHARACTER},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":1700000000,\"labels\":{\"j\":\"x\\u0000y\"}}", KW_REJ_NUL_CHARACTER},
    /* no zone: in JSON that is more likely a bug than UTC */
    {"{\"metric\":\"a\",\"value\":1,\"ts\":\"2023-11-14T22:13:20\"}", KW_REJ_BAD_TIMESTAMP},
    {"{\"metric\":\"a\",\"value\":1,\"ts\":\"2999-01-01T00:00:00Z\"}", KW_REJ_BAD_TIMESTAMP},
};

ParameterizedTestParameters(ingest, rejects)
{
    return cr_make_param_array(struct reject_case, reject_cases, sizeof reject_cases / sizeof reject_cases[0]);
}

ParameterizedTest(struct reject_case *c, ingest, rejects, .init = quiet)
{
    struct capture cap;
    struct kw_ingest_stats st = run(c->msg, &cap);
    cr_assert_eq(cap.n, 0, "accepted: %s", c->msg);
    cr_assert_eq(st.rejected[c->why], 1, "expected reason %s for %s", kw_reject_name(c->why), c->msg);
}

Test(ingest, oversized_message_is_rejected_whole, .init = quiet)
{
    char big[8192];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *point = "{\"metric\":\"a\",\"value\":1,\"ts\":1700000000}";
    memcpy(big, point, strlen(point)); /* a valid point padded past max_message_bytes */
    struct capture cap;
    struct kw_ingest_stats st = run(big, &cap);
    cr_assert_eq(cap.n, 0);
    cr_assert_eq(st.rejected[KW_REJ_OVERSIZED_MESSAGE], 1);
}

Test(ingest, bad_points_do_not_spoil_good_ones_in_a_batch, .init = quiet)
{
    struct capture cap;
    struct kw_ingest_stats st = run("[{\"metric\":\"a\",\"value\":1,\"ts\":1700000000},"
                                    "{\"metric\":\"a\",\"value\":\"NaN\",\"ts\":1700000000},"
                                    "{\"metric\":\"b\",\"value\":2,\"ts\":1700000000}]",
                                    &cap);
    cr_assert_eq(st.points_accepted, 2);
    cr_assert_eq(st.rejected[KW_REJ_NON_FINITE], 1);
}

/* An escaped backslash before "u0000" is a literal backslash, not a NUL. */
Test(ingest, literal_backslash_u0000_is_fine, .init = quiet)
{
    struct capture cap;
    struct kw_ingest_stats st =
        run("{\"metric\":\"a\",\"value\":1,\"ts\":1700000000,\"labels\":{\"path\":\"C:\\\\u0000\"}}", &cap);
    cr_assert_eq(st.points_accepted, 1);
    cr_assert_str_eq(cap.pts[0].label0, "path=C:\\u0000");
}

/* A rejected name is quoted escaped: a newline or an escape sequence in it
 * cannot forge a log line. */
Test(ingest, rejected_names_are_escaped_in_the_log, .init = quiet)
{
    char path[] = "/tmp/kw-log-XXXXXX";
    int fd = mkstemp(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    kw_log_set_level(KW_LOG_WARN);
    struct capture cap;
    run("{\"metric\":\"a\",\"value\":1,\"ts\":1700000000,\"x\\ninfo  [stats] FORGED\\u001b[2J\":1}", &cap);
    run("{\"metric\":\"bad\\nerror [agent] FORGED\",\"value\":1,\"ts\":1700000000}", &cap);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    kw_log_set_level(KW_LOG_OFF);
    char buf[4096] = "";
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unlink(path);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    int lines = 0;
    for (char *c = buf; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 2, "one line per rejection: %s", buf);
    cr_assert(strstr(buf, "\\ninfo  [stats] FORGED\\x1b[2J") != NULL, "%s", buf);
    cr_assert(strstr(buf, "bad\\nerror [agent] FORGED") != NULL, "%s", buf);
    cr_assert_null(strchr(buf, '\x1b'), "a raw escape reached the log");
}

Test(ingest, utf8_validator)
{
    cr_assert(kw_utf8_valid("caf\xc3\xa9", 5));
    cr_assert(kw_utf8_valid("\xf0\x9f\x9b\x92 cart", 9));
    cr_assert_not(kw_utf8_valid("caf\xc3", 4), "truncated 2-byte sequence");
    cr_assert_not(kw_utf8_valid("\xf0\x9f\x9b", 3), "truncated 4-byte sequence");
    cr_assert_not(kw_utf8_valid("\xc0\xaf", 2), "overlong encoding");
    cr_assert_not(kw_utf8_valid("\xff", 1));
}

Test(timefmt, parse_and_format_round_trip)
{
    int64_t ms;
    cr_assert_eq(kw_time_parse("2014-04-01 00:00:00", &ms), 0);
    cr_assert_eq(ms, 1396310400000LL);
    char buf[40];
    cr_assert_str_eq(kw_time_format(ms, buf, sizeof buf), "2014-04-01T00:00:00Z");
    cr_assert_str_eq(kw_time_format_plain(ms + 300000, buf, sizeof buf), "2014-04-01 00:05:00");
    cr_assert_eq(kw_time_parse("2014-04-01T00:00:00", &ms), 0, "no zone means UTC");
    cr_assert_neq(kw_time_parse("2014-04-01T00:00:00Zjunk", &ms), 0);
    cr_assert_neq(kw_time_parse("2014-13-01T00:00:00Z", &ms), 0);
}

/* Strings get the range of numbers (0 to 4e12 ms), which the state store
 * also checks: a series fed such a point could never be restored. */
Test(timefmt, strings_keep_the_range_of_numbers)
{
    int64_t ms;
    cr_assert_neq(kw_time_parse_zoned("1970-01-01T00:00:00+01:00", &ms), 0, "an hour before the epoch");
    cr_assert_neq(kw_time_parse("1970-01-01 00:59:59+01:00", &ms), 0);
    cr_assert_eq(kw_time_parse_zoned("1970-01-01T01:00:00+01:00", &ms), 0);
    cr_assert_eq(ms, 0);
    cr_assert_neq(kw_time_parse("2096-12-30 00:00:00", &ms), 0, "past 4e12 ms, as numbers are");
    cr_assert_neq(kw_time_from_number(4.1e12, &ms), 0);
    cr_assert_eq(kw_time_parse_zoned("2096-10-02T07:06:40Z", &ms), 0);
    cr_assert_eq(ms, 4000000000000LL);
    cr_assert_eq(kw_time_from_number(4.0e12, &ms), 0);
}
