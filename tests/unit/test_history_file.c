/* Unit tests for the history file: what kw_history_save writes,
 * kw_history_load gives back point for point, and the restored series keep
 * taking points; a damaged, edited or oversized file loads nothing it
 * cannot vouch for and never crashes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "history_rig.h"

static struct history_rig rig;
static char dir[] = "/tmp/kpiwatch-history-XXXXXX";
static char path[64];

static void setup(void)
{
    history_rig_init(&rig, 3, 2);
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/history.json", dir);
}

static void teardown(void)
{
    history_rig_release(&rig);
    unlink(path);
    rmdir(dir);
}

/* Interval t of series i; before t = 3 the detector is warming up (no band). */
static void push(struct kw_history *h, int i, int t, double value, bool anomalous)
{
    history_rig_push(&rig, h, i, t, value,
                     (struct kw_verdict){.ready = t >= 3, .anomalous = anomalous, .expected = 10 + t * 0.1,
                                         .lower = 5, .upper = 15, .anomaly_score = anomalous ? 0.9 : 0.1});
}

/* A store with three series of 12 intervals each, the last two of j1 anomalous, saved to path. */
static struct kw_history *saved_store(void)
{
    struct kw_history *h = kw_history_new(8, 86400000);
    for (int t = 0; t < 12; t++)
        for (int i = 0; i < 3; i++)
            push(h, i, t, i == 1 && t >= 10 ? 40 : 10 + t, i == 1 && t >= 10);
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_history_save(h, path, err, sizeof err), 0, "%s", err);
    return h;
}

static int load(struct kw_history *h, char *err)
{
    return kw_history_load(h, rig.cfg.kpis, rig.cfg.nkpis, path, err, KW_ERR_LEN);
}

static bool same(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

Test(history_file, round_trip_keeps_every_point_and_the_series_stay_live, .init = setup, .fini = teardown)
{
    struct kw_history *before = saved_store();
    struct kw_history *after = kw_history_new(8, 86400000);
    char err[KW_ERR_LEN];
    cr_assert_eq(load(after, err), 3, "%s", err);
    for (int i = 0; i < 3; i++) {
        struct kw_history_entry a, b;
        cr_assert_eq(kw_history_get(before, rig.series[i]->alert_key, &a), 0);
        cr_assert_eq(kw_history_get(after, rig.series[i]->alert_key, &b), 0, "series %d was not restored", i);
        cr_assert_str_eq(a.kpi, b.kpi);
        cr_assert_eq(b.nlabels, 1);
        cr_assert_str_eq(b.labels[0].name, "journey");
        cr_assert_str_eq(a.labels[0].value, b.labels[0].value);
        cr_assert_eq(a.interval_ms, b.interval_ms);
        cr_assert_eq(a.score, b.score);
        cr_assert_eq(a.rank, b.rank);
        cr_assert_eq(a.firing, b.firing);
        cr_assert_eq(a.last_ts_ms, b.last_ts_ms);
        cr_assert_eq(b.npoints, 12);
        cr_assert_eq(a.npoints, b.npoints);
        for (int k = 0; k < a.npoints; k++) {
            const struct kw_history_point *p = &a.points[k], *q = &b.points[k];
            cr_assert(p->ts_ms == q->ts_ms && same(p->observed, q->observed) && same(p->expected, q->expected) &&
                          same(p->lower, q->lower) && same(p->upper, q->upper) && p->score == q->score &&
                          p->flags == q->flags,
                      "series %d point %d differs", i, k);
        }
        cr_assert(isnan(b.points[0].expected), "warm-up intervals have no band");
        kw_history_entry_release(&a);
        kw_history_entry_release(&b);
    }
    struct kw_history_entry *list;
    size_t n = kw_history_list(after, "c", false, 0, &list);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(list[0].key, rig.series[1]->alert_key, "the anomalous series still ranks first");
    kw_history_entries_free(list, n);
    /* the next interval lands in the restored ring */
    push(after, 0, 12, 99, false);
    struct kw_history_entry e;
    cr_assert_eq(kw_history_get(after, rig.series[0]->alert_key, &e), 0);
    cr_assert_eq(e.npoints, 13);
    cr_assert_eq(e.points[12].observed, 99);
    cr_assert_eq(e.points[11].ts_ms, 11 * 300000);
    kw_history_entry_release(&e);
    size_t tracked, bytes, tracked0, bytes0;
    kw_history_usage(before, &tracked0, &bytes0);
    kw_history_usage(after, &tracked, &bytes);
    cr_assert_eq(tracked, 3);
    cr_assert_eq(bytes, bytes0, "restored rings are accounted as admitted ones");
    kw_history_free(before);
    kw_history_free(after);
}

Test(history_file, config_and_size_changes_bound_what_is_restored, .init = setup, .fini = teardown)
{
    kw_history_free(saved_store());
    char err[KW_ERR_LEN];
    /* KPI d is gone from the config: its series is skipped */
    struct kw_history *h = kw_history_new(8, 86400000);
    cr_assert_eq(kw_history_load(h, rig.cfg.kpis, 1, path, err, sizeof err), 2, "%s", err);
    cr_assert(!history_rig_tracked(&rig, h, 2));
    kw_history_free(h);
    /* a smaller store takes what fits */
    h = kw_history_new(2, 86400000);
    cr_assert_eq(load(h, err), 2);
    size_t n, bytes;
    kw_history_usage(h, &n, &bytes);
    cr_assert_eq(n, 2);
    kw_history_free(h);
    /* a shorter window keeps the newest points that fit its ring */
    h = kw_history_new(8, 3600000);
    cr_assert_eq(load(h, err), 3);
    struct kw_history_entry e;
    cr_assert_eq(kw_history_get(h, rig.series[0]->alert_key, &e), 0);
    cr_assert_eq(e.npoints, 12);
    kw_history_entry_release(&e);
    push(h, 0, 12, 99, false);
    cr_assert_eq(kw_history_get(h, rig.series[0]->alert_key, &e), 0);
    cr_assert_eq(e.npoints, 12, "an hour of 5-minute intervals");
    cr_assert_eq(e.points[0].ts_ms, 1 * 300000);
    kw_history_entry_release(&e);
    kw_history_free(h);
    /* a missing file is no error */
    unlink(path);
    h = kw_history_new(8, 86400000);
    cr_assert_eq(load(h, err), 0);
    cr_assert_str_eq(err, "");
    kw_history_free(h);
}

Test(history_file, after_the_clock_went_back_the_newest_run_is_saved, .init = setup, .fini = teardown)
{
    struct kw_history *h = kw_history_new(8, 86400000);
    for (int t = 0; t < 6; t++)
        push(h, 0, t, 10, false);
    push(h, 0, 2, 20, false); /* older data replayed */
    push(h, 0, 3, 30, false);
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_history_save(h, path, err, sizeof err), 0, "%s", err);
    kw_history_free(h);
    h = kw_history_new(8, 86400000);
    cr_assert_eq(load(h, err), 1, "the series did not come back");
    struct kw_history_entry e;
    cr_assert_eq(kw_history_get(h, rig.series[0]->alert_key, &e), 0);
    cr_assert_eq(e.npoints, 2);
    cr_assert(e.points[0].ts_ms == 2 * 300000 && e.points[0].observed == 20);
    cr_assert(e.points[1].ts_ms == 3 * 300000 && e.points[1].observed == 30);
    kw_history_entry_release(&e);
    kw_history_free(h);
}

static void write_text(const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

Test(history_file, a_file_that_is_not_history_is_refused_whole, .init = setup, .fini = teardown)
{
    kw_history_free(saved_store());
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    cr_assert_eq(getdelim(&text, &len, '\0', f) > 0, true);
    fclose(f);
    size_t full = strlen(text);
    const char *cases[] = {"", "{", "[]", "null", "{\"version\":1}", "{\"version\":\"1\",\"series\":[]}",
                           "{\"version\":2,\"series\":[]}", "{\"version\":1,\"series\":{}}"};
    char err[KW_ERR_LEN];
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        write_text(cases[c], strlen(cases[c]));
        struct kw_history *h = kw_history_new(8, 86400000);
        cr_assert_eq(load(h, err), -1, "loaded: %s", cases[c]);
        cr_assert(strstr(err, "not a kpiwatch history file") != NULL, "%s", err);
        kw_history_free(h);
    }
    /* truncated anywhere: refused, never half read */
    for (size_t cut = 1; cut < full; cut += full / 37 + 1) {
        write_text(text, cut);
        struct kw_history *h = kw_history_new(8, 86400000);
        cr_assert_eq(load(h, err), -1, "a file cut at %zu of %zu bytes loaded", cut, full);
        kw_history_free(h);
    }
    /* larger than any store of this size could have written */
    size_t huge = 8 * 400 * 1024 + 1;
    char *big = malloc(huge);
    memset(big, ' ', huge);
    memcpy(big, text, full);
    write_text(big, huge);
    struct kw_history *h = kw_history_new(1, 86400000);
    cr_assert_eq(load(h, err), -1);
    cr_assert(strstr(err, "allowed size") != NULL, "%s", err);
    kw_history_free(h);
    free(big);
    free(text);
}

/* ---- one series edited: each change makes that series (only) not load ---- */

static cJSON *first_point(cJSON *s)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(s, "points"), 0);
}

static void key_number(cJSON *s) { cJSON_ReplaceItemInObject(s, "key", cJSON_CreateNumber(1)); }
static void key_other(cJSON *s) { cJSON_ReplaceItemInObject(s, "key", cJSON_CreateString("0123456789abcdef")); }
static void key_upper(cJSON *s)
{
    char *k = cJSON_GetObjectItem(s, "key")->valuestring;
    for (char *c = k; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
}
static void kpi_unknown(cJSON *s) { cJSON_ReplaceItemInObject(s, "kpi", cJSON_CreateString("gone")); }
static void label_value(cJSON *s)
{
    cJSON_ReplaceItemInArray(cJSON_GetArrayItem(cJSON_GetObjectItem(s, "labels"), 0), 1, cJSON_CreateString("jX"));
}
static void label_type(cJSON *s)
{
    cJSON_ReplaceItemInArray(cJSON_GetArrayItem(cJSON_GetObjectItem(s, "labels"), 0), 1, cJSON_CreateNumber(3));
}
static void labels_many(cJSON *s)
{
    cJSON *labels = cJSON_GetObjectItem(s, "labels");
    for (int i = 0; i < 100; i++)
        cJSON_AddItemToArray(labels, cJSON_Duplicate(cJSON_GetArrayItem(labels, 0), true));
}
static void label_long(cJSON *s)
{
    char v[400];
    memset(v, 'x', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    cJSON_ReplaceItemInArray(cJSON_GetArrayItem(cJSON_GetObjectItem(s, "labels"), 0), 1, cJSON_CreateString(v));
}
static void points_object(cJSON *s) { cJSON_ReplaceItemInObject(s, "points", cJSON_CreateObject()); }
static void points_huge(cJSON *s)
{
    double ts = 0;
    cJSON_DeleteItemFromObject(s, "points");
    cJSON *points = cJSON_AddArrayToObject(s, "points");
    for (int i = 0; i < KW_HISTORY_MAX_POINTS + 1; i++, ts += 1000) {
        double f[7] = {ts, 1, 1, 0, 2, 0, 1};
        cJSON_AddItemToArray(points, cJSON_CreateDoubleArray(f, 7));
    }
    cJSON_ReplaceItemInObject(s, "last_ts_ms", cJSON_CreateNumber(ts));
}
static void point_short(cJSON *s) { cJSON_DeleteItemFromArray(first_point(s), 6); }
static void point_string(cJSON *s) { cJSON_ReplaceItemInArray(first_point(s), 1, cJSON_CreateString("10")); }
static void point_infinite(cJSON *s) { cJSON_ReplaceItemInArray(first_point(s), 1, cJSON_CreateRaw("1e999")); }
static void point_score(cJSON *s) { cJSON_ReplaceItemInArray(first_point(s), 5, cJSON_CreateNumber(7)); }
static void point_flags(cJSON *s) { cJSON_ReplaceItemInArray(first_point(s), 6, cJSON_CreateNumber(200)); }
static void point_ts_negative(cJSON *s) { cJSON_ReplaceItemInArray(first_point(s), 0, cJSON_CreateNumber(-300000)); }
static void point_ts_order(cJSON *s) { cJSON_ReplaceItemInArray(first_point(s), 0, cJSON_CreateNumber(900000)); }
static void point_after_last(cJSON *s) { cJSON_ReplaceItemInObject(s, "last_ts_ms", cJSON_CreateNumber(0)); }
static void ts_huge(cJSON *s) { cJSON_ReplaceItemInObject(s, "last_ts_ms", cJSON_CreateNumber(1e300)); }
static void interval_other(cJSON *s) { cJSON_ReplaceItemInObject(s, "interval_ms", cJSON_CreateNumber(60000)); }
static void interval_negative(cJSON *s) { cJSON_ReplaceItemInObject(s, "interval_ms", cJSON_CreateNumber(-1)); }
static void score_nan(cJSON *s) { cJSON_ReplaceItemInObject(s, "score", cJSON_CreateNull()); }
static void rank_high(cJSON *s) { cJSON_ReplaceItemInObject(s, "rank", cJSON_CreateNumber(2)); }
static void firing_string(cJSON *s) { cJSON_ReplaceItemInObject(s, "firing", cJSON_CreateString("yes")); }
static void anomalous_string(cJSON *s) { cJSON_ReplaceItemInObject(s, "last_anomalous_ms", cJSON_CreateString("0")); }
static void duplicate(cJSON *s) { (void)s; }

static const struct {
    const char *name;
    void (*edit)(cJSON *s);
} EDITS[] = {
    {"key not a string", key_number}, {"key of other labels", key_other}, {"key in capitals", key_upper},
    {"KPI not configured", kpi_unknown}, {"label value changed", label_value}, {"label value a number", label_type},
    {"101 labels", labels_many}, {"label value too long", label_long}, {"points an object", points_object},
    {"more points than a ring holds", points_huge}, {"a point with 6 fields", point_short},
    {"a value as a string", point_string}, {"an infinite value", point_infinite}, {"a score of 7", point_score},
    {"flags of 200", point_flags}, {"a negative timestamp", point_ts_negative},
    {"timestamps out of order", point_ts_order}, {"points after the latest interval", point_after_last},
    {"a timestamp past 2096", ts_huge}, {"another interval than the KPI's", interval_other},
    {"a negative interval", interval_negative}, {"no score", score_nan}, {"a rank of 2", rank_high},
    {"firing a string", firing_string}, {"last anomalous a string", anomalous_string},
    {"the same series twice", duplicate},
};

Test(history_file, an_edited_series_is_skipped_and_the_others_load, .init = setup, .fini = teardown)
{
    kw_history_free(saved_store());
    char err[KW_ERR_LEN];
    cJSON *good = NULL;
    {
        FILE *f = fopen(path, "rb");
        char *text = NULL;
        size_t len = 0;
        cr_assert_gt(getdelim(&text, &len, '\0', f), 0);
        fclose(f);
        good = cJSON_Parse(text);
        free(text);
    }
    cJSON *arr = cJSON_GetObjectItem(good, "series");
    /* j0 of KPI c is the one edited */
    int victim = -1;
    for (int i = 0; i < cJSON_GetArraySize(arr); i++)
        if (strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, i), "key")->valuestring, rig.series[0]->alert_key) == 0)
            victim = i;
    cr_assert_geq(victim, 0);
    for (size_t c = 0; c < sizeof EDITS / sizeof *EDITS; c++) {
        cJSON *doc = cJSON_Duplicate(good, true);
        cJSON *list = cJSON_GetObjectItem(doc, "series");
        cJSON *s = cJSON_GetArrayItem(list, victim);
        EDITS[c].edit(s);
        if (EDITS[c].edit == duplicate)
            cJSON_AddItemToArray(list, cJSON_Duplicate(s, true));
        char *text = cJSON_PrintUnformatted(doc);
        write_text(text, strlen(text));
        free(text);
        cJSON_Delete(doc);
        struct kw_history *h = kw_history_new(8, 86400000);
        int n = load(h, err);
        bool others = history_rig_tracked(&rig, h, 1) && history_rig_tracked(&rig, h, 2);
        bool victim_loaded = history_rig_tracked(&rig, h, 0);
        if (EDITS[c].edit == duplicate) {
            cr_assert(n == 3 && victim_loaded && others, "%s: %d loaded", EDITS[c].name, n);
        } else {
            cr_assert_eq(n, 2, "%s: %d series loaded (%s)", EDITS[c].name, n, err);
            cr_assert(others, "%s: the intact series were not loaded", EDITS[c].name);
            cr_assert(!victim_loaded, "%s: the edited series loaded", EDITS[c].name);
        }
        kw_history_free(h);
    }
    cJSON_Delete(good);
}
