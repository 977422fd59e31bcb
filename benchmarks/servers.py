"""The servers the benchmarks talk to, each meant to run in its own process.

``python -m benchmarks.servers canned [--port P]`` serves a minimal aiohttp
application with canned answers; ``python -m benchmarks.servers fake`` serves
:class:`aioclarifai.testing.FakeClarifai`. Either prints ``READY <url> <pat>``
on stdout, then answers control commands read from stdin, one per line:
``count`` (requests served since the last ``reset``; the canned server counts
predicts only), ``reset``,
``sha256 <upload_id>`` (fake only: the hash of the bytes stored for an upload)
and ``quit``. Closing stdin also stops the server.

The canned application reads its behaviour from the model id, so one process
serves every benchmark:

- ``canned``: one fixed, realistic single-output ``MultiOutputResponse``;
- ``echo``: one output per input in the request, echoing its id;
- a ``-<N>ms`` suffix (``echo-20ms``) adds N ms of latency per request;
- ``gen-<N>`` on ``…/outputs/generate``: a stream of N newline-delimited chunks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import re
import sys
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web

from . import payloads

__all__ = ["BENCH_PAT", "CannedState", "make_canned_server", "main"]

BENCH_PAT = "bench-pat-0123456789"
_PLAN_RE = re.compile(r"^(?P<kind>canned|echo|gen)(?:-(?P<n>\d+))?(?:-(?P<ms>\d+)ms)?$")
_LINES_PER_WRITE = 256


@dataclass(frozen=True)
class _Plan:
    kind: str
    chunks: int
    latency: float


class _Inputs(msgspec.Struct):
    inputs: list[dict[str, Any]] = []


class CannedState:
    """Counters and caches of one canned application."""

    def __init__(self) -> None:
        self.predict_requests = 0
        self._plans: dict[str, _Plan] = {}
        self._streams: dict[int, list[bytes]] = {}
        self.canned_body = payloads.multi_output_response(1)
        # An echoed output is the realistic output with the caller's id spliced in.
        marker = "@@ID@@"
        template = msgspec.json.encode(payloads.output(marker))
        self._out_a, self._out_b = template.split(msgspec.json.encode(marker), 1)
        self._head = b'{"status":{"code":10000,"description":"Ok","req_id":"echo"},"outputs":['
        self._inputs_decoder = msgspec.json.Decoder(_Inputs)

    def plan(self, model_id: str) -> _Plan:
        """The behaviour named by ``model_id`` (cached)."""
        plan = self._plans.get(model_id)
        if plan is None:
            m = _PLAN_RE.match(model_id)
            if m is None:
                raise web.HTTPNotFound(text=f"unknown benchmark model {model_id!r}")
            plan = _Plan(m["kind"], int(m["n"] or 0), int(m["ms"] or 0) / 1000)
            self._plans[model_id] = plan
        return plan

    def echo_body(self, request_body: bytes) -> bytes:
        """One output per input of the request, in order, echoing (or making up) ids."""
        inputs = self._inputs_decoder.decode(request_body).inputs
        parts = []
        for i, inp in enumerate(inputs):
            input_id = inp.get("id") or f"made-up-{i}"
            parts.append(self._out_a + msgspec.json.encode(input_id) + self._out_b)
        return self._head + b",".join(parts) + b"]}"

    def stream_pieces(self, chunks: int) -> list[bytes]:
        """The body of an ``N``-chunk stream, cut into groups of lines per write."""
        pieces = self._streams.get(chunks)
        if pieces is None:
            lines = [payloads.stream_line(i) for i in range(chunks)]
            pieces = [
                b"".join(lines[i : i + _LINES_PER_WRITE])
                for i in range(0, chunks, _LINES_PER_WRITE)
            ]
            self._streams[chunks] = pieces
        return pieces


def make_canned_server(state: CannedState | None = None) -> web.Server:
    """The minimal canned-answer server: a low-level aiohttp handler, no router.

    Paths end in ``…/models/<model_id>[/versions/<id>]/outputs[/generate]``;
    the model id names the behaviour (see the module docstring).
    """
    st = state or CannedState()
    routes: dict[str, tuple[_Plan, bool]] = {}

    def route(path: str) -> tuple[_Plan, bool]:
        found = routes.get(path)
        if found is None:
            parts = path.split("/")
            generate = parts[-1] == "generate"
            if "models" not in parts or parts[-2 if generate else -1] != "outputs":
                raise web.HTTPNotFound(text=f"no such route {path!r}")
            found = routes[path] = (st.plan(parts[parts.index("models") + 1]), generate)
        return found

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        plan, generate = route(request.path)
        body = await request.read()
        if generate:
            return await _stream(request, st.stream_pieces(plan.chunks))
        st.predict_requests += 1
        if plan.latency:
            await asyncio.sleep(plan.latency)
        answer = st.canned_body if plan.kind == "canned" else st.echo_body(body)
        return web.Response(body=answer, content_type="application/json")

    return web.Server(handle, access_log=None)


async def _stream(request: web.BaseRequest, pieces: list[bytes]) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    try:
        for piece in pieces:
            await resp.write(piece)
        await resp.write_eof()
    except ConnectionResetError:
        pass  # the client left early; nothing more to send
    return resp


# -- running as a process ------------------------------------------------------------


def _control_loop(
    loop: asyncio.AbstractEventLoop,
    handle: Callable[[str], Coroutine[Any, Any, str]],
    stop: asyncio.Event,
) -> None:
    """Read commands from stdin in a thread; each is answered on the loop."""
    for line in sys.stdin:
        command = line.strip()
        if not command:
            continue
        if command == "quit":
            break
        future = asyncio.run_coroutine_threadsafe(handle(command), loop)
        try:
            answer = future.result(timeout=60)
        except Exception as exc:  # report, keep serving
            answer = f"ERROR {type(exc).__name__}: {exc}"
        print(answer, flush=True)
    loop.call_soon_threadsafe(stop.set)


async def _serve_canned(port: int) -> None:
    state = CannedState()
    runner = web.ServerRunner(make_canned_server(state), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
    await site.start()
    bound = runner.addresses[0][1]

    async def handle(command: str) -> str:
        if command == "count":
            return str(state.predict_requests)
        if command == "reset":
            state.predict_requests = 0
            return "ok"
        return f"ERROR unknown command {command!r}"

    try:
        await _run_until_quit(f"http://127.0.0.1:{bound}", BENCH_PAT, handle)
    finally:
        await runner.cleanup()


async def _serve_fake(port: int) -> None:
    from aioclarifai.testing import FakeClarifai

    # No request log: benchmarks send many requests and nobody reads it.
    async with FakeClarifai(BENCH_PAT, port=port, log_limit=0) as fake:
        baseline = [0]

        async def handle(command: str) -> str:
            if command == "count":
                return str(fake.request_count - baseline[0])
            if command == "reset":
                baseline[0] = fake.request_count
                return "ok"
            if command.startswith("sha256 "):
                data = fake.upload_bytes(command.split(" ", 1)[1])
                return hashlib.sha256(data).hexdigest()
            return f"ERROR unknown command {command!r}"

        await _run_until_quit(fake.url, fake.pat, handle)


async def _run_until_quit(
    url: str, pat: str, handle: Callable[[str], Coroutine[Any, Any, str]]
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    print(f"READY {url} {pat}", flush=True)
    thread = threading.Thread(target=_control_loop, args=(loop, handle, stop), daemon=True)
    thread.start()
    await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m benchmarks.servers``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.servers")
    parser.add_argument("kind", choices=("canned", "fake"))
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve = _serve_canned if args.kind == "canned" else _serve_fake
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
