"""Streamed generations: typed chunks/s vs raw line splitting, and many streams at once."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from ._harness import Ctx, Sample, X, fmt_int, median, require, rss_mb, run_child, spread

__all__ = [
    "STREAM_VARIANTS",
    "bench_many_streams",
    "bench_stream",
    "many_streams",
    "one_stream",
    "stream_samples",
]

_JSON = {"Content-Type": "application/json"}
_PROMPT: dict[str, Any] = {"inputs": [{"data": {"text": {"raw": "Tell me a story"}}}]}


def _request(model_id: str) -> Any:
    from aioclarifai import types

    return types.PostModelOutputsRequest(
        model_id=model_id,
        inputs=[types.Input(data=types.Data(text=types.Text(raw="Tell me a story")))],
    )


async def _typed_stream(client: Any, model_id: str) -> int:
    count = 0
    async with client.generate_model_outputs(_request(model_id)) as stream:
        async for _ in stream:
            count += 1
    return count


async def _batched_stream(client: Any, model_id: str) -> int:
    count = 0
    async with client.generate_model_outputs(_request(model_id)) as stream:
        async for batch in stream.batches():
            count += len(batch)
    return count


async def _generate_stream(client: Any, model_id: str) -> int:
    count = 0
    async with client.generate(model_id, "Tell me a story") as stream:
        async for _ in stream:
            count += 1
    return count


async def _raw_stream(session: Any, url: str, progress: Callable[[int], None] | None = None) -> int:
    """The floor: aiohttp body chunks, split on newlines, each line decoded untyped.

    ``progress`` is told the running count after each network read.
    """
    decode = msgspec.json.decode
    count = 0
    tail = b""
    async with session.post(url, data=msgspec.json.encode(_PROMPT), headers=_JSON) as resp:
        async for data in resp.content.iter_any():
            lines = (tail + data).split(b"\n")
            tail = lines.pop()
            for line in lines:
                if line:
                    decode(line)
                    count += 1
            if progress is not None:
                progress(count)
    if tail.strip():
        decode(tail)
        count += 1
    return count


async def one_stream(variant: str, chunks: int, url: str, pat: str) -> int:
    """Read one ``chunks``-chunk stream with ``variant`` (a key of :data:`STREAM_VARIANTS`)."""
    import aiohttp

    from aioclarifai import Client

    model_id = f"gen-{chunks}"
    async with (
        Client(pat, base_url=url, app_id="app") as client,
        aiohttp.ClientSession(headers={"Authorization": f"Key {pat}"}) as session,
    ):
        if variant == "raw aiohttp+msgspec":
            return await _raw_stream(session, _generate_url(url, model_id))
        return await STREAM_VARIANTS[variant](client, model_id)


def _generate_url(url: str, model_id: str) -> str:
    return f"{url}/v2/users/me/apps/app/models/{model_id}/outputs/generate"


#: The project's ways of reading a stream, by the name the benchmarks print.
STREAM_VARIANTS: dict[str, Callable[[Any, str], Awaitable[int]]] = {
    "async for": _typed_stream,
    "batches()": _batched_stream,
    "generate()": _generate_stream,
}


async def _timed(fn: Callable[[], Awaitable[int]], streams: int) -> Sample:
    cpu0, t0 = time.process_time(), time.perf_counter()
    counts = await asyncio.gather(*(fn() for _ in range(streams)))
    return Sample(time.perf_counter() - t0, time.process_time() - cpu0, sum(counts))


async def stream_samples(
    url: str, pat: str, chunks: int, streams: int, rounds: int
) -> dict[str, list[Sample]]:
    """Interleaved rounds of ``streams`` concurrent ``chunks``-chunk streams, typed and raw."""
    import aiohttp
    from yarl import URL

    from aioclarifai import Client, ResponseStream

    model_id = f"gen-{chunks}"
    target = URL(_generate_url(url, model_id), encoded=True)
    variants: dict[str, Callable[[], Awaitable[int]]] = {}
    async with (
        Client(pat, base_url=url, app_id="app") as client,
        aiohttp.ClientSession(headers={"Authorization": f"Key {pat}"}) as session,
    ):
        variants["raw aiohttp+msgspec"] = lambda: _raw_stream(session, str(target))
        for name, read in STREAM_VARIANTS.items():
            if name == "batches()" and not hasattr(ResponseStream, "batches"):
                continue  # lets this run on trees without it
            variants[f"aioclarifai {name}"] = functools.partial(read, client, model_id)
        for fn in variants.values():  # warm-up: connections, caches
            await _timed(fn, streams)
        samples: dict[str, list[Sample]] = {name: [] for name in variants}
        for r in range(rounds):
            # Rotate the order so no variant always runs right after another.
            names = list(variants)[r % len(variants) :] + list(variants)[: r % len(variants)]
            for name in names:
                sample = await _timed(variants[name], streams)
                if sample.ops != chunks * streams:
                    raise RuntimeError(f"{name}: {sample.ops} chunks, expected {chunks * streams}")
                samples[name].append(sample)
    return samples


def bench_stream(ctx: Ctx) -> None:
    """Chunks/s of ``generate_model_outputs`` (``async for``, ``batches()``) and ``generate()``.

    Each against raw line splitting plus msgspec's untyped decode.

    The server pre-encodes every chunk, so the client is the bottleneck;
    figures are ``median [min..max]`` of interleaved rounds.
    """
    require("aioclarifai._streaming", "ResponseStream")
    server = ctx.server("canned")
    chunks, streams, rounds = (20_000, 4, 3) if ctx.quick else (100_000, 4, 5)
    samples = asyncio.run(stream_samples(server.url, server.pat, chunks, streams, rounds))
    raw = samples["raw aiohttp+msgspec"]
    raw_rate = median([s.rate for s in raw])
    raw_cpu = median([s.cpu_us for s in raw])
    where = f"canned pre-encoded, {streams}{X}{chunks:,} chunks"
    targets = {
        "aioclarifai async for": 0.9,
        "aioclarifai batches()": 1.0,
        "aioclarifai generate()": 0.85,
    }
    for name, values in samples.items():
        rates = [s.rate / 1000 for s in values]
        rate = median([s.rate for s in values])
        cpu = median([s.cpu_us for s in values])
        ratio = f"{rate / raw_rate:4.2f}{X} raw rate, {cpu / raw_cpu:4.2f}{X} raw CPU"
        if name in targets:
            ratio += f" (target ≥{targets[name]}{X} rate)"
        figures = f"{spread(rates, '.0f'):>15} k chunks/s {cpu:5.2f} µs/chunk"
        ctx.line("stream", name, figures, ratio, where)


# -- many concurrent streams (run in a fresh child process) -----------------------------


async def many_streams(
    *, url: str, pat: str, streams: int, chunks: int, raw: bool = False
) -> dict[str, Any]:
    """Run ``streams`` concurrent typed streams of ``chunks`` chunks; sample RSS meanwhile.

    ``raw``: the same streams through plain aiohttp (one session, a connection
    per stream) split into lines and decoded untyped, the floor to compare with.
    """
    import aiohttp

    from aioclarifai import Client

    model_id = f"gen-{chunks}"
    received = 0
    samples: list[tuple[int, float]] = []
    done = asyncio.Event()

    async def sampler() -> None:
        while not done.is_set():
            samples.append((received, rss_mb()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), 0.01)
        samples.append((received, rss_mb()))

    async def one(client: Any) -> None:
        nonlocal received
        async with client.generate_model_outputs(_request(model_id)) as stream:
            async for _ in stream:
                received += 1

    async def one_raw(session: Any) -> None:
        nonlocal received
        counted = 0

        def progress(count: int) -> None:
            nonlocal received, counted
            received += count - counted
            counted = count

        progress(await _raw_stream(session, _generate_url(url, model_id), progress))

    start_rss = rss_mb()
    async with contextlib.AsyncExitStack() as stack:
        if raw:
            session = await stack.enter_async_context(
                aiohttp.ClientSession(
                    headers={"Authorization": f"Key {pat}"},
                    connector=aiohttp.TCPConnector(limit=streams),
                )
            )
            runs = [one_raw(session) for _ in range(streams)]
        else:
            client = await stack.enter_async_context(
                Client(pat, base_url=url, app_id="app", max_connections=streams)
            )
            runs = [one(client) for _ in range(streams)]
        task = asyncio.create_task(sampler())
        t0 = time.perf_counter()
        await asyncio.gather(*runs)
        wall = time.perf_counter() - t0
        done.set()
        await task
    total = streams * chunks

    def rss_at(fraction: float) -> float:
        # The first sample taken at or after this share of all chunks.
        return next(r for n, r in samples if n >= fraction * total)

    from ._harness import peak_rss_mb

    return {
        "chunks": received,
        "expected": total,
        "wall": wall,
        "start_rss": start_rss,
        "rss_quartiles": [rss_at(q) for q in (0.25, 0.5, 0.75, 1.0)],
        "peak_rss": peak_rss_mb(),
        "samples": len(samples),
    }


def bench_many_streams(ctx: Ctx) -> None:
    """1,000 concurrent streams x 1,000 chunks (quick: 100 x 100); RSS over time, vs raw aiohttp."""
    require("aioclarifai._streaming", "ResponseStream")
    server = ctx.server("canned")
    streams, chunks = (100, 100) if ctx.quick else (1000, 1000)
    params = {"url": server.url, "pat": server.pat, "streams": streams, "chunks": chunks}
    raw_peak = 0.0
    for raw in (True, False):
        r = run_child("many_streams", {**params, "raw": raw})
        if r["chunks"] != r["expected"]:
            raise RuntimeError(f"only {r['chunks']:,} of {r['expected']:,} chunks arrived")
        q = r["rss_quartiles"]
        growth = q[3] - q[0]
        peak = f"peak {r['peak_rss']:.0f} MB"
        if raw:
            raw_peak = r["peak_rss"]
        else:
            peak += f" ({r['peak_rss'] / raw_peak:.2f}{X} raw)"
        ctx.line(
            "streams",
            f"{streams:,}{X}{chunks:,} concurrent" + (", raw aiohttp+msgspec" if raw else ""),
            f"{fmt_int(r['chunks'] / r['wall']):>9} chunks/s, all complete in {r['wall']:.1f} s",
            f"RSS at 25/50/75/100%: {' / '.join(f'{x:.0f}' for x in q)} MB "
            f"({growth:+.1f} MB 25%→100%: {'flat' if growth < 0.1 * q[0] + 5 else 'GROWING'}); "
            f"{peak}, at start {r['start_rss']:.0f} MB",
            "canned, fresh client process",
        )
