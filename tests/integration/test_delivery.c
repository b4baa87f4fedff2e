/* Delivery through the real binary, over real ZeroMQ and real HTTP to local
 * services: a hanging Slack delays neither PagerDuty nor ingestion, and a
 * notification that was being retried when the agent was killed with
 * SIGKILL is delivered after the restart with the same dedup key. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "../delivery/fake.h"
#include "harness.h"

#define INTERVAL_S 300
#define ROUTING_KEY "0123456789abcdef0123456789abcdef"

static struct agent_proc agent;
static struct fake_service slack, pagerduty;

static void fini(void)
{
    agent_cleanup(&agent);
    fake_stop(&slack);
    fake_stop(&pagerduty);
}

/* %1$s endpoint, %2$s dir, %3$s Slack base URL, %4$s PagerDuty base URL. */
static const char *const CONFIG =
    "{\"agent\":{\"stats_interval\":\"0\",\"state_dir\":\"%2$s/state\"},"
    "\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"1h\"},"
    "\"inputs\":[{\"name\":\"in\",\"endpoint\":\"%1$s\",\"socket\":\"pull\"}],"
    "\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],"
    "\"unit\":\"complaints\",\"detector\":{\"type\":\"threshold\",\"high\":50},\"alert\":{\"for\":1,\"resolve_after\":1}}],"
    "\"receivers\":[{\"name\":\"cx\",\"type\":\"slack\",\"webhook_url\":\"%3$s/services/T0/B0/x\"},"
    "{\"name\":\"oncall\",\"type\":\"pagerduty\",\"routing_key\":\"" ROUTING_KEY "\",\"url\":\"%4$s/v2/enqueue\"}],"
    "\"route\":{\"receiver\":\"oncall\",\"routes\":[{\"match\":{},\"receiver\":\"cx\",\"continue\":true},"
    "{\"match\":{},\"receiver\":\"oncall\"}]},"
    "\"delivery\":{\"timeout\":\"60s\",\"backoff_initial\":\"200ms\",\"backoff_max\":\"1s\"}}";

static void start_agent(void)
{
    agent_prepare(&agent, "{}");
    char *text = NULL;
    cr_assert_geq(asprintf(&text, CONFIG, agent.endpoint, agent.dir, slack.base_url, pagerduty.base_url), 0);
    agent_write_config(&agent, text);
    free(text);
    agent_start(&agent, "run");
    cr_assert(agent_alive(&agent), "%s", read_file(agent.err_path));
}

/* One over-threshold interval for journey at interval index i, then a
 * point of the same KPI that closes it. */
static void send_incident(const char *journey, int64_t start, int i)
{
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(s, agent.endpoint), 0);
    char msg[512];
    snprintf(msg, sizeof msg,
             "[{\"metric\":\"complaints\",\"labels\":{\"journey\":\"%s\"},\"value\":99,\"ts\":%lld},"
             "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"clock\"},\"value\":0,\"ts\":%lld}]",
             journey, (long long)(start + (int64_t)i * INTERVAL_S + 5), (long long)(start + (int64_t)(i + 2) * INTERVAL_S));
    cr_assert_geq(zmq_send(s, msg, strlen(msg), 0), 0);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

/* Requests to the PagerDuty fake whose dedup_key and event_action match. */
static int count_events(const char *action, const char *dedup_key)
{
    cJSON *reqs = fake_requests(&pagerduty), *r;
    int n = 0;
    cJSON_ArrayForEach(r, reqs) {
        const cJSON *body = cJSON_GetObjectItem(r, "json");
        const cJSON *a = cJSON_GetObjectItem(body, "event_action"), *k = cJSON_GetObjectItem(body, "dedup_key");
        if (cJSON_IsString(a) && strcmp(a->valuestring, action) == 0 &&
            (!dedup_key || (cJSON_IsString(k) && strcmp(k->valuestring, dedup_key) == 0)))
            n++;
    }
    cJSON_Delete(reqs);
    return n;
}

static int64_t aligned_start(int back)
{
    return ((int64_t)time(NULL) / INTERVAL_S - back) * INTERVAL_S;
}

Test(delivery, hanging_slack_delays_neither_pagerduty_nor_ingestion, .fini = fini, .timeout = 90)
{
    fake_start(&slack, "slack", "[{\"delay\":60},{\"delay\":60},{\"delay\":60},{\"delay\":60},{\"delay\":60}]");
    fake_start(&pagerduty, "pagerduty", "[]");
    start_agent();
    int64_t start = aligned_start(50);
    send_incident("checkout", start, 0);
    cr_assert_geq(fake_wait_requests(&pagerduty, 1, 10000), 1, "PagerDuty waited for Slack: %s", read_file(agent.err_path));
    cr_assert_geq(fake_wait_requests(&slack, 1, 5000), 1, "Slack was never tried");
    /* Slack still hangs; a later incident is still detected and paged. */
    send_incident("claims", start, 10);
    for (int i = 0; i < 100 && count_events("trigger", NULL) < 2; i++)
        sleep_ms(100);
    cr_assert_eq(count_events("trigger", NULL), 2, "the second incident was not paged while Slack hung: %s",
                 read_file(agent.err_path));
    cJSON *reqs = fake_requests(&pagerduty), *r;
    cJSON_ArrayForEach(r, reqs)
        cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "problems")), 0, "PagerDuty would reject: %s",
                     cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "problems")));
    cJSON_Delete(reqs);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 20000), 0, "%s", read_file(agent.err_path));
}

Test(delivery, a_retried_notification_survives_kill_9, .fini = fini, .timeout = 90)
{
    /* Slack is fine; PagerDuty answers 503 until it is fixed */
    fake_start(&slack, "slack", "[]");
    char script[4096] = "[";
    for (int i = 0; i < 60; i++)
        strcat(script, i ? ",{\"status\":503}" : "{\"status\":503}");
    strcat(script, "]");
    fake_start(&pagerduty, "pagerduty", script);
    start_agent();
    send_incident("checkout", aligned_start(50), 0);
    cr_assert_geq(fake_wait_requests(&pagerduty, 2, 15000), 2, "not retried: %s", read_file(agent.err_path));
    cJSON *reqs = fake_requests(&pagerduty);
    const cJSON *first = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0), "json");
    char key[128];
    snprintf(key, sizeof key, "%s", cJSON_GetObjectItem(first, "dedup_key")->valuestring);
    cJSON_Delete(reqs);
    cr_assert(wait_for_text(agent.err_path, "HTTP 503", 1, 5000), "%s", read_file(agent.err_path));

    kill(agent.pid, SIGKILL);
    agent_stop(&agent, SIGKILL, 5000);
    fake_script(&pagerduty, "[]"); /* the service is back */
    int before = count_events("trigger", key);
    agent_start(&agent, "run");
    for (int i = 0; i < 150 && count_events("trigger", key) == before; i++)
        sleep_ms(100);
    cr_assert_gt(count_events("trigger", key), before, "the spooled trigger was not sent after the restart: %s",
                 read_file(agent.err_path));
    cr_assert(wait_for_text(agent.err_path, "restored 1 undelivered notification", 1, 100) ||
                  wait_for_text(agent.err_path, "restored", 1, 100),
              "%s", read_file(agent.err_path));
    cr_assert_eq(agent_stop(&agent, SIGTERM, 20000), 0);
}

/* kpiwatch test-notify sends a sample group and its resolve through one
 * receiver and reports what the service answered. */
Test(delivery, test_notify_reports_the_service_answer, .fini = fini, .timeout = 60)
{
    fake_start(&slack, "slack", "[]");
    fake_start(&pagerduty, "pagerduty", "[{\"status\":400,\"body\":{\"status\":\"invalid event\",\"errors\":[\"bad\"]}}]");
    agent_prepare(&agent, "{}");
    char *text = NULL;
    cr_assert_geq(asprintf(&text, CONFIG, agent.endpoint, agent.dir, slack.base_url, pagerduty.base_url), 0);
    agent_write_config(&agent, text);
    free(text);
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "%s test-notify -c %s cx 2>&1", harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "slack/cx firing: ok") && strstr(out, "slack/cx resolve: ok"), "%s", out);
    free(out);
    cJSON *reqs = fake_requests(&slack), *r;
    cr_assert_eq(cJSON_GetArraySize(reqs), 2, "a firing and a resolve");
    cJSON_ArrayForEach(r, reqs)
        cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "problems")), 0);
    cJSON_Delete(reqs);
    snprintf(cmd, sizeof cmd, "%s test-notify -c %s oncall 2>&1", harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 1, "%s", out);
    cr_assert(strstr(out, "pagerduty/oncall firing: failed") && strstr(out, "400"), "%s", out);
    free(out);
}
