#!/usr/bin/env bash
# accuracy.sh BUILDDIR: the accuracy benchmarks, as `make accuracy` runs them.
#  1. The deciding one: bench/cx_accuracy replays simulated customer journeys
#     through `kpiwatch replay` with the shipped conf/kpiwatch.json and scores
#     incidents as people meet them (bench/out/cx-accuracy.md; the README's
#     table and its "picked:" line come from it). Exits 3 when the detector
#     settings it picks are not the defaults.
#  2. The bound: bench/cx_oracle, the best any detector could do on that
#     world for its hardest targets (bench/out/cx-oracle.md), about a minute.
#  3. The secondary one: bench/det_accuracy, every detector per interval on
#     labelled series, F1 per anomaly type (bench/out/accuracy.md); its
#     "best:" line picks the default detector for continuous KPIs.
# Builds nothing: `make accuracy` builds $(BENCH_BINS) and the binary first.
set -uo pipefail

builddir=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for bin in "$builddir/bench/cx_accuracy" "$builddir/bench/cx_oracle" "$builddir/bench/det_accuracy" "$builddir/kpiwatch"; do
    if [[ ! -x $bin ]]; then
        echo "accuracy.sh: $bin not built; run: make BUILDDIR=$builddir accuracy" >&2
        exit 1
    fi
done
mkdir -p "$root/bench/out"
cd "$root"
# Runs go two at a time (one per core); 20 seeds take about 5 minutes here.
"$builddir/bench/cx_accuracy" -b "$builddir/kpiwatch" -c conf/kpiwatch.json -s "${KW_BENCH_SEEDS:-20}" \
    -j "${KW_BENCH_JOBS:-2}" -o bench/out/cx-accuracy.md
rc=$?
echo
"$builddir/bench/cx_oracle" -o bench/out/cx-oracle.md || { ((rc)) || rc=1; }
echo
# Two detector configs run at a time; each has a 100 s limit.
"$builddir/bench/det_accuracy" -j "${KW_BENCH_JOBS:-2}" -o bench/out/accuracy.md || rc=${rc:-1}
echo "(written to bench/out/cx-accuracy.md, bench/out/cx-oracle.md and bench/out/accuracy.md)" >&2
exit $rc
