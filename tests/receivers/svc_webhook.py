"""A receiver written for Prometheus Alertmanager's webhook (version 4).

Checks every field of the documented message with its type:
    version "4", groupKey str, truncatedAlerts int >= 0, status
    "firing"|"resolved" (firing when any alert fires), receiver str,
    groupLabels / commonLabels / commonAnnotations str->str maps (the common
    ones equal to what every alert shares), externalURL str, alerts: a
    non-empty list of {status, labels (with alertname, Prometheus label
    names), annotations, startsAt / endsAt RFC 3339 (endsAt the zero time
    0001-01-01T00:00:00Z while firing, after startsAt once resolved),
    generatorURL str, fingerprint str}.
Signature: when $KW_WEBHOOK_HMAC_SECRET is set, the header named by
$KW_WEBHOOK_SIGNATURE_HEADER (default X-Kpiwatch-Signature) must be
"sha256=" + hex HMAC-SHA256 of the raw body under that secret, and
X-Kpiwatch-Timestamp must be epoch seconds within 5 minutes of now.
Answers 200 with an empty body, as most Alertmanager receivers do.
"""
import hashlib
import hmac
import os
import re
import time
from datetime import datetime

import svc_slack

LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
ZERO = "0001-01-01T00:00:00Z"


def _time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _str_map(obj, where, problems, label_names=False):
    if not isinstance(obj, dict):
        problems.append("%s must be an object" % where)
        return {}
    for k, v in obj.items():
        if not isinstance(v, str):
            problems.append("%s.%s must be a string" % (where, k))
        if label_names and not LABEL.match(k):
            problems.append("%s: %r is not a Prometheus label name" % (where, k))
    return obj


def _common(maps):
    if not maps:
        return {}
    out = dict(maps[0])
    for m in maps[1:]:
        out = {k: v for k, v in out.items() if m.get(k) == v}
    return out


def _signature_problems(req):
    secret = os.environ.get("KW_WEBHOOK_HMAC_SECRET")
    if not secret:
        return []
    name = os.environ.get("KW_WEBHOOK_SIGNATURE_HEADER", "X-Kpiwatch-Signature").lower()
    got = req["headers"].get(name)
    if not got:
        return ["no %s header" % name]
    raw = bytes.fromhex(req["raw_hex"]) if req["raw_hex"] else req["body"].encode()
    want = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    problems = []
    if not hmac.compare_digest(got, want):
        problems.append("signature mismatch in %s" % name)
    stamp = req["headers"].get("x-kpiwatch-timestamp", "")
    if not stamp.isdigit() or abs(int(stamp) - time.time()) > 300:
        problems.append("X-Kpiwatch-Timestamp %r is not epoch seconds near now" % stamp)
    return problems


def validate(req):
    problems = []
    svc_slack.check_json_post(req, problems)
    problems += _signature_problems(req)
    m = req["json"]
    if not isinstance(m, dict):
        return problems
    for key, kind in (("version", str), ("groupKey", str), ("status", str), ("receiver", str),
                      ("externalURL", str), ("alerts", list)):
        if not isinstance(m.get(key), kind):
            problems.append("%s must be a %s" % (key, kind.__name__))
    if m.get("version") != "4":
        problems.append('version must be "4"')
    t = m.get("truncatedAlerts")
    if not isinstance(t, int) or isinstance(t, bool) or t < 0:
        problems.append("truncatedAlerts must be an integer >= 0")
    if m.get("status") not in ("firing", "resolved"):
        problems.append("status %r" % m.get("status"))
    _str_map(m.get("groupLabels"), "groupLabels", problems, label_names=True)
    common_labels = _str_map(m.get("commonLabels"), "commonLabels", problems, label_names=True)
    common_ann = _str_map(m.get("commonAnnotations"), "commonAnnotations", problems)
    alerts = m.get("alerts") if isinstance(m.get("alerts"), list) else []
    if not alerts:
        problems.append("alerts is empty")
    labels, annotations, any_firing = [], [], False
    for i, a in enumerate(alerts):
        w = "alerts[%d]" % i
        if not isinstance(a, dict):
            problems.append("%s: not an object" % w)
            continue
        if a.get("status") not in ("firing", "resolved"):
            problems.append("%s.status %r" % (w, a.get("status")))
        any_firing |= a.get("status") == "firing"
        labels.append(_str_map(a.get("labels"), w + ".labels", problems, label_names=True))
        annotations.append(_str_map(a.get("annotations"), w + ".annotations", problems))
        if "alertname" not in labels[-1]:
            problems.append("%s.labels has no alertname" % w)
        for key in ("startsAt", "endsAt", "generatorURL", "fingerprint"):
            if not isinstance(a.get(key), str):
                problems.append("%s.%s must be a string" % (w, key))
        starts, ends = a.get("startsAt", ""), a.get("endsAt", "")
        if not RFC3339.match(str(starts)) or not RFC3339.match(str(ends)):
            problems.append("%s: startsAt/endsAt not RFC 3339" % w)
        elif a.get("status") == "firing" and ends != ZERO:
            problems.append("%s: endsAt of a firing alert must be %s" % (w, ZERO))
        elif a.get("status") == "resolved" and _time(ends) < _time(starts):
            problems.append("%s: endsAt before startsAt" % w)
        if not a.get("fingerprint"):
            problems.append("%s: empty fingerprint" % w)
    if alerts and m.get("status") != ("firing" if any_firing else "resolved"):
        problems.append("status %r does not match the alerts" % m.get("status"))
    if alerts and common_labels != _common(labels):
        problems.append("commonLabels is not what every alert shares")
    if alerts and common_ann != _common(annotations):
        problems.append("commonAnnotations is not what every alert shares")
    return problems


def answer(req):
    return 200, {}, ""
