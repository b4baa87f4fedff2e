/* The console receiver through the notifier vtable: an incident header and
 * one line per alert of a group in text, or JSON lines, on the configured
 * stream. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../notifiers/notifier.h"

static char *capture_console(const char *format)
{
    char json[128];
    snprintf(json, sizeof json, "{\"name\":\"c\",\"type\":\"console\",\"format\":\"%s\"}", format);
    cJSON *obj = cJSON_Parse(json);
    struct kw_receiver r;
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_receiver_parse(&r, obj, "receivers[0]", err, sizeof err), 0, "%s", err);
    cJSON_Delete(obj);

    struct kw_alert alerts[2] = {0};
    snprintf(alerts[0].kpi, sizeof alerts[0].kpi, "complaints");
    snprintf(alerts[1].kpi, sizeof alerts[1].kpi, "dropoff_rate");
    alerts[0].kind = KW_KIND_COUNT;
    alerts[1].kind = KW_KIND_RATE;
    struct kw_notification n = {.alerts = alerts, .nalerts = 2, .kind = KW_NOTIFY_FIRING, .key = "0123456789abcdef"};

    char path[] = "/tmp/kw-console-XXXXXX";
    int fd = mkstemp(path);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    struct kw_send_outcome out = {0};
    r.type->send(r.cfg, &n, &out);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    cr_assert_eq(out.result, KW_SEND_OK);
    kw_receiver_release(&r);

    char *buf = calloc(1, 8192);
    lseek(fd, 0, SEEK_SET);
    ssize_t got = read(fd, buf, 8191);
    cr_assert(got > 0);
    close(fd);
    unlink(path);
    return buf;
}

Test(console, text_writes_a_header_and_one_line_per_group_member)
{
    char *text = capture_console("text");
    cr_assert(strncmp(text, "── incident 0123456789abcdef · new · 2 alerts · first mover complaints", 74) == 0, "%s", text);
    char *first = strchr(text, '\n') + 1;
    cr_assert(strncmp(first, "FIRING warning | complaints", 27) == 0, "%s", text);
    char *second = strchr(first, '\n') + 1;
    cr_assert(strncmp(second, "FIRING warning | dropoff_rate", 29) == 0, "%s", text);
    cr_assert_eq(strchr(second, '\n')[1], '\0', "three lines expected: %s", text);
    free(text);
}

Test(console, json_writes_parseable_lines)
{
    char *text = capture_console("json");
    char *second = strchr(text, '\n');
    cr_assert(second != NULL);
    *second = '\0';
    cJSON *a = cJSON_Parse(text), *b = cJSON_Parse(second + 1);
    cr_assert(a && b, "not JSON lines: %s", text);
    cr_assert_str_eq(cJSON_GetObjectItem(a, "kpi")->valuestring, "complaints");
    cr_assert_str_eq(cJSON_GetObjectItem(b, "kpi")->valuestring, "dropoff_rate");
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(text);
}
