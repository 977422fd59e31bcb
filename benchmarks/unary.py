"""Unary PostModelOutputs: aioclarifai against its floor and the official client.

Every variant sends single-input predicts at the same concurrency to the same
server process, in interleaved rounds; the figures are client-process CPU
per call (``time.process_time``, so the thread pool of the official client
counts too) and calls per second.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import msgspec

from ._harness import Ctx, Sample, Skip, X, drive, fmt_int, median, spread
from .payloads import IMAGE_URL

__all__ = [
    "VARIANTS",
    "bench_fake_speed",
    "bench_unary",
    "interleave",
    "make_variant",
]

_JSON = {"Content-Type": "application/json"}
CONCURRENCY = 32


#: How long each variant runs before its measured rounds (see :func:`interleave`).
WARM_SECONDS = 1.0


@dataclass
class Variant:
    """A way of making single-input predicts: ``run(n, concurrency)`` and ``close()``."""

    name: str
    run: Callable[[int, int], Awaitable[Sample]]
    close: Callable[[], Awaitable[None]]
    #: Share of the round's calls this variant makes (slow baselines need fewer).
    scale: float = 1.0
    #: Printed under the results when set.
    note: str = ""


def _path(model_id: str) -> str:
    return f"/v2/users/me/apps/app/models/{model_id}/outputs"


def _body(i: int) -> dict[str, Any]:
    return {"inputs": [{"id": f"bench-{i}", "data": {"image": {"url": IMAGE_URL}}}]}


async def _raw(
    url: str, pat: str, model_id: str, *, timer: bool = True, typed: bool = False
) -> Variant:
    """The floor: aiohttp, a prebuilt URL, msgspec encode and untyped decode.

    ``timer=False``: without the total timer aiohttp's default session runs
    per request; ``typed``: decoding into aioclarifai's typed response
    instead (both only to show what one piece of the gap costs).
    """
    import aiohttp
    from yarl import URL

    # aiohttp's default session timeout, or the same without its total.
    timeout = aiohttp.ClientTimeout(total=5 * 60 if timer else None, sock_connect=30)
    session = aiohttp.ClientSession(headers={"Authorization": f"Key {pat}"}, timeout=timeout)
    target = URL(url + _path(model_id), encoded=True)
    encode = msgspec.json.encode
    decode: Callable[[bytes], Any] = msgspec.json.decode
    if typed:
        from aioclarifai import types
        from aioclarifai._decode import decoder_for

        decode = decoder_for(types.MultiOutputResponse).decode

    async def call() -> None:
        async with session.post(target, data=encode(_body(1)), headers=_JSON) as resp:
            data = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"raw: HTTP {resp.status}")
        decode(data)

    name = (
        "raw aiohttp+msgspec"
        + ("" if timer else ", no total timer")
        + (", typed decode" if typed else "")
    )
    return Variant(name, lambda n, c: drive(call, n, c), session.close)


async def _raw_no_timer(url: str, pat: str, model_id: str) -> Variant:
    return await _raw(url, pat, model_id, timer=False)


async def _raw_typed(url: str, pat: str, model_id: str) -> Variant:
    return await _raw(url, pat, model_id, typed=True)


async def _client_no_rate(url: str, pat: str, model_id: str) -> Variant:
    return await _client(url, pat, model_id, adaptive_rate=False)


async def _client(url: str, pat: str, model_id: str, *, adaptive_rate: bool = True) -> Variant:
    """``client.post_model_outputs`` with a typed request and response."""
    from aioclarifai import Client, types

    client = Client(pat, base_url=url, app_id="app", batching=False, adaptive_rate=adaptive_rate)

    async def call() -> None:
        await client.post_model_outputs(
            types.PostModelOutputsRequest(
                model_id=model_id,
                inputs=[
                    types.Input(id="bench-1", data=types.Data(image=types.Image(url=IMAGE_URL)))
                ],
            )
        )

    name = "aioclarifai" if adaptive_rate else "aioclarifai, adaptive_rate=False"
    return Variant(name, lambda n, c: drive(call, n, c), client.aclose)


def _patch_official_printer() -> bool:
    """Let clarifai-grpc 10.9's JSON channel run on protobuf >= 5.

    Its request printer passes ``including_default_value_fields`` positionally
    to protobuf's ``_Printer``, which protobuf 5 removed: the arguments shift
    and requests go out with camelCase names the channel cannot route. Only the
    constructor changes; encoding and decoding stay the official code.
    """
    import inspect

    from clarifai_grpc.channel.custom_converters import custom_message_to_dict as m
    from google.protobuf.json_format import _Printer

    if "including_default_value_fields" in inspect.signature(_Printer.__init__).parameters:
        return False

    def __init__(
        self: Any,
        including_default_value_fields: bool,
        preserving_proto_field_name: bool,
        use_integers_for_enums: bool,
        ignore_show_empty: bool,
    ) -> None:
        _Printer.__init__(
            self,
            preserving_proto_field_name=preserving_proto_field_name,
            use_integers_for_enums=use_integers_for_enums,
            always_print_fields_with_no_presence=including_default_value_fields,
        )
        self._ignore_show_empty = ignore_show_empty

    m._CustomPrinter.__init__ = __init__
    return True


async def _official(url: str, pat: str, model_id: str) -> Variant:
    """clarifai-grpc's JSON channel (requests + protobuf) from a pool of threads."""
    try:
        import requests
        from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
        from clarifai_grpc.grpc.api import resources_pb2, service_pb2, service_pb2_grpc
    except ImportError as exc:
        raise Skip(
            f"clarifai-grpc / requests not installed ({exc}); pip install '.[bench]'"
        ) from None

    patched = _patch_official_printer()
    # Its default pool keeps 20 connections; give it one per thread so it is not
    # penalised for opening new ones.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    channel = ClarifaiChannel.get_json_channel(base_url=url)
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=CONCURRENCY)
    channel.session.mount("http://", adapter)
    stub = service_pb2_grpc.V2Stub(channel)
    metadata = (("authorization", f"Key {pat}"),)
    app = resources_pb2.UserAppIDSet(user_id="me", app_id="app")
    pool = ThreadPoolExecutor(CONCURRENCY)

    def call() -> None:
        request = service_pb2.PostModelOutputsRequest(
            user_app_id=app,
            model_id=model_id,
            inputs=[
                resources_pb2.Input(
                    id="bench-1",
                    data=resources_pb2.Data(image=resources_pb2.Image(url=IMAGE_URL)),
                )
            ],
        )
        response = stub.PostModelOutputs(request, metadata=metadata)
        if response.status.code != 10000:
            raise RuntimeError(f"official: status {response.status.code}")

    async def run(n: int, concurrency: int) -> Sample:
        import time

        per = max(1, n // concurrency)

        def worker() -> None:
            for _ in range(per):
                call()

        cpu0, t0 = time.process_time(), time.perf_counter()
        futures = [asyncio.wrap_future(pool.submit(worker)) for _ in range(concurrency)]
        await asyncio.gather(*futures)
        return Sample(time.perf_counter() - t0, time.process_time() - cpu0, per * concurrency)

    async def close() -> None:
        pool.shutdown()
        channel.session.close()

    note = (
        "clarifai-grpc's JSON channel fails on this protobuf (camelCase request keys, no "
        "route); its printer's constructor was shimmed, the rest is its own code"
    )
    return Variant("clarifai-grpc json", run, close, scale=0.25, note=note if patched else "")


async def _httpx(url: str, pat: str, model_id: str) -> Variant:
    """httpx + the standard json module."""
    try:
        import httpx
    except ImportError:
        raise Skip("httpx not installed; pip install '.[bench]'") from None
    client = httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Key {pat}"},
        limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY),
    )
    path = _path(model_id)

    async def call() -> None:
        resp = await client.post(path, content=json.dumps(_body(1)).encode(), headers=_JSON)
        if resp.status_code != 200:
            raise RuntimeError(f"httpx: HTTP {resp.status_code}")
        json.loads(resp.content)

    return Variant("httpx+json", lambda n, c: drive(call, n, c), client.aclose, scale=0.25)


VARIANTS: dict[str, Callable[[str, str, str], Awaitable[Variant]]] = {
    "raw": _raw,
    "aioclarifai": _client,
    "official": _official,
    "httpx": _httpx,
    # The gap, piece by piece: each differs from raw or aioclarifai in one thing.
    "raw-no-timer": _raw_no_timer,
    "raw-typed": _raw_typed,
    "aioclarifai-no-rate": _client_no_rate,
}


async def make_variant(name: str, url: str, pat: str, model_id: str) -> Variant:
    """Build the variant ``name`` (one of :data:`VARIANTS`) for a server."""
    return await VARIANTS[name](url, pat, model_id)


async def interleave(
    variants: Sequence[Variant],
    n: int,
    rounds: int,
    concurrency: int = CONCURRENCY,
    warm: float = WARM_SECONDS,
) -> dict[str, list[Sample]]:
    """Warm every variant up, then run ``rounds`` rounds of ``n`` calls each, interleaved.

    Warm means steady state: each variant runs for at least ``warm`` seconds
    first (default :data:`WARM_SECONDS`), long past the rate controller's slow start
    (some milliseconds after its first burst of 15), as a client in a running service is.
    """
    for v in variants:
        started = time.perf_counter()
        while True:
            await v.run(max(concurrency * 2, int(n * v.scale) // 10), concurrency)
            if time.perf_counter() - started >= warm:
                break
    samples: dict[str, list[Sample]] = {v.name: [] for v in variants}
    for r in range(rounds):
        # Rotate the order so no variant always runs right after another.
        order = list(variants[r % len(variants) :]) + list(variants[: r % len(variants)])
        for v in order:
            samples[v.name].append(await v.run(max(concurrency, int(n * v.scale)), concurrency))
    return samples


def _medians(samples: list[Sample]) -> tuple[float, float]:
    return median([s.cpu_us for s in samples]), median([s.rate for s in samples])


async def _unary(ctx: Ctx, url: str, pat: str, names: Sequence[str], loop: str) -> None:
    n, rounds = (640, 3) if ctx.quick else (3200, 7)
    variants: list[Variant] = []
    skipped: list[str] = []
    try:
        for name in names:
            try:
                variants.append(await make_variant(name, url, pat, "canned"))
            except Skip as exc:
                skipped.append(f"{name}: {exc}")
        samples = await interleave(variants, n, rounds)
    finally:
        for v in variants:
            await v.close()
    raw_cpu, raw_rate = _medians(samples["raw aiohttp+msgspec"])
    client_cpu, _ = _medians(samples["aioclarifai"])
    for v in variants:
        cpu, rate = _medians(samples[v.name])
        cpus = [s.cpu_us for s in samples[v.name]]
        figures = f"{spread(cpus):>20} µs/call {fmt_int(rate):>6} calls/s"
        ratio = f"{cpu / raw_cpu:5.2f}{X} raw CPU, {rate / raw_rate:4.2f}{X} raw rate"
        if v.name == "aioclarifai":
            ratio += f" (target ≤1.05{X} CPU)"
        elif v.name.startswith("raw aiohttp+msgspec,"):  # one piece of the gap
            ratio += f"; {cpu - raw_cpu:+.1f} µs/call vs raw"
        elif v.name.startswith("aioclarifai,"):
            ratio += f"; {cpu - client_cpu:+.1f} µs/call vs aioclarifai"
        elif v.name != "raw aiohttp+msgspec":
            ratio += f"; aioclarifai uses {cpu / client_cpu:.1f}{X} less CPU"
            if v.name == "clarifai-grpc json":
                ratio += f" (target ≥15{X})"
        ctx.line("unary", v.name, figures, ratio, f"canned, c={CONCURRENCY}, {loop}")
    for note in skipped:
        ctx.line("unary", note.split(":")[0], "skipped:" + note.split(":", 1)[1])
    for v in variants:
        if v.note:
            ctx.line("unary", f"note ({v.name}):", v.note)


def bench_unary(ctx: Ctx) -> None:
    """Single-input PostModelOutputs at concurrency 32, under asyncio and (if installed) uvloop.

    Figures are ``median [min..max]`` of interleaved rounds, never the best round.
    """
    server = ctx.server("canned")
    asyncio.run(_unary(ctx, server.url, server.pat, list(VARIANTS), "asyncio"))
    try:
        import uvloop
    except ImportError:
        ctx.line("unary", "uvloop", "skipped: uvloop not installed; pip install '.[bench]'")
        return
    uvloop.run(_unary(ctx, server.url, server.pat, ["raw", "aioclarifai"], "uvloop"))


async def _fake_speed(ctx: Ctx, canned: tuple[str, str], fake: tuple[str, str]) -> None:
    n, rounds = (640, 3) if ctx.quick else (3200, 5)
    # Two clients: aioclarifai (the project's client), and the raw floor, whose
    # lower CPU per call leaves more of the server's own cost visible.
    variants: list[Variant] = []
    try:
        for client in ("aioclarifai", "raw"):
            for server, (url, pat), model_id in (
                ("canned", canned, "canned"),
                ("fake", fake, "bench-model"),
            ):
                v = await make_variant(client, url, pat, model_id)
                v.name = f"{client} → {server}"
                variants.append(v)
        samples = await interleave(variants, n, rounds)
    finally:
        for v in variants:
            await v.close()
    for client in ("aioclarifai", "raw"):
        _, canned_rate = _medians(samples[f"{client} → canned"])
        _, fake_rate = _medians(samples[f"{client} → fake"])
        ctx.line(
            "fake-speed",
            f"canned handler ({client})",
            f"{fmt_int(canned_rate):>8} predicts/s",
            f"1.00{X}",
            "canned",
        )
        ctx.line(
            "fake-speed",
            f"FakeClarifai ({client})",
            f"{fmt_int(fake_rate):>8} predicts/s",
            f"{fake_rate / canned_rate:4.2f}{X} canned (target ≥0.7{X})",
            "fake",
        )


def bench_fake_speed(ctx: Ctx) -> None:
    """Single-input predicts/s: FakeClarifai vs the minimal canned handler, same client."""
    fake = ctx.server("fake")
    canned = ctx.server("canned")
    asyncio.run(_fake_speed(ctx, (canned.url, canned.pat), (fake.url, fake.pat)))
