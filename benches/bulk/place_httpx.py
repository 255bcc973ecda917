"""Places N calls with asyncio + httpx, C at a time (C workers sharing one
AsyncClient), each with its own Idempotency-Key; prints the rate. The Python
baseline of BENCHMARKS.md "Bulk placement"; run by benches/bulk/run.sh.

TOPCALLS_API_KEY=... TOPCALLS_BASE_URL=... python3 place_httpx.py <calls> <concurrency>
"""
import asyncio
import os
import sys
import time
import uuid

import httpx


async def main(calls: int, concurrency: int) -> int:
    base = os.environ["TOPCALLS_BASE_URL"].rstrip("/")
    headers = {"Authorization": "Bearer " + os.environ["TOPCALLS_API_KEY"]}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    rows = iter(range(calls))
    failed = 0

    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:

        async def worker() -> None:
            nonlocal failed
            for n in rows:
                body = {
                    "phone_number": "+1555%07d" % (n % 10_000_000),
                    "task": "Remind the patient of tomorrow's appointment.",
                    "max_duration": 1.0,
                }
                response = await client.post(
                    "/v1/calls", json=body, headers={"Idempotency-Key": "py_" + uuid.uuid4().hex}
                )
                if response.status_code != 201:
                    failed += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    print(
        f"calls={calls} concurrency={concurrency} seconds={seconds:.3f} "
        f"calls_per_s={calls / seconds:.0f} failed={failed}"
    )
    return 1 if failed else 0


sys.exit(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]))))
