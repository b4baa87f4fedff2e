#!/usr/bin/env bash
# Score a replay config on the NAB slice in ../shared/data/nab (or $NAB_DIR):
# replays every labelled file with `kpiwatch replay --scores`, then runs the
# benchmark's own scorer on the anomaly_score column.
#   tools/nab-eval.sh [CONFIG] [KPIWATCH]
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-conf/examples/nab.json}
bin=${2:-./kpiwatch}
nab=${NAB_DIR:-../shared/data/nab}
[ -d "$nab" ] || { echo "no NAB data at $nab (set NAB_DIR)" >&2; exit 1; }
out=$(mktemp -d /tmp/kpiwatch-nab-XXXXXX)
files=$(/usr/bin/python3 -c 'import json,sys; print("\n".join(sorted(json.load(open(sys.argv[1])))))' "$nab/windows.json")
echo "$files" > "$out/files.txt"
jobs=0
for rel in $files; do
    mkdir -p "$out/scores/$(dirname "$rel")"
    (
        "$bin" replay --quiet --scores "$out/raw.$$.$(echo "$rel" | tr / _)" -c "$config" "$nab/$rel" 2>/dev/null
        # the scorer wants timestamp,anomaly_score per data row
        awk -F, 'NR==1{print "timestamp,anomaly_score"; next} {print $1","$8}' "$out/raw.$$.$(echo "$rel" | tr / _)" \
            > "$out/scores/$rel"
    ) &
    jobs=$((jobs + 1))
    if [ "$jobs" -ge 2 ]; then wait -n; jobs=$((jobs - 1)); fi
done
wait
/usr/bin/python3 "$nab/score.py" "$nab/windows.json" "$out/scores" --files "$out/files.txt" ${NAB_PER_FILE:+--per-file}
rm -rf "$out"
