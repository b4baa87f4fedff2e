/* template_cmd: `kpiwatch template render`, which shows what a receiver
 * would send for the sample alert group (notifiers/sample.c) without
 * sending it: each configured message template's text, or, for a receiver
 * on its built-in rendering, the request body its notifier prepares. */
#ifndef KW_TEMPLATE_CMD_H
#define KW_TEMPLATE_CMD_H

#include <stddef.h>

/* The argument synopsis and help text for `kpiwatch template --help`. */
extern const char kw_template_cmd_usage[];
extern const char kw_template_cmd_help[];

/* Run the subcommand on argv[0..argc) (argv[0] is "render"); default_config
 * is used without -c. Prints to stdout. Returns the process exit code: 0 ok,
 * 1 no such receiver (or it is off, or its notifier refused the sample),
 * 2 usage error (usage_msg then says what was wrong), 3 invalid config. */
int kw_template_cmd(int argc, char **argv, const char *default_config, char *usage_msg, size_t usage_len);

#endif
