#!/usr/bin/env bash
# The status page in headless Chromium during a running `kpiwatch demo`:
# runs the demo on free ports (a copy of conf/kpiwatch.json), waits for the
# first alert and lets status-page.js check the page. Screenshots and the
# page's HTML land in OUTDIR. Usage: tests/browser/run.sh BINARY OUTDIR
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: run.sh BINARY OUTDIR}
outdir=${2:?usage: run.sh BINARY OUTDIR}
mkdir -p "$outdir"
[ -x /usr/bin/chromium ] || { echo "chromium is not installed (packaging/install-deps.sh test)"; exit 1; }
[ -d tests/browser/node_modules/playwright-core ] || { echo "playwright-core is missing (packaging/install-deps.sh test)"; exit 1; }

work=$(mktemp -d /tmp/kpiwatch-browser-XXXXXX)
demo_pid=
cleanup() {
    if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
        kill -TERM "$demo_pid"
        wait "$demo_pid" || true
    fi
    cp "$work/stderr" "$outdir/demo-stderr.log" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

read -r zport hport < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
/usr/bin/python3 - "$work/kpiwatch.json" "$zport" "$hport" <<'PY'
import json, sys
cfg = json.load(open("conf/kpiwatch.json"))
cfg["inputs"][0]["endpoint"] = "tcp://127.0.0.1:%s" % sys.argv[2]
cfg.setdefault("http", {})["port"] = int(sys.argv[3])
cfg["agent"]["state_dir"] = ""
json.dump(cfg, open(sys.argv[1], "w"), indent=1)
PY
"$bin" demo -c "$work/kpiwatch.json" --seconds 150 >"$work/stdout" 2>"$work/stderr" &
demo_pid=$!
node tests/browser/status-page.js "http://127.0.0.1:$hport" "$outdir"
