"""Opsgenie Alert API v2, checked as the service documents it:
https://docs.opsgenie.com/docs/alert-api

    POST /v2/alerts                                          create
    POST /v2/alerts/{identifier}/notes?identifierType=alias  add note (note required)
    POST /v2/alerts/{identifier}/close?identifierType=alias  close

Authorization: GenieKey <key> on every request (401 without it). Create needs
a message (<= 130 characters); alias <= 512, description <= 15000, entity <=
512, source <= 100, user <= 100, note <= 25000 characters; at most 20 tags of
50 characters and 50 responders ({type: team|user|escalation|schedule, and a
name, id or username}); details is a string-to-string map of at most 8000
characters; priority P1..P5. Semantic errors are answered 422 with the
service's error body, valid requests 202 "Request will be processed".
Unknown fields are reported too: the service ignores them.
"""
import json
import re
import uuid
from urllib.parse import unquote

CREATE_KEYS = {"message", "alias", "description", "responders", "visibleTo", "actions", "tags", "details",
               "entity", "source", "priority", "user", "note"}
CLOSE_KEYS = {"user", "source", "note"}
RESPONDER_TYPES = {"team", "user", "escalation", "schedule"}
PRIORITIES = {"P1", "P2", "P3", "P4", "P5"}
CLOSE_PATH = re.compile(r"^/v2/alerts/([^/]+)/close$")
NOTES_PATH = re.compile(r"^/v2/alerts/([^/]+)/notes$")


def _str(v, max_len, required=False):
    if v is None:
        return not required
    return isinstance(v, str) and len(v) <= max_len and (v != "" or not required)


def _auth_problem(req):
    auth = req["headers"].get("authorization", "")
    if not auth.startswith("GenieKey "):
        return "Authorization header must be 'GenieKey <api key>' (got %r)" % (auth.split(" ")[0] if auth else "",)
    key = auth[len("GenieKey "):]
    if not key or any(c.isspace() for c in key):
        return "API key is blank or holds whitespace"
    return None


def _check_create(body, problems):
    for k in sorted(set(body) - CREATE_KEYS):
        problems.append("unknown field %r" % k)
    if not _str(body.get("message"), 130, required=True):
        m = body.get("message")
        problems.append("message: must be a non-empty string of at most 130 characters (got %r)"
                        % (len(m) if isinstance(m, str) else m,))
    for k, limit in (("alias", 512), ("description", 15000), ("entity", 512), ("source", 100), ("user", 100),
                     ("note", 25000)):
        if not _str(body.get(k), limit):
            v = body.get(k)
            problems.append("%s: must be a string of at most %d characters (got %r)"
                            % (k, limit, len(v) if isinstance(v, str) else v))
    for k in ("responders", "visibleTo"):
        rs = body.get(k, [])
        if not isinstance(rs, list) or len(rs) > 50:
            problems.append("%s: must be a list of at most 50 responders" % k)
            continue
        for i, r in enumerate(rs):
            if not isinstance(r, dict) or r.get("type") not in RESPONDER_TYPES:
                problems.append("%s[%d].type: must be team, user, escalation or schedule" % (k, i))
            elif not any(_str(r.get(f), 512, required=True) for f in ("name", "id", "username")):
                problems.append("%s[%d]: needs a name, id or username" % (k, i))
    tags = body.get("tags", [])
    if not isinstance(tags, list) or len(tags) > 20 or not all(_str(t, 50, required=True) for t in tags):
        problems.append("tags: at most 20 strings of at most 50 characters (got %r)" % (tags,))
    actions = body.get("actions", [])
    if not isinstance(actions, list) or len(actions) > 10 or not all(_str(a, 50, required=True) for a in actions):
        problems.append("actions: at most 10 strings of at most 50 characters")
    details = body.get("details", {})
    if not isinstance(details, dict):
        problems.append("details: must be an object")
    else:
        bad = [k for k, v in details.items() if not isinstance(v, str)]
        if bad:
            problems.append("details: values must be strings (not %s)" % ", ".join(sorted(bad)))
        total = sum(len(k) + len(v) for k, v in details.items() if isinstance(v, str))
        if total > 8000:
            problems.append("details: %d characters, more than 8000" % total)
    if "priority" in body and body["priority"] not in PRIORITIES:
        problems.append("priority: must be one of P1..P5 (got %r)" % (body["priority"],))


def _check_close(req, body, problems, path_re=CLOSE_PATH, note_required=False):
    if req["query"].get("identifierType") not in ("id", "tiny", "alias"):
        problems.append("identifierType must be id, tiny or alias (got %r)" % (req["query"].get("identifierType"),))
    alias = unquote(path_re.match(req["path"]).group(1))
    if req["query"].get("identifierType") == "alias" and len(alias) > 512:
        problems.append("alias longer than 512 characters")
    if body is None:
        return
    for k in sorted(set(body) - CLOSE_KEYS):
        problems.append("unknown field %r" % k)
    for k, limit in (("user", 100), ("source", 100), ("note", 25000)):
        if not _str(body.get(k), limit, required=note_required and k == "note"):
            problems.append("%s: must be a%s string of at most %d characters"
                            % (k, " non-empty" if note_required and k == "note" else "", limit))


def validate(req):
    problems = []
    if req["method"] != "POST":
        problems.append("method %s, expected POST" % req["method"])
    auth = _auth_problem(req)
    if auth:
        problems.append(auth)
    ctype = req["headers"].get("content-type", "")
    if not ctype.lower().startswith("application/json"):
        problems.append("Content-Type %r, expected application/json" % ctype)
    try:
        bytes.fromhex(req.get("raw_hex") or "").decode("utf-8")
    except UnicodeDecodeError:
        problems.append("body is not valid UTF-8")
    body = req["json"]
    if req["path"] == "/v2/alerts":
        if req["query"]:
            problems.append("create takes no query parameters")
        if not isinstance(body, dict):
            return problems + ["body is not a JSON object"]
        _check_create(body, problems)
    elif CLOSE_PATH.match(req["path"]):
        if req["body"] and not isinstance(body, dict):
            return problems + ["body is not a JSON object"]
        _check_close(req, body, problems)
    elif NOTES_PATH.match(req["path"]):
        if not isinstance(body, dict):
            return problems + ["body is not a JSON object"]
        _check_close(req, body, problems, NOTES_PATH, note_required=True)
    else:
        problems.append("no such endpoint: %s" % req["path"])
    return problems


def answer(req):
    headers = {"Content-Type": "application/json"}
    request_id = str(uuid.uuid4())
    problems = req.get("problems") or []
    if problems and _auth_problem(req):
        return 401, headers, json.dumps({"message": "Could not authenticate", "took": 0.0, "requestId": request_id})
    if problems:
        errors = {}
        for p in problems:
            field, _, text = p.partition(": ")
            errors[field if text else "request"] = text or p
        return 422, headers, json.dumps({"message": "Request body is not processable. Please check the errors.",
                                         "errors": errors, "took": 0.001, "requestId": request_id})
    return 202, headers, json.dumps({"result": "Request will be processed", "took": 0.107, "requestId": request_id})
