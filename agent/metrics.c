/* metrics: Prometheus text exposition of a status view. */
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../lib/strbuf.h"
#include "point.h"

static void family(struct kw_strbuf *b, const char *name, const char *type, const char *help)
{
    kw_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u(struct kw_strbuf *b, const char *name, uint64_t v)
{
    kw_strbuf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void sample_d(struct kw_strbuf *b, const char *name, double v)
{
    kw_strbuf_printf(b, "%s %.17g\n", name, v);
}

/* name{l1="v1"[,l2="v2"]} value */
static void labelled(struct kw_strbuf *b, const char *name, const char *l1, const char *v1, const char *l2,
                     const char *v2, uint64_t v)
{
    kw_strbuf_printf(b, "%s{%s=\"", name, l1);
    kw_strbuf_prom_label(b, v1);
    if (l2) {
        kw_strbuf_printf(b, "\",%s=\"", l2);
        kw_strbuf_prom_label(b, v2);
    }
    kw_strbuf_printf(b, "\"} %" PRIu64 "\n", v);
}

static void per_kpi(struct kw_strbuf *b, const struct kw_status_view *v, const char *name, const char *type,
                    const char *help, size_t offset)
{
    family(b, name, type, help);
    for (int k = 0; k < v->nkpis; k++)
        labelled(b, name, "kpi", v->kpis[k].name, NULL, NULL,
                 *(const uint64_t *)((const char *)&v->kpis[k] + offset));
}

static void per_receiver(struct kw_strbuf *b, const struct kw_status_view *v, const char *name, const char *type,
                         const char *help, size_t offset)
{
    family(b, name, type, help);
    for (int r = 0; r < v->nreceivers; r++)
        labelled(b, name, "receiver", v->receivers[r].name, "type", v->receivers[r].type,
                 *(const uint64_t *)((const char *)&v->receivers[r].stats + offset));
}

char *kw_metrics_render(const struct kw_status_view *v, const struct kw_metrics_extra *x, size_t *len)
{
    struct kw_strbuf b;
    kw_strbuf_init(&b);

    family(&b, "kpiwatch_build_info", "gauge", "Build of the running agent (always 1).");
    kw_strbuf_printf(&b, "kpiwatch_build_info{version=\"%s\"} 1\n", KW_VERSION);
    family(&b, "kpiwatch_start_time_seconds", "gauge", "When the agent started, in seconds since the epoch.");
    sample_d(&b, "kpiwatch_start_time_seconds", (double)v->started_ms / 1000.0);
    family(&b, "kpiwatch_ready", "gauge", "1 when the inputs are bound, the config is loaded and the state is restored.");
    sample_u(&b, "kpiwatch_ready", v->ready == KW_READY_ALL ? 1 : 0);

    /* ingest */
    family(&b, "kpiwatch_messages_total", "counter", "Messages received on the inputs.");
    sample_u(&b, "kpiwatch_messages_total", v->ingest.messages);
    family(&b, "kpiwatch_points_accepted_total", "counter", "Points that passed validation and reached a KPI.");
    sample_u(&b, "kpiwatch_points_accepted_total", v->ingest.points_accepted);
    family(&b, "kpiwatch_points_rejected_total", "counter", "Points or messages rejected, by reason.");
    for (int r = 0; r < KW_REJ_COUNT; r++)
        labelled(&b, "kpiwatch_points_rejected_total", "reason", kw_reject_name((enum kw_reject)r), NULL, NULL,
                 v->ingest.rejected[r]);
    family(&b, "kpiwatch_points_unwatched_total", "counter", "Valid points whose metric no KPI uses.");
    sample_u(&b, "kpiwatch_points_unwatched_total", v->pipeline.points_unwatched);

    /* series and intervals */
    per_kpi(&b, v, "kpiwatch_series", "gauge", "Series tracked now, per KPI.", offsetof(struct kw_status_kpi, series));
    per_kpi(&b, v, "kpiwatch_series_refused_total", "counter", "New series refused by a series limit, per KPI.",
            offsetof(struct kw_status_kpi, series_refused));
    family(&b, "kpiwatch_series_created_total", "counter", "Series created.");
    sample_u(&b, "kpiwatch_series_created_total", v->pipeline.series_created);
    family(&b, "kpiwatch_series_expired_total", "counter", "Series dropped after series_ttl without points.");
    sample_u(&b, "kpiwatch_series_expired_total", v->pipeline.series_expired);
    per_kpi(&b, v, "kpiwatch_intervals_closed_total", "counter", "Intervals closed and judged, per KPI.",
            offsetof(struct kw_status_kpi, intervals));
    family(&b, "kpiwatch_intervals_skipped_total", "counter", "Intervals jumped over without a verdict (a gap longer than a walk may take).");
    sample_u(&b, "kpiwatch_intervals_skipped_total", v->pipeline.intervals_skipped);
    family(&b, "kpiwatch_intervals_gap_total", "counter", "Empty intervals closed as missing after a restore.");
    sample_u(&b, "kpiwatch_intervals_gap_total", v->pipeline.intervals_gap);
    family(&b, "kpiwatch_verdicts_total", "counter",
           "Detector verdicts per KPI: normal, anomalous, or none (warming up or no data).");
    for (int k = 0; k < v->nkpis; k++) {
        labelled(&b, "kpiwatch_verdicts_total", "kpi", v->kpis[k].name, "outcome", "normal", v->kpis[k].verdicts_normal);
        labelled(&b, "kpiwatch_verdicts_total", "kpi", v->kpis[k].name, "outcome", "anomalous",
                 v->kpis[k].verdicts_anomalous);
        labelled(&b, "kpiwatch_verdicts_total", "kpi", v->kpis[k].name, "outcome", "none", v->kpis[k].verdicts_warming);
    }

    /* alerts */
    family(&b, "kpiwatch_alerts", "gauge", "Series per alert state (ok, pending, firing), per KPI.");
    for (int k = 0; k < v->nkpis; k++) {
        labelled(&b, "kpiwatch_alerts", "kpi", v->kpis[k].name, "state", "ok", v->kpis[k].alerts_ok);
        labelled(&b, "kpiwatch_alerts", "kpi", v->kpis[k].name, "state", "pending", v->kpis[k].alerts_pending);
        labelled(&b, "kpiwatch_alerts", "kpi", v->kpis[k].name, "state", "firing", v->kpis[k].alerts_firing);
    }
    family(&b, "kpiwatch_alert_transitions_total", "counter", "Alert notifications raised by the alert state machine.");
    labelled(&b, "kpiwatch_alert_transitions_total", "transition", "firing", NULL, NULL, v->pipeline.alerts_fired);
    labelled(&b, "kpiwatch_alert_transitions_total", "transition", "repeat", NULL, NULL, v->pipeline.alerts_repeated);
    labelled(&b, "kpiwatch_alert_transitions_total", "transition", "resolved", NULL, NULL, v->pipeline.alerts_resolved);
    family(&b, "kpiwatch_ingest_queue_bytes", "gauge",
           "Parsed points waiting between the receive thread and aggregation, in bytes.");
    sample_u(&b, "kpiwatch_ingest_queue_bytes", (uint64_t)v->ingest_queue_bytes);
    family(&b, "kpiwatch_ingest_queue_limit_bytes", "gauge",
           "Bound on that queue (ingest.queue_bytes); 0 when points are parsed on the main thread.");
    sample_u(&b, "kpiwatch_ingest_queue_limit_bytes", (uint64_t)v->ingest_queue_limit);
    family(&b, "kpiwatch_alert_queue_full_waits_total", "counter",
           "Times detection waited for room in the alert queue.");
    sample_u(&b, "kpiwatch_alert_queue_full_waits_total", v->queue_full_waits);
    family(&b, "kpiwatch_notifications_muted_total", "counter",
           "Group notifications not sent because their route was muted by its time intervals.");
    sample_u(&b, "kpiwatch_notifications_muted_total", v->outbox_muted);
    if (cJSON_IsObject(x->feedback_counts)) {
        family(&b, "kpiwatch_feedback_total", "counter",
               "Verdicts people gave on alerts (kpiwatch feedback, POST /api/v1/alerts/KEY/feedback), per detector.");
        const cJSON *det, *n;
        cJSON_ArrayForEach(det, x->feedback_counts) {
            if (!cJSON_IsObject(det))
                continue; /* the record is a file: trust nothing in it */
            cJSON_ArrayForEach(n, det) {
                if (cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble < 1e18)
                    labelled(&b, "kpiwatch_feedback_total", "detector", det->string, "verdict", n->string,
                             (uint64_t)n->valuedouble);
            }
        }
    }
    if (x->silences_known) {
        family(&b, "kpiwatch_silences", "gauge", "Silences that are active now or pending (start in the future).");
        labelled(&b, "kpiwatch_silences", "state", "active", NULL, NULL, x->silences_active);
        labelled(&b, "kpiwatch_silences", "state", "pending", NULL, NULL, x->silences_pending);
    }

    /* delivery */
    family(&b, "kpiwatch_receiver_enabled", "gauge",
           "1 when the receiver is on, 0 when its \"enabled\" turned it off (check-config and the log say why).");
    for (int r = 0; r < v->nreceivers; r++)
        labelled(&b, "kpiwatch_receiver_enabled", "receiver", v->receivers[r].name, "type", v->receivers[r].type,
                 v->receivers[r].enabled ? 1 : 0);
    per_receiver(&b, v, "kpiwatch_notifications_queued_total", "counter",
                 "Notifications handed to delivery, per receiver (including those restored from the spool).",
                 offsetof(struct kw_receiver_stats, queued));
    per_receiver(&b, v, "kpiwatch_notifications_sent_total", "counter",
                 "Notifications the service acknowledged, per receiver.", offsetof(struct kw_receiver_stats, sent));
    per_receiver(&b, v, "kpiwatch_notifications_retried_total", "counter",
                 "Delivery attempts that will be retried, per receiver.", offsetof(struct kw_receiver_stats, retried));
    per_receiver(&b, v, "kpiwatch_notifications_failed_total", "counter",
                 "Notifications given up (permanent failure or too old), per receiver.",
                 offsetof(struct kw_receiver_stats, failed));
    per_receiver(&b, v, "kpiwatch_notifications_dropped_total", "counter",
                 "Repeat notifications dropped because the queue was full, per receiver.",
                 offsetof(struct kw_receiver_stats, dropped));
    per_receiver(&b, v, "kpiwatch_notification_queue_depth", "gauge",
                 "Notifications waiting or in flight, per receiver (each is also in the spool when a state_dir is set).",
                 offsetof(struct kw_receiver_stats, depth));
    family(&b, "kpiwatch_notification_oldest_age_seconds", "gauge",
           "Age of the oldest notification held for a receiver; 0 when none.");
    for (int r = 0; r < v->nreceivers; r++) {
        kw_strbuf_puts(&b, "kpiwatch_notification_oldest_age_seconds{receiver=\"");
        kw_strbuf_prom_label(&b, v->receivers[r].name);
        kw_strbuf_printf(&b, "\"} %.3f\n", (double)v->receivers[r].stats.oldest_ms / 1000.0);
    }
    uint64_t spooled = 0;
    for (int r = 0; r < v->nreceivers; r++)
        spooled += v->receivers[r].stats.depth;
    family(&b, "kpiwatch_spool_notifications", "gauge",
           "Notifications held in the on-disk spool (0 without a state_dir).");
    sample_u(&b, "kpiwatch_spool_notifications", v->persistent ? spooled : 0);

    /* state and config */
    if (v->state_saved_ms > 0) {
        family(&b, "kpiwatch_state_snapshot_age_seconds", "gauge", "Seconds since the state file was last written.");
        sample_d(&b, "kpiwatch_state_snapshot_age_seconds",
                 v->now_ms > v->state_saved_ms ? (double)(v->now_ms - v->state_saved_ms) / 1000.0 : 0);
    }
    family(&b, "kpiwatch_config_reloads_total", "counter", "Config reloads (SIGHUP), by result.");
    labelled(&b, "kpiwatch_config_reloads_total", "result", "success", NULL, NULL, v->reloads);
    labelled(&b, "kpiwatch_config_reloads_total", "result", "failure", NULL, NULL, v->reload_failures);
    family(&b, "kpiwatch_config_last_reload_successful", "gauge",
           "1 when the last reload applied its config (also before any reload), 0 when it was refused.");
    sample_u(&b, "kpiwatch_config_last_reload_successful", v->last_reload_ms == 0 || v->last_reload_ok ? 1 : 0);
    family(&b, "kpiwatch_config_last_reload_timestamp_seconds", "gauge",
           "When the last reload was tried (the start time before any reload).");
    sample_d(&b, "kpiwatch_config_last_reload_timestamp_seconds",
             (double)(v->last_reload_ms ? v->last_reload_ms : v->started_ms) / 1000.0);

    /* the status page's own store */
    family(&b, "kpiwatch_history_series", "gauge", "Series whose recent history the status page keeps.");
    sample_u(&b, "kpiwatch_history_series", x->history_series);
    family(&b, "kpiwatch_history_bytes", "gauge", "Memory the status page's history takes.");
    sample_u(&b, "kpiwatch_history_bytes", x->history_bytes);
    if (x->kafka)
        kw_strbuf_puts(&b, x->kafka);
    return kw_strbuf_detach(&b, len);
}
