/* registry: every detector type kpiwatch knows. Adding a detector means one
 * new file in detectors/ and one line in each list below. */
#include <stddef.h>

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
    NULL,
};
