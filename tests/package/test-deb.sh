#!/usr/bin/env bash
# The .deb as an operator meets it, on this machine: make deb, dpkg -i, the
# installed binary runs and accepts the shipped config, systemd-analyze
# accepts the unit and rates it 2.0 or better, dpkg -r keeps only the
# conffile, dpkg -P removes it. Needs root and changes the system, so it
# undoes everything on exit and refuses to touch a kpiwatch already there.
# Usage: tests/package/test-deb.sh [BUILDDIR]
set -uo pipefail
cd "$(dirname "$0")/../.."
builddir=${1:-build}
step() { printf 'ok: %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (dpkg -i)"
status=$(dpkg-query -W -f='${Status}' kpiwatch 2>/dev/null || true)
grep -q 'ok installed\|config-files' <<<"$status" &&
    die "a kpiwatch package is already on this machine; not touching it"
backup=
if [ -e /etc/kpiwatch ]; then # a `make install` left one: keep it aside
    backup=$(mktemp -d /tmp/kpiwatch-etc-XXXXXX)
    mv /etc/kpiwatch "$backup/"
fi
cleanup() {
    dpkg -P kpiwatch >/dev/null 2>&1 || true
    if [ -n "$backup" ]; then
        rm -rf /etc/kpiwatch
        mv "$backup/kpiwatch" /etc/kpiwatch && rmdir "$backup"
    fi
}
trap cleanup EXIT

# make deb prints the package's path last (after any compiler lines).
deb=$(make --no-print-directory BUILDDIR="$builddir" deb | tail -n 1) || die "make deb"
[ -f "$deb" ] || die "make deb printed no package: $deb"
step "make deb: $deb ($(du -k "$deb" | cut -f1) KiB)"
info=$(dpkg-deb -I "$deb")
grep -q '^ Depends: .*libmicrohttpd' <<<"$info" || die "the package does not depend on libmicrohttpd"
dpkg -i "$deb" || die "dpkg -i"
step "dpkg -i"
/usr/bin/kpiwatch --version | grep -q '^kpiwatch ' || die "the installed kpiwatch --version"
/usr/bin/kpiwatch check-config /etc/kpiwatch/kpiwatch.json || die "check-config of the shipped config"
step "the installed binary accepts /etc/kpiwatch/kpiwatch.json"
grep -qx /etc/kpiwatch/kpiwatch.json /var/lib/dpkg/info/kpiwatch.conffiles || die "the config is not a conffile"
unit=/lib/systemd/system/kpiwatch.service
[ -f "$unit" ] || die "no unit at $unit"
man_flag=
command -v man >/dev/null || man_flag=--man=no # the man page is there; the man program may not be
verify=$(systemd-analyze verify $man_flag "$unit" 2>&1)
[ $? -eq 0 ] && [ -z "$verify" ] || die "systemd-analyze verify: $verify"
step "systemd-analyze verify $unit: no complaint"
exposure=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for kpiwatch.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || die "systemd-analyze security gave no figure"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || die "systemd-analyze security rates the unit $exposure (more than 2.0)"
step "systemd-analyze security: exposure $exposure"
files=$(dpkg -L kpiwatch)
man_page=$(grep -c 'man1/kpiwatch.1.gz\|doc/kpiwatch/README' <<<"$files")
[ "$man_page" -eq 2 ] || die "man page or README missing"

dpkg -r kpiwatch || die "dpkg -r"
[ ! -e /usr/bin/kpiwatch ] && [ ! -e "$unit" ] || die "dpkg -r left the binary or the unit"
[ -f /etc/kpiwatch/kpiwatch.json ] || die "dpkg -r removed the conffile"
status=$(dpkg-query -W -f='${Status}' kpiwatch)
grep -q 'config-files' <<<"$status" || die "not in config-files state after dpkg -r"
step "dpkg -r: only the conffile stays"
dpkg -P kpiwatch || die "dpkg -P"
[ ! -e /etc/kpiwatch/kpiwatch.json ] || die "dpkg -P left the conffile"
step "dpkg -P: the conffile is gone"
