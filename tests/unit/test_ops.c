/* Unit tests for the operations side: the logger never prints a registered
 * secret or a URL's password and writes valid logfmt; the history store
 * stays within its bound, keeps firing and anomalous series over quiet
 * ones, and hands out copies in rank order; /metrics text is well formed. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/metrics.h"
#include "../../lib/log.h"
#include "../../lib/secret.h"
#include "../../lib/strbuf.h"
#include "history_rig.h"

/* Everything kw_log writes while fn runs. */
static char *capture_log(void (*fn)(void))
{
    char path[] = "/tmp/kpiwatch-log-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    char *buf = calloc(1, 65536);
    cr_assert_geq(read(fd, buf, 65535), 0);
    close(fd);
    unlink(path);
    return buf;
}

static void log_secrets(void)
{
    kw_log_redact("xoxb-secret-token-123");
    kw_log_redact("short"); /* too short to be a secret: kept */
    kw_info("test", "posting to https://hooks.example.com/xoxb-secret-token-123/x with short words");
    kw_warn("slack/cx", "proxy http://ana:hunter22@proxy.local:3128/ refused, twice: xoxb-secret-token-123xoxb-secret-token-123");
}

Test(log, registered_secrets_and_url_passwords_are_redacted)
{
    kw_log_set_format(KW_LOG_TEXT);
    char *out = capture_log(log_secrets);
    cr_assert(strstr(out, "xoxb-secret-token-123") == NULL, "%s", out);
    cr_assert(strstr(out, "hunter22") == NULL, "%s", out);
    cr_assert(strstr(out, "https://hooks.example.com/[redacted]/x with short words") != NULL, "%s", out);
    cr_assert(strstr(out, "http://[redacted]@proxy.local:3128/") != NULL, "%s", out);
    cr_assert(strstr(out, "twice: [redacted][redacted]") != NULL, "%s", out);
    free(out);
}

/* A URL secret's parts are secrets too: a service that refuses a request
 * may echo the query's token or the Basic credentials made from the URL,
 * and that answer ends up in the log and the dead-letter file. */
Test(log, a_url_secrets_parts_are_redacted_too)
{
    char *url = NULL, err[256];
    cr_assert_eq(kw_secret_resolve("http://alice:PASSWORDXYZ@127.0.0.1:1/hook?token=URLTOKENSECRET42&x=1", NULL, 1,
                                   "url", "url_file", &url, err, sizeof err),
                 0, "%s", err);
    char *out = kw_log_redact_text("HTTP 400: bad request for /hook?token=URLTOKENSECRET42 auth=Basic "
                                   "YWxpY2U6UEFTU1dPUkRYWVo= user alice:PASSWORDXYZ pw PASSWORDXYZ x=1");
    cr_assert(!strstr(out, "URLTOKENSECRET42") && !strstr(out, "YWxpY2U6UEFTU1dPUkRYWVo=") && !strstr(out, "PASSWORDXYZ"),
              "%s", out);
    cr_assert(strstr(out, "x=1"), "short values are not secrets: %s", out);
    free(out);
    kw_secret_free(url);
}

static void log_logfmt(void)
{
    kw_log_set_format(KW_LOG_LOGFMT);
    kw_warn("console/ops team", "said \"hi\"\nand left\\");
    kw_info("http", "plain");
    kw_log_set_format(KW_LOG_TEXT);
}

Test(log, logfmt_quotes_what_needs_it)
{
    char *out = capture_log(log_logfmt);
    char *second = strchr(out, '\n');
    cr_assert_not_null(second);
    *second++ = '\0';
    cr_assert_eq(strncmp(out, "ts=", 3), 0, "%s", out);
    cr_assert(strstr(out, " level=warn component=\"console/ops team\" msg=\"said \\\"hi\\\"\\nand left\\\\\"") != NULL,
              "%s", out);
    cr_assert(strstr(second, " level=info component=http msg=\"plain\"\n") != NULL, "%s", second);
    free(out);
}

/* ---- history ---------------------------------------------------------------- */

static struct history_rig rig;

static void setup(void)
{
    history_rig_init(&rig, 8, 6);
}

static void teardown(void)
{
    history_rig_release(&rig);
}

/* One closed interval of series i at interval t with the given verdict. */
static void push(struct kw_history *h, int i, int t, double value, double score, bool anomalous)
{
    history_rig_push(&rig, h, i, t, value,
                     (struct kw_verdict){.ready = true, .anomalous = anomalous, .expected = 10, .lower = 5,
                                         .upper = 15, .anomaly_score = score});
}

Test(history, stays_within_its_bound_and_keeps_what_matters, .init = setup, .fini = teardown)
{
    struct kw_history *h = kw_history_new(4, 86400000);
    /* four quiet series fill it; a fifth quiet one finds no room */
    for (int t = 0; t < 10; t++)
        for (int i = 0; i < 5; i++)
            push(h, i, t, 10, 0.05, false);
    size_t n, bytes;
    kw_history_usage(h, &n, &bytes);
    cr_assert_eq(n, 4);
    cr_assert_eq(bytes, 4 * (288 * sizeof(struct kw_history_point) + sizeof(struct kw_alert_label)),
                 "a day of 5-minute intervals per series: %zu", bytes);
    cr_assert(!history_rig_tracked(&rig, h, 4));
    /* it turns anomalous: it takes a quiet series' place, with its sparkline as history */
    push(h, 4, 10, 40, 0.9, true);
    cr_assert(history_rig_tracked(&rig, h, 4));
    kw_history_usage(h, &n, &bytes);
    cr_assert_eq(n, 4);
    struct kw_history_entry e;
    cr_assert_eq(kw_history_get(h, rig.series[4]->alert_key, &e), 0);
    cr_assert_eq(e.npoints, 11, "ten backfilled values and this one");
    cr_assert(isnan(e.points[0].expected));
    cr_assert_eq(e.points[0].ts_ms, 0);
    cr_assert_eq(e.points[10].observed, 40);
    cr_assert(e.points[10].flags & KW_HP_ANOMALOUS);
    kw_history_entry_release(&e);
    /* the anomalous one now ranks first */
    struct kw_history_entry *list;
    size_t count = kw_history_list(h, "c", false, 0, &list);
    cr_assert_eq(count, 4);
    cr_assert_str_eq(list[0].key, rig.series[4]->alert_key);
    kw_history_entries_free(list, count);
    /* a much higher scoring quiet newcomer displaces the lowest-ranked quiet one */
    push(h, 5, 10, 12, 0.6, false);
    cr_assert(history_rig_tracked(&rig, h, 5));
    cr_assert(history_rig_tracked(&rig, h, 4), "the anomalous series keeps its place");
    kw_history_free(h);
}

Test(history, a_kpi_keeps_a_few_series_and_firing_wins, .init = setup, .fini = teardown)
{
    struct kw_history *h = kw_history_new(4, 86400000);
    for (int i = 0; i < 3; i++)
        push(h, i, 0, 10, 0.0, false);
    push(h, 6, 0, 10, 0.0, false); /* KPI d's only series */
    /* an anomalous series of KPI c may not take KPI d's last series... */
    push(h, 3, 1, 40, 0.9, true);
    cr_assert(history_rig_tracked(&rig, h, 3));
    cr_assert(history_rig_tracked(&rig, h, 6), "KPI d lost its only series");
    /* ...and a firing one takes the place of a non-firing one */
    rig.series[5]->alert.phase = KW_PHASE_FIRING;
    push(h, 5, 1, 40, 0.9, true);
    cr_assert(history_rig_tracked(&rig, h, 5));
    struct kw_history_entry *list;
    size_t n = kw_history_list(h, NULL, true, 0, &list);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(list[0].key, rig.series[5]->alert_key, "firing first");
    cr_assert(list[0].firing);
    cr_assert(list[0].points[list[0].npoints - 1].flags & KW_HP_FIRING);
    kw_history_entries_free(list, n);
    rig.series[5]->alert.phase = KW_PHASE_OK;
    kw_history_free(h);
}

Test(metrics, exposition_is_well_formed)
{
    struct kw_status_kpi kpi = {.name = "a\"b\\c\nd", .series = 3, .alerts_firing = 1};
    struct kw_status_receiver rcv = {.name = "ops", .type = "slack", .stats = {.sent = 5, .depth = 2}};
    struct kw_status_view v = {.nkpis = 1, .kpis = &kpi, .nreceivers = 1, .receivers = &rcv, .ready = KW_READY_ALL,
                               .started_ms = 1000, .persistent = true};
    v.ingest.points_accepted = 42;
    struct kw_metrics_extra x = {.silences_known = true, .silences_active = 1};
    size_t len;
    char *text = kw_metrics_render(&v, &x, &len);
    cr_assert_eq(strlen(text), len);
    cr_assert(strstr(text, "\nkpiwatch_series{kpi=\"a\\\"b\\\\c\\nd\"} 3\n") != NULL, "label not escaped:\n%s", text);
    cr_assert(strstr(text, "\nkpiwatch_notifications_sent_total{receiver=\"ops\",type=\"slack\"} 5\n") != NULL);
    cr_assert(strstr(text, "\nkpiwatch_spool_notifications 2\n") != NULL);
    cr_assert(strstr(text, "\nkpiwatch_points_accepted_total 42\n") != NULL);
    cr_assert(strstr(text, "\nkpiwatch_ready 1\n") != NULL);
    /* every sample follows its family's HELP and TYPE */
    char *copy = strdup(text), *family = NULL;
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "# TYPE ", 7) == 0) {
            family = line + 7;
            continue;
        }
        if (line[0] == '#')
            continue;
        cr_assert_not_null(family, "%s", line);
        size_t flen = strcspn(family, " ");
        cr_assert(strncmp(line, family, flen) == 0 && (line[flen] == ' ' || line[flen] == '{'), "%s after %s", line, family);
    }
    free(copy);
    free(text);
}
