/* harness: start the real kpiwatch binary on a config, talk to it over real
 * ZeroMQ sockets, read what it printed, stop it with a signal. */
#ifndef KW_TEST_HARNESS_H
#define KW_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct agent_proc {
    pid_t pid;
    char dir[128];        /* private temp dir: config, stdout, stderr, state */
    char config[192];
    char out_path[192];
    char err_path[192];
    char endpoint[64];    /* tcp://127.0.0.1:PORT the agent binds */
    int exit_status;      /* after agent_stop: exit code, or 128+signal */
};

/* Path of the binary under test ($KPIWATCH_BIN, default ./kpiwatch). */
const char *harness_binary(void);
/* A free loopback TCP endpoint. */
void harness_free_endpoint(char *buf, size_t len);
/* Make a temp dir and write config_fmt (a printf format whose one %s is the
 * endpoint) into it. */
void agent_prepare(struct agent_proc *a, const char *config_fmt);
/* Rewrite the config file (for reload tests). */
void agent_write_config(struct agent_proc *a, const char *text);
/* Start `kpiwatch ARGS... -c CONFIG` with stdout/stderr to files. */
void agent_start(struct agent_proc *a, const char *command);
/* Send sig, wait for exit (up to timeout_ms, then SIGKILL). Returns exit status. */
int agent_stop(struct agent_proc *a, int sig, int timeout_ms);
/* Still running? */
bool agent_alive(struct agent_proc *a);
/* Remove the temp dir. */
void agent_cleanup(struct agent_proc *a);

/* Whole file as a NUL-terminated string (caller frees); "" when missing. */
char *read_file(const char *path);
/* Wait until the file contains needle `count` times. Returns true if so. */
bool wait_for_text(const char *path, const char *needle, int count, int timeout_ms);
/* Occurrences of needle in text. */
int count_text(const char *text, const char *needle);
/* Run a command line, capture stdout+stderr into *output (caller frees);
 * returns the exit code. */
int run_capture(const char *cmdline, char **output);

/* Deterministic pseudo-random integer in [lo, hi] (xorshift). */
int harness_rand(uint32_t *state, int lo, int hi);
void sleep_ms(int ms);

#endif
