/* intmath: integer division that rounds toward minus infinity, for mapping
 * timestamps (which may be negative) onto interval indexes and ring slots. */
#ifndef KW_INTMATH_H
#define KW_INTMATH_H

#include <stdint.h>

/* floor(a / b) for b > 0, also for negative a. Never fails. */
static inline int64_t kw_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* a mod b in [0, b) for b > 0 (b must fit an int). Never fails. */
static inline int kw_floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    return (int)(r < 0 ? r + b : r);
}

#endif
