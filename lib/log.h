/* log: leveled, timestamped log lines on stderr (journald-friendly).
 * Lines name their component, e.g. "[detector/zscore]" or "[console/ops]". */
#ifndef KW_LOG_H
#define KW_LOG_H

enum kw_log_level { KW_LOG_DEBUG = 0, KW_LOG_INFO, KW_LOG_WARN, KW_LOG_ERROR, KW_LOG_OFF };

/* Set the minimum level printed. Called once at start-up, before any thread
 * exists; this is the only process-wide setting outside the agent struct. */
void kw_log_set_level(enum kw_log_level level);
/* Parse "debug|info|warn|error|off"; returns -1 for an unknown name. */
int kw_log_level_parse(const char *name, enum kw_log_level *out);
/* Print one line "LEVEL [component] message" when level is enabled. */
void kw_log(enum kw_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define kw_debug(c, ...) kw_log(KW_LOG_DEBUG, c, __VA_ARGS__)
#define kw_info(c, ...) kw_log(KW_LOG_INFO, c, __VA_ARGS__)
#define kw_warn(c, ...) kw_log(KW_LOG_WARN, c, __VA_ARGS__)
#define kw_error(c, ...) kw_log(KW_LOG_ERROR, c, __VA_ARGS__)

#endif
