/* ensemble: runs several detectors on the same series and combines their
 * verdicts, like Etsy Skyline's consensus: "vote" (at least min_votes members
 * agree), "max" (the strongest member) or "weighted" (weighted mean score).
 * Use it to cut false alarms where one model alone is too jumpy. Each member
 * keeps its own state, warm-up, direction and min_delta. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"
#include "detector.h"

#define ENSEMBLE_MAX_MEMBERS 16

enum ensemble_combine { COMBINE_VOTE, COMBINE_MAX, COMBINE_WEIGHTED };

static const char *const combine_names[] = {"vote", "max", "weighted", NULL};

struct member_list {
    int n;
    struct kw_detector *det;
};

struct weight_list {
    int n; /* 0 = not given */
    double *w;
};

struct ensemble_config {
    struct member_list members;
    int combine;
    int min_votes; /* 0 = majority; resolved by the check */
    struct weight_list weights;
};

struct ensemble_state {
    int n;
    struct kw_series_info info;              /* to create fresh member states on load */
    const struct kw_detector_type **types;   /* [n]; state_free gets no config */
    struct kw_detector_state *st;            /* [n] */
};

static int parse_members(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
static void release_members(void *field);
static int parse_weights(const cJSON *node, void *field, const char *path, char *err, size_t errlen);
static void release_weights(void *field);

static const struct kw_option ensemble_options[] = {
    {"members", KW_OPT_CUSTOM, NULL, offsetof(struct ensemble_config, members), KW_NORANGE, .type_name = "list of detectors",
     .parse = parse_members, .release = release_members,
     .desc = "Array of 2 to 16 detector objects ({\"type\": ..., options}); ensembles cannot nest."},
    {"combine", KW_OPT_ENUM, "vote", offsetof(struct ensemble_config, combine), KW_NORANGE,
     .choices = combine_names,
     .desc = "vote: at least min_votes members alert (by default a majority of members, so both of "
             "two); max: the strongest member decides; weighted: weighted mean of member scores >= 0.5."},
    {"min_votes", KW_OPT_INT, "0", offsetof(struct ensemble_config, min_votes), 0, ENSEMBLE_MAX_MEMBERS,
     .desc = "combine vote: members that must alert; 0 = a majority of members (n/2 + 1: 2 of 2, "
             "2 of 3, 3 of 4)."},
    {"weights", KW_OPT_CUSTOM, "", offsetof(struct ensemble_config, weights), KW_NORANGE, .type_name = "list of numbers",
     .parse = parse_weights, .release = release_weights,
     .desc = "combine weighted: one weight >= 0 per member; default equal."},
    KW_OPT_END,
};

extern const struct kw_detector_type ensemble_detector;

static int parse_members(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    struct member_list *ml = field;
    if (!cJSON_IsArray(node)) {
        snprintf(err, errlen, "%s: must be an array of detector objects", path);
        return -1;
    }
    int n = cJSON_GetArraySize(node);
    if (n < 2 || n > ENSEMBLE_MAX_MEMBERS) {
        snprintf(err, errlen, "%s: needs 2 to %d detectors (got %d)", path, ENSEMBLE_MAX_MEMBERS, n);
        return -1;
    }
    ml->det = xcalloc((size_t)n, sizeof *ml->det);
    ml->n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, node) {
        char ipath[KW_ERR_LEN];
        kw_path_index(ipath, sizeof ipath, path, ml->n);
        /* Checked before parsing so nesting cannot recurse. */
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
        if (cJSON_IsString(type) && strcmp(type->valuestring, ensemble_detector.name) == 0) {
            snprintf(err, errlen, "%s.type: an ensemble cannot contain another ensemble", ipath);
            return -1;
        }
        if (kw_detector_parse(&ml->det[ml->n], item, ipath, err, errlen))
            return -1;
        ml->n++;
    }
    return 0;
}

static void release_members(void *field)
{
    struct member_list *ml = field;
    for (int i = 0; i < ml->n; i++)
        kw_detector_release(&ml->det[i]);
    free(ml->det);
    ml->det = NULL;
    ml->n = 0;
}

static int parse_weights(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    struct weight_list *wl = field;
    if (!node)
        return 0;
    if (!cJSON_IsArray(node) || cJSON_GetArraySize(node) == 0) {
        snprintf(err, errlen, "%s: must be an array of numbers, one per member", path);
        return -1;
    }
    int n = cJSON_GetArraySize(node);
    wl->w = xcalloc((size_t)n, sizeof(double));
    double sum = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, node) {
        if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) || item->valuedouble < 0) {
            snprintf(err, errlen, "%s[%d]: must be a number >= 0", path, wl->n);
            return -1;
        }
        sum += item->valuedouble;
        wl->w[wl->n++] = item->valuedouble;
    }
    if (!(sum > 0)) {
        snprintf(err, errlen, "%s: at least one weight must be > 0", path);
        return -1;
    }
    return 0;
}

static void release_weights(void *field)
{
    struct weight_list *wl = field;
    free(wl->w);
    wl->w = NULL;
    wl->n = 0;
}

static int ensemble_check(void *cfg, const char *path, char *err, size_t errlen)
{
    struct ensemble_config *c = cfg;
    int n = c->members.n;
    /* Options that the chosen combine ignores are errors, not silent no-ops. */
    if (c->weights.n && c->combine != COMBINE_WEIGHTED) {
        snprintf(err, errlen, "%s.weights: only used with combine \"weighted\"", path);
        return -1;
    }
    if (c->weights.n && c->weights.n != n) {
        snprintf(err, errlen, "%s.weights: has %d entries but members has %d", path, c->weights.n, n);
        return -1;
    }
    if (c->min_votes && c->combine != COMBINE_VOTE) {
        snprintf(err, errlen, "%s.min_votes: only used with combine \"vote\"", path);
        return -1;
    }
    if (c->min_votes > n) {
        snprintf(err, errlen, "%s.min_votes: must be <= the number of members (%d)", path, n);
        return -1;
    }
    if (c->min_votes == 0)
        c->min_votes = n / 2 + 1;
    return 0;
}

static int ensemble_accepts(const void *cfg, const struct kw_series_info *info, char *err, size_t errlen)
{
    const struct ensemble_config *c = cfg;
    for (int i = 0; i < c->members.n; i++) {
        char reason[KW_ERR_LEN];
        if (kw_detector_accepts(&c->members.det[i], info, reason, sizeof reason)) {
            snprintf(err, errlen, "members[%d] (%s): %s", i, c->members.det[i].type->name, reason);
            return -1;
        }
    }
    return 0;
}

static struct kw_detector_state *states_new(const struct ensemble_config *c, const struct kw_series_info *info)
{
    struct kw_detector_state *st = xcalloc((size_t)c->members.n, sizeof *st);
    for (int i = 0; i < c->members.n; i++)
        kw_detector_state_init(&st[i], &c->members.det[i], info);
    return st;
}

static void states_free(struct kw_detector_state *st, const struct kw_detector_type **types, int n)
{
    for (int i = 0; i < n; i++)
        if (st[i].impl)
            types[i]->state_free(st[i].impl);
    free(st);
}

static void *ensemble_new(const void *cfg, const struct kw_series_info *info)
{
    const struct ensemble_config *c = cfg;
    struct ensemble_state *es = xcalloc(1, sizeof *es);
    es->n = c->members.n;
    es->info = *info;
    es->types = xcalloc((size_t)es->n, sizeof *es->types);
    for (int i = 0; i < es->n; i++)
        es->types[i] = c->members.det[i].type;
    es->st = states_new(c, info);
    return es;
}

static void ensemble_free(void *state)
{
    struct ensemble_state *es = state;
    if (!es)
        return;
    states_free(es->st, es->types, es->n);
    free(es->types);
    free(es);
}

static void ensemble_update(void *state, const void *cfg, const struct kw_series_info *info,
                            const struct kw_sample *in, struct kw_verdict *out)
{
    struct ensemble_state *es = state;
    const struct ensemble_config *c = cfg;
    int ready = 0, votes = 0, best = -1;
    double score_sum = 0, wsum = 0, wscore = 0;
    struct kw_verdict v[ENSEMBLE_MAX_MEMBERS];
    /* Every member sees every interval, so none falls behind. */
    for (int i = 0; i < es->n; i++) {
        kw_detector_update(&es->st[i], &c->members.det[i], info, in, &v[i]);
        if (!v[i].ready)
            continue;
        ready++;
        votes += v[i].anomalous;
        score_sum += v[i].anomaly_score;
        double w = c->weights.n ? c->weights.w[i] : 1.0;
        wsum += w;
        wscore += w * v[i].anomaly_score;
        if (best < 0 || v[i].anomaly_score > v[best].anomaly_score)
            best = i;
    }
    if (isnan(in->value) || ready == 0)
        return;
    double combined;
    switch (c->combine) {
    case COMBINE_VOTE: {
        if (ready < c->min_votes)
            return;
        /* Below the quorum: 0.5 * (votes + mean score) / min_votes, < 0.5
         * (mean score < 1 while a ready member is quiet). At or above it:
         * 0.5 + 0.5 * (extra votes + mean score) / (possible extra votes + 1).
         * Both rise with the votes and with the members' own evidence, so the
         * score stays sweepable between and beyond the vote counts. */
        double mean = score_sum / ready;
        if (votes < c->min_votes)
            combined = fmin(0.5 * (votes + mean) / c->min_votes, 0.499);
        else
            combined = 0.5 + 0.5 * (votes - c->min_votes + mean) / (ready - c->min_votes + 1);
        out->anomalous = votes >= c->min_votes;
        out->score = votes;
        break;
    }
    case COMBINE_MAX:
        combined = v[best].anomaly_score;
        out->anomalous = votes > 0;
        out->score = combined;
        break;
    default:
        /* Weights of members still warming up drop out; the rest renormalise. */
        combined = wsum > 0 ? wscore / wsum : 0.0;
        out->anomalous = combined >= 0.5;
        out->score = combined;
        break;
    }
    /* The member with the most evidence explains the verdict. */
    out->ready = true;
    out->anomaly_score = combined;
    out->expected = v[best].expected;
    out->lower = v[best].lower;
    out->upper = v[best].upper;
    if (v[best].direction < 0)
        out->score = -out->score;
}

static cJSON *ensemble_save(const void *state, const void *cfg)
{
    const struct ensemble_state *es = state;
    const struct ensemble_config *c = cfg;
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < es->n; i++)
        cJSON_AddItemToArray(arr, kw_detector_state_save(&es->st[i], &c->members.det[i]));
    return arr;
}

/* All members load into fresh states first, so a mismatch in any of them
 * leaves the whole ensemble as it was. */
static int ensemble_load(void *state, const void *cfg, const cJSON *json)
{
    struct ensemble_state *es = state;
    const struct ensemble_config *c = cfg;
    if (!cJSON_IsArray(json) || cJSON_GetArraySize(json) != es->n || c->members.n != es->n)
        return -1;
    struct kw_detector_state *fresh = states_new(c, &es->info);
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, json) {
        if (kw_detector_state_load(&fresh[i], &c->members.det[i], item)) {
            states_free(fresh, es->types, es->n);
            return -1;
        }
        i++;
    }
    states_free(es->st, es->types, es->n);
    es->st = fresh;
    return 0;
}

static size_t ensemble_bytes(const void *state)
{
    const struct ensemble_state *es = state;
    size_t b = sizeof *es + (size_t)es->n * (sizeof *es->types + sizeof *es->st);
    for (int i = 0; i < es->n; i++)
        if (es->types[i]->state_bytes)
            b += es->types[i]->state_bytes(es->st[i].impl);
    return b;
}

const struct kw_detector_type ensemble_detector = {
    .name = "ensemble",
    .description = "Combines member detectors by vote, max or weighted mean score.",
    .options = ensemble_options,
    .config_size = sizeof(struct ensemble_config),
    .config_check = ensemble_check,
    .accepts = ensemble_accepts,
    .state_new = ensemble_new,
    .update = ensemble_update,
    .state_save = ensemble_save,
    .state_load = ensemble_load,
    .state_free = ensemble_free,
    .state_bytes = ensemble_bytes,
};
