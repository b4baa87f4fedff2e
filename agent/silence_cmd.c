/* silence_cmd: silences from the command line, through the agent or the state directory. */
#include "silence_cmd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../lib/opts.h"
#include "../lib/strbuf.h"
#include "../lib/timefmt.h"
#include "api_client.h"
#include "config.h"
#include "matcher.h"
#include "silence.h"

enum { OK = 0, RUNTIME = 1, USAGE = 2, CONFIG = 3 };

const char kw_silence_cmd_usage[] = "add|list|expire [-c FILE] [OPTIONS] [MATCHER... | ID]";
const char kw_silence_cmd_help[] =
    "  kpiwatch silence add [-c FILE] [--duration D | --until TIME] [--start TIME] [--author NAME]\n"
    "                       [--comment TEXT] [--local] MATCHER...\n"
    "  kpiwatch silence list [-c FILE] [--all] [--json] [--local]\n"
    "  kpiwatch silence expire [-c FILE] [--local] ID\n"
    "Mute the notifications of alerts whose labels match, for a while; list and expire silences.\n"
    "Talks to the running agent's HTTP API (http.listen, http.port and http.token of the config) so\n"
    "the change applies at once; when no agent answers there, or with --local, edits\n"
    "STATE_DIR/silences.json directly (an agent reads it when it starts).\n"
    "  MATCHER            NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX (anchored);\n"
    "                     the KPI matches as kpi=..., the severity as severity=...\n"
    "  -c, --config FILE  config file (default /etc/kpiwatch/kpiwatch.json, else conf/kpiwatch.json)\n"
    "  --duration D       how long from the start: 30m, 2h, 1d (default 1h)\n"
    "  --until TIME       end instead, RFC 3339 (2026-11-23T18:00:00Z)\n"
    "  --start TIME       start later than now, RFC 3339\n"
    "  --author NAME      who silenced (default $SUDO_USER or $USER)\n"
    "  --comment TEXT     why\n"
    "  --all              list: include expired silences\n"
    "  --json             list: print the API's JSON, {\"silences\": [...]}\n"
    "  --local            edit the state directory even if an agent answers\n";


/* ---- the store in the state directory --------------------------------------- */

static struct kw_silences *open_local(const struct kw_config *cfg, const char *why)
{
    if (!cfg->state_dir) {
        fprintf(stderr, "kpiwatch silence: %s, and agent.state_dir is not set: there is nowhere to keep silences\n", why);
        return NULL;
    }
    fprintf(stderr, "kpiwatch silence: %s; using %s/silences.json (a running agent reads it when it restarts)\n", why,
            cfg->state_dir);
    mkdir(cfg->state_dir, 0750);
    struct kw_silences *s = kw_silences_open(cfg->state_dir);
    kw_silences_set_config(s, cfg->silences, cfg->nsilences);
    return s;
}

/* A file root writes for an agent that runs as another user must stay readable to it. */
static void give_to_state_owner(const struct kw_config *cfg)
{
    struct stat dir;
    char path[4200];
    snprintf(path, sizeof path, "%s/silences.json", cfg->state_dir);
    if (geteuid() == 0 && stat(cfg->state_dir, &dir) == 0 && dir.st_uid != 0)
        if (chown(path, dir.st_uid, dir.st_gid) != 0)
            fprintf(stderr, "kpiwatch silence: cannot give %s to the agent's user: %s\n", path, strerror(errno));
}

/* ---- printing ------------------------------------------------------------------ */

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void print_table(const cJSON *list, bool all)
{
    printf("%-36s  %-8s  %-24s  %-12s  %s\n", "ID", "STATUS", "ENDS", "BY", "MATCHERS / COMMENT");
    const cJSON *s;
    cJSON_ArrayForEach(s, list) {
        if (!all && strcmp(str(s, "status"), "expired") == 0)
            continue;
        struct kw_strbuf m;
        kw_strbuf_init(&m);
        const cJSON *mt;
        cJSON_ArrayForEach(mt, cJSON_GetObjectItemCaseSensitive(s, "matchers"))
            kw_strbuf_printf(&m, "%s%s%s\"%s\"", m.len ? "," : "", str(mt, "name"), str(mt, "op"), str(mt, "value"));
        printf("%-36s  %-8s  %-24s  %-12s  %s%s%s\n", str(s, "id"), str(s, "status"), str(s, "ends_at"),
               str(s, "created_by"), m.data ? m.data : "", str(s, "comment")[0] ? "  # " : "", str(s, "comment"));
        kw_strbuf_release(&m);
    }
}

/* ---- subcommands ------------------------------------------------------------------ */

struct args {
    const char *config, *duration, *until, *start, *author, *comment;
    bool local, json, all;
    const char *positional[32];
    int npositional;
};

static int parse_args(int argc, char **argv, const char *default_config, struct args *a, char *msg, size_t len)
{
    memset(a, 0, sizeof *a);
    a->config = default_config;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **value = strcmp(o, "-c") == 0 || strcmp(o, "--config") == 0 ? &a->config
                             : strcmp(o, "--duration") == 0                      ? &a->duration
                             : strcmp(o, "--until") == 0                         ? &a->until
                             : strcmp(o, "--start") == 0                         ? &a->start
                             : strcmp(o, "--author") == 0                        ? &a->author
                             : strcmp(o, "--comment") == 0                       ? &a->comment
                                                                                 : NULL;
        if (value) {
            if (i + 1 >= argc) {
                snprintf(msg, len, "%s needs a value", o);
                return -1;
            }
            *value = argv[++i];
        } else if (strcmp(o, "--local") == 0) {
            a->local = true;
        } else if (strcmp(o, "--json") == 0) {
            a->json = true;
        } else if (strcmp(o, "--all") == 0) {
            a->all = true;
        } else if (o[0] == '-' && o[1] == '-') {
            snprintf(msg, len, "unexpected argument %s", o);
            return -1;
        } else if (a->npositional < 32) {
            a->positional[a->npositional++] = o;
        } else {
            snprintf(msg, len, "too many arguments");
            return -1;
        }
    }
    return 0;
}

/* The JSON body of a new silence from the arguments. NULL with msg on a usage error. */
static char *silence_body(const struct args *a, char *msg, size_t len)
{
    if (a->npositional == 0) {
        snprintf(msg, len, "add needs at least one MATCHER (e.g. journey=checkout)");
        return NULL;
    }
    if (a->npositional > KW_SILENCE_MATCHERS) {
        snprintf(msg, len, "at most %d matchers", KW_SILENCE_MATCHERS);
        return NULL;
    }
    if (a->duration && a->until) {
        snprintf(msg, len, "--duration and --until exclude each other");
        return NULL;
    }
    int64_t now = kw_now_ms(), start = now, end;
    if (a->start && kw_time_parse(a->start, &start)) {
        snprintf(msg, len, "--start must be an RFC 3339 time, not \"%.60s\"", a->start);
        return NULL;
    }
    if (a->until) {
        if (kw_time_parse(a->until, &end)) {
            snprintf(msg, len, "--until must be an RFC 3339 time, not \"%.60s\"", a->until);
            return NULL;
        }
    } else {
        int64_t d = 3600000;
        if (a->duration && (kw_parse_duration(a->duration, &d) || d <= 0)) {
            snprintf(msg, len, "--duration must be a positive duration such as 30m, 2h or 1d, not \"%.60s\"", a->duration);
            return NULL;
        }
        end = start + d;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *ms = cJSON_AddArrayToObject(o, "matchers");
    for (int i = 0; i < a->npositional; i++) {
        struct kw_matcher m;
        char err[KW_ERR_LEN];
        if (kw_matcher_parse(&m, a->positional[i], "MATCHER", err, sizeof err)) {
            snprintf(msg, len, "%s", err);
            cJSON_Delete(o);
            return NULL;
        }
        static const char *const ops[] = {"=", "!=", "=~", "!~"};
        cJSON *mj = cJSON_CreateObject();
        cJSON_AddStringToObject(mj, "name", m.name);
        cJSON_AddStringToObject(mj, "value", m.value);
        cJSON_AddStringToObject(mj, "op", ops[m.op & 3]);
        cJSON_AddItemToArray(ms, mj);
        kw_matcher_release(&m);
    }
    char t[40];
    cJSON_AddStringToObject(o, "starts_at", kw_time_format(start, t, sizeof t));
    cJSON_AddStringToObject(o, "ends_at", kw_time_format(end, t, sizeof t));
    const char *author = a->author ? a->author : getenv("SUDO_USER") ? getenv("SUDO_USER")
                                                : getenv("USER")    ? getenv("USER")
                                                                    : "cli";
    cJSON_AddStringToObject(o, "created_by", author);
    cJSON_AddStringToObject(o, "comment", a->comment ? a->comment : "");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int do_add(const struct kw_config *cfg, const struct args *a, char *msg, size_t len)
{
    char *body = silence_body(a, msg, len);
    if (!body)
        return USAGE;
    int rc = RUNTIME;
    struct kw_api_reply r = {0};
    char err[512];
    int answered = cfg->http.port && !a->local ? kw_api_call(&cfg->http, "POST", "/api/v1/silences", body, &r, err, sizeof err) : 0;
    if (answered < 0) {
        fprintf(stderr, "kpiwatch silence: %s\n", err);
    } else if (answered) {
        cJSON *j = cJSON_Parse(r.body.data ? r.body.data : "");
        if (r.status == 201 && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "id"))) {
            printf("%s\n", cJSON_GetObjectItemCaseSensitive(j, "id")->valuestring);
            rc = OK;
        } else {
            kw_api_error(&r, err, sizeof err);
            fprintf(stderr, "kpiwatch silence: %s\n", err);
        }
        cJSON_Delete(j);
    } else {
        struct kw_silences *s = open_local(cfg, a->local ? "--local" : cfg->http.port ? "no agent answers" : "http.port is 0");
        cJSON *j = cJSON_Parse(body);
        struct kw_silence sil;
        if (s && (kw_silence_parse(&sil, j, kw_now_ms(), "silence", err, sizeof err) ||
                  kw_silences_add(s, &sil, err, sizeof err))) {
            fprintf(stderr, "kpiwatch silence: %s\n", err);
        } else if (s) {
            give_to_state_owner(cfg);
            printf("%s\n", sil.id);
            rc = OK;
        }
        cJSON_Delete(j);
        kw_silences_close(s);
    }
    kw_strbuf_release(&r.body);
    cJSON_free(body);
    return rc;
}

static int do_list(const struct kw_config *cfg, const struct args *a)
{
    struct kw_api_reply r = {0};
    char err[512];
    cJSON *list = NULL;
    int answered = cfg->http.port && !a->local ? kw_api_call(&cfg->http, "GET", "/api/v1/silences", NULL, &r, err, sizeof err) : 0;
    if (answered < 0) {
        fprintf(stderr, "kpiwatch silence: %s\n", err);
    } else if (answered) {
        cJSON *j = cJSON_Parse(r.body.data ? r.body.data : "");
        if (r.status == 200 && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "silences")))
            list = cJSON_DetachItemFromObject(j, "silences");
        else {
            kw_api_error(&r, err, sizeof err);
            fprintf(stderr, "kpiwatch silence: %s\n", err);
        }
        cJSON_Delete(j);
    } else {
        struct kw_silences *s = open_local(cfg, a->local ? "--local" : cfg->http.port ? "no agent answers" : "http.port is 0");
        if (s)
            list = kw_silences_list(s, kw_now_ms());
        kw_silences_close(s);
    }
    kw_strbuf_release(&r.body);
    if (!list)
        return RUNTIME;
    if (a->json) { /* the API's shape, whether the list came from the agent or the state directory */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "silences", list);
        char *text = cJSON_Print(o);
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(o);
    } else {
        print_table(list, a->all);
        cJSON_Delete(list);
    }
    return OK;
}

static int do_expire(const struct kw_config *cfg, const struct args *a, char *msg, size_t len)
{
    if (a->npositional != 1) {
        snprintf(msg, len, "expire needs exactly one silence ID");
        return USAGE;
    }
    const char *id = a->positional[0];
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-')) {
            snprintf(msg, len, "a silence ID has letters, digits and dashes only");
            return USAGE;
        }
    struct kw_api_reply r = {0};
    char err[512], path[128];
    snprintf(path, sizeof path, "/api/v1/silences/%.64s", id);
    int rc = RUNTIME;
    int answered = cfg->http.port && !a->local ? kw_api_call(&cfg->http, "DELETE", path, NULL, &r, err, sizeof err) : 0;
    if (answered < 0) {
        fprintf(stderr, "kpiwatch silence: %s\n", err);
    } else if (answered) {
        if (r.status == 200) {
            printf("expired %s\n", id);
            rc = OK;
        } else {
            kw_api_error(&r, err, sizeof err);
            fprintf(stderr, "kpiwatch silence: %s\n", err);
        }
    } else {
        struct kw_silences *s = open_local(cfg, a->local ? "--local" : cfg->http.port ? "no agent answers" : "http.port is 0");
        if (s && kw_silences_expire(s, id, kw_now_ms()) == 0) {
            give_to_state_owner(cfg);
            printf("expired %s\n", id);
            rc = OK;
        } else if (s) {
            fprintf(stderr, "kpiwatch silence: no silence %s that can be expired (config silences cannot)\n", id);
        }
        kw_silences_close(s);
    }
    kw_strbuf_release(&r.body);
    return rc;
}

int kw_silence_cmd(int argc, char **argv, const char *default_config, char *usage_msg, size_t usage_len)
{
    if (argc < 1) {
        snprintf(usage_msg, usage_len, "which one: add, list or expire?");
        return USAGE;
    }
    const char *verb = argv[0];
    if (strcmp(verb, "add") != 0 && strcmp(verb, "list") != 0 && strcmp(verb, "expire") != 0) {
        snprintf(usage_msg, usage_len, "unknown subcommand \"%.40s\" (add, list or expire)", verb);
        return USAGE;
    }
    struct args a;
    if (parse_args(argc, argv, default_config, &a, usage_msg, usage_len))
        return USAGE;
    if (strcmp(verb, "add") != 0 && (a.duration || a.until || a.start || a.author || a.comment)) {
        snprintf(usage_msg, usage_len, "--duration, --until, --start, --author and --comment belong to add");
        return USAGE;
    }
    if (strcmp(verb, "list") == 0 && a.npositional) {
        snprintf(usage_msg, usage_len, "unexpected argument %s", a.positional[0]);
        return USAGE;
    }
    struct kw_config cfg;
    char err[KW_ERR_LEN];
    if (kw_config_load(&cfg, a.config, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return CONFIG;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = strcmp(verb, "add") == 0    ? do_add(&cfg, &a, usage_msg, usage_len)
             : strcmp(verb, "list") == 0 ? do_list(&cfg, &a)
                                         : do_expire(&cfg, &a, usage_msg, usage_len);
    curl_global_cleanup();
    kw_config_release(&cfg);
    return rc;
}
