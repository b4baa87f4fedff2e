/* console: writes one line per alert to stdout (or stderr), as a human
 * summary or as JSON lines for piping into other tools. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "notifier.h"

struct console_config {
    int format; /* 0 text, 1 json */
    int stream; /* 0 stdout, 1 stderr */
};

static const char *const console_formats[] = {"text", "json", NULL};
static const char *const console_streams[] = {"stdout", "stderr", NULL};

static const struct kw_option console_options[] = {
    {"format", KW_OPT_ENUM, "text", offsetof(struct console_config, format), KW_NORANGE,
     .choices = console_formats, .desc = "text: one human line per alert; json: one JSON object per line."},
    {"stream", KW_OPT_ENUM, "stdout", offsetof(struct console_config, stream), KW_NORANGE,
     .choices = console_streams, .desc = "Where to write."},
    KW_OPT_END,
};

static void console_send(void *cfg, const struct kw_notification *n, struct kw_send_outcome *out)
{
    const struct console_config *c = cfg;
    FILE *stream = c->stream ? stderr : stdout;
    for (size_t i = 0; i < n->nalerts; i++) {
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
    .send = console_send,
};
