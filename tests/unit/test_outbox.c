/* The outbox's grouping into incidents, in event time: group_wait,
 * group_interval and repeat_interval; the correlation window; a roll-up
 * absorbing its children's waiting alerts; and open incidents kept across
 * a restart of the outbox. Receivers are consoles on stderr; what was
 * handed to them is read from the dispatcher's counters. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/config.h"
#include "../../agent/outbox.h"
#include "../../lib/log.h"
#include "../../lib/timefmt.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */
#define MIN 60000LL
#define IV (5 * MIN)

static struct kw_config cfg;

static void load(const char *route_and_more)
{
    kw_log_set_level(KW_LOG_OFF);
    char *json = NULL, err[KW_ERR_LEN];
    cr_assert_geq(asprintf(&json,
                           "{\"kpis\": [{\"name\": \"c\", \"metric\": \"c\", \"group_by\": [\"journey\"], \"rollups\": [[]]}],"
                           " \"receivers\": [{\"name\": \"team\", \"type\": \"console\", \"stream\": \"stderr\"},"
                           "   {\"name\": \"probe\", \"type\": \"console\", \"stream\": \"stderr\"}],"
                           " \"route\": {\"receiver\": \"team\", \"group_by\": [\"journey\"], %s,"
                           "   \"routes\": [{\"matchers\": [\"kpi=probe\"], \"receiver\": \"probe\", \"group_wait\": \"0s\", \"repeat_interval\": \"0s\","
                           "   \"group_by\": [\"name\"]}, {\"receiver\": \"team\"}]}}",
                           route_and_more),
                  0);
    cr_assert_eq(kw_config_parse(&cfg, json, "t.json", err, sizeof err), 0, "%s", err);
    free(json);
}

static void unload(void)
{
    kw_config_release(&cfg);
}

static struct kw_alert alert(const char *kpi, const char *journey, int64_t since, int64_t at)
{
    struct kw_alert a = {0};
    snprintf(a.kpi, sizeof a.kpi, "%s", kpi);
    snprintf(a.key, sizeof a.key, "%.10s.%.10s", kpi, journey ? journey : "all");
    if (journey) {
        snprintf(a.labels[0].name, sizeof a.labels[0].name, "journey");
        snprintf(a.labels[0].value, sizeof a.labels[0].value, "%s", journey);
        a.nlabels = 1;
    }
    a.status = KW_ALERT_FIRING;
    a.since_ms = since;
    a.at_ms = at;
    a.interval_ms = IV;
    a.observed = 10;
    return a;
}

static uint64_t queued(struct kw_outbox *o, int r)
{
    struct kw_receiver_stats rs;
    kw_outbox_receiver_stats(o, r, &rs);
    return rs.queued;
}

/* Everything sent to the outbox before has been handled once a probe alert
 * (its own group, no wait) reaches the probe receiver. clock is the event
 * time the probe carries (its interval ends there). */
static int probe_seq; /* probe names never repeat, even across a restart of the outbox */

static void barrier(struct kw_outbox *o, int64_t clock, int *probes)
{
    char name[16];
    snprintf(name, sizeof name, "p%d", probe_seq++);
    (*probes)++;
    struct kw_alert p = alert("probe", NULL, clock - IV, clock - IV);
    snprintf(p.labels[0].name, sizeof p.labels[0].name, "name");
    snprintf(p.labels[0].value, sizeof p.labels[0].value, "%s", name);
    p.nlabels = 1;
    snprintf(p.key, sizeof p.key, "probe.%s", name);
    kw_outbox_alert(o, &p);
    for (int i = 0; i < 20000 && queued(o, 1) < (uint64_t)*probes; i++)
        usleep(1000);
    cr_assert_eq(queued(o, 1), (uint64_t)*probes, "the outbox did not get to the probe (%llu of %d)",
                 (unsigned long long)queued(o, 1), *probes);
    /* and the incidents it publishes after that pass include the probe's */
    char want[32];
    snprintf(want, sizeof want, "\"%s\"", name);
    for (int i = 0; i < 20000; i++) {
        char *text = kw_outbox_incidents_json(o);
        bool seen = text && strstr(text, want);
        free(text);
        if (seen)
            return;
        usleep(1000);
    }
    cr_assert_fail("the incidents snapshot never showed the probe");
}

/* Incidents of the team receiver in the published snapshot. */
static cJSON *team_incidents(struct kw_outbox *o)
{
    char *text = kw_outbox_incidents_json(o);
    cJSON *root = cJSON_Parse(text ? text : "{}"), *out = cJSON_CreateArray(), *i;
    free(text);
    cJSON_ArrayForEach(i, cJSON_GetObjectItem(root, "incidents"))
        if (strcmp(cJSON_GetObjectItem(i, "receiver")->valuestring, "team") == 0)
            cJSON_AddItemToArray(out, cJSON_Duplicate(i, true));
    cJSON_Delete(root);
    return out;
}

/* The console receivers write to stderr: keep what they say. */
struct capture {
    char path[32];
    int fd, saved;
};

static struct capture capture_start(void)
{
    struct capture c = {.path = "/tmp/kw-outbox-console-XXXXXX"};
    c.fd = mkstemp(c.path);
    fflush(stderr);
    c.saved = dup(2);
    dup2(c.fd, 2);
    return c;
}

/* Everything written since capture_start (malloc'd); stderr is back. */
static char *capture_end(struct capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    char *text = calloc(1, 65536);
    lseek(c->fd, 0, SEEK_SET);
    cr_assert_gt(read(c->fd, text, 65535), 0);
    close(c->fd);
    unlink(c->path);
    return text;
}

Test(outbox, group_wait_then_group_interval_then_repeat_interval, .fini = unload, .timeout = 60)
{
    load("\"group_wait\": \"30s\", \"group_interval\": \"5m\", \"repeat_interval\": \"1h\"");
    char err[KW_ERR_LEN];
    struct capture cap = capture_start();
    struct kw_outbox *o = kw_outbox_start(&cfg, NULL, NULL, err, sizeof err);
    cr_assert(o, "%s", err);
    int probes = 0;
    struct kw_alert a = alert("c", "checkout", T0, T0); /* its interval ends at T0 + 5m */
    kw_outbox_alert(o, &a);
    barrier(o, T0 + IV + 29000, &probes);
    cr_assert_eq(queued(o, 0), 0, "sent before group_wait");
    barrier(o, T0 + IV + 30000, &probes);
    cr_assert_eq(queued(o, 0), 1, "not sent after group_wait");
    char key[64];
    cJSON *inc = team_incidents(o);
    snprintf(key, sizeof key, "%s", cJSON_GetObjectItem(cJSON_GetArrayItem(inc, 0), "key")->valuestring);
    cJSON_Delete(inc);
    /* a second member: sent group_interval after the first notification, not before */
    struct kw_alert b = alert("c", "checkout", T0 + IV, T0 + IV);
    b.key[0] = 'd';
    kw_outbox_alert(o, &b);
    barrier(o, T0 + 2 * IV + 29000, &probes);
    cr_assert_eq(queued(o, 0), 1, "an update went out before group_interval");
    barrier(o, T0 + 2 * IV + 30000, &probes);
    cr_assert_eq(queued(o, 0), 2, "the changed group was not sent after group_interval");
    /* unchanged: nothing until repeat_interval after the last notification */
    barrier(o, T0 + 2 * IV + 30000 + 59 * MIN, &probes);
    cr_assert_eq(queued(o, 0), 2, "an unchanged group was sent again before repeat_interval");
    /* repeats are looked at on the group_interval ticks, as in Alertmanager */
    barrier(o, T0 + 2 * IV + 30000 + 64 * MIN, &probes);
    cr_assert_eq(queued(o, 0), 3, "no repeat after repeat_interval");
    kw_outbox_stop(o, 5000); /* delivered (the console writes at once) before the output is read */
    /* the console told new, updated and then reminder: nothing had changed */
    char *text = capture_end(&cap);
    const char *kinds[] = {" · new · ", " · updated · ", " · reminder · "};
    const char *at = text;
    for (int i = 0; i < 3; i++) {
        char want[96];
        snprintf(want, sizeof want, "── incident %s%s", key, kinds[i]);
        at = strstr(at, want);
        cr_assert_not_null(at, "no \"%s\" in order in: %s", want, text);
    }
    free(text);
}

/* The incident's first mover stays its first mover after it resolves: the
 * headers of the later update and of the resolve name it, marked resolved,
 * not the member that happens to be firing (or listed) last. */
Test(outbox, the_first_mover_is_kept_after_it_resolves, .fini = unload, .timeout = 60)
{
    load("\"group_wait\": \"0s\", \"group_interval\": \"5m\", \"repeat_interval\": \"0s\"");
    char err[KW_ERR_LEN];
    struct capture cap = capture_start();
    struct kw_outbox *o = kw_outbox_start(&cfg, NULL, NULL, err, sizeof err);
    cr_assert(o, "%s", err);
    int probes = 0;
    struct kw_alert first = alert("c", "checkout", T0, T0), later = alert("c", "checkout", T0 + 2 * IV, T0 + 2 * IV);
    later.key[0] = 'd';
    snprintf(later.labels[0].value, sizeof later.labels[0].value, "checkout");
    kw_outbox_alert(o, &first);
    barrier(o, T0 + IV, &probes);
    kw_outbox_alert(o, &later);
    barrier(o, T0 + 3 * IV + MIN, &probes);
    first.status = KW_ALERT_RESOLVED;
    first.at_ms = T0 + 4 * IV;
    kw_outbox_alert(o, &first);
    barrier(o, T0 + 5 * IV + 2 * MIN, &probes);
    cJSON *inc = team_incidents(o);
    const cJSON *fm = cJSON_GetObjectItem(cJSON_GetArrayItem(inc, 0), "first_mover");
    cr_assert(cJSON_IsString(fm) && strcmp(fm->valuestring, "c [journey=checkout] since 2026-01-01T00:00:00Z") == 0,
              "the incidents file keeps the first mover");
    cJSON_Delete(inc);
    later.status = KW_ALERT_RESOLVED;
    later.at_ms = T0 + 6 * IV;
    kw_outbox_alert(o, &later);
    barrier(o, T0 + 7 * IV + 3 * MIN, &probes);
    kw_outbox_stop(o, 5000); /* delivered (the console writes at once) before the output is read */
    char *text = capture_end(&cap);
    const char *want[] = {" · new · 1 alert · first mover c [journey=checkout] since 2026-01-01T00:00:00Z\n",
                          " · updated · 2 alerts · first mover c [journey=checkout] since 2026-01-01T00:00:00Z\n",
                          " · updated · 2 alerts · first mover c [journey=checkout] since 2026-01-01T00:00:00Z, "
                          "resolved\n",
                          " · resolved · 1 alert · first mover c [journey=checkout] since 2026-01-01T00:00:00Z\n"};
    const char *at = text;
    for (int i = 0; i < 4; i++) {
        at = strstr(at, want[i]);
        cr_assert_not_null(at, "no \"%s\" in order in: %s", want[i], text);
        at++;
    }
    free(text);
}

/* A roll-up that absorbs the child that started its incident becomes the
 * first mover: the child was never notified, and it has not resolved. */
Test(outbox, a_rollup_that_absorbs_the_first_mover_takes_its_place, .fini = unload, .timeout = 60)
{
    kw_log_set_level(KW_LOG_OFF);
    char err[KW_ERR_LEN];
    const char *json =
        "{\"kpis\": [{\"name\": \"d\", \"metric\": \"d\", \"group_by\": [\"journey\", \"step\"], \"rollups\": [[\"journey\"]]},"
        "  {\"name\": \"n\", \"metric\": \"n\", \"group_by\": [\"journey\"]}],"
        " \"receivers\": [{\"name\": \"team\", \"type\": \"console\", \"stream\": \"stderr\"},"
        "   {\"name\": \"probe\", \"type\": \"console\", \"stream\": \"stderr\"}],"
        " \"route\": {\"receiver\": \"team\", \"group_by\": [\"journey\"], \"group_wait\": \"30s\","
        "   \"routes\": [{\"matchers\": [\"kpi=probe\"], \"receiver\": \"probe\", \"group_wait\": \"0s\","
        "   \"repeat_interval\": \"0s\", \"group_by\": [\"name\"]}, {\"receiver\": \"team\"}]}}";
    cr_assert_eq(kw_config_parse(&cfg, json, "t.json", err, sizeof err), 0, "%s", err);
    struct kw_outbox *o = kw_outbox_start(&cfg, NULL, NULL, err, sizeof err);
    cr_assert(o, "%s", err);
    int probes = 0;
    struct kw_alert child = alert("d", "checkout", T0, T0), nps = alert("n", "checkout", T0 + MIN, T0);
    snprintf(child.labels[1].name, sizeof child.labels[1].name, "step");
    snprintf(child.labels[1].value, sizeof child.labels[1].value, "pay");
    child.nlabels = 2;
    struct kw_alert total = alert("d:journey", "checkout", T0, T0);
    snprintf(total.rollup_of, sizeof total.rollup_of, "d");
    kw_outbox_alert(o, &child);
    kw_outbox_alert(o, &nps);
    kw_outbox_alert(o, &total);
    barrier(o, T0 + 2 * IV + 30000, &probes);
    cJSON *inc = team_incidents(o);
    cr_assert_eq(cJSON_GetArraySize(inc), 1);
    const cJSON *fm = cJSON_GetObjectItem(cJSON_GetArrayItem(inc, 0), "first_mover");
    cr_assert(cJSON_IsString(fm), "no first mover");
    cr_assert_str_eq(fm->valuestring, "d:journey [journey=checkout] since 2026-01-01T00:00:00Z");
    cJSON_Delete(inc);
    kw_outbox_stop(o, 0);
}

/* A firing alert's refreshed numbers reach its group: a rise to critical
 * is an update by itself, and it shows the impact so far, not the first
 * interval's; a refresh that changes no severity sends nothing. */
Test(outbox, refreshed_numbers_show_and_a_rise_to_critical_is_told, .fini = unload, .timeout = 60)
{
    load("\"group_wait\": \"0s\", \"group_interval\": \"5m\", \"repeat_interval\": \"0s\"");
    char err[KW_ERR_LEN];
    struct capture cap = capture_start();
    struct kw_outbox *o = kw_outbox_start(&cfg, NULL, NULL, err, sizeof err);
    cr_assert(o, "%s", err);
    int probes = 0;
    struct kw_alert a = alert("c", "checkout", T0, T0);
    a.kind = KW_KIND_COUNT;
    snprintf(a.unit, sizeof a.unit, "complaints");
    a.impact = 10;
    a.severity = KW_SEV_WARNING;
    kw_outbox_alert(o, &a);
    barrier(o, T0 + IV, &probes);
    uint64_t first = queued(o, 0);
    a.at_ms = T0 + IV;
    a.impact = 30;
    kw_outbox_refresh(o, &a); /* still a warning: nothing to tell */
    barrier(o, T0 + 3 * IV, &probes);
    cr_assert_eq(queued(o, 0), first, "a refresh alone was notified");
    a.at_ms = T0 + 3 * IV;
    a.impact = 55;
    a.severity = KW_SEV_CRITICAL;
    kw_outbox_refresh(o, &a);
    barrier(o, T0 + 5 * IV, &probes);
    cr_assert_eq(queued(o, 0), first + 1, "the rise to critical was not told");
    kw_outbox_stop(o, 5000); /* delivered (the console writes at once) before the output is read */
    char *text = capture_end(&cap);
    const char *update = strstr(text, " · updated · 1 alert · first mover c [journey=checkout]");
    cr_assert_not_null(update, "%s", text);
    cr_assert(strstr(update, "FIRING critical | c [journey=checkout]") && strstr(update, "+55 complaints over expected"),
              "the update shows the numbers as they are: %s", update);
    free(text);
}

/* After a restore, an open incident's member whose series no longer fires
 * is resolved and told, not left open at the receivers for good; one that
 * still fires stays. */
Test(outbox, members_that_no_longer_fire_after_a_restore_are_resolved, .fini = unload, .timeout = 60)
{
    load("\"group_wait\": \"0s\", \"group_interval\": \"5m\", \"repeat_interval\": \"0s\"");
    char err[KW_ERR_LEN];
    struct capture cap = capture_start();
    struct kw_outbox *o = kw_outbox_start(&cfg, NULL, NULL, err, sizeof err);
    cr_assert(o, "%s", err);
    int probes = 0;
    struct kw_alert a = alert("c", "checkout", T0, T0), b = alert("c", "checkout", T0, T0);
    b.key[0] = 'b';
    kw_outbox_alert(o, &a);
    kw_outbox_alert(o, &b);
    barrier(o, T0 + IV, &probes);
    /* the probes fire on, and b came back; a did not */
    char (*keys)[24] = malloc((size_t)(probe_seq + 2) * sizeof *keys);
    int n = 0;
    for (int i = 0; i < probe_seq + 1; i++) /* the next barrier's probe too */
        snprintf(keys[n++], sizeof keys[0], "probe.p%d", i);
    snprintf(keys[n++], sizeof keys[0], "%s", b.key);
    kw_outbox_reconcile(o, keys, (size_t)n);
    barrier(o, T0 + 3 * IV, &probes);
    cJSON *inc = team_incidents(o);
    cr_assert_eq(cJSON_GetArraySize(inc), 1);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(inc, 0), "members")), 1, "b goes on");
    cJSON_Delete(inc);
    keys = malloc((size_t)(probe_seq + 1) * sizeof *keys); /* only the probes fire */
    n = 0;
    for (int i = 0; i < probe_seq + 1; i++)
        snprintf(keys[n++], sizeof keys[0], "probe.p%d", i);
    kw_outbox_reconcile(o, keys, (size_t)n);
    barrier(o, T0 + 5 * IV, &probes);
    inc = team_incidents(o);
    cr_assert_eq(cJSON_GetArraySize(inc), 0, "the incident is over");
    cJSON_Delete(inc);
    kw_outbox_stop(o, 5000); /* delivered (the console writes at once) before the output is read */
    char *text = capture_end(&cap);
    const char *upd = strstr(text, " · updated · 2 alerts");
    cr_assert_not_null(upd, "a's end is told: %s", text);
    cr_assert(strstr(upd, "RESOLVED | c [journey=checkout] stopped reporting"), "%s", upd);
    cr_assert_not_null(strstr(upd, " · resolved · 1 alert"), "and then the incident's: %s", text);
    free(text);
}

Test(outbox, correlation_window_opens_a_new_incident_for_a_late_starter, .fini = unload, .timeout = 60)
{
    load("\"group_wait\": \"0s\", \"correlation_window\": \"10m\"");
    char err[KW_ERR_LEN];
    struct kw_outbox *o = kw_outbox_start(&cfg, NULL, NULL, err, sizeof err);
    cr_assert(o, "%s", err);
    int probes = 0;
    struct kw_alert first = alert("c", "checkout", T0, T0);
    struct kw_alert near = alert("c", "checkout", T0 + 2 * IV, T0 + 2 * IV); /* 10 min after: the same incident */
    struct kw_alert late = alert("c", "checkout", T0 + 3 * IV, T0 + 3 * IV); /* 15 min after: a new one */
    near.key[0] = 'n';
    late.key[0] = 'l';
    kw_outbox_alert(o, &first);
    kw_outbox_alert(o, &near);
    kw_outbox_alert(o, &late);
    barrier(o, T0 + 4 * IV, &probes);
    cJSON *inc = team_incidents(o);
    cr_assert_eq(cJSON_GetArraySize(inc), 2, "%s", cJSON_PrintUnformatted(inc));
    cJSON *a = cJSON_GetArrayItem(inc, 0), *b = cJSON_GetArrayItem(inc, 1);
    if (cJSON_GetArraySize(cJSON_GetObjectItem(a, "members")) == 1) {
        cJSON *t = a;
        a = b;
        b = t;
    }
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(a, "members")), 2);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(b, "members")), 1);
    cr_assert_str_neq(cJSON_GetObjectItem(a, "key")->valuestring, cJSON_GetObjectItem(b, "key")->valuestring);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "group"), "journey")->valuestring, "checkout");
    cJSON_Delete(inc);
    kw_outbox_stop(o, 0);
}

Test(outbox, a_firing_rollup_absorbs_its_childrens_waiting_alerts, .fini = unload, .timeout = 60)
{
    load("\"group_wait\": \"30s\"");
    char err[KW_ERR_LEN];
    struct kw_outbox *o = kw_outbox_start(&cfg, NULL, NULL, err, sizeof err);
    cr_assert(o, "%s", err);
    int probes = 0;
    struct kw_alert child = alert("c", "checkout", T0, T0), other = alert("c", "claims", T0, T0);
    other.key[0] = 'o';
    kw_outbox_alert(o, &child);
    kw_outbox_alert(o, &other);
    struct kw_alert total = alert("c:total", NULL, T0, T0);
    snprintf(total.rollup_of, sizeof total.rollup_of, "c");
    kw_outbox_alert(o, &total);
    barrier(o, T0 + IV + 30000, &probes);
    cr_assert_eq(queued(o, 0), 1, "children were notified beside their roll-up");
    struct kw_outbox_stats st;
    kw_outbox_stats(o, &st);
    cr_assert_eq(st.inhibited, 2);
    cJSON *inc = team_incidents(o);
    cr_assert_eq(cJSON_GetArraySize(inc), 1);
    cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(inc, 0), "members"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "alert"), "kpi")->valuestring, "c:total");
    cJSON_Delete(inc);
    /* a new child alert while the roll-up fires is held back too */
    struct kw_alert later = alert("c", "support", T0 + IV, T0 + IV);
    later.key[0] = 's';
    kw_outbox_alert(o, &later);
    barrier(o, T0 + 3 * IV, &probes);
    cr_assert_eq(queued(o, 0), 1);
    kw_outbox_stop(o, 0);
}

/* A store with one silence on journey=checkout, active in [starts, ends). */
static struct kw_silences *checkout_silence(int64_t starts, int64_t ends)
{
    struct kw_silences *s = kw_silences_open(NULL);
    struct kw_silence sil = {.nmatchers = 1, .starts_ms = starts, .ends_ms = ends};
    snprintf(sil.matchers[0].name, sizeof sil.matchers[0].name, "journey");
    snprintf(sil.matchers[0].value, sizeof sil.matchers[0].value, "checkout");
    sil.matchers[0].op = KW_MATCH_EQ;
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_silences_add(s, &sil, err, sizeof err), 0, "%s", err);
    return s;
}

/* Notifications the team receiver got for one checkout alert at T0 (its
 * interval ends at T0 + 5m, group_wait 30s), under a silence active in
 * [starts, ends), with silences judged at event time or at the wall clock. */
static uint64_t sent_under_silence(int64_t starts, int64_t ends, bool event_time)
{
    struct kw_silences *s = checkout_silence(starts, ends);
    char err[KW_ERR_LEN];
    struct kw_outbox *o = kw_outbox_start(&cfg, NULL, s, err, sizeof err);
    cr_assert(o, "%s", err);
    if (event_time)
        kw_outbox_silence_at_event_time(o);
    int probes = 0;
    struct kw_alert a = alert("c", "checkout", T0, T0);
    kw_outbox_alert(o, &a);
    barrier(o, T0 + IV + 30000, &probes);
    uint64_t sent = queued(o, 0);
    kw_outbox_stop(o, 0);
    kw_silences_close(s);
    return sent;
}

/* The daemon judges silences at the wall clock (people set them in wall
 * time); a replay at the recorded data's time, both when the alert arrives
 * and when its group's notification is due. */
Test(outbox, silences_are_judged_at_the_wall_clock_or_in_a_replay_at_event_time, .fini = unload, .timeout = 60)
{
    load("\"group_wait\": \"30s\"");
    int64_t now = kw_now_ms();
    int64_t hour = 60 * MIN;
    /* the daemon: a silence covering now holds back an alert of any event time */
    cr_assert_eq(sent_under_silence(now - hour, now + hour, false), 0, "the daemon ignored a silence active now");
    cr_assert_eq(sent_under_silence(T0 - hour, T0 + hour, false), 1, "the daemon judged a silence at event time");
    /* a replay: what counts is the silence at the data's time */
    cr_assert_eq(sent_under_silence(T0 - hour, T0 + hour, true), 0, "a replay sent an alert silenced at its time");
    cr_assert_eq(sent_under_silence(now - hour, now + hour, true), 1, "a replay held back an alert by today's silence");
    /* one that starts after the alert arrived, before its group_wait ended */
    cr_assert_eq(sent_under_silence(T0 + IV + 10000, T0 + hour, true), 0,
                 "a replay sent a notification silenced when it was due");
}

static char *slurp(const char *path);

Test(outbox, open_incidents_survive_a_restart, .fini = unload, .timeout = 60)
{
    load("\"group_wait\": \"0s\", \"correlation_window\": \"1h\"");
    char dir[] = "/tmp/kw-outbox-XXXXXX", err[KW_ERR_LEN];
    cr_assert_not_null(mkdtemp(dir));
    struct kw_outbox *o = kw_outbox_start(&cfg, dir, NULL, err, sizeof err);
    cr_assert(o, "%s", err);
    int probes = 0;
    struct kw_alert a = alert("c", "checkout", T0, T0), b = alert("c", "checkout", T0 + IV, T0 + IV);
    b.key[0] = 'b';
    kw_outbox_alert(o, &a);
    kw_outbox_alert(o, &b);
    barrier(o, T0 + 2 * IV, &probes);
    cJSON *before = team_incidents(o);
    cr_assert_eq(cJSON_GetArraySize(before), 1);
    char key[64];
    snprintf(key, sizeof key, "%s", cJSON_GetObjectItem(cJSON_GetArrayItem(before, 0), "key")->valuestring);
    cJSON_Delete(before);
    kw_outbox_stop(o, 0);

    /* as a version that did not keep the first mover wrote it */
    char path[128];
    snprintf(path, sizeof path, "%s/incidents.json", dir);
    char *text = slurp(path);
    cJSON *file = cJSON_Parse(text);
    free(text);
    cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItem(file, "incidents")) {
        cr_assert_not_null(cJSON_GetObjectItem(g, "first_mover"), "the file keeps the first mover");
        cJSON_DeleteItemFromObject(g, "first_mover");
        cJSON_DeleteItemFromObject(g, "first_mover_key");
        cJSON_DeleteItemFromObject(g, "first_mover_since_ms");
    }
    text = cJSON_PrintUnformatted(file);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    cJSON_Delete(file);

    o = kw_outbox_start(&cfg, dir, NULL, err, sizeof err);
    cr_assert(o, "%s", err);
    probes = 0;
    /* the later starter resolves first: it must close nothing on its own,
     * and the first mover, not in that file, is its earliest member */
    b.status = KW_ALERT_RESOLVED;
    b.at_ms = T0 + 3 * IV;
    kw_outbox_alert(o, &b);
    barrier(o, T0 + 4 * IV + 5 * MIN, &probes);
    cJSON *after = team_incidents(o);
    cr_assert_eq(cJSON_GetArraySize(after), 1, "the restored incident is gone or split");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(after, 0), "key")->valuestring, key);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(after, 0), "members")), 1, "%s", cJSON_PrintUnformatted(after));
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(after, 0), "first_mover")->valuestring,
                     "c [journey=checkout] since 2026-01-01T00:00:00Z");
    cJSON_Delete(after);
    a.status = KW_ALERT_RESOLVED;
    a.at_ms = T0 + 4 * IV;
    kw_outbox_alert(o, &a);
    barrier(o, T0 + 6 * IV, &probes);
    after = team_incidents(o);
    cr_assert_eq(cJSON_GetArraySize(after), 0, "resolved, yet still open");
    cJSON_Delete(after);
    kw_outbox_stop(o, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = calloc(1, 1 << 20);
    fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    return text;
}

/* An alert storm opens many groups at once: the incidents file is written
 * at most once a second, not once an alert. A write is not left for the
 * stop, and what was written restores the groups after a crash (a copy of
 * the file taken while the first outbox still runs). */
Test(outbox, an_alert_storm_writes_the_incidents_file_once_a_second, .fini = unload, .timeout = 60)
{
    load("\"group_wait\": \"30s\"");
    /* the console receiver tells of every group at the stops: not worth reading */
    fflush(stderr);
    int quiet = open("/dev/null", O_WRONLY);
    dup2(quiet, 2);
    close(quiet);
    char dir[] = "/tmp/kw-outbox-XXXXXX", copy[] = "/tmp/kw-outbox-XXXXXX", path[64], err[KW_ERR_LEN];
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_not_null(mkdtemp(copy));
    snprintf(path, sizeof path, "%s/incidents.json", dir);
    int64_t began = kw_mono_ms();
    struct kw_outbox *o = kw_outbox_start(&cfg, dir, NULL, err, sizeof err);
    cr_assert(o, "%s", err);
    int probes = 0;
    enum { STORM = 300 };
    for (int i = 0; i < STORM; i++) {
        char journey[16];
        snprintf(journey, sizeof journey, "j%d", i);
        struct kw_alert a = alert("c", journey, T0, T0);
        kw_outbox_alert(o, &a);
    }
    barrier(o, T0 + IV, &probes);
    /* the last group reaches the file without a stop */
    char *text = NULL;
    for (int i = 0; i < 10000; i++) {
        free(text);
        text = slurp(path);
        if (text && strstr(text, "\"j299\""))
            break;
        usleep(1000);
    }
    cr_assert(text && strstr(text, "\"j299\""), "the storm's last group never reached the incidents file");
    struct kw_outbox_stats st;
    kw_outbox_stats(o, &st);
    int64_t seconds = (kw_mono_ms() - began) / 1000;
    cr_assert_leq(st.incident_saves, (uint64_t)seconds + 2, "%llu writes in %lld s",
                  (unsigned long long)st.incident_saves, (long long)seconds);

    char copied[64];
    snprintf(copied, sizeof copied, "%s/incidents.json", copy);
    FILE *f = fopen(copied, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    struct kw_outbox *after = kw_outbox_start(&cfg, copy, NULL, err, sizeof err);
    cr_assert(after, "%s", err);
    probes = 0;
    barrier(after, T0 + IV, &probes);
    cJSON *inc = team_incidents(after);
    cr_assert_eq(cJSON_GetArraySize(inc), STORM, "restored %d of %d groups", cJSON_GetArraySize(inc), STORM);
    cJSON_Delete(inc);
    kw_outbox_stop(after, 0);
    kw_outbox_stop(o, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, copy);
    cr_assert_eq(system(cmd), 0);
}

/* A damaged incidents file is read as far as it checks out, never trusted:
 * the outbox starts, and what did not check out is left out. */
Test(outbox, damaged_incidents_files_are_survived, .fini = unload, .timeout = 60)
{
    load("\"group_wait\": \"0s\"");
    static const char *const files[] = {
        "",
        "{",
        "[]",
        "{\"incidents\": 7}",
        "{\"incidents\": [1, \"x\", null, {}]}",
        "{\"incidents\": [{\"key\": \"k\", \"base\": \"b\", \"route\": \"route.routes[1]\", \"start_ms\": 1e300,"
        "  \"last_ms\": 0, \"next_ms\": 0, \"members\": []}]}",
        "{\"incidents\": [{\"key\": \"k\", \"base\": \"b\", \"route\": \"route.routes[1]\", \"start_ms\": 0,"
        "  \"last_ms\": 0, \"next_ms\": 0, \"members\": [{\"resolved\": false, \"alert\": {\"key\": 5}}]}]}",
        "{\"incidents\": [{\"key\": \"k\", \"base\": \"b\", \"route\": \"route.gone\", \"start_ms\": 0,"
        "  \"last_ms\": 0, \"next_ms\": 0, \"members\": []}]}",
        "{\"incidents\": [{\"key\": \"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\","
        "  \"base\": \"b\", \"route\": \"route\", \"start_ms\": 0, \"last_ms\": 0, \"next_ms\": 0, \"members\": []}]}",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char dir[] = "/tmp/kw-outbox-XXXXXX", path[64], err[KW_ERR_LEN];
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/incidents.json", dir);
        FILE *f = fopen(path, "w");
        fputs(files[i], f);
        fclose(f);
        struct kw_outbox *o = kw_outbox_start(&cfg, dir, NULL, err, sizeof err);
        cr_assert(o, "file %zu: %s", i, err);
        int probes = 0;
        barrier(o, T0 + IV, &probes);
        cJSON *inc = team_incidents(o);
        cr_assert_eq(cJSON_GetArraySize(inc), 0, "file %zu restored something", i);
        cJSON_Delete(inc);
        kw_outbox_stop(o, 0);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        cr_assert_eq(system(cmd), 0);
    }
}
