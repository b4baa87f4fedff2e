#!/usr/bin/env bash
# accuracy.sh BUILDDIR: run the labelled synthetic accuracy benchmark over every
# registered detector and print the Markdown tables (also bench/out/accuracy.md).
# Every run of anomalous verdicts counts as an alarm, which is what the alert
# engine fires on with its default rule (`for: 1`); `det_accuracy -f N` scores
# a stricter rule. The last line names the default detector per KPI kind.
# Builds nothing: `make accuracy` builds $(BENCH_BINS) first.
set -euo pipefail

builddir=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$builddir/bench/det_accuracy
if [[ ! -x $bin ]]; then
    echo "accuracy.sh: $bin not built; run: make BUILDDIR=$builddir $bin" >&2
    exit 1
fi
mkdir -p "$root/bench/out"
# Two detector configs run at a time (one per core); each has a 100 s limit.
"$bin" -j "${KW_BENCH_JOBS:-2}" -o "$root/bench/out/accuracy.md"
echo "(written to bench/out/accuracy.md)" >&2
