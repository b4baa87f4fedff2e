/* console: writes each notification (one incident) to stdout (or stderr):
 * a header and one human line per member, or one JSON line per member for
 * piping into other tools, or a template's text. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier.h"
#include "template.h"

struct console_config {
    int format; /* 0 text, 1 json */
    int stream; /* 0 stdout, 1 stderr */
    struct kw_template *template; /* once per notification instead of format; NULL = format */
    struct kw_template *template_file;
};

static const char *const console_formats[] = {"text", "json", NULL};
static const char *const console_streams[] = {"stdout", "stderr", NULL};

static const struct kw_option console_options[] = {
    {"format", KW_OPT_ENUM, "text", offsetof(struct console_config, format), KW_NORANGE,
     .choices = console_formats, .desc = "text: one human line per alert; json: one JSON object per line."},
    {"stream", KW_OPT_ENUM, "stdout", offsetof(struct console_config, stream), KW_NORANGE,
     .choices = console_streams, .desc = "Where to write."},
    KW_TEMPLATE_OPTIONS("template", struct console_config, template, template_file,
                        "Template (see Templates) written once per notification instead of format's lines; a "
                        "newline is added when it does not end in one."),
    KW_OPT_END,
};

static int console_init(void *cfg, const char *instance, const char *path, char *err, size_t errlen)
{
    struct console_config *c = cfg;
    return kw_template_opt_pick(&c->template, &c->template_file, path, "template", err, errlen);
}

static int console_render_templates(void *cfg, const struct kw_notification *n, struct kw_rendered *out)
{
    const struct console_config *c = cfg;
    if (!c->template)
        return 0;
    out[0] = (struct kw_rendered){"template", kw_template_render(c->template, n, KW_TEMPLATE_PLAIN,
                                                                 KW_TEMPLATE_MAX_OUTPUT)};
    return 1;
}

static void console_send(void *cfg, const struct kw_notification *n, struct kw_send_outcome *out)
{
    const struct console_config *c = cfg;
    FILE *stream = c->stream ? stderr : stdout;
    if (c->template && n->nalerts > 0) {
        char *text = kw_template_render(c->template, n, KW_TEMPLATE_PLAIN, KW_TEMPLATE_MAX_OUTPUT);
        size_t len = strlen(text);
        fprintf(stream, "%s%s", text, len && text[len - 1] == '\n' ? "" : "\n");
        free(text);
    }
    if (!c->template && c->format == 0 && n->nalerts > 0) {
        /* one notification is one incident: a header, then its members */
        static const char *const kinds[] = {"new", "updated", "resolved", "reminder"};
        char first[KW_NOTIFY_FIRST_MOVER];
        fprintf(stream, "── incident %s · %s · %zu alert%s · first mover %s\n", n->key,
                kinds[n->reminder ? 3 : n->kind >= 0 && n->kind <= 2 ? n->kind : 1], n->nalerts,
                n->nalerts == 1 ? "" : "s", kw_notification_first_mover(n, first, sizeof first));
    }
    for (size_t i = 0; !c->template && i < n->nalerts; i++) {
        if (c->format == 1) {
            cJSON *json = kw_alert_to_json(&n->alerts[i]);
            char *text = cJSON_PrintUnformatted(json);
            fprintf(stream, "%s\n", text);
            free(text);
            cJSON_Delete(json);
        } else {
            char line[2048];
            fprintf(stream, "%s\n", kw_alert_summary(&n->alerts[i], line, sizeof line));
        }
    }
    if (fflush(stream) != 0) {
        out->result = KW_SEND_RETRY;
        snprintf(out->reason, sizeof out->reason, "write failed");
        return;
    }
    out->result = KW_SEND_OK;
}

const struct kw_notifier_type console_notifier = {
    .name = "console",
    .description = "One line per alert on stdout: a human summary or JSON lines.",
    .options = console_options,
    .config_size = sizeof(struct console_config),
    .init = console_init,
    .send = console_send,
    .render_templates = console_render_templates,
};
