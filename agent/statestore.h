/* statestore: saves every series' open intervals, sparkline history,
 * detector state and alert state to one JSON file, atomically (written to
 * path.tmp, fsynced, renamed), and restores it on start and reload so a
 * restart keeps what the detectors learned and which alerts are firing. */
#ifndef KW_STATESTORE_H
#define KW_STATESTORE_H

#include <stddef.h>

#include "pipeline.h"

/* Save the state of every series of p to path. Returns 0 or -1 with err. */
int kw_state_save(const struct kw_pipeline *p, const char *path, char *err, size_t errlen);
/* Restore series saved by kw_state_save into p. Series whose KPI or detector
 * changed, or whose saved data does not check out, are skipped (they start
 * fresh) with a warning. Returns the number restored, or -1 with err when
 * the file is unreadable or not a state file. */
int kw_state_load(struct kw_pipeline *p, const char *path, char *err, size_t errlen);
/* The same for the state a reload hands from the old config to the new:
 * series whose KPI changed are expected to start fresh, and say so as that. */
int kw_state_carry(struct kw_pipeline *p, const char *path, char *err, size_t errlen);

/* One series as the state file holds it (also a Kafka changelog record's
 * value). Never fails; the caller deletes it. */
cJSON *kw_state_series_json(const struct kw_pipeline *p, const struct kw_series *s);
/* Restore one series from kw_state_series_json's object into p (which
 * takes ownership), checking it as kw_state_load does. Returns NULL, with
 * *out (may be NULL) set to the series, or why it was skipped. */
const char *kw_state_series_restore(struct kw_pipeline *p, const cJSON *o, struct kw_series **out);

#endif
