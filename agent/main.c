/* main: the kpiwatch command line. Every subcommand answers --help with its
 * own usage (exit 0) and prints the same usage on a usage error (exit 2).
 * Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 invalid config. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/timefmt.h"
#include "agent.h"
#include "config.h"
#include "demo.h"
#include "feedback_cmd.h"
#include "lint.h"
#include "replay.h"
#include "silence_cmd.h"
#include "send.h"
#include "template_cmd.h"
#include "../notifiers/dispatcher.h"
#include "../notifiers/sample.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_CONFIG = 3 };

#define DEFAULT_CONFIG "/etc/kpiwatch/kpiwatch.json"
#define DEMO_CONFIG "conf/kpiwatch.json"
#define DEFAULT_CONFIG_HELP DEFAULT_CONFIG ", else " DEMO_CONFIG

struct command {
    const char *name;
    const char *usage;   /* the argument synopsis */
    const char *help;    /* what it does and its options */
    int (*run)(int argc, char **argv);
};

static const struct command *find_command(const char *name);

static void command_usage(const struct command *c, FILE *out)
{
    fprintf(out, "Usage: kpiwatch %s %s\n%s", c->name, c->usage, c->help);
}

static int usage_error(const char *name, const char *fmt, const char *arg)
{
    fprintf(stderr, "kpiwatch %s: ", name);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    command_usage(find_command(name), stderr);
    return EXIT_USAGE;
}

/* The config a command reads without -c: the installed one, else the
 * repository's when run from a checkout (the demo config). */
static const char *default_config(void)
{
    return access(DEFAULT_CONFIG, F_OK) != 0 && access(DEMO_CONFIG, F_OK) == 0 ? DEMO_CONFIG : DEFAULT_CONFIG;
}

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Parse a whole decimal number in [min, max]. Returns 0 or -1. */
static int parse_number(const char *text, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static void print_warning(void *ctx, const char *text)
{
    printf("  warning: %s\n", text);
}

static int cmd_check_config(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            return usage_error("check-config", "unexpected argument %s", argv[i]);
    }
    if (!path)
        return usage_error("check-config", "%swhich file?", "");
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    if (kw_config_load(&cfg, path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return EXIT_CONFIG;
    }
    int off = 0;
    for (int i = 0; i < cfg.nreceivers; i++)
        off += cfg.receivers[i].disabled;
    char off_text[32] = "";
    if (off)
        snprintf(off_text, sizeof off_text, " (%d off)", off);
    printf("%s: ok (%d inputs, %d KPIs, %d receivers%s, %d routes)\n", path, cfg.ninputs, cfg.nkpis, cfg.nreceivers,
           off_text, cfg.routing.n - 1);
    for (int i = 0; i < cfg.nkpis; i++) {
        const struct kw_kpi_config *k = &cfg.kpis[i];
        static const char *const kinds[] = {"count", "rate", "continuous"};
        printf("  kpi %-28s %-10s detector=%s for=%d resolve_after=%d\n", k->name, kinds[k->kind],
               k->detector.type->name, k->alert.for_intervals, k->alert.resolve_after);
    }
    for (int i = 0; i < cfg.nreceivers; i++)
        if (cfg.receivers[i].disabled)
            printf("  receiver %s is off: %s\n", cfg.receivers[i].name, cfg.receivers[i].off_reason);
    kw_config_lint(&cfg, print_warning, NULL);
    kw_config_release(&cfg);
    return EXIT_OK;
}

static int start_demo(struct kw_agent *ag, int64_t speed_ms, char *err, size_t errlen)
{
    const struct kw_input_config *in = &ag->cfg.inputs[0];
    if (in->mode != KW_INPUT_BIND) {
        snprintf(err, errlen, "inputs[0] must bind so the demo publisher can connect");
        return EXIT_CONFIG;
    }
    int64_t now = kw_now_ms();
    struct kw_demo_options opt = {
        .endpoint = in->endpoint,
        .push = in->socket == KW_INPUT_PULL,
        .interval_ms = 300000,
        .wall_per_interval_ms = speed_ms,
        /* Start at the UTC midnight before yesterday: incidents and the
         * daily rhythm then line up the same way whenever the demo runs. */
        .start_ms = (now - 86400000LL) / 86400000LL * 86400000LL,
        .seed = 42,
    };
    ag->demo = kw_demo_start(ag->zmq_ctx, &opt, err, errlen);
    if (!ag->demo)
        return EXIT_RUNTIME;
    kw_info("demo", "publishing simulated journeys to %s: one simulated 5-minute interval every %lld ms; "
            "incidents start after the first simulated day",
            in->endpoint, (long long)speed_ms);
    return EXIT_OK;
}

static int run_agent(const char *name, int argc, char **argv, bool demo)
{
    const char *path = demo ? DEMO_CONFIG : default_config();
    long long seconds = 0, speed = 60;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            if (parse_number(argv[++i], 0, 31536000, &seconds))
                return usage_error(name, "--seconds must be a whole number from 0 to 31536000, not \"%s\"", argv[i]);
        } else if (demo && strcmp(argv[i], "--speed") == 0 && i + 1 < argc) {
            if (parse_number(argv[++i], 1, 600000, &speed))
                return usage_error(name, "--speed must be a whole number of ms from 1 to 600000, not \"%s\"", argv[i]);
        } else
            return usage_error(name, "unexpected argument %s", argv[i]);
    }
    struct kw_agent ag;
    char err[KW_ERR_LEN];
    if (kw_agent_init(&ag, path, demo, err, sizeof err)) {
        fprintf(stderr, "kpiwatch: %s\n", err);
        return strstr(err, "cannot bind") || strstr(err, "cannot connect") ? EXIT_RUNTIME : EXIT_CONFIG;
    }
    if (demo) {
        int rc = start_demo(&ag, speed, err, sizeof err);
        if (rc) {
            fprintf(stderr, "kpiwatch demo: %s\n", err);
            kw_agent_release(&ag);
            return rc;
        }
    }
    int rc = kw_agent_run(&ag, seconds * 1000);
    kw_agent_release(&ag);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    return run_agent("run", argc, argv, false);
}

static int cmd_demo(int argc, char **argv)
{
    return run_agent("demo", argc, argv, true);
}

static int cmd_replay(int argc, char **argv)
{
    struct kw_replay_options opt = {0};
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            opt.config_path = argv[++i];
        else if (strcmp(argv[i], "--scores") == 0 && i + 1 < argc)
            opt.scores_path = argv[++i];
        else if (strcmp(argv[i], "--metric") == 0 && i + 1 < argc)
            opt.metric = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            opt.json = true;
        else if (strcmp(argv[i], "--quiet") == 0)
            opt.quiet = true;
        else if (argv[i][0] == '-' && argv[i][1]) {
            free(files);
            return usage_error("replay", "unexpected argument %s", argv[i]);
        } else
            files[opt.nfiles++] = argv[i];
    }
    if (!opt.config_path || opt.nfiles == 0) {
        free(files);
        return usage_error("replay", "%sneeds -c FILE and at least one DATA file", "");
    }
    if (opt.json && opt.quiet) {
        free(files);
        return usage_error("replay", "%s--json and --quiet exclude each other", "");
    }
    opt.files = files;
    char err[KW_ERR_LEN] = "";
    int rc = kw_replay_run(&opt, err, sizeof err);
    if (rc)
        fprintf(stderr, "kpiwatch replay: %s\n", err);
    free(files);
    return rc;
}

static int cmd_test_notify(int argc, char **argv)
{
    const char *path = default_config(), *name = NULL;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else
            return usage_error("test-notify", "unexpected argument %s", argv[i]);
    }
    if (!name)
        return usage_error("test-notify", "%swhich receiver?", "");
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    if (kw_config_load(&cfg, path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return EXIT_CONFIG;
    }
    const struct kw_receiver *r = NULL;
    for (int i = 0; i < cfg.nreceivers; i++)
        if (strcmp(cfg.receivers[i].name, name) == 0)
            r = &cfg.receivers[i];
    int rc = EXIT_OK;
    if (!r || r->disabled) {
        if (r)
            fprintf(stderr, "kpiwatch test-notify: %s: this receiver is off: %s\n", name, r->off_reason);
        else
            fprintf(stderr, "kpiwatch test-notify: %s: no such receiver\n", name);
        kw_config_release(&cfg);
        return r ? EXIT_RUNTIME : EXIT_CONFIG;
    }
    char ref[KW_NOTIFY_REF] = "";
    for (int resolved = 0; resolved <= 1; resolved++) {
        struct kw_notification n;
        kw_sample_notification(&n, r->name, resolved, kw_now_ms());
        snprintf(n.ref, sizeof n.ref, "%s", ref);
        struct kw_send_outcome out;
        kw_notify_send_now(r, &n, &cfg.delivery, &out);
        static const char *const results[] = {"ok", "retry", "failed"};
        printf("%s/%s %s: %s%s%s%s\n", r->type->name, r->name, resolved ? "resolve" : "firing", results[out.result],
               out.reason[0] ? " (" : "", out.reason, out.reason[0] ? ")" : "");
        if (out.result == KW_SEND_RETRY && out.retry_after_ms > 0)
            printf("  the service asks to retry after %.1f s\n", (double)out.retry_after_ms / 1000.0);
        if (out.ref[0])
            snprintf(ref, sizeof ref, "%s", out.ref);
        kw_notification_release(&n);
        if (out.result != KW_SEND_OK) {
            rc = EXIT_RUNTIME;
            break;
        }
    }
    kw_config_release(&cfg);
    return rc;
}

static int cmd_send(int argc, char **argv)
{
    const char *path = NULL, *format = NULL;
    struct kw_send_options opt = {0};
    const char **messages = calloc((size_t)argc + 1, sizeof *messages);
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else if ((strcmp(argv[i], "-e") == 0 || strcmp(argv[i], "--endpoint") == 0) && i + 1 < argc)
            opt.endpoint = argv[++i];
        else if (strcmp(argv[i], "--push") == 0)
            opt.push = true;
        else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc)
            opt.topic = argv[++i];
        else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            format = argv[++i];
        else if (argv[i][0] != '-' || !argv[i][1]) {
            messages[opt.nmessages++] = argv[i];
        } else {
            free(messages);
            return usage_error("send", "unexpected argument %s", argv[i]);
        }
    }
    struct kw_config cfg = {0};
    char err[KW_ERR_LEN];
    if (!opt.endpoint) {
        /* the first input of the config, seen from the publisher's side */
        if (kw_config_load(&cfg, path ? path : default_config(), err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            free(messages);
            return EXIT_CONFIG;
        }
        if (cfg.ninputs == 0) {
            fprintf(stderr, "kpiwatch send: %s has no inputs; give -e ENDPOINT\n", cfg.path);
            kw_config_release(&cfg);
            free(messages);
            return EXIT_USAGE;
        }
        opt.endpoint = cfg.inputs[0].endpoint;
        opt.push = cfg.inputs[0].socket == KW_INPUT_PULL;
        if (!format)
            format = cfg.inputs[0].format == KW_INPUT_INFLUX ? "influx" : "json";
    }
    if (format && strcmp(format, "influx") != 0 && strcmp(format, "json") != 0) {
        kw_config_release(&cfg);
        free(messages);
        return usage_error("send", "--format is json or influx, not \"%s\"", format);
    }
    opt.batch_lines = format && strcmp(format, "influx") == 0;
    /* with -e and no --format the input's format is unknown: send as given */
    opt.check_format = format != NULL;
    opt.messages = messages;
    for (int i = 0; opt.check_format && i < opt.nmessages; i++) {
        char what[32];
        snprintf(what, sizeof what, "message %d", i + 1);
        if (kw_send_check_format(messages[i], strlen(messages[i]), opt.batch_lines, what, err, sizeof err)) {
            kw_config_release(&cfg);
            free(messages);
            return usage_error("send", "%s", err);
        }
    }
    int sent = kw_send_run(&opt, err, sizeof err);
    if (sent < 0)
        fprintf(stderr, "kpiwatch send: %s\n", err);
    else
        fprintf(stderr, "kpiwatch send: %d message%s to %s\n", sent, sent == 1 ? "" : "s", opt.endpoint);
    kw_config_release(&cfg);
    free(messages);
    return sent == -2 ? EXIT_USAGE : sent < 0 ? EXIT_RUNTIME : EXIT_OK;
}

/* routes test: which receivers a label set reaches, and through which nodes. */
static int cmd_routes(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "test") != 0)
        return usage_error("routes", "%sthe only subcommand is \"test\"", "");
    const char *path = default_config(), *at_text = NULL;
    int64_t at_ms = 0;
    struct kw_alert a = {0};
    a.severity = KW_SEV_WARNING;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "--at") == 0 && i + 1 < argc) {
            at_text = argv[++i];
            if (kw_time_parse(at_text, &at_ms))
                return usage_error("routes", "--at takes an RFC 3339 time (2026-03-09T08:30:00+01:00), not \"%s\"",
                                   at_text);
            continue;
        }
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i])
            return usage_error("routes", "labels are NAME=VALUE, not \"%s\"", argv[i]);
        char name[KW_ALERT_LABEL_NAME];
        snprintf(name, sizeof name, "%.*s", (int)(eq - argv[i]), argv[i]);
        if (strcmp(name, "kpi") == 0)
            snprintf(a.kpi, sizeof a.kpi, "%s", eq + 1);
        else if (strcmp(name, "severity") == 0)
            a.severity = strcmp(eq + 1, "critical") == 0 ? KW_SEV_CRITICAL : KW_SEV_WARNING;
        else if (a.nlabels < KW_ALERT_MAX_LABELS) {
            snprintf(a.labels[a.nlabels].name, sizeof a.labels[0].name, "%s", name);
            snprintf(a.labels[a.nlabels].value, sizeof a.labels[0].value, "%s", eq + 1);
            a.nlabels++;
        }
    }
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    if (kw_config_load(&cfg, path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return EXIT_CONFIG;
    }
    int nodes[64];
    int n = kw_routing_nodes(&cfg.routing, &a, nodes, 64);
    for (int i = 0; i < n; i++) {
        const struct kw_route_node *node = &cfg.routing.nodes[nodes[i]];
        const struct kw_receiver *r = &cfg.receivers[node->receiver];
        char group[256] = "";
        for (int g = 0; g < node->group_by.n; g++)
            snprintf(group + strlen(group), sizeof group - strlen(group), "%s%s", g ? "," : "", node->group_by.items[g]);
        printf("%s%s  via %s  group_by [%s]", r->name, r->disabled ? " (off)" : "", node->path, group);
        const struct kw_time_intervals *ti = &cfg.time_intervals;
        for (int m = 0; m < node->nmute; m++)
            printf("%s%s%s", m ? "," : "  mute_time_intervals [", ti->items[node->mute[m]].name, m + 1 == node->nmute ? "]" : "");
        for (int m = 0; m < node->nactive; m++)
            printf("%s%s%s", m ? "," : "  active_time_intervals [", ti->items[node->active[m]].name,
                   m + 1 == node->nactive ? "]" : "");
        if (at_text)
            printf("  %s at %s", kw_route_muted(node, ti, at_ms) ? "muted" : "sends", at_text);
        printf("\n");
    }
    kw_config_release(&cfg);
    return EXIT_OK;
}

static int cmd_silence(int argc, char **argv)
{
    char msg[KW_ERR_LEN] = "";
    int rc = kw_silence_cmd(argc, argv, default_config(), msg, sizeof msg);
    return rc == EXIT_USAGE ? usage_error("silence", "%s", msg) : rc;
}

static int cmd_feedback(int argc, char **argv)
{
    const char *path = default_config(), *key = NULL, *note = NULL;
    int verdict = -1; /* 1 false alarm, 0 confirmed */
    bool local = false;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--local") == 0)
            local = true;
        else if (strcmp(argv[i], "--note") == 0 && i + 1 < argc)
            note = argv[++i];
        else if (strcmp(argv[i], "--false-alarm") == 0 || strcmp(argv[i], "--confirmed") == 0) {
            int v = strcmp(argv[i], "--false-alarm") == 0;
            if (verdict >= 0 && verdict != v)
                return usage_error("feedback", "%s--false-alarm and --confirmed exclude each other", "");
            verdict = v;
        } else if (argv[i][0] != '-' && !key)
            key = argv[i];
        else
            return usage_error("feedback", "unexpected argument %s", argv[i]);
    }
    if (!key || verdict < 0)
        return usage_error("feedback", "%sneeds ALERT_KEY and --false-alarm or --confirmed", "");
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    if (kw_config_load(&cfg, path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return EXIT_CONFIG;
    }
    int rc = EXIT_OK;
    struct kw_feedback_result res;
    const char *what = verdict ? "false alarm" : "confirmed";
    if (kw_feedback_deliver(&cfg, key, verdict == 1, note, local, &res, &rc, err, sizeof err))
        fprintf(stderr, "kpiwatch feedback: %s: %s\n", path, err);
    else if (res.route == KW_FEEDBACK_STATE_DIR)
        printf("%s on alert %s queued in %s/feedback; the agent learns it within seconds, or when it next starts\n",
               what, key, cfg.state_dir);
    else if (res.outcome == KW_FEEDBACK_NO_SERIES) {
        fprintf(stderr, "kpiwatch feedback: alert %s matches no series the agent tracks (expired, or from another "
                        "config); the verdict is recorded only\n", key);
        rc = EXIT_RUNTIME;
    } else if (res.outcome == KW_FEEDBACK_LEARNED)
        printf("%s on alert %s learned by %s (%s)%s\n", what, key, res.kpi, res.detector,
               verdict ? ": its test is one step stricter" : ": one strictness step undone");
    else if (res.outcome == KW_FEEDBACK_RECORDED)
        printf("%s on alert %s recorded for %s; %s does not learn from feedback\n", what, key, res.kpi, res.detector);
    else
        printf("%s on alert %s sent to the agent; it learns it within seconds\n", what, key);
    kw_config_release(&cfg);
    return rc;
}

static int cmd_template(int argc, char **argv)
{
    char msg[KW_ERR_LEN] = "";
    int rc = kw_template_cmd(argc, argv, default_config(), msg, sizeof msg);
    return rc == EXIT_USAGE ? usage_error("template", "%s", msg) : rc;
}

static int cmd_options(int argc, char **argv)
{
    if (argc > 0)
        return usage_error("options", "unexpected argument %s", argv[0]);
    kw_config_print_reference(stdout);
    return EXIT_OK;
}

static const struct command commands[] = {
    {"run", "[-c FILE] [--seconds N]",
     "Run the agent until SIGTERM or SIGINT; SIGHUP reloads the config.\n"
     "  -c, --config FILE  config file (default " DEFAULT_CONFIG_HELP ")\n"
     "  --seconds N        stop after N seconds (0 = never; at most 31536000)\n",
     cmd_run},
    {"check-config", "[-c] FILE",
     "Validate a config and list its KPIs; an error names the offending key path.\n",
     cmd_check_config},
    {"demo", "[-c FILE] [--seconds N] [--speed MS]",
     "Run the agent with a simulated publisher of customer-journey metrics.\n"
     "  -c, --config FILE  config file (default " DEMO_CONFIG ")\n"
     "  --seconds N        stop after N seconds (0 = never; at most 31536000)\n"
     "  --speed MS         wall ms per simulated 5-minute interval (1..600000, default 60)\n",
     cmd_demo},
    {"replay", "-c FILE [--scores OUT.csv] [--metric NAME] [--json | --quiet] DATA...",
     "Backtest recorded data (CSV timestamp,value[,labels...] or JSON lines) through the\n"
     "same validation and pipeline as the agent; alerts go to the configured receivers.\n"
     "  -c FILE            config file (required)\n"
     "  --scores OUT.csv   write every interval's value, expected value, band and score\n"
     "  --metric NAME      metric of CSV rows without a metric column (default: the first KPI's)\n"
     "  --json             print alerts as JSON lines on stdout instead of the receivers\n"
     "  --quiet            deliver no alerts; print only the per-file summary on stderr\n",
     cmd_replay},
    {"test-notify", "[-c FILE] RECEIVER",
     "Send a sample alert group (a checkout drop-off jump and complaint spike) through one receiver,\n"
     "then its resolve, and print what the service answered. Exit 0 when both were accepted.\n"
     "  -c, --config FILE  config file (default " DEFAULT_CONFIG_HELP ")\n",
     cmd_test_notify},
    {"template", kw_template_cmd_usage, kw_template_cmd_help, cmd_template},
    {"send", "[-c FILE | -e ENDPOINT [--push]] [--topic T] [--format json|influx] [MESSAGE...]",
     "Send JSON messages to an agent (one per argument, or one per line of stdin), as a pipeline would:\n"
     "PUB to a sub input, PUSH to a pull input. Without -e, the first input of the config is used.\n"
     "  -c, --config FILE    config whose first input to send to (default " DEFAULT_CONFIG_HELP ")\n"
     "  -e, --endpoint EP    send to EP instead (PUB; --push for PUSH)\n"
     "  --topic T            PUB: send T as a first frame (for inputs with topics)\n"
     "  --format influx      stdin is InfluxDB line protocol, sent 1000 lines per message (the default\n"
     "                       when the config's first input has \"format\": \"influx\")\n",
     cmd_send},
    {"routes", "test [-c FILE] [--at TIME] [kpi=NAME] [severity=critical|warning] [LABEL=VALUE...]",
     "Print the receivers an alert with these labels reaches, with the route node that sends it, the\n"
     "labels it is grouped by and its mute and active time intervals: the same walk the agent does.\n"
     "  -c, --config FILE  config file (default " DEFAULT_CONFIG_HELP ")\n"
     "  --at TIME          also say whether each node would send or be muted at TIME (RFC 3339)\n",
     cmd_routes},
    {"silence", kw_silence_cmd_usage, kw_silence_cmd_help, cmd_silence},
    {"feedback", "[-c FILE] ALERT_KEY --false-alarm|--confirmed [--note TEXT] [--local]",
     "Tell the agent whether an alert was right. A false alarm is learned into that series' baseline as\n"
     "normal and makes its test one step (10x) stricter, at most three steps; a confirmed alert undoes a\n"
     "step. The verdict goes to the running agent's HTTP API (http.port) when one answers, else into\n"
     "agent.state_dir, where the agent finds it when it next looks or starts; it is recorded, with\n"
     "counts per detector, in STATE_DIR/feedback.json.\n"
     "  -c, --config FILE  config file (default " DEFAULT_CONFIG_HELP ")\n"
     "  ALERT_KEY          the alert's key (16 hex digits, as in every notification)\n"
     "  --note TEXT        why, kept with the record\n"
     "  --local            write into the state directory even if an agent answers\n",
     cmd_feedback},
    {"options", "", "Print every config key as Markdown (the README's config reference).\n", cmd_options},
    {NULL, NULL, NULL, NULL},
};

static const struct command *find_command(const char *name)
{
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out, "kpiwatch %s - anomaly detection and alerting for customer-journey KPIs\n\nUsage:\n", KW_VERSION);
    for (const struct command *c = commands; c->name; c++)
        fprintf(out, "  kpiwatch %s %s\n", c->name, c->usage);
    fprintf(out, "  kpiwatch --help | --version\n\n"
                 "kpiwatch COMMAND --help describes one command.\n"
                 "Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 invalid config.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (is_help(name) || strcmp(name, "help") == 0) {
        const struct command *c = argc > 2 ? find_command(argv[2]) : NULL;
        if (c)
            command_usage(c, stdout);
        else
            usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("kpiwatch %s\n", KW_VERSION);
        return EXIT_OK;
    }
    const struct command *c = find_command(name);
    if (!c) {
        fprintf(stderr, "kpiwatch: unknown command \"%s\"\n\n", name);
        usage(stderr);
        return EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (is_help(argv[i])) {
            command_usage(c, stdout);
            return EXIT_OK;
        }
    }
    return c->run(argc - 2, argv + 2);
}
