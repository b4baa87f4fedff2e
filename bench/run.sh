#!/usr/bin/env bash
# make bench: agent throughput against raw ZeroMQ on this machine, memory per
# series, the line protocol reader against the JSON reader, and per-detector
# cost (ns, callgrind instructions, state bytes).
# Ratios measured in the same run are the figures to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
echo "## kpiwatch benchmark: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d)"
echo
"$B/bench/throughput" "${BENCH_MESSAGES:-20000}" "${BENCH_SERIES:-10000}"
echo
"$B/bench/lineproto_bench" "${BENCH_LP_POINTS:-2000000}" "${BENCH_SERIES:-10000}"
echo
bash bench/detectors.sh "$B"
