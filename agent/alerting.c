/* alerting: the per-series state machine with `for` and hysteresis, and
 * the alert value built on each transition. */
#include "alerting.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hash.h"
#include "../lib/intmath.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "kpi.h"
#include "series.h"

const struct kw_option kw_rule_options[] = {
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
     .desc = "Notify again while still firing after this much event time; 0 = never (routes repeat incidents too)."},
    {"keep_firing_for", KW_OPT_DURATION, "0", offsetof(struct kw_rule_config, keep_firing_for_ms), 0, 604800,
     .desc = "Once firing, stay firing at least this much event time after the last anomalous interval, so an "
             "incident that pauses briefly is not resolved and re-opened."},
    {"flap_flips", KW_OPT_INT, "6", offsetof(struct kw_rule_config, flap_flips), 0, 1000,
     .desc = "A series whose alert fires or resolves this many times within flap_window is flapping: it is notified "
             "once, with the count, and not on every flip until it is stable for flap_window; 0 = off."},
    {"flap_window", KW_OPT_DURATION, "1h", offsetof(struct kw_rule_config, flap_window_ms), 60, 604800,
     .desc = "The window of flap_flips, and how long a flapping series must stay stable to leave that state."},
    {"nodata_after", KW_OPT_INT, "0", offsetof(struct kw_rule_config, nodata_after), 0, 100000,
     .desc = "A series that sends no point for this many intervals (while its KPI's clock moves on) raises a "
             "nodata alert, resolved by its next point; 0 = off. Leave it off for sparse counts, where an empty "
             "interval is normal."},
    KW_OPT_END,
};

int kw_rule_parse(struct kw_rule_config *rule, const cJSON *obj, const char *path, char *err, size_t errlen)
{
    const struct kw_option *tables[] = {kw_rule_options, NULL};
    if (obj && !cJSON_IsObject(obj)) {
        snprintf(err, errlen, "%s: must be an object", path);
        return -1;
    }
    return kw_opts_reject_unknown(obj, tables, NULL, path, err, errlen) ||
                   kw_opts_fill(kw_rule_options, obj, rule, path, err, errlen)
               ? -1
               : 0;
}

void kw_rule_release(struct kw_rule_config *rule)
{
    kw_opts_release(kw_rule_options, rule);
}

static void start_incident(struct kw_alert_state *st, int64_t at_ms)
{
    st->since_ms = at_ms;
    st->intervals = 0;
    st->impact = 0;
    st->peak_severity = 0;
    st->peak_observed = st->peak_expected = NAN;
}

static void record_anomaly(struct kw_alert_state *st, double severity, double excess, double observed,
                           double expected)
{
    st->intervals++;
    if (isfinite(excess))
        st->impact += excess;
    if (severity >= st->peak_severity) {
        st->peak_severity = severity;
        st->peak_observed = observed;
        st->peak_expected = expected;
    }
}

/* The machine itself: ok, pending, firing, with `for`, hysteresis and
 * keep_firing_for. */
static enum kw_transition machine(struct kw_alert_state *st, const struct kw_rule_config *rule, bool anomalous,
                                  double severity, double excess, double observed, double expected, int64_t at_ms)
{
    if (anomalous && severity < rule->min_severity)
        anomalous = false;
    switch (st->phase) {
    case KW_PHASE_OK:
        if (!anomalous)
            return KW_T_NONE;
        start_incident(st, at_ms);
        record_anomaly(st, severity, excess, observed, expected);
        st->anomalous_streak = 1;
        st->normal_streak = 0;
        st->phase = KW_PHASE_PENDING;
        break;
    case KW_PHASE_PENDING:
        if (!anomalous) {
            st->phase = KW_PHASE_OK;
            st->anomalous_streak = 0;
            return KW_T_NONE;
        }
        record_anomaly(st, severity, excess, observed, expected);
        st->anomalous_streak++;
        break;
    case KW_PHASE_FIRING:
        if (anomalous) {
            st->last_anomalous_ms = at_ms;
            record_anomaly(st, severity, excess, observed, expected);
            st->anomalous_streak++;
            st->normal_streak = 0;
            if (rule->repeat_interval_ms > 0 && at_ms - st->notified_ms >= rule->repeat_interval_ms) {
                st->notified_ms = at_ms;
                return KW_T_REPEAT;
            }
            return KW_T_NONE;
        }
        st->anomalous_streak = 0;
        if (++st->normal_streak >= rule->resolve_after && at_ms - st->last_anomalous_ms >= rule->keep_firing_for_ms) {
            st->phase = KW_PHASE_OK;
            st->normal_streak = 0;
            st->notified_ms = at_ms;
            return KW_T_RESOLVED;
        }
        return KW_T_NONE;
    }
    if (st->phase == KW_PHASE_PENDING && st->anomalous_streak >= rule->for_intervals) {
        st->phase = KW_PHASE_FIRING;
        st->last_anomalous_ms = at_ms;
        st->notified_ms = at_ms;
        return KW_T_FIRING;
    }
    return KW_T_NONE;
}


/* Flap control on top of the machine: a series that flips between firing
 * and resolved flap_flips times within flap_window is notified once, as
 * flapping, and then not on every flip; once it has not flipped for
 * flap_window it is notified in the state it settled in. */
enum kw_transition kw_alerting_step(struct kw_alert_state *st, const struct kw_rule_config *rule,
                                    bool anomalous, double severity, double excess,
                                    double observed, double expected, int64_t at_ms)
{
    enum kw_transition t = machine(st, rule, anomalous, severity, excess, observed, expected, at_ms);
    if (rule->flap_flips <= 0)
        return t;
    if (t == KW_T_FIRING || t == KW_T_RESOLVED) {
        if (at_ms - st->flip_window_ms > rule->flap_window_ms) {
            st->flip_window_ms = at_ms;
            st->flips = 0;
        }
        st->flips++;
        st->last_flip_ms = at_ms;
        if (!st->flapping && st->flips >= rule->flap_flips) {
            st->flapping = true;
            /* The one notification: still open, flapping, with the count; the
             * state it settles in is told when it has settled. */
            st->notified_firing = true;
            st->notified_ms = at_ms;
            return t == KW_T_RESOLVED ? KW_T_REPEAT : KW_T_FIRING;
        }
        if (st->flapping)
            return KW_T_NONE;
        st->notified_firing = t == KW_T_FIRING;
        return t;
    }
    if (st->flapping && at_ms - st->last_flip_ms >= rule->flap_window_ms) {
        st->flapping = false; /* settled: tell the state it settled in */
        st->flips = 0;
        bool firing = st->phase == KW_PHASE_FIRING;
        if (firing != st->notified_firing) {
            st->notified_firing = firing;
            st->notified_ms = at_ms;
            return firing ? KW_T_FIRING : KW_T_RESOLVED;
        }
    }
    if (st->flapping && t == KW_T_REPEAT)
        return KW_T_NONE;
    return t;
}

/* Bit for bit zero: a -0.0 or a NaN is something a fresh state would not say. */
static bool zero_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u == 0;
}

/* Whether st, apart from its phase and nodata mark, is a fresh state. */
static bool is_fresh(const struct kw_alert_state *st)
{
    return st->anomalous_streak == 0 && st->normal_streak == 0 && st->intervals == 0 && st->since_ms == 0 &&
           st->notified_ms == 0 && zero_bits(st->peak_severity) && zero_bits(st->peak_observed) &&
           zero_bits(st->peak_expected) && zero_bits(st->impact) && st->last_anomalous_ms == 0 && st->flips == 0 &&
           st->flip_window_ms == 0 && st->last_flip_ms == 0 && !st->flapping && !st->notified_firing;
}

void kw_alerting_get(const struct kw_series_alert *a, struct kw_alert_state *st)
{
    if (a->more)
        *st = *a->more;
    else
        memset(st, 0, sizeof *st);
    st->phase = a->phase;
    st->nodata_since = a->nodata_since;
}

void kw_alerting_set(struct kw_series_alert *a, const struct kw_alert_state *st)
{
    a->phase = st->phase;
    a->nodata_since = st->nodata_since;
    if (is_fresh(st)) {
        free(a->more);
        a->more = NULL;
        return;
    }
    if (!a->more)
        a->more = xmalloc(sizeof *a->more);
    *a->more = *st;
}

void kw_alerting_release(struct kw_series_alert *a)
{
    free(a->more);
    a->more = NULL;
}

/* Back at rest: ok, not flapping, and no flip window still counting (the
 * next flip would start a new one). What the state still holds then is
 * only read again after the next incident has overwritten it, so it is
 * forgotten, and the series gives back the memory it held. */
static void forget_at_rest(struct kw_alert_state *st, const struct kw_rule_config *rule, int64_t at_ms)
{
    if (st->phase != KW_PHASE_OK || st->flapping)
        return;
    if (st->flips != 0 && !(st->flip_window_ms >= 0 && at_ms - st->flip_window_ms > rule->flap_window_ms))
        return;
    *st = (struct kw_alert_state){.phase = KW_PHASE_OK, .nodata_since = st->nodata_since};
}

cJSON *kw_alerting_save(const struct kw_alert_state *st)
{
    cJSON *o = cJSON_CreateObject();
    double v[] = {st->phase, st->anomalous_streak, st->normal_streak, st->intervals, (double)st->since_ms,
                  (double)st->notified_ms, st->peak_severity, st->peak_observed, st->peak_expected, st->impact,
                  (double)st->last_anomalous_ms, st->flips, (double)st->flip_window_ms, (double)st->last_flip_ms,
                  (st->flapping ? 1 : 0) + (st->notified_firing ? 2 : 0), (double)st->nodata_since};
    cJSON_AddItemToObject(o, "v", kw_json_doubles(v, sizeof v / sizeof v[0]));
    return o;
}

int kw_alerting_load(struct kw_alert_state *st, const cJSON *json)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(json, "v");
    int size = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || (size != 10 && size != 15 && size != 16)) /* 10: before flap control, 15: nodata */
        return -1;
    double v[16] = {0};
    v[15] = (double)INT64_MIN;
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr) v[i++] = cJSON_IsNumber(item) ? item->valuedouble : NAN;
    if (!(v[0] >= 0 && v[0] <= KW_PHASE_FIRING) || v[0] != floor(v[0]))
        return -1;
    for (int k = 1; k <= 3; k++) /* streaks and interval count: whole, non-negative */
        if (!(v[k] >= 0 && v[k] <= 1e9 && v[k] == floor(v[k])))
            return -1;
    for (int k = 4; k <= 5; k++) /* since, notified: plausible event times */
        if (!(fabs(v[k]) <= 4.0e12))
            return -1;
    if (!(v[6] >= 0 && v[6] <= 100) || !isfinite(v[9]))
        return -1;
    for (int k = 10; k <= 13; k++)
        if (!(fabs(v[k]) <= 4.0e12) || v[k] != floor(v[k]))
            return -1;
    if (!(v[11] >= 0 && v[11] <= 1e6) || !(v[14] >= 0 && v[14] <= 3) || v[14] != floor(v[14]))
        return -1;
    if (v[15] != (double)INT64_MIN && (!(fabs(v[15]) <= 4.0e12) || v[15] != floor(v[15])))
        return -1;
    st->phase = (int)v[0];
    st->anomalous_streak = (int)v[1];
    st->normal_streak = (int)v[2];
    st->intervals = (int)v[3];
    st->since_ms = (int64_t)v[4];
    st->notified_ms = (int64_t)v[5];
    st->peak_severity = v[6];
    st->peak_observed = v[7];
    st->peak_expected = v[8];
    st->impact = v[9];
    st->last_anomalous_ms = (int64_t)v[10];
    st->flips = (int)v[11];
    st->flip_window_ms = (int64_t)v[12];
    st->last_flip_ms = (int64_t)v[13];
    st->flapping = ((int)v[14] & 1) != 0;
    st->notified_firing = ((int)v[14] & 2) != 0 || (size == 10 && st->phase == KW_PHASE_FIRING);
    st->nodata_since = v[15] == (double)INT64_MIN ? INT64_MIN : (int64_t)v[15];
    return 0;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static void build_alert(const struct kw_kpi_config *kpi, const struct kw_series *s, const struct kw_alert_state *st,
                        const struct kw_sample *sample, const struct kw_verdict *v, enum kw_transition t,
                        struct kw_alert *a)
{
    memset(a, 0, sizeof *a);
    copy_text(a->key, sizeof a->key, s->alert_key);
    copy_text(a->kpi, sizeof a->kpi, kpi->name);
    copy_text(a->description, sizeof a->description, kpi->description);
    copy_text(a->unit, sizeof a->unit, kpi->unit);
    copy_text(a->detector, sizeof a->detector, kpi->detector.type->name);
    copy_text(a->runbook, sizeof a->runbook, kpi->runbook);
    copy_text(a->dashboard, sizeof a->dashboard, kpi->dashboard);
    copy_text(a->currency, sizeof a->currency, kpi->currency);
    const char *val = s->values;
    for (int i = 0; i < kpi->group_by.n; i++) {
        copy_text(a->labels[i].name, sizeof a->labels[i].name, kpi->group_by.items[i]);
        copy_text(a->labels[i].value, sizeof a->labels[i].value, val);
        val += strlen(val) + 1;
    }
    a->nlabels = kpi->group_by.n;
    a->status = t == KW_T_RESOLVED ? KW_ALERT_RESOLVED : KW_ALERT_FIRING;
    a->repeat = t == KW_T_REPEAT;
    a->flapping = st->flapping;
    a->flips = st->flips;
    a->severity = st->peak_severity >= kpi->alert.critical_severity ? KW_SEV_CRITICAL : KW_SEV_WARNING;
    a->kind = kpi->kind;
    a->severity_score = st->peak_severity;
    a->observed = sample->value;
    a->expected = v->ready ? v->expected : NAN;
    a->lower = v->ready ? v->lower : NAN;
    a->upper = v->ready ? v->upper : NAN;
    a->score = v->ready ? v->score : NAN;
    a->direction = st->impact >= 0 ? 1 : -1;
    if (t != KW_T_RESOLVED && v->ready && v->direction)
        a->direction = v->direction;
    a->peak_observed = st->peak_observed;
    a->peak_expected = st->peak_expected;
    a->denominator = sample->denominator;
    a->impact = st->impact;
    a->cost_per_unit = kpi->cost_per_unit;
    a->since_ms = st->since_ms;
    a->at_ms = sample->ts_ms;
    a->interval_ms = s->interval_ms;
    a->intervals = st->intervals;
    /* The history as of this interval: a decision held for the rest of
     * the KPI (false-discovery control) may come after the series has
     * closed later intervals, and when depends on thread timing. */
    int n = kw_series_history(s, a->history), ahead = 0;
    if (s->interval_ms > 0 && s->last_start != INT64_MIN && s->last_start > sample->ts_ms) {
        int64_t later = (s->last_start - sample->ts_ms) / s->interval_ms;
        ahead = later < n ? (int)later : n;
    }
    a->nhistory = n - ahead;
    for (int i = a->nhistory; i < n; i++)
        a->history[i] = 0; /* as memset left them */
}

enum kw_transition kw_alerting_close(struct kw_series *s, const struct kw_kpi_config *kpi,
                                     const struct kw_sample *sample, struct kw_verdict *v, struct kw_alert *out)
{
    /* Counts and rates cannot go below 0 (nor rates above 1): show the band people can read. */
    if (v->ready && kpi->kind != KW_KIND_CONTINUOUS && v->lower < 0)
        v->lower = 0;
    if (v->ready && kpi->kind == KW_KIND_RATE && v->upper > 1)
        v->upper = 1;
    if (isnan(sample->value))
        return KW_T_NONE;
    double excess = NAN;
    if (v->ready && isfinite(v->expected)) {
        excess = sample->value - v->expected;
        if (kpi->kind == KW_KIND_RATE)
            excess *= sample->denominator; /* rate points x trials = extra events */
    }
    struct kw_alert_state st;
    kw_alerting_get(&s->alert, &st);
    enum kw_transition t = kw_alerting_step(&st, &kpi->alert, v->ready && v->anomalous, v->severity, excess,
                                            sample->value, v->expected, sample->ts_ms);
    if (t == KW_T_NONE && st.phase == KW_PHASE_FIRING && !st.flapping)
        t = KW_T_REFRESH; /* flapping series show their settled state instead */
    if (t != KW_T_NONE)
        build_alert(kpi, s, &st, sample, v, t, out);
    forget_at_rest(&st, &kpi->alert, sample->ts_ms);
    kw_alerting_set(&s->alert, &st);
    return t;
}

bool kw_alerting_resolve_silent(struct kw_series *s, const struct kw_kpi_config *kpi, int64_t at_ms,
                                struct kw_alert *out)
{
    if (s->alert.phase != KW_PHASE_FIRING)
        return false;
    struct kw_sample sample = {.ts_ms = at_ms, .value = NAN, .numerator = NAN, .denominator = NAN};
    struct kw_verdict v = {0};
    struct kw_alert_state st;
    kw_alerting_get(&s->alert, &st);
    st.phase = KW_PHASE_OK;
    kw_alerting_set(&s->alert, &st);
    kw_warn("alerting", "series %s of %s went silent while firing; resolving", s->alert_key, kpi->name);
    build_alert(kpi, s, &st, &sample, &v, KW_T_RESOLVED, out);
    return true;
}

void kw_alerting_nodata_key(const struct kw_series *s, char out[24])
{
    /* FNV-1a of the series key and a tag: stable, and never the anomaly key */
    uint64_t h = kw_fnv1a_str(kw_fnv1a_str(KW_FNV_OFFSET, s->alert_key), "/nodata");
    snprintf(out, 24, "%016llx", (unsigned long long)h);
}

/* The end of the interval that holds s's last point. */
static int64_t last_end(const struct kw_series *s, const struct kw_kpi_config *kpi)
{
    int64_t iv = s->interval_ms;
    return kpi->interval_ms ? (kw_floor_div(s->last_point_ts, iv) + 1) * iv : s->last_point_ts + iv;
}

int64_t kw_alerting_nodata_due(const struct kw_series *s, const struct kw_kpi_config *kpi)
{
    if (kpi->alert.nodata_after <= 0 || s->alert.nodata_since != INT64_MIN || s->interval_ms <= 0 ||
        s->last_point_ts == INT64_MIN)
        return INT64_MAX;
    return last_end(s, kpi) + (int64_t)kpi->alert.nodata_after * s->interval_ms;
}

/* ending: the series is being forgotten; close an open nodata alert now. */
static bool nodata_step(struct kw_series *s, const struct kw_kpi_config *kpi, int64_t clock, bool ending,
                        struct kw_alert *out)
{
    struct kw_series_alert *a = &s->alert;
    if (s->last_point_ts == INT64_MIN || clock == INT64_MIN)
        return false;
    int64_t iv = s->interval_ms, end = last_end(s, kpi);
    enum kw_transition t = KW_T_NONE;
    if (a->nodata_since == INT64_MIN) {
        if (ending || clock < kw_alerting_nodata_due(s, kpi))
            return false;
        a->nodata_since = end;
        t = KW_T_FIRING;
    } else if (end > a->nodata_since || kpi->alert.nodata_after <= 0 || ending) {
        t = KW_T_RESOLVED; /* points are back, nodata was switched off by a reload, or the series ends */
    } else {
        return false;
    }
    struct kw_sample sample = {.ts_ms = t == KW_T_FIRING ? clock : end - iv, .value = NAN, .numerator = NAN,
                               .denominator = NAN};
    struct kw_verdict v = {0};
    /* Build from a state that describes the gap, not the anomaly machine's incident. */
    struct kw_alert_state st;
    kw_alerting_get(a, &st);
    st.since_ms = a->nodata_since;
    st.intervals = (int)((clock - a->nodata_since) / iv);
    st.impact = 0;
    st.peak_severity = 100;
    st.peak_observed = st.peak_expected = NAN;
    st.flapping = false;
    st.flips = 0;
    build_alert(kpi, s, &st, &sample, &v, t, out);
    if (t == KW_T_RESOLVED)
        a->nodata_since = INT64_MIN;
    kw_alerting_nodata_key(s, out->key);
    out->cause = KW_CAUSE_NODATA;
    out->severity = KW_SEV_WARNING;
    out->direction = 0;
    snprintf(out->detector, sizeof out->detector, "nodata");
    return true;
}

bool kw_alerting_nodata(struct kw_series *s, const struct kw_kpi_config *kpi, int64_t clock, struct kw_alert *out)
{
    return nodata_step(s, kpi, clock, false, out);
}

bool kw_alerting_nodata_end(struct kw_series *s, const struct kw_kpi_config *kpi, int64_t clock, struct kw_alert *out)
{
    return nodata_step(s, kpi, clock, true, out);
}
