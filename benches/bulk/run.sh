#!/usr/bin/env bash
# Bulk placement, measured (BENCHMARKS.md "Bulk placement"): the sandbox
# binary (release) as its own process on 127.0.0.1, a fresh one per run;
# against it, 10,000 calls placed by the SDK's `create_many`, by a plain
# Python `requests` loop and by an asyncio + httpx loop at the same
# concurrency; then the SDK's peak RSS at 10,000 vs 100,000 calls; then a
# batch under the sandbox's per-key rate limit.
#
#   bash benches/bulk/run.sh [calls] [concurrency]      (defaults 10000 16)
#   RATE_LIMIT=600 bash benches/bulk/run.sh             (adds the rate-limit run, ~2 minutes)
#
# Needs python3 with `requests` and `httpx` (pip install httpx).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_INCREMENTAL=0
CALLS=${1:-10000}
CONCURRENCY=${2:-16}
KEY=tc_test_bulk_bench_key

cargo build --release --locked -q -p topcalls-sandbox --bin topcalls-sandbox
cargo bench --locked -q --no-run -p topcalls-contract-tests --bench bulk_place 2>/dev/null
SANDBOX=target/release/topcalls-sandbox

LOG=$(mktemp)
PID=
start() {
  "$SANDBOX" --port 0 --clock manual --api-key "$KEY" --balance-minutes 1000000000000 "$@" >"$LOG" 2>&1 &
  PID=$!
  until grep -q '^TOPCALLS_BASE_URL=' "$LOG"; do sleep 0.1; done
  export TOPCALLS_BASE_URL
  TOPCALLS_BASE_URL=$(sed -n 's/^TOPCALLS_BASE_URL=//p' "$LOG")
  export TOPCALLS_API_KEY=$KEY
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
trap 'kill $PID 2>/dev/null || true; rm -f "$LOG"' EXIT

sdk() { cargo bench --locked -q -p topcalls-contract-tests --bench bulk_place -- "$@" 2>/dev/null; }

echo "== $CALLS calls, concurrency $CONCURRENCY"
start; printf 'sdk create_many     '; sdk "$CALLS" "$CONCURRENCY"; stop
start; printf 'python httpx        '; python3 benches/bulk/place_httpx.py "$CALLS" "$CONCURRENCY"; stop
start; printf 'python requests     '; python3 benches/bulk/place_requests.py "$CALLS"; stop
echo "== SDK peak RSS"
for n in 10000 100000; do
  start; printf 'sdk create_many     '; sdk "$n" "$CONCURRENCY"; stop
done
if [ -n "${RATE_LIMIT:-}" ]; then
  echo "== per-key rate limit $RATE_LIMIT/min"
  start --rate-limit "$RATE_LIMIT"
  printf 'sdk create_many     '; sdk $((RATE_LIMIT * 2 + RATE_LIMIT / 10)) "$CONCURRENCY" "$RATE_LIMIT"
  stop
fi
