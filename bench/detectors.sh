#!/usr/bin/env bash
# detectors.sh BUILDDIR: per-detector cost at windows 64/288/2016: ns/update,
# callgrind instructions/update and state bytes per series, as one Markdown
# table (also bench/out/detectors.md). Builds nothing: `make bench` does.
set -euo pipefail

builddir=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$builddir/bench/det_perf
if [[ ! -x $bin ]]; then
    echo "detectors.sh: $bin not built; run: make BUILDDIR=$builddir $bin" >&2
    exit 1
fi
args=()
if command -v valgrind >/dev/null 2>&1; then
    args+=(--callgrind)
else
    echo "detectors.sh: valgrind not found; instructions/update left out" >&2
fi
mkdir -p "$root/bench/out"
"$bin" "${args[@]}" | tee "$root/bench/out/detectors.md"
