#!/usr/bin/env bash
# The whole test suite, as `make test` runs it:
#   1. unit, delivery and integration tests on the normal build (with
#      -Werror when CI=true or DEVELOPER=1),
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer,
#      then the status page in headless Chromium, the unit's hardening, the
#      RPM spec and (CI=true or KPIWATCH_PACKAGE_TEST=1) the .deb installed,
#   3. the libFuzzer targets (tests/fuzz/), FUZZ_SECONDS (45) each, two at a
#      time, one check per target (skipped without clang),
#   4. valgrind (memcheck) on the real binary: replay, check-config, and the
#      daemon handling a malformed flood.
# Ends with one line "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."

LOG_DIR=$(mktemp -d /tmp/kpiwatch-tests-XXXXXX)
passed=0
failed=0
failures=()
JOBS=${JOBS:-2}

note() { printf '\n=== %s ===\n' "$*"; }

# Run a Criterion binary; add its synthesis line to the totals. A sanitizer
# report anywhere in its output fails the suite even if every test passed.
criterion_suite() {
    local label=$1; shift
    local log="$LOG_DIR/$label.log"
    "$@" --jobs "$JOBS" >"$log" 2>&1
    local rc=$?
    grep -v '^\[----\]   $' "$log" | grep -E '^\[(FAIL|----)\]|Synthesis' | tail -60
    local line
    line=$(grep 'Synthesis:' "$log" | tail -1)
    local ok fail crash
    ok=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
    fail=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$line")
    crash=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$line")
    passed=$((passed + ${ok:-0}))
    failed=$((failed + ${fail:-0}))
    if [ -z "$line" ]; then
        failed=$((failed + 1)); failures+=("$label: runner exited $rc without a summary")
    fi
    # Sanitizer reports that are ours (tests/sanitizer-filter.awk sets aside
    # the few bytes Criterion's runner keeps until it exits).
    local reports
    reports=$(awk -f tests/sanitizer-filter.awk "$log")
    if [ -n "$line" ] && [ "$rc" -ne 0 ] && [ "${fail:-0}" -eq 0 ] &&
        ! { [ "$rc" -eq 23 ] && [ -z "$reports" ]; }; then
        failed=$((failed + 1)); failures+=("$label: runner exited $rc")
    fi
    [ "${fail:-0}" -gt 0 ] && failures+=("$label: ${fail} failing (${crash:-0} crashing)")
    if [ -n "$reports" ]; then
        failed=$((failed + 1)); failures+=("$label: sanitizer report in $log")
        printf '%s\n' "$reports" | head -40
    fi
}

# A single check: a command that must exit 0.
check() {
    local label=$1; shift
    local log="$LOG_DIR/$label.log"
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1)); echo "[PASS] $label"
    else
        failed=$((failed + 1)); failures+=("$label (log: $log)"); echo "[FAIL] $label"; tail -30 "$log"
    fi
}

# Warnings fail the build for CI and developers, never for a user's make test.
DEV_FLAG=()
if [ "${CI:-}" = true ] || [ -n "${DEVELOPER:-}" ]; then DEV_FLAG=(DEVELOPER=1); fi

build() {
    local dir=$1; shift
    make --no-print-directory -j"$JOBS" BUILDDIR="$dir" "${DEV_FLAG[@]}" "$@" test-plain >"$LOG_DIR/build-$dir.log" 2>&1 || {
        cat "$LOG_DIR/build-$dir.log"; echo "build in $dir failed"; failed=$((failed + 1)); failures+=("build $dir"); return 1; }
}

note "build${DEV_FLAG:+ (-Werror)}"
if build build; then
    ln -sf build/kpiwatch kpiwatch
    note "unit tests"
    criterion_suite unit build/unit-tests
    note "delivery tests (notifiers and dispatcher against local receivers)"
    criterion_suite delivery build/delivery-tests
    note "integration tests (real binary, real ZeroMQ)"
    KPIWATCH_BIN=build/kpiwatch criterion_suite integration build/integration-tests
    note "default detectors are the benchmark's best"
    check defaults-match-benchmark bash tests/defaults-match-benchmark.sh build
    note "NAB tools on a small checkout made from the tuning slice"
    if [ -f ../shared/data/nab/score.py ]; then
        check nab-tools bash tests/tools/nab.sh build/kpiwatch
    else
        echo "nab-tools skipped: no NAB slice at ../shared/data/nab"
    fi
    note "status page in headless Chromium during a demo (screenshots in $LOG_DIR/status-page)"
    check browser-status-page bash tests/browser/run.sh build/kpiwatch "$LOG_DIR/status-page"
    note "packaging: the unit's hardening, the RPM spec, the .deb"
    check unit-exposure bash tests/package/check-unit.sh
    check make-install bash tests/package/check-install.sh
    check rpm-spec-parses rpmspec -P packaging/rpm/kpiwatch.spec
    # dpkg -i changes the machine (undone at the end): only in CI or when asked.
    if [ "${CI:-}" = true ] || [ "${KPIWATCH_PACKAGE_TEST:-}" = 1 ]; then
        check package-deb bash tests/package/test-deb.sh build
    else
        echo "package-deb skipped (set KPIWATCH_PACKAGE_TEST=1; it runs dpkg -i as root)"
    fi
fi

note "sanitizers: ASan + UBSan"
if build build-san SANITIZE=address,undefined CFLAGS="-O1 -g"; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    export LSAN_OPTIONS=exitcode=23:suppressions=$PWD/tests/lsan.supp:print_suppressions=0
    criterion_suite unit-asan build-san/unit-tests
    criterion_suite delivery-asan build-san/delivery-tests
    KPIWATCH_BIN=build-san/kpiwatch criterion_suite integration-asan build-san/integration-tests
    # Sanitizer reports from agent processes land in their stderr files,
    # which the integration tests read; a non-zero exit fails them too.
    unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
fi

note "fuzzing (libFuzzer + ASan/UBSan, ${FUZZ_SECONDS:-45} s per target, two at a time)"
FUZZ_TARGETS=(fuzz_point fuzz_csv fuzz_config fuzz_state fuzz_lineproto fuzz_history)
if command -v clang >/dev/null; then
    rm -f build-fuzz/*.status
    if make --no-print-directory -j"$JOBS" fuzz-build >"$LOG_DIR/build-fuzz.log" 2>&1; then
        # Each run leaves its verdict in build-fuzz/TARGET.status; a failed
        # one names the reproducer.
        make --no-print-directory fuzz FUZZ_JOBS=2 FUZZ_SECONDS="${FUZZ_SECONDS:-45}" >"$LOG_DIR/fuzz.log" 2>&1
        for t in "${FUZZ_TARGETS[@]}"; do
            check "$t" bash -c "cat build-fuzz/$t.status && test \"\$(head -1 build-fuzz/$t.status)\" = PASS"
        done
    else
        cat "$LOG_DIR/build-fuzz.log"; echo "build in build-fuzz failed"; failed=$((failed + 1)); failures+=("build build-fuzz")
    fi
else
    echo "clang not found: fuzzing skipped"
fi

note "valgrind (memcheck) on the real binary"
if [ -x build/kpiwatch ] && command -v valgrind >/dev/null; then
    VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect"
    check valgrind-replay bash -c "$VG build/kpiwatch replay --quiet -c tests/data/golden/complaints.json tests/data/golden/complaints.jsonl"
    check valgrind-replay-csv bash -c "$VG build/kpiwatch replay --quiet -c tests/data/nab-default.json tests/data/art_spike.csv"
    check valgrind-check-config bash -c "$VG build/kpiwatch check-config conf/kpiwatch.json >/dev/null"
    check valgrind-bad-config bash -c "$VG build/kpiwatch check-config tests/data/bad-config.json; test \$? -eq 3"
    # The daemon itself under memcheck, driven by the integration tests
    # (not the soak suite: a million points under memcheck take too long).
    KPIWATCH_BIN=build/kpiwatch KPIWATCH_WRAPPER="$VG" JOBS=1 \
        criterion_suite integration-valgrind build/integration-tests --filter 'agent/*'
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "Failures:"
    printf '  - %s\n' "${failures[@]}"
fi
echo "logs: $LOG_DIR"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
