/* page: the status page, server-rendered HTML with inline SVG charts: no
 * script, no asset from the network, one response. For each KPI its series
 * ranked by anomaly score (firing first), each with a chart of its tracked
 * history (observed line, expected line, band, anomalous intervals, alert
 * periods); the active incidents with their members, impact and links; the
 * recently resolved alerts; the silences. Everything that came from data or
 * config (label values, names, comments, links) is escaped, and only
 * http(s) links become links. The layout is a responsive grid that reads on
 * a laptop and on a phone. */
#ifndef KW_PAGE_H
#define KW_PAGE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "history.h"
#include "status.h"

/* What one page shows; everything is borrowed for the call. */
struct kw_page_data {
    const struct kw_status_view *view;
    const struct kw_alert *active;         /* oldest first */
    const char *const *silenced_by;        /* per active alert: a silence id or NULL; may be NULL */
    size_t nactive;
    const struct kw_status_incident *incidents; /* groups of active[] */
    size_t nincidents;
    const struct kw_status_resolved *resolved; /* newest first */
    size_t nresolved;
    const cJSON *silences;                 /* array from kw_silences_list, or NULL (no store) */
    struct kw_history *history;            /* NULL: no charts */
    const char *only_kpi;                  /* show every tracked series of this KPI only; NULL = all KPIs */
    size_t per_kpi;                        /* charts per KPI on the overview */
};

/* The overview page (caller frees; never NULL). */
char *kw_page_render(const struct kw_page_data *d, size_t *len);
/* The page of one series with its table of recent intervals, or NULL when
 * key is not tracked. */
char *kw_page_render_series(const struct kw_page_data *d, const char *key, size_t *len);

#endif
