/* The feedback record as the HTTP API serves it: read once, served from
 * memory while the file is unchanged, read again when a write replaced it,
 * and gone when the file is. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/feedback.h"
#include "../../lib/fileio.h"

static char dir[] = "/tmp/kw-feedback-XXXXXX";
static char path[64];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/feedback.json", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Replace the record as the agent does, with n false alarms on poisson. */
static void write_record(int n)
{
    char text[128], err[256];
    snprintf(text, sizeof text, "{\"counts\": {\"poisson\": {\"false_alarm\": %d}}, \"records\": []}", n);
    cr_assert_eq(kw_write_file_atomic(path, text, strlen(text), err, sizeof err), 0, "%s", err);
}

static int false_alarms(const cJSON *record)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(record, "counts"), "poisson");
    return cJSON_GetObjectItemCaseSensitive(d, "false_alarm")->valueint;
}

Test(feedback_cache, read_only_when_the_file_changes, .init = setup, .fini = teardown)
{
    struct kw_feedback_cache c = {0};
    cr_assert_null(kw_feedback_cache_get(&c, dir), "no file, no record");
    cr_assert_null(kw_feedback_cache_get(&c, NULL));

    write_record(1);
    cr_assert_eq(false_alarms(kw_feedback_cache_get(&c, dir)), 1);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(false_alarms(kw_feedback_cache_get(&c, dir)), 1);
    cr_assert_eq(c.reads, 1, "read %llu times while unchanged", (unsigned long long)c.reads);

    write_record(2);
    cr_assert_eq(false_alarms(kw_feedback_cache_get(&c, dir)), 2, "a replaced file is read again");
    cr_assert_eq(c.reads, 2);

    cr_assert_eq(unlink(path), 0);
    cr_assert_null(kw_feedback_cache_get(&c, dir), "a removed file is no record");
    kw_feedback_cache_release(&c);
}
