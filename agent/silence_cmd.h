/* silence_cmd: `kpiwatch silence add|list|expire`. It talks to the running
 * agent's HTTP API (http.listen and http.port of the config, with its
 * token) when an agent answers there, so the change takes effect at once;
 * when none answers (or with --local) it edits STATE_DIR/silences.json
 * through the silence store itself, which an agent reads when it starts. */
#ifndef KW_SILENCE_CMD_H
#define KW_SILENCE_CMD_H

#include <stddef.h>

/* The argument synopsis and help text for `kpiwatch silence --help`. */
extern const char kw_silence_cmd_usage[];
extern const char kw_silence_cmd_help[];

/* Run the subcommand on argv[0..argc) (argv[0] is add, list or expire);
 * default_config is used without -c. Returns the process exit code: 0 ok,
 * 1 the agent or the store refused, 2 usage error (usage_msg then says
 * what was wrong), 3 invalid config. */
int kw_silence_cmd(int argc, char **argv, const char *default_config, char *usage_msg, size_t usage_len);

#endif
