"""Soak: many calls against a server that injects faults; nothing may hang or leak.

``python -m benchmarks.soak [--calls N] [--fault-rate F] [--concurrency C]``

A raw-asyncio HTTP server runs in its own process and answers each request
with a fault at the given rate (default 10%), spread evenly over four kinds:
``429`` (throttled, ``retry-after-ms``), ``503`` (Clarifai 40031, server
unavailable), ``reset`` (an RST before the answer or in the middle of its
body) and ``stall`` (silence until the client gives up). The client runs the
calls — mostly ``list_workflows`` (idempotent), one in five ``post_workflows``
(never retried once its body may have been processed) — and the run checks:

- every call ends as a success or a typed :class:`ClarifaiError`;
- no call outlives its time budget (a watchdog counts hangs);
- no connection is held at the end, by our budget or by aiohttp's connector;
- the attempts the ``on_response`` hook saw equal the requests the server got
  (nothing below the client's retry policy resends anything);

and prints the faults the server injected beside the retries the client made
for each kind (from the ``on_response`` hook).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import multiprocessing
import random
import socket
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

from aioclarifai import (
    APIConnectionError,
    APITimeoutError,
    ClarifaiError,
    Client,
    RateLimitError,
    ResponseEvent,
    RetryConfig,
    ServerError,
    Timeout,
    types,
)

PAT = "soak-pat-0123456789abcdef"
FAULTS = ("429", "503", "reset", "stall")
OK = json.dumps(
    {"status": {"code": 10000, "description": "Ok", "req_id": "soak"}, "workflows": []}
).encode()
UNAVAILABLE = json.dumps(
    {"status": {"code": 40031, "description": "server unavailable", "req_id": "soak"}}
).encode()
THROTTLED = json.dumps(
    {"status": {"code": 11005, "description": "throttled", "req_id": "soak"}}
).encode()
_RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # struct linger {on, 0 s}: close with an RST

BUDGET = 5.0
TIMEOUT = Timeout(total=BUDGET, connect=2.0, read=0.5, pool=30.0)
RETRY = RetryConfig(max_retries=3, initial_backoff=0.02, max_backoff=0.2)


# -- the faulty server (its own process) ----------------------------------------------------


def _answer(status: int, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST)
    writer.transport.abort()


class FaultyServer:
    """Answers every request with success, or a fault at ``rate``."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.random = random.Random(seed)
        self.injected: collections.Counter[str] = collections.Counter()
        self.requests = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One keep-alive connection."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                self.requests += 1
                fault = self.random.choice(FAULTS) if self.random.random() < self.rate else ""
                if fault:
                    self.injected[fault] += 1
                if fault == "429":
                    writer.write(_answer(429, THROTTLED, "retry-after-ms: 20\r\n"))
                elif fault == "503":
                    writer.write(_answer(503, UNAVAILABLE))
                elif fault == "reset":
                    if self.random.random() < 0.5:
                        writer.write(_answer(200, OK)[:-10])  # part of the body, then RST
                        await writer.drain()
                    _reset(writer)
                    return
                elif fault == "stall":
                    await reader.read()  # silent until the client hangs up (read timeout)
                    return
                else:
                    writer.write(_answer(200, OK))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return
        finally:
            writer.transport.abort()


def _server_process(conn: Connection, rate: float, seed: int) -> None:
    asyncio.run(_server_main(conn, rate, seed))


async def _server_main(conn: Connection, rate: float, seed: int) -> None:
    faulty = FaultyServer(rate, seed)
    server = await asyncio.start_server(faulty.serve, "127.0.0.1", 0, backlog=1024)
    conn.send(server.sockets[0].getsockname()[1])
    loop = asyncio.get_running_loop()
    while (command := await loop.run_in_executor(None, conn.recv)) != "quit":
        if command == "stats":
            conn.send({"requests": faulty.requests, "injected": dict(faulty.injected)})
    server.close()


# -- the client side -----------------------------------------------------------------------


def fault_of(error: ClarifaiError | None) -> str:
    """Which injected fault an attempt's error stands for."""
    if isinstance(error, RateLimitError):
        return "429"
    if isinstance(error, ServerError):
        return "503"
    if isinstance(error, APITimeoutError):
        return "stall"
    if isinstance(error, APIConnectionError):
        return "reset"
    return "other"


async def soak(url: str, calls: int, concurrency: int) -> dict[str, Any]:
    """Run the calls; return what happened."""
    outcomes: collections.Counter[str] = collections.Counter()
    retries: collections.Counter[str] = collections.Counter()
    final: collections.Counter[str] = collections.Counter()
    post_retries: collections.Counter[str] = collections.Counter()
    attempts = 0  # every attempt that reached the wire, as the hook saw it
    hangs = 0
    latencies: list[float] = []

    def on_response(event: ResponseEvent) -> None:
        nonlocal attempts
        if not (isinstance(event.error, APITimeoutError) and event.error.kind == "pool"):
            attempts += 1  # a pool timeout never reached the wire
        if event.error is not None:
            fault = fault_of(event.error)
            (retries if event.retry_delay is not None else final)[fault] += 1
            if event.retry_delay is not None and event.operation == "PostWorkflows":
                post_retries[fault] += 1

    workflow = types.Workflow(id="soak")
    async with Client(
        PAT,
        base_url=url,
        app_id="soak",
        timeout=TIMEOUT,
        retry=RETRY,
        max_connections=64,
        on_response=on_response,
        # The 429s here are injected at random, not an account's limit: an adaptive
        # controller would read them as one and slow the soak to a crawl.
        adaptive_rate=False,
    ) as client:
        queue = iter(range(calls))

        async def worker() -> None:
            nonlocal hangs
            for i in queue:
                started = time.perf_counter()
                call = (
                    client.post_workflows(workflows=[workflow])
                    if i % 5 == 0
                    else client.list_workflows(per_page=10)
                )
                try:
                    # The watchdog: the client's own budget is BUDGET.
                    await asyncio.wait_for(call, BUDGET + 5.0)
                    outcomes["success"] += 1
                except asyncio.TimeoutError:
                    hangs += 1
                except ClarifaiError as exc:
                    outcomes[type(exc).__name__] += 1
                except Exception as exc:  # an untyped error is a failure of the soak
                    outcomes[f"UNTYPED {type(exc).__name__}"] += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        session = getattr(client._core.transport, "_session", None)
        acquired = len(session.connector._acquired) if session and session.connector else 0
        in_use = client.connections_in_use
    latencies.sort()
    return {
        "elapsed": elapsed,
        "outcomes": outcomes,
        "retries": retries,
        "final": final,
        "post_retries": post_retries,
        "attempts": attempts,
        "hangs": hangs,
        "in_use": in_use,
        "acquired": acquired,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "max": latencies[-1],
    }


def _row(label: str, counts: collections.Counter[str] | dict[str, int]) -> str:
    return f"  {label:<34}" + "  ".join(f"{f} {counts.get(f, 0):>5}" for f in FAULTS)


def main(argv: list[str] | None = None) -> int:
    """Start the server process, soak, print the report; exit 1 on any violation."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(
        target=_server_process, args=(child, args.fault_rate, args.seed), daemon=True
    )
    server.start()
    try:
        port = parent.recv()
        result = asyncio.run(soak(f"http://127.0.0.1:{port}", args.calls, args.concurrency))
        parent.send("stats")
        stats = parent.recv()
        parent.send("quit")
    finally:
        server.join(10)
        if server.is_alive():
            server.kill()

    outcomes: collections.Counter[str] = result["outcomes"]
    ended = sum(outcomes.values())
    untyped = sum(n for k, n in outcomes.items() if k.startswith("UNTYPED"))
    print(
        f"soak: {args.calls} calls ({args.concurrency} concurrent, pool 64), "
        f"{args.fault_rate:.0%} faults, server in pid {server.pid}"
    )
    print(
        f"  timeouts: total {TIMEOUT.total}s read {TIMEOUT.read}s; retries: "
        f"max {RETRY.max_retries}, backoff {RETRY.initial_backoff}-{RETRY.max_backoff}s"
    )
    print(
        f"  elapsed {result['elapsed']:.1f}s ({args.calls / result['elapsed']:.0f} calls/s); "
        f"latency p50 {result['p50'] * 1000:.1f}ms p99 {result['p99'] * 1000:.0f}ms "
        f"max {result['max'] * 1000:.0f}ms"
    )
    print(
        f"  server saw {stats['requests']} requests; the on_response hook saw "
        f"{result['attempts']} attempts on the wire"
    )
    print(_row("faults injected by the server:", stats["injected"]))
    print(_row("retries made by the client:", result["retries"]))
    print(_row("  of which post_workflows:", result["post_retries"]))
    print(_row("attempts that ended their call:", result["final"]))
    print("  outcomes: " + ", ".join(f"{k} {n}" for k, n in outcomes.most_common()))
    print(
        f"  ended {ended}/{args.calls} (success or typed error: {ended - untyped}); "
        f"hangs {result['hangs']}; leaked connections: {result['in_use']} (budget), "
        f"{result['acquired']} (aiohttp connector)"
    )
    ok = (
        ended == args.calls
        and untyped == 0
        and result["hangs"] == 0
        and result["in_use"] == 0
        and result["acquired"] == 0
        and result["attempts"] == stats["requests"]
    )
    print("  PASS" if ok else "  FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
