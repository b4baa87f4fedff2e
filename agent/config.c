/* config: walk the sections of kpiwatch.json; each module checks its own. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"

#define MAX_INPUTS 64

static const char *const log_levels[] = {"debug", "info", "warn", "error", "off", NULL};
static const char *const log_formats[] = {"text", "logfmt", NULL};

/* ---- option tables ----------------------------------------------------- */

static const struct kw_option agent_options[] = {
    {"log_level", KW_OPT_ENUM, "info", offsetof(struct kw_config, log_level), KW_NORANGE,
     .choices = log_levels, .desc = "Minimum level written to stderr."},
    {"log_format", KW_OPT_ENUM, "text", offsetof(struct kw_config, log_format), KW_NORANGE,
     .choices = log_formats,
     .desc = "Log line format on stderr: text (\"TIME LEVEL [component] message\") or logfmt (ts=... level=... component=... msg=\"...\")."},
    {"state_dir", KW_OPT_STRING, "", offsetof(struct kw_config, state_dir), KW_NORANGE,
     .desc = "Directory for detector state (written atomically on exit and periodically). Empty = no persistence."},
    {"max_series", KW_OPT_INT, "100000", offsetof(struct kw_config, max_series), 1, 50000000,
     .desc = "Most KPI series tracked at once; points for new series beyond it are rejected (series_limit)."},
    {"series_ttl", KW_OPT_DURATION, "24h", offsetof(struct kw_config, series_ttl_ms), 60, 31536000,
     .desc = "A series with no points for this long (event time) is dropped with its state."},
    {"stats_interval", KW_OPT_DURATION, "60s", offsetof(struct kw_config, stats_interval_ms), 0, 86400,
     .desc = "How often self-metrics are logged; 0 = only at exit."},
    KW_OPT_END,
};

/* ---- environment substitution -------------------------------------------- */

/* Replace ${VAR}, ${VAR:-default} and ${VAR:+word} in s. Returns a new string or NULL with err. */
static char *substitute_env(const char *s, const char *path, char *err, size_t errlen)
{
    size_t cap = strlen(s) + 64, len = 0;
    char *out = xmalloc(cap);
    for (const char *p = s; *p;) {
        if (p[0] == '$' && p[1] == '{') {
            const char *close = strchr(p + 2, '}');
            if (!close) {
                snprintf(err, errlen, "%s: unterminated ${ in \"%.40s\"", path, s);
                free(out);
                return NULL;
            }
            char name[128];
            size_t nlen = (size_t)(close - (p + 2));
            if (nlen == 0 || nlen >= sizeof name) {
                snprintf(err, errlen, "%s: bad variable reference in \"%.40s\"", path, s);
                free(out);
                return NULL;
            }
            memcpy(name, p + 2, nlen);
            name[nlen] = '\0';
            const char *fallback = NULL, *alternative = NULL;
            char *sep = strstr(name, ":-"), *plus = strstr(name, ":+");
            if (sep && (!plus || sep < plus)) {
                *sep = '\0';
                fallback = sep + 2;
            } else if (plus) {
                *plus = '\0';
                alternative = plus + 2;
            }
            const char *val = getenv(name);
            if (alternative) /* ${VAR:+word}: word when VAR is set and non-empty, else "" */
                val = val && *val ? alternative : "";
            else if (!val || (!*val && fallback))
                val = fallback;
            if (!val) {
                snprintf(err, errlen, "%s: environment variable %s is not set", path, name);
                free(out);
                return NULL;
            }
            size_t vlen = strlen(val);
            while (len + vlen + 1 > cap)
                out = xrealloc(out, cap *= 2);
            memcpy(out + len, val, vlen);
            len += vlen;
            p = close + 1;
        } else {
            if (len + 2 > cap)
                out = xrealloc(out, cap *= 2);
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

static int substitute_tree(cJSON *node, const char *path, char *err, size_t errlen)
{
    int index = 0;
    for (cJSON *child = node->child; child; child = child->next, index++) {
        char p[KW_ERR_LEN];
        if (cJSON_IsObject(node))
            kw_path_key(p, sizeof p, path, child->string);
        else
            kw_path_index(p, sizeof p, path, index);
        if (cJSON_IsString(child) && strstr(child->valuestring, "${")) {
            char *value = substitute_env(child->valuestring, p, err, errlen);
            if (!value)
                return -1;
            cJSON_SetValuestring(child, value);
            free(value);
            child->type |= KW_JSON_SUBSTITUTED;
        } else if (cJSON_IsObject(child) || cJSON_IsArray(child)) {
            if (substitute_tree(child, p, err, errlen))
                return -1;
        }
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

/* cJSON keeps every copy of a repeated key and lookups find the first;
 * most tools keep the last. Which one the writer meant is a guess, so a
 * repeated key is an error, as it is in a point. Sorted, not compared
 * pairwise, so that a hostile file with a huge object costs n log n. */
static int reject_duplicate_keys(const cJSON *node, const char *path, char *err, size_t errlen)
{
    int n = 0;
    for (const cJSON *c = node->child; c; c = c->next)
        n++;
    if (cJSON_IsObject(node) && n > 1) {
        const cJSON **sorted = xmalloc((size_t)n * sizeof *sorted);
        int i = 0;
        for (const cJSON *c = node->child; c; c = c->next)
            sorted[i++] = c;
        qsort(sorted, (size_t)n, sizeof *sorted, by_name);
        const char *twice = NULL;
        for (i = 1; i < n && !twice; i++)
            if (strcmp(sorted[i - 1]->string, sorted[i]->string) == 0)
                twice = sorted[i]->string;
        free(sorted);
        if (twice) {
            char p[KW_ERR_LEN];
            snprintf(err, errlen, "%s: given more than once (which one is meant would be a guess)",
                     kw_path_key(p, sizeof p, path, twice));
            return -1;
        }
    }
    int index = 0;
    for (const cJSON *c = node->child; c; c = c->next, index++) {
        if (!cJSON_IsObject(c) && !cJSON_IsArray(c))
            continue;
        char p[KW_ERR_LEN];
        if (cJSON_IsObject(node))
            kw_path_key(p, sizeof p, path, c->string);
        else
            kw_path_index(p, sizeof p, path, index);
        if (reject_duplicate_keys(c, p, err, errlen))
            return -1;
    }
    return 0;
}

/* The "enabled" of each receiver as written, before substitution (NULL
 * where it names no variable), so a receiver that is off can say which
 * variable turned it off. Free with free_enabled_texts. */
static char **enabled_texts(const cJSON *root, int *n)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "receivers"), *item;
    if (!cJSON_IsArray(arr))
        arr = NULL;
    *n = arr ? cJSON_GetArraySize(arr) : 0;
    char **texts = xcalloc((size_t)*n + 1, sizeof *texts);
    int i = 0;
    cJSON_ArrayForEach(item, arr) {
        const cJSON *e = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, "enabled") : NULL;
        if (cJSON_IsString(e) && strstr(e->valuestring, "${"))
            texts[i] = xstrdup(e->valuestring);
        i++;
    }
    return texts;
}

static void free_enabled_texts(char **texts, int n)
{
    for (int i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
}

/* Name the first variable in written that is unset or empty as the reason r is off. */
static void explain_off(struct kw_receiver *r, const char *written)
{
    for (const char *p = strstr(written, "${"); p; p = strstr(p + 2, "${")) {
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(p + 2, ":}"), p + 2);
        const char *v = getenv(name);
        if (!v || !*v) {
            snprintf(r->off_reason, sizeof r->off_reason, "%s is %s (\"enabled\": \"%.100s\")", name,
                     v ? "empty" : "not set", written);
            return;
        }
    }
}

/* ---- sections ------------------------------------------------------------ */

/* A section that must be an object when present. */
static int section_object(const cJSON *node, const char *name, char *err, size_t errlen)
{
    if (node && !cJSON_IsNull(node) && !cJSON_IsObject(node)) {
        snprintf(err, errlen, "%s: must be an object", name);
        return -1;
    }
    return 0;
}

static int parse_object_array(const cJSON *root, const char *key, bool required, const char *what,
                              char *err, size_t errlen, const cJSON **out, int *n)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = arr;
    *n = 0;
    if (!arr || cJSON_IsNull(arr)) {
        if (required) {
            snprintf(err, errlen, "%s: is required (an array of %s)", key, what);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "%s: must be an array of %s", key, what);
        return -1;
    }
    *n = cJSON_GetArraySize(arr);
    if (required && *n == 0) {
        snprintf(err, errlen, "%s: must list at least one of %s", key, what);
        return -1;
    }
    return 0;
}

static int parse_inputs(struct kw_config *cfg, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *arr, *item;
    int n;
    if (parse_object_array(root, "inputs", false, "inputs", err, errlen, &arr, &n))
        return -1;
    if (n > MAX_INPUTS) {
        snprintf(err, errlen, "inputs: at most %d inputs (this config has %d)", MAX_INPUTS, n);
        return -1;
    }
    cfg->inputs = xcalloc((size_t)n + 1, sizeof *cfg->inputs);
    cJSON_ArrayForEach(item, arr) {
        char path[KW_ERR_LEN];
        kw_path_index(path, sizeof path, "inputs", cfg->ninputs);
        struct kw_input_config *in = &cfg->inputs[cfg->ninputs++];
        if (kw_input_parse(in, item, path, err, errlen))
            return -1;
        for (int k = 0; k < cfg->ninputs - 1; k++) {
            if (strcmp(cfg->inputs[k].name, in->name) == 0) {
                snprintf(err, errlen, "%s.name: \"%s\" is already used by inputs[%d]", path, in->name, k);
                return -1;
            }
            /* One consumer group membership owns the pipeline's partitions. */
            if (in->type == KW_INPUT_KAFKA && cfg->inputs[k].type == KW_INPUT_KAFKA) {
                snprintf(err, errlen, "%s: at most one kafka input (inputs[%d] is one)", path, k);
                return -1;
            }
        }
    }
    return 0;
}

static int parse_kpis(struct kw_config *cfg, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *arr, *item;
    int n;
    if (parse_object_array(root, "kpis", true, "KPIs", err, errlen, &arr, &n))
        return -1;
    /* Roll-ups become KPIs of their own after the configured ones. */
    int rollups = 0;
    cJSON_ArrayForEach(item, arr) {
        const cJSON *r = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, "rollups") : NULL;
        rollups += cJSON_IsArray(r) ? cJSON_GetArraySize(r) : 0;
    }
    cfg->kpis = xcalloc((size_t)n + (size_t)rollups + 1, sizeof *cfg->kpis);
    cJSON_ArrayForEach(item, arr) {
        char path[KW_ERR_LEN];
        kw_path_index(path, sizeof path, "kpis", cfg->nkpis);
        struct kw_kpi_config *kpi = &cfg->kpis[cfg->nkpis++];
        if (!cJSON_IsObject(item)) {
            snprintf(err, errlen, "%s: must be an object", path);
            return -1;
        }
        if (kw_kpi_parse(kpi, item, path, err, errlen))
            return -1;
        for (int k = 0; k < cfg->nkpis - 1; k++) {
            if (strcmp(cfg->kpis[k].name, kpi->name) == 0) {
                snprintf(err, errlen, "%s.name: \"%s\" is already used by kpis[%d]", path, kpi->name, k);
                return -1;
            }
        }
    }
    int configured = cfg->nkpis, k = 0;
    cJSON_ArrayForEach(item, arr) {
        char path[KW_ERR_LEN];
        kw_path_index(path, sizeof path, "kpis", k);
        for (int r = 0; r < cfg->kpis[k].rollups.n; r++) {
            struct kw_kpi_config *kpi = &cfg->kpis[cfg->nkpis++];
            if (kw_kpi_parse_rollup(kpi, item, &cfg->kpis[k], k, r, path, err, errlen))
                return -1;
            for (int j = 0; j < cfg->nkpis - 1; j++) {
                if (strcmp(cfg->kpis[j].name, kpi->name) == 0) {
                    snprintf(err, errlen, "%s.rollups[%d]: its name \"%s\" is already used by kpis[%d]", path, r,
                             kpi->name, j < configured ? j : cfg->kpis[j].rollup_of);
                    return -1;
                }
            }
        }
        k++;
    }
    return 0;
}

/* Silences written in the config; ends_at is required, starts_at defaults
 * to the time the config is loaded. */
static int parse_silences(struct kw_config *cfg, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *arr, *item;
    int n;
    if (parse_object_array(root, "silences", false, "silences", err, errlen, &arr, &n))
        return -1;
    cfg->silences = xcalloc((size_t)n + 1, sizeof *cfg->silences);
    int64_t now = kw_now_ms();
    cJSON_ArrayForEach(item, arr) {
        char path[KW_ERR_LEN];
        kw_path_index(path, sizeof path, "silences", cfg->nsilences);
        struct kw_silence *s = &cfg->silences[cfg->nsilences];
        char inner[KW_ERR_LEN];
        if (kw_silence_parse(s, item, now, path, err, errlen))
            return -1;
        if (kw_silence_check(s, inner, sizeof inner)) {
            snprintf(err, errlen, "%s.%s", path, inner);
            return -1;
        }
        s->from_config = true;
        cfg->nsilences++;
    }
    return 0;
}

static int parse_inhibit_rules(struct kw_config *cfg, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *arr, *item;
    int n;
    if (parse_object_array(root, "inhibit_rules", false, "inhibition rules", err, errlen, &arr, &n))
        return -1;
    cfg->inhibit = xcalloc((size_t)n + 1, sizeof *cfg->inhibit);
    cJSON_ArrayForEach(item, arr) {
        char path[KW_ERR_LEN];
        kw_path_index(path, sizeof path, "inhibit_rules", cfg->ninhibit);
        if (kw_inhibit_parse(&cfg->inhibit[cfg->ninhibit++], item, path, err, errlen))
            return -1;
    }
    return 0;
}

static int parse_receivers(struct kw_config *cfg, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *arr, *item;
    int n;
    if (parse_object_array(root, "receivers", false, "receivers", err, errlen, &arr, &n))
        return -1;
    cfg->receivers = xcalloc((size_t)n + 2, sizeof *cfg->receivers);
    if (n == 0) {
        /* No receivers: alerts go to the console, so nothing is silently dropped. */
        cJSON *console = cJSON_Parse("{\"name\":\"console\",\"type\":\"console\"}");
        int rc = kw_receiver_parse(&cfg->receivers[0], console, "receivers[0]", err, errlen);
        cJSON_Delete(console);
        cfg->nreceivers = rc ? 0 : 1;
        return rc;
    }
    cJSON_ArrayForEach(item, arr) {
        char path[KW_ERR_LEN];
        kw_path_index(path, sizeof path, "receivers", cfg->nreceivers);
        if (kw_receiver_parse(&cfg->receivers[cfg->nreceivers], item, path, err, errlen))
            return -1;
        cfg->nreceivers++;
        for (int k = 0; k < cfg->nreceivers - 1; k++) {
            if (strcmp(cfg->receivers[k].name, cfg->receivers[cfg->nreceivers - 1].name) == 0) {
                snprintf(err, errlen, "%s.name: \"%s\" is already used by receivers[%d]", path,
                         cfg->receivers[k].name, k);
                return -1;
            }
        }
    }
    return 0;
}

static void syntax_error(const char *text, const char *at, const char *name, char *err, size_t errlen)
{
    int line = 1, col = 1;
    for (const char *p = text; at && p < at && *p; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    snprintf(err, errlen, "%s:%d:%d: JSON syntax error near \"%.20s\"", name, line, col, at ? at : "");
    for (char *c = err; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
}

int kw_config_parse(struct kw_config *cfg, const char *text, const char *name, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, true);
    if (!root) {
        syntax_error(text, cJSON_GetErrorPtr(), name, err, errlen);
        return -1;
    }
    char inner[KW_ERR_LEN];
    int rc = -1, nenabled = 0;
    char **enabled = NULL;
    static const char *const sections[] = {"agent", "ingest", "inputs", "kpis", "receivers", "route", "delivery",
                                           "silences", "http", "inhibit_rules", "time_intervals", NULL};
    if (!cJSON_IsObject(root)) {
        snprintf(inner, sizeof inner, "(top level): must be an object");
        goto out;
    }
    enabled = enabled_texts(root, &nenabled);
    if (reject_duplicate_keys(root, "", inner, sizeof inner) ||
        substitute_tree(root, "", inner, sizeof inner) ||
        kw_opts_reject_unknown(root, NULL, sections, "", inner, sizeof inner))
        goto out;
    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(root, "agent");
    const cJSON *ingest = cJSON_GetObjectItemCaseSensitive(root, "ingest");
    const cJSON *delivery = cJSON_GetObjectItemCaseSensitive(root, "delivery");
    const struct kw_option *delivery_tables[] = {kw_delivery_options, NULL};
    const struct kw_option *agent_tables[] = {agent_options, NULL};
    if (section_object(agent, "agent", inner, sizeof inner) ||
        kw_opts_reject_unknown(agent, agent_tables, NULL, "agent", inner, sizeof inner) ||
        kw_opts_fill(agent_options, agent, cfg, "agent", inner, sizeof inner) ||
        section_object(ingest, "ingest", inner, sizeof inner) ||
        kw_ingest_parse(&cfg->ingest, ingest, "ingest", inner, sizeof inner) ||
        section_object(delivery, "delivery", inner, sizeof inner) ||
        kw_opts_reject_unknown(delivery, delivery_tables, NULL, "delivery", inner, sizeof inner) ||
        kw_opts_fill(kw_delivery_options, delivery, &cfg->delivery, "delivery", inner, sizeof inner))
        goto out;
    const cJSON *http = cJSON_GetObjectItemCaseSensitive(root, "http");
    if (section_object(http, "http", inner, sizeof inner) || kw_http_parse(&cfg->http, http, "http", inner, sizeof inner))
        goto out;
    if (parse_inputs(cfg, root, inner, sizeof inner) || parse_kpis(cfg, root, inner, sizeof inner) ||
        parse_receivers(cfg, root, inner, sizeof inner) ||
        kw_time_intervals_parse(&cfg->time_intervals, cJSON_GetObjectItemCaseSensitive(root, "time_intervals"),
                                "time_intervals", inner, sizeof inner) ||
        kw_routing_parse(&cfg->routing, cJSON_GetObjectItemCaseSensitive(root, "route"), cfg->receivers,
                         cfg->nreceivers, &cfg->time_intervals, inner, sizeof inner) ||
        parse_silences(cfg, root, inner, sizeof inner) || parse_inhibit_rules(cfg, root, inner, sizeof inner))
        goto out;
    for (int i = 0; i < cfg->nreceivers && i < nenabled; i++)
        if (cfg->receivers[i].disabled && enabled[i])
            explain_off(&cfg->receivers[i], enabled[i]);
    cfg->path = xstrdup(name);
    rc = 0;
out:
    free_enabled_texts(enabled, nenabled);
    cJSON_Delete(root);
    if (rc) {
        snprintf(err, errlen, "%s: %s", name, inner);
        kw_config_release(cfg);
    }
    return rc;
}

int kw_config_load(struct kw_config *cfg, const char *path, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 65536, len = 0, n;
    char *text = xmalloc(cap);
    while ((n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 >= cap)
            text = xrealloc(text, cap *= 2);
        if (len > (64u << 20))
            break;
    }
    fclose(f);
    text[len] = '\0';
    if (len > (64u << 20)) {
        snprintf(err, errlen, "%s: larger than 64 MiB", path);
        free(text);
        return -1;
    }
    int rc = kw_config_parse(cfg, text, path, err, errlen);
    free(text);
    return rc;
}

void kw_config_release(struct kw_config *cfg)
{
    for (int i = 0; i < cfg->ninputs; i++)
        kw_input_release(&cfg->inputs[i]);
    free(cfg->inputs);
    for (int i = 0; i < cfg->nkpis; i++)
        kw_kpi_release(&cfg->kpis[i]);
    free(cfg->kpis);
    for (int i = 0; i < cfg->nreceivers; i++)
        kw_receiver_release(&cfg->receivers[i]);
    free(cfg->receivers);
    kw_routing_release(&cfg->routing);
    kw_time_intervals_release(&cfg->time_intervals);
    free(cfg->silences);
    for (int i = 0; i < cfg->ninhibit; i++)
        kw_inhibit_release(&cfg->inhibit[i]);
    free(cfg->inhibit);
    kw_opts_release(agent_options, cfg);
    kw_ingest_release(&cfg->ingest);
    kw_opts_release(kw_delivery_options, &cfg->delivery);
    kw_http_config_release(&cfg->http);
    free(cfg->path);
    memset(cfg, 0, sizeof *cfg);
}

void kw_config_print_reference(void *stream)
{
    FILE *out = stream;
    struct {
        const char *title;
        const struct kw_option *table;
    } sections[] = {
        {"`agent`", agent_options},           {"`ingest`", kw_ingest_options},
        {"`inputs[]`", kw_input_options},     {"`inputs[]` of type kafka", kw_kafka_options},
        {"`kpis[]`", kw_kpi_options},
        {"`kpis[].alert`", kw_rule_options},  {"`route` and every `routes[]` node", kw_route_options},
        {"`delivery`", kw_delivery_options},
        {"`inhibit_rules[]`", kw_inhibit_options},
        {"`time_intervals[]`", kw_time_interval_options},
        {"`time_intervals[].time_intervals[]`", kw_time_period_options},
        {"`time_intervals[].time_intervals[].times[]`", kw_time_range_options},
        {"`http`", kw_http_options},
    };
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        fprintf(out, "\n#### %s\n\n| key | type | default | description |\n|---|---|---|---|\n", sections[s].title);
        kw_opts_print_markdown(sections[s].table, out);
    }
    /* silences[] are parsed as the API's silences are (silence.c), not by a table */
    fprintf(out, "\n#### `silences[]`\n\n| key | type | default | description |\n|---|---|---|---|\n"
                 "| `matchers` | list of objects | **required** | 1 to %d of `{\"name\": LABEL, \"value\": TEXT, "
                 "\"op\": \"=\"}`; `op` is `=` (default), `!=`, `=~` or `!~`; `name` may be `kpi` or `severity`. |\n"
                 "| `starts_at` | RFC 3339 time | when the config is loaded | When the silence starts. |\n"
                 "| `ends_at` | RFC 3339 time | **required** | When it ends (after `starts_at`). |\n"
                 "| `created_by` | string | (none) | Who set it. |\n"
                 "| `comment` | string | (none) | Why. |\n",
            KW_SILENCE_MATCHERS);
    fprintf(out, "\n#### `kpis[].detector` (every type)\n\n| key | type | default | description |\n|---|---|---|---|\n");
    fprintf(out, "| `type` | string | by KPI kind | Detector name. |\n");
    kw_opts_print_markdown(kw_detector_common_options(), out);
    for (int i = 0; kw_detector_types[i]; i++) {
        fprintf(out, "\n#### detector `%s`\n\n%s\n\n| key | type | default | description |\n|---|---|---|---|\n",
                kw_detector_types[i]->name, kw_detector_types[i]->description);
        kw_opts_print_markdown(kw_detector_types[i]->options, out);
    }
    for (int i = 0; kw_notifier_types[i]; i++) {
        fprintf(out, "\n#### receiver `%s`\n\n%s\n\n| key | type | default | description |\n|---|---|---|---|\n",
                kw_notifier_types[i]->name, kw_notifier_types[i]->description);
        fprintf(out, "| `name` | string | **required** | Receiver name used by routes. |\n");
        fprintf(out, "| `type` | string | **required** | `%s`. |\n", kw_notifier_types[i]->name);
        kw_opts_print_markdown(kw_notifier_types[i]->options, out);
        kw_opts_print_markdown(kw_receiver_common_options(), out);
    }
}
