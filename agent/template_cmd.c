/* template_cmd: rendering a receiver's messages for the sample alert group. */
#include "template_cmd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../lib/log.h"
#include "../lib/opts.h"
#include "../lib/timefmt.h"
#include "../notifiers/sample.h"
#include "config.h"

enum { OK = 0, RUNTIME = 1, USAGE = 2, CONFIG = 3 };

const char kw_template_cmd_usage[] = "render [-c FILE] RECEIVER [--resolved]";
const char kw_template_cmd_help[] =
    "Print what RECEIVER would send for a sample alert group (a checkout drop-off jump and\n"
    "complaint spike), without sending it: the text of each of its message templates, or, for a\n"
    "receiver on its built-in rendering, the request body it would post. Secrets are shown as\n"
    "[redacted].\n"
    "  -c, --config FILE  config file (default /etc/kpiwatch/kpiwatch.json, else conf/kpiwatch.json)\n"
    "  --resolved         the group's resolve instead of its firing\n";

/* text on stdout, ending in a newline, with no secret in it. */
static void print_text(const char *text)
{
    char *safe = kw_log_redact_text(text);
    size_t len = strlen(safe);
    fputs(safe, stdout);
    if (len == 0 || safe[len - 1] != '\n')
        putchar('\n');
    free(safe);
}

/* The request body the receiver's notifier prepares for n, printed. */
static int print_builtin(const struct kw_receiver *r, const struct kw_notification *n)
{
    if (r->type->send) {
        /* Local receivers (console) write the message themselves. */
        struct kw_send_outcome out = {0};
        r->type->send(r->cfg, n, &out);
        return out.result == KW_SEND_OK ? OK : RUNTIME;
    }
    struct kw_request req = {0};
    req.easy = curl_easy_init(); /* options are set on it, but nothing is performed */
    char err[KW_ERR_LEN] = "";
    int ready = r->type->prepare(r->cfg, n, 0, &req, err, sizeof err);
    int rc = OK;
    if (ready < 0) {
        fprintf(stderr, "kpiwatch template render: %s: %s\n", r->name, err);
        rc = RUNTIME;
    } else if (ready > 0 && req.body) {
        print_text(req.body);
    }
    kw_request_release(&req);
    curl_easy_cleanup(req.easy);
    return rc;
}

int kw_template_cmd(int argc, char **argv, const char *default_config, char *usage_msg, size_t usage_len)
{
    if (argc < 1 || strcmp(argv[0], "render") != 0) {
        snprintf(usage_msg, usage_len, "the only subcommand is \"render\"");
        return USAGE;
    }
    const char *path = default_config, *name = NULL;
    bool resolved = false;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--resolved") == 0)
            resolved = true;
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            snprintf(usage_msg, usage_len, "unexpected argument %s", argv[i]);
            return USAGE;
        }
    }
    if (!name) {
        snprintf(usage_msg, usage_len, "which receiver?");
        return USAGE;
    }
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    if (kw_config_load(&cfg, path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return CONFIG;
    }
    const struct kw_receiver *r = NULL;
    for (int i = 0; i < cfg.nreceivers; i++)
        if (strcmp(cfg.receivers[i].name, name) == 0)
            r = &cfg.receivers[i];
    if (!r || r->disabled) {
        fprintf(stderr, "kpiwatch template render: %s: %s%s\n", name,
                r ? "this receiver is off: " : "no such receiver", r ? r->off_reason : "");
        kw_config_release(&cfg);
        return RUNTIME;
    }
    struct kw_notification n;
    kw_sample_notification(&n, r->name, resolved, kw_now_ms());
    struct kw_rendered out[KW_RENDERED_MAX];
    int count = r->type->render_templates ? r->type->render_templates(r->cfg, &n, out) : 0;
    int rc = OK;
    if (count == 0)
        rc = print_builtin(r, &n);
    for (int i = 0; i < count; i++) {
        if (count > 1) /* several templates: say which text is which */
            printf("%s--- %s ---\n", i ? "\n" : "", out[i].key);
        print_text(out[i].text);
        free(out[i].text);
    }
    kw_notification_release(&n);
    kw_config_release(&cfg);
    return rc;
}
