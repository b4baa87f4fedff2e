/* alerting: pending/firing/resolved state machine with `for` and hysteresis. */
#include "alerting.h"

#include <math.h>
#include <string.h>

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

enum kw_transition kw_alerting_step(struct kw_alert_state *st, const struct kw_rule_config *rule,
                                    bool anomalous, double severity, double excess,
                                    double observed, double expected, int64_t at_ms)
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
        if (++st->normal_streak >= rule->resolve_after) {
            st->phase = KW_PHASE_OK;
            st->normal_streak = 0;
            st->notified_ms = at_ms;
            return KW_T_RESOLVED;
        }
        return KW_T_NONE;
    }
    if (st->phase == KW_PHASE_PENDING && st->anomalous_streak >= rule->for_intervals) {
        st->phase = KW_PHASE_FIRING;
        st->notified_ms = at_ms;
        return KW_T_FIRING;
    }
    return KW_T_NONE;
}

cJSON *kw_alerting_save(const struct kw_alert_state *st)
{
    cJSON *o = cJSON_CreateObject();
    double v[] = {st->phase, st->anomalous_streak, st->normal_streak, st->intervals, (double)st->since_ms,
                  (double)st->notified_ms, st->peak_severity, st->peak_observed, st->peak_expected, st->impact};
    cJSON_AddItemToObject(o, "v", kw_json_doubles(v, sizeof v / sizeof v[0]));
    return o;
}

int kw_alerting_load(struct kw_alert_state *st, const cJSON *json)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(json, "v");
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != 10)
        return -1;
    double v[10];
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr) v[i++] = cJSON_IsNumber(item) ? item->valuedouble : NAN;
    if (!(v[0] >= 0 && v[0] <= KW_PHASE_FIRING))
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
    return 0;
}
