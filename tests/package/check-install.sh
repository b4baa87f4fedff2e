#!/usr/bin/env bash
# make install into a scratch DESTDIR: the binary, the unit, the man page,
# and a config whose state_dir is the unit's StateDirectory (the service
# would otherwise keep no state, spool or silences); an existing config is
# kept as it is.
set -euo pipefail
cd "$(dirname "$0")/../.."
d=$(mktemp -d /tmp/kpiwatch-install-XXXXXX)
trap 'rm -rf "$d"' EXIT
make --no-print-directory install DESTDIR="$d" PREFIX=/usr/local SYSCONFDIR=/etc >/dev/null
test -x "$d/usr/local/bin/kpiwatch"
test -f "$d/usr/local/lib/systemd/system/kpiwatch.service"
test -f "$d/usr/local/share/man/man1/kpiwatch.1"
grep -q '"state_dir": "/var/lib/kpiwatch"' "$d/etc/kpiwatch/kpiwatch.json"
grep -q '^StateDirectory=kpiwatch' "$d/usr/local/lib/systemd/system/kpiwatch.service"
"$d/usr/local/bin/kpiwatch" check-config "$d/etc/kpiwatch/kpiwatch.json" >/dev/null
echo '{"kpis":[{"name":"mine","metric":"m"}]}' > "$d/etc/kpiwatch/kpiwatch.json"
make --no-print-directory install DESTDIR="$d" PREFIX=/usr/local SYSCONFDIR=/etc >/dev/null
grep -q '"name":"mine"' "$d/etc/kpiwatch/kpiwatch.json"
echo "make install: ok"
