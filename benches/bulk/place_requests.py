"""Places N calls one after another with `requests` (a plain loop), each with
its own Idempotency-Key; prints the rate. The Python baseline of
BENCHMARKS.md "Bulk placement"; run by benches/bulk/run.sh.

TOPCALLS_API_KEY=... TOPCALLS_BASE_URL=... python3 place_requests.py <calls>
"""
import os
import sys
import time
import uuid

import requests

calls = int(sys.argv[1])
base = os.environ["TOPCALLS_BASE_URL"].rstrip("/")
session = requests.Session()
session.headers["Authorization"] = "Bearer " + os.environ["TOPCALLS_API_KEY"]
failed = 0
started = time.perf_counter()
for n in range(calls):
    body = {
        "phone_number": "+1555%07d" % (n % 10_000_000),
        "task": "Remind the patient of tomorrow's appointment.",
        "max_duration": 1.0,
    }
    response = session.post(
        base + "/v1/calls", json=body, headers={"Idempotency-Key": "py_" + uuid.uuid4().hex}
    )
    if response.status_code != 201:
        failed += 1
seconds = time.perf_counter() - started
print(f"calls={calls} concurrency=1 seconds={seconds:.3f} calls_per_s={calls / seconds:.0f} failed={failed}")
sys.exit(1 if failed else 0)
