"""Predict micro-batching: many concurrent single predicts vs one request each.

The server (canned, own process) answers one output per input, echoing ids,
after a fixed latency per request; it counts the requests it served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import msgspec

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
    spread,
)
from .payloads import IMAGE_URL

__all__ = [
    "batched_samples",
    "bench_batched",
    "bench_predict_many",
    "bench_predict_many_vs_raw",
    "predict_many_run",
    "predict_many_samples",
]

UNBATCHED_CONCURRENCY = 64
#: Inputs per request of the hand-batched raw floor (Clarifai's cap).
HAND_BATCH = 128
#: ``predict_many``'s default ``concurrency`` (inputs pulled ahead of results).
PREDICT_MANY_CONCURRENCY = 512
#: ``BatchConfig()``'s ``max_batch_size x max_concurrent_batches``: what the batcher allows.
WIDE_CONCURRENCY = 64 * 64
_JSON = {"Content-Type": "application/json"}


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


def _raw_body(start: int, count: int) -> dict[str, Any]:
    inputs = [
        {"id": f"in-{i}", "data": {"image": {"url": IMAGE_URL}}}
        for i in range(start, start + count)
    ]
    return {"inputs": inputs}


class _HandRaw:
    """The floor a hand-written job sets: raw aiohttp + msgspec, inputs cut into requests."""

    def __init__(self, url: str, pat: str, model_id: str) -> None:
        import aiohttp
        from yarl import URL

        self.session = aiohttp.ClientSession(headers={"Authorization": f"Key {pat}"})
        self.target = URL(f"{url}/v2/users/me/apps/app/models/{model_id}/outputs", encoded=True)

    async def post(self, start: int, count: int) -> int:
        """One request of ``count`` inputs; checks the echoed ids; returns ``count``."""
        data = msgspec.json.encode(_raw_body(start, count))
        async with self.session.post(self.target, data=data, headers=_JSON) as resp:
            body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"hand-batched raw: HTTP {resp.status}")
        outputs = msgspec.json.decode(body)["outputs"]
        if [o["input"]["id"] for o in outputs] != [f"in-{i}" for i in range(start, start + count)]:
            raise RuntimeError("hand-batched raw: outputs out of order")
        return count

    async def all_at_once(self, n: int, per_request: int) -> Sample:
        """``n`` inputs as ``n / per_request`` concurrent requests."""
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(
            *(self.post(i, min(per_request, n - i)) for i in range(0, n, per_request))
        )
        return Sample(time.perf_counter() - t0, time.process_time() - cpu0, n)

    async def pipeline(self, n: int, per_request: int, in_flight: int) -> Sample:
        """``n`` inputs, ``per_request`` a request, at most ``in_flight`` requests at once."""
        starts = iter(range(0, n, per_request))

        async def worker() -> None:
            for i in starts:
                await self.post(i, min(per_request, n - i))

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return Sample(time.perf_counter() - t0, time.process_time() - cpu0, n)

    async def close(self) -> None:
        """Close the session."""
        await self.session.close()


async def batched_samples(
    url: str,
    pat: str,
    served: Callable[[], int],
    *,
    n: int,
    rounds: int,
    model_id: str,
    unbatched_rounds: int | None = None,
) -> dict[str, list[tuple[Sample, int]]]:
    """Interleaved rounds of ``n`` concurrent predicts: (sample, requests served) per variant.

    ``coalesced`` is ``client.predict`` with the default batcher; ``hand-batched
    raw`` posts the same inputs as ``n / 128`` concurrent raw requests. ``cold``
    rounds use a client (or session) made for the round: no open connections,
    no warmed caches; ``warm`` rounds reuse one that already ran. ``unbatched``
    (warm, c=64) is the batcher switched off.
    """
    from aioclarifai import Client
    from aioclarifai._batching import BatchConfig

    names = ["coalesced cold", "hand-batched raw cold", "coalesced warm", "hand-batched raw warm"]
    results: dict[str, list[tuple[Sample, int]]] = {name: [] for name in [*names, "unbatched"]}

    async def coalesced_cold(k: int) -> Sample:
        async with Client(pat, base_url=url, app_id="app") as fresh:
            return await _batched_round(fresh, model_id, k)

    async def raw_cold(k: int) -> Sample:
        fresh = _HandRaw(url, pat, model_id)
        try:
            return await fresh.all_at_once(k, HAND_BATCH)
        finally:
            await fresh.close()

    raw = _HandRaw(url, pat, model_id)
    try:
        async with (
            Client(pat, base_url=url, app_id="app") as batched,
            Client(pat, base_url=url, app_id="app", batching=BatchConfig(enabled=False)) as alone,
        ):
            runs: dict[str, Callable[[int], Awaitable[Sample]]] = {
                "coalesced cold": coalesced_cold,
                "hand-batched raw cold": raw_cold,
                "coalesced warm": lambda k: _batched_round(batched, model_id, k),
                "hand-batched raw warm": lambda k: raw.all_at_once(k, HAND_BATCH),
                "unbatched": lambda k: _unbatched_round(alone, model_id, k),
            }
            # Warm-up of the warm variants: open connections, fill caches.
            for name in ("coalesced warm", "hand-batched raw warm", "unbatched"):
                await runs[name](n if name != "unbatched" else min(n, 256))
            for r in range(rounds):
                # Rotate the order so no variant always runs right after another.
                order = names[r % len(names) :] + names[: r % len(names)]
                if r < (rounds if unbatched_rounds is None else unbatched_rounds):
                    order.append("unbatched")
                for name in order:
                    before = served()
                    sample = await runs[name](n)
                    results[name].append((sample, served() - before))
    finally:
        await raw.close()
    return results


def bench_batched(ctx: Ctx) -> None:
    """4,096 concurrent single-input predicts, server +20 ms per request.

    Against the floor (hand-batched raw: 32 concurrent requests of 128 inputs)
    cold and warm, and against the batcher switched off. Figures are
    ``median [min..max]`` of interleaved rounds.
    """
    require("aioclarifai._batching", "Batcher")
    server = ctx.server("canned")
    n, rounds, unbatched_rounds = (4096, 3, 1) if ctx.quick else (4096, 9, 3)
    res = asyncio.run(
        batched_samples(
            server.url,
            server.pat,
            lambda: int(server.command("count")),
            n=n,
            rounds=rounds,
            model_id="echo-20ms",
            unbatched_rounds=unbatched_rounds,
        )
    )
    where = "canned +20 ms/request"

    def walls(name: str) -> list[float]:
        return [s.wall * 1000 for s, _ in res[name]]

    def cpus(name: str) -> list[float]:
        return [s.cpu_us for s, _ in res[name]]

    for name in res:
        reqs = median([float(r) for _, r in res[name]])
        figures = f"{fmt_int(reqs):>5} req {spread(walls(name), '.0f'):>13} ms {spread(cpus(name))}"
        if name.startswith("hand-batched"):
            ratio = f"1.00{X} (floor: {n // HAND_BATCH} concurrent requests {X} {HAND_BATCH})"
        elif name == "unbatched":
            ratio = f"c={UNBATCHED_CONCURRENCY}; coalesced warm is " + (
                f"{median(walls(name)) / median(walls('coalesced warm')):.1f}{X} faster"
            )
        else:
            floor = name.replace("coalesced", "hand-batched raw")
            wall_ratio = median(walls(name)) / median(walls(floor))
            cpu_ratio = median(cpus(name)) / median(cpus(floor))
            ratio = (
                f"{wall_ratio:4.2f}{X} hand-batched wall (target ≤1.2{X}), "
                f"{cpu_ratio:4.2f}{X} its CPU/input"
            )
        ctx.line("batched", f"{name} ({n:,})", figures + " µs CPU/input", ratio, where)


async def predict_many_samples(
    url: str, pat: str, *, n: int, rounds: int, model_id: str
) -> dict[str, list[Sample]]:
    """Interleaved rounds: ``predict_many`` (defaults) vs a raw pipeline, ``n`` inputs each.

    The raw job keeps as many inputs in flight as ``predict_many``'s default
    concurrency, 128 a request; ``predict_many c=4,096`` lets the batcher fill
    every batch it may have in flight.
    """
    from aioclarifai import Client

    in_flight = max(1, PREDICT_MANY_CONCURRENCY // HAND_BATCH)

    async def many(client: Any, k: int, **options: Any) -> Sample:
        cpu0, t0 = time.process_time(), time.perf_counter()
        done = 0
        inputs = (_input(i) for i in range(k))
        async for result in client.predict_many(model_id, inputs, **options):
            if isinstance(result, BaseException):
                raise result
            done += 1
        return Sample(time.perf_counter() - t0, time.process_time() - cpu0, done)

    raw = _HandRaw(url, pat, model_id)
    wide = f"predict_many c={WIDE_CONCURRENCY:,}"
    samples: dict[str, list[Sample]] = {"predict_many": [], "hand-batched raw": [], wide: []}
    try:
        async with Client(pat, base_url=url, app_id="app") as client:
            runs: dict[str, Callable[[int], Awaitable[Sample]]] = {
                "predict_many": lambda k: many(client, k),
                "hand-batched raw": lambda k: raw.pipeline(k, HAND_BATCH, in_flight),
                # The batcher's own bound (batch size x batches in flight), not 512.
                wide: lambda k: many(client, k, concurrency=WIDE_CONCURRENCY),
            }
            for run in runs.values():
                await run(min(n, 4096))
            for r in range(rounds):
                # Rotate the order so no variant always runs right after another.
                names = list(runs)[r % len(runs) :] + list(runs)[: r % len(runs)]
                for name in names:
                    samples[name].append(await runs[name](n))
    finally:
        await raw.close()
    return samples


def bench_predict_many_vs_raw(ctx: Ctx) -> None:
    """``predict_many`` vs a hand-batched raw pipeline: no latency, and +20 ms a request."""
    require("aioclarifai._batching", "Batcher")
    server = ctx.server("canned")
    n, rounds = (8192, 3) if ctx.quick else (16384, 5)
    for model_id, what in (("echo", "no latency"), ("echo-20ms", "+20 ms/request")):
        res = asyncio.run(
            predict_many_samples(server.url, server.pat, n=n, rounds=rounds, model_id=model_id)
        )
        raw_cpu = median([s.cpu_us for s in res["hand-batched raw"]])
        raw_rate = median([s.rate for s in res["hand-batched raw"]])
        for name, values in res.items():
            cpus = [s.cpu_us for s in values]
            rate = median([s.rate for s in values])
            figures = f"{fmt_int(rate):>8} inputs/s {spread(cpus, '.2f'):>20} µs CPU/input"
            if name.startswith("predict_many"):
                ratio = (
                    f"{median(cpus) / raw_cpu:4.2f}{X} raw CPU (target ≤1.05{X}), "
                    f"{rate / raw_rate:4.2f}{X} raw rate"
                )
            else:
                ratio = f"1.00{X} (128 a request, {PREDICT_MANY_CONCURRENCY} inputs in flight)"
            ctx.line("predict_many", f"{name} ({n:,})", figures, ratio, f"canned {what}")


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
