"""Slack incoming webhook (https://hooks.slack.com/services/T.../B.../...).

Checks what Slack checks before posting: a JSON POST to /services/..., with
`text` or `blocks`, and blocks within the documented Block Kit limits (at
most 50 blocks; section text <= 3000 characters, fields <= 10 of <= 2000;
header plain_text <= 150; context <= 10 elements; actions <= 25 elements,
buttons with plain_text <= 75, an http(s) url <= 3000 and unique action_ids).
Answers 200 "ok" as Slack does. check_message() is shared with svc_slack_bot.
"""
import re

BLOCK_TYPES = {"header", "section", "context", "actions", "divider", "image", "rich_text", "input", "file",
               "video", "markdown"}
TEXT_TYPES = {"plain_text", "mrkdwn"}
URL = re.compile(r"^https?://[^\s/]+")


def _text_obj(obj, where, limit, problems, plain_only=False):
    if not isinstance(obj, dict):
        problems.append("%s: text object must be an object" % where)
        return
    kind = obj.get("type")
    if kind not in TEXT_TYPES or (plain_only and kind != "plain_text"):
        problems.append("%s: bad text type %r" % (where, kind))
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.append("%s: text must be a non-empty string" % where)
    elif len(text) > limit:
        problems.append("%s: text has %d characters (max %d)" % (where, len(text), limit))


def check_blocks(blocks, problems):
    if not isinstance(blocks, list):
        problems.append("blocks must be a list")
        return
    if len(blocks) > 50:
        problems.append("%d blocks (max 50)" % len(blocks))
    action_ids = set()
    for i, b in enumerate(blocks):
        where = "blocks[%d]" % i
        if not isinstance(b, dict):
            problems.append("%s: not an object" % where)
            continue
        kind = b.get("type")
        if kind not in BLOCK_TYPES:
            problems.append("%s: unknown block type %r" % (where, kind))
        if kind == "header":
            _text_obj(b.get("text"), where, 150, problems, plain_only=True)
        elif kind == "section":
            if "text" not in b and "fields" not in b:
                problems.append("%s: section needs text or fields" % where)
            if "text" in b:
                _text_obj(b["text"], where, 3000, problems)
            if "fields" in b:
                fields = b["fields"]
                if not isinstance(fields, list) or not fields or len(fields) > 10:
                    problems.append("%s: fields must be a list of 1..10" % where)
                else:
                    for j, f in enumerate(fields):
                        _text_obj(f, "%s.fields[%d]" % (where, j), 2000, problems)
        elif kind == "context":
            elements = b.get("elements")
            if not isinstance(elements, list) or not elements or len(elements) > 10:
                problems.append("%s: context elements must be a list of 1..10" % where)
            else:
                for j, e in enumerate(elements):
                    if isinstance(e, dict) and e.get("type") == "image":
                        continue
                    _text_obj(e, "%s.elements[%d]" % (where, j), 3000, problems)
        elif kind == "actions":
            elements = b.get("elements")
            if not isinstance(elements, list) or not elements or len(elements) > 25:
                problems.append("%s: actions elements must be a list of 1..25" % where)
                continue
            for j, e in enumerate(elements):
                ew = "%s.elements[%d]" % (where, j)
                if not isinstance(e, dict) or e.get("type") != "button":
                    problems.append("%s: only buttons are expected" % ew)
                    continue
                _text_obj(e.get("text"), ew, 75, problems, plain_only=True)
                url = e.get("url")
                if not isinstance(url, str) or not URL.match(url) or len(url) > 3000:
                    problems.append("%s: button url must be an http(s) URL <= 3000 characters" % ew)
                aid = e.get("action_id")
                if aid is not None:
                    if not isinstance(aid, str) or len(aid) > 255 or aid in action_ids:
                        problems.append("%s: action_id must be a unique string <= 255" % ew)
                    action_ids.add(aid)


def check_message(msg, problems):
    if not isinstance(msg, dict):
        problems.append("body is not a JSON object")
        return
    if "text" not in msg and "blocks" not in msg:
        problems.append("neither text nor blocks")
    if "text" in msg:
        if not isinstance(msg["text"], str) or not msg["text"]:
            problems.append("text must be a non-empty string")
        elif len(msg["text"]) > 40000:
            problems.append("text longer than 40000 characters")
    if "blocks" in msg:
        check_blocks(msg["blocks"], problems)
    for key in ("channel", "username", "icon_emoji", "thread_ts", "ts"):
        if key in msg and not isinstance(msg[key], str):
            problems.append("%s must be a string" % key)
    for key in ("unfurl_links", "unfurl_media"):
        if key in msg and not isinstance(msg[key], bool):
            problems.append("%s must be a boolean" % key)


def check_json_post(req, problems):
    if req["method"] != "POST":
        problems.append("method %s, expected POST" % req["method"])
    ctype = req["headers"].get("content-type", "")
    if not ctype.startswith("application/json"):
        problems.append("Content-Type %r, expected application/json" % ctype)
    if req["json"] is None:
        problems.append("body is not JSON")


def validate(req):
    problems = []
    if not req["path"].startswith("/services/"):
        problems.append("path %s is not a webhook path (/services/...)" % req["path"])
    check_json_post(req, problems)
    if req["json"] is not None:
        check_message(req["json"], problems)
    return problems


def answer(req):
    if validate(req):
        return 400, {"Content-Type": "text/html"}, "invalid_payload"
    return 200, {"Content-Type": "text/html"}, "ok"
