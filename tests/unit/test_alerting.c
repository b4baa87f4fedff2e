/* The alert state machine's controls beyond for and resolve_after:
 * keep_firing_for, flap control, and their state across a restart. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "../../agent/alerting.h"

#define MIN 60000LL

/* keep_firing_for: a pause shorter than it does not resolve the incident. */
Test(alerting, keep_firing_for_bridges_a_short_pause)
{
    struct kw_rule_config rule = {.for_intervals = 1, .resolve_after = 1, .keep_firing_for_ms = 3 * MIN};
    struct kw_alert_state st = {0};
    cr_assert_eq(kw_alerting_step(&st, &rule, true, 90, 1, 1, 0, 0), KW_T_FIRING);
    cr_assert_eq(kw_alerting_step(&st, &rule, false, 0, 0, 1, 0, MIN), KW_T_NONE, "1 min after: kept firing");
    cr_assert_eq(kw_alerting_step(&st, &rule, true, 90, 1, 1, 0, 2 * MIN), KW_T_NONE, "back: the same incident");
    cr_assert_eq(kw_alerting_step(&st, &rule, false, 0, 0, 1, 0, 3 * MIN), KW_T_NONE);
    cr_assert_eq(kw_alerting_step(&st, &rule, false, 0, 0, 1, 0, 4 * MIN), KW_T_NONE);
    cr_assert_eq(kw_alerting_step(&st, &rule, false, 0, 0, 1, 0, 5 * MIN), KW_T_RESOLVED, "3 min after the last anomaly");
}

/* Flap control: a series that keeps firing and resolving is notified once
 * as flapping, with the count, and then in the state it settles in. */
Test(alerting, flapping_is_notified_once_then_settles)
{
    struct kw_rule_config rule = {.for_intervals = 1, .resolve_after = 1, .flap_flips = 4, .flap_window_ms = 60 * MIN};
    struct kw_alert_state st = {0};
    int notified = 0;
    enum kw_transition last = KW_T_NONE;
    for (int i = 0; i < 20; i++) { /* anomalous every other interval: 20 flips in 20 minutes */
        enum kw_transition t = kw_alerting_step(&st, &rule, i % 2 == 0, 90, 1, 1, 0, i * MIN);
        if (t != KW_T_NONE) {
            notified++;
            last = t;
        }
    }
    cr_assert(st.flapping);
    cr_assert_eq(notified, 4, "fire, resolve, fire, then once as flapping: got %d", notified);
    cr_assert_eq(last, KW_T_REPEAT, "the 4th flip (a resolve) is told as still open, flapping");
    cr_assert_geq(st.flips, 4);
    /* it settles: normal for an hour */
    enum kw_transition t = KW_T_NONE;
    for (int i = 20; i < 90 && t == KW_T_NONE; i++)
        t = kw_alerting_step(&st, &rule, false, 0, 0, 1, 0, i * MIN);
    cr_assert_eq(t, KW_T_RESOLVED, "settled: the resolve is told once");
    cr_assert_not(st.flapping);
}

/* The alert state, flap fields included, survives the state file. */
Test(alerting, state_with_flap_fields_round_trips)
{
    struct kw_alert_state st = {.phase = KW_PHASE_FIRING, .intervals = 3, .since_ms = 1000, .notified_ms = 2000,
                                .peak_severity = 90, .impact = 7, .last_anomalous_ms = 3000, .flips = 5,
                                .flip_window_ms = 500, .last_flip_ms = 2500, .flapping = true, .notified_firing = true};
    cJSON *j = kw_alerting_save(&st);
    char *text = cJSON_PrintUnformatted(j);
    cJSON *back = cJSON_Parse(text);
    struct kw_alert_state got = {0};
    cr_assert_eq(kw_alerting_load(&got, back), 0);
    cr_assert_eq(got.flips, 5);
    cr_assert_eq(got.last_anomalous_ms, 3000);
    cr_assert(got.flapping && got.notified_firing);
    free(text);
    cJSON_Delete(j);
    cJSON_Delete(back);
}
