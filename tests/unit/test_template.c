/* Message templates (notifiers/template.c): placeholders and dotted paths
 * over the sample alert group, sections as conditionals and loops, inverted
 * sections, standalone lines, escaping per receiver kind, the output and
 * nesting bounds, every compile error with its line and column, and the
 * receiver options (inline, _file, both). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/utf8.h"
#include "../../notifiers/notifier.h"
#include "../../notifiers/sample.h"
#include "../../notifiers/template.h"

#define NOW_MS 1732352700000LL /* 2024-11-23T09:05:00Z */

static struct kw_notification group;

static void make_group(void)
{
    kw_sample_notification(&group, "cx-team", false, NOW_MS);
}

static void free_group(void)
{
    kw_notification_release(&group);
}

/* Render text (which must compile) over group. Caller frees. */
static char *render(const char *text, enum kw_template_escape esc, size_t max_chars)
{
    char err[KW_ERR_LEN] = "";
    struct kw_template *t = kw_template_compile(text, err, sizeof err);
    cr_assert_not_null(t, "%s: %s", text, err);
    char *out = kw_template_render(t, &group, esc, max_chars);
    kw_template_free(t);
    return out;
}

static void assert_renders(const char *text, const char *want)
{
    char *got = render(text, KW_TEMPLATE_PLAIN, KW_TEMPLATE_MAX_OUTPUT);
    cr_assert_str_eq(got, want, "template %s", text);
    free(got);
}

Test(template, group_placeholders, .init = make_group, .fini = free_group)
{
    assert_renders("{{receiver}} {{key}} {{count}} {{more}} {{status}} {{kind}} {{severity}}",
                   "cx-team test-notify-cx-team 2 1 firing firing critical");
    assert_renders("{{total_impact}} {{total_cost}} {{currency}}", "+497 20583 EUR");
    group.kind = KW_NOTIFY_UPDATE;
    assert_renders("{{status}} {{kind}}", "firing update");
    group.kind = KW_NOTIFY_RESOLVED;
    assert_renders("{{status}} {{kind}}", "resolved resolved");
    group.kind = KW_NOTIFY_UPDATE;
    assert_renders("{{kind}}{{#reminder}} (reminder){{/reminder}}", "update");
    group.reminder = true;
    assert_renders("{{kind}}{{#reminder}} (reminder){{/reminder}}", "update (reminder)");
}

Test(template, alert_placeholders_through_lead, .init = make_group, .fini = free_group)
{
    assert_renders("{{lead.kpi}} [{{lead.labels}}] {{lead.observed}} vs {{lead.expected}} "
                   "({{lead.lower}}..{{lead.upper}}) {{lead.deviation}} / {{lead.change}}",
                   "step_dropoff_rate [journey=checkout, step=payment] 35.3% vs 6.0% (3.8%..8.8%) +488% / +29.3 pts");
    assert_renders("{{lead.score}} {{lead.severity}} {{lead.severity_score}} {{lead.since}} {{lead.duration}}",
                   "31.8 critical 97 2024-11-23T08:50:00Z 15m");
    assert_renders("{{lead.impact}} | {{lead.cost}} {{lead.currency}} | {{lead.unit}} | {{lead.detector}}",
                   "+443 lost customers over expected (~19935 EUR) | 19935 EUR | lost customers | binomial");
    assert_renders("{{lead.runbook}} {{lead.dashboard}}",
                   "https://wiki.example.com/runbooks/checkout-payment https://grafana.example.com/d/journeys");
    assert_renders("{{lead.flapping}} {{lead.flips}} {{lead.intervals}} {{lead.first_mover}} {{lead.key}} "
                   "{{lead.direction}} {{lead.index}}",
                   "false 0 3 true 0000000000000001 up 1");
    char spark[128], summary[2048], want[2400];
    kw_alert_sparkline(&group.alerts[0], spark, sizeof spark);
    kw_alert_summary(&group.alerts[0], summary, sizeof summary);
    snprintf(want, sizeof want, "%s|%s", spark, summary);
    assert_renders("{{lead.sparkline}}|{{lead.summary}}", want);
}

Test(template, nodata_and_rollup_placeholders, .init = make_group, .fini = free_group)
{
    assert_renders("{{lead.cause}} [{{lead.rollup_of}}] [{{lead.contributors}}]{{#lead.nodata}}!{{/lead.nodata}}",
                   "anomaly [] []");
    struct kw_alert *a = &group.alerts[0];
    snprintf(a->rollup_of, sizeof a->rollup_of, "step_dropoff_rate");
    a->ncontributors = 2;
    a->contributors[0] = (struct kw_alert_contributor){"journey=checkout, step=payment", 0.3, 0.06, 72, 0.76};
    a->contributors[1] = (struct kw_alert_contributor){"journey=checkout, step=address", 0.1, 0.06, 21, 0.22};
    assert_renders("{{#lead}}{{rollup_of}}: {{contributors}}{{/lead}}",
                   "step_dropoff_rate: top contributors: journey=checkout, step=payment 76% (+72); "
                   "journey=checkout, step=address 22% (+21)");
    a->cause = KW_CAUSE_NODATA;
    assert_renders("{{lead.cause}}{{#lead.nodata}} no data{{/lead.nodata}}", "nodata no data");
}

Test(template, dotted_label_paths, .init = make_group, .fini = free_group)
{
    assert_renders("{{lead.label.journey}}/{{lead.label.step}}/{{lead.label.missing}}.", "checkout/payment/.");
    assert_renders("{{#alerts}}{{label.journey}}:{{label.step}};{{/alerts}}", "checkout:payment;checkout:;");
    assert_renders("{{#alerts}}{{#label.step}}step {{label.step}}{{/label.step}}{{^label.step}}whole journey"
                   "{{/label.step}};{{/alerts}}",
                   "step payment;whole journey;");
}

Test(template, sections_as_conditionals, .init = make_group, .fini = free_group)
{
    const char *text = "{{#firing}}F{{/firing}}{{#resolved}}R{{/resolved}}{{#critical}}!{{/critical}}";
    assert_renders(text, "F!");
    group.kind = KW_NOTIFY_RESOLVED;
    group.alerts[0].severity = KW_SEV_WARNING;
    assert_renders(text, "R");
    /* text: shown when non-empty; numbers: when not 0 */
    assert_renders("{{#lead.dashboard}}<{{lead.dashboard}}>{{/lead.dashboard}}",
                   "<https://grafana.example.com/d/journeys>");
    group.alerts[0].dashboard[0] = '\0';
    assert_renders("{{#lead.dashboard}}<{{lead.dashboard}}>{{/lead.dashboard}}", "");
    assert_renders("{{#more}}(+{{more}} more){{/more}}", "(+1 more)");
    group.nalerts = 1;
    assert_renders("{{#more}}(+{{more}} more){{/more}}", "");
}

Test(template, sections_as_loops, .init = make_group, .fini = free_group)
{
    assert_renders("{{#alerts}}{{index}}:{{kpi}}{{^last}}, {{/last}}{{/alerts}}", "1:step_dropoff_rate, 2:complaints");
    assert_renders("{{#others}}{{kpi}} {{first_mover}}{{/others}}", "complaints false");
    assert_renders("{{#alerts}}{{#first_mover}}*{{/first_mover}}{{kpi}} {{severity}} {{status}} {{count}};{{/alerts}}",
                   "*step_dropoff_rate critical firing 2;complaints warning firing 2;");
    /* inside an alert's section its own fields come first, the group's after */
    assert_renders("{{key}} {{#alerts}}{{key}} {{/alerts}}", "test-notify-cx-team 0000000000000001 0000000000000002 ");
    assert_renders("{{#lead}}{{kpi}} {{receiver}}{{/lead}}", "step_dropoff_rate cx-team");
    assert_renders("{{#alerts}}{{#lead}}{{kpi}}{{/lead}}/{{kpi}} {{/alerts}}",
                   "step_dropoff_rate/step_dropoff_rate step_dropoff_rate/complaints ");
    group.nalerts = 1;
    assert_renders("{{#others}}never{{/others}}{{^others}}alone{{/others}}", "alone");
}

Test(template, inverted_sections, .init = make_group, .fini = free_group)
{
    assert_renders("{{^resolved}}open{{/resolved}}{{^firing}}closed{{/firing}}", "open");
    group.kind = KW_NOTIFY_RESOLVED;
    assert_renders("{{^resolved}}open{{/resolved}}{{^firing}}closed{{/firing}}", "closed");
    group.alerts[1].flapping = true;
    group.alerts[1].flips = 4;
    assert_renders("{{#alerts}}{{^flapping}}steady{{/flapping}}{{#flapping}}flapping x{{flips}}{{/flapping}} {{/alerts}}",
                   "steady flapping x4 ");
}

Test(template, standalone_tags_and_comments_take_their_line, .init = make_group, .fini = free_group)
{
    assert_renders("Alerts:\n{{#alerts}}\n  - {{kpi}}\n{{/alerts}}\n{{! a note for the author }}\nend",
                   "Alerts:\n  - step_dropoff_rate\n  - complaints\nend");
    assert_renders("a{{! inline }}b {{#firing}}x{{/firing}}\n", "ab x\n");
}

/* A label value with a quote, markup, an ampersand and a newline. */
static void hostile_label(void)
{
    make_group();
    snprintf(group.alerts[0].labels[1].value, sizeof group.alerts[0].labels[1].value, "say \"hi\" <b> & co\nnext");
}

Test(template, escaping_per_mode, .init = hostile_label, .fini = free_group)
{
    struct {
        enum kw_template_escape esc;
        const char *want;
    } cases[] = {
        {KW_TEMPLATE_PLAIN, "<i>say \"hi\" <b> & co\nnext</i>"},
        {KW_TEMPLATE_JSON, "<i>say \\\"hi\\\" <b> & co\\nnext</i>"},
        {KW_TEMPLATE_HTML, "<i>say &quot;hi&quot; &lt;b&gt; &amp; co\nnext</i>"},
        {KW_TEMPLATE_SLACK, "<i>say \"hi\" &lt;b&gt; &amp; co\nnext</i>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* the template's own markup is the author's and stays as written */
        char *got = render("<i>{{lead.label.step}}</i>", cases[i].esc, KW_TEMPLATE_MAX_OUTPUT);
        cr_assert_str_eq(got, cases[i].want, "mode %d", cases[i].esc);
        free(got);
    }
}

Test(template, json_mode_makes_a_valid_json_string, .init = hostile_label, .fini = free_group)
{
    group.alerts[0].labels[1].value[3] = '\x01';
    group.alerts[0].labels[1].value[5] = '\\';
    char *got = render("{\"step\": \"{{lead.label.step}}\", \"count\": {{count}}}", KW_TEMPLATE_JSON,
                       KW_TEMPLATE_MAX_OUTPUT);
    cJSON *json = cJSON_Parse(got);
    cr_assert_not_null(json, "not JSON: %s", got);
    cr_assert_str_eq(cJSON_GetObjectItem(json, "step")->valuestring, group.alerts[0].labels[1].value);
    cr_assert_eq(cJSON_GetObjectItem(json, "count")->valueint, 2);
    cJSON_Delete(json);
    free(got);
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool well_formed(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = kw_utf8_seq(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

Test(template, output_is_cut_at_the_limit_with_a_marker, .init = make_group, .fini = free_group)
{
    /* a group of 60: far more than 300 characters */
    struct kw_alert *many = calloc(60, sizeof *many);
    for (int i = 0; i < 60; i++)
        many[i] = group.alerts[i % 2];
    free(group.alerts);
    group.alerts = many;
    group.nalerts = 60;
    char *got = render("{{#alerts}}{{sparkline}} {{summary}}\n{{/alerts}}", KW_TEMPLATE_PLAIN, 300);
    cr_assert_leq(utf8_chars(got), 300, "%zu characters", utf8_chars(got));
    cr_assert_gt(utf8_chars(got), 300 - 40, "cut far too early: %zu characters", utf8_chars(got));
    cr_assert(ends_with(got, KW_TEMPLATE_TRUNCATED), "%s", got);
    cr_assert(well_formed(got), "a character was split: %s", got);
    free(got);
    /* text that fits exactly is not marked */
    got = render("{{lead.kpi}}", KW_TEMPLATE_PLAIN, 32);
    cr_assert_str_eq(got, "step_dropoff_rate");
    free(got);
    char exact[33];
    memset(exact, 'x', 32);
    exact[32] = '\0';
    got = render(exact, KW_TEMPLATE_PLAIN, 32);
    cr_assert_str_eq(got, exact);
    free(got);
}

Test(template, an_escape_sequence_is_never_split, .init = make_group, .fini = free_group)
{
    memset(group.alerts[0].labels[1].value, '&', 100);
    group.alerts[0].labels[1].value[100] = '\0';
    char *got = render("{{lead.label.step}}", KW_TEMPLATE_SLACK, 40);
    cr_assert(ends_with(got, KW_TEMPLATE_TRUNCATED), "%s", got);
    size_t body = strlen(got) - strlen(KW_TEMPLATE_TRUNCATED);
    cr_assert_eq(body % 5, 0, "a partial &amp;: %s", got);
    cr_assert_gt(body, 0);
    cr_assert_leq(utf8_chars(got), 40);
    free(got);
}

static char *nested(int depth)
{
    static char text[512];
    text[0] = '\0';
    for (int i = 0; i < depth; i++)
        strcat(text, "{{#firing}}");
    strcat(text, "x");
    for (int i = 0; i < depth; i++)
        strcat(text, "{{/firing}}");
    return text;
}

Test(template, nesting_is_bounded, .init = make_group, .fini = free_group)
{
    char *got = render(nested(KW_TEMPLATE_MAX_DEPTH), KW_TEMPLATE_PLAIN, 100);
    cr_assert_str_eq(got, "x");
    free(got);
    char err[KW_ERR_LEN] = "";
    cr_assert_null(kw_template_compile(nested(KW_TEMPLATE_MAX_DEPTH + 1), err, sizeof err));
    cr_assert_str_eq(err, "line 1, col 89: sections nested deeper than 8");
}

/* Arrays, not pointers: Criterion runs each case in a fresh process image. */
struct error_case {
    char text[96];
    char err[200];
};

ParameterizedTestParameters(template, errors)
{
    static struct error_case cases[] = {
        {"Incident at: {{#alerts}}{{kpi}}", "line 1, col 14: unclosed section \"alerts\""},
        {"ok\n  {{kpo}}", "line 2, col 3: unknown placeholder \"kpo\""},
        {"{{lead.kpo}}", "line 1, col 1: unknown placeholder \"lead.kpo\""},
        {"{{receiver.name}}", "line 1, col 1: unknown placeholder \"receiver.name\""},
        {"{{lead.label.a.b}}", "line 1, col 1: unknown placeholder \"lead.label.a.b\""},
        {"{{#alerts}}{{label}}{{/alerts}}", "line 1, col 12: \"label\" needs a label name: {{label.journey}}"},
        {"né {{kpi}}",
         "line 1, col 4: \"kpi\" belongs to one alert: write {{lead.kpi}}, or use it inside {{#alerts}}...{{/alerts}}"},
        {"{{alerts}}", "line 1, col 1: \"alerts\" is a list: use {{#alerts}}...{{/alerts}}"},
        {"{{lead}}", "line 1, col 1: \"lead\" is an alert: use {{#lead}}...{{/lead}}"},
        {"{{#alerts}}\n{{#others}}{{/others}}{{/alerts}}",
         "line 2, col 1: the list \"others\" cannot be repeated inside an alert's section"},
        {"a\nb {{/alerts}}", "line 2, col 3: {{/alerts}} closes no open section"},
        {"{{#alerts}}{{#lead}}{{/alerts}}", "line 1, col 21: {{/alerts}} does not close section \"lead\""},
        {"x {{kpi", "line 1, col 3: unclosed tag: \"{{\" without \"}}\""},
        {"{{  }}", "line 1, col 1: empty tag"},
        {"{{#}}", "line 1, col 1: empty tag"},
        {"{{k p}}", "line 1, col 1: invalid placeholder name \"k p\" (letters, digits, _, - and . only)"},
        {"{{{count}}}",
         "line 1, col 1: unescaped values ({{{...}}}, {{&...}}) are not supported: values are always escaped for "
         "the receiver"},
        {"{{&count}}",
         "line 1, col 1: unescaped values ({{{...}}}, {{&...}}) are not supported: values are always escaped for "
         "the receiver"},
        {"{{>footer}}", "line 1, col 1: partials ({{>...}}) are not supported"},
        {"{{=<% %>=}}", "line 1, col 1: delimiter changes are not supported"},
    };
    return cr_make_param_array(struct error_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct error_case *c, template, errors)
{
    char err[KW_ERR_LEN] = "";
    struct kw_template *t = kw_template_compile(c->text, err, sizeof err);
    cr_assert_null(t, "%s compiled", c->text);
    cr_assert_str_eq(err, c->err, "%s", c->text);
}

Test(template, longer_than_the_source_limit_is_refused)
{
    char *text = malloc(KW_TEMPLATE_MAX_SOURCE + 2);
    memset(text, 'x', KW_TEMPLATE_MAX_SOURCE + 1);
    text[KW_TEMPLATE_MAX_SOURCE + 1] = '\0';
    char err[KW_ERR_LEN] = "";
    cr_assert_null(kw_template_compile(text, err, sizeof err));
    cr_assert_str_eq(err, "longer than 65536 bytes");
    free(text);
}

/* ---- as receiver options ------------------------------------------------------ */

static int parse_receiver(struct kw_receiver *r, const char *json, char *err, size_t errlen)
{
    cJSON *obj = cJSON_Parse(json);
    cr_assert_not_null(obj, "bad test JSON: %s", json);
    int rc = kw_receiver_parse(r, obj, "receivers[2]", err, errlen);
    cJSON_Delete(obj);
    return rc;
}

Test(template, a_template_error_is_a_config_error_with_its_key_path)
{
    struct kw_receiver r;
    char err[KW_ERR_LEN] = "";
    cr_assert_eq(parse_receiver(&r, "{\"name\": \"ops\", \"type\": \"console\", \"template\": \"Incident at: {{#alerts}}\"}",
                                err, sizeof err), -1);
    cr_assert_str_eq(err, "receivers[2].template: line 1, col 14: unclosed section \"alerts\"");
    cr_assert_eq(parse_receiver(&r, "{\"name\": \"ops\", \"type\": \"pagerduty\", \"routing_key\": "
                                    "\"0123456789abcdef0123456789abcdef\", \"summary_template\": \"{{lead.kpo}}\"}",
                                err, sizeof err), -1);
    cr_assert_str_eq(err, "receivers[2].summary_template: line 1, col 1: unknown placeholder \"lead.kpo\"");
    cr_assert_eq(parse_receiver(&r, "{\"name\": \"ops\", \"type\": \"console\", \"template\": 3}", err, sizeof err), -1);
    cr_assert_str_eq(err, "receivers[2].template: must be a non-empty string (a template)");
}

Test(template, template_file_is_read_at_config_load, .init = make_group, .fini = free_group)
{
    char dir[] = "/tmp/kw-tpl-XXXXXX", path[64], json[256], err[KW_ERR_LEN] = "";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.tpl", dir);
    FILE *f = fopen(path, "w");
    fputs("{{#alerts}}\n{{kpi}}\n{{/alerts}}\n", f); /* an editor's final newline */
    fclose(f);
    struct kw_receiver r;
    snprintf(json, sizeof json, "{\"name\": \"ops\", \"type\": \"console\", \"template_file\": \"%s\"}", path);
    cr_assert_eq(parse_receiver(&r, json, err, sizeof err), 0, "%s", err);
    struct kw_rendered out[KW_RENDERED_MAX];
    cr_assert_eq(r.type->render_templates(r.cfg, &group, out), 1);
    cr_assert_str_eq(out[0].key, "template");
    cr_assert_str_eq(out[0].text, "step_dropoff_rate\ncomplaints\n");
    free(out[0].text);
    kw_receiver_release(&r);

    /* both set */
    snprintf(json, sizeof json, "{\"name\": \"ops\", \"type\": \"console\", \"template\": \"{{count}}\", "
                                "\"template_file\": \"%s\"}", path);
    cr_assert_eq(parse_receiver(&r, json, err, sizeof err), -1);
    cr_assert_str_eq(err, "receivers[2].template: set either this or template_file, not both");

    /* an error in the file names the file and the position */
    f = fopen(path, "w");
    fputs("line one\n{{#alerts}}{{kpo}}{{/alerts}}\n", f);
    fclose(f);
    snprintf(json, sizeof json, "{\"name\": \"ops\", \"type\": \"console\", \"template_file\": \"%s\"}", path);
    cr_assert_eq(parse_receiver(&r, json, err, sizeof err), -1);
    char want[KW_ERR_LEN];
    snprintf(want, sizeof want, "receivers[2].template_file: %s: line 2, col 12: unknown placeholder \"kpo\"", path);
    cr_assert_str_eq(err, want);

    unlink(path);
    cr_assert_eq(parse_receiver(&r, json, err, sizeof err), -1);
    snprintf(want, sizeof want, "receivers[2].template_file: cannot read %s: No such file or directory", path);
    cr_assert_str_eq(err, want);
    rmdir(dir);
}

Test(template, receivers_without_a_template_keep_their_built_in_rendering, .init = make_group, .fini = free_group)
{
    struct kw_receiver r;
    char err[KW_ERR_LEN] = "";
    cr_assert_eq(parse_receiver(&r, "{\"name\": \"ops\", \"type\": \"console\"}", err, sizeof err), 0, "%s", err);
    struct kw_rendered out[KW_RENDERED_MAX];
    cr_assert_eq(r.type->render_templates(r.cfg, &group, out), 0);
    kw_receiver_release(&r);
}
