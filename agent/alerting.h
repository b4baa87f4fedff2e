/* alerting: the per-(rule, series) alert state machine.
 *   ok --anomalous--> pending --`for` anomalous intervals--> firing
 *   firing --`resolve_after` normal intervals--> resolved (back to ok)
 * Pending that sees a normal interval goes back to ok without a word. */
#ifndef KW_ALERTING_H
#define KW_ALERTING_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

enum kw_alert_phase { KW_PHASE_OK = 0, KW_PHASE_PENDING, KW_PHASE_FIRING };

enum kw_transition {
    KW_T_NONE = 0,   /* nothing to tell anyone */
    KW_T_FIRING,     /* became firing: notify */
    KW_T_REPEAT,     /* still firing and repeat_interval elapsed: notify again */
    KW_T_RESOLVED,   /* firing ended: notify */
};

struct kw_alert_state {
    int phase;                /* enum kw_alert_phase */
    int anomalous_streak;     /* consecutive anomalous intervals */
    int normal_streak;        /* consecutive normal intervals while firing */
    int intervals;            /* anomalous intervals in this incident */
    int64_t since_ms;         /* start of the incident's first anomalous interval */
    int64_t notified_ms;      /* event time of the last notification */
    double peak_severity;
    double peak_observed, peak_expected;
    double impact;            /* excess units accumulated over the incident */
};

/* Advance st by one closed interval. anomalous/severity come from the
 * verdict after rule.min_severity; excess is this interval's contribution to
 * the impact (observed minus expected, in units). Returns the transition. */
enum kw_transition kw_alerting_step(struct kw_alert_state *st, const struct kw_rule_config *rule,
                                    bool anomalous, double severity, double excess,
                                    double observed, double expected, int64_t at_ms);

/* Save / load for the state store. */
cJSON *kw_alerting_save(const struct kw_alert_state *st);
int kw_alerting_load(struct kw_alert_state *st, const cJSON *json);

#endif
