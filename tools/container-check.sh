#!/bin/bash
# shellcheck disable=SC2015,SC2001 # "A && ok || bad": ok never fails; sed indents
# tools/container-check.sh: build packaging/docker/Dockerfile with podman and
# check the image for real, on a machine with no Docker and no registry but
# Debian's mirror:
#   1. a debian:bookworm-slim equivalent is made with debootstrap (minbase,
#      then slimmed as the official image is) and imported, unless present;
#   2. the image is built from the working tree;
#   3. it runs: --version, check-config of the shipped config, `id` (not
#      root), then the agent itself with its ports published: /healthz,
#      /readyz, a point sent to its ZeroMQ input shows in /metrics, SIGTERM
#      stops it cleanly and its state is in the volume, owned by the user.
# Run as root from anywhere: sudo tools/container-check.sh. Idempotent: the
# base image and podman's store are kept in their own place (below) and
# reused; the test container and volume are removed. Not part of make test
# (it needs root and takes minutes).
# Environment: KW_CONTAINER_DIR (/var/tmp/kpiwatch-container) holds the
# store and the base rootfs; KW_DEBIAN_MIRROR (the one apt uses);
# KW_REBUILD_BASE=1 makes the base image again; KW_KEEP_IMAGE=0 removes the
# kpiwatch image at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${KW_CONTAINER_DIR:-/var/tmp/kpiwatch-container}
BASE=docker.io/library/debian:bookworm-slim
IMAGE=localhost/kpiwatch:latest
NAME=kpiwatch-check-$$
VOLUME=kpiwatch-check-state-$$
failures=0

step() { printf '\n== %s\n' "$*"; }
ok() { printf '   ok    %s\n' "$*"; }
bad() { printf '   FAIL  %s\n' "$*"; failures=$((failures + 1)); }
die() { printf 'container-check: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (podman's rootful store and debootstrap need it)"

step "tools"
missing=()
for t in podman:podman debootstrap:debootstrap runc:runc curl:curl; do
    command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "   installing ${missing[*]} from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
ok "$(podman --version), $(runc --version | head -1), debootstrap $(dpkg-query -W -f '${Version}' debootstrap)"

# Podman's store lives in WORK, apart from any other images on the machine.
mkdir -p "$WORK/storage" "$WORK/run"
PODMAN=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver "${KW_STORAGE_DRIVER:-vfs}"
        --cgroup-manager cgroupfs)
RUN_OPTS=()

# The Debian mirror apt is configured with (deb822 or one-line sources).
mirror() {
    if [ -n "${KW_DEBIAN_MIRROR:-}" ]; then echo "$KW_DEBIAN_MIRROR"; return; fi
    local m
    m=$(grep -hs -E '^URIs:.*/debian/?$' /etc/apt/sources.list.d/*.sources | head -1 | awk '{print $2}')
    [ -n "$m" ] || m=$(grep -hs -E '^deb +(\[[^]]*\] +)?[a-z]+://[^ ]*/debian/? +bookworm ' /etc/apt/sources.list \
                        /etc/apt/sources.list.d/*.list | head -1 | sed -E 's/^deb +(\[[^]]*\] +)?([^ ]+).*/\2/')
    echo "${m:-http://deb.debian.org/debian}"
}

step "base image $BASE"
if [ "${KW_REBUILD_BASE:-0}" != 1 ] && "${PODMAN[@]}" image exists "$BASE"; then
    ok "present ($("${PODMAN[@]}" image inspect "$BASE" --format '{{.Size}}') bytes)"
else
    if [ "${KW_REBUILD_BASE:-0}" = 1 ] || [ ! -s "$WORK/rootfs.tar" ]; then
        rootfs=$WORK/rootfs
        rm -rf "$rootfs"
        echo "   debootstrap --variant=minbase bookworm from $(mirror)"
        debootstrap --variant=minbase bookworm "$rootfs" "$(mirror)" >"$WORK/debootstrap.log" 2>&1 ||
            die "debootstrap failed; see $WORK/debootstrap.log"
        # As the official slim image: no documentation or translations, now or
        # from later installs, and no apt lists or caches.
        cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
        # The suites the official image has: updates and security fixes.
        sec=$(grep -hs -E '^URIs:.*/debian-security/?$' /etc/apt/sources.list.d/*.sources | head -1 | awk '{print $2}')
        printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
            "$(mirror)" "$(mirror)" "${sec:-http://deb.debian.org/debian-security}" >"$rootfs/etc/apt/sources.list"
        printf 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n' \
            >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
        printf 'APT::AutoRemove::SuggestsImportant "false";\n' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
        find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
        find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
        rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda}/* "$rootfs"/var/lib/apt/lists/* \
               "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
        find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
        tar -C "$rootfs" --numeric-owner -cf "$WORK/rootfs.tar" .
        rm -rf "$rootfs"
    fi
    "${PODMAN[@]}" import -q "$WORK/rootfs.tar" "$BASE" >/dev/null
    ok "imported ($("${PODMAN[@]}" image inspect "$BASE" --format '{{.Size}}') bytes)"
fi

# What the runtime needs here: crun refuses hybrid cgroup hierarchies (runc
# takes them), and a sandbox may forbid raising rlimits to podman's defaults.
step "container runtime"
hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = unlimited ] && hard_nofile=1048576
chosen=
for runtime in "" runc; do
    for limits in "" "--ulimit nofile=$hard_nofile:$hard_nofile --ulimit nproc=4096:4096"; do
        opts=(${runtime:+--runtime "$runtime"})
        # shellcheck disable=SC2206 # word splitting of the ulimit options is wanted
        lim=($limits)
        if "${PODMAN[@]}" "${opts[@]}" run --rm "${lim[@]}" "$BASE" true >/dev/null 2>&1; then
            PODMAN+=("${opts[@]}")
            RUN_OPTS=("${lim[@]}")
            chosen="runtime ${runtime:-default}${limits:+, $limits}"
            break 2
        fi
    done
done
[ -n "$chosen" ] || die "no container starts here: $("${PODMAN[@]}" run --rm "$BASE" true 2>&1 | tail -1)"
ok "$chosen"

step "build $IMAGE from $ROOT"
started=$(date +%s)
if ! "${PODMAN[@]}" build "${RUN_OPTS[@]}" -f "$ROOT/packaging/docker/Dockerfile" -t "$IMAGE" "$ROOT" \
        >"$WORK/build.log" 2>&1; then
    tail -30 "$WORK/build.log"
    die "the image did not build; the whole log is $WORK/build.log"
fi
"${PODMAN[@]}" image prune -f >/dev/null # the build stage
size=$("${PODMAN[@]}" image inspect "$IMAGE" --format '{{.Size}}')
ok "built in $(($(date +%s) - started)) s; $IMAGE is $((size / 1000000)) MB ($size bytes)"
grep -E 'kpiwatch.json: ok' "$WORK/build.log" | sed 's/^/   build stage: /' || bad "the build stage did not check its config"

step "run checks"
run() { "${PODMAN[@]}" run --rm "${RUN_OPTS[@]}" "$@"; }
out=$(run "$IMAGE" --version) && ok "--version: $out" || bad "--version: $out"
out=$(run "$IMAGE" check-config /etc/kpiwatch/kpiwatch.json 2>&1) && ok "check-config: $(head -1 <<<"$out")" ||
    bad "check-config: $out"
out=$(run --entrypoint id "$IMAGE" 2>&1 || true)
case $out in
    "uid=0("*) bad "id: $out (runs as root)" ;;
    *"(kpiwatch)"*) ok "id: $out" ;;
    *) bad "id: $out" ;;
esac

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_port=$(free_port)
zmq_port=$(free_port)
cleanup() {
    "${PODMAN[@]}" rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
    "${PODMAN[@]}" volume rm -f "$VOLUME" >/dev/null 2>&1 || true
}
trap cleanup EXIT
"${PODMAN[@]}" volume create "$VOLUME" >/dev/null
"${PODMAN[@]}" run -d --name "$NAME" "${RUN_OPTS[@]}" -v "$VOLUME:/var/lib/kpiwatch" \
    -p "127.0.0.1:$http_port:9466" -p "127.0.0.1:$zmq_port:5556" "$IMAGE" >/dev/null
url=http://127.0.0.1:$http_port
for _ in $(seq 50); do curl -fs -o /dev/null "$url/readyz" && break; sleep 0.2; done
out=$(curl -fsS "$url/healthz" 2>&1) && ok "GET /healthz: $out" || bad "GET /healthz: $out"
out=$(curl -fsS "$url/readyz" 2>&1) && ok "GET /readyz: $out" || bad "GET /readyz: $out"
accepted=0
for _ in $(seq 10); do
    # The image's own client, on the host's network, as a pipeline would send.
    run --network host "$IMAGE" send -e "tcp://127.0.0.1:$zmq_port" \
        "{\"metric\":\"complaints\",\"labels\":{\"journey\":\"checkout\"},\"value\":3,\"ts\":$(date +%s)}" \
        >/dev/null 2>&1 || true
    sleep 1.2 # the agent publishes its counters once a second
    accepted=$(curl -fs "$url/metrics" | awk '$1 == "kpiwatch_points_accepted_total" {print $2}')
    [ "${accepted:-0}" -ge 1 ] 2>/dev/null && break
done
[ "${accepted:-0}" -ge 1 ] 2>/dev/null && ok "a point sent to the ZeroMQ input: kpiwatch_points_accepted_total $accepted" ||
    bad "no point reached the agent (kpiwatch_points_accepted_total ${accepted:-absent})"
"${PODMAN[@]}" stop -t 15 "$NAME" >/dev/null
code=$("${PODMAN[@]}" inspect "$NAME" --format '{{.State.ExitCode}}')
[ "$code" = 0 ] && ok "SIGTERM: drained and exited 0" || bad "exit code $code after SIGTERM"
"${PODMAN[@]}" logs "$NAME" 2>&1 | sed 's/^/   log: /' | tail -6
out=$(run -v "$VOLUME:/var/lib/kpiwatch" --entrypoint /bin/ls "$IMAGE" -l /var/lib/kpiwatch)
if grep -q ' kpiwatch kpiwatch .* state.json$' <<<"$out" && grep -q ' kpiwatch kpiwatch .* history.json$' <<<"$out"; then
    ok "state and chart history in the volume, owned by kpiwatch:"
else
    bad "no state.json and history.json owned by kpiwatch in the volume:"
fi
sed 's/^/         /' <<<"$out"

[ "${KW_KEEP_IMAGE:-1}" = 0 ] && "${PODMAN[@]}" rmi "$IMAGE" >/dev/null
step "summary"
"${PODMAN[@]}" images --format '   {{.Repository}}:{{.Tag}}  {{.Size}}' | grep -v '<none>' || true
if [ "$failures" -gt 0 ]; then
    echo "container-check: $failures check(s) failed"
    exit 1
fi
echo "container-check: the image builds, runs as an unprivileged user and serves the agent"
