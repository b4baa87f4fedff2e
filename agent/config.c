/* config: parse and validate kpiwatch.json through option tables. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"

#define MAX_GROUP_BY KW_ALERT_MAX_LABELS
#define MAX_OPEN_INTERVALS 64

static const char *const log_levels[] = {"debug", "info", "warn", "error", "off", NULL};
static const char *const input_modes[] = {"bind", "connect", NULL};
static const char *const input_sockets[] = {"sub", "pull", NULL};
static const char *const aggregations[] = {"sum", "count", "mean", "last", "ratio", "max", "min", "quantile", NULL};
static const char *const kinds[] = {"auto", "count", "rate", "continuous", NULL};

/* ---- custom option parsers ------------------------------------------- */

static int parse_string_list(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    struct kw_string_list *list = field;
    if (!node)
        return 0;
    if (!cJSON_IsArray(node)) {
        snprintf(err, errlen, "%s: must be an array of strings", path);
        return -1;
    }
    int n = cJSON_GetArraySize(node);
    list->items = xcalloc((size_t)n + 1, sizeof *list->items);
    const cJSON *item;
    cJSON_ArrayForEach(item, node) {
        if (!cJSON_IsString(item)) {
            char p[KW_ERR_LEN];
            snprintf(err, errlen, "%s: must be a string", kw_path_index(p, sizeof p, path, list->n));
            return -1;
        }
        list->items[list->n++] = xstrdup(item->valuestring);
    }
    return 0;
}

static void release_string_list(void *field)
{
    struct kw_string_list *list = field;
    for (int i = 0; i < list->n; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

static int parse_matchers(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    struct kw_matcher_list *m = field;
    if (!node)
        return 0;
    if (!cJSON_IsObject(node)) {
        snprintf(err, errlen, "%s: must be an object of label: value", path);
        return -1;
    }
    int n = cJSON_GetArraySize(node);
    m->names = xcalloc((size_t)n + 1, sizeof *m->names);
    m->values = xcalloc((size_t)n + 1, sizeof *m->values);
    const cJSON *item;
    cJSON_ArrayForEach(item, node) {
        if (!cJSON_IsString(item)) {
            char p[KW_ERR_LEN];
            snprintf(err, errlen, "%s: must be a string", kw_path_key(p, sizeof p, path, item->string));
            return -1;
        }
        m->names[m->n] = xstrdup(item->string);
        m->values[m->n] = xstrdup(item->valuestring);
        m->n++;
    }
    return 0;
}

static void release_matchers(void *field)
{
    struct kw_matcher_list *m = field;
    for (int i = 0; i < m->n; i++) {
        free(m->names[i]);
        free(m->values[i]);
    }
    free(m->names);
    free(m->values);
    memset(m, 0, sizeof *m);
}

/* A duration, or "native" (= 0: every point is its own interval). */
static int parse_interval(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    int64_t *ms = field;
    if (!node)
        return kw_parse_duration("5m", ms);
    if (cJSON_IsString(node) && strcmp(node->valuestring, "native") == 0) {
        *ms = 0;
        return 0;
    }
    if (cJSON_IsNumber(node) && node->valuedouble >= 0 && node->valuedouble <= 604800) {
        *ms = (int64_t)(node->valuedouble * 1000.0);
        return 0;
    }
    if (cJSON_IsString(node) && kw_parse_duration(node->valuestring, ms) == 0 && *ms <= 604800000)
        return 0;
    snprintf(err, errlen, "%s: must be a duration up to 7d (\"5m\", \"1h\"), or 0 / \"native\"", path);
    return -1;
}

/* ---- option tables ----------------------------------------------------- */

static const struct kw_option agent_options[] = {
    {"log_level", KW_OPT_ENUM, "info", offsetof(struct kw_config, log_level), KW_NORANGE,
     .choices = log_levels, .desc = "Minimum level written to stderr."},
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

static const struct kw_option ingest_options[] = {
    {"max_labels", KW_OPT_INT, "16", offsetof(struct kw_ingest_limits, max_labels), 1, KW_MAX_LABELS,
     .desc = "Most labels on one point."},
    {"max_label_bytes", KW_OPT_INT, "128", offsetof(struct kw_ingest_limits, max_label_bytes), 1, KW_ALERT_LABEL_VALUE - 1,
     .desc = "Longest label name or value, in bytes."},
    {"max_metric_bytes", KW_OPT_INT, "128", offsetof(struct kw_ingest_limits, max_metric_bytes), 1, 255,
     .desc = "Longest metric name, in bytes."},
    {"max_message_bytes", KW_OPT_INT, "1048576", offsetof(struct kw_ingest_limits, max_message_bytes), 64, 268435456,
     .desc = "Largest message accepted; larger ones are rejected whole."},
    {"max_past", KW_OPT_DURATION, "1h", offsetof(struct kw_ingest_limits, max_past_ms), 0, 31536000,
     .desc = "Reject points older than this against the wall clock (0 = no check)."},
    {"max_future", KW_OPT_DURATION, "5m", offsetof(struct kw_ingest_limits, max_future_ms), 0, 31536000,
     .desc = "Reject points newer than this against the wall clock (0 = no check)."},
    KW_OPT_END,
};

static const struct kw_option input_options[] = {
    {"name", KW_OPT_STRING, NULL, offsetof(struct kw_input_config, name), KW_NORANGE,
     .desc = "Name used in logs and self-metrics."},
    {"endpoint", KW_OPT_STRING, NULL, offsetof(struct kw_input_config, endpoint), KW_NORANGE,
     .desc = "ZeroMQ endpoint, e.g. tcp://127.0.0.1:5556 or ipc:///run/kpiwatch.sock."},
    {"mode", KW_OPT_ENUM, "bind", offsetof(struct kw_input_config, mode), KW_NORANGE,
     .choices = input_modes, .desc = "bind: publishers connect to us; connect: we connect to a publisher."},
    {"socket", KW_OPT_ENUM, "sub", offsetof(struct kw_input_config, socket), KW_NORANGE,
     .choices = input_sockets, .desc = "sub (PUB/SUB fan-out, topic filters) or pull (PUSH/PULL, back-pressure)."},
    {"topics", KW_OPT_CUSTOM, "", offsetof(struct kw_input_config, topics), KW_NORANGE,
     .parse = parse_string_list, .release = release_string_list, .type_name = "list of strings",
     .desc = "SUB topic prefixes; [] subscribes to everything."},
    {"rcvhwm", KW_OPT_INT, "100000", offsetof(struct kw_input_config, rcvhwm), 1, 100000000,
     .desc = "ZeroMQ receive high-water mark, in messages."},
    KW_OPT_END,
};

static const struct kw_option kpi_options[] = {
    {"name", KW_OPT_STRING, NULL, offsetof(struct kw_kpi_config, name), KW_NORANGE,
     .desc = "Unique KPI name, shown in alerts."},
    {"description", KW_OPT_STRING, "", offsetof(struct kw_kpi_config, description), KW_NORANGE,
     .desc = "What the KPI means, for the people reading alerts."},
    {"metric", KW_OPT_STRING, NULL, offsetof(struct kw_kpi_config, metric), KW_NORANGE,
     .desc = "Input metric (the numerator for ratio)."},
    {"denominator", KW_OPT_STRING, "", offsetof(struct kw_kpi_config, denominator), KW_NORANGE,
     .desc = "Ratio KPIs: the denominator metric (e.g. step entries)."},
    {"aggregation", KW_OPT_ENUM, "sum", offsetof(struct kw_kpi_config, aggregation), KW_NORANGE,
     .choices = aggregations, .desc = "How points combine within an interval."},
    {"kind", KW_OPT_ENUM, "auto", offsetof(struct kw_kpi_config, kind), KW_NORANGE,
     .choices = kinds, .desc = "auto: sum/count are counts, ratio is a rate, the rest continuous."},
    {"interval", KW_OPT_CUSTOM, "5m", offsetof(struct kw_kpi_config, interval_ms), KW_NORANGE,
     .parse = parse_interval, .type_name = "duration", .desc = "Interval length; 0 (or \"native\") makes every point its own interval."},
    {"native_spacing", KW_OPT_DURATION, "5m", offsetof(struct kw_kpi_config, native_spacing_ms), 0.001, 604800,
     .desc = "With interval 0: the nominal spacing of points (seasonal detectors need it); replay infers it."},
    {"lateness", KW_OPT_DURATION, "1m", offsetof(struct kw_kpi_config, lateness_ms), 0, 86400,
     .desc = "How long after its end an interval accepts late points."},
    {"quantile", KW_OPT_DOUBLE, "0.9", offsetof(struct kw_kpi_config, quantile), 0, 1,
     .desc = "aggregation \"quantile\": which quantile of the interval's values, e.g. 0.9 for p90."},
    {"quantile_samples", KW_OPT_INT, "512", offsetof(struct kw_kpi_config, quantile_samples), 16, 100000,
     .desc = "aggregation \"quantile\": values kept per interval (uniform reservoir); exact below this count."},
    {"group_by", KW_OPT_CUSTOM, "", offsetof(struct kw_kpi_config, group_by), KW_NORANGE,
     .parse = parse_string_list, .release = release_string_list, .type_name = "list of strings",
     .desc = "Labels that split the KPI into series, e.g. [\"journey\", \"step\"]; [] = one total series."},
    {"match", KW_OPT_CUSTOM, "", offsetof(struct kw_kpi_config, match), KW_NORANGE,
     .parse = parse_matchers, .release = release_matchers, .type_name = "object",
     .desc = "Only points whose labels equal all of these, e.g. {\"channel\": \"web\"}."},
    {"unit", KW_OPT_STRING, "", offsetof(struct kw_kpi_config, unit), KW_NORANGE,
     .desc = "What one unit of impact is, e.g. \"complaints\", \"lost orders\"."},
    {"cost_per_unit", KW_OPT_DOUBLE, "0", offsetof(struct kw_kpi_config, cost_per_unit), 0, 1e12,
     .desc = "Money per unit of impact, for the cost estimate in alerts; 0 = none."},
    {"currency", KW_OPT_STRING, "EUR", offsetof(struct kw_kpi_config, currency), KW_NORANGE,
     .desc = "Currency code shown with the cost estimate."},
    {"runbook", KW_OPT_STRING, "", offsetof(struct kw_kpi_config, runbook), KW_NORANGE,
     .desc = "Runbook URL included in alerts."},
    {"dashboard", KW_OPT_STRING, "", offsetof(struct kw_kpi_config, dashboard), KW_NORANGE,
     .desc = "Dashboard URL included in alerts."},
    KW_OPT_END,
};

static const struct kw_option rule_options[] = {
    {"for", KW_OPT_INT, "1", offsetof(struct kw_rule_config, for_intervals), 1, 10000,
     .desc = "Consecutive anomalous intervals before the alert fires (pending until then). The default detectors "
             "are strict enough to fire on the first; 2 or more also ignores one-interval spikes."},
    {"resolve_after", KW_OPT_INT, "3", offsetof(struct kw_rule_config, resolve_after), 1, 10000,
     .desc = "Consecutive normal intervals before a firing alert resolves (hysteresis)."},
    {"critical_severity", KW_OPT_DOUBLE, "80", offsetof(struct kw_rule_config, critical_severity), 0, 100,
     .desc = "Peak severity (0..100) at or above which the alert is critical, else warning."},
    {"min_severity", KW_OPT_DOUBLE, "0", offsetof(struct kw_rule_config, min_severity), 0, 100,
     .desc = "Anomalies below this severity count as normal."},
    {"repeat_interval", KW_OPT_DURATION, "0", offsetof(struct kw_rule_config, repeat_interval_ms), 0, 604800,
     .desc = "Notify again while still firing after this much event time; 0 = never."},
    KW_OPT_END,
};

static const struct kw_option route_options[] = {
    {"match", KW_OPT_CUSTOM, "", offsetof(struct kw_route_config, match), KW_NORANGE,
     .parse = parse_matchers, .release = release_matchers, .type_name = "object",
     .desc = "Label equality matchers; the KPI name matches as label \"kpi\"."},
    {"receiver", KW_OPT_STRING, NULL, offsetof(struct kw_route_config, receiver), KW_NORANGE,
     .desc = "Receiver name for matching alerts."},
    {"continue", KW_OPT_BOOL, "false", offsetof(struct kw_route_config, cont), KW_NORANGE,
     .desc = "Keep matching later routes after this one matched."},
    KW_OPT_END,
};

/* ---- environment substitution -------------------------------------------- */

/* Replace ${VAR} and ${VAR:-default} in s. Returns a new string or NULL with err. */
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
            const char *fallback = NULL;
            char *sep = strstr(name, ":-");
            if (sep) {
                *sep = '\0';
                fallback = sep + 2;
            }
            const char *val = getenv(name);
            if (!val || (!*val && fallback))
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
        } else if (cJSON_IsObject(child) || cJSON_IsArray(child)) {
            if (substitute_tree(child, p, err, errlen))
                return -1;
        }
    }
    return 0;
}

/* ---- sections ------------------------------------------------------------ */

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
    if (parse_object_array(root, "inputs", false, "inputs", err, errlen, &arr, &cfg->ninputs))
        return -1;
    cfg->inputs = xcalloc((size_t)cfg->ninputs + 1, sizeof *cfg->inputs);
    const struct kw_option *tables[] = {input_options, NULL};
    int i = 0;
    cJSON_ArrayForEach(item, arr) {
        char path[KW_ERR_LEN];
        kw_path_index(path, sizeof path, "inputs", i);
        struct kw_input_config *in = &cfg->inputs[i++];
        if (kw_opts_reject_unknown(item, tables, NULL, path, err, errlen) ||
            kw_opts_fill(input_options, item, in, path, err, errlen))
            return -1;
        if (!strstr(in->endpoint, "://")) {
            snprintf(err, errlen, "%s.endpoint: must look like tcp://HOST:PORT, ipc://PATH or inproc://NAME", path);
            return -1;
        }
        if (in->socket == KW_INPUT_PULL && in->topics.n > 0) {
            snprintf(err, errlen, "%s.topics: only a sub socket has topics", path);
            return -1;
        }
        for (int k = 0; k < i - 1; k++) {
            if (strcmp(cfg->inputs[k].name, in->name) == 0) {
                snprintf(err, errlen, "%s.name: \"%s\" is already used by inputs[%d]", path, in->name, k);
                return -1;
            }
        }
    }
    return 0;
}

/* The default detector for each KPI kind: the one `make accuracy` picks on
 * the labelled benchmark (best F1; near-ties go to the faster, then the
 * smaller one). */
static const char *default_detector_json(int kind)
{
    switch (kind) {
    case KW_KIND_COUNT:
        return "{\"type\":\"poisson\"}";
    case KW_KIND_RATE:
        return "{\"type\":\"binomial\"}";
    default:
        return "{\"type\":\"holt_winters\"}";
    }
}

/* When the kind's default cannot run on this KPI (a daily season does not fit
 * an interval of 7 minutes or 2 days), the robust median detector can. */
#define FALLBACK_DETECTOR "{\"type\":\"mad\"}"

static int parse_kpi(struct kw_config *cfg, struct kw_kpi_config *kpi, const cJSON *item, const char *path,
                     char *err, size_t errlen)
{
    const struct kw_option *tables[] = {kpi_options, NULL};
    static const char *const extra[] = {"detector", "alert", NULL};
    if (kw_opts_reject_unknown(item, tables, extra, path, err, errlen) ||
        kw_opts_fill(kpi_options, item, kpi, path, err, errlen))
        return -1;
    char p[KW_ERR_LEN];
    if (kpi->aggregation == KW_AGG_RATIO && !kpi->denominator) {
        snprintf(err, errlen, "%s: is required when aggregation is \"ratio\"", kw_path_key(p, sizeof p, path, "denominator"));
        return -1;
    }
    if (kpi->aggregation != KW_AGG_RATIO && kpi->denominator) {
        snprintf(err, errlen, "%s: only a \"ratio\" KPI has a denominator", kw_path_key(p, sizeof p, path, "denominator"));
        return -1;
    }
    if (kpi->aggregation == KW_AGG_RATIO && strcmp(kpi->metric, kpi->denominator) == 0) {
        snprintf(err, errlen, "%s: must differ from metric", kw_path_key(p, sizeof p, path, "denominator"));
        return -1;
    }
    if (kpi->group_by.n > MAX_GROUP_BY) {
        snprintf(err, errlen, "%s: at most %d labels", kw_path_key(p, sizeof p, path, "group_by"), MAX_GROUP_BY);
        return -1;
    }
    if (kpi->interval_ms > 0 && kpi->interval_ms < 1000) {
        snprintf(err, errlen, "%s: must be 0 (native) or >= 1s", kw_path_key(p, sizeof p, path, "interval"));
        return -1;
    }
    if (kpi->interval_ms > 0 && kpi->lateness_ms / kpi->interval_ms + 2 > MAX_OPEN_INTERVALS) {
        snprintf(err, errlen, "%s: must be at most %d intervals", kw_path_key(p, sizeof p, path, "lateness"),
                 MAX_OPEN_INTERVALS - 2);
        return -1;
    }
    /* kind: derived from the aggregation unless set */
    if (kpi->kind == 0) {
        kpi->kind = kpi->aggregation == KW_AGG_RATIO ? KW_KIND_RATE
                    : (kpi->aggregation == KW_AGG_SUM || kpi->aggregation == KW_AGG_COUNT) ? KW_KIND_COUNT
                                                                                           : KW_KIND_CONTINUOUS;
    } else {
        kpi->kind -= 1; /* table index 1..3 -> enum kw_kpi_kind */
        if ((kpi->kind == KW_KIND_RATE) != (kpi->aggregation == KW_AGG_RATIO)) {
            snprintf(err, errlen, "%s: \"rate\" goes with aggregation \"ratio\" and only with it",
                     kw_path_key(p, sizeof p, path, "kind"));
            return -1;
        }
    }
    for (int k = 0; k < cfg->nkpis; k++) {
        if (&cfg->kpis[k] != kpi && cfg->kpis[k].name && strcmp(cfg->kpis[k].name, kpi->name) == 0) {
            snprintf(err, errlen, "%s: \"%s\" is already used by kpis[%d]", kw_path_key(p, sizeof p, path, "name"),
                     kpi->name, k);
            return -1;
        }
    }

    kw_path_key(p, sizeof p, path, "alert");
    const cJSON *alert = cJSON_GetObjectItemCaseSensitive(item, "alert");
    const struct kw_option *rule_tables[] = {rule_options, NULL};
    if (kw_opts_reject_unknown(alert, rule_tables, NULL, p, err, errlen) ||
        kw_opts_fill(rule_options, alert, &kpi->alert, p, err, errlen))
        return -1;

    kw_path_key(p, sizeof p, path, "detector");
    const cJSON *det = cJSON_GetObjectItemCaseSensitive(item, "detector");
    cJSON *fallback = NULL;
    if (!det) {
        fallback = cJSON_Parse(default_detector_json(kpi->kind));
        det = fallback;
    }
    int rc = kw_detector_parse(&kpi->detector, det, p, err, errlen);
    cJSON_Delete(fallback);
    if (rc)
        return -1;
    struct kw_series_info info = {
        .interval_ms = kpi->interval_ms ? kpi->interval_ms : kpi->native_spacing_ms,
        .is_ratio = kpi->kind == KW_KIND_RATE,
        .is_count = kpi->kind == KW_KIND_COUNT,
    };
    char reason[200];
    if (kw_detector_accepts(&kpi->detector, &info, reason, sizeof reason)) {
        if (fallback) {
            kw_detector_release(&kpi->detector);
            cJSON *mad = cJSON_Parse(FALLBACK_DETECTOR);
            rc = kw_detector_parse(&kpi->detector, mad, p, err, errlen);
            cJSON_Delete(mad);
            return rc;
        }
        snprintf(err, errlen, "%s: %s", p, reason);
        return -1;
    }
    return 0;
}

static void release_kpi(struct kw_kpi_config *kpi)
{
    kw_detector_release(&kpi->detector);
    kw_opts_release(rule_options, &kpi->alert);
    kw_opts_release(kpi_options, kpi);
}

static int parse_kpis(struct kw_config *cfg, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *arr, *item;
    int n;
    if (parse_object_array(root, "kpis", true, "KPIs", err, errlen, &arr, &n))
        return -1;
    cfg->kpis = xcalloc((size_t)n + 1, sizeof *cfg->kpis);
    cJSON_ArrayForEach(item, arr) {
        char path[KW_ERR_LEN];
        kw_path_index(path, sizeof path, "kpis", cfg->nkpis);
        cfg->nkpis++;
        if (parse_kpi(cfg, &cfg->kpis[cfg->nkpis - 1], item, path, err, errlen))
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

static int parse_route(struct kw_config *cfg, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *route = cJSON_GetObjectItemCaseSensitive(root, "route");
    if (!route || cJSON_IsNull(route)) {
        cfg->default_receiver = xstrdup(cfg->receivers[0].name);
        cfg->default_receiver_index = 0;
        return 0;
    }
    if (!cJSON_IsObject(route)) {
        snprintf(err, errlen, "route: must be an object");
        return -1;
    }
    static const char *const extra[] = {"receiver", "routes", NULL};
    if (kw_opts_reject_unknown(route, NULL, extra, "route", err, errlen))
        return -1;
    const cJSON *recv = cJSON_GetObjectItemCaseSensitive(route, "receiver");
    if (!cJSON_IsString(recv)) {
        snprintf(err, errlen, "route.receiver: is required (the default receiver's name)");
        return -1;
    }
    cfg->default_receiver = xstrdup(recv->valuestring);
    cfg->default_receiver_index = kw_config_receiver_index(cfg, recv->valuestring);
    if (cfg->default_receiver_index < 0) {
        snprintf(err, errlen, "route.receiver: no receiver is named \"%.60s\"", recv->valuestring);
        return -1;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(route, "routes"), *item;
    if (!arr)
        return 0;
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "route.routes: must be an array");
        return -1;
    }
    cfg->routes = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *cfg->routes);
    const struct kw_option *tables[] = {route_options, NULL};
    cJSON_ArrayForEach(item, arr) {
        char path[KW_ERR_LEN];
        kw_path_index(path, sizeof path, "route.routes", cfg->nroutes);
        struct kw_route_config *r = &cfg->routes[cfg->nroutes++];
        if (kw_opts_reject_unknown(item, tables, NULL, path, err, errlen) ||
            kw_opts_fill(route_options, item, r, path, err, errlen))
            return -1;
        r->receiver_index = kw_config_receiver_index(cfg, r->receiver);
        if (r->receiver_index < 0) {
            snprintf(err, errlen, "%s.receiver: no receiver is named \"%.60s\"", path, r->receiver);
            return -1;
        }
    }
    return 0;
}

int kw_config_receiver_index(const struct kw_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->nreceivers; i++)
        if (strcmp(cfg->receivers[i].name, name) == 0)
            return i;
    return -1;
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
    int rc = -1;
    static const char *const sections[] = {"agent", "ingest", "inputs", "kpis", "receivers", "route", NULL};
    if (!cJSON_IsObject(root)) {
        snprintf(inner, sizeof inner, "(top level): must be an object");
        goto out;
    }
    if (substitute_tree(root, "", inner, sizeof inner) ||
        kw_opts_reject_unknown(root, NULL, sections, "", inner, sizeof inner))
        goto out;
    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(root, "agent");
    const cJSON *ingest = cJSON_GetObjectItemCaseSensitive(root, "ingest");
    const struct kw_option *agent_tables[] = {agent_options, NULL};
    const struct kw_option *ingest_tables[] = {ingest_options, NULL};
    if (kw_opts_reject_unknown(agent, agent_tables, NULL, "agent", inner, sizeof inner) ||
        kw_opts_fill(agent_options, agent, cfg, "agent", inner, sizeof inner) ||
        kw_opts_reject_unknown(ingest, ingest_tables, NULL, "ingest", inner, sizeof inner) ||
        kw_opts_fill(ingest_options, ingest, &cfg->ingest, "ingest", inner, sizeof inner))
        goto out;
    cfg->ingest.check_time = true;
    if (parse_inputs(cfg, root, inner, sizeof inner) || parse_kpis(cfg, root, inner, sizeof inner) ||
        parse_receivers(cfg, root, inner, sizeof inner) || parse_route(cfg, root, inner, sizeof inner))
        goto out;
    cfg->path = xstrdup(name);
    rc = 0;
out:
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
        kw_opts_release(input_options, &cfg->inputs[i]);
    free(cfg->inputs);
    for (int i = 0; i < cfg->nkpis; i++)
        release_kpi(&cfg->kpis[i]);
    free(cfg->kpis);
    for (int i = 0; i < cfg->nreceivers; i++)
        kw_receiver_release(&cfg->receivers[i]);
    free(cfg->receivers);
    for (int i = 0; i < cfg->nroutes; i++)
        kw_opts_release(route_options, &cfg->routes[i]);
    free(cfg->routes);
    free(cfg->default_receiver);
    kw_opts_release(agent_options, cfg);
    kw_opts_release(ingest_options, &cfg->ingest);
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
        {"`agent`", agent_options},           {"`ingest`", ingest_options},
        {"`inputs[]`", input_options},        {"`kpis[]`", kpi_options},
        {"`kpis[].alert`", rule_options},     {"`route.routes[]`", route_options},
    };
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        fprintf(out, "\n#### %s\n\n| key | type | default | description |\n|---|---|---|---|\n", sections[s].title);
        kw_opts_print_markdown(sections[s].table, out);
    }
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
        kw_opts_print_markdown(kw_notifier_types[i]->options, out);
    }
}
