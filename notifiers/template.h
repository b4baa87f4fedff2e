/* template: message templates for receivers, in a small logic-less
 * language of the mustache family: {{name}} (dotted paths such as
 * {{lead.kpi}} or {{label.journey}}), {{#name}}...{{/name}} (shown when the
 * value is true, non-empty text, a number other than 0 or a non-empty list;
 * repeated per member for lists), {{^name}}...{{/name}} (shown when it is
 * not) and {{! comments }}. A tag alone on its line takes the line with it.
 *
 * A template is compiled once, when the config is loaded: every name is
 * resolved against the documented placeholders then, so a typo is a config
 * error with its line and column. Rendering walks the compiled tree over one
 * notification; it cannot fail, loop or grow without bound: lists cannot be
 * nested, sections nest at most KW_TEMPLATE_MAX_DEPTH deep and the output is
 * cut at a caller's limit with KW_TEMPLATE_TRUNCATED at the end. Values (never
 * the template's own text) are escaped for where the text goes. */
#ifndef KW_TEMPLATE_H
#define KW_TEMPLATE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "notifier.h"

#define KW_TEMPLATE_MAX_SOURCE 65536       /* bytes of template text */
#define KW_TEMPLATE_MAX_DEPTH 8            /* sections inside sections */
#define KW_TEMPLATE_MAX_OUTPUT 65536       /* characters, unless a receiver needs fewer */
#define KW_TEMPLATE_TRUNCATED "…[truncated]"

enum kw_template_escape {
    KW_TEMPLATE_PLAIN = 0, /* values as they are: plain text, or text a service escapes itself */
    KW_TEMPLATE_JSON,      /* values escaped for the inside of a JSON string */
    KW_TEMPLATE_HTML,      /* & < > " ' as entities */
    KW_TEMPLATE_SLACK,     /* Slack mrkdwn: & < > as entities */
};

struct kw_template;

/* Compile text. Returns the template (free with kw_template_free), or NULL
 * with "line L, col C: reason" in err (column in characters, both from 1). */
struct kw_template *kw_template_compile(const char *text, char *err, size_t errlen);
/* Free t. Accepts NULL. */
void kw_template_free(struct kw_template *t);

/* Render t over n (nalerts >= 1) with values escaped by esc, cut to at most
 * max_chars characters (>= 32) with KW_TEMPLATE_TRUNCATED at the end when
 * longer. Malformed UTF-8 is dropped. Returns a new string (caller frees);
 * never fails. */
char *kw_template_render(const struct kw_template *t, const struct kw_notification *n,
                         enum kw_template_escape esc, size_t max_chars);

/* Option helpers, so each notifier declares its templates in its own table:
 * a KW_OPT_CUSTOM whose field is a struct kw_template * (NULL when unset).
 * _parse compiles a string; _parse_file reads a file of at most
 * KW_TEMPLATE_MAX_SOURCE bytes (one trailing newline dropped) and compiles
 * it. Errors are "PATH: line L, col C: reason". _release frees the field. */
int kw_template_opt_parse(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
int kw_template_opt_parse_file(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
void kw_template_opt_release(void *field);

/* The two table entries of a template option: KEY (inline) and KEY_file.
 * type is the notifier's config struct, field and file_field its two
 * struct kw_template * members, what the description of KEY. */
#define KW_TEMPLATE_OPTIONS(key, type, field, file_field, what)                                              \
    {key, KW_OPT_CUSTOM, "", offsetof(type, field), KW_NORANGE, .parse = kw_template_opt_parse,            \
     .release = kw_template_opt_release, .type_name = "template", .desc = what},                           \
    {key "_file", KW_OPT_CUSTOM, "", offsetof(type, file_field), KW_NORANGE,                               \
     .parse = kw_template_opt_parse_file, .release = kw_template_opt_release, .type_name = "path",         \
     .desc = "File holding " key " instead (read when the config is loaded; at most 64 KiB)."}

/* For a notifier's init: at most one of KEY and KEY_file may be set; the
 * one that is ends up in *tpl (*file_tpl is then NULL). Returns 0, or -1
 * with "PATH.KEY: ..." in err (both fields stay for the option release). */
int kw_template_opt_pick(struct kw_template **tpl, struct kw_template **file_tpl, const char *path,
                         const char *key, char *err, size_t errlen);

#endif
