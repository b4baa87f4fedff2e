/* The alert engine through the real binary and real sockets: a roll-up
 * that fires is one notification listing its children, not one per step;
 * a correlation window splits a later anomaly of the same journey into an
 * incident of its own; and an open incident survives a restart, so its
 * resolve carries the key of its trigger. The receiver is a local
 * PagerDuty. */
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

static void start_agent(const char *config_fmt)
{
    char *text = NULL;
    cr_assert_geq(asprintf(&text, config_fmt, agent.endpoint, pagerduty.base_url, agent.dir), 0);
    agent_write_config(&agent, text);
    free(text);
    agent_start(&agent, "run");
}

static void push(const char *msg)
{
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(s, agent.endpoint), 0);
    cr_assert_geq(zmq_send(s, msg, strlen(msg), 0), 0);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

/* Events of one action, with their dedup keys into keys (up to 8). */
static int events(const char *action, char keys[][64], char **first_body)
{
    cJSON *reqs = fake_requests(&pagerduty), *r;
    int n = 0;
    cJSON_ArrayForEach(r, reqs) {
        const cJSON *body = cJSON_GetObjectItem(r, "json");
        const cJSON *a = cJSON_GetObjectItem(body, "event_action");
        if (!cJSON_IsString(a) || strcmp(a->valuestring, action) != 0)
            continue;
        if (keys && n < 8)
            snprintf(keys[n], 64, "%s", cJSON_GetObjectItem(body, "dedup_key")->valuestring);
        if (first_body && n == 0)
            *first_body = cJSON_PrintUnformatted(body);
        n++;
    }
    cJSON_Delete(reqs);
    return n;
}

/* %1$s endpoint, %2$s PagerDuty base URL, %3$s the agent's directory */
static const char *const ROLLUP_CONFIG =
    "{\"agent\":{\"stats_interval\":\"0\"},\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"1h\"},"
    "\"inputs\":[{\"name\":\"in\",\"endpoint\":\"%1$s\",\"socket\":\"pull\"}],"
    "\"kpis\":[{\"name\":\"step_dropoff_rate\",\"metric\":\"dropoffs\",\"denominator\":\"entries\",\"aggregation\":\"ratio\","
    "  \"lateness\":\"0s\",\"group_by\":[\"journey\",\"step\"],\"rollups\":[[\"journey\"]],"
    "  \"detector\":{\"type\":\"zscore\",\"window\":20,\"min_points\":8,\"threshold\":4},"
    "  \"alert\":{\"for\":1,\"resolve_after\":2}}],"
    "\"receivers\":[{\"name\":\"oncall\",\"type\":\"pagerduty\",\"routing_key\":\"" ROUTING_KEY "\",\"url\":\"%2$s/v2/enqueue\"}],"
    "\"route\":{\"receiver\":\"oncall\",\"group_by\":[\"journey\"],\"group_wait\":\"1m\"}}";

Test(engine, a_firing_rollup_is_one_notification_listing_its_children, .fini = fini, .timeout = 90)
{
    fake_start(&pagerduty, "pagerduty", "[]");
    agent_prepare(&agent, "{}");
    start_agent(ROLLUP_CONFIG);
    int64_t start = ((int64_t)time(NULL) / IV - 40) * IV;
    const char *steps[] = {"cart", "address", "payment"};
    for (int i = 0; i < 30; i++) {
        char msg[2048];
        int n = snprintf(msg, sizeof msg, "[");
        for (int s = 0; s < 3; s++) {
            int drop = 10 + (i * 7 + s * 3) % 3;
            if (i == 20 || i == 21)
                drop += s == 2 ? 60 : s == 1 ? 25 : 0;
            n += snprintf(msg + n, sizeof msg - (size_t)n,
                          "%s{\"metric\":\"entries\",\"labels\":{\"journey\":\"checkout\",\"step\":\"%s\"},\"value\":100,\"ts\":%lld}"
                          ",{\"metric\":\"dropoffs\",\"labels\":{\"journey\":\"checkout\",\"step\":\"%s\"},\"value\":%d,\"ts\":%lld}",
                          s ? "," : "", steps[s], (long long)(start + i * IV + 5), steps[s], drop,
                          (long long)(start + i * IV + 5));
        }
        snprintf(msg + n, sizeof msg - (size_t)n, "]");
        push(msg);
    }
    for (int i = 0; i < 200 && events("resolve", NULL, NULL) == 0; i++)
        sleep_ms(100);
    char *body = NULL;
    cr_assert_eq(events("trigger", NULL, &body), 1, "one trigger for the outage: %s", read_file(agent.err_path));
    cr_assert_eq(events("resolve", NULL, NULL), 1);
    /* the roll-up is the one member; its children are listed as contributors */
    cr_assert(strstr(body, "\"alerts\":1"), "%s", body);
    cr_assert(strstr(body, "step_dropoff_rate:journey"), "%s", body);
    cr_assert(strstr(body, "top contributors: journey=checkout, step=payment"), "%s", body);
    cr_assert(strstr(body, "step=address"), "%s", body);
    free(body);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 20000), 0);
}

/* %1$s endpoint, %2$s PagerDuty base URL, %3$s the agent's directory */
static const char *const WINDOW_CONFIG =
    "{\"agent\":{\"stats_interval\":\"0\",\"state_dir\":\"%3$s\"},\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"1h\"},"
    "\"inputs\":[{\"name\":\"in\",\"endpoint\":\"%1$s\",\"socket\":\"pull\"}],"
    "\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"lateness\":\"0s\",\"group_by\":[\"journey\",\"channel\"],"
    "  \"detector\":{\"type\":\"threshold\",\"high\":50},\"alert\":{\"for\":1,\"resolve_after\":1}}],"
    "\"receivers\":[{\"name\":\"oncall\",\"type\":\"pagerduty\",\"routing_key\":\"" ROUTING_KEY "\",\"url\":\"%2$s/v2/enqueue\"}],"
    "\"route\":{\"receiver\":\"oncall\",\"group_by\":[\"journey\"],\"group_wait\":\"0s\",\"group_interval\":\"1m\","
    "  \"correlation_window\":\"10m\"}}";

/* web fires from interval 4 to 10, app 5 and 6 (within the window of web:
 * the same incident), email 9 and 10 (25 minutes after web started: an
 * incident of its own). */
static void send_checkout(int64_t start, int from, int to)
{
    for (int i = from; i <= to; i++) {
        char msg[1024];
        int64_t t = start + (int64_t)i * IV + 5;
        snprintf(msg, sizeof msg,
                 "[{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\",\"channel\":\"web\"},\"value\":%d,\"ts\":%lld},"
                 "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\",\"channel\":\"app\"},\"value\":%d,\"ts\":%lld},"
                 "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\",\"channel\":\"email\"},\"value\":%d,\"ts\":%lld}]",
                 i >= 4 && i <= 10 ? 90 : 5, (long long)t, i >= 5 && i <= 6 ? 90 : 5, (long long)t,
                 i >= 9 && i <= 10 ? 90 : 5, (long long)t);
        push(msg);
    }
}

Test(engine, correlation_window_and_restart_keep_incidents_apart_and_whole, .fini = fini, .timeout = 120)
{
    fake_start(&pagerduty, "pagerduty", "[]");
    agent_prepare(&agent, "{}");
    start_agent(WINDOW_CONFIG);
    int64_t start = ((int64_t)time(NULL) / IV - 40) * IV;
    send_checkout(start, 0, 6);
    for (int i = 0; i < 150 && events("trigger", NULL, NULL) == 0; i++)
        sleep_ms(100);
    char first[8][64];
    cr_assert_geq(events("trigger", first, NULL), 1, "%s", read_file(agent.err_path));
    cr_assert_eq(agent_stop(&agent, SIGTERM, 20000), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/incidents.json", agent.dir);
    char *saved = read_file(path);
    cr_assert(strstr(saved, first[0]), "the open incident is kept: %s", saved);
    free(saved);

    /* restarted: app resolves while web still fires; email opens a second incident */
    agent_start(&agent, "run");
    send_checkout(start, 7, 14);
    for (int i = 0; i < 200 && events("resolve", NULL, NULL) < 2; i++)
        sleep_ms(100);
    char triggers[8][64], resolves[8][64];
    int nt = events("trigger", triggers, NULL), nr = events("resolve", resolves, NULL);
    cr_assert_eq(nr, 2, "two incidents, two resolves: %s", read_file(agent.err_path));
    int first_resolved = 0, other = -1;
    for (int i = 0; i < nr; i++) {
        if (strcmp(resolves[i], first[0]) == 0)
            first_resolved++;
        else
            other = i;
    }
    cr_assert_eq(first_resolved, 1, "the first incident resolves under its trigger's key");
    cr_assert_geq(other, 0);
    bool triggered = false;
    for (int i = 0; i < nt; i++)
        triggered |= strcmp(triggers[i], resolves[other]) == 0;
    cr_assert(triggered, "the second incident was triggered under its own key");
    cr_assert_eq(agent_stop(&agent, SIGTERM, 20000), 0);
}

/* %1$s endpoint, %2$s PagerDuty base URL, %3$s the agent's directory, %4$d the HTTP port */
static const char *const SILENCE_CONFIG =
    "{\"agent\":{\"stats_interval\":\"0\",\"state_dir\":\"%3$s/state\"},\"ingest\":{\"max_past\":\"30d\",\"max_future\":\"1h\"},"
    "\"http\":{\"listen\":\"127.0.0.1\",\"port\":%4$d},"
    "\"inputs\":[{\"name\":\"in\",\"endpoint\":\"%1$s\",\"socket\":\"pull\"}],"
    "\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"lateness\":\"0s\",\"group_by\":[\"journey\"],"
    "  \"detector\":{\"type\":\"threshold\",\"high\":50},\"alert\":{\"for\":1,\"resolve_after\":1}}],"
    "\"receivers\":[{\"name\":\"oncall\",\"type\":\"pagerduty\",\"routing_key\":\"" ROUTING_KEY "\",\"url\":\"%2$s/v2/enqueue\"}],"
    "\"route\":{\"receiver\":\"oncall\",\"group_wait\":\"0s\",\"group_interval\":\"1m\",\"repeat_interval\":\"15m\"}}";

static void send_complaints(int64_t start, int from, int to, int fire_from, int fire_to)
{
    for (int i = from; i <= to; i++) {
        char msg[256];
        snprintf(msg, sizeof msg, "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":%d,\"ts\":%lld}",
                 i >= fire_from && i <= fire_to ? 90 : 5, (long long)(start + (int64_t)i * IV + 5));
        push(msg);
    }
}

Test(engine, a_silence_added_from_the_command_line_holds_back_the_next_repeat, .fini = fini, .timeout = 120)
{
    fake_start(&pagerduty, "pagerduty", "[]");
    agent_prepare(&agent, "{}");
    char http_ep[64];
    harness_free_endpoint(http_ep, sizeof http_ep);
    int port = atoi(strrchr(http_ep, ':') + 1);
    char *text = NULL;
    cr_assert_geq(asprintf(&text, SILENCE_CONFIG, agent.endpoint, pagerduty.base_url, agent.dir, port), 0);
    agent_write_config(&agent, text);
    free(text);
    agent_start(&agent, "run");
    int64_t start = ((int64_t)time(NULL) / IV - 40) * IV;
    send_complaints(start, 0, 8, 3, 20);
    for (int i = 0; i < 150 && events("trigger", NULL, NULL) < 2; i++)
        sleep_ms(100);
    int before = events("trigger", NULL, NULL);
    cr_assert_geq(before, 2, "no repeat while firing: %s", read_file(agent.err_path));

    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "%s silence add -c %s journey=checkout --duration 2h --author it --comment outage 2>&1",
             harness_binary(), agent.config);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "no agent answers") == NULL, "the running agent did not take it: %s", out);
    free(out);

    send_complaints(start, 9, 17, 3, 20); /* three more repeat intervals, silenced */
    sleep_ms(1500);
    cr_assert_eq(events("trigger", NULL, NULL), before, "a silenced repeat was sent");
    send_complaints(start, 18, 26, 3, 20); /* it ends: the resolve still closes the incident */
    for (int i = 0; i < 150 && events("resolve", NULL, NULL) == 0; i++)
        sleep_ms(100);
    cr_assert_eq(events("resolve", NULL, NULL), 1, "%s", read_file(agent.err_path));
    cr_assert_eq(events("trigger", NULL, NULL), before);
    cr_assert_eq(agent_stop(&agent, SIGTERM, 20000), 0);
}
