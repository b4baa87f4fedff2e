/* history: the recent past of a bounded number of series (observed value,
 * expected value, band, score, anomalous, firing per interval) for the
 * status page and /api/v1/series. Series themselves do not grow: the store
 * keeps its own ring per tracked series, for at most max_series of them:
 *   - every series while there is room (small setups see everything);
 *   - when full, a firing series takes the slot of a non-firing one, a
 *     newly anomalous series that of one not anomalous within the window,
 *     and a higher-scoring series (anomaly score 0.2 above the other's
 *     smoothed score) that of the lowest-ranked, never leaving a KPI with
 *     fewer than 3 series; a series not updated for a window goes first.
 * Memory: max_series x points x 48 bytes (+ labels), where points =
 * window / interval, at most KW_HISTORY_MAX_POINTS: 500 series of a 5-minute
 * KPI over a day (288 points) take 6.6 MiB.
 * Threads: the writer is the agent thread (kw_history_sink, the pipeline's
 * interval sink). A closed interval of an untracked series costs a hash
 * probe and no lock; one of a tracked series copies one point under the
 * lock. Readers (the HTTP thread) copy what they need under the same lock. */
#ifndef KW_HISTORY_H
#define KW_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../notifiers/alert.h"
#include "pipeline.h"

#define KW_HISTORY_MAX_POINTS 2016 /* a week of 5-minute intervals */

enum { KW_HP_READY = 1, KW_HP_ANOMALOUS = 2, KW_HP_FIRING = 4 };

struct kw_history_point {
    int64_t ts_ms;                           /* interval start */
    double observed, expected, lower, upper; /* NAN when unknown (a gap, warm-up, backfilled) */
    float score;                             /* anomaly score in [0,1]; 0 before the detector is ready */
    uint8_t flags;                           /* KW_HP_* */
};

/* A reader's copy of one tracked series. */
struct kw_history_entry {
    char key[17];                                 /* the series' alert key */
    char kpi[KW_ALERT_LABEL_NAME];
    struct kw_alert_label labels[KW_ALERT_MAX_LABELS];
    int nlabels;
    int64_t interval_ms;
    double score;        /* anomaly score of the latest interval */
    double rank;         /* smoothed anomaly score (what eviction compares) */
    bool firing;         /* the series' alert is firing now */
    int64_t last_ts_ms;  /* start of the latest interval */
    int npoints;
    struct kw_history_point *points; /* oldest first; owned by the copy; NULL unless asked for */
};

struct kw_history;

/* A store for at most max_series series (>= 1) keeping window_ms of each.
 * Never fails; free with kw_history_free. */
struct kw_history *kw_history_new(int max_series, int64_t window_ms);
/* Free the store. Accepts NULL. */
void kw_history_free(struct kw_history *h);

/* The pipeline's interval sink (ctx is the store): records the interval
 * when the series is tracked or earns a slot. Agent thread only. */
void kw_history_sink(void *ctx, const struct kw_series *s, const struct kw_kpi_config *kpi,
                     const struct kw_sample *sample, const struct kw_verdict *v);

/* Copies of the tracked series of kpi (NULL = every KPI), firing ones first,
 * then by the latest anomaly score, at most limit (0 = all); points are
 * copied only when with_points. Returns the count; *out is NULL when 0.
 * Free with kw_history_entries_free. */
size_t kw_history_list(struct kw_history *h, const char *kpi, bool with_points, size_t limit,
                       struct kw_history_entry **out);
/* A copy of one series with its points. Returns 0, or -1 when key is not tracked. */
int kw_history_get(struct kw_history *h, const char *key, struct kw_history_entry *out);
/* Free copies made by kw_history_list / kw_history_get. Accept NULL. */
void kw_history_entries_free(struct kw_history_entry *e, size_t n);
void kw_history_entry_release(struct kw_history_entry *e);

/* Tracked series and the bytes their rings and labels take. */
void kw_history_usage(struct kw_history *h, size_t *series, size_t *bytes);

/* Save every tracked series with its points to path as JSON, atomically
 * (fileio.h), so a restart keeps the charts. Agent thread only: it reads
 * without the lock, as no other thread changes the store. Returns 0, or -1
 * with err. */
int kw_history_save(struct kw_history *h, const char *path, char *err, size_t errlen);
/* Load series saved by kw_history_save into h (agent thread, before the
 * pipeline runs; readers may be listening). Entries whose KPI is no longer
 * among kpis, whose labels no longer give their key, or whose data does not
 * check out (bounded counts and strings, timestamps in range and ascending,
 * values finite or null) are skipped with a warning; the newest points that
 * fit a ring are kept, and at most max_series series. Returns the number
 * loaded: 0 when the file is missing, -1 with err when it is unreadable,
 * too large or not a history file. */
int kw_history_load(struct kw_history *h, const struct kw_kpi_config *kpis, int nkpis, const char *path, char *err,
                    size_t errlen);

#endif
