"""PagerDuty Events API v2 (POST /v2/enqueue), checked as the service documents it:
https://developer.pagerduty.com/docs/events-api-v2/trigger-events/

The routing key is the 32-character integration key in the body; trigger
events need payload.summary (<= 1024 characters), payload.source and
payload.severity; dedup_key is at most 255 characters and required to
acknowledge or resolve; the whole event is at most 512 KB. An invalid event
is answered 400 with the service's error body, a valid one 202.
Unknown fields are reported too: the service ignores them, so a misspelt field
would silently be lost.
"""
import json
import re
from datetime import datetime

EVENT_KEYS = {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client", "client_url"}
PAYLOAD_KEYS = {"summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"}
ACTIONS = {"trigger", "acknowledge", "resolve"}
SEVERITIES = {"critical", "error", "warning", "info"}


def _is_str(v, max_len=None, non_empty=True):
    return isinstance(v, str) and (not non_empty or v != "") and (max_len is None or len(v) <= max_len)


def _timestamp_ok(text):
    # ISO 8601 / RFC 3339 with a zone: "2015-07-17T08:42:58.315+0000" or "...Z".
    if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$", text):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def validate(req):
    problems = []
    if req["method"] != "POST":
        problems.append("method %s, expected POST" % req["method"])
    if req["path"] != "/v2/enqueue":
        problems.append("path %s, expected /v2/enqueue" % req["path"])
    ctype = req["headers"].get("content-type", "")
    if not ctype.lower().startswith("application/json"):
        problems.append("Content-Type %r, expected application/json" % ctype)
    if len(req["body"].encode("utf-8", "replace")) > 512 * 1024:
        problems.append("event larger than 512 KB")
    try:
        bytes.fromhex(req.get("raw_hex") or "").decode("utf-8")
    except UnicodeDecodeError:
        problems.append("body is not valid UTF-8")
    ev = req["json"]
    if not isinstance(ev, dict):
        return problems + ["body is not a JSON object"]
    for k in sorted(set(ev) - EVENT_KEYS):
        problems.append("unknown field %r" % k)
    key = ev.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        problems.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = ev.get("event_action")
    if action not in ACTIONS:
        problems.append("'event_action' must be one of trigger, acknowledge, resolve (got %r)" % (action,))
    if "dedup_key" in ev and not _is_str(ev["dedup_key"], 255):
        problems.append("'dedup_key' must be a non-empty string of at most 255 characters")
    if action in ("acknowledge", "resolve") and "dedup_key" not in ev:
        problems.append("'dedup_key' is required to %s" % action)
    if action != "trigger":
        if "payload" in ev:
            problems.append("%s events carry no payload" % action)
        return problems

    p = ev.get("payload")
    if not isinstance(p, dict):
        return problems + ["'payload' is missing or not an object"]
    for k in sorted(set(p) - PAYLOAD_KEYS):
        problems.append("unknown field 'payload.%s'" % k)
    if not _is_str(p.get("summary"), 1024):
        problems.append("'payload.summary' must be a non-empty string of at most 1024 characters (got %r)"
                        % (len(p["summary"]) if isinstance(p.get("summary"), str) else p.get("summary"),))
    elif "\n" in p["summary"]:
        problems.append("'payload.summary' should be one line")
    if not _is_str(p.get("source")):
        problems.append("'payload.source' is missing")
    if p.get("severity") not in SEVERITIES:
        problems.append("'payload.severity' must be critical, error, warning or info (got %r)" % (p.get("severity"),))
    if "timestamp" in p and not (isinstance(p["timestamp"], str) and _timestamp_ok(p["timestamp"])):
        problems.append("'payload.timestamp' is not an ISO 8601 timestamp: %r" % (p["timestamp"],))
    for k in ("component", "group", "class"):
        if k in p and not _is_str(p[k]):
            problems.append("'payload.%s' must be a non-empty string" % k)
    if "custom_details" in p and not isinstance(p["custom_details"], dict):
        problems.append("'payload.custom_details' must be an object")
    links = ev.get("links", [])
    if not isinstance(links, list):
        problems.append("'links' must be an array")
    else:
        for i, link in enumerate(links):
            if not isinstance(link, dict) or not _is_str(link.get("href")):
                problems.append("'links[%d].href' is required" % i)
            elif set(link) - {"href", "text"}:
                problems.append("'links[%d]' has unknown fields" % i)
            elif "text" in link and not isinstance(link["text"], str):
                problems.append("'links[%d].text' must be a string" % i)
    images = ev.get("images", [])
    if not isinstance(images, list) or any(not isinstance(im, dict) or not _is_str(im.get("src")) for im in images):
        problems.append("'images' entries need a 'src'")
    for k in ("client", "client_url"):
        if k in ev and not _is_str(ev[k]):
            problems.append("'%s' must be a non-empty string" % k)
    return problems


def answer(req):
    if req.get("problems"):
        return 400, {"Content-Type": "application/json"}, json.dumps({
            "status": "invalid event", "message": "Event object is invalid", "errors": req["problems"]})
    ev = req["json"]
    return 202, {"Content-Type": "application/json"}, json.dumps({
        "status": "success", "message": "Event processed", "dedup_key": ev.get("dedup_key") or "generated"})
