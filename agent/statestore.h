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

#endif
