/* registry: every detector type kpiwatch knows. Adding a detector means one
 * new file in detectors/ and one line in each list below. */
#include <stddef.h>

#include "detector.h"

extern const struct kw_detector_type threshold_detector;

const struct kw_detector_type *const kw_detector_types[] = {
    &threshold_detector,
    NULL,
};
