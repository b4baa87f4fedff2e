/* jsonnum: doubles in JSON that read back bit-identical. State files and
 * spool entries use these, so a restart resumes from exactly what was saved. */
#ifndef KW_JSONNUM_H
#define KW_JSONNUM_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* A JSON number printed with %.17g (cJSON's own printer accepts a 1-ulp
 * difference). NAN and Inf become null. The caller owns the result. */
cJSON *kw_json_number(double v);
/* Read a number written by kw_json_number (parsed or still raw). Returns 0,
 * or -1 when item is not a finite number. */
int kw_json_get_double(const cJSON *item, double *out);
/* Save a double array as a JSON array (NAN stored as null), exactly. */
cJSON *kw_json_doubles(const double *v, size_t n);
/* Read n doubles back. Returns 0 when json is an array of exactly n
 * numbers/nulls, -1 otherwise (v may then be partly written). */
int kw_json_read_doubles(const cJSON *json, double *v, size_t n);

#endif
