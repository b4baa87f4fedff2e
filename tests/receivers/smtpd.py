#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) for the email notifier's tests.

    /usr/bin/python3 tests/receivers/smtpd.py --port-file P --log L
        [--cert C --key K [--smtps]] [--user U --password PW]
        [--reject-rcpt ADDR]... [--tempfail]

Listens on 127.0.0.1 on a free port and writes the port to --port-file once
it accepts connections. With --cert/--key it offers STARTTLS and refuses
everything but EHLO/STARTTLS/QUIT before it (--smtps: implicit TLS instead).
With --user/--password it offers AUTH PLAIN and LOGIN, only over TLS, and
refuses MAIL before a successful AUTH (535 for wrong credentials).
--reject-rcpt answers 550 to that recipient; --tempfail answers 451 to every
recipient (greylisting).

Every accepted message is appended to --log as one JSON line:
    {"t", "mail_from", "rcpt_tos", "tls", "authenticated", "auth_user", "ehlo",
     "raw", "headers": [[name, raw value]...], "subject" (decoded),
     "content_type", "parts": [{"content_type", "charset", "cte", "text"}...],
     "problems": [...]}
"problems" lists what breaks RFC 5322 / MIME: missing or malformed Date,
From, To, Subject, Message-ID, MIME-Version; 8-bit header bytes; bare CR or
LF; lines over 998 bytes; parser defects. The tests assert it is empty.
"""
import argparse
import email
import email.policy
import json
import logging
import os
import re
import signal
import socket
import ssl
import threading
import time
import warnings
from email.utils import parsedate_to_datetime

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

MSGID = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")


class BoundController(Controller):
    """Serves on a socket bound beforehand to port 0, so no other process can
    take the port between choosing and binding it."""

    def __init__(self, handler, sock, **kwargs):
        self._sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


def check_message(raw, msg):
    problems = []
    if re.search(rb"(?<!\r)\n|\r(?!\n)", raw):
        problems.append("bare CR or LF (lines must end in CRLF)")
    for i, line in enumerate(raw.split(b"\r\n")):
        if len(line) > 998:
            problems.append("line %d is %d bytes, more than 998" % (i + 1, len(line)))
            break
    head = raw.split(b"\r\n\r\n", 1)[0]
    if any(b >= 0x80 for b in head):
        problems.append("8-bit bytes in the header (non-ASCII needs RFC 2047 encoded words)")
    for name in ("Date", "From", "To", "Subject", "Message-ID", "MIME-Version"):
        n = len(msg.get_all(name) or [])
        if n != 1:
            problems.append("%s appears %d times, expected once" % (name, n))
    try:
        date = msg["Date"]
        if date is not None and parsedate_to_datetime(str(date)).tzinfo is None:
            problems.append("Date has no zone")
    except (TypeError, ValueError) as e:
        problems.append("Date does not parse: %s" % e)
    for name in ("Message-ID", "In-Reply-To", "References"):
        v = msg.get(name)
        if v is not None and not all(MSGID.match(x) for x in str(v).split()):
            problems.append("%s is not a msg-id: %r" % (name, str(v)))
    if str(msg.get("MIME-Version", "")).strip() != "1.0":
        problems.append("MIME-Version must be 1.0")
    for part in msg.walk():
        for d in part.defects:
            problems.append("defect in %s: %s" % (part.get_content_type(), type(d).__name__))
        cte = str(part.get("Content-Transfer-Encoding", "7bit")).lower()
        if cte not in ("7bit", "8bit", "quoted-printable", "base64", "binary"):
            problems.append("unknown Content-Transfer-Encoding %r" % cte)
    return problems


class Recorder:
    def __init__(self, log_path, reject, tempfail):
        self.log_path = log_path
        self.reject = {a.lower() for a in reject}
        self.tempfail = tempfail
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.tempfail:
            return "451 4.7.1 <%s>: Recipient address rejected: greylisted, try again later" % address
        if address.lower() in self.reject:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            try:
                text = part.get_content()
            except Exception as e:  # record, do not crash the session
                text = "<undecodable: %r>" % (e,)
            parts.append({"content_type": part.get_content_type(), "charset": part.get_content_charset(),
                          "cte": str(part.get("Content-Transfer-Encoding", "")), "text": text})
        auth = session.auth_data
        entry = {
            "t": time.time(),
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
            "auth_user": auth.login.decode("utf-8", "replace") if isinstance(auth, LoginPassword) else None,
            "ehlo": session.host_name,
            "raw": raw.decode("utf-8", "replace"),
            "headers": [[k, str(v)] for k, v in msg.raw_items()],
            "subject": str(msg.get("Subject", "")),
            "content_type": msg.get_content_type(),
            "parts": parts,
            "problems": check_message(raw, msg),
        }
        with self.lock:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")
        return "250 2.0.0 Ok: queued"


def main():
    # The library's deprecation notes, its "AUTH without STARTTLS" warning (smtps
    # is TLS throughout) and the handshakes the tests make fail on purpose would
    # only clutter test output; what matters is in the log.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--smtps", action="store_true")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--reject-rcpt", action="append", default=[])
    ap.add_argument("--tempfail", action="store_true")
    args = ap.parse_args()

    kwargs = {"server_hostname": "mx.kpiwatch.test", "ready_timeout": 10.0}
    ctx = None
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        if args.smtps:
            kwargs["ssl_context"] = ctx
            kwargs["auth_require_tls"] = False  # the whole connection is TLS already
        else:
            kwargs["tls_context"] = ctx
            kwargs["require_starttls"] = True
    if args.user:
        user, password = args.user.encode(), (args.password or "").encode()

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    controller = BoundController(Recorder(args.log, args.reject_rcpt, args.tempfail), sock, **kwargs)
    controller.start()

    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(sock.getsockname()[1]))
    os.rename(tmp, args.port_file)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    controller.stop()


if __name__ == "__main__":
    main()
