/* Routing: first match wins, "continue" goes on, no match goes to the
 * default receiver, the KPI name and severity match as labels, and a
 * receiver is never listed twice. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../agent/config.h"
#include "../../lib/log.h"

static struct kw_config cfg;

static void load(void)
{
    kw_log_set_level(KW_LOG_OFF);
    const char *json =
        "{\"kpis\":[{\"name\":\"complaints\",\"metric\":\"c\",\"group_by\":[\"journey\"]}],"
        "\"receivers\":[{\"name\":\"ops\",\"type\":\"console\"},{\"name\":\"cx\",\"type\":\"console\"},"
        "{\"name\":\"pager\",\"type\":\"console\"},{\"name\":\"audit\",\"type\":\"console\"}],"
        "\"route\":{\"receiver\":\"ops\",\"routes\":["
        "{\"match\":{\"severity\":\"critical\"},\"receiver\":\"pager\",\"continue\":true},"
        "{\"match\":{\"journey\":\"checkout\"},\"receiver\":\"cx\"},"
        "{\"match\":{\"kpi\":\"complaints\"},\"receiver\":\"audit\"},"
        "{\"match\":{\"journey\":\"checkout\"},\"receiver\":\"pager\"}]}}";
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_config_parse(&cfg, json, "t.json", err, sizeof err), 0, "%s", err);
}

static void unload(void)
{
    kw_config_release(&cfg);
}

static struct kw_alert alert(const char *kpi, const char *journey, int severity)
{
    struct kw_alert a = {0};
    snprintf(a.kpi, sizeof a.kpi, "%s", kpi);
    snprintf(a.labels[0].name, sizeof a.labels[0].name, "journey");
    snprintf(a.labels[0].value, sizeof a.labels[0].value, "%s", journey);
    a.nlabels = 1;
    a.severity = severity;
    return a;
}

static const char *route(const struct kw_alert *a, char *buf, size_t len)
{
    int out[8];
    int n = kw_routing_match(&cfg.routing, a, out, 8);
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? "," : "", cfg.receivers[out[i]].name);
    return buf;
}

Test(route, first_match_wins_and_continue_goes_on, .init = load, .fini = unload)
{
    char buf[128];
    struct kw_alert a = alert("complaints", "checkout", KW_SEV_WARNING);
    cr_assert_str_eq(route(&a, buf, sizeof buf), "cx", "the later checkout->pager route is not reached");
    a = alert("complaints", "checkout", KW_SEV_CRITICAL);
    cr_assert_str_eq(route(&a, buf, sizeof buf), "pager,cx", "critical continues to the journey route");
    a = alert("complaints", "claims", KW_SEV_WARNING);
    cr_assert_str_eq(route(&a, buf, sizeof buf), "audit", "the KPI name matches as label kpi");
    a = alert("nps", "claims", KW_SEV_WARNING);
    cr_assert_str_eq(route(&a, buf, sizeof buf), "ops", "no match: the default receiver");
}

Test(route, a_receiver_is_listed_once, .init = load, .fini = unload)
{
    /* critical checkout: pager (continue), then cx stops; pager is not repeated */
    char buf[128];
    struct kw_alert a = alert("complaints", "checkout", KW_SEV_CRITICAL);
    int out[8];
    int n = kw_routing_match(&cfg.routing, &a, out, 8);
    cr_assert_eq(n, 2, "%s", route(&a, buf, sizeof buf));
    cr_assert_neq(out[0], out[1]);
}

Test(route, no_route_section_sends_everything_to_the_first_receiver)
{
    kw_log_set_level(KW_LOG_OFF);
    struct kw_config c;
    char err[KW_ERR_LEN];
    cr_assert_eq(kw_config_parse(&c, "{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\"}],\"receivers\":[{\"name\":\"a\",\"type\":\"console\"},"
                                      "{\"name\":\"b\",\"type\":\"console\"}]}", "t.json", err, sizeof err), 0, "%s", err);
    struct kw_alert a = alert("k", "x", KW_SEV_CRITICAL);
    int out[4];
    cr_assert_eq(kw_routing_match(&c.routing, &a, out, 4), 1);
    cr_assert_eq(out[0], 0);
    kw_config_release(&c);
}

/* A tree: children inherit receiver, group_by and timings; regex matchers
 * are anchored; the deepest matching node takes the alert. */
Test(route_tree, inheritance_and_nested_matching)
{
    kw_log_set_level(KW_LOG_OFF);
    struct kw_config c;
    char err[KW_ERR_LEN];
    const char *json =
        "{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\"}],\"receivers\":[{\"name\":\"ops\",\"type\":\"console\"},"
        "{\"name\":\"cx\",\"type\":\"console\"},{\"name\":\"pager\",\"type\":\"console\"}],"
        "\"route\":{\"receiver\":\"ops\",\"group_by\":[\"journey\"],\"group_wait\":\"1m\",\"repeat_interval\":\"2h\",\"routes\":["
        "{\"matchers\":[\"journey=~check.*\"],\"receiver\":\"cx\",\"group_interval\":\"10m\",\"routes\":["
        "  {\"matchers\":[\"severity=critical\",\"step!=login\"],\"receiver\":\"pager\",\"group_by\":[\"journey\",\"step\"]}]},"
        "{\"matchers\":[\"kpi!~test_.*\"]}]}}";
    cr_assert_eq(kw_config_parse(&c, json, "t.json", err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.routing.n, 4);
    const struct kw_route_node *cx = &c.routing.nodes[1], *pager = &c.routing.nodes[2], *other = &c.routing.nodes[3];
    cr_assert_str_eq(cx->path, "route.routes[0]");
    cr_assert_str_eq(pager->path, "route.routes[0].routes[0]");
    cr_assert_eq(cx->group_wait_ms, 60000, "inherited");
    cr_assert_eq(cx->group_interval_ms, 600000, "own");
    cr_assert_eq(pager->group_interval_ms, 600000, "inherited from cx");
    cr_assert_eq(pager->repeat_interval_ms, 7200000, "inherited from the root");
    cr_assert_eq(pager->group_by.n, 2);
    cr_assert_eq(other->receiver, 0, "receiver inherited from the root");
    cr_assert_eq(other->group_by.n, 1);

    int nodes[8];
    struct kw_alert a = alert("k", "checkout", KW_SEV_CRITICAL);
    snprintf(a.labels[1].name, sizeof a.labels[1].name, "step");
    snprintf(a.labels[1].value, sizeof a.labels[1].value, "payment");
    a.nlabels = 2;
    cr_assert_eq(kw_routing_nodes(&c.routing, &a, nodes, 8), 1);
    cr_assert_eq(nodes[0], 2, "critical checkout payment goes to the pager node");
    snprintf(a.labels[1].value, sizeof a.labels[1].value, "login");
    cr_assert_eq(kw_routing_nodes(&c.routing, &a, nodes, 8), 1);
    cr_assert_eq(nodes[0], 1, "step=login stops at cx");
    a = alert("k", "precheckout", KW_SEV_CRITICAL);
    cr_assert_eq(kw_routing_nodes(&c.routing, &a, nodes, 8), 1);
    cr_assert_eq(nodes[0], 3, "=~ is anchored: precheckout is not check.*");
    a = alert("test_load", "claims", KW_SEV_WARNING);
    cr_assert_eq(kw_routing_nodes(&c.routing, &a, nodes, 8), 1);
    cr_assert_eq(nodes[0], 0, "nothing matched: the root takes it");
    kw_config_release(&c);
}

Test(route_tree, bad_matchers_name_the_key)
{
    kw_log_set_level(KW_LOG_OFF);
    const char *bad[][2] = {
        {"\"routes\":[{\"matchers\":[\"journey~x\"]}]", "route.routes[0].matchers[0]: must look like name=value"},
        {"\"routes\":[{\"matchers\":[\"journey=~(x\"]}]", "route.routes[0].matchers[0]: not a valid regular expression"},
        {"\"matchers\":[\"a=b\"]", "route: the root route matches every alert"},
        {"\"routes\":[{\"routes\":[{\"receiver\":\"nobody\"}]}]", "route.routes[0].routes[0].receiver: no receiver is named \"nobody\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[512], err[KW_ERR_LEN] = "";
        snprintf(json, sizeof json,
                 "{\"kpis\":[{\"name\":\"k\",\"metric\":\"m\"}],\"receivers\":[{\"name\":\"ops\",\"type\":\"console\"}],"
                 "\"route\":{\"receiver\":\"ops\",%s}}", bad[i][0]);
        struct kw_config c;
        cr_assert_eq(kw_config_parse(&c, json, "t.json", err, sizeof err), -1, "%s", json);
        cr_assert(strstr(err, bad[i][1]) != NULL, "got \"%s\" want \"%s\"", err, bad[i][1]);
    }
}
