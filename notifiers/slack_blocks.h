/* slack_blocks: renders a notification as a Slack Block Kit message, shared
 * by the slack (incoming webhook) and slack_bot (Web API) notifiers. Not a
 * notifier itself. Output stays within Slack's documented limits (50 blocks,
 * 3000 characters per section text, 2000 per field, 150 per header), cutting
 * with a visible note rather than letting Slack reject the message. */
#ifndef KW_SLACK_BLOCKS_H
#define KW_SLACK_BLOCKS_H

#include <cjson/cJSON.h>

#include "notifier.h"

#define KW_SLACK_MAX_BLOCKS 50
#define KW_SLACK_MAX_SECTION 3000
#define KW_SLACK_MAX_FIELD 2000
#define KW_SLACK_MAX_HEADER 150
#define KW_SLACK_MAX_TEXT 4000   /* top-level "text": Slack truncates longer ones */

/* Add "text" (the lead's one-line summary, the notification fallback) and
 * "blocks" (header, values, labels, sparkline, buttons, one section per
 * further group member, then a "…and N more series" note when cut) for n to
 * msg. external_url (may be NULL) becomes a third button. n->nalerts must be
 * >= 1. Never fails. */
void kw_slack_blocks_render(cJSON *msg, const struct kw_notification *n, const char *external_url);

/* Copy text into a new string (caller frees) with Slack's three mrkdwn
 * entities escaped (& < >) and at most max_chars characters, ending in "…"
 * when cut. Never fails. */
char *kw_slack_blocks_escape(const char *text, size_t max_chars);

#endif
