"""Instruction counts (valgrind cachegrind): project vs raw, per unary call, input, stream chunk.

Wall-clock CPU on a shared machine moves by several percent between runs;
instruction counts repeat to well under one percent. Each variant runs twice
under ``valgrind --tool=cachegrind`` in a fresh client process, once with a
small and once with a large number of operations; the difference of the two
totals over the difference of operations is the steady-state cost of one
operation (start-up, imports and warm-up cancel out). Calls run one after
another (unary) or in rounds of 512 concurrent inputs (batched), against the
canned server, which runs outside valgrind. Stream variants read one stream of
``OPS`` pre-encoded chunks.

``python -m benchmarks.icount VARIANT OPS URL PAT`` is the child: it runs the
variant and prints the operations done.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile

from ._harness import Ctx, Skip, X, fmt_int

__all__ = ["VARIANTS", "bench_instructions", "count_instructions"]

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ROUND = 512  # concurrent inputs a batched round
_IREFS = re.compile(r"I\s+refs:\s+([\d,]+)")

#: variant → (what one operation is, the variant it is compared with)
VARIANTS: dict[str, tuple[str, str]] = {
    "unary raw aiohttp+msgspec": ("call", ""),
    "unary aioclarifai": ("call", "unary raw aiohttp+msgspec"),
    "batch hand-batched raw": ("input", ""),
    "batch coalesced predict": ("input", "batch hand-batched raw"),
    "batch predict_many": ("input", "batch hand-batched raw"),
    "stream raw aiohttp+msgspec": ("chunk", ""),
    "stream async for": ("chunk", "stream raw aiohttp+msgspec"),
    "stream batches()": ("chunk", "stream raw aiohttp+msgspec"),
    "stream generate()": ("chunk", "stream raw aiohttp+msgspec"),
}


async def _run(variant: str, ops: int, url: str, pat: str) -> int:
    from . import batched, stream, unary

    if variant.startswith("stream"):
        return await stream.one_stream(variant.split(" ", 1)[1], ops, url, pat)

    if variant.startswith("unary"):
        name = "raw" if "raw" in variant else "aioclarifai"
        v = await unary.make_variant(name, url, pat, "canned")
        try:
            await v.run(ops, 1)
        finally:
            await v.close()
        return ops
    from aioclarifai import Client

    done = 0
    if variant == "batch hand-batched raw":
        raw = batched._HandRaw(url, pat, "echo")
        try:
            while done < ops:
                done += (await raw.all_at_once(_ROUND, batched.HAND_BATCH)).ops
        finally:
            await raw.close()
        return done
    async with Client(pat, base_url=url, app_id="app") as client:
        if variant == "batch coalesced predict":
            while done < ops:
                outs = await asyncio.gather(
                    *(client.predict("echo", batched._input(i)) for i in range(_ROUND))
                )
                done += len(outs)
        else:
            async for _ in client.predict_many("echo", (batched._input(i) for i in range(ops))):
                done += 1
    return done


def count_instructions(variant: str, ops: int, url: str, pat: str) -> tuple[int, int]:
    """(instructions, operations) of one cachegrind run of ``variant``."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=cachegrind",
                "--cache-sim=no",
                f"--cachegrind-out-file={os.path.join(tmp, 'cg.out')}",
                sys.executable,
                "-m",
                "benchmarks.icount",
                variant,
                str(ops),
                url,
                pat,
            ],
            cwd=_ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    found = _IREFS.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"cachegrind run of {variant} failed (exit {proc.returncode}): {tail}")
    return int(found.group(1).replace(",", "")), int(proc.stdout.split()[-1])


def bench_instructions(ctx: Ctx) -> None:
    """Instructions per unary call, batched input and stream chunk, project vs raw (valgrind)."""
    if shutil.which("valgrind") is None:
        raise Skip("valgrind not installed (apt-get install valgrind)")
    server = ctx.server("canned")
    small, large = (50, 250) if ctx.quick else (100, 600)
    per_op: dict[str, float] = {}
    for variant, (unit, floor) in VARIANTS.items():
        scale = {"call": 1, "input": 8 * _ROUND // 100, "chunk": 40}[unit]
        lo_ir, lo_ops = count_instructions(variant, small * scale, server.url, server.pat)
        hi_ir, hi_ops = count_instructions(variant, large * scale, server.url, server.pat)
        per_op[variant] = (hi_ir - lo_ir) / (hi_ops - lo_ops)
        ratio = f"{per_op[variant] / per_op[floor]:5.3f}{X} {floor}" if floor else f"1.000{X}"
        ctx.line(
            "instructions",
            variant,
            f"{fmt_int(per_op[variant]):>10} instr/{unit}",
            ratio,
            f"cachegrind, {fmt_int(hi_ops - lo_ops)} {unit}s counted",
        )


def main(argv: list[str]) -> int:
    """The child: run ``VARIANT`` for ``OPS`` operations; print the operations done."""
    variant, ops, url, pat = argv[0], int(argv[1]), argv[2], argv[3]
    print(asyncio.run(_run(variant, ops, url, pat)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
