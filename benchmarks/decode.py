"""Decoding a ``MultiOutputResponse``: aioclarifai's typed decoder vs the alternatives.

Bodies are realistic (see :mod:`benchmarks.payloads`): 20 concepts per
output, the model's description, a status, and the input echoed with its
image URL. Runs in this process; no server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import msgspec

from ._harness import Ctx, Skip, X, median, spread
from .payloads import multi_output_response

__all__ = ["bench_decode", "decode_timings", "decoders"]


def decoders() -> dict[str, Callable[[bytes], Any]]:
    """Name → decode function, for every variant installed here."""
    from aioclarifai import types
    from aioclarifai._decode import decoder_for

    typed = decoder_for(types.MultiOutputResponse)
    found: dict[str, Callable[[bytes], Any]] = {
        "aioclarifai typed": typed.decode,
        "msgspec untyped": msgspec.json.decode,
        "json.loads": json.loads,
    }
    try:
        from clarifai_grpc.grpc.api import service_pb2
        from google.protobuf import json_format
    except ImportError:
        return found

    def parse(data: bytes) -> Any:
        return json_format.Parse(data, service_pb2.MultiOutputResponse())

    found["protobuf json_format"] = parse
    return found


def _loops_for(fn: Callable[[bytes], Any], data: bytes, budget: float) -> int:
    """How many calls fill about ``budget`` seconds."""
    t0 = time.perf_counter()
    fn(data)
    once = max(time.perf_counter() - t0, 1e-7)
    return max(1, int(budget / once))


def decode_timings(
    outputs: int, rounds: int, budget: float, names: list[str] | None = None
) -> dict[str, float]:
    """Median µs per decode of an ``outputs``-output body, per variant (interleaved rounds)."""
    rounds_of = decode_rounds(outputs, rounds, budget, names)
    return {name: median(values) for name, values in rounds_of.items()}


def decode_rounds(
    outputs: int, rounds: int, budget: float, names: list[str] | None = None
) -> dict[str, list[float]]:
    """µs per decode of an ``outputs``-output body, per variant, one figure a round."""
    data = multi_output_response(outputs)
    fns = {k: v for k, v in decoders().items() if names is None or k in names}
    loops = {name: _loops_for(fn, data, budget) for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns)
    for r in range(rounds):
        # Rotate the order so no variant always runs right after another.
        for name in order[r % len(order) :] + order[: r % len(order)]:
            fn, n = fns[name], loops[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn(data)
            times[name].append((time.perf_counter() - t0) / n * 1e6)
    return times


def bench_decode(ctx: Ctx) -> None:
    """µs to decode 1-output and 128-output responses; ratios against the typed decoder."""
    try:
        import aioclarifai._decode  # noqa: F401
    except ImportError as exc:
        raise Skip(f"aioclarifai._decode not available ({exc})") from None
    rounds, budget = (5, 0.02) if ctx.quick else (9, 0.1)
    for outputs in (1, 128):
        size = len(multi_output_response(outputs))
        rounds_of = decode_rounds(outputs, rounds, budget)
        result = {name: median(values) for name, values in rounds_of.items()}
        typed = result["aioclarifai typed"]
        loads = result["json.loads"]
        untyped = result["msgspec untyped"]
        for name, us in result.items():
            if name == "aioclarifai typed":
                ratio = (
                    f"{us / untyped:5.2f}{X} msgspec untyped (the raw floor), "
                    f"{us / loads:5.2f}{X} json.loads"
                )
            elif name == "protobuf json_format":
                ratio = f"{us / typed:5.1f}{X} slower than typed (target ≥50{X})"
            else:
                ratio = f"{us / typed:5.2f}{X} typed"
            label = f"{outputs} output{'s' if outputs > 1 else ''}, {size / 1000:.0f} kB"
            figures = f"{spread(rounds_of[name]):>26} µs ({label})"
            ctx.line(f"decode/{outputs}", name, figures, ratio, "in-process")
