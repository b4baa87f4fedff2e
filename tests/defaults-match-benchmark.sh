#!/usr/bin/env bash
# The default detector settings must be the ones the accuracy benchmarks
# pick: for counts and rates the deciding benchmark (bench/cx_accuracy, its
# last "picked:" line recorded in the README by `make accuracy`) must have
# picked the plain defaults, the shipped config must leave those KPIs on
# them, and the binary must give them; for continuous KPIs the per-interval
# benchmark (bench/det_accuracy, run here) must pick the binary's default.
set -euo pipefail
builddir=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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
defaults=${defaults% }
picked=$(sed -n 's/^picked: //p' "$root/README.md" | tail -1)
best=$("$builddir/bench/det_accuracy" -o /dev/null | sed -n 's/^best: //p')
echo "binary defaults:              $defaults"
echo "README, cx_accuracy picked:   $picked"
echo "det_accuracy best:            $best"
want="$picked continuous=${best##*continuous=}"
[ "$defaults" = "$want" ] || { echo "the defaults are not the benchmarks' picks"; exit 1; }
# The shipped config measures what a new user gets: no detector override on
# the KPIs the deciding benchmark replays.
/usr/bin/python3 - "$root/conf/kpiwatch.json" <<'PY'
import json, sys
for k in json.load(open(sys.argv[1]))["kpis"]:
    if k["metric"] in ("complaints", "journey_step_dropoffs") and "detector" in k:
        sys.exit("conf/kpiwatch.json: %s sets a detector; the benchmark measures the defaults" % k["name"])
PY
