/* history_rig: the fixture the history store tests share (test_ops.c,
 * test_history_file.c): two 5-minute KPIs "c" and "d" grouped by journey,
 * series j0, j1, ... on them, and intervals pushed into a store as the
 * pipeline's history sink pushes them. Test-only and included by each test
 * file, so everything is static inline (a .c here would be globbed into
 * the unit tests as a test file). */
#ifndef KW_HISTORY_RIG_H
#define KW_HISTORY_RIG_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "../../agent/config.h"
#include "../../agent/history.h"
#include "../../agent/series.h"
#include "../../lib/log.h"

#define HISTORY_RIG_MAX 8
#define HISTORY_RIG_STEP_MS 300000 /* the KPIs' interval */

struct history_rig {
    struct kw_config cfg;
    struct kw_series *series[HISTORY_RIG_MAX];
    int n;
};

/* Parse the config and make n series, the first on_c of them on KPI "c"
 * and the others on "d". Logging goes off. */
static inline void history_rig_init(struct history_rig *r, int n, int on_c)
{
    kw_log_set_level(KW_LOG_OFF);
    char err[KW_ERR_LEN];
    const char *text = "{\"kpis\":[{\"name\":\"c\",\"metric\":\"c\",\"interval\":\"5m\",\"group_by\":[\"journey\"]},"
                       "{\"name\":\"d\",\"metric\":\"d\",\"interval\":\"5m\",\"group_by\":[\"journey\"]}]}";
    cr_assert_eq(kw_config_parse(&r->cfg, text, "t.json", err, sizeof err), 0, "%s", err);
    cr_assert_leq(n, HISTORY_RIG_MAX);
    r->n = n;
    for (int i = 0; i < n; i++) {
        char v[16];
        int len = snprintf(v, sizeof v, "j%d", i) + 1;
        int k = i < on_c ? 0 : 1;
        r->series[i] = kw_series_new(&r->cfg.kpis[k], k, kw_series_hash(k, v, (size_t)len), v, (size_t)len, 0);
        r->series[i]->open_start = 0;
    }
}

static inline void history_rig_release(struct history_rig *r)
{
    for (int i = 0; i < r->n; i++)
        kw_series_free(r->series[i], &r->cfg.kpis[r->series[i]->kpi]);
    kw_config_release(&r->cfg);
}

/* Series i closes interval t (counted from 0) with value and verdict v. */
static inline void history_rig_push(struct history_rig *r, struct kw_history *h, int i, int t, double value,
                                    struct kw_verdict v)
{
    struct kw_series *s = r->series[i];
    s->open_start = (int64_t)(t + 1) * HISTORY_RIG_STEP_MS;
    kw_series_history_push(s, value);
    struct kw_sample sample = {.ts_ms = (int64_t)t * HISTORY_RIG_STEP_MS, .value = value, .numerator = NAN,
                               .denominator = NAN};
    kw_history_sink(h, s, &r->cfg.kpis[s->kpi], &sample, &v);
}

/* Does the store hold series i? */
static inline bool history_rig_tracked(struct history_rig *r, struct kw_history *h, int i)
{
    struct kw_history_entry e;
    if (kw_history_get(h, r->series[i]->alert_key, &e))
        return false;
    kw_history_entry_release(&e);
    return true;
}

#endif
