#!/usr/bin/env bash
# The kafka input's throughput: points per second for one agent and for two
# agents in one consumer group, on librdkafka's mock cluster (bench/kafka_bench.c),
# printed as a Markdown section with the two-to-one ratio against its target.
# Usage: bench/kafka.sh BUILDDIR   (BENCH_KAFKA_POINTS, default 2000000; much more can outrun what the mock retains)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
POINTS=${BENCH_KAFKA_POINTS:-2000000}
for bin in kpiwatch bench/kafka_bench; do
    if [[ ! -x $B/$bin ]]; then
        echo "kafka.sh: $B/$bin not built; run: make BUILDDIR=$B bench" >&2
        exit 1
    fi
done
out=$("$B/bench/kafka_bench" "$B/kpiwatch" "$POINTS")
kv() { sed -n "s/.*agents=$1 .*$2=\([^ ]*\).*/\1/p" <<<"$out"; }
ratio=$(sed -n 's/^ratio=//p' <<<"$out")
met=$(awk -v r="${ratio:-0}" 'BEGIN { print (r >= 1.8) ? "yes" : "**no**" }')
echo "### Kafka input: one agent and two in a group"
echo ""
echo "$POINTS points, 100 per message, keyed by journey over 32 partitions of a 3-broker mock cluster (librdkafka's, in the bench process), 5k series; from the first message produced to the last point accepted (agents' /metrics)."
echo ""
echo "| agents | seconds | points/s | two/one | target | met |"
echo "|---:|---:|---:|---:|---:|---|"
echo "| 1 | $(kv 1 seconds) | $(kv 1 points_per_second) | | | |"
echo "| 2 | $(kv 2 seconds) | $(kv 2 points_per_second) | ${ratio}× | ≥ 1.8× | $met |"
echo ""
