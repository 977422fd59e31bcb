"""Predict micro-batching: many concurrent single predicts vs one request each.

The server (canned, own process) answers one output per input, echoing ids,
after a fixed latency per request; it counts the requests it served.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
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
    "default_concurrency",
    "bench_predict_many",
    "bench_predict_many_vs_raw",
    "predict_many_run",
    "predict_many_samples",
    "bench_tracked",
    "tracked_per_input",
]

UNBATCHED_CONCURRENCY = 64
#: Inputs per request of the hand-batched raw floor (Clarifai's cap).
HAND_BATCH = 128
_JSON = {"Content-Type": "application/json"}
NO_RATE = "coalesced cold, no rate control"


def default_concurrency() -> int:
    """``predict_many``'s default ``concurrency`` in the aioclarifai being measured.

    Read from the installed code (a fixed default in older versions, derived
    from ``BatchConfig`` now), so the raw pipeline it is compared with keeps
    as many inputs in flight whichever version runs.
    """
    from aioclarifai import Client, _batching

    default = inspect.signature(Client.predict_many).parameters["concurrency"].default
    if isinstance(default, int):
        return default
    derived: int = _batching.default_concurrency(_batching.BatchConfig())
    return derived


@functools.cache
def _types() -> Any:
    # Imported on first use (the benchmarks run without aioclarifai too), once:
    # an import statement per input would be charged to the client being measured.
    from aioclarifai import types

    return types


def _input(i: int) -> Any:
    types = _types()
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
    no warmed caches; ``warm`` rounds reuse one that already ran. A fresh
    client's rate controller paces the requests right after its first burst
    of 15 for some milliseconds (the slow start, see ``aioclarifai._rate``),
    which raw does not do: ``coalesced cold, no rate control``
    (``adaptive_rate=False``) is the batcher's own cold cost. ``unbatched``
    (warm, c=64) is the batcher switched off.
    """
    from aioclarifai import Client
    from aioclarifai._batching import BatchConfig

    names = [
        "coalesced cold",
        NO_RATE,
        "hand-batched raw cold",
        "coalesced warm",
        "hand-batched raw warm",
    ]
    results: dict[str, list[tuple[Sample, int]]] = {name: [] for name in [*names, "unbatched"]}

    async def coalesced_cold(k: int, **options: Any) -> Sample:
        async with Client(pat, base_url=url, app_id="app", **options) as fresh:
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
                NO_RATE: lambda k: coalesced_cold(k, adaptive_rate=False),
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
            floor = "hand-batched raw " + ("cold" if "cold" in name else "warm")
            wall_ratio = median(walls(name)) / median(walls(floor))
            cpu_ratio = median(cpus(name)) / median(cpus(floor))
            ratio = (
                f"{wall_ratio:4.2f}{X} hand-batched wall (target ≤1.2{X}), "
                f"{cpu_ratio:4.2f}{X} its CPU/input"
            )
        ctx.line("batched", f"{name} ({n:,})", figures + " µs CPU/input", ratio, where)
    bench_tracked(ctx)


class _TrackedPeak:
    """The most GC-tracked objects alive (net of frees) at any loop iteration of a run.

    With the collector off, ``gc.get_count()[0]`` is the tracked objects made
    minus those freed since the last collection; sampled once per loop iteration.
    """

    def __init__(self) -> None:
        self.peak = 0
        self.running = True
        self.tick()

    def tick(self) -> None:
        self.peak = max(self.peak, gc.get_count()[0])
        if self.running:
            asyncio.get_running_loop().call_soon(self.tick)


async def _tracked(run: Callable[[], Awaitable[Any]]) -> tuple[int, int]:
    """(peak, kept): tracked objects alive at the peak of ``run`` and in what it returned."""
    gc.collect()
    gc.disable()
    try:
        probe = _TrackedPeak()
        kept = await run()
        probe.running = False
        after = gc.get_count()[0]
        del kept
        return probe.peak, after
    finally:
        gc.enable()


async def tracked_per_input(
    url: str, pat: str, *, n: int, rounds: int
) -> dict[str, tuple[list[float], list[float]]]:
    """GC-tracked objects per input, interleaved rounds: (at the peak, kept in the results).

    ``coalesced`` and ``hand-batched raw``: ``n`` concurrent inputs, per input;
    ``predict_many`` and its raw pipeline: ``4 n`` inputs (results dropped as
    they come), per input in flight (the default concurrency).
    """
    from aioclarifai import Client

    in_flight = default_concurrency()
    raw = _HandRaw(url, pat, "echo-20ms")
    res: dict[str, tuple[list[float], list[float]]] = {}
    try:
        async with Client(pat, base_url=url, app_id="app") as client:

            async def coalesced() -> Any:
                calls = (client.predict("echo-20ms", _input(i)) for i in range(n))
                return await asyncio.gather(*calls)

            async def many() -> None:
                inputs = (_input(i) for i in range(4 * n))
                async for _ in client.predict_many("echo", inputs):
                    pass

            runs: dict[str, tuple[Callable[[], Awaitable[Any]], int]] = {
                "coalesced predict": (coalesced, n),
                "hand-batched raw": (lambda: raw.all_at_once(n, HAND_BATCH), n),
                "predict_many": (many, in_flight),
                "raw pipeline": (lambda: raw.pipeline(4 * n, HAND_BATCH, in_flight // HAND_BATCH),
                                 in_flight),
            }  # fmt: skip
            for run, _ in runs.values():
                await run()  # warm-up: connections open, caches filled
            for name in runs:
                res[name] = ([], [])
            for r in range(rounds):
                names = list(runs)[r % len(runs) :] + list(runs)[: r % len(runs)]
                for name in names:
                    run, per = runs[name]
                    peak, kept = await _tracked(run)
                    res[name][0].append(peak / per)
                    res[name][1].append(kept / per)
    finally:
        await raw.close()
    return res


def bench_tracked(ctx: Ctx) -> None:
    """GC-tracked objects alive per input at the peak of a batched run, project vs raw."""
    server = ctx.server("canned")
    n, rounds = (4096, 3) if ctx.quick else (4096, 5)
    res = asyncio.run(tracked_per_input(server.url, server.pat, n=n, rounds=rounds))
    for name, (peaks, kept) in res.items():
        unit = "input" if name in ("coalesced predict", "hand-batched raw") else "input in flight"
        ctx.line(
            "gc-tracked",
            name,
            f"{spread(peaks, '.2f'):>20} objects/{unit} at peak",
            f"{median(kept):.2f} of them kept in the results",
            "canned, collector off, gc.get_count() each loop iteration",
        )


async def predict_many_samples(
    url: str, pat: str, *, n: int, rounds: int, model_id: str
) -> dict[str, list[Sample]]:
    """Interleaved rounds: ``predict_many`` (defaults) vs a raw pipeline, ``n`` inputs each.

    The raw job keeps as many inputs in flight as ``predict_many``'s default
    concurrency (:func:`default_concurrency`), 128 a request.
    """
    from aioclarifai import Client

    in_flight = max(1, default_concurrency() // HAND_BATCH)

    async def many(client: Any, k: int) -> Sample:
        cpu0, t0 = time.process_time(), time.perf_counter()
        done = 0
        inputs = (_input(i) for i in range(k))
        async for result in client.predict_many(model_id, inputs):
            if isinstance(result, BaseException):
                raise result
            done += 1
        return Sample(time.perf_counter() - t0, time.process_time() - cpu0, done)

    raw = _HandRaw(url, pat, model_id)
    samples: dict[str, list[Sample]] = {"predict_many": [], "hand-batched raw": []}
    try:
        async with Client(pat, base_url=url, app_id="app") as client:
            runs: dict[str, Callable[[int], Awaitable[Sample]]] = {
                "predict_many": lambda k: many(client, k),
                "hand-batched raw": lambda k: raw.pipeline(k, HAND_BATCH, in_flight),
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
        in_flight = default_concurrency()
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
                ratio = f"1.00{X} (128 a request, {in_flight:,} inputs in flight)"
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
