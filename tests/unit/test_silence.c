/* Silences: matchers (=, !=, anchored =~ and !~), the active window, expiry,
 * persistence across a reopen, config silences replaced on reload, and
 * errors that name the key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/silence.h"
#include "../../lib/log.h"
#include "../../lib/timefmt.h"

#define NOW 1764590400000LL /* 2025-12-01T12:00:00Z */

static struct kw_alert alert(const char *kpi, const char *journey, const char *step)
{
    struct kw_alert a = {0};
    snprintf(a.kpi, sizeof a.kpi, "%s", kpi);
    snprintf(a.labels[0].name, sizeof a.labels[0].name, "journey");
    snprintf(a.labels[0].value, sizeof a.labels[0].value, "%s", journey);
    a.nlabels = 1;
    if (step) {
        snprintf(a.labels[1].name, sizeof a.labels[1].name, "step");
        snprintf(a.labels[1].value, sizeof a.labels[1].value, "%s", step);
        a.nlabels = 2;
    }
    return a;
}

static void add(struct kw_silences *s, const char *json, struct kw_silence *out)
{
    cJSON *j = cJSON_Parse(json);
    cr_assert_not_null(j, "%s", json);
    char err[256];
    cr_assert_eq(kw_silence_parse(out, j, NOW, "silence", err, sizeof err), 0, "%s", err);
    cr_assert_eq(kw_silences_add(s, out, err, sizeof err), 0, "%s", err);
    cJSON_Delete(j);
}

Test(silence, matchers_and_anchoring)
{
    kw_log_set_level(KW_LOG_OFF);
    struct kw_silences *s = kw_silences_open(NULL);
    struct kw_silence sil;
    add(s, "{\"matchers\":[{\"name\":\"kpi\",\"value\":\"step_dropoff_rate\"},"
           "{\"name\":\"step\",\"value\":\"pay.*\",\"op\":\"=~\"},{\"name\":\"journey\",\"value\":\"claims\",\"op\":\"!=\"}],"
           "\"ends_at\":\"2025-12-01T13:00:00Z\",\"created_by\":\"sre\",\"comment\":\"payment provider maintenance\"}",
        &sil);
    char id[KW_SILENCE_ID];
    struct kw_alert a = alert("step_dropoff_rate", "checkout", "payment");
    cr_assert(kw_silences_match(s, &a, NOW + 1000, id));
    cr_assert_str_eq(id, sil.id);
    a = alert("step_dropoff_rate", "checkout", "prepayment");
    cr_assert_not(kw_silences_match(s, &a, NOW + 1000, id), "=~ is anchored at the start");
    a = alert("step_dropoff_rate", "claims", "payment");
    cr_assert_not(kw_silences_match(s, &a, NOW + 1000, id), "!= excludes claims");
    a = alert("complaints", "checkout", "payment");
    cr_assert_not(kw_silences_match(s, &a, NOW + 1000, id), "kpi matches as a label");
    a = alert("step_dropoff_rate", "checkout", "payment");
    cr_assert_not(kw_silences_match(s, &a, NOW + 3600000, id), "over at ends_at");
    cr_assert_not(kw_silences_match(s, &a, NOW - 1, id), "not before starts_at");
    kw_silences_close(s);
}

Test(silence, not_regex_and_absent_labels)
{
    kw_log_set_level(KW_LOG_OFF);
    struct kw_silences *s = kw_silences_open(NULL);
    struct kw_silence sil;
    add(s, "{\"matchers\":[{\"name\":\"step\",\"value\":\"pay|ship\",\"op\":\"!~\"}],\"ends_at\":\"2025-12-01T13:00:00Z\"}",
        &sil);
    char id[KW_SILENCE_ID];
    struct kw_alert a = alert("x", "checkout", "login");
    cr_assert(kw_silences_match(s, &a, NOW, id));
    a = alert("x", "checkout", "ship");
    cr_assert_not(kw_silences_match(s, &a, NOW, id));
    a = alert("x", "checkout", NULL);
    cr_assert(kw_silences_match(s, &a, NOW, id), "an absent label is the empty string");
    kw_silences_close(s);
}

Test(silence, expire_persist_and_reopen)
{
    kw_log_set_level(KW_LOG_OFF);
    char dir[] = "/tmp/kw-silence-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    struct kw_silences *s = kw_silences_open(dir);
    struct kw_silence a1, a2;
    int64_t now = kw_now_ms();
    char json[512], t[40];
    snprintf(json, sizeof json, "{\"matchers\":[{\"name\":\"journey\",\"value\":\"checkout\"}],\"ends_at\":\"%s\"}",
             kw_time_format(now + 3600000, t, sizeof t));
    cJSON *j = cJSON_Parse(json);
    char err[256];
    cr_assert_eq(kw_silence_parse(&a1, j, now, "s", err, sizeof err), 0, "%s", err);
    cr_assert_eq(kw_silences_add(s, &a1, err, sizeof err), 0);
    cr_assert_eq(kw_silence_parse(&a2, j, now, "s", err, sizeof err), 0);
    cr_assert_eq(kw_silences_add(s, &a2, err, sizeof err), 0);
    cJSON_Delete(j);
    cr_assert_str_neq(a1.id, a2.id, "ids are unique");
    cr_assert_eq(kw_silences_expire(s, a1.id, now + 1000), 0);
    cr_assert_eq(kw_silences_expire(s, "no-such-id", now), -1);
    kw_silences_close(s);

    s = kw_silences_open(dir); /* as after a restart */
    cJSON *list = kw_silences_list(s, now + 2000);
    cr_assert_eq(cJSON_GetArraySize(list), 2);
    int active = 0, expired = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        const char *status = cJSON_GetObjectItem(it, "status")->valuestring;
        active += strcmp(status, "active") == 0;
        expired += strcmp(status, "expired") == 0;
    }
    cr_assert_eq(active, 1);
    cr_assert_eq(expired, 1);
    cJSON_Delete(list);
    char id[KW_SILENCE_ID];
    struct kw_alert a = alert("complaints", "checkout", NULL);
    cr_assert(kw_silences_match(s, &a, now + 2000, id));
    cr_assert_str_eq(id, a2.id);
    kw_silences_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A silences file that is not one is kept aside as .bad, and the store
 * starts empty rather than overwriting it. */
Test(silence, a_damaged_file_is_kept_aside)
{
    kw_log_set_level(KW_LOG_OFF);
    static const char *const files[] = {"{\"silences\": [", "[]"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char dir[] = "/tmp/kw-silence-XXXXXX", path[64], bad[64];
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/silences.json", dir);
        snprintf(bad, sizeof bad, "%s/silences.json.bad", dir);
        FILE *f = fopen(path, "w");
        fputs(files[i], f);
        fclose(f);
        struct kw_silences *s = kw_silences_open(dir);
        cJSON *list = kw_silences_list(s, NOW);
        cr_assert_eq(cJSON_GetArraySize(list), 0);
        cJSON_Delete(list);
        kw_silences_close(s);
        cr_assert_eq(access(path, F_OK), -1, "file %zu was left in place", i);
        cr_assert_eq(access(bad, F_OK), 0, "file %zu was not kept as .bad", i);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        cr_assert_eq(system(cmd), 0);
    }
}

Test(silence, config_silences_are_replaced_on_reload)
{
    kw_log_set_level(KW_LOG_OFF);
    struct kw_silences *s = kw_silences_open(NULL);
    struct kw_silence cfg[1];
    cJSON *j = cJSON_Parse("{\"matchers\":[{\"name\":\"journey\",\"value\":\"claims\"}],\"ends_at\":\"2025-12-02T00:00:00Z\"}");
    char err[256];
    cr_assert_eq(kw_silence_parse(&cfg[0], j, NOW, "silences[0]", err, sizeof err), 0);
    cJSON_Delete(j);
    kw_silences_set_config(s, cfg, 1);
    char id[KW_SILENCE_ID];
    struct kw_alert a = alert("complaints", "claims", NULL);
    cr_assert(kw_silences_match(s, &a, NOW, id));
    cr_assert_str_eq(id, "config-0");
    cr_assert_eq(kw_silences_expire(s, "config-0", NOW), -1, "a config silence is ended by editing the config");
    kw_silences_set_config(s, NULL, 0);
    cr_assert_not(kw_silences_match(s, &a, NOW, id), "gone after a reload without it");
    kw_silences_close(s);
}

Test(silence, errors_name_the_key)
{
    const char *bad[][2] = {
        {"{\"matchers\":[],\"ends_at\":\"2025-12-02T00:00:00Z\"}", "s.matchers: must be a list of 1 to 8 matchers"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"b\",\"op\":\"~\"}],\"ends_at\":\"2025-12-02T00:00:00Z\"}",
         "s.matchers[0].op: must be one of =, !=, =~, !~"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}]}", "s.ends_at: is required (RFC 3339)"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"ends_at\":\"2025-12-01T11:00:00Z\"}",
         "s.ends_at: must be after starts_at"},
        {"{\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"ends_at\":\"2025-12-02T00:00:00Z\",\"until\":1}",
         "s.until: unknown key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *j = cJSON_Parse(bad[i][0]);
        struct kw_silence sil;
        char err[256] = "";
        cr_assert_eq(kw_silence_parse(&sil, j, NOW, "s", err, sizeof err), -1, "%s", bad[i][0]);
        cr_assert(strncmp(err, bad[i][1], strlen(bad[i][1])) == 0, "got \"%s\" want \"%s\"", err, bad[i][1]);
        cJSON_Delete(j);
    }
    struct kw_silence sil = {.nmatchers = 1, .starts_ms = 0, .ends_ms = 1};
    snprintf(sil.matchers[0].name, sizeof sil.matchers[0].name, "a");
    snprintf(sil.matchers[0].value, sizeof sil.matchers[0].value, "(unclosed");
    sil.matchers[0].op = KW_MATCH_RE;
    char err[256];
    cr_assert_eq(kw_silence_check(&sil, err, sizeof err), -1);
    cr_assert(strncmp(err, "matchers[0].value: not a valid regular expression", 49) == 0, "%s", err);
}
