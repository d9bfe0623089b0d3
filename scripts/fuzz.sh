#!/usr/bin/env bash
# Runs every libFuzzer target of Fuzz/ for RUNS inputs each (make fuzz: 10^6, make fuzz-smoke: 10^4),
# starting from the committed seed corpus in Fuzz/Corpus/<target> (copied, so that the inputs the
# fuzzer adds stay out of the repository). A crash, hang (-timeout) or leak fails the target; its
# reproducer is kept in .build-fuzz/findings/<target>/.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-1000000}"
# make fuzz builds and runs the optimized targets (FUZZ_CONFIG=release), the smoke the debug ones.
BIN=".build-fuzz/${FUZZ_CONFIG:-debug}"
TARGETS=(${FUZZ_TARGETS:-FuzzSigV4 FuzzAWSChunked FuzzXML FuzzChunk FuzzConfig FuzzHospitalJSON FuzzPortal FuzzTransparency})
passed=0
failed=0
for target in "${TARGETS[@]}"; do
    work=".build-fuzz/corpus/$target"
    findings=".build-fuzz/findings/$target"
    mkdir -p "$work" "$findings"
    started=$(date +%s)
    # The hospital and portal targets keep a server (database, sessions, ledger) across 5 000 inputs: what it holds
    # between inputs is state, not a leak, so leak detection is off there alone (memory stays flat over a run:
    # RELIABILITY.md).
    # They also free a whole server's worth of memory every few thousand inputs: ASan hands freed memory
    # back to the system (it keeps it by default, and the process's RSS then climbs to libFuzzer's limit
    # with nothing leaked) and keeps a smaller quarantine.
    leaks=1
    asan="detect_leaks=1"
    case "$target" in FuzzHospitalJSON|FuzzPortal) leaks=0; asan="detect_leaks=0:allocator_release_to_os_interval_ms=500:quarantine_size_mb=64" ;; esac
    ASAN_OPTIONS="$asan" "$BIN/$target" -runs="$RUNS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -detect_leaks="$leaks" \
        -artifact_prefix="$findings/" "$work" "Fuzz/Corpus/$target" >".build-fuzz/$target.log" 2>&1
    status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' ".build-fuzz/$target.log" | grep -o '[0-9]*$' || echo 0)
    seconds=$(( $(date +%s) - started ))
    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
        echo "fuzz $target: ${runs:-0} inputs in ${seconds} s, no crash, hang or leak"
    else
        failed=$((failed + 1))
        echo "fuzz $target: FAILED (exit $status) after ${runs:-0} inputs; see .build-fuzz/$target.log and $findings"
        tail -n 40 ".build-fuzz/$target.log"
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
