/* log: leveled, timestamped log lines on stderr (journald-friendly), either
 * human text or logfmt (key=value). Lines name their component, e.g.
 * "[detector/zscore]" or "[console/ops]". A secret registered with
 * kw_log_redact never appears in a line, whoever tries to print it. */
#ifndef KW_LOG_H
#define KW_LOG_H

enum kw_log_level { KW_LOG_DEBUG = 0, KW_LOG_INFO, KW_LOG_WARN, KW_LOG_ERROR, KW_LOG_OFF };
enum kw_log_format { KW_LOG_TEXT = 0, KW_LOG_LOGFMT };

/* Set the minimum level printed. Called once at start-up, before any thread
 * exists; this is the only process-wide setting outside the agent struct. */
void kw_log_set_level(enum kw_log_level level);
/* Choose the line format: text "TIME LEVEL [component] message", or logfmt
 * "ts=TIME level=LEVEL component=NAME msg=\"message\"". Like the level, set
 * at start-up and on reload from the main thread. */
void kw_log_set_format(enum kw_log_format format);
/* Parse "debug|info|warn|error|off"; returns -1 for an unknown name. */
int kw_log_level_parse(const char *name, enum kw_log_level *out);
/* Print one line when level is enabled. */
void kw_log(enum kw_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* From now on, every occurrence of secret (6 bytes or longer; shorter ones
 * are ignored) in a log line is printed as "[redacted]". The user:password
 * part of any URL is always redacted. Thread-safe; at most 256 secrets are
 * kept (the oldest go first). */
void kw_log_redact(const char *secret);
/* A copy of text (caller frees; never NULL) with every registered secret
 * replaced as in log lines, for output that is not a log line. */
char *kw_log_redact_text(const char *text);

#define kw_debug(c, ...) kw_log(KW_LOG_DEBUG, c, __VA_ARGS__)
#define kw_info(c, ...) kw_log(KW_LOG_INFO, c, __VA_ARGS__)
#define kw_warn(c, ...) kw_log(KW_LOG_WARN, c, __VA_ARGS__)
#define kw_error(c, ...) kw_log(KW_LOG_ERROR, c, __VA_ARGS__)

#endif
