"""Running FakeClarifai as a process: ``serve()`` (blocking) and ``run_in_subprocess()``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from ._server import FakeClarifai

__all__ = ["main", "run_in_subprocess", "serve"]

LISTENING = "FakeClarifai listening on "


def serve(host: str = "127.0.0.1", port: int = 0, pat: str = "test-pat", **options: Any) -> None:
    """Run a FakeClarifai until SIGINT or SIGTERM (blocking).

    Prints ``FakeClarifai listening on http://HOST:PORT`` once it accepts
    connections. ``options`` go to :class:`FakeClarifai`.
    """
    asyncio.run(_serve(host, port, pat, options))


async def _serve(host: str, port: int, pat: str, options: dict[str, Any]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    async with FakeClarifai(pat, host=host, port=port, **options) as fake:
        print(f"{LISTENING}{fake.url}", flush=True)
        await stop.wait()


@contextlib.contextmanager
def run_in_subprocess(
    *, pat: str = "test-pat", port: int = 0, log_limit: int = 0, extra_args: Sequence[str] = ()
) -> Iterator[str]:
    """Run FakeClarifai in a child process; yields its base URL and stops it on exit.

    The request log is off by default (``log_limit=0``): benchmarks send many
    requests and nobody reads the child's log.
    """
    cmd = [
        sys.executable, "-m", "aioclarifai.testing", "--port", str(port), "--pat", pat,
        "--log-limit", str(log_limit), *extra_args,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith(LISTENING):
            raise RuntimeError(f"FakeClarifai did not start (said {line!r})")
        yield line[len(LISTENING) :].strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m aioclarifai.testing [--host H] [--port P] [--pat K] ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m aioclarifai.testing", description="Run FakeClarifai until interrupted."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pat", default="test-pat")
    parser.add_argument("--user-id", default="test-user")
    parser.add_argument("--log-limit", type=int, default=10_000)
    parser.add_argument("--generate-chunks", type=int, default=8)
    parser.add_argument("--generate-pace", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=None, help="requests/s per PAT")
    parser.add_argument("--no-retry-after", action="store_true", help="429s without Retry-After")
    args = parser.parse_args(argv)
    serve(
        args.host,
        args.port,
        args.pat,
        user_id=args.user_id,
        log_limit=args.log_limit,
        generate_chunks=args.generate_chunks,
        generate_pace=args.generate_pace,
        rate_limit=args.rate_limit,
        retry_after=not args.no_retry_after,
    )
