"""Predict micro-batching: many concurrent single predicts vs one request each.

The server (canned, own process) answers one output per input, echoing ids,
after a fixed latency per request; it counts the requests it served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from ._harness import (
    Ctx,
    Sample,
    X,
    drive,
    fmt_int,
    median,
    peak_rss_mb,
    require,
    rss_mb,
    run_child,
)
from .payloads import IMAGE_URL

__all__ = ["batched_samples", "bench_batched", "bench_predict_many", "predict_many_run"]

UNBATCHED_CONCURRENCY = 64


def _input(i: int) -> Any:
    from aioclarifai import types

    return types.Input(id=f"in-{i}", data=types.Data(image=types.Image(url=IMAGE_URL)))


async def _batched_round(client: Any, model_id: str, n: int) -> Sample:
    cpu0, t0 = time.process_time(), time.perf_counter()
    outputs = await asyncio.gather(*(client.predict(model_id, _input(i)) for i in range(n)))
    sample = Sample(time.perf_counter() - t0, time.process_time() - cpu0, n)
    wrong = [i for i, out in enumerate(outputs) if out.input is None or out.input.id != f"in-{i}"]
    if wrong:
        raise RuntimeError(f"batched: {len(wrong)} callers got another input's output")
    return sample


async def _unbatched_round(client: Any, model_id: str, n: int) -> Sample:
    counter = iter(range(n))

    async def call() -> None:
        i = next(counter)
        out = await client.predict(model_id, _input(i))
        if out.input is None or out.input.id != f"in-{i}":
            raise RuntimeError("unbatched: wrong output")

    return await drive(call, n, UNBATCHED_CONCURRENCY)


async def batched_samples(
    url: str, pat: str, served: Callable[[], int], *, n: int, rounds: int, model_id: str
) -> dict[str, list[tuple[Sample, int]]]:
    """Interleaved rounds of ``n`` predicts, batched and not: (sample, requests served)."""
    from aioclarifai import Client
    from aioclarifai._batching import BatchConfig

    results: dict[str, list[tuple[Sample, int]]] = {"batched": [], "unbatched": []}
    async with (
        Client(pat, base_url=url, app_id="app") as batched,
        Client(pat, base_url=url, app_id="app", batching=BatchConfig(enabled=False)) as unbatched,
    ):
        runs: dict[str, Callable[[int], Awaitable[Sample]]] = {
            "batched": lambda k: _batched_round(batched, model_id, k),
            "unbatched": lambda k: _unbatched_round(unbatched, model_id, k),
        }
        for run in runs.values():  # warm-up: open connections
            await run(min(n, 256))
        for r in range(rounds):
            order = ["batched", "unbatched"] if r % 2 == 0 else ["unbatched", "batched"]
            for name in order:
                before = served()
                sample = await runs[name](n)
                results[name].append((sample, served() - before))
    return results


def bench_batched(ctx: Ctx) -> None:
    """4,096 concurrent single-input predicts, server +20 ms per request."""
    require("aioclarifai._batching", "Batcher")
    server = ctx.server("canned")
    n, rounds = 4096, (2 if ctx.quick else 5)
    res = asyncio.run(
        batched_samples(
            server.url,
            server.pat,
            lambda: int(server.command("count")),
            n=n,
            rounds=rounds,
            model_id="echo-20ms",
        )
    )
    from aioclarifai._batching import BatchConfig

    size = BatchConfig().max_batch_size
    stats = {}
    for name, values in res.items():
        wall = median([s.wall for s, _ in values])
        cpu = median([s.cpu_us for s, _ in values])
        reqs = median([float(r) for _, r in values])
        stats[name] = (wall, cpu, reqs)
    b_wall, b_cpu, b_reqs = stats["batched"]
    u_wall, u_cpu, u_reqs = stats["unbatched"]
    where = "canned +20 ms/request"
    ctx.line(
        "batched",
        f"unbatched (c={UNBATCHED_CONCURRENCY})",
        f"{fmt_int(u_reqs):>6} requests {u_wall:6.2f} s {u_cpu:6.1f} µs CPU/input",
        f"1.00{X}",
        where,
    )
    ctx.line(
        "batched",
        f"batched ({n:,} concurrent)",
        f"{fmt_int(b_reqs):>6} requests {b_wall:6.2f} s {b_cpu:6.1f} µs CPU/input",
        f"{u_wall / b_wall:4.1f}{X} faster (target ≥10{X}), {b_cpu / u_cpu:4.2f}{X} CPU/input "
        f"(target ≤0.25{X}); requests ≤ {-(-n // size)} + a few",
        where,
    )


# -- predict_many over a long generator (fresh child process) -------------------------


async def predict_many_run(*, url: str, pat: str, n: int, model_id: str) -> dict[str, Any]:
    """Stream ``n`` generated inputs through ``predict_many``; peak RSS and throughput."""
    from aioclarifai import Client

    def inputs() -> Iterator[Any]:
        for i in range(n):
            yield _input(i)

    start = rss_mb()
    done = errors = misordered = 0
    async with Client(pat, base_url=url, app_id="app") as client:
        t0 = time.perf_counter()
        async for result in client.predict_many(model_id, inputs()):
            if isinstance(result, BaseException):
                errors += 1
            elif result.input is None or result.input.id != f"in-{done}":
                misordered += 1
            done += 1
        wall = time.perf_counter() - t0
    return {
        "done": done,
        "errors": errors,
        "misordered": misordered,
        "wall": wall,
        "start_rss": start,
        "peak_rss": peak_rss_mb(),
    }


def bench_predict_many(ctx: Ctx) -> None:
    """``predict_many`` over 1,000,000 generated inputs (quick: 50,000)."""
    require("aioclarifai._batching", "Batcher")
    server = ctx.server("canned")
    n = 50_000 if ctx.quick else 1_000_000
    r = run_child(
        "predict_many", {"url": server.url, "pat": server.pat, "n": n, "model_id": "echo"}
    )
    if r["done"] != n or r["errors"] or r["misordered"]:
        raise RuntimeError(
            f"{r['done']:,}/{n:,} results, {r['errors']} errors, {r['misordered']} out of order"
        )
    ctx.line(
        "predict_many",
        f"{n:,} inputs, generator",
        f"{fmt_int(n / r['wall']):>8} inputs/s in {r['wall']:.1f} s",
        f"peak RSS {r['peak_rss']:.0f} MB (target <300 MB; {r['start_rss']:.0f} MB at start)",
        "canned echo, fresh client process",
    )
