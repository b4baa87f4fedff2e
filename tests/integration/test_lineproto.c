/* Integration tests: the real binary with an influx-format input on a real
 * ZeroMQ socket counts the points of good lines and the reasons of bad
 * ones, and `kpiwatch send --format influx` batches stdin lines into it. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "harness.h"

/* %1$s is the endpoint the agent binds. Age checks are off: the lines carry
 * fixed 2023 timestamps in seconds. */
static const char *const CONFIG_INFLUX =
    "{\"agent\":{\"stats_interval\":\"0\"},\"ingest\":{\"max_past\":\"0\",\"max_future\":\"0\"},"
    "\"inputs\":[{\"name\":\"lines\",\"endpoint\":\"%1$s\",\"socket\":\"pull\",\"format\":\"influx\","
    "\"precision\":\"s\"}],"
    "\"kpis\":[{\"name\":\"complaints\",\"metric\":\"complaints\",\"group_by\":[\"journey\"]},"
    "{\"name\":\"latency\",\"metric\":\"checkout_latency\",\"aggregation\":\"mean\"}]}";

static struct agent_proc agent;

static void fini(void)
{
    agent_cleanup(&agent);
}

static char *stats_after_stop(void)
{
    cr_assert_eq(agent_stop(&agent, SIGTERM, 10000), 0);
    char *err = read_file(agent.err_path);
    cr_assert(strstr(err, "[stats]") != NULL, "no stats line: %s", err);
    return err;
}

Test(lineproto_agent, influx_input_counts_points_and_reasons, .fini = fini, .timeout = 60)
{
    agent_prepare(&agent, CONFIG_INFLUX);
    agent_start(&agent, "run");
    cr_assert(agent_alive(&agent), "agent did not start: %s", read_file(agent.err_path));
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(s, agent.endpoint), 0);
    const char *first = "# journey complaints\r\n"
                        "complaints,journey=checkout value=3i 1700000000\r\n"
                        "complaints,journey=claims value=2 1700000060\r\n"
                        "checkout,journey=web latency=250.5,status=\"slow\" 1700000000\r\n"
                        "complaints,journey=checkout value=three 1700000120\r\n";
    const char *second = "complaints,journey=search\\ page value=1 1700000180\n"
                         "complaints,journey=checkout value=4\n";
    cr_assert_geq(zmq_send(s, first, strlen(first), 0), 0);
    cr_assert_geq(zmq_send(s, second, strlen(second), 0), 0);
    zmq_close(s);
    zmq_ctx_term(ctx);
    sleep_ms(500);
    char *err = stats_after_stop();
    const char *stats = strstr(err, "[stats]");
    cr_assert(strstr(stats, "messages=2 points_accepted=5 points_rejected=2 points_unwatched=0 ") != NULL, "%s", stats);
    cr_assert(strstr(stats, "bad_value=1") != NULL, "%s", stats);
    cr_assert(strstr(stats, "string_field=1") != NULL, "%s", stats);
    free(err);
}

Test(lineproto_agent, send_format_influx_batches_stdin_lines, .fini = fini, .timeout = 60)
{
    agent_prepare(&agent, CONFIG_INFLUX);
    agent_start(&agent, "run");
    char cmd[1024], *out;
    snprintf(cmd, sizeof cmd,
             "printf '%%s\\n' 'complaints,journey=checkout value=1 1700000000' 'complaints,journey=claims value=2 1700000000'"
             " 'complaints,journey=checkout value=3 1700000300' 'complaints,journey value=4' | %s send -e %s --push --format influx 2>&1",
             harness_binary(), agent.endpoint);
    cr_assert_eq(run_capture(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "1 message to") != NULL, "four lines, one message: %s", out);
    free(out);
    sleep_ms(500);
    char *err = stats_after_stop();
    cr_assert(strstr(err, "messages=1 points_accepted=3 points_rejected=1") != NULL, "%s", err);
    cr_assert(strstr(err, "bad_line=1") != NULL, "%s", err);
    free(err);
}
