/* opts: declarative option tables. A module describes its options (name,
 * type, default, range, offset into its config struct, description) and the
 * core fills and validates the struct from JSON. Errors name the key path,
 * e.g. "kpis[2].detector.window: must be >= 8". The same tables print the
 * config reference (kpiwatch options). */
#ifndef KW_OPTS_H
#define KW_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define KW_ERR_LEN 256

enum kw_opt_type {
    KW_OPT_INT,      /* int */
    KW_OPT_DOUBLE,   /* double */
    KW_OPT_BOOL,     /* bool */
    KW_OPT_STRING,   /* char *, owned by the struct; freed by kw_opts_release */
    KW_OPT_ENUM,     /* int: index into choices */
    KW_OPT_DURATION, /* int64_t milliseconds; JSON number of seconds or "30s", "5m", "1h", "1d", "1w" */
    KW_OPT_CUSTOM,   /* parsed by the option's own parse callback */
};

struct kw_option {
    const char *name;
    enum kw_opt_type type;
    /* Default as text ("3", "5m", "both", "true"). NULL makes the key required.
     * For strings, "" means optional with an empty value (stored as NULL). */
    const char *def;
    size_t offset;
    double min, max;              /* inclusive range for INT, DOUBLE, DURATION (seconds); min > max disables */
    const char *const *choices;   /* ENUM: NULL-terminated list */
    /* CUSTOM: parse node (NULL when absent and def is non-NULL) into field.
     * Returns 0, or -1 with err set (path is already prefixed by the caller). */
    int (*parse)(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
    void (*release)(void *field); /* CUSTOM: free what parse allocated; may be NULL */
    const char *desc;
    const char *type_name;        /* shown in the reference instead of the type (CUSTOM options) */
};

/* A KW_OPT_CUSTOM list of strings: ["journey", "step"]. */
struct kw_string_list {
    char **items;
    int n;
};

/* A KW_OPT_CUSTOM object of string values: {"channel": "web"}, in file order. */
struct kw_string_map {
    char **names;
    char **values;
    int n;
};

/* Set in a cJSON string node's type by the config loader when its value came
 * from ${VAR} substitution: errors then name the key but never echo the
 * value, which may be a secret. (cJSON keeps its own flags in the low bits.) */
#define KW_JSON_SUBSTITUTED (1 << 14)

/* Terminates a table. */
#define KW_OPT_END { .name = NULL }
/* No range check. */
#define KW_NORANGE .min = 1, .max = 0

/* Fill dst from obj using table. Absent keys take their default; a required
 * key that is absent is an error. Keys of obj not in the table are ignored
 * here (see kw_opts_reject_unknown). obj may be NULL (all defaults).
 * Returns 0, or -1 with "PATH.key: reason" in err. On error dst may be partly
 * filled: call kw_opts_release on it. */
int kw_opts_fill(const struct kw_option *table, const cJSON *obj, void *dst,
                 const char *path, char *err, size_t errlen);

/* Fail when obj has a key that is in none of the NULL-terminated tables and
 * not in extra (NULL-terminated list of names, may be NULL). The error lists
 * the valid keys. Returns 0 or -1. */
int kw_opts_reject_unknown(const cJSON *obj, const struct kw_option *const *tables,
                           const char *const *extra, const char *path, char *err, size_t errlen);

/* Free strings and custom fields that kw_opts_fill stored in dst. Safe on a
 * zeroed or partly filled struct. */
void kw_opts_release(const struct kw_option *table, void *dst);

/* Parse a duration ("250ms", "30s", "5m", "2h", "1d", "1w", or plain seconds)
 * into milliseconds. Returns 0 or -1. */
int kw_parse_duration(const char *text, int64_t *out_ms);

/* Join "path" and "key" into buf as "path.key" (or "key" when path is empty). */
const char *kw_path_key(char *buf, size_t len, const char *path, const char *key);
/* Join "path" and an index into buf as "path[i]". */
const char *kw_path_index(char *buf, size_t len, const char *path, int index);

/* Custom parsers for the two types above (use as .parse / .release). An
 * absent node leaves the field empty. */
int kw_opt_parse_string_list(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
void kw_opt_release_string_list(void *field);
int kw_opt_parse_string_map(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
void kw_opt_release_string_map(void *field);

/* Print a table as Markdown rows "| key | type | default | description |". */
void kw_opts_print_markdown(const struct kw_option *table, void *stream);

#endif
