#!/usr/bin/python3
"""A scripted local HTTP receiver that checks requests as a real service would.

    /usr/bin/python3 tests/receivers/httpfake.py --port-file P --log L \
        [--service slack|generic|...] [--script '[{"status": 429, ...}]']

Listens on 127.0.0.1 on a free port and writes the port to --port-file once it
accepts connections. Every request is appended to --log as one JSON line:
    {"t": epoch_s, "method", "path", "query", "headers": {lower-case: value},
     "body": text, "json": parsed body or null, "problems": [text, ...]}
"problems" lists what the service's validator found wrong (a real service
would reject the request); the tests assert it is empty.

Answers come from the script, one entry per request, in order:
    {"status": 429, "headers": {"Retry-After": "2"}, "body": "...", "delay": 0.0}
"delay" holds the answer that many seconds (a hanging service). When the
script is used up the service's own success answer is given. POST /_script
with a JSON list replaces the script while running; GET /_log returns the log.

A service is a module svc_<name>.py beside this file with
    validate(req) -> list of problems      (req is the log entry above)
    answer(req) -> (status, headers, body) (the documented success answer)
"""
import argparse
import importlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class Generic:
    @staticmethod
    def validate(req):
        return []

    @staticmethod
    def answer(req):
        return 200, {"Content-Type": "text/plain"}, "ok"


class State:
    def __init__(self, service, script, log_path):
        self.service = service
        self.script = list(script)
        self.log_path = log_path
        self.lock = threading.Lock()

    def next_answer(self):
        with self.lock:
            return self.script.pop(0) if self.script else None

    def record(self, entry):
        with self.lock:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def _reply(self, status, headers, body):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            if parts.path == "/_script" and self.command == "POST":
                with state.lock:
                    state.script = json.loads(raw or b"[]")
                return self._reply(200, {}, "scripted")
            if parts.path == "/_log":
                with state.lock:
                    text = open(state.log_path).read() if os.path.exists(state.log_path) else ""
                return self._reply(200, {"Content-Type": "application/x-ndjson"}, text)
            body = raw.decode("utf-8", "replace")
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = None
            req = {
                "t": time.time(),
                "method": self.command,
                "path": parts.path,
                "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
                "raw_hex": raw.hex() if len(raw) < 65536 else "",
                "json": parsed,
            }
            try:
                req["problems"] = list(state.service.validate(req))
            except Exception as e:  # a validator crash is a problem, not a hang
                req["problems"] = ["validator raised %r" % (e,)]
            scripted = state.next_answer()
            req["scripted"] = scripted is not None
            state.record(req)
            if scripted is None:
                status, headers, text = state.service.answer(req)
            else:
                if scripted.get("delay"):
                    time.sleep(float(scripted["delay"]))
                status = int(scripted.get("status", 200))
                headers = scripted.get("headers", {})
                text = scripted.get("body", "")
                if not isinstance(text, str):
                    text = json.dumps(text)
            try:
                self._reply(status, headers, text)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--service", default="generic")
    ap.add_argument("--script", default="[]")
    args = ap.parse_args()
    script = args.script
    if script.startswith("@"):
        script = open(script[1:]).read()
    service = Generic if args.service == "generic" else importlib.import_module("svc_" + args.service)
    state = State(service, json.loads(script), args.log)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
