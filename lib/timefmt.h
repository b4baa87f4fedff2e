/* timefmt: parsing and printing of timestamps (RFC 3339, epoch s/ms). */
#ifndef KW_TIMEFMT_H
#define KW_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Parse RFC 3339 ("2026-11-23T09:00:00Z", "...+01:00", fractional seconds)
 * or the space-separated form "2014-04-01 00:00:00" (no zone = UTC) into
 * epoch ms, within the range of kw_time_from_number (1970 to October 2096).
 * Returns 0, or -1 on any syntax or range error. */
int kw_time_parse(const char *text, int64_t *out_ms);
/* The same, but a zone (Z or +hh:mm) is required: the form for JSON points,
 * where a missing zone is more likely a bug than UTC. */
int kw_time_parse_zoned(const char *text, int64_t *out_ms);
/* Interpret a JSON number as epoch seconds (< 1e11) or epoch ms. Returns 0
 * or -1 for negative or absurd values. */
int kw_time_from_number(double v, int64_t *out_ms);
/* Format as "2026-11-23T09:00:00Z" (ms shown only when non-zero). */
const char *kw_time_format(int64_t ms, char *buf, size_t len);
/* Format as "2026-11-23 09:00:00" (the NAB/CSV form). */
const char *kw_time_format_plain(int64_t ms, char *buf, size_t len);
/* Wall clock, epoch ms. */
int64_t kw_now_ms(void);
/* Monotonic clock, ms. */
int64_t kw_mono_ms(void);

#endif
