"""Slack Web API: chat.postMessage and chat.update with a bot token.

Checks what Slack checks: POST to /api/chat.postMessage or /api/chat.update,
JSON body, "Authorization: Bearer xox..." (equal to $KW_SLACK_BOT_TOKEN when
that is set), `channel`, `text` or `blocks` within the Block Kit limits (see
svc_slack), `thread_ts` in ts form when replying, and for chat.update a
channel ID (C/G/D..., Slack rejects names there) and the `ts` to edit.
Answers as Slack does, on HTTP 200: {"ok": true, "channel": ID, "ts": fresh}
for a post (a #name is answered with the fixed ID C0KWFAKE01), {"ok": false,
"error": "invalid_auth"} for a bad token, "message_not_found" for a
chat.update of a ts this fake never issued.
"""
import itertools
import json
import os
import re
import threading
import time

import svc_slack

TS = re.compile(r"^\d+\.\d{6}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")
FAKE_ID = "C0KWFAKE01"

_lock = threading.Lock()
_counter = itertools.count(1)
_issued = set()


def _auth_problems(req):
    auth = req["headers"].get("authorization", "")
    want = os.environ.get("KW_SLACK_BOT_TOKEN")
    if not auth.startswith("Bearer xox"):
        return ["Authorization %r is not a Bearer bot token" % (auth[:12] + "...")]
    if want and auth != "Bearer " + want:
        return ["Authorization bearer token is not $KW_SLACK_BOT_TOKEN"]
    return []


def validate(req):
    problems = []
    svc_slack.check_json_post(req, problems)
    problems += _auth_problems(req)
    method = req["path"].rsplit("/", 1)[-1]
    if req["path"] not in ("/api/chat.postMessage", "/api/chat.update"):
        problems.append("unexpected path %s" % req["path"])
    msg = req["json"]
    if not isinstance(msg, dict):
        return problems
    svc_slack.check_message(msg, problems)
    channel = msg.get("channel")
    if not isinstance(channel, str) or not channel:
        problems.append("channel is required")
    if "thread_ts" in msg and not TS.match(str(msg["thread_ts"])):
        problems.append("thread_ts %r is not a message ts" % msg["thread_ts"])
    if method == "chat.update":
        if not isinstance(channel, str) or not CHANNEL_ID.match(channel):
            problems.append("chat.update needs a channel ID, got %r" % channel)
        if not TS.match(str(msg.get("ts", ""))):
            problems.append("chat.update needs the ts of the message to edit")
    return problems


def _ok(body):
    return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body)


def answer(req):
    if _auth_problems(req):
        return _ok({"ok": False, "error": "invalid_auth"})
    msg = req["json"] if isinstance(req["json"], dict) else {}
    channel = msg.get("channel") or ""
    channel_id = channel if CHANNEL_ID.match(channel) else FAKE_ID
    if req["path"].endswith("/chat.update"):
        with _lock:
            known = msg.get("ts") in _issued
        if not known:
            return _ok({"ok": False, "error": "message_not_found"})
        return _ok({"ok": True, "channel": channel_id, "ts": msg["ts"], "text": msg.get("text", "")})
    with _lock:
        ts = "%d.%06d" % (int(time.time()), next(_counter))
        _issued.add(ts)
    return _ok({"ok": True, "channel": channel_id, "ts": ts,
                "message": {"type": "message", "text": msg.get("text", ""), "ts": ts}})
