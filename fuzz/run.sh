#!/usr/bin/env bash
# Runs one cargo-fuzz target for a fixed time and prints how many inputs it
# executed. Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`).
#
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer flags…]
#   fuzz/run.sh decode_response 1800
#
# Targets: decode_response, header_parsing, webhook. They start from the
# examples of openapi.yaml (built into the harness); the corpus grows in
# fuzz/corpus/TARGET. A crash is saved in fuzz/artifacts/TARGET and fails
# the run. The full libFuzzer log is kept in fuzz/artifacts/TARGET.log.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 TARGET SECONDS [libFuzzer flags…]" >&2
    exit 2
fi
target=$1
seconds=$2
shift 2
case "$target" in
    decode_response | header_parsing | webhook) ;;
    *)
        echo "unknown target '$target' (decode_response, header_parsing, webhook)" >&2
        exit 2
        ;;
esac

# From the repository root: cargo-fuzz finds `fuzz/` there.
cd "$(dirname "$0")/.."
corpus=fuzz/corpus/$target
artifacts=fuzz/artifacts/$target
log=fuzz/artifacts/$target.log
mkdir -p "$corpus" "$artifacts"

status=0
cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$corpus" -- \
    -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" \
    >"$log" 2>&1 || status=$?

execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
crashes=$(find "$artifacts" -type f | wc -l)
echo "target=$target seconds=$seconds executions=${execs:-unknown} execs_per_sec=${rate:-unknown} crashes=$crashes exit=$status"
if [[ $status -ne 0 ]]; then
    tail -n 40 "$log" >&2
fi
exit "$status"
