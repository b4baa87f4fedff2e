/* page: the status page and the page of one series, as HTML with inline SVG. */
#include "page.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/strbuf.h"
#include "../lib/timefmt.h"
#include "../notifiers/notifier.h"

#define CHART_W 600
#define CHART_H 180
#define BIG_W 960
#define BIG_H 320
#define TABLE_ROWS 48

static const char STYLE[] =
    ":root{--fg:#1f2328;--muted:#59636e;--bg:#f6f8fa;--card:#fff;--line:#d1d9e0;--obs:#0b57d0;"
    "--band:rgba(11,87,208,.14);--exp:#59636e;--bad:#cf222e;--alert:rgba(207,34,46,.13);--warn:#9a6700;--ok:#1a7f37}"
    "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--card:#151b23;"
    "--line:#3d444d;--obs:#6cb6ff;--band:rgba(108,182,255,.18);--exp:#9198a1;--bad:#ff7b72;--alert:rgba(255,123,114,.16)}}"
    "*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:var(--fg);background:var(--bg)}header,main,footer{max-width:1400px;margin:0 auto;padding:12px 16px}"
    "header h1{margin:0;font-size:22px}header h1 a{color:inherit;text-decoration:none}.meta{color:var(--muted);margin:4px 0}"
    "nav{display:flex;flex-wrap:wrap;gap:2px 14px}a{color:var(--obs)}h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}"
    "h2 small,h3 small{color:var(--muted);font-weight:normal}h3{font-size:15px;margin:0 0 4px;overflow-wrap:anywhere}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,380px),1fr));gap:12px}"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px;min-width:0}"
    ".card.firing{border-color:var(--bad);box-shadow:0 0 0 1px var(--bad) inset}"
    ".incident{margin-bottom:12px}.values{color:var(--muted);margin:0 0 6px;font-size:13px}"
    ".badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;vertical-align:1px;"
    "border:1px solid currentColor}.badge.critical,.badge.firing{color:var(--bad)}.badge.warning{color:var(--warn)}"
    ".badge.silenced{color:var(--muted)}.badge.ok{color:var(--ok)}"
    ".scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:13px}"
    "th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);white-space:nowrap}td.wrap{white-space:normal;overflow-wrap:break-word}"
    "svg.chart{width:100%;height:auto;display:block}svg .grid{stroke:var(--line);stroke-width:1}"
    "svg text{fill:var(--muted);font-size:11px;font-family:system-ui,sans-serif}"
    "svg .band{fill:var(--band);stroke:none}svg .expected{fill:none;stroke:var(--exp);stroke-width:1.2;stroke-dasharray:4 3}"
    "svg .observed{fill:none;stroke:var(--obs);stroke-width:1.8;stroke-linejoin:round}"
    "svg .anomaly{fill:var(--bad)}svg .alert-period{fill:var(--alert)}"
    ".legend{font-size:12px;color:var(--muted)}.legend i{display:inline-block;width:14px;height:8px;margin:0 4px 0 10px;vertical-align:0}"
    ".ok{color:var(--ok)}.muted{color:var(--muted)}code{font-size:13px}footer{color:var(--muted);font-size:13px}"
    "@media (max-width:600px){body{font-size:14px}header,main,footer{padding:8px 10px}"
    "table.rows tr:first-child{display:none}table.rows tr{display:block;border-bottom:1px solid var(--line);padding:4px 0}"
    "table.rows td{display:block;border:0;padding:1px 0;white-space:normal}table.rows td::before{content:attr(data-label) \": \";color:var(--muted)}}";

/* ---- formatting ----------------------------------------------------------- */

static const char *fmt_value(int kind, double v, char *buf, size_t len)
{
    if (!isfinite(v))
        snprintf(buf, len, "–");
    else if (kind == KW_KIND_RATE)
        snprintf(buf, len, "%.1f%%", v * 100);
    else if (kind == KW_KIND_COUNT && fabs(v) >= 100)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.3g", v);
    return buf;
}

static const char *fmt_clock(int64_t ms, bool with_date, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, with_date ? "%m-%d %H:%M" : "%H:%M", &tm);
    return buf;
}

static void html(struct kw_strbuf *b, const char *s)
{
    kw_strbuf_html(b, s);
}

static void labels_text(struct kw_strbuf *b, const struct kw_alert_label *labels, int n)
{
    if (n == 0) {
        kw_strbuf_puts(b, "(all)");
        return;
    }
    for (int i = 0; i < n; i++) {
        if (i)
            kw_strbuf_puts(b, ", ");
        html(b, labels[i].name);
        kw_strbuf_puts(b, "=");
        html(b, labels[i].value);
    }
}

static bool is_web_link(const char *url)
{
    return url && (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0);
}

static void link(struct kw_strbuf *b, const char *url, const char *text)
{
    if (!is_web_link(url))
        return;
    kw_strbuf_puts(b, " <a rel=\"noopener noreferrer\" href=\"");
    html(b, url);
    kw_strbuf_puts(b, "\">");
    html(b, text);
    kw_strbuf_puts(b, "</a>");
}

static const struct kw_status_kpi *kpi_info(const struct kw_status_view *v, const char *name)
{
    for (int k = 0; k < v->nkpis; k++)
        if (strcmp(v->kpis[k].name, name) == 0)
            return &v->kpis[k];
    return NULL;
}

/* ---- the chart ------------------------------------------------------------ */

struct scale {
    int64_t t0, t1;
    double y0, y1;
    double left, right, top, bottom;
};

static double sx(const struct scale *s, int64_t t)
{
    return s->left + (s->right - s->left) * (double)(t - s->t0) / (double)(s->t1 - s->t0);
}

static double sy(const struct scale *s, double y)
{
    return s->bottom - (s->bottom - s->top) * (y - s->y0) / (s->y1 - s->y0);
}

static void widen(double *lo, double *hi, double v)
{
    if (!isfinite(v))
        return;
    if (v < *lo)
        *lo = v;
    if (v > *hi)
        *hi = v;
}

/* One path of runs over points where get() is finite, mid-interval x. */
static void line_path(struct kw_strbuf *b, const struct scale *s, const struct kw_history_entry *e, int64_t half,
                      size_t field, const char *cls)
{
    bool open = false, any = false;
    for (int i = 0; i < e->npoints; i++) {
        double y = *(const double *)((const char *)&e->points[i] + field);
        if (!isfinite(y)) {
            open = false;
            continue;
        }
        if (!any)
            kw_strbuf_printf(b, "<path class=\"%s\" d=\"", cls);
        any = true;
        kw_strbuf_printf(b, "%s%.1f %.1f ", open ? "L" : "M", sx(s, e->points[i].ts_ms + half), sy(s, y));
        open = true;
    }
    if (any)
        kw_strbuf_puts(b, "\"/>");
}

/* The band: one closed shape per run of points with both bounds. */
static void band_path(struct kw_strbuf *b, const struct scale *s, const struct kw_history_entry *e, int64_t half)
{
    bool any = false;
    for (int i = 0; i < e->npoints;) {
        if (!isfinite(e->points[i].lower) || !isfinite(e->points[i].upper)) {
            i++;
            continue;
        }
        int j = i;
        while (j < e->npoints && isfinite(e->points[j].lower) && isfinite(e->points[j].upper))
            j++;
        if (!any)
            kw_strbuf_puts(b, "<path class=\"band\" d=\"");
        any = true;
        for (int k = i; k < j; k++)
            kw_strbuf_printf(b, "%s%.1f %.1f ", k == i ? "M" : "L", sx(s, e->points[k].ts_ms + half),
                             sy(s, e->points[k].upper));
        for (int k = j - 1; k >= i; k--)
            kw_strbuf_printf(b, "L%.1f %.1f ", sx(s, e->points[k].ts_ms + half), sy(s, e->points[k].lower));
        kw_strbuf_puts(b, "Z ");
        i = j;
    }
    if (any)
        kw_strbuf_puts(b, "\"/>");
}

static void chart(struct kw_strbuf *b, const struct kw_history_entry *e, int kind, int w, int h)
{
    char buf[64], buf2[64];
    kw_strbuf_printf(b, "<svg class=\"chart\" data-key=\"%s\" viewBox=\"0 0 %d %d\" role=\"img\" "
                        "preserveAspectRatio=\"xMidYMid meet\" xmlns=\"http://www.w3.org/2000/svg\"><title>",
                     e->key, w, h);
    html(b, e->kpi);
    kw_strbuf_puts(b, " ");
    labels_text(b, e->labels, e->nlabels);
    kw_strbuf_puts(b, ": observed against the expected band</title>");
    if (e->npoints == 0) {
        kw_strbuf_printf(b, "<text x=\"%d\" y=\"%d\">no intervals yet</text></svg>", w / 2 - 40, h / 2);
        return;
    }
    int64_t iv = e->interval_ms > 0 ? e->interval_ms : 1;
    struct scale s = {.t0 = e->points[0].ts_ms, .t1 = e->points[e->npoints - 1].ts_ms + iv,
                      .left = 46, .right = w - 6, .top = 6, .bottom = h - 18};
    if (s.t1 <= s.t0)
        s.t1 = s.t0 + 1;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < e->npoints; i++) {
        widen(&lo, &hi, e->points[i].observed);
        widen(&lo, &hi, e->points[i].expected);
        widen(&lo, &hi, e->points[i].lower);
        widen(&lo, &hi, e->points[i].upper);
    }
    if (!isfinite(lo)) {
        lo = 0;
        hi = 1;
    }
    if (kind != KW_KIND_CONTINUOUS && lo > 0)
        lo = 0; /* counts and rates are read from zero */
    if (hi - lo < 1e-12)
        hi = lo + (fabs(lo) > 0 ? fabs(lo) * 0.1 : 1);
    double pad = (hi - lo) * 0.06;
    s.y0 = lo - (kind != KW_KIND_CONTINUOUS && lo == 0 ? 0 : pad);
    s.y1 = hi + pad;
    int64_t half = e->interval_ms > 0 ? iv / 2 : 0;

    /* alert periods behind everything */
    for (int i = 0; i < e->npoints;) {
        if (!(e->points[i].flags & KW_HP_FIRING)) {
            i++;
            continue;
        }
        int j = i;
        while (j < e->npoints && (e->points[j].flags & KW_HP_FIRING))
            j++;
        double x0 = sx(&s, e->points[i].ts_ms), x1 = sx(&s, e->points[j - 1].ts_ms + iv);
        kw_strbuf_printf(b, "<rect class=\"alert-period\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>alert firing %s – %s UTC</title></rect>",
                         x0, s.top, x1 - x0 > 1 ? x1 - x0 : 1, s.bottom - s.top,
                         fmt_clock(e->points[i].ts_ms, true, buf, sizeof buf),
                         fmt_clock(e->points[j - 1].ts_ms + iv, false, buf2, sizeof buf2));
        i = j;
    }
    /* grid and y labels */
    for (int g = 0; g <= 2; g++) {
        double yv = s.y0 + (s.y1 - s.y0) * g / 2.0;
        double y = sy(&s, yv);
        kw_strbuf_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", s.left, s.right, y, y);
        kw_strbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", s.left - 4, y + 4,
                         fmt_value(kind, yv, buf, sizeof buf));
    }
    /* x labels: start, middle, end (UTC) */
    bool days = s.t1 - s.t0 > 86400000;
    int64_t ticks[3] = {s.t0, s.t0 + (s.t1 - s.t0) / 2, s.t1};
    const char *anchor[3] = {"start", "middle", "end"};
    for (int t = 0; t < 3; t++)
        kw_strbuf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">%s%s</text>", sx(&s, ticks[t]), h - 4,
                         anchor[t], fmt_clock(ticks[t], days, buf, sizeof buf), t == 2 ? " UTC" : "");
    band_path(b, &s, e, half);
    line_path(b, &s, e, half, offsetof(struct kw_history_point, expected), "expected");
    line_path(b, &s, e, half, offsetof(struct kw_history_point, observed), "observed");
    for (int i = 0; i < e->npoints; i++) {
        const struct kw_history_point *p = &e->points[i];
        if (!(p->flags & KW_HP_ANOMALOUS) || !isfinite(p->observed))
            continue;
        char buf3[64];
        kw_strbuf_printf(b, "<circle class=\"anomaly\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"><title>%s UTC: %s, expected %s</title></circle>",
                         sx(&s, p->ts_ms + half), sy(&s, p->observed), fmt_clock(p->ts_ms, true, buf, sizeof buf),
                         fmt_value(kind, p->observed, buf2, sizeof buf2), fmt_value(kind, p->expected, buf3, sizeof buf3));
    }
    kw_strbuf_puts(b, "</svg>");
}

static void legend(struct kw_strbuf *b)
{
    kw_strbuf_puts(b, "<p class=\"legend\"><i style=\"background:var(--obs);height:2px\"></i>observed"
                      "<i style=\"border-top:2px dashed var(--exp);height:0\"></i>expected"
                      "<i style=\"background:var(--band)\"></i>normal band"
                      "<i style=\"background:var(--bad);width:8px;border-radius:4px\"></i>anomalous interval"
                      "<i style=\"background:var(--alert)\"></i>alert firing</p>");
}

/* ---- sections ------------------------------------------------------------- */

static void head(struct kw_strbuf *b, const char *title)
{
    kw_strbuf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                      "<meta http-equiv=\"refresh\" content=\"30\"><meta name=\"referrer\" content=\"no-referrer\">"
                      "<link rel=\"icon\" href=\"data:,\"><title>");
    html(b, title);
    kw_strbuf_printf(b, "</title><style>%s</style></head><body>", STYLE);
}

static void header(struct kw_strbuf *b, const struct kw_page_data *d)
{
    const struct kw_status_view *v = d->view;
    char up[32], now[40];
    uint64_t firing = 0;
    for (int k = 0; k < v->nkpis; k++)
        firing += v->kpis[k].alerts_firing;
    kw_strbuf_printf(b, "<header><h1><a href=\"/\">kpiwatch</a> <small class=\"muted\">%s</small></h1>", KW_VERSION);
    kw_strbuf_printf(b, "<p class=\"meta\">up %s · %d KPIs · %llu series · ", kw_duration_text(v->now_ms - v->started_ms, up, sizeof up),
                     v->nkpis, (unsigned long long)v->series);
    if (firing)
        kw_strbuf_printf(b, "<span class=\"badge firing\">%llu firing</span>", (unsigned long long)firing);
    else
        kw_strbuf_puts(b, "<span class=\"badge ok\">nothing firing</span>");
    kw_strbuf_printf(b, " · %s%s</p><nav><a href=\"/#incidents\">incidents</a>",
                     v->ready == KW_READY_ALL ? "" : "<b>not ready</b> · ", kw_time_format(v->now_ms, now, sizeof now));
    for (int k = 0; k < v->nkpis; k++) {
        kw_strbuf_puts(b, "<a href=\"/?kpi=");
        kw_strbuf_url(b, v->kpis[k].name);
        kw_strbuf_puts(b, "\">");
        html(b, v->kpis[k].name);
        kw_strbuf_puts(b, "</a>");
    }
    kw_strbuf_puts(b, "<a href=\"/#silences\">silences</a></nav></header><main>");
}

static void footer(struct kw_strbuf *b, const struct kw_page_data *d)
{
    kw_strbuf_puts(b, "</main><footer>Refreshes every 30 s. Machine-readable: <a href=\"/metrics\">/metrics</a> · "
                      "<a href=\"/api/v1/alerts\">/api/v1/alerts</a> · <a href=\"/api/v1/incidents\">/api/v1/incidents</a> · "
                      "<a href=\"/api/v1/silences\">/api/v1/silences</a> · <a href=\"/healthz\">/healthz</a> · "
                      "<a href=\"/readyz\">/readyz</a></footer></body></html>\n");
}

static void alert_row(struct kw_strbuf *b, const struct kw_alert *a, const char *silence)
{
    char obs[48], exp[48], lo[48], hi[48], since[40], dur[32], impact[160];
    kw_strbuf_puts(b, "<tr><td data-label=\"KPI\">");
    html(b, a->kpi);
    kw_strbuf_puts(b, "</td><td class=\"wrap\" data-label=\"series\">");
    labels_text(b, a->labels, a->nlabels);
    kw_strbuf_printf(b, "</td><td data-label=\"observed\">%s</td><td data-label=\"expected\">%s (%s–%s)</td>", fmt_value(a->kind, a->observed, obs, sizeof obs),
                     fmt_value(a->kind, a->expected, exp, sizeof exp), fmt_value(a->kind, a->lower, lo, sizeof lo),
                     fmt_value(a->kind, a->upper, hi, sizeof hi));
    kw_strbuf_printf(b, "<td data-label=\"since\">%s (%s)</td>", fmt_clock(a->since_ms, true, since, sizeof since),
                     kw_duration_text(a->at_ms + a->interval_ms - a->since_ms, dur, sizeof dur));
    kw_strbuf_printf(b, "<td data-label=\"severity\"><span class=\"badge %s\">%s %.0f</span>", a->severity == KW_SEV_CRITICAL ? "critical" : "warning",
                     a->severity == KW_SEV_CRITICAL ? "critical" : "warning", a->severity_score);
    if (silence) {
        kw_strbuf_puts(b, " <span class=\"badge silenced\" title=\"silence ");
        html(b, silence);
        kw_strbuf_puts(b, "\">silenced</span>");
    }
    kw_strbuf_puts(b, "</td><td class=\"wrap\" data-label=\"impact\">");
    html(b, kw_alert_impact_text(a, impact, sizeof impact));
    kw_strbuf_printf(b, "</td><td data-label=\"links\"><a href=\"/series/%s\">chart</a>", a->key);
    link(b, a->runbook, "runbook");
    link(b, a->dashboard, "dashboard");
    kw_strbuf_puts(b, "</td></tr>");
}

static const char ALERT_HEAD[] = "<div class=\"scroll\"><table class=\"rows\"><tr><th>KPI</th><th>series</th><th>observed</th>"
                                 "<th>expected (band)</th><th>since (UTC)</th><th>severity</th><th>impact</th><th>links</th></tr>";

static void incidents(struct kw_strbuf *b, const struct kw_page_data *d)
{
    const struct kw_status_incident *inc = d->incidents;
    size_t n = d->nincidents;
    kw_strbuf_printf(b, "<section id=\"incidents\"><h2>Active incidents <small>(%zu)</small></h2>", n);
    if (n == 0)
        kw_strbuf_puts(b, "<p class=\"ok\">Nothing is firing.</p>");
    for (size_t i = 0; i < n; i++) {
        const struct kw_status_incident *g = &inc[i];
        const struct kw_alert *lead = &d->active[g->members[0]];
        char since[40], dur[32];
        kw_strbuf_printf(b, "<article class=\"card incident firing\" id=\"incident-%zu\"><h3>", i);
        html(b, g->by);
        kw_strbuf_puts(b, " ");
        html(b, g->value);
        kw_strbuf_printf(b, " <span class=\"badge %s\">%s</span></h3>", g->severity == KW_SEV_CRITICAL ? "critical" : "warning",
                         g->severity == KW_SEV_CRITICAL ? "critical" : "warning");
        if (g->receivers[0]) {
            kw_strbuf_puts(b, "<p class=\"values\">notified to ");
            html(b, g->receivers);
            kw_strbuf_puts(b, " · key ");
            html(b, g->key);
            kw_strbuf_puts(b, "</p>");
        } else if (g->key[0]) {
            kw_strbuf_puts(b, "<p class=\"values\">not notified: the receivers of its routes are off · key ");
            html(b, g->key);
            kw_strbuf_puts(b, "</p>");
        } else {
            kw_strbuf_puts(b, "<p class=\"values\">held back from notification (silenced or inhibited)</p>");
        }
        /* Event time, not the wall clock: replays and the demo run in their own time. */
        int64_t until = g->since_ms;
        for (size_t m = 0; m < g->n; m++) {
            const struct kw_alert *a = &d->active[g->members[m]];
            if (a->at_ms + a->interval_ms > until)
                until = a->at_ms + a->interval_ms;
        }
        kw_strbuf_printf(b, "<p class=\"values\">since %s UTC (%s) · %zu alert%s · first mover: ",
                         fmt_clock(g->since_ms, true, since, sizeof since), kw_duration_text(until - g->since_ms, dur, sizeof dur),
                         g->n, g->n == 1 ? "" : "s");
        html(b, lead->kpi);
        kw_strbuf_puts(b, " ");
        labels_text(b, lead->labels, lead->nlabels);
        /* total impact, per unit and currency */
        bool any_impact = false;
        for (size_t m = 0; m < g->n; m++)
            any_impact |= kw_alert_has_impact(&d->active[g->members[m]]);
        if (any_impact)
            kw_strbuf_puts(b, " · impact:");
        for (size_t m = 0; m < g->n; m++) {
            const struct kw_alert *a = &d->active[g->members[m]];
            bool first = kw_alert_has_impact(a);
            for (size_t p = 0; p < m && first; p++)
                if (kw_alert_has_impact(&d->active[g->members[p]]) && strcmp(d->active[g->members[p]].unit, a->unit) == 0)
                    first = false;
            if (!first)
                continue;
            double units = 0, cost = 0;
            for (size_t q = m; q < g->n; q++) {
                const struct kw_alert *o = &d->active[g->members[q]];
                if (!kw_alert_has_impact(o) || strcmp(o->unit, a->unit) != 0)
                    continue;
                units += o->impact;
                cost += fabs(o->impact) * o->cost_per_unit;
            }
            kw_strbuf_printf(b, " %+.0f ", units);
            html(b, a->unit[0] ? a->unit : "units");
            if (cost > 0) {
                kw_strbuf_printf(b, " (~%.0f ", cost);
                html(b, a->currency);
                kw_strbuf_puts(b, ")");
            }
            kw_strbuf_puts(b, ";");
        }
        kw_strbuf_puts(b, "</p>");
        kw_strbuf_puts(b, ALERT_HEAD);
        for (size_t m = 0; m < g->n; m++)
            alert_row(b, &d->active[g->members[m]], d->silenced_by ? d->silenced_by[g->members[m]] : NULL);
        kw_strbuf_puts(b, "</table></div></article>");
    }
    kw_strbuf_puts(b, "</section>");
}

static void series_card(struct kw_strbuf *b, const struct kw_history_entry *e, const struct kw_status_kpi *k)
{
    int kind = k ? k->kind : KW_KIND_CONTINUOUS;
    char obs[48], exp[48], lo[48], hi[48];
    const struct kw_history_point *last = e->npoints ? &e->points[e->npoints - 1] : NULL;
    kw_strbuf_printf(b, "<article class=\"card series%s\" id=\"s-%s\"><h3><a href=\"/series/%s\">", e->firing ? " firing" : "",
                     e->key, e->key);
    labels_text(b, e->labels, e->nlabels);
    kw_strbuf_puts(b, "</a>");
    if (e->firing)
        kw_strbuf_puts(b, " <span class=\"badge firing\">firing</span>");
    kw_strbuf_puts(b, "</h3>");
    if (last)
        kw_strbuf_printf(b, "<p class=\"values\">last %s · expected %s (%s–%s) · anomaly score %.2f</p>",
                         fmt_value(kind, last->observed, obs, sizeof obs), fmt_value(kind, last->expected, exp, sizeof exp),
                         fmt_value(kind, last->lower, lo, sizeof lo), fmt_value(kind, last->upper, hi, sizeof hi), e->score);
    chart(b, e, kind, CHART_W, CHART_H);
    kw_strbuf_puts(b, "</article>");
}

static void kpi_section(struct kw_strbuf *b, const struct kw_page_data *d, const struct kw_status_kpi *k)
{
    kw_strbuf_puts(b, "<section id=\"kpi-");
    kw_strbuf_url(b, k->name);
    kw_strbuf_puts(b, "\"><h2>");
    html(b, k->name);
    if (k->description[0]) {
        kw_strbuf_puts(b, " <small>");
        html(b, k->description);
        kw_strbuf_puts(b, "</small>");
    }
    kw_strbuf_puts(b, "</h2>");
    struct kw_history_entry *e = NULL;
    size_t limit = d->only_kpi ? 0 : d->per_kpi;
    size_t n = d->history ? kw_history_list(d->history, k->name, true, limit, &e) : 0;
    kw_strbuf_printf(b, "<p class=\"values\">%llu series, %llu firing, %llu pending · detector ",
                     (unsigned long long)k->series, (unsigned long long)k->alerts_firing,
                     (unsigned long long)k->alerts_pending);
    html(b, k->detector);
    kw_strbuf_printf(b, " · ranked by current anomaly score, firing first");
    if (!d->only_kpi && n == limit && k->series > n) {
        kw_strbuf_printf(b, " · showing %zu: <a href=\"/?kpi=", n);
        kw_strbuf_url(b, k->name);
        kw_strbuf_puts(b, "\">all tracked</a>");
    }
    link(b, k->runbook, "runbook");
    link(b, k->dashboard, "dashboard");
    kw_strbuf_puts(b, "</p>");
    if (n == 0)
        kw_strbuf_puts(b, "<p class=\"muted\">No series with history yet.</p>");
    else
        kw_strbuf_puts(b, "<div class=\"grid\">");
    for (size_t i = 0; i < n; i++)
        series_card(b, &e[i], k);
    if (n)
        kw_strbuf_puts(b, "</div>");
    kw_strbuf_puts(b, "</section>");
    kw_history_entries_free(e, n);
}

static void resolved(struct kw_strbuf *b, const struct kw_page_data *d)
{
    kw_strbuf_puts(b, "<section id=\"resolved\"><h2>Recently resolved</h2>");
    if (d->nresolved == 0) {
        kw_strbuf_puts(b, "<p class=\"muted\">None since the agent started.</p></section>");
        return;
    }
    kw_strbuf_puts(b, ALERT_HEAD);
    for (size_t i = 0; i < d->nresolved && i < 20; i++)
        alert_row(b, &d->resolved[i].alert, NULL);
    kw_strbuf_puts(b, "</table></div></section>");
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void silences(struct kw_strbuf *b, const struct kw_page_data *d)
{
    kw_strbuf_puts(b, "<section id=\"silences\"><h2>Silences</h2>");
    if (!d->silences) {
        kw_strbuf_puts(b, "<p class=\"muted\">No silence store.</p></section>");
        return;
    }
    int shown = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, d->silences) {
        if (strcmp(json_str(s, "status"), "expired") == 0)
            continue;
        if (!shown++)
            kw_strbuf_puts(b, "<div class=\"scroll\"><table><tr><th>id</th><th>status</th><th>matchers</th>"
                              "<th>from</th><th>until</th><th>by</th><th>comment</th></tr>");
        kw_strbuf_puts(b, "<tr><td><code>");
        html(b, json_str(s, "id"));
        kw_strbuf_puts(b, "</code></td><td>");
        html(b, json_str(s, "status"));
        kw_strbuf_puts(b, "</td><td class=\"wrap\">");
        const cJSON *m;
        int i = 0;
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(s, "matchers")) {
            if (i++)
                kw_strbuf_puts(b, ", ");
            html(b, json_str(m, "name"));
            html(b, json_str(m, "op")[0] ? json_str(m, "op") : "=");
            html(b, json_str(m, "value"));
        }
        kw_strbuf_puts(b, "</td><td>");
        html(b, json_str(s, "starts_at"));
        kw_strbuf_puts(b, "</td><td>");
        html(b, json_str(s, "ends_at"));
        kw_strbuf_puts(b, "</td><td>");
        html(b, json_str(s, "created_by"));
        kw_strbuf_puts(b, "</td><td class=\"wrap\">");
        html(b, json_str(s, "comment"));
        kw_strbuf_puts(b, "</td></tr>");
    }
    if (shown)
        kw_strbuf_puts(b, "</table></div>");
    else
        kw_strbuf_puts(b, "<p class=\"muted\">No active or pending silences.</p>");
    kw_strbuf_puts(b, "<p class=\"values\">Add one with <code>kpiwatch silence add journey=checkout --duration 2h "
                      "--comment \"...\"</code> or POST /api/v1/silences.</p></section>");
}

char *kw_page_render(const struct kw_page_data *d, size_t *len)
{
    struct kw_strbuf b;
    kw_strbuf_init(&b);
    head(&b, d->only_kpi ? d->only_kpi : "kpiwatch status");
    header(&b, d);
    if (!d->only_kpi)
        incidents(&b, d);
    legend(&b);
    bool found = false;
    for (int k = 0; k < d->view->nkpis; k++) {
        if (d->only_kpi && strcmp(d->only_kpi, d->view->kpis[k].name) != 0)
            continue;
        found = true;
        kpi_section(&b, d, &d->view->kpis[k]);
    }
    if (d->only_kpi && !found) {
        kw_strbuf_puts(&b, "<p>No KPI named <code>");
        html(&b, d->only_kpi);
        kw_strbuf_puts(&b, "</code>.</p>");
    }
    if (!d->only_kpi) {
        resolved(&b, d);
        silences(&b, d);
    }
    footer(&b, d);
    return kw_strbuf_detach(&b, len);
}

char *kw_page_render_series(const struct kw_page_data *d, const char *key, size_t *len)
{
    struct kw_history_entry e;
    if (!d->history || kw_history_get(d->history, key, &e))
        return NULL;
    const struct kw_status_kpi *k = kpi_info(d->view, e.kpi);
    int kind = k ? k->kind : KW_KIND_CONTINUOUS;
    struct kw_strbuf b;
    kw_strbuf_init(&b);
    struct kw_strbuf title;
    kw_strbuf_init(&title);
    kw_strbuf_printf(&title, "%s ", e.kpi);
    for (int i = 0; i < e.nlabels; i++)
        kw_strbuf_printf(&title, "%s%s=%s", i ? ", " : "", e.labels[i].name, e.labels[i].value);
    head(&b, title.data);
    kw_strbuf_release(&title);
    header(&b, d);
    kw_strbuf_puts(&b, "<section><h2>");
    html(&b, e.kpi);
    kw_strbuf_puts(&b, " <small>");
    labels_text(&b, e.labels, e.nlabels);
    kw_strbuf_puts(&b, "</small>");
    if (e.firing)
        kw_strbuf_puts(&b, " <span class=\"badge firing\">firing</span>");
    kw_strbuf_puts(&b, "</h2>");
    if (k && k->description[0]) {
        kw_strbuf_puts(&b, "<p class=\"values\">");
        html(&b, k->description);
        kw_strbuf_puts(&b, "</p>");
    }
    kw_strbuf_printf(&b, "<p class=\"values\">series key <code>%s</code> · anomaly score %.2f · "
                         "<a href=\"/api/v1/series?key=%s\">JSON</a>", e.key, e.score, e.key);
    if (k) {
        link(&b, k->runbook, "runbook");
        link(&b, k->dashboard, "dashboard");
    }
    kw_strbuf_puts(&b, "</p><div class=\"card\">");
    legend(&b);
    chart(&b, &e, kind, BIG_W, BIG_H);
    kw_strbuf_puts(&b, "</div><h2>Recent intervals <small>(newest first, UTC)</small></h2><div class=\"scroll\"><table>"
                       "<tr><th>interval</th><th>observed</th><th>expected</th><th>lower</th><th>upper</th>"
                       "<th>score</th><th></th></tr>");
    for (int i = e.npoints - 1; i >= 0 && i >= e.npoints - TABLE_ROWS; i--) {
        const struct kw_history_point *p = &e.points[i];
        char ts[40], o[48], x[48], lo[48], hi[48];
        kw_strbuf_printf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%.2f</td><td>%s%s</td></tr>",
                         kw_time_format(p->ts_ms, ts, sizeof ts), fmt_value(kind, p->observed, o, sizeof o),
                         fmt_value(kind, p->expected, x, sizeof x), fmt_value(kind, p->lower, lo, sizeof lo),
                         fmt_value(kind, p->upper, hi, sizeof hi), p->score,
                         p->flags & KW_HP_ANOMALOUS ? "<span class=\"badge critical\">anomalous</span> " : "",
                         p->flags & KW_HP_FIRING ? "<span class=\"badge firing\">firing</span>" : "");
    }
    kw_strbuf_puts(&b, "</table></div></section>");
    footer(&b, d);
    kw_history_entry_release(&e);
    return kw_strbuf_detach(&b, len);
}
