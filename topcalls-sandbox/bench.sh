#!/usr/bin/env bash
# Throughput of the sandbox next to Prism (a stateless mock of the same
# openapi.yaml), measured in one run on this machine with wrk on loopback.
#
#   bash topcalls-sandbox/bench.sh [seconds-per-run]
#
# Needs: wrk (Debian package `wrk`) and Node.js/npm (Prism is installed
# with npm into a temporary folder). Prints requests/second and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
key=tc_test_bench_key
sandbox_port=18090
prism_port=18091
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
npm install --silent --prefix "$work/prism" @stoplight/prism-cli@5 >/dev/null 2>&1
cargo build --quiet --release --locked -p topcalls-sandbox

# The embedded sandbox's pace (the binary's own defaults are real time with a 60 s queue).
./target/release/topcalls-sandbox --port "$sandbox_port" --api-key "$key" --balance-minutes 1e12 \
  --speed 120 --queue-seconds 3 >"$work/sandbox.log" 2>&1 &
pids+=($!)
"$work/prism/node_modules/.bin/prism" mock openapi.yaml --port "$prism_port" --errors false >"$work/prism.log" 2>&1 &
pids+=($!)
for port in $sandbox_port $prism_port; do
  for _ in $(seq 1 100); do
    curl -s -o /dev/null -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/models" && break
    sleep 0.2
  done
done

body='{"phone_number": "+15551234567", "task": "Confirm the appointment for tomorrow.", "voice": "alloy", "max_duration": 1}'
call_id=$(curl -s -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d "$body" \
  "http://127.0.0.1:$sandbox_port/v1/calls" | python3 -c 'import json,sys; print(json.load(sys.stdin)["call_id"])')
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA

run() { # name url [script]
  local out
  if [ -n "${3:-}" ]; then
    out=$(wrk -t2 -c32 -d"${seconds}s" -s "$3" "$2")
  else
    out=$(wrk -t2 -c32 -d"${seconds}s" -H "Authorization: Bearer $key" "$2")
  fi
  local rps non2xx
  rps=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
  non2xx=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $5}')
  printf '%-32s %10s req/s  (non-2xx: %s)\n' "$1" "$rps" "${non2xx:-0}" >&2
  echo "$rps"
}

echo "wrk -t2 -c32 -d${seconds}s on 127.0.0.1; $(nproc) cores" >&2
sg=$(run "sandbox GET /v1/calls/{id}" "http://127.0.0.1:$sandbox_port/v1/calls/$call_id")
pg=$(run "prism   GET /v1/calls/{id}" "http://127.0.0.1:$prism_port/v1/calls/$call_id")
sp=$(run "sandbox POST /v1/calls" "http://127.0.0.1:$sandbox_port/v1/calls" "$work/post.lua")
pp=$(run "prism   POST /v1/calls" "http://127.0.0.1:$prism_port/v1/calls" "$work/post.lua")
python3 - "$sg" "$pg" "$sp" "$pp" <<'PY'
import sys
sg, pg, sp, pp = map(float, sys.argv[1:])
print(f"GET  /v1/calls/{{id}}: sandbox/prism = {sg / pg:.1f}x")
print(f"POST /v1/calls:      sandbox/prism = {sp / pp:.1f}x")
PY
