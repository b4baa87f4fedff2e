/* registry: every detector type kpiwatch knows, and which one a KPI gets
 * when its config names none. Adding a detector means one new file in
 * detectors/, its extern declaration and one entry in kw_detector_types. */
#include <stddef.h>
#include <stdio.h>

#include "detector.h"

extern const struct kw_detector_type mad_detector;
extern const struct kw_detector_type zscore_detector;
extern const struct kw_detector_type ewma_detector;
extern const struct kw_detector_type cusum_detector;
extern const struct kw_detector_type poisson_detector;
extern const struct kw_detector_type binomial_detector;
extern const struct kw_detector_type threshold_detector;
extern const struct kw_detector_type holt_winters_detector;
extern const struct kw_detector_type seasonal_detector;
extern const struct kw_detector_type esd_detector;
extern const struct kw_detector_type ensemble_detector;
extern const struct kw_detector_type surprise_detector;
extern const struct kw_detector_type nps_detector;

const struct kw_detector_type *const kw_detector_types[] = {
    &mad_detector,
    &zscore_detector,
    &ewma_detector,
    &cusum_detector,
    &poisson_detector,
    &binomial_detector,
    &threshold_detector,
    &holt_winters_detector,
    &seasonal_detector,
    &esd_detector,
    &ensemble_detector,
    &surprise_detector,
    &nps_detector,
    NULL,
};

/* The default for each kind of series, as `make accuracy` picks them:
 * counts get poisson and rates binomial (the incident benchmark,
 * bench/cx_accuracy), continuous KPIs holt_winters (the per-interval one,
 * bench/det_accuracy); nps KPIs get the one detector made for them. */
static const char *default_detector_json(const struct kw_series_info *info)
{
    if (info->is_nps)
        return "{\"type\":\"nps\"}";
    if (info->is_count)
        return "{\"type\":\"poisson\"}";
    if (info->is_ratio)
        return "{\"type\":\"binomial\"}";
    return "{\"type\":\"holt_winters\"}";
}

/* When the default cannot run on a series (a daily season does not fit an
 * interval of 7 minutes or 2 days), the robust median detector can. */
#define FALLBACK_DETECTOR "{\"type\":\"mad\"}"

int kw_detector_parse_for(struct kw_detector *det, const cJSON *obj, const struct kw_series_info *info,
                          const char *path, char *err, size_t errlen)
{
    if (kw_detector_parse(det, obj, path, err, errlen))
        return -1;
    char reason[200];
    if (kw_detector_accepts(det, info, reason, sizeof reason)) {
        snprintf(err, errlen, "%s: %s", path, reason);
        kw_detector_release(det);
        return -1;
    }
    return 0;
}

int kw_detector_parse_default(struct kw_detector *det, const struct kw_series_info *info, const char *path,
                              char *err, size_t errlen)
{
    cJSON *obj = cJSON_Parse(default_detector_json(info));
    int rc = kw_detector_parse(det, obj, path, err, errlen);
    cJSON_Delete(obj);
    if (rc)
        return -1;
    char reason[200];
    if (kw_detector_accepts(det, info, reason, sizeof reason) == 0)
        return 0;
    kw_detector_release(det);
    obj = cJSON_Parse(FALLBACK_DETECTOR);
    rc = kw_detector_parse(det, obj, path, err, errlen);
    cJSON_Delete(obj);
    return rc;
}
