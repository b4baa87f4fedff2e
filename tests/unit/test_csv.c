/* The CSV reader judges a point exactly as the JSON reader does: the same
 * bad metric, label, value or timestamp is rejected under the same reason. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/csv.h"
#include "../../agent/ingest.h"
#include "../../lib/log.h"

static int accept_all(void *ctx, const struct kw_point *pt, enum kw_reject *why)
{
    (void)pt;
    (void)why;
    ++*(int *)ctx;
    return 0;
}

static struct kw_ingest_limits limits(void)
{
    return (struct kw_ingest_limits){.max_labels = 4, .max_label_bytes = 32, .max_metric_bytes = 40,
                                     .max_message_bytes = 4096, .check_time = false};
}

struct parity_case {
    char csv[256];   /* header + one row */
    char json[256];  /* the same point */
    int reason;      /* enum kw_reject, or -1 = accepted */
};

static struct parity_case cases[] = {
    {"timestamp,value,metric\n1700000000,1,9not-a-metric\n",
     "{\"metric\":\"9not-a-metric\",\"value\":1,\"ts\":1700000000}", KW_REJ_BAD_METRIC},
    {"timestamp,value,bad label!\n1700000000,1,x\n",
     "{\"metric\":\"m\",\"value\":1,\"ts\":1700000000,\"labels\":{\"bad label!\":\"x\"}}", KW_REJ_BAD_LABEL},
    {"timestamp,value,journey\n1700000000,1,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
     "{\"metric\":\"m\",\"value\":1,\"ts\":1700000000,\"labels\":{\"journey\":"
     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}", KW_REJ_LABEL_TOO_LONG},
    {"timestamp,value\n1700000000,abc\n", "{\"metric\":\"m\",\"value\":\"abc\",\"ts\":1700000000}", KW_REJ_BAD_VALUE},
    {"timestamp,value\n1700000000,nan\n", "{\"metric\":\"m\",\"value\":\"nan\",\"ts\":1700000000}", KW_REJ_NON_FINITE},
    {"timestamp,value\nyesterday,1\n", "{\"metric\":\"m\",\"value\":1,\"ts\":\"yesterday\"}", KW_REJ_BAD_TIMESTAMP},
    {"timestamp,value,journey\n1700000000,1,\xff\xfe\n",
     "{\"metric\":\"m\",\"value\":1,\"ts\":1700000000,\"labels\":{\"journey\":\"\xff\xfe\"}}", KW_REJ_INVALID_UTF8},
    {"timestamp,value,a,b,c,d,e\n1700000000,1,1,2,3,4,5\n",
     "{\"metric\":\"m\",\"value\":1,\"ts\":1700000000,\"labels\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\"}}",
     KW_REJ_TOO_MANY_LABELS},
    {"timestamp,value,journey\n1700000000,2.5,checkout\n",
     "{\"metric\":\"m\",\"value\":2.5,\"ts\":1700000000,\"labels\":{\"journey\":\"checkout\"}}", -1},
};

ParameterizedTestParameters(csv, same_verdict_as_json)
{
    return cr_make_param_array(struct parity_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct parity_case *c, csv, same_verdict_as_json)
{
    kw_log_set_level(KW_LOG_OFF);
    struct kw_ingest_limits lim = limits();
    struct kw_ingest_stats from_json = {0}, from_csv = {0};
    int taken_json = 0, taken_csv = 0;
    kw_ingest_message(&lim, &from_json, "json", c->json, strlen(c->json), 0, accept_all, &taken_json);

    char path[] = "/tmp/kw-csv-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(write(fd, c->csv, strlen(c->csv)) == (ssize_t)strlen(c->csv));
    close(fd);
    struct kw_csv csv;
    cr_assert_eq(kw_csv_load(&csv, path), 0);
    kw_csv_ingest(&csv, path, "m", &lim, &from_csv, accept_all, &taken_csv);
    kw_csv_release(&csv);
    unlink(path);

    cr_assert_eq(taken_csv, taken_json);
    cr_assert_eq(taken_json, c->reason < 0 ? 1 : 0, "JSON verdict");
    for (int r = 0; r < KW_REJ_COUNT; r++)
        cr_assert_eq(from_csv.rejected[r], from_json.rejected[r], "%s: csv %llu json %llu",
                     kw_reject_name((enum kw_reject)r), (unsigned long long)from_csv.rejected[r],
                     (unsigned long long)from_json.rejected[r]);
    if (c->reason >= 0)
        cr_assert_eq(from_json.rejected[c->reason], 1, "expected %s", kw_reject_name((enum kw_reject)c->reason));
}
