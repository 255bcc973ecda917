#!/usr/bin/env bash
# Runs schemathesis against the sandbox binary with openapi.yaml, every check
# on (positive_data_acceptance and object_level_authorization included):
#
#   bash topcalls-sandbox/schemathesis.sh [max-examples] [stateful-seconds]
#
# 1. The examples, coverage and fuzzing phases, at most `max-examples`
#    (default 10) generated requests per operation, positive and negative.
# 2. The stateful phase: sequences of requests that follow the links of
#    openapi.yaml (the id a create or a list returned, a next_cursor, a
#    voip_carrier_sid), in rounds of 60 s with a new seed each, until every
#    link has been followed or `stateful-seconds` (default 300) are spent.
#    One round usually suffices; the rare chains (a campaign's call, then
#    its campaign) are what a second one is for.
#
# Both run against one sandbox, with the settings and hooks of
# topcalls-sandbox/schemathesis.toml (fresh Idempotency-Keys; issued cursors
# and carrier sids instead of generated ones; see schemathesis_hooks.py).
# The first account's key makes the requests; the second account's key is
# the peer that must not see the first's objects. Then
# schemathesis_report.py prints, per operation, how many requests were sent
# and accepted (2xx), and how often each link was followed; it fails unless
# every operation was accepted at least once and every link was followed.
#
# The sandbox runs at real-time speed (--speed 1), so that a call stays
# queued for 3 s and in progress for 90 s: long enough for the stop and
# cancel requests that follow its creation to find it in a state that allows
# them.
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-10}"
stateful_seconds="${2:-300}"
round_seconds=60
port=18089
key=tc_test_schemathesis
work=target/schemathesis
python3 -m pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
cargo build --quiet --locked -p topcalls-sandbox
mkdir -p "$work"
rm -f "$work"/tally-*.json
./target/debug/topcalls-sandbox --port "$port" --api-key "$key" --balance-minutes 100000000 \
  --speed 1 >"$work/sandbox.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  grep -q '^second account key: ' "$work/sandbox.log" &&
    curl -s -o /dev/null "http://127.0.0.1:$port/v1/models" && break
  sleep 0.1
done
other=$(sed -n 's/^second account key: //p' "$work/sandbox.log")
# The identities of schemathesis.toml's [auth.wfc] (Web Fuzzing Commons format).
cat >"$work/auth.json" <<JSON
{"auth": [
  {"name": "bright-dental", "fixedHeaders": [{"name": "Authorization", "value": "Bearer $key"}]},
  {"name": "acme-logistics", "fixedHeaders": [{"name": "Authorization", "value": "Bearer $other"}]}
]}
JSON

run() {
  local name=$1
  shift
  TOPCALLS_ST_TALLY="$work/tally-$name.json" st --config-file topcalls-sandbox/schemathesis.toml \
    run openapi.yaml --url "http://127.0.0.1:$port" --checks all --no-color "$@"
}
status=0
run unit --phases examples,coverage,fuzzing --max-examples "$examples" --seed 1 || status=1
round=1
while :; do
  run "stateful-$round" --phases stateful --max-time "$round_seconds" --seed "$round" || status=1
  python3 topcalls-sandbox/schemathesis_report.py --links-followed openapi.yaml "$work"/tally-*.json && break
  ((round * round_seconds < stateful_seconds)) || break
  round=$((round + 1))
done
python3 topcalls-sandbox/schemathesis_report.py openapi.yaml "$work"/tally-*.json || status=1
exit "$status"
