#!/bin/sh
# tests/fuzz/run.sh BUILDDIR TARGET SECONDS: run one libFuzzer target on a
# scratch copy of its seed corpus (the repository's is never written to).
# Exits 1 and prints the reproducer on a crash, leak, timeout, out-of-memory
# or sanitizer report; the verdict is also left in BUILDDIR/TARGET.status
# (first line PASS or FAIL) and the output in BUILDDIR/TARGET.log.
set -u
dir=$1
target=$2
secs=$3
bin=$dir/$target
work=$dir/fuzz-work/$target
log=$dir/$target.log
status=$dir/$target.status

rm -f "$status"
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp tests/fuzz/corpus/"$target"/* "$work/corpus/" 2>/dev/null
set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/"
[ -f tests/fuzz/"$target".dict ] && set -- "$@" -dict=tests/fuzz/"$target".dict

# UBSan reports must stop the run with a stack (the build has no recovery).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" "$@" "$work/corpus" >"$log" 2>&1
rc=$?

found=$(ls "$work/artifacts" 2>/dev/null | head -1)
if [ "$rc" -eq 0 ] && [ -z "$found" ] && ! grep -q 'Sanitizer' "$log"; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    { echo PASS; echo "$target: ${runs:-?} runs in ${secs}s, no findings"; } >"$status"
    sed -n 2p "$status"
    exit 0
fi
{
    echo FAIL
    echo "$target: exit $rc"
    grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:|^(saved|series) ' "$log" | head -15
    if [ -n "$found" ]; then
        echo "reproducer: $work/artifacts/$found"
        echo "rerun:      $bin $work/artifacts/$found"
    fi
    echo "log:        $log"
} >"$status"
tail -n +2 "$status"
exit 1
