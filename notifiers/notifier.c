/* notifier: receiver config parsing and the rendering helpers every
 * notifier shares (labels, values, sparkline, one-line summary, JSON). */
#include "notifier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/escape.h"
#include "../lib/timefmt.h"
#include "../lib/utf8.h"
#include "../lib/xmalloc.h"

/* "enabled": a JSON bool, or a string so that "${VAR:+true}" turns a
 * receiver on only when its secret is in the environment ("" = off). The
 * field is kw_receiver.disabled, so a receiver built in code is on. */
static int parse_enabled(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    bool *off = field, on_value = true, *on = &on_value;
    if (!node)
        *on = true;
    else if (cJSON_IsBool(node))
        *on = cJSON_IsTrue(node);
    else if (cJSON_IsString(node) && (strcmp(node->valuestring, "true") == 0 || strcmp(node->valuestring, "false") == 0 ||
                                      !*node->valuestring))
        *on = strcmp(node->valuestring, "true") == 0;
    else {
        snprintf(err, errlen, "%s: must be true, false, \"true\", \"false\" or \"\" (off)", path);
        return -1;
    }
    *off = !*on;
    return 0;
}

static const struct kw_option receiver_common_options[] = {
    {"enabled", KW_OPT_CUSTOM, "true", offsetof(struct kw_receiver, disabled), KW_NORANGE, .parse = parse_enabled,
     .type_name = "bool or string",
     .desc = "false or \"\" turns the receiver off (its other keys are then not checked); "
             "\"${SLACK_WEBHOOK_URL:+true}\" turns it on only when the variable is set."},
    {"rate_limit", KW_OPT_DOUBLE, "-1", offsetof(struct kw_receiver, rate_per_s), -1, 1e6,
     .desc = "Messages per second sent to this receiver (token bucket); -1 = the service's documented rate, 0 = unlimited."},
    {"burst", KW_OPT_INT, "0", offsetof(struct kw_receiver, burst), 0, 10000,
     .desc = "Messages that may go out at once before rate_limit applies; 0 = the type's default."},
    KW_OPT_END,
};

const struct kw_option *kw_receiver_common_options(void)
{
    return receiver_common_options;
}

const struct kw_notifier_type *kw_notifier_type_find(const char *name)
{
    for (int i = 0; kw_notifier_types[i]; i++)
        if (strcmp(kw_notifier_types[i]->name, name) == 0)
            return kw_notifier_types[i];
    return NULL;
}

int kw_receiver_parse(struct kw_receiver *rcv, const cJSON *obj, const char *path,
                      char *err, size_t errlen)
{
    memset(rcv, 0, sizeof *rcv);
    char keypath[KW_ERR_LEN];
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "%s: must be an object with \"name\" and \"type\"", path);
        return -1;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!cJSON_IsString(name) || !*name->valuestring) {
        snprintf(err, errlen, "%s: is required (a non-empty string)", kw_path_key(keypath, sizeof keypath, path, "name"));
        return -1;
    }
    if (!cJSON_IsString(type)) {
        snprintf(err, errlen, "%s: is required (a notifier type)", kw_path_key(keypath, sizeof keypath, path, "type"));
        return -1;
    }
    rcv->type = kw_notifier_type_find(type->valuestring);
    if (!rcv->type) {
        char names[160];
        size_t used = 0;
        for (int i = 0; kw_notifier_types[i] && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                     kw_notifier_types[i]->name);
        char shown[64];
        snprintf(err, errlen, "%s: unknown notifier \"%s\" (known: %s)",
                 kw_path_key(keypath, sizeof keypath, path, "type"), kw_escape(shown, sizeof shown, type->valuestring, 40),
                 names);
        return -1;
    }
    const struct kw_option *tables[] = {rcv->type->options, receiver_common_options, NULL};
    static const char *const extra[] = {"name", "type", NULL};
    if (kw_opts_reject_unknown(obj, tables, extra, path, err, errlen))
        return -1;
    rcv->name = xstrdup(name->valuestring);
    if (kw_opts_fill(receiver_common_options, obj, rcv, path, err, errlen)) {
        kw_receiver_release(rcv);
        return -1;
    }
    if (rcv->disabled) { /* off: its own options may name a secret that is not set */
        const cJSON *enabled = cJSON_GetObjectItemCaseSensitive(obj, "enabled");
        snprintf(rcv->off_reason, sizeof rcv->off_reason, "\"enabled\" is %s",
                 cJSON_IsString(enabled) ? (*enabled->valuestring ? "\"false\"" : "\"\"") : "false");
        return 0;
    }
    rcv->cfg = xcalloc(1, rcv->type->config_size ? rcv->type->config_size : 1);
    if (kw_opts_fill(rcv->type->options, obj, rcv->cfg, path, err, errlen)) {
        kw_receiver_release(rcv);
        return -1;
    }
    if (rcv->rate_per_s < 0) /* not set: the service's documented rate */
        rcv->rate_per_s = rcv->type->rate_per_s;
    if (rcv->burst == 0)
        rcv->burst = rcv->type->burst > 0 ? rcv->type->burst : 1;
    if (rcv->type->init && rcv->type->init(rcv->cfg, rcv->name, path, err, errlen)) {
        /* init failed: it cleaned up after itself, so skip the type's release */
        kw_opts_release(rcv->type->options, rcv->cfg);
        free(rcv->cfg);
        free(rcv->name);
        memset(rcv, 0, sizeof *rcv);
        return -1;
    }
    return 0;
}

void kw_receiver_release(struct kw_receiver *rcv)
{
    if (rcv->type && rcv->cfg) {
        if (rcv->type->release)
            rcv->type->release(rcv->cfg);
        kw_opts_release(rcv->type->options, rcv->cfg);
    }
    free(rcv->cfg);
    free(rcv->name);
    memset(rcv, 0, sizeof *rcv);
}

void kw_notification_release(struct kw_notification *n)
{
    free(n->alerts);
    memset(n, 0, sizeof *n);
}

void kw_notification_copy(struct kw_notification *dst, const struct kw_notification *src)
{
    *dst = *src;
    dst->alerts = xcalloc(src->nalerts ? src->nalerts : 1, sizeof *dst->alerts);
    memcpy(dst->alerts, src->alerts, src->nalerts * sizeof *dst->alerts);
}

void kw_request_release(struct kw_request *req)
{
    curl_slist_free_all(req->headers);
    curl_slist_free_all(req->rcpt);
    free(req->body);
    free(req->url);
    req->headers = req->rcpt = NULL;
    req->body = req->url = NULL;
    req->body_len = req->body_off = 0;
}

const char *kw_alert_labels_text(const struct kw_alert *a, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < a->nlabels && used < len; i++) {
        /* Label values come from publishers: a newline must not start a forged line. */
        char value[KW_ALERT_LABEL_VALUE * 4];
        used += (size_t)snprintf(buf + used, len - used, "%s%s=%s", i ? ", " : "", a->labels[i].name,
                                 kw_escape(value, sizeof value, a->labels[i].value, KW_ALERT_LABEL_VALUE));
    }
    if (a->nlabels == 0)
        snprintf(buf, len, "all");
    return buf;
}

const char *kw_alert_sparkline(const struct kw_alert *a, char *buf, size_t len)
{
    static const char *const bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < a->nhistory; i++) {
        if (isnan(a->history[i]))
            continue;
        lo = fmin(lo, a->history[i]);
        hi = fmax(hi, a->history[i]);
    }
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < a->nhistory && used + 4 < len; i++) {
        const char *glyph = " ";
        if (!isnan(a->history[i])) {
            int level = hi > lo ? (int)floor((a->history[i] - lo) / (hi - lo) * 7.999) : 0;
            glyph = bars[level];
        }
        used += (size_t)snprintf(buf + used, len - used, "%s", glyph);
    }
    return buf;
}

const char *kw_alert_value_text(const struct kw_alert *a, double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "n/a");
    else if (a->kind == KW_KIND_RATE)
        snprintf(buf, len, "%.1f%%", 100.0 * v);
    else if (a->kind == KW_KIND_COUNT && fabs(v - round(v)) < 1e-9)
        snprintf(buf, len, "%.0f", v);
    else if (fabs(v) >= 100)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.3g", v);
    return buf;
}

const char *kw_alert_change_text(const struct kw_alert *a, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!isfinite(a->observed) || !isfinite(a->expected))
        return buf;
    double d = a->observed - a->expected;
    if (a->kind == KW_KIND_RATE)
        snprintf(buf, len, "%+.1f pts", 100.0 * d);
    else if (a->expected > 1e-9 && a->observed >= 0)
        snprintf(buf, len, "%+.0f%%", 100.0 * d / a->expected);
    else if (a->unit[0]) /* a share of a value that may be negative or zero means nothing */
        snprintf(buf, len, "%+.3g %s", d, a->unit);
    else
        snprintf(buf, len, "%+.3g", d);
    return buf;
}

const char *kw_notification_status_word(const struct kw_notification *n)
{
    if (n->kind == KW_NOTIFY_RESOLVED)
        return "RESOLVED";
    if (n->kind == KW_NOTIFY_UPDATE)
        return n->reminder ? "STILL FIRING" : "UPDATED";
    return "FIRING";
}

int kw_notification_severity(const struct kw_notification *n)
{
    int firing = -1, any = KW_SEV_WARNING;
    for (size_t i = 0; i < n->nalerts; i++) {
        const struct kw_alert *a = &n->alerts[i];
        if (a->severity == KW_SEV_CRITICAL)
            any = KW_SEV_CRITICAL;
        if (a->status == KW_ALERT_FIRING && (firing < 0 || a->severity == KW_SEV_CRITICAL))
            firing = a->severity;
    }
    return firing >= 0 ? firing : any;
}

const char *kw_alert_mover_text(const struct kw_alert *a, char *buf, size_t len)
{
    char labels[512], since[40];
    snprintf(buf, len, "%s [%s] since %s", a->kpi, kw_alert_labels_text(a, labels, sizeof labels),
             kw_time_format(a->since_ms, since, sizeof since));
    return buf;
}

const char *kw_notification_first_mover(const struct kw_notification *n, char *buf, size_t len)
{
    if (n->first_mover[0])
        snprintf(buf, len, "%s", n->first_mover);
    else
        kw_alert_mover_text(&n->alerts[0], buf, len);
    return buf;
}

const char *kw_alert_band_note(const struct kw_alert *a)
{
    bool inside = a->observed >= a->lower && a->observed <= a->upper;
    return a->status == KW_ALERT_FIRING && inside ? " for one interval; a sustained shift" : "";
}

const char *kw_duration_text(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms / 1000;
    if (s < 120)
        snprintf(buf, len, "%llds", (long long)s);
    else if (s < 7200)
        snprintf(buf, len, "%lldm", (long long)(s / 60));
    else if (s < 172800)
        snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(buf, len, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    return buf;
}

const char *kw_alert_headline(const struct kw_alert *a, char *buf, size_t len)
{
    char labels[2048], obs[32], exp[32], change[48 + KW_ALERT_LABEL_NAME], impact[160];
    kw_alert_labels_text(a, labels, sizeof labels);
    kw_alert_change_text(a, change, sizeof change);
    kw_alert_impact_text(a, impact, sizeof impact);
    snprintf(buf, len, "%s [%s] %s %s vs %s expected%s%s%s%s%s", a->kpi, labels,
             a->status == KW_ALERT_RESOLVED ? "back to" : a->direction > 0 ? "up to" : "down to",
             kw_alert_value_text(a, a->observed, obs, sizeof obs), kw_alert_value_text(a, a->expected, exp, sizeof exp),
             change[0] ? " (" : "", change, change[0] ? ")" : "", impact[0] ? " · " : "", impact);
    return buf;
}

bool kw_alert_has_impact(const struct kw_alert *a)
{
    return isfinite(a->impact) && a->kind != KW_KIND_CONTINUOUS;
}

const char *kw_alert_impact_text(const struct kw_alert *a, char *buf, size_t len)
{
    if (!kw_alert_has_impact(a)) {
        buf[0] = '\0';
        return buf;
    }
    const char *unit = a->unit[0] ? a->unit : (a->kind == KW_KIND_RATE ? "events" : "units");
    int n = snprintf(buf, len, "%s%.0f %s %s", a->impact >= 0 ? "+" : "", a->impact, unit,
                     a->impact >= 0 ? "over expected" : "under expected");
    if (a->cost_per_unit > 0 && a->impact > 0 && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " (~%.0f %s)", fabs(a->impact) * a->cost_per_unit,
                 a->currency[0] ? a->currency : "");
    return buf;
}

const char *kw_notification_impact_text(const struct kw_notification *n, char *buf, size_t len)
{
    size_t used = 0;
    double cost = 0;
    const char *currency = "";
    buf[0] = '\0';
    for (size_t i = 0; i < n->nalerts; i++) {
        const struct kw_alert *a = &n->alerts[i];
        if (!kw_alert_has_impact(a))
            continue;
        if (a->cost_per_unit > 0) {
            cost += fabs(a->impact) * a->cost_per_unit;
            currency = a->currency;
        }
        bool first = true; /* each unit once, summed over the members that share it */
        for (size_t j = 0; j < i && first; j++)
            first = strcmp(n->alerts[j].unit, a->unit) != 0;
        if (!first)
            continue;
        double units = 0;
        bool any = false;
        for (size_t j = i; j < n->nalerts; j++) {
            if (strcmp(n->alerts[j].unit, a->unit) == 0 && kw_alert_has_impact(&n->alerts[j]) &&
                n->alerts[j].impact != 0) {
                units += n->alerts[j].impact;
                any = true;
            }
        }
        if (any && used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%+.0f %s", used ? ", " : "", units,
                                     a->unit[0] ? a->unit : "units");
    }
    if (cost > 0 && used < len)
        snprintf(buf + used, len - used, " (~%.0f %s in all)", cost, currency);
    return buf;
}

const char *kw_alert_contributors_text(const struct kw_alert *a, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    int n = a->ncontributors < KW_ALERT_CONTRIBUTORS ? a->ncontributors : KW_ALERT_CONTRIBUTORS;
    for (int i = 0; i < n && used < len; i++) {
        const struct kw_alert_contributor *c = &a->contributors[i];
        used += (size_t)snprintf(buf + used, len - used, "%s%.*s %.0f%% (%+.0f)", i ? "; " : "top contributors: ",
                                 (int)sizeof c->labels, c->labels, 100.0 * c->share, c->excess * (a->direction < 0 ? -1 : 1));
    }
    return buf;
}

/* Nodata alerts: what is missing and since when. */
static const char *nodata_summary(const struct kw_alert *a, const char *labels, char *buf, size_t len)
{
    char since[40], dur[24];
    kw_time_format(a->since_ms, since, sizeof since);
    if (a->status == KW_ALERT_FIRING) {
        kw_duration_text(a->at_ms - a->since_ms, dur, sizeof dur);
        snprintf(buf, len, "FIRING nodata | %s [%s] no data since %s (%s, %d intervals)", a->kpi, labels, since, dur,
                 a->intervals);
    } else {
        kw_duration_text(a->at_ms + a->interval_ms - a->since_ms, dur, sizeof dur);
        snprintf(buf, len, "RESOLVED nodata | %s [%s] reporting again after a gap of %s since %s", a->kpi, labels,
                 dur, since);
    }
    return buf;
}

const char *kw_alert_summary(const struct kw_alert *a, char *buf, size_t len)
{
    char labels[512], obs[32], exp[32], lo[32], hi[32], since[40], dur[24], impact[128], spark[128];
    kw_alert_labels_text(a, labels, sizeof labels);
    if (a->cause == KW_CAUSE_NODATA)
        return nodata_summary(a, labels, buf, len);
    kw_alert_value_text(a, a->observed, obs, sizeof obs);
    kw_alert_value_text(a, a->expected, exp, sizeof exp);
    kw_alert_value_text(a, a->lower, lo, sizeof lo);
    kw_alert_value_text(a, a->upper, hi, sizeof hi);
    kw_time_format(a->since_ms, since, sizeof since);
    kw_duration_text(a->at_ms + a->interval_ms - a->since_ms, dur, sizeof dur);
    kw_alert_impact_text(a, impact, sizeof impact);
    kw_alert_sparkline(a, spark, sizeof spark);
    char change[48 + KW_ALERT_LABEL_NAME];
    kw_alert_change_text(a, change, sizeof change);
    char denom[40] = "";
    if (a->kind == KW_KIND_RATE && isfinite(a->denominator))
        snprintf(denom, sizeof denom, ", n=%.0f", a->denominator);

    if (a->status == KW_ALERT_FIRING)
        snprintf(buf, len,
                 "FIRING %s | %s [%s] %s %s vs %s expected (%s%s%snormal %s..%s%s) since %s (%s) | %s%sscore %.1f sev %.0f | %s",
                 a->severity == KW_SEV_CRITICAL ? "critical" : "warning", a->kpi, labels,
                 a->direction > 0 ? "up to" : "down to", obs, exp, change, denom + (change[0] ? 0 : 2),
                 change[0] || denom[0] ? ", " : "", lo, hi, kw_alert_band_note(a), since,
                 dur, impact, impact[0] ? " | " : "", a->score, a->severity_score, spark);
    else {
        char back[96] = "stopped reporting";
        if (!isnan(a->observed))
            snprintf(back, sizeof back, "back to %s%s%s%s", obs, isnan(a->expected) ? "" : " (expected ",
                     isnan(a->expected) ? "" : exp, isnan(a->expected) ? "" : ")");
        snprintf(buf, len, "RESOLVED | %s [%s] %s after %s, since %s | %s%s%s%s", a->kpi, labels, back, dur, since,
                 impact[0] ? "total " : "", impact, impact[0] ? " | " : "", spark);
    }
    if (a->flapping) {
        size_t used = strlen(buf);
        snprintf(buf + used, len > used ? len - used : 0, " | flapping: %d flips, further flips are not notified", a->flips);
    }
    if (a->ncontributors > 0) {
        char contrib[1024];
        size_t used = strlen(buf);
        snprintf(buf + used, len > used ? len - used : 0, " | %s",
                 kw_alert_contributors_text(a, contrib, sizeof contrib));
    }
    if (a->status == KW_ALERT_FIRING && (a->runbook[0] || a->dashboard[0])) {
        size_t used = strlen(buf);
        snprintf(buf + used, len > used ? len - used : 0, "%s%s%s%s", a->runbook[0] ? " | runbook " : "", a->runbook,
                 a->dashboard[0] ? " | dashboard " : "", a->dashboard);
    }
    return buf;
}

static void add_num(cJSON *obj, const char *name, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(obj, name, v);
    else
        cJSON_AddNullToObject(obj, name);
}

cJSON *kw_alert_to_json(const struct kw_alert *a)
{
    static const char *const kinds[] = {"count", "rate", "continuous"};
    char since[40], at[40];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", a->key);
    cJSON_AddStringToObject(o, "status", a->status == KW_ALERT_FIRING ? "firing" : "resolved");
    cJSON_AddStringToObject(o, "severity", a->severity == KW_SEV_CRITICAL ? "critical" : "warning");
    cJSON_AddStringToObject(o, "kpi", a->kpi);
    cJSON_AddStringToObject(o, "kind", kinds[a->kind]);
    cJSON_AddStringToObject(o, "cause", a->cause == KW_CAUSE_NODATA ? "nodata" : "anomaly");
    if (a->rollup_of[0])
        cJSON_AddStringToObject(o, "rollup_of", a->rollup_of);
    if (a->ncontributors > 0) {
        cJSON *list = cJSON_AddArrayToObject(o, "contributors");
        for (int i = 0; i < a->ncontributors && i < KW_ALERT_CONTRIBUTORS; i++) {
            const struct kw_alert_contributor *c = &a->contributors[i];
            cJSON *item = cJSON_CreateObject();
            cJSON_AddStringToObject(item, "labels", c->labels);
            add_num(item, "observed", c->observed);
            add_num(item, "expected", c->expected);
            add_num(item, "excess", c->excess);
            add_num(item, "share", c->share);
            cJSON_AddItemToArray(list, item);
        }
    }
    cJSON *labels = cJSON_AddObjectToObject(o, "labels");
    for (int i = 0; i < a->nlabels; i++)
        cJSON_AddStringToObject(labels, a->labels[i].name, a->labels[i].value);
    add_num(o, "observed", a->observed);
    add_num(o, "expected", a->expected);
    add_num(o, "lower", a->lower);
    add_num(o, "upper", a->upper);
    add_num(o, "score", a->score);
    add_num(o, "severity_score", a->severity_score);
    cJSON_AddStringToObject(o, "direction", a->direction > 0 ? "up" : "down");
    add_num(o, "impact", a->impact);
    if (a->unit[0])
        cJSON_AddStringToObject(o, "unit", a->unit);
    if (a->cost_per_unit > 0) {
        add_num(o, "cost", fabs(a->impact) * a->cost_per_unit);
        cJSON_AddStringToObject(o, "currency", a->currency);
    }
    if (a->kind == KW_KIND_RATE)
        add_num(o, "denominator", a->denominator);
    cJSON_AddStringToObject(o, "since", kw_time_format(a->since_ms, since, sizeof since));
    cJSON_AddStringToObject(o, "at", kw_time_format(a->at_ms, at, sizeof at));
    cJSON_AddNumberToObject(o, "intervals", a->intervals);
    if (a->flapping) {
        cJSON_AddBoolToObject(o, "flapping", true);
        cJSON_AddNumberToObject(o, "flips", a->flips);
    }
    cJSON_AddStringToObject(o, "detector", a->detector);
    if (a->description[0])
        cJSON_AddStringToObject(o, "description", a->description);
    if (a->runbook[0])
        cJSON_AddStringToObject(o, "runbook", a->runbook);
    if (a->dashboard[0])
        cJSON_AddStringToObject(o, "dashboard", a->dashboard);
    cJSON_AddItemToObject(o, "history", cJSON_CreateDoubleArray(a->history, a->nhistory));
    return o;
}

void kw_text_clip(char *dst, size_t cap, const char *src, size_t max_chars, bool multiline)
{
    size_t out = 0, chars = 0, fit = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p;) {
        size_t n = kw_utf8_seq(p);
        if (n == 0) {
            p++;
            continue;
        }
        if (chars + 1 <= max_chars && out + 4 <= cap)
            fit = out; /* "…" (3 bytes, 1 character) still fits here */
        if (chars + 1 > max_chars || out + n + 1 > cap) {
            memcpy(dst + fit, "\xE2\x80\xA6", 3);
            dst[fit + 3] = '\0';
            return;
        }
        if (n == 1 && (*p < 0x20 || *p == 0x7F) && !(multiline && *p == '\n'))
            dst[out] = ' ';
        else
            memcpy(dst + out, p, n);
        out += n;
        chars++;
        p += n;
    }
    dst[out] = '\0';
}

void kw_json_add_clipped(cJSON *obj, const char *name, const char *text, size_t max_chars, bool multiline)
{
    size_t cap = max_chars * 4 + 8; /* four bytes a character, "…" and the NUL */
    char *buf = xmalloc(cap);
    kw_text_clip(buf, cap, text, max_chars, multiline);
    cJSON_AddStringToObject(obj, name, buf);
    free(buf);
}

size_t kw_text_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

int kw_notifier_parse_names(const cJSON *node, void *field, const char *path, char *err, size_t errlen)
{
    struct kw_string_list *l = field;
    if (!node)
        return 0;
    if (!cJSON_IsArray(node)) {
        snprintf(err, errlen, "%s: must be a list of strings", path);
        return -1;
    }
    l->items = xcalloc((size_t)cJSON_GetArraySize(node) + 1, sizeof *l->items);
    const cJSON *item;
    cJSON_ArrayForEach(item, node) {
        if (!cJSON_IsString(item) || !item->valuestring[0]) {
            char p[KW_ERR_LEN];
            snprintf(err, errlen, "%s: must be a non-empty string", kw_path_index(p, sizeof p, path, l->n));
            return -1;
        }
        l->items[l->n++] = xstrdup(item->valuestring);
    }
    return 0;
}
