#!/bin/sh
# Install the Debian/Ubuntu packages kpiwatch needs to build and test, but
# only the ones that are missing. Called by `make test`, `make demo` and
# `make bench`, so a fresh Debian 12 machine needs nothing else.
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
    pkg-config --exists criterion || want libcriterion-dev
else
    want "libzmq3-dev libcjson-dev libcurl4-openssl-dev libssl-dev libgsl-dev libcriterion-dev"
fi
command -v valgrind >/dev/null 2>&1 || want valgrind
# Debian's own python3 runs the test receivers and the NAB scorer.
[ -x /usr/bin/python3 ] || want python3
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || want python3-aiosmtpd
# The email tests make their SMTP server's certificate with the openssl tool.
command -v openssl >/dev/null 2>&1 || want openssl

# clang and its libFuzzer runtime build the fuzz targets (make fuzz).
if command -v clang >/dev/null 2>&1; then
    ls "$(clang -print-runtime-dir)"/libclang_rt.fuzzer*.a >/dev/null 2>&1 || want libclang-rt-14-dev
else
    want "clang libclang-rt-14-dev"
fi

[ -z "$need_pkgs" ] && exit 0

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
