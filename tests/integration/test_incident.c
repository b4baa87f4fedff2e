/* Incidents through the real binary: one payment outage moves drop-offs at
 * three checkout steps and complaints on two journeys; with the route
 * grouping them, the on-call receiver (a local PagerDuty) gets one trigger
 * listing the five members and one resolve with the same dedup key, not ten
 * messages. `kpiwatch routes test` names the receiver that got them. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "../delivery/fake.h"
#include "harness.h"

#define IV 300
#define ROUTING_KEY "0123456789abcdef0123456789abcdef"

static struct agent_proc agent;
static struct fake_service pagerduty;

static void fini(void)
{
    agent_cleanup(&agent);
    fake_stop(&pagerduty);
}

/* %1$s endpoint, %2$s PagerDuty base URL */
static const char *const CONFIG =
    "{\"agent\":{\"stats_interval\":\"0\"},\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"1h\"},"
    "\"inputs\":[{\"name\":\"in\",\"endpoint\":\"%1$s\",\"socket\":\"pull\"}],"
    "\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],"
    "  \"detector\":{\"type\":\"threshold\",\"high\":50},\"alert\":{\"for\":1,\"resolve_after\":1}},"
    " {\"name\":\"step_dropoff_rate\",\"metric\":\"dropoffs\",\"denominator\":\"entries\",\"aggregation\":\"ratio\","
    "  \"lateness\":\"0s\",\"group_by\":[\"journey\",\"step\"],\"detector\":{\"type\":\"threshold\",\"high\":0.5},"
    "  \"alert\":{\"for\":1,\"resolve_after\":1}}],"
    "\"receivers\":[{\"name\":\"console\",\"type\":\"console\",\"format\":\"json\"},"
    "  {\"name\":\"oncall\",\"type\":\"pagerduty\",\"routing_key\":\"" ROUTING_KEY "\",\"url\":\"%2$s/v2/enqueue\"}],"
    "\"route\":{\"receiver\":\"console\",\"routes\":["
    "  {\"matchers\":[\"kpi=~complaints|step_dropoff_rate\"],\"receiver\":\"oncall\",\"group_by\":[],\"group_wait\":\"1m\"}]}}";

static void send_interval(void *s, int64_t t, bool outage)
{
    char msg[2048];
    const char *steps[] = {"cart", "address", "payment"};
    int n = snprintf(msg, sizeof msg, "[{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":%d,\"ts\":%lld},"
                                      "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"claims\"},\"value\":%d,\"ts\":%lld}",
                     outage ? 90 : 5, (long long)t, outage ? 70 : 4, (long long)t);
    for (int i = 0; i < 3; i++)
        n += snprintf(msg + n, sizeof msg - (size_t)n,
                      ",{\"metric\":\"entries\",\"labels\":{\"journey\":\"checkout\",\"step\":\"%s\"},\"value\":100,\"ts\":%lld}"
                      ",{\"metric\":\"dropoffs\",\"labels\":{\"journey\":\"checkout\",\"step\":\"%s\"},\"value\":%d,\"ts\":%lld}",
                      steps[i], (long long)t, steps[i], outage ? 80 : 10, (long long)t);
    snprintf(msg + n, sizeof msg - (size_t)n, "]");
    cr_assert_geq(zmq_send(s, msg, strlen(msg), 0), 0);
}

static int count_action(const char *action, char *key, size_t keylen)
{
    cJSON *reqs = fake_requests(&pagerduty), *r;
    int n = 0;
    cJSON_ArrayForEach(r, reqs) {
        const cJSON *body = cJSON_GetObjectItem(r, "json");
        const cJSON *a = cJSON_GetObjectItem(body, "event_action");
        if (cJSON_IsString(a) && strcmp(a->valuestring, action) == 0) {
            n++;
            if (key)
                snprintf(key, keylen, "%s", cJSON_GetObjectItem(body, "dedup_key")->valuestring);
        }
    }
    cJSON_Delete(reqs);
    return n;
}

Test(incident, one_outage_is_one_trigger_and_one_resolve, .fini = fini, .timeout = 90)
{
    fake_start(&pagerduty, "pagerduty", "[]");
    agent_prepare(&agent, "{}");
    char *text = NULL;
    cr_assert_geq(asprintf(&text, CONFIG, agent.endpoint, pagerduty.base_url), 0);
    agent_write_config(&agent, text);
    free(text);
    agent_start(&agent, "run");

    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(s, agent.endpoint), 0);
    int64_t start = ((int64_t)time(NULL) / IV - 40) * IV;
    for (int i = 0; i < 12; i++)
        send_interval(s, start + (int64_t)i * IV + 5, i == 4 || i == 5);
    zmq_close(s);
    zmq_ctx_term(ctx);

    for (int i = 0; i < 150 && count_action("resolve", NULL, 0) == 0; i++)
        sleep_ms(100);
    char trigger_key[128] = "", resolve_key[128] = "";
    cr_assert_eq(count_action("trigger", trigger_key, sizeof trigger_key), 1, "%s", read_file(agent.err_path));
    cr_assert_eq(count_action("resolve", resolve_key, sizeof resolve_key), 1, "%s", read_file(agent.err_path));
    cr_assert_str_eq(trigger_key, resolve_key, "the resolve closes the same incident");
    /* the one trigger lists all five members */
    cJSON *reqs = fake_requests(&pagerduty);
    const cJSON *first = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, 0), "json");
    char *body = cJSON_PrintUnformatted(first);
    cr_assert(strstr(body, "\"alerts\":5") && strstr(body, "step=cart") && strstr(body, "step=address") &&
                  strstr(body, "step=payment") && strstr(body, "journey=claims"),
              "members missing: %s", body);
    free(body);
    cJSON_Delete(reqs);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 20000), 0);

    /* routes test agrees with what was delivered */
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "%s routes test -c %s kpi=step_dropoff_rate journey=checkout step=payment 2>&1",
             harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strncmp(out, "oncall  via route.routes[0]  group_by []", 40) == 0, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s routes test -c %s kpi=nps journey=checkout 2>&1", harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strncmp(out, "console  via route  group_by [journey]", 38) == 0, "%s", out);
    free(out);
}
