/* harness: process and socket helpers for the integration tests. */
#include "harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

const char *harness_binary(void)
{
    const char *bin = getenv("KPIWATCH_BIN");
    return bin && *bin ? bin : "./kpiwatch";
}

void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void harness_free_endpoint(char *buf, size_t len)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PULL);
    cr_assert_eq(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
    char ep[64];
    size_t eplen = sizeof ep;
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen);
    snprintf(buf, len, "%s", ep);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

void agent_prepare(struct agent_proc *a, const char *config_fmt)
{
    memset(a, 0, sizeof *a);
    snprintf(a->dir, sizeof a->dir, "/tmp/kpiwatch-it-XXXXXX");
    cr_assert_not_null(mkdtemp(a->dir));
    snprintf(a->config, sizeof a->config, "%s/kpiwatch.json", a->dir);
    snprintf(a->out_path, sizeof a->out_path, "%s/stdout", a->dir);
    snprintf(a->err_path, sizeof a->err_path, "%s/stderr", a->dir);
    harness_free_endpoint(a->endpoint, sizeof a->endpoint);
    char *text = NULL;
    cr_assert_geq(asprintf(&text, config_fmt, a->endpoint, a->dir), 0);
    agent_write_config(a, text);
    free(text);
}

void agent_write_config(struct agent_proc *a, const char *text)
{
    FILE *f = fopen(a->config, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

void agent_start(struct agent_proc *a, const char *command)
{
    a->pid = fork();
    cr_assert_geq(a->pid, 0);
    if (a->pid == 0) {
        int out = open(a->out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int err = open(a->err_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(out, 1);
        dup2(err, 2);
        /* KPIWATCH_WRAPPER runs the agent under a tool, e.g. valgrind. */
        char *argv[32];
        int argc = 0;
        char *wrapper = getenv("KPIWATCH_WRAPPER") ? strdup(getenv("KPIWATCH_WRAPPER")) : NULL;
        for (char *tok = wrapper ? strtok(wrapper, " ") : NULL; tok && argc < 24; tok = strtok(NULL, " "))
            argv[argc++] = tok;
        argv[argc++] = (char *)harness_binary();
        argv[argc++] = (char *)command;
        argv[argc++] = "-c";
        argv[argc++] = a->config;
        argv[argc] = NULL;
        execvp(argv[0], argv);
        _exit(127);
    }
    /* wait until it logs that it is running (or dies) */
    for (int i = 0; i < 600; i++) {
        char *text = read_file(a->err_path);
        bool up = strstr(text, "running:") != NULL;
        free(text);
        if (up || !agent_alive(a))
            break;
        sleep_ms(25);
    }
}

bool agent_alive(struct agent_proc *a)
{
    if (a->pid <= 0)
        return false;
    int status;
    pid_t r = waitpid(a->pid, &status, WNOHANG);
    if (r == a->pid) {
        a->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        a->pid = 0;
        return false;
    }
    return true;
}

int agent_stop(struct agent_proc *a, int sig, int timeout_ms)
{
    if (a->pid <= 0)
        return a->exit_status;
    kill(a->pid, sig);
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (!agent_alive(a))
            return a->exit_status;
        sleep_ms(20);
    }
    kill(a->pid, SIGKILL);
    int status;
    waitpid(a->pid, &status, 0);
    a->pid = 0;
    a->exit_status = 137;
    return a->exit_status;
}

void agent_cleanup(struct agent_proc *a)
{
    if (a->pid > 0)
        agent_stop(a, SIGKILL, 1000);
    if (a->dir[0]) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", a->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", a->dir);
    }
}

char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)(size > 0 ? size : 0) + 1);
    size_t n = size > 0 ? fread(buf, 1, (size_t)size, f) : 0;
    buf[n] = '\0';
    fclose(f);
    return buf;
}

int count_text(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

bool wait_for_text(const char *path, const char *needle, int count, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        char *text = read_file(path);
        int n = count_text(text, needle);
        free(text);
        if (n >= count)
            return true;
        if (waited >= timeout_ms)
            return false;
        sleep_ms(50);
    }
}

int run_capture(const char *cmdline, char **output)
{
    char *full = NULL;
    cr_assert_geq(asprintf(&full, "%s 2>&1", cmdline), 0);
    FILE *p = popen(full, "r");
    free(full);
    cr_assert_not_null(p);
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (len + 1 >= cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    int status = pclose(p);
    *output = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int harness_rand(uint32_t *state, int lo, int hi)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return lo + (int)(x % (uint32_t)(hi - lo + 1));
}
