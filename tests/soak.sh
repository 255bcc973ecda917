#!/usr/bin/env bash
# Runs tests over and over, half the runs with both cores kept busy, and stops
# at the first failure. A test that fails here is flaky: fix it, do not retry it.
#
#   tests/soak.sh [RUNS] [-- CARGO-TEST-ARGS...]
#
#   tests/soak.sh 20                      # the whole suite 20 times, runs 11-20 under load
#   tests/soak.sh 200 -- -p topcalls-contract-tests --test webhooks_e2e \
#       a_failing_receiver_gets_the_retry_schedule_then_succeeds
#
# SOAK_LOAD=none|half|all (default half) says which runs get the busy cores.
# The load is `stress-ng --cpu N` when installed, else N busy shell loops,
# where N is the number of cores.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
shift || true
[ "${1:-}" = "--" ] && shift
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--workspace)
load_mode=${SOAK_LOAD:-half}
cores=$(nproc)

load_pids=()
start_load() {
    [ ${#load_pids[@]} -eq 0 ] || return 0
    if command -v stress-ng >/dev/null; then
        stress-ng --cpu "$cores" --quiet &
        load_pids+=($!)
    else
        for _ in $(seq "$cores"); do
            (while :; do :; done) &
            load_pids+=($!)
        done
    fi
}
stop_load() {
    [ ${#load_pids[@]} -eq 0 ] && return 0
    kill "${load_pids[@]}" 2>/dev/null || true
    wait "${load_pids[@]}" 2>/dev/null || true
    load_pids=()
}
trap stop_load EXIT

# Build once, so that every run measures the tests and not the compiler.
cargo test --locked --no-run "${args[@]}" >/dev/null 2>&1 || cargo test --locked --no-run "${args[@]}"

log=$(mktemp)
started=$(date +%s)
for run in $(seq "$runs"); do
    loaded=no
    case "$load_mode" in
        all) loaded=yes ;;
        half) [ "$run" -gt $((runs / 2)) ] && loaded=yes ;;
    esac
    if [ "$loaded" = yes ]; then start_load; else stop_load; fi
    if cargo test --locked --no-fail-fast "${args[@]}" >"$log" 2>&1; then
        printf 'run %d/%d passed (load: %s)\n' "$run" "$runs" "$loaded"
    else
        printf 'run %d/%d FAILED (load: %s); its output:\n' "$run" "$runs" "$loaded"
        grep -E '^(test .* FAILED|failures:|---- |thread .* panicked|error)' "$log" || tail -n 60 "$log"
        echo "full log: $log"
        exit 1
    fi
done
rm -f "$log"
printf '%d runs, 0 failures, in %d s\n' "$runs" $(($(date +%s) - started))
