"""Shared machinery: server processes, child processes, timing, and output lines."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any

__all__ = [
    "Ctx",
    "X",
    "Sample",
    "ServerProcess",
    "Skip",
    "drive",
    "fmt_int",
    "machine_lines",
    "median",
    "peak_rss_mb",
    "spread",
    "require",
    "rss_mb",
    "run_child",
]

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


#: The multiplication sign of every ratio (spelled out: linters flag the literal).
X = "\u00d7"


class Skip(Exception):
    """Raised by a benchmark that cannot run here (a module not written yet, ...)."""


def require(module: str, attr: str | None = None) -> Any:
    """Import ``module`` (and check ``attr`` on it), or skip the benchmark."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise Skip(f"{module} not available ({exc})") from None
    if attr is not None and not hasattr(mod, attr):
        raise Skip(f"{module}.{attr} not available")
    return mod


def median(values: Sequence[float]) -> float:
    """The median (of at least one value)."""
    return statistics.median(values)


def spread(values: Sequence[float], fmt: str = ".1f") -> str:
    """``median [min..max]`` of interleaved rounds: the figure and how far rounds strayed."""
    return f"{median(values):{fmt}} [{min(values):{fmt}}..{max(values):{fmt}}]"


def fmt_int(value: float) -> str:
    """``12,345`` style."""
    return f"{round(value):,}"


def rss_mb() -> float:
    """Current resident set size of this process, in MB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB.

    Read from ``VmHWM``, not ``getrusage().ru_maxrss``: Linux carries the
    parent's peak over into a spawned child's ``ru_maxrss``, so a child of a
    big runner would report the runner's memory.
    """
    with open("/proc/self/status") as f:
        for row in f:
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) * 1024 / 1e6
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


@dataclass
class Sample:
    """One timed run: wall seconds, client CPU seconds, operations done."""

    wall: float
    cpu: float
    ops: int

    @property
    def cpu_us(self) -> float:
        """Client CPU µs per operation."""
        return self.cpu / self.ops * 1e6

    @property
    def rate(self) -> float:
        """Operations per wall second."""
        return self.ops / self.wall


async def drive(call: Callable[[], Awaitable[Any]], n: int, concurrency: int) -> Sample:
    """Run ``call`` ``n`` times from ``concurrency`` workers; time wall and process CPU."""
    per = max(1, n // concurrency)

    async def worker() -> None:
        for _ in range(per):
            await call()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Sample(time.perf_counter() - t0, time.process_time() - cpu0, per * concurrency)


class ServerProcess:
    """A server from :mod:`benchmarks.servers` running in its own process."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.url = ""
        self.pat = ""
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> ServerProcess:
        """Start the process and wait for its ``READY`` line."""
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.servers", self.kind],
            cwd=_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._stdout().readline()
        if not line.startswith("READY "):
            self.close()
            raise RuntimeError(f"{self.kind} server did not start (said {line!r})")
        _, self.url, self.pat = line.split()
        return self

    def _stdout(self) -> IO[str]:
        assert self._proc is not None and self._proc.stdout is not None
        return self._proc.stdout

    def command(self, command: str) -> str:
        """Send a control command and return the server's one-line answer."""
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        answer = self._stdout().readline().strip()
        if answer.startswith("ERROR"):
            raise RuntimeError(f"{self.kind} server: {answer}")
        return answer

    def close(self) -> None:
        """Stop the process (quit, then terminate, then kill)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.write("quit\n")
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def run_child(name: str, params: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    """Run ``benchmarks.child`` ``name`` in a fresh process; its JSON result."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.child", name, json.dumps(params)],
        cwd=_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"child {name} failed (exit {proc.returncode}): " + " | ".join(tail))
    result: dict[str, Any] = json.loads(lines[-1])
    if "skip" in result:
        raise Skip(result["skip"])
    return result


@dataclass
class Ctx:
    """What every benchmark gets: the mode, the servers, and the output."""

    quick: bool
    out: Callable[[str], None] = print
    servers: dict[str, ServerProcess] = field(default_factory=dict)

    def server(self, kind: str) -> ServerProcess:
        """The ``canned`` or ``fake`` server process, started on first use."""
        proc = self.servers.get(kind)
        if proc is None:
            if kind == "fake":
                require("aioclarifai.testing", "FakeClarifai")
            proc = ServerProcess(kind).start()
            self.servers[kind] = proc
        return proc

    def line(
        self, bench: str, variant: str, figures: str, ratio: str = "", where: str = ""
    ) -> None:
        """Print one result line: bench, variant, figures, ratio, and the server used."""
        tail = f"  [{where}]" if where else ""
        self.out(f"{bench:<12} {variant:<30} {figures:<44} {ratio}{tail}".rstrip())

    def close(self) -> None:
        """Stop every server process."""
        for proc in self.servers.values():
            proc.close()
        self.servers.clear()


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def machine_lines() -> list[str]:
    """CPU, cores, load, Python and library versions, date: the table's header."""
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for row in f:
                if row.startswith("model name"):
                    cpu = row.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    libs = ", ".join(
        f"{name} {_version(name)}"
        for name in (
            "aioclarifai",
            "aiohttp",
            "msgspec",
            "uvloop",
            "clarifai-grpc",
            "protobuf",
            "requests",
            "httpx",
        )
    )
    return [
        f"date     {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}",
        f"machine  {cpu}, {os.cpu_count()} cores ({usable} usable), load {load}, "
        f"{platform.system()} {platform.release()}",
        f"python   {platform.python_implementation()} {platform.python_version()}; {libs}",
    ]
