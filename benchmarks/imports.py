"""Import time: ``import aioclarifai`` vs ``import aiohttp`` in fresh interpreters.

Both sides load compiled bytecode: the package is compiled first and the
children run without ``PYTHONDONTWRITEBYTECODE`` (site-packages already holds
aiohttp's ``.pyc``). Each child times only its import statement.
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys

from ._harness import Ctx, X, median

__all__ = ["bench_import", "import_times"]

_SNIPPET = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _one(module: str, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _SNIPPET.format(module)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def import_times(
    runs: int, modules: tuple[str, ...] = ("aiohttp", "aioclarifai")
) -> dict[str, float]:
    """Median import seconds of each module over ``runs`` fresh interpreters, interleaved."""
    import aioclarifai

    compileall.compile_dir(os.path.dirname(aioclarifai.__file__), quiet=1)
    env = _child_env()
    for module in modules:  # first runs may write missing bytecode; not counted
        _one(module, env)
    times: dict[str, list[float]] = {m: [] for m in modules}
    for _ in range(runs):
        for module in modules:
            times[module].append(_one(module, env))
    return {m: median(v) for m, v in times.items()}


def bench_import(ctx: Ctx) -> None:
    """Median of 10 fresh subprocesses each, measured in this run."""
    result = import_times(10)
    base = result["aiohttp"]
    ctx.line("import", "aiohttp", f"{base * 1000:8.1f} ms", f"1.00{X}", f"subprocess {X}10")
    ours = result["aioclarifai"]
    ctx.line(
        "import",
        "aioclarifai",
        f"{ours * 1000:8.1f} ms",
        f"{ours / base:4.2f}{X} aiohttp (target ≤1.3{X})",
        f"subprocess {X}10",
    )
