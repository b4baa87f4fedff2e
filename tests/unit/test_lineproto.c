/* The InfluxDB line protocol reader against the reference grammar
 * (docs.influxdata.com, "InfluxDB line protocol reference"): escapes,
 * quoted strings, integer, unsigned, float and boolean fields, timestamps
 * in every precision, every rejection reason, and parity with JSON: the
 * same points given either way reach the sink identical. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/ingest.h"
#include "../../agent/input.h"
#include "../../agent/lineproto.h"
#include "../../lib/log.h"

#define NOW_MS 1700000000000LL

/* Each point the sink sees, as "metric{k=v,...} value ts". */
struct capture {
    int n;
    char pts[16][512];
};

static int capture_sink(void *ctx, const struct kw_point *pt, enum kw_reject *why)
{
    (void)why;
    struct capture *c = ctx;
    if (c->n < 16) {
        char *s = c->pts[c->n];
        size_t cap = sizeof c->pts[0], used = (size_t)snprintf(s, cap, "%s{", pt->metric);
        for (int i = 0; i < pt->nlabels && used < cap; i++)
            used += (size_t)snprintf(s + used, cap - used, "%s%s=%s", i ? "," : "", pt->labels[i].name,
                                     pt->labels[i].value);
        if (used < cap)
            snprintf(s + used, cap - used, "} %.17g %lld", pt->value, (long long)pt->ts_ms);
    }
    c->n++;
    return 0;
}

static struct kw_ingest_limits limits(void)
{
    return (struct kw_ingest_limits){.max_labels = 4, .max_label_bytes = 32, .max_metric_bytes = 40,
                                     .max_message_bytes = 1 << 20, .max_past_ms = 3600000,
                                     .max_future_ms = 300000, .check_time = true};
}

static void quiet(void)
{
    kw_log_set_level(KW_LOG_OFF);
}

/* Ingest len bytes of text from an exact-size heap copy (so the sanitizers
 * see any read past the message), with timestamps in precision. */
static struct kw_ingest_stats run_lim(const struct kw_ingest_limits *lim, const char *text, size_t len,
                                      int precision, struct capture *cap)
{
    struct kw_ingest_stats st = {0};
    memset(cap, 0, sizeof *cap);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    kw_lineproto_ingest(lim, &st, "test", precision, copy, len, NOW_MS, capture_sink, cap);
    free(copy);
    return st;
}

static struct kw_ingest_stats run(const char *text, struct capture *cap)
{
    struct kw_ingest_limits lim = limits();
    return run_lim(&lim, text, strlen(text), KW_LINEPROTO_NS, cap);
}

static uint64_t total_rejected(const struct kw_ingest_stats *st)
{
    uint64_t n = 0;
    for (int r = 0; r < KW_REJ_COUNT; r++)
        n += st->rejected[r];
    return n;
}

/* Parse one line (a mutable copy) and return the verdict. */
static int parse(const char *text, char *buf, size_t cap, struct kw_lineproto_line *line, enum kw_reject *why)
{
    snprintf(buf, cap, "%s", text);
    char detail[200];
    return kw_lineproto_parse_line(buf, strlen(buf), KW_LINEPROTO_NS, line, why, detail, sizeof detail);
}

Test(lineproto, escapes_in_measurement_tags_and_field_keys, .init = quiet)
{
    char buf[256];
    struct kw_lineproto_line l;
    enum kw_reject why;
    cr_assert_eq(parse("my\\ meas\\,ure=x,ta\\ g\\,k\\=ey=va\\ l\\,u\\=e fi\\ eld\\,k\\=ey=1", buf, sizeof buf, &l, &why), 0);
    cr_assert_str_eq(l.measurement, "my meas,ure=x", "= needs no escape in a measurement");
    cr_assert_eq(l.ntags, 1);
    cr_assert_str_eq(l.tags[0].name, "ta g,k=ey");
    cr_assert_str_eq(l.tags[0].value, "va l,u=e");
    cr_assert_eq(l.nfields, 1);
    cr_assert_str_eq(l.fields[0].key, "fi eld,k=ey");
    /* a backslash before any other character is kept with it */
    cr_assert_eq(parse("m\\=x,t=a\\b v=1", buf, sizeof buf, &l, &why), 0);
    cr_assert_str_eq(l.measurement, "m\\=x");
    cr_assert_str_eq(l.tags[0].value, "a\\b");
}

Test(lineproto, escaped_tag_value_reaches_the_point, .init = quiet)
{
    struct capture cap;
    struct kw_ingest_stats st = run("visits,region=eu\\ west\\,1 value=2 1700000000000000000\n", &cap);
    cr_assert_eq(st.points_accepted, 1);
    cr_assert_str_eq(cap.pts[0], "visits{region=eu west,1} 2 1700000000000");
}

Test(lineproto, quoted_strings_with_spaces_commas_and_escaped_quotes, .init = quiet)
{
    char buf[256];
    struct kw_lineproto_line l;
    enum kw_reject why;
    cr_assert_eq(parse("m s=\"he said \\\"hi, there\\\" = \\\\ ok\",x=1i 1700000000000000000", buf, sizeof buf, &l, &why), 0);
    cr_assert_eq(l.nfields, 2);
    cr_assert_eq(l.fields[0].kind, KW_LINEPROTO_STRING);
    cr_assert_str_eq(l.fields[0].str, "he said \"hi, there\" = \\ ok");
    cr_assert_eq(l.fields[1].kind, KW_LINEPROTO_INT);
    cr_assert_eq(l.has_ts, true);
    cr_assert_eq(l.ts_ms, NOW_MS);
}

struct value_case {
    char text[48];
    int kind;
    double value;
};

static struct value_case values[] = {
    {"1", KW_LINEPROTO_FLOAT, 1},
    {"-1.5", KW_LINEPROTO_FLOAT, -1.5},
    {"+0.25", KW_LINEPROTO_FLOAT, 0.25},
    {"1e+78", KW_LINEPROTO_FLOAT, 1e78},
    {"-1.234456E+78", KW_LINEPROTO_FLOAT, -1.234456e78},
    {"2.5e-3", KW_LINEPROTO_FLOAT, 2.5e-3},
    {"12345678901234567890.5", KW_LINEPROTO_FLOAT, 12345678901234567890.5},
    {"42i", KW_LINEPROTO_INT, 42},
    {"-42i", KW_LINEPROTO_INT, -42},
    {"-9223372036854775808i", KW_LINEPROTO_INT, -9223372036854775808.0},
    {"18446744073709551615u", KW_LINEPROTO_UINT, 18446744073709551615.0},
    {"t", KW_LINEPROTO_BOOL, 1},
    {"T", KW_LINEPROTO_BOOL, 1},
    {"true", KW_LINEPROTO_BOOL, 1},
    {"True", KW_LINEPROTO_BOOL, 1},
    {"TRUE", KW_LINEPROTO_BOOL, 1},
    {"f", KW_LINEPROTO_BOOL, 0},
    {"F", KW_LINEPROTO_BOOL, 0},
    {"false", KW_LINEPROTO_BOOL, 0},
    {"False", KW_LINEPROTO_BOOL, 0},
    {"FALSE", KW_LINEPROTO_BOOL, 0},
};

ParameterizedTestParameters(lineproto, field_types)
{
    return cr_make_param_array(struct value_case, values, sizeof values / sizeof values[0]);
}

ParameterizedTest(struct value_case *c, lineproto, field_types, .init = quiet)
{
    char text[96], buf[96];
    snprintf(text, sizeof text, "m x=%s", c->text);
    struct kw_lineproto_line l;
    enum kw_reject why;
    cr_assert_eq(parse(text, buf, sizeof buf, &l, &why), 0, "%s", text);
    cr_assert_eq(l.fields[0].kind, c->kind, "%s", text);
    cr_assert_eq(l.fields[0].value, c->value, "%s: %.17g", text, l.fields[0].value);
    cr_assert_eq(l.has_ts, false);
}

Test(lineproto, fields_map_to_metrics_and_missing_timestamp_is_receive_time, .init = quiet)
{
    struct capture cap;
    struct kw_ingest_stats st =
        run("http,journey=checkout value=3i,latency=120.5,ok=true,note=\"slow\"\n", &cap);
    cr_assert_eq(st.points_accepted, 3);
    cr_assert_eq(st.rejected[KW_REJ_STRING_FIELD], 1, "the string field is counted, the others still count");
    cr_assert_eq(total_rejected(&st), 1);
    cr_assert_str_eq(cap.pts[0], "http{journey=checkout} 3 1700000000000");
    cr_assert_str_eq(cap.pts[1], "http_latency{journey=checkout} 120.5 1700000000000");
    cr_assert_str_eq(cap.pts[2], "http_ok{journey=checkout} 1 1700000000000");
}

Test(lineproto, each_precision, .init = quiet)
{
    static const char *const lines[] = {"m value=1 1700000000123456789", "m value=1 1700000000123456",
                                        "m value=1 1700000000123", "m value=1 1700000000"};
    static const long long want[] = {1700000000123LL, 1700000000123LL, 1700000000123LL, 1700000000000LL};
    struct kw_ingest_limits lim = limits();
    lim.check_time = false;
    for (int p = KW_LINEPROTO_NS; p <= KW_LINEPROTO_S; p++) {
        struct capture cap;
        struct kw_ingest_stats st = run_lim(&lim, lines[p], strlen(lines[p]), p, &cap);
        cr_assert_eq(st.points_accepted, 1, "%s", lines[p]);
        char expect[64];
        snprintf(expect, sizeof expect, "m{} 1 %lld", want[p]);
        cr_assert_str_eq(cap.pts[0], expect, "precision %s", kw_lineproto_precisions[p]);
        /* the same digits in the next finer unit are another instant */
        if (p > KW_LINEPROTO_NS) {
            st = run_lim(&lim, lines[p], strlen(lines[p]), p - 1, &cap);
            cr_assert(st.points_accepted == 0 || strcmp(cap.pts[0], expect) != 0, "precision %d ignored", p);
        }
    }
}

Test(lineproto, good_and_bad_lines_mixed, .init = quiet)
{
    const char msg[] = "# a comment line\r\n"
                       "\r\n"
                       "visits,journey=checkout value=5 1700000000000000000\r\n"
                       "visits,journey=checkout value=oops 1700000000000000000\r\n"
                       "   visits,journey=claims value=7 1700000000000000000\n"
                       "visits,journey\n"
                       "visits,journey=claims value=1 yesterday\n"
                       "\n"
                       "visits,journey=search value=-2.5e1";
    struct capture cap;
    struct kw_ingest_stats st = run(msg, &cap);
    cr_assert_eq(st.messages, 1);
    cr_assert_eq(st.points_accepted, 3);
    cr_assert_str_eq(cap.pts[0], "visits{journey=checkout} 5 1700000000000");
    cr_assert_str_eq(cap.pts[1], "visits{journey=claims} 7 1700000000000");
    cr_assert_str_eq(cap.pts[2], "visits{journey=search} -25 1700000000000", "no timestamp: receive time");
    cr_assert_eq(st.rejected[KW_REJ_BAD_VALUE], 1);
    cr_assert_eq(st.rejected[KW_REJ_BAD_LINE], 1);
    cr_assert_eq(st.rejected[KW_REJ_BAD_TIMESTAMP], 1);
    cr_assert_eq(total_rejected(&st), 3);
}

Test(lineproto, lines_longer_than_any_buffer, .init = quiet)
{
    struct kw_ingest_limits lim = limits();
    lim.max_metric_bytes = 255;
    /* measurement_field would not fit the 256-byte metric buffer */
    char *msg = malloc(300000);
    size_t n = 0;
    memset(msg + n, 'm', 200), n += 200;
    n += (size_t)sprintf(msg + n, " ");
    memset(msg + n, 'k', 100), n += 100;
    n += (size_t)sprintf(msg + n, "=1\n");
    /* a 255-byte measurement with "value" needs no buffer and is kept */
    memset(msg + n, 'a', 255), n += 255;
    n += (size_t)sprintf(msg + n, " value=1\n");
    /* a 250 KB tag value */
    n += (size_t)sprintf(msg + n, "m,journey=");
    memset(msg + n, 'x', 250000), n += 250000;
    n += (size_t)sprintf(msg + n, " value=1\nok value=2");
    struct capture cap;
    struct kw_ingest_stats st = run_lim(&lim, msg, n, KW_LINEPROTO_NS, &cap);
    free(msg);
    cr_assert_eq(st.rejected[KW_REJ_BAD_METRIC], 1);
    cr_assert_eq(st.rejected[KW_REJ_LABEL_TOO_LONG], 1);
    cr_assert_eq(total_rejected(&st), 2);
    cr_assert_eq(st.points_accepted, 2);
    cr_assert_str_eq(cap.pts[1], "ok{} 2 1700000000000");
}

struct reject_case {
    char text[160];
    size_t len; /* 0 = strlen(text) */
    int reason;
};

static struct reject_case rejects[] = {
    {"m,t x=1", 0, KW_REJ_BAD_LINE},
    {"m,=v x=1", 0, KW_REJ_BAD_LINE},
    {"m,t= x=1", 0, KW_REJ_BAD_LINE},
    {"m,t=a=b x=1", 0, KW_REJ_BAD_LINE},
    {",t=a x=1", 0, KW_REJ_BAD_LINE},
    {"m 1700000000000000000", 0, KW_REJ_BAD_LINE},
    {"m =1", 0, KW_REJ_BAD_LINE},
    {"m s=\"never closed", 0, KW_REJ_BAD_LINE},
    {"m s=\"a\"b", 0, KW_REJ_BAD_LINE},
    {"m x=1 1700000000000000000 7", 0, KW_REJ_BAD_LINE},
    {"m,t=a\\", 0, KW_REJ_BAD_ESCAPE},
    {"m x=1,y\\", 0, KW_REJ_BAD_ESCAPE},
    {"m", 0, KW_REJ_MISSING_FIELD},
    {"m,t=a", 0, KW_REJ_MISSING_FIELD},
    {"m,t=a   ", 0, KW_REJ_MISSING_FIELD},
    {"m x=abc", 0, KW_REJ_BAD_VALUE},
    {"m x=", 0, KW_REJ_BAD_VALUE},
    {"m x=1.5i", 0, KW_REJ_BAD_VALUE},
    {"m x=-1u", 0, KW_REJ_BAD_VALUE},
    {"m x=9223372036854775808i", 0, KW_REJ_BAD_VALUE},
    {"m x=0x10", 0, KW_REJ_BAD_VALUE},
    {"m x=tru", 0, KW_REJ_BAD_VALUE},
    {"m x=NaN", 0, KW_REJ_NON_FINITE},
    {"m x=-inf", 0, KW_REJ_NON_FINITE},
    {"m x=1e999", 0, KW_REJ_NON_FINITE},
    {"m x=1 -1700000000000000000", 0, KW_REJ_BAD_TIMESTAMP},
    {"m x=1 17e17", 0, KW_REJ_BAD_TIMESTAMP},
    {"m x=1 99999999999999999999999", 0, KW_REJ_BAD_TIMESTAMP},
    {"m x=1 4000000001000000000", 0, KW_REJ_BAD_TIMESTAMP},
    {"m x=1,x=2", 0, KW_REJ_DUPLICATE_FIELD},
    {"m s=\"text\"", 0, KW_REJ_STRING_FIELD},
    {"m,t=a x=1\0evil", 14, KW_REJ_NUL_CHARACTER},
    {"9m x=1", 0, KW_REJ_BAD_METRIC},
    {"m bad/field=1", 0, KW_REJ_BAD_METRIC},
    {"m,bad-key=v x=1", 0, KW_REJ_BAD_LABEL},
    {"m,a=1,a=2 x=1", 0, KW_REJ_BAD_LABEL},
    {"m,t=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa x=1", 0, KW_REJ_LABEL_TOO_LONG},
    {"m,a=1,b=2,c=3,d=4,e=5 x=1", 0, KW_REJ_TOO_MANY_LABELS},
    {"m,t=caf\xc3 x=1", 0, KW_REJ_INVALID_UTF8},
    {"m x=1 1600000000000000000", 0, KW_REJ_TOO_OLD},
    {"m x=1 1800000000000000000", 0, KW_REJ_TOO_NEW},
    {"# only a comment\n\n  \r\n", 0, KW_REJ_EMPTY_MESSAGE},
    {"", 0, KW_REJ_EMPTY_MESSAGE},
};

ParameterizedTestParameters(lineproto, every_rejection_reason)
{
    return cr_make_param_array(struct reject_case, rejects, sizeof rejects / sizeof rejects[0]);
}

ParameterizedTest(struct reject_case *c, lineproto, every_rejection_reason, .init = quiet)
{
    struct kw_ingest_limits lim = limits();
    struct capture cap;
    struct kw_ingest_stats st = run_lim(&lim, c->text, c->len ? c->len : strlen(c->text), KW_LINEPROTO_NS, &cap);
    cr_assert_eq(st.rejected[c->reason], 1, "\"%s\": expected %s", c->text, kw_reject_name((enum kw_reject)c->reason));
    cr_assert_eq(total_rejected(&st), 1, "\"%s\"", c->text);
    cr_assert_eq(st.points_accepted, 0, "\"%s\"", c->text);
}

Test(lineproto, more_tags_or_fields_than_a_line_may_hold, .init = quiet)
{
    char line[2048];
    size_t n = (size_t)sprintf(line, "m");
    for (int i = 0; i <= KW_MAX_LABELS; i++)
        n += (size_t)sprintf(line + n, ",t%d=v", i);
    sprintf(line + n, " x=1");
    struct capture cap;
    struct kw_ingest_stats st = run(line, &cap);
    cr_assert_eq(st.rejected[KW_REJ_TOO_MANY_LABELS], 1);

    n = (size_t)sprintf(line, "m ");
    for (int i = 0; i <= KW_LINEPROTO_MAX_FIELDS; i++)
        n += (size_t)sprintf(line + n, "%sf%d=1", i ? "," : "", i);
    st = run(line, &cap);
    cr_assert_eq(st.rejected[KW_REJ_BAD_LINE], 1);
    cr_assert_eq(st.points_accepted, 0);
}

Test(lineproto, oversized_message, .init = quiet)
{
    struct kw_ingest_limits lim = limits();
    lim.max_message_bytes = 64;
    const char *msg = "m value=1\nm value=2\nm value=3\nm value=4\nm value=5\nm value=6\nm value=7\n";
    struct capture cap;
    struct kw_ingest_stats st = run_lim(&lim, msg, strlen(msg), KW_LINEPROTO_NS, &cap);
    cr_assert_eq(st.rejected[KW_REJ_OVERSIZED_MESSAGE], 1);
    cr_assert_eq(st.points_accepted, 0);
}

/* The same points as JSON and as lines reach the sink identical. */
Test(lineproto, parity_with_json_points, .init = quiet)
{
    const char *json =
        "[{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\",\"channel\":\"app\"},\"value\":3,\"ts\":1700000000},"
        "{\"metric\":\"checkout_latency\",\"labels\":{\"journey\":\"checkout\"},\"value\":-1.25e-3,\"ts\":1700000000.5},"
        "{\"metric\":\"nps\",\"value\":0.1,\"ts\":1700000000123},"
        "{\"metric\":\"nps\",\"value\":123456.789,\"ts\":1700000000123},"
        "{\"metric\":\"nps\",\"value\":12345678901234567.5,\"ts\":1700000000123},"
        "{\"metric\":\"drops\",\"labels\":{\"step\":\"pay\"},\"value\":-7,\"ts\":1699999999}]";
    const char *lines = "complaints,journey=checkout,channel=app value=3i 1700000000000000000\n"
                        "checkout,journey=checkout latency=-1.25e-3 1700000000500000000\n"
                        "nps value=0.1 1700000000123000000\n"
                        "nps value=123456.789 1700000000123000000\n"
                        "nps value=12345678901234567.5 1700000000123000000\n"
                        "drops,step=pay value=-7i 1699999999000000000\n";
    struct kw_ingest_limits lim = limits();
    struct kw_ingest_stats from_json = {0};
    struct capture want, got;
    memset(&want, 0, sizeof want);
    kw_ingest_message(&lim, &from_json, "json", json, strlen(json), NOW_MS, capture_sink, &want);
    struct kw_ingest_stats from_lines = run(lines, &got);
    cr_assert_eq(from_json.points_accepted, 6);
    cr_assert_eq(from_lines.points_accepted, 6);
    for (int i = 0; i < 6; i++)
        cr_assert_str_eq(got.pts[i], want.pts[i], "point %d", i);
}

struct verdict_case {
    char lines[160];
    char json[200];
};

static struct verdict_case verdicts[] = {
    {"9not-a-metric value=1 1700000000000000000", "{\"metric\":\"9not-a-metric\",\"value\":1,\"ts\":1700000000}"},
    {"m,bad\\ label=x value=1 1700000000000000000",
     "{\"metric\":\"m\",\"value\":1,\"ts\":1700000000,\"labels\":{\"bad label\":\"x\"}}"},
    {"m,journey=\xff\xfe value=1 1700000000000000000",
     "{\"metric\":\"m\",\"value\":1,\"ts\":1700000000,\"labels\":{\"journey\":\"\xff\xfe\"}}"},
    {"m value=NaN 1700000000000000000", "{\"metric\":\"m\",\"value\":\"NaN\",\"ts\":1700000000}"},
    {"m value=1 1500000000000000000", "{\"metric\":\"m\",\"value\":1,\"ts\":1500000000}"},
    {"m,a=1,b=2,c=3,d=4,e=5 value=1 1700000000000000000",
     "{\"metric\":\"m\",\"value\":1,\"ts\":1700000000,\"labels\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\"}}"},
};

ParameterizedTestParameters(lineproto, same_verdict_as_json)
{
    return cr_make_param_array(struct verdict_case, verdicts, sizeof verdicts / sizeof verdicts[0]);
}

ParameterizedTest(struct verdict_case *c, lineproto, same_verdict_as_json, .init = quiet)
{
    struct kw_ingest_limits lim = limits();
    struct kw_ingest_stats from_json = {0};
    struct capture cap;
    kw_ingest_message(&lim, &from_json, "json", c->json, strlen(c->json), NOW_MS, capture_sink, &cap);
    struct kw_ingest_stats from_lines = run(c->lines, &cap);
    cr_assert_eq(from_lines.points_accepted, from_json.points_accepted);
    cr_assert_eq(total_rejected(&from_json), 1);
    for (int r = 0; r < KW_REJ_COUNT; r++)
        cr_assert_eq(from_lines.rejected[r], from_json.rejected[r], "%s: lines %llu json %llu",
                     kw_reject_name((enum kw_reject)r), (unsigned long long)from_lines.rejected[r],
                     (unsigned long long)from_json.rejected[r]);
}

/* "format" and "precision" are options of the input itself. */
Test(lineproto, input_format_and_precision_options, .init = quiet)
{
    static const char *const texts[] = {
        "{\"name\":\"a\",\"endpoint\":\"tcp://127.0.0.1:1\",\"format\":\"influx\",\"precision\":\"ms\"}",
        "{\"name\":\"a\",\"endpoint\":\"tcp://127.0.0.1:1\"}",
        "{\"name\":\"a\",\"endpoint\":\"tcp://127.0.0.1:1\",\"precision\":\"s\"}",
        "{\"name\":\"a\",\"endpoint\":\"tcp://127.0.0.1:1\",\"format\":\"influx\",\"precision\":\"minutes\"}",
        "{\"name\":\"a\",\"endpoint\":\"tcp://127.0.0.1:1\",\"format\":\"csv\"}",
    };
    int rc[5];
    struct kw_input_config in[5];
    char err[5][KW_ERR_LEN];
    for (int i = 0; i < 5; i++) {
        cJSON *obj = cJSON_Parse(texts[i]);
        memset(&in[i], 0, sizeof in[i]);
        err[i][0] = '\0';
        rc[i] = kw_input_parse(&in[i], obj, "inputs[0]", err[i], sizeof err[i]);
        cJSON_Delete(obj);
    }
    cr_assert_eq(rc[0], 0, "%s", err[0]);
    cr_assert_eq(in[0].format, KW_INPUT_INFLUX);
    cr_assert_eq(in[0].precision, KW_LINEPROTO_MS);
    cr_assert_eq(rc[1], 0, "%s", err[1]);
    cr_assert_eq(in[1].format, KW_INPUT_JSON, "json is the default");
    cr_assert_eq(in[1].precision, KW_LINEPROTO_NS, "ns is the default, as in InfluxDB");
    cr_assert_eq(rc[2], -1, "a precision on a json input is a mistake");
    cr_assert(strstr(err[2], "inputs[0].precision") != NULL, "%s", err[2]);
    cr_assert_eq(rc[3], -1);
    cr_assert(strstr(err[3], "inputs[0].precision") != NULL, "%s", err[3]);
    cr_assert_eq(rc[4], -1);
    cr_assert(strstr(err[4], "inputs[0].format") != NULL, "%s", err[4]);
    for (int i = 0; i < 5; i++)
        kw_input_release(&in[i]);
}
