"""``python -m benchmarks [--quick] [--only NAMES]``: every benchmark, one table.

Servers run in their own processes; each result line names the server it used
and prints its ratio against the baseline measured in the same run. A
benchmark whose module is not available prints ``skipped: …`` and the run goes
on; one that fails prints ``FAILED: …`` (traceback on stderr) and the run goes on.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from ._harness import Ctx, Skip, machine_lines

#: name → (module, function, what it measures)
BENCHMARKS: dict[str, tuple[str, str, str]] = {
    "decode": ("decode", "bench_decode", "typed decode vs msgspec untyped, json.loads, protobuf"),
    "import": ("imports", "bench_import", "import aioclarifai vs import aiohttp"),
    "unary": ("unary", "bench_unary", "PostModelOutputs c=32: raw floor, client, official; uvloop"),
    "fake": ("unary", "bench_fake_speed", "FakeClarifai vs minimal canned handler"),
    "batched": ("batched", "bench_batched", "4,096 concurrent predicts vs hand-batched raw"),
    "predict_many_raw": ("batched", "bench_predict_many_vs_raw", "predict_many vs raw pipeline"),
    "predict_many": ("batched", "bench_predict_many", "predict_many from a generator, RSS"),
    "stream": ("stream", "bench_stream", "stream chunks/s (async for, generate()) vs raw"),
    "streams": ("stream", "bench_many_streams", "many concurrent streams, RSS over time"),
    "upload": ("upload", "bench_upload", "chunked upload to FakeClarifai, cancel + resume"),
    "rate": ("rate", "bench_rate", "batch job vs an account rate limit: goodput, throttling"),
    "instructions": ("icount", "bench_instructions", "cachegrind instructions, project vs raw"),
}
#: Run only when asked for (``--instructions`` or ``--only``): slow, needs valgrind.
OPTIONAL = {"instructions"}


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes; under a minute")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated subset of: {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions with valgrind cachegrind (slow)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or [
        n for n in BENCHMARKS if n not in OPTIONAL or args.instructions
    ]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    for line in machine_lines():
        print(line)
    mode = "quick" if args.quick else "full"
    print(
        f"mode     {mode}; servers run in their own processes; figures are medians of "
        "interleaved rounds in this run, [min..max] their spread (never best-of)"
    )
    print()
    ctx = Ctx(quick=args.quick)
    started = time.perf_counter()
    failures = 0
    try:
        for name in names:
            module, func, _ = BENCHMARKS[name]
            try:
                mod = importlib.import_module(f"benchmarks.{module}")
                getattr(mod, func)(ctx)
            except Skip as exc:
                ctx.line(name, "skipped:", str(exc))
            except Exception as exc:
                failures += 1
                ctx.line(name, "FAILED:", f"{type(exc).__name__}: {exc}")
                traceback.print_exc(file=sys.stderr)
            sys.stdout.flush()
    finally:
        ctx.close()
    print(f"\ntotal    {time.perf_counter() - started:.1f} s ({mode})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
