/* kpi: the kpis[] section: options, meaning checks, kind and detector. */
#include "kpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/opts.h"
#include "../lib/xmalloc.h"

#define MAX_GROUP_BY KW_ALERT_MAX_LABELS
#define MAX_OPEN_INTERVALS 64

static const char *const aggregations[] = {"sum", "count", "mean", "last", "ratio", "max", "min", "quantile",
                                           "nps", "csat", NULL};
static const char *const kinds[] = {"auto", "count", "rate", "continuous", NULL};

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
    if (cJSON_IsNumber(node) && node->valuedouble > 0 && node->valuedouble < 1) {
        snprintf(err, errlen, "%s: must be 0 (native) or >= 1s", path); /* not silently native */
        return -1;
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

/* [["journey"], []]: lists of label names. */
static void release_rollups(void *field)
{
    struct kw_rollups *r = field;
    for (int i = 0; i < r->n; i++)
        kw_opt_release_string_list(&r->by[i]);
    free(r->by);
    r->by = NULL;
    r->n = 0;
}

static int parse_rollups(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    struct kw_rollups *r = field;
    if (!node)
        return 0;
    if (!cJSON_IsArray(node)) {
        snprintf(err, errlen, "%s: must be an array of label lists, e.g. [[\"journey\"], []]", path);
        return -1;
    }
    r->by = xcalloc((size_t)cJSON_GetArraySize(node) + 1, sizeof *r->by);
    const cJSON *item;
    cJSON_ArrayForEach(item, node) {
        char p[KW_ERR_LEN];
        kw_path_index(p, sizeof p, path, r->n);
        if (!cJSON_IsArray(item)) {
            snprintf(err, errlen, "%s: must be an array of label names", p);
            return -1;
        }
        if (kw_opt_parse_string_list(item, &r->by[r->n++], p, err, errlen))
            return -1;
    }
    return 0;
}

const struct kw_option kw_kpi_options[] = {
    {"name", KW_OPT_STRING, NULL, offsetof(struct kw_kpi_config, name), KW_NORANGE,
     .desc = "Unique KPI name, shown in alerts."},
    {"description", KW_OPT_STRING, "", offsetof(struct kw_kpi_config, description), KW_NORANGE,
     .desc = "What the KPI means, for the people reading alerts."},
    {"metric", KW_OPT_STRING, NULL, offsetof(struct kw_kpi_config, metric), KW_NORANGE,
     .desc = "Input metric (the numerator for ratio)."},
    {"denominator", KW_OPT_STRING, "", offsetof(struct kw_kpi_config, denominator), KW_NORANGE,
     .desc = "Ratio KPIs: the denominator metric (e.g. step entries)."},
    {"aggregation", KW_OPT_ENUM, "sum", offsetof(struct kw_kpi_config, aggregation), KW_NORANGE,
     .choices = aggregations,
     .desc = "How points combine within an interval. Survey KPIs take one point per answer: nps = 100 x (promoters "
             "9-10 - detractors 0-6) / answers of a 0-10 scale, csat = share of 4-5 answers of a 1-5 scale."},
    {"kind", KW_OPT_ENUM, "auto", offsetof(struct kw_kpi_config, kind), KW_NORANGE,
     .choices = kinds, .desc = "auto: sum/count are counts, ratio and csat are rates, the rest continuous."},
    {"interval", KW_OPT_CUSTOM, "5m", offsetof(struct kw_kpi_config, interval_ms), KW_NORANGE,
     .parse = parse_interval, .type_name = "duration", .desc = "Interval length; 0 (or \"native\") makes every point its own interval."},
    {"native_spacing", KW_OPT_DURATION, "5m", offsetof(struct kw_kpi_config, native_spacing_ms), 0.001, 604800,
     .desc = "With interval 0: the nominal spacing of points (seasonal detectors need it); replay infers it."},
    {"lateness", KW_OPT_DURATION, "1m", offsetof(struct kw_kpi_config, lateness_ms), 0, 86400,
     .desc = "How long after its end an interval accepts late points."},
    {"max_series", KW_OPT_INT, "0", offsetof(struct kw_kpi_config, max_series), 0, 50000000,
     .desc = "Most series of this KPI at once (0 = agent.max_series); a label flood on one KPI then cannot "
             "stop the others from creating series."},
    {"quantile", KW_OPT_DOUBLE, "0.9", offsetof(struct kw_kpi_config, quantile), 0, 1,
     .desc = "aggregation \"quantile\": which quantile of the interval's values, e.g. 0.9 for p90."},
    {"quantile_samples", KW_OPT_INT, "512", offsetof(struct kw_kpi_config, quantile_samples), 16, 100000,
     .desc = "aggregation \"quantile\": values kept per interval (uniform reservoir); exact below this count."},
    {"group_by", KW_OPT_CUSTOM, "", offsetof(struct kw_kpi_config, group_by), KW_NORANGE,
     .parse = kw_opt_parse_string_list, .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "Labels that split the KPI into series, e.g. [\"journey\", \"step\"]; [] = one total series."},
    {"match", KW_OPT_CUSTOM, "", offsetof(struct kw_kpi_config, match), KW_NORANGE,
     .parse = kw_opt_parse_string_map, .release = kw_opt_release_string_map, .type_name = "object",
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
    {"fdr", KW_OPT_BOOL, "true", offsetof(struct kw_kpi_config, fdr), KW_NORANGE,
     .desc = "Hold the verdicts of all this KPI's series that close an interval to the detector's p_value together "
             "(Benjamini-Hochberg), so splitting a KPI into more series does not add false alarms; false = each "
             "series on its own."},
    {"rollups", KW_OPT_CUSTOM, "", offsetof(struct kw_kpi_config, rollups), KW_NORANGE,
     .parse = parse_rollups, .release = release_rollups, .type_name = "list of label lists",
     .desc = "Also watch the KPI summed up over fewer labels, from the same points: [[\"journey\"], []] adds "
             "\"NAME:journey\" (per journey) and \"NAME:total\". Each roll-up is a KPI of its own with the same "
             "options; its alerts list the child series that contributed most to the deviation."},
    {"rollup_inhibit", KW_OPT_BOOL, "true", offsetof(struct kw_kpi_config, rollup_inhibit), KW_NORANGE,
     .desc = "While a roll-up fires, new alerts of its child series (same label values) are held back: the "
             "roll-up's alert lists them instead."},
    KW_OPT_END,
};

/* The side on which the KPI gets worse, for detectors left on direction
 * auto: more complaints and drop-offs are bad, lower survey scores are. */
static int bad_direction(const struct kw_kpi_config *kpi)
{
    if (kpi->aggregation == KW_AGG_NPS || kpi->aggregation == KW_AGG_CSAT)
        return KW_DIR_DOWN;
    if (kpi->kind == KW_KIND_COUNT || kpi->kind == KW_KIND_RATE)
        return KW_DIR_UP;
    return KW_DIR_BOTH;
}

struct kw_series_info kw_kpi_series_info(const struct kw_kpi_config *kpi)
{
    struct kw_series_info info = {
        .interval_ms = kpi->interval_ms ? kpi->interval_ms : kpi->native_spacing_ms,
        .is_ratio = kpi->kind == KW_KIND_RATE,
        .is_count = kpi->kind == KW_KIND_COUNT,
        .is_nps = kpi->aggregation == KW_AGG_NPS,
        .direction = bad_direction(kpi),
    };
    return info;
}

int kw_kpi_parse(struct kw_kpi_config *kpi, const cJSON *item, const char *path, char *err, size_t errlen)
{
    const struct kw_option *tables[] = {kw_kpi_options, NULL};
    static const char *const extra[] = {"detector", "alert", NULL};
    kpi->rollup_of = -1;
    if (kw_opts_reject_unknown(item, tables, extra, path, err, errlen) ||
        kw_opts_fill(kw_kpi_options, item, kpi, path, err, errlen))
        return -1;
    char p[KW_ERR_LEN];
    for (int r = 0; r < kpi->rollups.n; r++) {
        const struct kw_string_list *by = &kpi->rollups.by[r];
        char rp[KW_ERR_LEN];
        kw_path_index(rp, sizeof rp, kw_path_key(p, sizeof p, path, "rollups"), r);
        if (by->n >= kpi->group_by.n) {
            snprintf(err, errlen, "%s: must name fewer labels than group_by", rp);
            return -1;
        }
        for (int i = 0; i < by->n; i++) {
            bool known = false, twice = false;
            for (int j = 0; j < kpi->group_by.n; j++)
                known |= strcmp(by->items[i], kpi->group_by.items[j]) == 0;
            for (int j = 0; j < i; j++)
                twice |= strcmp(by->items[i], by->items[j]) == 0;
            if (!known || twice) {
                snprintf(err, errlen, "%s[%d]: \"%s\" is %s", rp, i, by->items[i],
                         twice ? "named twice" : "not one of group_by");
                return -1;
            }
        }
    }
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
    bool rate_agg = kpi->aggregation == KW_AGG_RATIO || kpi->aggregation == KW_AGG_CSAT;
    if (kpi->kind == 0) {
        kpi->kind = rate_agg ? KW_KIND_RATE
                    : (kpi->aggregation == KW_AGG_SUM || kpi->aggregation == KW_AGG_COUNT) ? KW_KIND_COUNT
                                                                                           : KW_KIND_CONTINUOUS;
    } else {
        kpi->kind -= 1; /* table index 1..3 -> enum kw_kpi_kind */
        if ((kpi->kind == KW_KIND_RATE) != rate_agg) {
            snprintf(err, errlen, "%s: \"rate\" goes with aggregation \"ratio\" or \"csat\" and only with them",
                     kw_path_key(p, sizeof p, path, "kind"));
            return -1;
        }
        if (kpi->aggregation == KW_AGG_NPS && kpi->kind != KW_KIND_CONTINUOUS) {
            snprintf(err, errlen, "%s: an \"nps\" KPI is continuous (-100..+100)", kw_path_key(p, sizeof p, path, "kind"));
            return -1;
        }
    }
    kw_path_key(p, sizeof p, path, "alert");
    if (kw_rule_parse(&kpi->alert, cJSON_GetObjectItemCaseSensitive(item, "alert"), p, err, errlen))
        return -1;

    kw_path_key(p, sizeof p, path, "detector");
    const cJSON *det = cJSON_GetObjectItemCaseSensitive(item, "detector");
    struct kw_series_info info = kw_kpi_series_info(kpi);
    if (det)
        return kw_detector_parse_for(&kpi->detector, det, &info, p, err, errlen);
    return kw_detector_parse_default(&kpi->detector, &info, p, err, errlen);
}

int kw_kpi_parse_rollup(struct kw_kpi_config *kpi, const cJSON *item, const struct kw_kpi_config *parent,
                        int parent_index, int r, const char *path, char *err, size_t errlen)
{
    const struct kw_string_list *by = &parent->rollups.by[r];
    char name[512];
    size_t len = (size_t)snprintf(name, sizeof name, "%s:", parent->name);
    for (int i = 0; i < by->n && len < sizeof name; i++)
        len += (size_t)snprintf(name + len, sizeof name - len, "%s%s", i ? "," : "", by->items[i]);
    if (by->n == 0)
        snprintf(name + len, sizeof name - len, "total");
    /* The same KPI object with another name and group_by, parsed as usual,
     * so a roll-up owns its strings and detector like any KPI. */
    cJSON *copy = cJSON_Duplicate(item, true);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "rollups");
    cJSON_ReplaceItemInObjectCaseSensitive(copy, "name", cJSON_CreateString(name));
    cJSON *group_by = cJSON_CreateArray();
    for (int i = 0; i < by->n; i++)
        cJSON_AddItemToArray(group_by, cJSON_CreateString(by->items[i]));
    if (cJSON_GetObjectItemCaseSensitive(copy, "group_by"))
        cJSON_ReplaceItemInObjectCaseSensitive(copy, "group_by", group_by);
    else
        cJSON_AddItemToObject(copy, "group_by", group_by);
    char p[KW_ERR_LEN], rp[KW_ERR_LEN];
    kw_path_index(rp, sizeof rp, kw_path_key(p, sizeof p, path, "rollups"), r);
    int rc = kw_kpi_parse(kpi, copy, rp, err, errlen);
    cJSON_Delete(copy);
    kpi->rollup_of = parent_index;
    return rc;
}

void kw_kpi_release(struct kw_kpi_config *kpi)
{
    kw_detector_release(&kpi->detector);
    kw_rule_release(&kpi->alert);
    kw_opts_release(kw_kpi_options, kpi);
}
