"""Microsoft Teams Workflows webhook ("When a Teams webhook request is received").

Checks the envelope Workflows' "Post card in a chat or channel" step needs:
a JSON POST to /workflows/.../paths/invoke with a `sig` query parameter,
{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "contentUrl": null, "content":
AdaptiveCard}]}, and an Adaptive Card 1.4 whose body elements and actions are
known types with their required fields (TextBlock text, FactSet facts of
title/value strings, Action.OpenUrl title and http(s) url). Teams refuses
messages over 28 KB. Answers 202 with an empty body, as Workflows does.
"""
import re

import svc_slack

ELEMENTS = {"TextBlock", "FactSet", "Container", "ColumnSet", "Image", "RichTextBlock", "ActionSet"}
URL = re.compile(r"^https?://[^\s/]+")


def _check_elements(items, where, problems):
    if not isinstance(items, list):
        problems.append("%s must be a list" % where)
        return
    for i, e in enumerate(items):
        w = "%s[%d]" % (where, i)
        if not isinstance(e, dict) or e.get("type") not in ELEMENTS:
            problems.append("%s: unknown element %r" % (w, e.get("type") if isinstance(e, dict) else e))
            continue
        if e["type"] == "TextBlock" and (not isinstance(e.get("text"), str) or not e["text"]):
            problems.append("%s: TextBlock needs non-empty text" % w)
        if e["type"] == "FactSet":
            facts = e.get("facts")
            if not isinstance(facts, list) or not facts:
                problems.append("%s: FactSet needs facts" % w)
                continue
            for j, f in enumerate(facts):
                if not isinstance(f, dict) or not isinstance(f.get("title"), str) or \
                        not isinstance(f.get("value"), str):
                    problems.append("%s.facts[%d]: needs string title and value" % (w, j))
        if e["type"] == "Container":
            _check_elements(e.get("items"), w + ".items", problems)


def validate(req):
    problems = []
    svc_slack.check_json_post(req, problems)
    if not req["path"].startswith("/workflows/") or not req["path"].endswith("/paths/invoke"):
        problems.append("path %s is not a Workflows trigger" % req["path"])
    if "sig" not in req["query"]:
        problems.append("no sig query parameter")
    if len(req["body"].encode()) > 28 * 1024:
        problems.append("message of %d bytes (max 28 KB)" % len(req["body"].encode()))
    msg = req["json"]
    if not isinstance(msg, dict):
        return problems
    if msg.get("type") != "message":
        problems.append('type must be "message"')
    atts = msg.get("attachments")
    if not isinstance(atts, list) or len(atts) != 1:
        problems.append("attachments must hold one card")
        return problems
    att = atts[0]
    if att.get("contentType") != "application/vnd.microsoft.card.adaptive":
        problems.append("contentType %r" % att.get("contentType"))
    if "contentUrl" not in att or att["contentUrl"] is not None:
        problems.append("contentUrl must be null")
    card = att.get("content")
    if not isinstance(card, dict):
        problems.append("content must be the card object")
        return problems
    if card.get("type") != "AdaptiveCard":
        problems.append('content.type must be "AdaptiveCard"')
    if card.get("$schema") != "http://adaptivecards.io/schemas/adaptive-card.json":
        problems.append("content.$schema %r" % card.get("$schema"))
    if not isinstance(card.get("version"), str) or card["version"] not in ("1.0", "1.1", "1.2", "1.3", "1.4",
                                                                           "1.5"):
        problems.append("version %r (a string; Teams renders up to 1.5)" % card.get("version"))
    if not card.get("body"):
        problems.append("body is empty")
    _check_elements(card.get("body"), "body", problems)
    for i, a in enumerate(card.get("actions", [])):
        if not isinstance(a, dict) or a.get("type") != "Action.OpenUrl":
            problems.append("actions[%d]: expected Action.OpenUrl" % i)
            continue
        if not isinstance(a.get("title"), str) or not a["title"]:
            problems.append("actions[%d]: title required" % i)
        if not isinstance(a.get("url"), str) or not URL.match(a["url"]):
            problems.append("actions[%d]: url must be http(s)" % i)
    return problems


def answer(req):
    if validate(req):
        return 400, {"Content-Type": "application/json"}, \
            '{"error":{"code":"InvalidRequestContent","message":"The input body for trigger is not valid"}}'
    return 202, {}, ""
