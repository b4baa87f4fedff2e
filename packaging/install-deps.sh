#!/bin/sh
# Install the Debian/Ubuntu packages kpiwatch needs to build and test, but
# only the ones that are missing. Called by `make test` (as
# `install-deps.sh test`, which adds what only the tests use), `make demo`
# and `make bench` (as `install-deps.sh bench`, which adds pandas), so a
# fresh Debian 12 machine needs nothing else.
set -eu

need_pkgs=""
want() { need_pkgs="$need_pkgs $1"; }

command -v cc >/dev/null 2>&1 || want build-essential
command -v make >/dev/null 2>&1 || want make
command -v pkg-config >/dev/null 2>&1 || want pkg-config
if command -v pkg-config >/dev/null 2>&1; then
    pkg-config --exists libzmq || want libzmq3-dev
    pkg-config --exists libcjson || want libcjson-dev
    pkg-config --exists libcurl || want libcurl4-openssl-dev
    pkg-config --exists libcrypto || want libssl-dev
    pkg-config --exists gsl || want libgsl-dev
    pkg-config --exists libmicrohttpd || want libmicrohttpd-dev
    pkg-config --exists rdkafka || want librdkafka-dev
    pkg-config --exists criterion || want libcriterion-dev
else
    want "libzmq3-dev libcjson-dev libcurl4-openssl-dev libssl-dev libgsl-dev libmicrohttpd-dev librdkafka-dev libcriterion-dev"
fi
command -v valgrind >/dev/null 2>&1 || want valgrind
# Debian's own python3 runs the test receivers and the NAB scorer.
[ -x /usr/bin/python3 ] || want python3
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || want python3-aiosmtpd
# clang and its libFuzzer runtime build the fuzz targets (make fuzz).
if command -v clang >/dev/null 2>&1; then
    ls "$(clang -print-runtime-dir)"/libclang_rt.fuzzer*.a >/dev/null 2>&1 || want libclang-rt-14-dev
else
    want "clang libclang-rt-14-dev"
fi
# The email tests make their SMTP server's certificate with the openssl tool.
command -v openssl >/dev/null 2>&1 || want openssl
# Only for the tests: promtool checks /metrics (Debian's prometheus package,
# about 100 MB installed, so not for a plain build), headless Chromium driven
# by playwright-core from npm loads the status page, rpmspec parses the spec.
if [ "${1:-}" = test ]; then
    command -v promtool >/dev/null 2>&1 || want prometheus
    [ -x /usr/bin/chromium ] || want chromium
    command -v rpmspec >/dev/null 2>&1 || want rpm
    command -v node >/dev/null 2>&1 || want nodejs
    command -v npm >/dev/null 2>&1 || want npm
fi

# Only for make bench: pandas is the yardstick of the rolling-MAD figure.
if [ "${1:-}" = bench ]; then
    /usr/bin/python3 -c 'import pandas' >/dev/null 2>&1 || want python3-pandas
fi

browser_deps() {
    # playwright-core drives Debian's Chromium; it downloads no browser.
    [ "${1:-}" = test ] || return 0
    dir="$(dirname "$0")/../tests/browser"
    [ -d "$dir/node_modules/playwright-core" ] && return 0
    echo "kpiwatch: installing playwright-core for the browser test (npm ci in tests/browser)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
}

if [ -z "$need_pkgs" ]; then
    browser_deps "$@"
    exit 0
fi

echo "kpiwatch: installing missing packages:$need_pkgs" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "kpiwatch: please install as root: apt-get install$need_pkgs" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
$SUDO apt-get update -qq >&2 || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $need_pkgs >&2
# Only promtool is wanted from prometheus: where systemd runs, its server is not.
case "$need_pkgs" in *prometheus*)
    if [ -d /run/systemd/system ]; then $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true; fi ;;
esac
browser_deps "$@"
