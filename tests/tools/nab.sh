#!/usr/bin/env bash
# The NAB tools on a small NAB checkout made from the tuning slice:
# nab-heldout.py scores kpiwatch and the published detectors' result files
# (here a perfect and a silent one, whose figures are known), and
# nab-loco.py cross-validates over its categories. A checkout without
# labels is a one-line error.
#   tests/tools/nab.sh KPIWATCH
set -euo pipefail
bin=$(realpath "$1")
cd "$(dirname "$0")/../.."
slice=${NAB_SLICE:-../shared/data/nab}
# The slice and its scorer ship beside the repository, not in it: without
# them there is nothing for these tools to score.
[ -f "$slice/score.py" ] || { echo "skipped: no NAB slice at $slice (set NAB_SLICE)"; exit 0; }
t=$(mktemp -d /tmp/kpiwatch-nabtools-XXXXXX)
trap 'rm -rf "$t"' EXIT

# Slice: two categories, two files each. Held out: a third category.
mkdir -p "$t/nab/data/heldOut" "$t/nab/labels" "$t/slice"
ln -s "$(realpath "$slice/artificialWithAnomaly")" "$t/nab/data/artificialWithAnomaly"
ln -s "$(realpath "$slice/realKnownCause")" "$t/nab/data/realKnownCause"
cp "$slice/artificialWithAnomaly/art_daily_flatmiddle.csv" "$t/nab/data/heldOut/a.csv"
cp "$slice/realKnownCause/rogue_agent_key_hold.csv" "$t/nab/data/heldOut/b.csv"
cp "$slice/score.py" "$t/slice/"
python3 - "$slice" "$t" <<'PY'
import csv, json, os, sys
slice_dir, t = sys.argv[1:]
w = json.load(open(os.path.join(slice_dir, "windows.json")))
picked = ["artificialWithAnomaly/art_daily_jumpsup.csv", "artificialWithAnomaly/art_increase_spike_density.csv",
          "realKnownCause/rogue_agent_key_hold.csv", "realKnownCause/ec2_request_latency_system_failure.csv"]
sl = {f: w[f] for f in picked}
json.dump(sl, open(os.path.join(t, "slice", "windows.json"), "w"))
allw = dict(sl)
allw["heldOut/a.csv"] = w["artificialWithAnomaly/art_daily_flatmiddle.csv"]
allw["heldOut/b.csv"] = w["realKnownCause/rogue_agent_key_hold.csv"]
json.dump(allw, open(os.path.join(t, "nab", "labels", "combined_windows.json"), "w"))
# "ARTime" fires at the first row of every window and nowhere else; "windowedGaussian" never fires.
for det, perfect in (("ARTime", True), ("windowedGaussian", False)):
    for rel, wins in allw.items():
        cat, fn = rel.split("/")
        rows = list(csv.DictReader(open(os.path.join(t, "nab", "data", rel))))
        starts = {a.split(".")[0] for a, _ in wins}
        os.makedirs(os.path.join(t, "nab", "results", det, cat), exist_ok=True)
        with open(os.path.join(t, "nab", "results", det, cat, det + "_" + fn), "w") as f:
            f.write("timestamp,value,anomaly_score\n")
            for r in rows:
                f.write("%s,%s,%d\n" % (r["timestamp"], r["value"], perfect and r["timestamp"] in starts))
PY

out=$(python3 tools/nab-heldout.py --nab "$t/nab" --slice "$t/slice" --bin "$bin" --out "$t/all")
echo "$out"
python3 - "$out" <<'PY'
import sys
rows = {}
for line in sys.argv[1].splitlines():
    cols = [c.strip() for c in line.strip("|").split("|")]
    try:
        rows[cols[0]] = [float(c) for c in cols[1:]]
    except ValueError:
        pass
assert "the 4-file slice" in sys.argv[1] and "2 held-out files" in sys.argv[1], "header names the split"
kw = [v for k, v in rows.items() if k.startswith("kpiwatch")]
assert len(kw) == 1, "one kpiwatch row: %s" % rows
assert all(-100 <= x < 100 for x in kw[0]) and len(set(kw[0])) > 1, kw
# A detection at a window's first row earns the whole reward of the window.
assert rows["ARTime"] == [100.0] * 4, rows["ARTime"]
assert rows["windowedGaussian"] == [0.0] * 4, rows["windowedGaussian"]
# The held-out files' own best threshold cannot score below the slice's.
assert kw[0][0] <= kw[0][1], kw
print("nab-heldout: figures as expected")
PY

loco=$(NAB_DIR="$t/all" python3 tools/nab-loco.py --bin "$bin" --grid '{"threshold": [2, 3]}' 2>/dev/null)
echo "$loco"
# Both tools score the whole corpus at its best threshold alike.
all_heldout=$(grep "^| kpiwatch" <<<"$out" | awk -F'|' '{gsub(/ /, "", $6); print $6}')
grep -q "^| shipped config, all 6 files, .* | $all_heldout |" <<<"$loco"
grep -c "^| leave-one-category-out" <<<"$loco" | grep -qx 2
grep -q "heldOut: " <<<"$loco"

# No labels: a one-line error naming the file and the option, no traceback.
rm "$t/nab/labels/combined_windows.json"
if err=$(python3 tools/nab-heldout.py --nab "$t/nab" --slice "$t/slice" --bin "$bin" 2>&1); then
    echo "nab-heldout.py succeeded without labels"; exit 1
fi
echo "$err"
[ "$(wc -l <<<"$err")" -eq 1 ] && grep -q "combined_windows.json.*--nab" <<<"$err"
echo "nab tools: ok"
