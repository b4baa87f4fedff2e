/* hash: FNV-1a over bytes and strings, and a final mix for tables that
 * probe on the low bits. Stable across runs and builds: alert keys are
 * made from it and kept in state files. */
#ifndef KW_HASH_H
#define KW_HASH_H

#include <stddef.h>
#include <stdint.h>

#define KW_FNV_OFFSET 1469598103934665603ULL
#define KW_FNV_PRIME 1099511628211ULL

static inline uint64_t kw_fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * KW_FNV_PRIME;
    return h;
}

/* The string's bytes, without its terminator. */
static inline uint64_t kw_fnv1a_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * KW_FNV_PRIME;
    return h;
}

/* An avalanche, so that linear probing sees well-spread low bits. */
static inline uint64_t kw_hash_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

#endif
