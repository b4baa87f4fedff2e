/* main: the kpiwatch command line.
 *   kpiwatch run -c FILE             the daemon
 *   kpiwatch check-config FILE       validate a config and exit
 *   kpiwatch demo [-c FILE]          the daemon plus a simulated publisher
 *   kpiwatch replay -c FILE DATA...  backtest recorded data
 *   kpiwatch options                 print the config reference
 * Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 invalid config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "demo.h"
#include "../lib/log.h"
#include "replay.h"
#include "../lib/timefmt.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_CONFIG = 3 };

#define DEFAULT_CONFIG "/etc/kpiwatch/kpiwatch.json"

static void usage(FILE *out)
{
    fprintf(out,
            "kpiwatch %s - anomaly detection and alerting for customer-journey KPIs\n"
            "\n"
            "Usage:\n"
            "  kpiwatch run [-c FILE]                 run the agent (default config %s)\n"
            "  kpiwatch check-config [-c] FILE        validate a config; prints the offending key path\n"
            "  kpiwatch demo [-c FILE] [--seconds N] [--speed MS]\n"
            "                                         run the agent with a simulated publisher\n"
            "                                         (--speed: wall ms per simulated 5-minute interval, default 60)\n"
            "  kpiwatch replay -c FILE [--scores OUT.csv] [--metric NAME] [--json] [--quiet] DATA...\n"
            "                                         backtest CSV (timestamp,value[,labels...]) or JSON-lines data\n"
            "  kpiwatch options                       print every config key as Markdown\n"
            "  kpiwatch --help | --version\n"
            "\n"
            "Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 invalid config.\n",
            KW_VERSION, DEFAULT_CONFIG);
}

static int cmd_check_config(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (argv[i][0] != '-')
            path = argv[i];
        else {
            fprintf(stderr, "kpiwatch check-config: unknown option %s\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!path) {
        fprintf(stderr, "kpiwatch check-config: which file? (kpiwatch check-config FILE)\n");
        return EXIT_USAGE;
    }
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    if (kw_config_load(&cfg, path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return EXIT_CONFIG;
    }
    printf("%s: ok (%d inputs, %d KPIs, %d receivers, %d routes)\n", path, cfg.ninputs, cfg.nkpis, cfg.nreceivers,
           cfg.nroutes);
    for (int i = 0; i < cfg.nkpis; i++) {
        const struct kw_kpi_config *k = &cfg.kpis[i];
        static const char *const kinds[] = {"count", "rate", "continuous"};
        printf("  kpi %-28s %-10s detector=%s for=%d resolve_after=%d\n", k->name, kinds[k->kind],
               k->detector.type->name, k->alert.for_intervals, k->alert.resolve_after);
    }
    kw_config_release(&cfg);
    return EXIT_OK;
}

static int run_agent(const char *path, bool demo, int64_t seconds, int64_t speed_ms)
{
    struct kw_agent ag;
    char err[KW_ERR_LEN];
    if (kw_agent_init(&ag, path, demo, err, sizeof err)) {
        fprintf(stderr, "kpiwatch: %s\n", err);
        return strstr(err, "cannot bind") || strstr(err, "cannot connect") ? EXIT_RUNTIME : EXIT_CONFIG;
    }
    if (demo) {
        const struct kw_input_config *in = &ag.cfg.inputs[0];
        int64_t interval = 300000;
        int64_t now = kw_now_ms();
        struct kw_demo_options opt = {
            .endpoint = in->endpoint,
            .push = in->socket == KW_INPUT_PULL,
            .interval_ms = interval,
            .wall_per_interval_ms = speed_ms,
            /* Start at the UTC midnight before yesterday: incidents and the
             * daily rhythm then line up the same way whenever the demo runs. */
            .start_ms = (now - 86400000LL) / 86400000LL * 86400000LL,
            .seed = 42,
        };
        if (in->mode != KW_INPUT_BIND) {
            fprintf(stderr, "kpiwatch demo: inputs[0] must bind so the demo publisher can connect\n");
            kw_agent_release(&ag);
            return EXIT_CONFIG;
        }
        ag.demo = kw_demo_start(ag.zmq_ctx, &opt, err, sizeof err);
        if (!ag.demo) {
            fprintf(stderr, "kpiwatch: %s\n", err);
            kw_agent_release(&ag);
            return EXIT_RUNTIME;
        }
        kw_info("demo", "publishing simulated journeys to %s: one simulated 5-minute interval every %lld ms; "
                "incidents start after the first simulated day",
                in->endpoint, (long long)speed_ms);
    }
    int rc = kw_agent_run(&ag, seconds * 1000);
    kw_agent_release(&ag);
    return rc;
}

static int cmd_run(int argc, char **argv, bool demo)
{
    const char *path = demo ? "conf/kpiwatch.json" : DEFAULT_CONFIG;
    int64_t seconds = 0, speed = 60;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atoll(argv[++i]);
        else if (demo && strcmp(argv[i], "--speed") == 0 && i + 1 < argc)
            speed = atoll(argv[++i]);
        else {
            fprintf(stderr, "kpiwatch %s: unknown argument %s\n", demo ? "demo" : "run", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (speed < 1 || speed > 600000 || seconds < 0) {
        fprintf(stderr, "kpiwatch: --speed must be 1..600000 ms and --seconds >= 0\n");
        return EXIT_USAGE;
    }
    return run_agent(path, demo, seconds, speed);
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
            fprintf(stderr, "kpiwatch replay: unknown option %s\n", argv[i]);
            free(files);
            return EXIT_USAGE;
        } else
            files[opt.nfiles++] = argv[i];
    }
    if (!opt.config_path || opt.nfiles == 0) {
        fprintf(stderr, "kpiwatch replay: usage: kpiwatch replay -c FILE [--scores OUT.csv] DATA...\n");
        free(files);
        return EXIT_USAGE;
    }
    opt.files = files;
    char err[KW_ERR_LEN] = "";
    int rc = kw_replay_run(&opt, err, sizeof err);
    if (rc)
        fprintf(stderr, "kpiwatch replay: %s\n", err);
    free(files);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("kpiwatch %s\n", KW_VERSION);
        return EXIT_OK;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2, false);
    if (strcmp(cmd, "demo") == 0)
        return cmd_run(argc - 2, argv + 2, true);
    if (strcmp(cmd, "check-config") == 0)
        return cmd_check_config(argc - 2, argv + 2);
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc - 2, argv + 2);
    if (strcmp(cmd, "options") == 0) {
        kw_config_print_reference(stdout);
        return EXIT_OK;
    }
    fprintf(stderr, "kpiwatch: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
