"""A FakeClarifai in its own process that prints its PostModelOutputs arrival times on exit.

Run as ``python -m tests.integration._fake_timing_child``: prints the URL line,
serves until stdin closes, then prints one JSON line ``{"times": [...]}``.
"""

from __future__ import annotations

import asyncio
import sys

import msgspec

from aioclarifai.testing import FakeClarifai


async def _main() -> None:
    async with FakeClarifai("ray-pat", log_limit=1_000_000, log_body_limit=0) as fake:
        print(f"URL {fake.url}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
        times = [r.time for r in fake.requests if r.operation == "PostModelOutputs"]
        print(msgspec.json.encode({"times": times}).decode(), flush=True)


if __name__ == "__main__":
    asyncio.run(_main())
