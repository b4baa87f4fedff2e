/* replay: the backtest. Feeds recorded points (CSV or JSON lines) through
 * the same validation and pipeline as the daemon, in event time and as fast
 * as the CPU allows, and delivers the alerts that would have fired to the
 * configured receivers (--json: JSON lines on stdout instead; --quiet: none),
 * with silences judged at the data's time as the daemon would have then.
 * Each data file is replayed as its own stream with fresh state (incidents
 * too) and ends with a summary line on stderr, printed at any log level. */
#ifndef KW_REPLAY_H
#define KW_REPLAY_H

#include <stdbool.h>
#include <stddef.h>

struct kw_replay_options {
    const char *config_path;
    const char *const *files;
    int nfiles;
    const char *scores_path; /* CSV of every interval's verdict; NULL = none */
    const char *metric;      /* metric name for CSV rows without a metric column; NULL = first KPI's */
    bool json;               /* alerts as JSON lines on stdout instead of the configured receivers */
    bool quiet;              /* deliver no alerts, only print the summary */
};

/* Run the backtest. Returns 0, 1 on a data file that cannot be read, or 3
 * on an invalid config (err says why). */
int kw_replay_run(const struct kw_replay_options *opt, char *err, size_t errlen);

#endif
