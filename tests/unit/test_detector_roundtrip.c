/* Every registered detector: state saved to JSON *text* and loaded back (as
 * on a restart) must give bit-identical verdicts afterwards. Also checks that
 * each type has a working default config and rejects a mismatched state. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../detectors/detector.h"

/* A config per type; types not listed use {"type": NAME}. */
static const char *config_for(const char *name)
{
    if (strcmp(name, "threshold") == 0)
        return "{\"type\":\"threshold\",\"high\":70}";
    if (strcmp(name, "ensemble") == 0)
        return "{\"type\":\"ensemble\",\"members\":[{\"type\":\"zscore\",\"window\":64},{\"type\":\"ewma\"},{\"type\":\"mad\",\"window\":64}]}";
    if (strcmp(name, "holt_winters") == 0)
        return "{\"type\":\"holt_winters\",\"season\":\"2h\"}";
    if (strcmp(name, "seasonal") == 0)
        return "{\"type\":\"seasonal\",\"period\":\"slot_of_day\"}";
    return NULL;
}

static struct kw_sample sample_at(gsl_rng *rng, int i, const struct kw_series_info *info)
{
    double base = 50 + 10 * sin(2 * M_PI * i / 24.0);
    struct kw_sample s = {.ts_ms = 1700000400000LL + (int64_t)i * info->interval_ms, .numerator = NAN, .denominator = NAN};
    if (info->is_ratio) {
        s.denominator = 200 + gsl_rng_uniform_int(rng, 50);
        s.numerator = gsl_ran_binomial(rng, 0.1 + (i % 97 == 0 ? 0.2 : 0), (unsigned)s.denominator);
        s.value = s.numerator / s.denominator;
    } else {
        s.value = base + gsl_ran_gaussian(rng, 3.3) + (i % 97 == 0 ? 40 : 0);
        if (info->is_count)
            s.value = gsl_ran_poisson(rng, base / 5 + (i % 97 == 0 ? 30 : 0));
    }
    if (i % 53 == 0)
        s.value = NAN; /* a gap now and then */
    return s;
}

static void round_trip(const struct kw_detector_type *type, struct kw_series_info info)
{
    char err[KW_ERR_LEN];
    char fallback[64];
    snprintf(fallback, sizeof fallback, "{\"type\":\"%s\"}", type->name);
    const char *json = config_for(type->name) ? config_for(type->name) : fallback;
    cJSON *cfg = cJSON_Parse(json);
    struct kw_detector det;
    cr_assert_eq(kw_detector_parse(&det, cfg, "d", err, sizeof err), 0, "%s: %s", type->name, err);
    cJSON_Delete(cfg);
    if (kw_detector_accepts(&det, &info, err, sizeof err)) {
        kw_detector_release(&det);
        return; /* e.g. binomial on a non-ratio series */
    }
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    struct kw_detector_state a, b;
    kw_detector_state_init(&a, &det, &info);
    struct kw_verdict va, vb;
    int i = 0;
    for (; i < 700; i++) {
        struct kw_sample s = sample_at(rng, i, &info);
        kw_detector_update(&a, &det, &info, &s, &va);
    }
    cJSON *saved = kw_detector_state_save(&a, &det);
    char *text = cJSON_PrintUnformatted(saved);
    cJSON_Delete(saved);
    cJSON *parsed = cJSON_Parse(text);
    free(text);
    kw_detector_state_init(&b, &det, &info);
    cr_assert_eq(kw_detector_state_load(&b, &det, parsed), 0, "%s: state did not load", type->name);
    cJSON_Delete(parsed);
    int ready = 0;
    for (; i < 1000; i++) {
        struct kw_sample s = sample_at(rng, i, &info);
        kw_detector_update(&a, &det, &info, &s, &va);
        kw_detector_update(&b, &det, &info, &s, &vb);
        cr_assert_eq(va.ready, vb.ready, "%s: interval %d", type->name, i);
        cr_assert_eq(va.anomalous, vb.anomalous, "%s: interval %d", type->name, i);
        if (!va.ready)
            continue;
        ready++;
        cr_assert(memcmp(&va.expected, &vb.expected, sizeof(double)) == 0 &&
                      memcmp(&va.upper, &vb.upper, sizeof(double)) == 0 &&
                      memcmp(&va.anomaly_score, &vb.anomaly_score, sizeof(double)) == 0,
                  "%s: interval %d differs after a text round trip (%.17g vs %.17g)", type->name, i, va.expected,
                  vb.expected);
    }
    cr_assert_gt(ready, 100, "%s produced too few verdicts to compare", type->name);

    /* A state from another type is refused, leaving a fresh state. */
    cJSON *wrong = cJSON_Parse("{\"type\":\"nope\",\"seen\":3,\"state\":{}}");
    struct kw_detector_state c;
    kw_detector_state_init(&c, &det, &info);
    cr_assert_eq(kw_detector_state_load(&c, &det, wrong), -1);
    cJSON_Delete(wrong);
    kw_detector_state_release(&c, &det);
    kw_detector_state_release(&a, &det);
    kw_detector_state_release(&b, &det);
    kw_detector_release(&det);
    gsl_rng_free(rng);
}

Test(detector_roundtrip, every_type_survives_a_text_round_trip)
{
    int tested = 0;
    for (int t = 0; kw_detector_types[t]; t++) {
        struct kw_series_info continuous = {.interval_ms = 300000};
        struct kw_series_info counts = {.interval_ms = 300000, .is_count = true};
        struct kw_series_info rates = {.interval_ms = 300000, .is_ratio = true};
        round_trip(kw_detector_types[t], continuous);
        round_trip(kw_detector_types[t], counts);
        round_trip(kw_detector_types[t], rates);
        tested++;
    }
    cr_assert_geq(tested, 11, "all detectors registered");
}

/* A damaged or edited state file may hold numbers no integer field can: they
 * are refused, not converted (converting them is undefined behaviour). */
static void refuses_number(const char *config, const char *where, const char *key, double bad)
{
    char err[KW_ERR_LEN];
    cJSON *cfg = cJSON_Parse(config);
    struct kw_detector det;
    cr_assert_eq(kw_detector_parse(&det, cfg, "d", err, sizeof err), 0, "%s", err);
    cJSON_Delete(cfg);
    struct kw_series_info info = {.interval_ms = 300000};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    struct kw_detector_state a, b;
    kw_detector_state_init(&a, &det, &info);
    struct kw_verdict v;
    for (int i = 0; i < 400; i++) {
        struct kw_sample s = sample_at(rng, i, &info);
        kw_detector_update(&a, &det, &info, &s, &v);
    }
    cJSON *saved = kw_detector_state_save(&a, &det);
    cJSON *obj = strcmp(where, "state") == 0 ? cJSON_GetObjectItemCaseSensitive(saved, "state") : saved;
    cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    cr_assert(cJSON_IsNumber(item), "%s has no number %s.%s", config, where, key);
    cJSON_SetNumberValue(item, bad);
    kw_detector_state_init(&b, &det, &info);
    cr_assert_eq(kw_detector_state_load(&b, &det, saved), -1, "%s: %s.%s = %g was accepted", config, where, key, bad);
    cJSON_Delete(saved);
    kw_detector_state_release(&a, &det);
    kw_detector_state_release(&b, &det);
    kw_detector_release(&det);
    gsl_rng_free(rng);
}

Test(detector_roundtrip, out_of_range_integers_in_a_state_are_refused)
{
    refuses_number("{\"type\":\"mad\"}", "top", "seen", 1e300);
    refuses_number("{\"type\":\"mad\"}", "top", "seen", 18446744073709551616.0);
    refuses_number("{\"type\":\"esd\"}", "state", "last", 1e300);
    refuses_number("{\"type\":\"esd\"}", "state", "last", -9.3e18);
    refuses_number("{\"type\":\"holt_winters\",\"season\":\"2h\"}", "state", "n0", -1e300);
    refuses_number("{\"type\":\"holt_winters\",\"season\":\"2h\"}", "state", "last", 9.3e18);
}
