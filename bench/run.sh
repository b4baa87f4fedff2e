#!/usr/bin/env bash
# make bench: what the agent costs, measured from outside as a black box
# (its CLI, bench/bench.json, its stats line and /proc), each figure next to
# its target, as one Markdown report (also bench/out/bench.md):
#  1. throughput: bench/publisher sends one pre-generated stream to the bare
#     floor (bench/floor: receive + cJSON, nothing else), then the same
#     stream to `kpiwatch run -c bench/bench.json`, alternating, BENCH_REPEAT
#     pairs per case; medians of the per-pair ratios;
#  2. memory per series: a fresh agent per detector and size, VmRSS before
#     the first point and once every series has closed an interval;
#  3. alert latency from the close point to a local webhook receiver;
#  4. the `mad` detector against pandas' rolling MAD on the same points;
#  5. the line protocol reader against the JSON reader (bench/lineproto_bench);
#  6. per-detector cost (bench/detectors.sh), with binomial at denominators
#     around 100 with and without its pre-screens.
# Environment (defaults: 5 to 8 minutes on 2 cores):
#   BENCH_REPEAT (3)  BENCH_POINTS (1000000)  BENCH_SINGLE_POINTS (200000)
#   BENCH_MEMORY_SIZES ("10000 100000 1000000")  BENCH_MEMORY_MAX_MB (6144)
#   BENCH_LATENCY_REPS (30)  BENCH_MAD_POINTS (1000000)  BENCH_SKIP ("")
#   BENCH_SKIP takes any of: throughput memory latency pandas readers detectors.
# Builds nothing: `make bench` does.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
REPEAT=${BENCH_REPEAT:-3}
POINTS=${BENCH_POINTS:-1000000}
SINGLE_POINTS=${BENCH_SINGLE_POINTS:-200000}
MEMORY_SIZES=${BENCH_MEMORY_SIZES:-10000 100000 1000000}
MEMORY_MAX_MB=${BENCH_MEMORY_MAX_MB:-6144}
LATENCY_REPS=${BENCH_LATENCY_REPS:-30}
MAD_POINTS=${BENCH_MAD_POINTS:-1000000}
SKIP=" ${BENCH_SKIP:-} "
FLOOR_ENDPOINT=tcp://127.0.0.1:5598
AGENT_ENDPOINT=tcp://127.0.0.1:5599 # bench/bench.json's input
PYTHON=/usr/bin/python3             # Debian's, where install-deps.sh puts pandas

for bin in kpiwatch bench/floor bench/publisher bench/latency bench/det_rolling bench/det_perf; do
    if [[ ! -x $B/$bin ]]; then
        echo "run.sh: $B/$bin not built; run: make BUILDDIR=$B bench" >&2
        exit 1
    fi
done
mkdir -p bench/out
tmp=$(mktemp -d /tmp/kw-bench.XXXXXX)
AGENT_PID=
cleanup() {
    [[ -n $AGENT_PID ]] && kill "$AGENT_PID" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
report=bench/out/bench.md
: >"$report"
say() { printf '%s\n' "$*" | tee -a "$report"; }
note() { echo "run.sh: $*" >&2; }

# kv KEY LINE: the value of KEY=... in a key=value line.
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# calc EXPR: floating-point arithmetic
calc() { awk "BEGIN {print $1}"; }
# met VALUE OP TARGET: yes or no
met() { awk -v v="$1" -v t="$3" "BEGIN {print (v $2 t) ? \"yes\" : \"**no**\"}"; }

# start_agent CONFIG: a fresh agent, logging to $tmp/agent.log; returns once
# its inputs are bound.
start_agent() {
    : >"$tmp/agent.log"
    "$B/kpiwatch" run -c "$1" >"$tmp/agent.out" 2>"$tmp/agent.log" &
    AGENT_PID=$!
    for _ in $(seq 200); do
        grep -q ' running: ' "$tmp/agent.log" && return 0
        sleep 0.05
    done
    note "the agent did not start: $(tail -3 "$tmp/agent.log")"
    exit 1
}

stop_agent() {
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=
}

# floor_run POINTS SERIES PER_MSG: prints "wall_s cpu_s"
floor_run() {
    rm -f "$tmp/ready"
    "$B/bench/floor" "$FLOOR_ENDPOINT" "$1" "$tmp/ready" >"$tmp/floor.out" &
    local fpid=$!
    for _ in $(seq 200); do [[ -e $tmp/ready ]] && break; sleep 0.02; done
    local pub
    pub=$("$B/bench/publisher" -e "$FLOOR_ENDPOINT" -n "$1" -s "$2" -b "$3")
    wait "$fpid"
    local fl
    fl=$(cat "$tmp/floor.out")
    calc "($(kv done_ns "$fl") - $(kv start_ns "$pub")) / 1e9" | tr '\n' ' '
    calc "$(kv cpu_ns "$fl") / 1e9"
}

# The same config with everything on one thread, for the cores figure.
sed 's/"max_past": "0"/"max_past": "0", "receive_thread": false/' bench/bench.json >"$tmp/bench-one-thread.json"
grep -q '"receive_thread": false' "$tmp/bench-one-thread.json" || { note "bench/bench.json: no ingest.max_past to extend"; exit 1; }

# agent_run POINTS SERIES PER_MSG [CONFIG]: prints "wall_s cpu_s"
agent_run() {
    start_agent "${4:-bench/bench.json}"
    local pub
    pub=$("$B/bench/publisher" -e "$AGENT_ENDPOINT" -n "$1" -s "$2" -b "$3" -l "$tmp/agent.log" -p "$AGENT_PID")
    stop_agent
    calc "($(kv done_ns "$pub") - $(kv start_ns "$pub")) / 1e9" | tr '\n' ' '
    calc "$(kv cpu_ns "$pub") / 1e9"
}

say "## kpiwatch benchmark"
say ""
say "$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -m), $(date -u +%Y-%m-%d); \`make bench\` with BENCH_REPEAT=$REPEAT BENCH_POINTS=$POINTS."
say ""
summary=() # rows of the summary table

if [[ $SKIP != *" throughput "* ]]; then
    say "### Throughput: the agent against the bare floor"
    say ""
    say "One pre-generated stream, sent by a separate publisher process (PUSH, blocking at the high-water mark, so nothing is lost) to the floor (receive + cJSON parse of every point, nothing else) and then to \`kpiwatch run -c bench/bench.json\` (four KPIs with the default detectors: complaints and step entries (poisson), the drop-off ratio (binomial), handling time (holt_winters); 5-minute intervals, series advance 30 s of event time per round, so intervals close and detectors run as the stream goes). Wall time runs from the first message sent to the last point consumed (the agent: its stats line every 10 ms that counts the end marker); CPU time is the receiver's, all threads. The agent receives and parses on its own thread and aggregates and detects on another (\`ingest.receive_thread\`, the default); the same agent with \`receive_thread: false\`, everything on one thread, runs third in each round, for the gain from the second core. Floor, agent and one-thread agent alternate, $REPEAT rounds; ratios are medians of the per-round ratios."
    say ""
    say "| points/message | series | points | floor points/s | agent points/s | target | agent/floor rate | target | CPU/point agent (floor) | agent/floor CPU per point | one-thread agent points/s | agent/one-thread rate | floor/one-thread rate | cores the agent used |"
    say "|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|"
    declare -A cpu_pp
    for case in "1 1000 $SINGLE_POINTS" "100 1000 $POINTS" "100 100000 $POINTS"; do
        read -r per series points <<<"$case"
        fr=() ar=() rr=() cr=() fc=() ac=() or=() tr=() cu=() fo=()
        for r in $(seq "$REPEAT"); do
            read -r fw fcpu <<<"$(floor_run "$points" "$series" "$per")"
            read -r aw acpu <<<"$(agent_run "$points" "$series" "$per")"
            read -r ow ocpu <<<"$(agent_run "$points" "$series" "$per" "$tmp/bench-one-thread.json")"
            note "$per/msg $series series, round $r: floor ${fw}s ${fcpu}s CPU, agent ${aw}s ${acpu}s CPU, one-thread agent ${ow}s ${ocpu}s CPU"
            or+=("$(calc "$points / $ow")") tr+=("$(calc "$ow / $aw")") cu+=("$(calc "$acpu / $aw")")
            fo+=("$(calc "$ow / $fw")")
            fr+=("$(calc "$points / $fw")") ar+=("$(calc "$points / $aw")")
            rr+=("$(calc "$fw / $aw")") cr+=("$(calc "$acpu / $fcpu")")
            fc+=("$(calc "$fcpu * 1e9 / $points")") ac+=("$(calc "$acpu * 1e9 / $points")")
        done
        f_rate=$(median "${fr[@]}") a_rate=$(median "${ar[@]}") ratio=$(median "${rr[@]}") cratio=$(median "${cr[@]}")
        a_ns=$(median "${ac[@]}") f_ns=$(median "${fc[@]}")
        o_rate=$(median "${or[@]}") tratio=$(median "${tr[@]}") cores=$(median "${cu[@]}")
        ceiling=$(median "${fo[@]}") # the floor against the one-thread agent: no receiver of this publisher does better
        cpu_pp[$per-$series]=$a_ns
        rate_t="-" ratio_t="-"
        if [[ $per == 100 && $series == 1000 ]]; then
            rate_t="≥ 1000000 ($(met "$a_rate" ">=" 1000000))"
            ratio_t="≥ 0.8 ($(met "$ratio" ">=" 0.8))"
            summary+=("| agent/floor rate, 100 points/message, 1k series | $(printf '%.2f' "$ratio") | ≥ 0.8 | $(met "$ratio" ">=" 0.8) |")
            summary+=("| agent points/s, 100 points/message, 1k series | $(printf '%.0f' "$a_rate") | ≥ 1000000 | $(met "$a_rate" ">=" 1000000) |")
            summary+=("| agent rate, two threads / one thread, 100 points/message, 1k series (the floor's: its ceiling here) | $(printf '%.2f (%.2f)' "$tratio" "$ceiling") | ≥ 1.6 | $(met "$tratio" ">=" 1.6) |")
        elif [[ $per == 100 ]]; then
            ratio_t="≥ 0.7 ($(met "$ratio" ">=" 0.7))"
            summary+=("| agent rate, two threads / one thread, 100 points/message, 100k series (the floor's) | $(printf '%.2f (%.2f)' "$tratio" "$ceiling") | ≥ 1.6 | $(met "$tratio" ">=" 1.6) |")
            summary+=("| agent/floor rate, 100 points/message, 100k series | $(printf '%.2f' "$ratio") | ≥ 0.7 | $(met "$ratio" ">=" 0.7) |")
        fi
        say "| $per | $series | $points | $(printf '%.0f' "$f_rate") | $(printf '%.0f' "$a_rate") | $rate_t | $(printf '%.2f' "$ratio") | $ratio_t | $(printf '%.0f ns (%.0f ns)' "$a_ns" "$f_ns") | $(printf '%.2f' "$cratio") | $(printf '%.0f' "$o_rate") | $(printf '%.2f' "$tratio") | $(printf '%.2f' "$ceiling") | $(printf '%.2f' "$cores") |"
    done
    growth=$(calc "${cpu_pp[100-100000]} / ${cpu_pp[100-1000]}")
    summary+=("| agent CPU per point, 100k series / 1k series | $(printf '%.2f' "$growth") | ≤ 1.3 | $(met "$growth" "<=" 1.3) |")
    say ""
    say "Agent CPU per point at 100k series is $(printf '%.2f' "$growth")× that at 1k series (target ≤ 1.3×)."
    say ""
fi

if [[ $SKIP != *" memory "* ]]; then
    say "### Memory per series"
    say ""
    say "A fresh agent per detector and size, with a receive queue of 64 messages and 1 MB of parsed points (\`rcvhwm\`, \`ingest.queue_bytes\`) so that queued messages do not count as series memory; VmRSS once it has started, and again once every series exists and has closed an interval (two points per series, the second 400 s of event time later), divided by the series the agent reports. The detector's own state is det_perf's figure; the target is 512 B per series beyond it (for holt_winters and mad at 288, 16 × 288 + 512 = 5120 B in all)."
    say ""
    say "| detector | series | RSS growth | bytes/series | of which detector state | target bytes/series | met |"
    say "|---|---:|---:|---:|---:|---:|---|"
    "$B/bench/det_perf" -n 2000 -r 1 -d poisson,binomial,holt_winters,mad 2>/dev/null >"$tmp/state.md"
    state_of() { awk -F'|' -v d="$1" -v w="$2" '$2 ~ " "d" $" && $3 ~ " "w" $" {gsub(/ /, "", $6); print $6; exit}' "$tmp/state.md"; }
    for det in poisson binomial holt_winters mad; do
        case $det in
        poisson) kpi='"metric": "complaints", "aggregation": "sum"'; set=complaints; streams=1; dj='{"type": "poisson"}'; st=$(state_of poisson -) ;;
        binomial) kpi='"metric": "step_dropoffs", "denominator": "step_entries", "aggregation": "ratio"'; set=ratio; streams=2; dj='{"type": "binomial"}'; st=$(state_of binomial -) ;;
        holt_winters) kpi='"metric": "handle_seconds", "aggregation": "mean"'; set=handle; streams=1; dj='{"type": "holt_winters"}'; st=$(state_of holt_winters 288) ;;
        mad) kpi='"metric": "handle_seconds", "aggregation": "mean"'; set=handle; streams=1; dj='{"type": "mad", "window": 288}'; st=$(state_of mad 288) ;;
        esac
        [[ $det == poisson || $det == binomial ]] && target=$((512 + st)) || target=$((16 * 288 + 512))
        cat >"$tmp/mem.json" <<EOF
{"agent": {"max_series": 3000000, "stats_interval": "10ms"}, "ingest": {"max_past": "0", "queue_bytes": 1048576},
 "inputs": [{"name": "bench", "endpoint": "$AGENT_ENDPOINT", "socket": "pull", "rcvhwm": 64}],
 "kpis": [{"name": "k", $kpi, "interval": "5m", "group_by": ["journey", "step", "channel"], "detector": $dj}],
 "receivers": [{"name": "console", "type": "console"}], "route": {"receiver": "console"}}
EOF
        for size in $MEMORY_SIZES; do
            need_mb=$(( size * (2048 + 2 * st) / 1048576 )) # generous: the table and allocator overhead come on top
            if (( need_mb > MEMORY_MAX_MB )); then
                say "| $det | $size | skipped: needs about $need_mb MB (BENCH_MEMORY_MAX_MB=$MEMORY_MAX_MB) | | $st | $target | |"
                continue
            fi
            start_agent "$tmp/mem.json"
            pub=$("$B/bench/publisher" -e "$AGENT_ENDPOINT" -k "$set" -s $((size * streams)) -n $((2 * size * streams)) \
                -t 400 -l "$tmp/agent.log" -c -p "$AGENT_PID")
            stop_agent
            series=$(kv series "$pub")
            grow_kb=$(( $(kv rss_after_kb "$pub") - $(kv rss_before_kb "$pub") ))
            per=$(calc "$grow_kb * 1024 / $series")
            note "memory $det $size: $pub"
            say "| $det | $series | $(calc "$grow_kb / 1024" | xargs printf '%.1f') MB | $(printf '%.0f' "$per") | $st | $target | $(met "$per" "<=" "$target") |"
            if [[ $size == 100000 ]]; then
                summary+=("| memory per series, $det, 100k series | $(printf '%.0f' "$per") B | ≤ $target B | $(met "$per" "<=" "$target") |")
            fi
        done
    done
    say ""
fi

if [[ $SKIP != *" latency "* ]]; then
    say "### Alert latency from the close point"
    say ""
    say "\`kpiwatch run -c bench/latency.json\`: a sum KPI with 1 s intervals and lateness 0, a threshold detector, \`for\` 1, a webhook receiver and group_wait 0. bench/latency sends a value that crosses the threshold and times the webhook's arrival at its own HTTP receiver, from the close point: on the busy stream (10,000 series sending every second, in batches every 10 ms) the first point sent past the interval's end; on the quiet stream (one point, then nothing) the interval's end itself, as no point arrives to close it. $LATENCY_REPS repetitions each, a fresh agent per stream; percentiles by nearest rank."
    say ""
    say "| stream | alerts | missed | p50 | p99 | max | target p99 | met |"
    say "|---|---:|---:|---:|---:|---:|---:|---|"
    for mode in busy quiet; do
        start_agent bench/latency.json
        lat=$("$B/bench/latency" -e tcp://127.0.0.1:5601 -P 5602 -m "$mode" -r "$LATENCY_REPS")
        stop_agent
        p99=$(kv p99_ms "$lat")
        say "| $mode | $(kv n "$lat") | $(kv missed "$lat") | $(kv p50_ms "$lat") ms | $p99 ms | $(kv max_ms "$lat") ms | ≤ 50 ms | $(met "$p99" "<=" 50) |"
        summary+=("| alert latency p99, $mode stream | $p99 ms | ≤ 50 ms | $(met "$p99" "<=" 50) |")
    done
    say ""
fi

if [[ $SKIP != *" pandas "* ]]; then
    say "### Rolling MAD: the \`mad\` detector against pandas"
    say ""
    det=$("$B/bench/det_rolling" "$MAD_POINTS" "$tmp/points.bin" "$tmp/results.bin")
    if pd=$("$PYTHON" bench/pandas_mad.py "$tmp/points.bin" "$tmp/results.bin" "$(kv seconds "$det")" 2>&1); then :; fi
    ratio=$(kv ratio "$pd")
    say "$MAD_POINTS points, window 288: the detector (bench/det_rolling: median, MAD and verdict per point) against pandas $(kv pandas "$pd") \`rolling(288).median()\` plus \`rolling(288).apply(median of |x - median|, raw=True)\` (bench/pandas_mad.py), which has no rolling MAD of its own. Both give the same median and MAD at every point (same: $(kv same "$pd"); largest relative difference $(kv max_rel_diff_mad "$pd"))."
    say ""
    say "| | seconds | ns/point | speed-up | target | met |"
    say "|---|---:|---:|---:|---:|---|"
    say "| pandas | $(kv pandas_seconds "$pd") | $(calc "$(kv pandas_seconds "$pd") * 1e9 / $MAD_POINTS" | xargs printf '%.0f') | 1 | | |"
    say "| \`mad\` detector | $(kv seconds "$det") | $(kv ns_per_point "$det") | ${ratio}× | ≥ 50× | $(met "${ratio:-0}" ">=" 50) |"
    summary+=("| \`mad\` w=288 speed-up over pandas rolling MAD | ${ratio}× | ≥ 50× | $(met "${ratio:-0}" ">=" 50) |")
    say ""
fi

if [[ $SKIP != *" readers "* && -x $B/bench/lineproto_bench ]]; then
    say "### Readers"
    say ""
    "$B/bench/lineproto_bench" | tee -a "$report"
    say ""
fi

if [[ $SKIP != *" detectors "* ]]; then
    say "### Cost per detector update"
    say ""
    bash bench/detectors.sh "$B" >"$tmp/detectors.md"
    cat "$tmp/detectors.md" | tee -a "$report"
    instr() { awk -F'|' -v c="$1" '$7 ~ "rate n~100" && index($8, c) {gsub(/ /, "", $5); print $5; exit}' "$tmp/detectors.md"; }
    pre=$(instr '{"type":"binomial"}') ex=$(instr '"exact":true')
    say ""
    say "Binomial at denominators around 100: $pre instructions per update with its pre-screens, $ex on the exact path (\`exact: true\`, which is what every update there took before the small-denominator pre-screen)."
    summary+=("| binomial instructions/update at n≈100 (exact path) | $pre ($ex) | below the exact path | $(met "${pre:-0}" "<" "${ex:-0}") |")
    say ""
fi

say "### Summary"
say ""
say "| figure | measured | target | met |"
say "|---|---:|---:|---|"
for row in "${summary[@]}"; do say "$row"; done
echo "(written to $report)" >&2
[[ $SKIP == *" kafka "* ]] || bash bench/kafka.sh "$B" | tee -a "$report" # Kafka input: one agent and two in a group
