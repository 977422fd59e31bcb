"""A batch job against an account rate limit: goodput vs limit x 128, throttling, failures.

FakeClarifai runs in its own process with ``--rate-limit`` (a token bucket per
PAT answering 429 / 11005, with or without ``Retry-After``); the job is the
CLI's ``run_batch`` through a default ``Client`` that was not told the limit.
Goodput is inputs/s over the ideal ``limit x 128`` inputs/s; throttled share
is throttling answers over all requests (counted by an ``on_response`` hook).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from ._harness import Ctx, X, median

__all__ = ["JobResult", "bench_rate", "run_limited_job"]

INPUTS_PER_REQUEST = 128


@dataclass(frozen=True)
class JobResult:
    """One batch job: inputs, wall time, requests, throttled answers, failed inputs."""

    inputs: int
    wall: float
    requests: int
    throttled: int
    failed: int
    settled: float | None

    def goodput(self, limit: float) -> float:
        """Inputs/s as a fraction of ``limit x 128``."""
        return (self.inputs - self.failed) / self.wall / (limit * INPUTS_PER_REQUEST)

    @property
    def throttled_share(self) -> float:
        """Throttling answers over all requests."""
        return self.throttled / self.requests if self.requests else 0.0


async def run_limited_job(url: str, pat: str, n: int, workdir: str) -> JobResult:
    """Run ``n`` text inputs through ``run_batch`` against ``url``; count what happened."""
    from aioclarifai import Client
    from aioclarifai.cli._batch import run_batch

    inputs = os.path.join(workdir, f"in-{n}.jsonl")
    output = os.path.join(workdir, f"out-{n}.jsonl")
    _write_inputs(inputs, n)
    counts = {"requests": 0, "throttled": 0}

    def count(event: Any) -> None:
        counts["requests"] += 1
        if event.http_status == 429 or event.code == 11005:
            counts["throttled"] += 1

    async with Client(pat, base_url=url, app_id="app", on_response=count) as client:
        t0 = time.perf_counter()
        stats = await run_batch(client, "m", inputs, output)
        wall = time.perf_counter() - t0
        gate = getattr(client, "rate_stats", None)
        settled = gate().rate if callable(gate) else None
    return JobResult(n, wall, counts["requests"], counts["throttled"], stats.errors, settled)


def _write_inputs(path: str, n: int) -> None:
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"i{i}", "text": f"text number {i}"}) + "\n")


def bench_rate(ctx: Ctx) -> None:
    """12,000 inputs (quick: 4,000) against 15 req/s without Retry-After and 25 req/s with it."""
    from aioclarifai.testing._process import run_in_subprocess

    n = 4_000 if ctx.quick else 12_000
    rounds = 1 if ctx.quick else 3
    cases = [(15.0, ["--no-retry-after"], "no Retry-After"), (25.0, [], "Retry-After")]
    with tempfile.TemporaryDirectory(prefix="aioclarifai-bench-rate-") as tmp:
        for limit, flags, label in cases:
            results = []
            for _ in range(rounds):
                # A fresh server per round: each job meets a full, untouched account bucket.
                args = ["--rate-limit", f"{limit:g}", *flags]
                with run_in_subprocess(pat="bench-pat", extra_args=args) as url:
                    results.append(asyncio.run(run_limited_job(url, "bench-pat", n, tmp)))
            good = [r.goodput(limit) for r in results]
            share = [r.throttled_share for r in results]
            ideal = n / (limit * INPUTS_PER_REQUEST)
            over = [r.wall / ideal for r in results]
            failed = sum(r.failed for r in results)
            ctx.line(
                "rate",
                f"{limit:g} req/s, {label}",
                f"goodput {median(good):.2f} of limit{X}128 ({min(good):.2f}-{max(good):.2f}), "
                f"throttled {median(share):.1%}, failed {failed}",
                f"{median(over):.2f}{X} ideal time (target ≤1.5{X}, aim 1.1{X})",
                f"FakeClarifai --rate-limit {limit:g}, {n:,} inputs",
            )
