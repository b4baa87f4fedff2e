/* fake: local receivers for delivery tests. */
#include "fake.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PY "/usr/bin/python3"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

void fake_start_cmd(struct fake_service *f, const char *const *argv)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/kw-fake-XXXXXX");
    cr_assert(mkdtemp(f->dir) != NULL);
    snprintf(f->log, sizeof f->log, "%s/requests.jsonl", f->dir);
    char portfile[192];
    snprintf(portfile, sizeof portfile, "%s/port", f->dir);
    char *args[32];
    int n = 0;
    for (; argv[n] && n < 31; n++) {
        const char *a = argv[n];
        if (strcmp(a, "%PORTFILE%") == 0)
            a = portfile;
        else if (strcmp(a, "%LOG%") == 0)
            a = f->log;
        else if (strcmp(a, "%DIR%") == 0)
            a = f->dir;
        args[n] = strdup(a); /* whole: a script may be long */
    }
    args[n] = NULL;
    f->pid = fork();
    cr_assert(f->pid >= 0);
    if (f->pid == 0) {
        execv(args[0], args);
        _exit(127);
    }
    for (int i = 0; i < n; i++)
        free(args[i]);
    for (int i = 0; i < 200; i++) { /* up to 10 s */
        char *text = slurp(portfile);
        f->port = atoi(text);
        free(text);
        if (f->port > 0)
            break;
        sleep_ms(50);
    }
    cr_assert(f->port > 0, "receiver %s did not start", argv[0]);
    snprintf(f->base_url, sizeof f->base_url, "http://127.0.0.1:%d", f->port);
}

void fake_start(struct fake_service *f, const char *service, const char *script_json)
{
    const char *argv[] = {PY, "tests/receivers/httpfake.py", "--port-file", "%PORTFILE%", "--log", "%LOG%",
                          "--service", service, "--script", script_json, NULL};
    fake_start_cmd(f, argv);
}

void fake_script(struct fake_service *f, const char *script_json)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -X POST --data-binary '%s' %s/_script", script_json, f->base_url);
    cr_assert_eq(system(cmd), 0);
}

cJSON *fake_requests(struct fake_service *f)
{
    cJSON *arr = cJSON_CreateArray();
    char *text = slurp(f->log);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        if (o)
            cJSON_AddItemToArray(arr, o);
    }
    free(text);
    return arr;
}

int fake_wait_requests(struct fake_service *f, int n, int timeout_ms)
{
    int seen = 0;
    for (int waited = 0;; waited += 20) {
        cJSON *arr = fake_requests(f);
        seen = cJSON_GetArraySize(arr);
        cJSON_Delete(arr);
        if (seen >= n || waited >= timeout_ms)
            return seen;
        sleep_ms(20);
    }
}

void fake_stop(struct fake_service *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        int status;
        for (int i = 0; i < 100 && waitpid(f->pid, &status, WNOHANG) == 0; i++)
            sleep_ms(20);
        kill(f->pid, SIGKILL);
        waitpid(f->pid, &status, 0);
    }
    if (f->dir[0]) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        if (system(cmd) != 0)
            perror("rm");
    }
    f->pid = 0;
}
