/* silence: muting alerts the way Alertmanager does. A silence is a set of
 * label matchers with a start, an end, an author and a comment. A silenced
 * alert is still evaluated, counted and visible (as silenced); only its
 * notifications are held back. Silences come from the config, from
 * `kpiwatch silence add` (through the running agent's HTTP API, or written
 * into the state directory when no agent runs) and from POST
 * /api/v1/silences; they persist in STATE_DIR/silences.json and expire on
 * their own. The store is shared between the outbox thread (matching) and
 * the HTTP thread (list, add, expire), so every call takes its lock. */
#ifndef KW_SILENCE_H
#define KW_SILENCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../notifiers/alert.h"
#include "matcher.h"

#define KW_SILENCE_ID 37      /* a UUID-like id, NUL-terminated */
#define KW_SILENCE_MATCHERS 8

struct kw_silence {
    char id[KW_SILENCE_ID];
    int nmatchers;
    struct {
        char name[KW_ALERT_LABEL_NAME];
        char value[KW_ALERT_LABEL_VALUE];
        int op;                   /* enum kw_match_op; regexes are POSIX extended, anchored */
    } matchers[KW_SILENCE_MATCHERS];
    int64_t starts_ms, ends_ms;   /* active in [starts, ends) */
    char author[64];
    char comment[256];
    bool from_config;             /* config silences cannot be expired over the API */
};

struct kw_silences;               /* opaque: the store, its lock and compiled regexes */

/* A store that persists to dir/silences.json (dir may be NULL: in memory
 * only) and loads what is there; a damaged file is moved aside with a
 * warning. Never fails (returns an empty store on a bad file). */
struct kw_silences *kw_silences_open(const char *dir);
/* Free the store. Accepts NULL. */
void kw_silences_close(struct kw_silences *s);

/* Parse one silence from JSON {"matchers": [{"name","value","op": "=|!=|=~|!~"}],
 * "starts_at", "ends_at" (RFC 3339; starts_at defaults to now), "created_by",
 * "comment"}. Returns 0, or -1 with a key-path error (path is the prefix). */
int kw_silence_parse(struct kw_silence *out, const cJSON *json, int64_t now_ms, const char *path, char *err,
                     size_t errlen);
/* Check what parsing cannot: that its regular expressions compile. Returns 0
 * or -1 with err. */
int kw_silence_check(const struct kw_silence *sil, char *err, size_t errlen);
/* The silence as JSON (caller owns it), with "id" and "status"
 * ("pending", "active", "expired") at now_ms. */
cJSON *kw_silence_to_json(const struct kw_silence *s, int64_t now_ms);

/* Replace the silences that came from the config with list[0..n) (on start
 * and reload). Their ids are derived from their position ("config-N"). */
void kw_silences_set_config(struct kw_silences *s, const struct kw_silence *list, int n);

/* Add a silence (a fresh id is assigned into sil->id) and persist. Returns 0,
 * or -1 with err (a regex that does not compile, too many silences). */
int kw_silences_add(struct kw_silences *s, struct kw_silence *sil, char *err, size_t errlen);
/* End a silence now. Returns 0, or -1 when there is no such id (or it came
 * from the config). */
int kw_silences_expire(struct kw_silences *s, const char *id, int64_t now_ms);
/* All silences, newest first, as a JSON array (caller owns it). */
cJSON *kw_silences_list(struct kw_silences *s, int64_t now_ms);
/* The id of an active silence that matches alert a at now_ms (copied into
 * id), or false. The KPI matches as label "kpi", severity as "severity". */
bool kw_silences_match(struct kw_silences *s, const struct kw_alert *a, int64_t now_ms, char id[KW_SILENCE_ID]);

#endif
