#!/usr/bin/env bash
# The default detector for each KPI kind must be the one the labelled accuracy
# benchmark picks. Asks the real binary which detector a KPI of each kind gets
# when the config names none, and compares with the benchmark's "best:" line.
set -euo pipefail
builddir=${1:-build}
cfg=$(mktemp /tmp/kpiwatch-defaults-XXXXXX.json)
trap 'rm -f "$cfg"' EXIT
cat > "$cfg" <<'JSON'
{"kpis": [
  {"name": "count", "metric": "complaints", "aggregation": "sum"},
  {"name": "rate", "metric": "dropoffs", "denominator": "entries", "aggregation": "ratio"},
  {"name": "continuous", "metric": "handling_minutes", "aggregation": "mean"}
]}
JSON
defaults=$("$builddir/kpiwatch" check-config "$cfg" | awk '$1 == "kpi" { sub("detector=", "", $4); printf "%s=%s ", $2, $4 }')
best=$("$builddir/bench/det_accuracy" -o /dev/null | sed -n 's/^best: //p')
echo "config defaults: $defaults"
echo "benchmark picks: $best"
[ "${defaults% }" = "$best" ]
