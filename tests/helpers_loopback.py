"""Loopback servers shared by the integration tests (real sockets; unit tests use MockTransport).

No tests live here. :class:`Loopback` is a small raw-asyncio HTTP/1.1 server
(keep-alive, Content-Length bodies) whose answer to each request is decided by
a handler, so a test can script exactly what goes wrong: an answer, a silence,
a reset in the middle of a body, a closed connection. Raw sockets rather than
aiohttp.web because the faults must be exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from aioclarifai import Client, RetryConfig

PAT = "pat-0123456789abcdef-SECRET"
OK_BODY = {"status": {"code": 10000, "description": "Ok", "req_id": "req-ok"}, "workflows": []}


@dataclass
class Seen:
    """A request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    """Answer with this status, headers and body (a dict is sent as JSON)."""

    status: int = 200
    body: bytes | dict[str, Any] = field(default_factory=lambda: dict(OK_BODY))
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The whole HTTP answer."""
        body = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        headers = {"Content-Type": "application/json", **self.headers}
        head = f"HTTP/1.1 {self.status} X\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return head.encode() + b"\r\n" + body


@dataclass
class Hang:
    """Read the request, then never answer."""


@dataclass
class ResetMidBody:
    """Send the headers and part of the body, then reset the connection."""


@dataclass
class StallMidBody:
    """Send the headers and part of the body, then go silent."""


@dataclass
class Close:
    """Close the connection without answering."""


Action = Reply | Hang | ResetMidBody | StallMidBody | Close
Handler = Callable[[Seen], "Action | Awaitable[Action]"]


def status_body(code: int, description: str = "", req_id: str = "req-1") -> dict[str, Any]:
    """A Clarifai body carrying only a status."""
    return {"status": {"code": code, "description": description, "req_id": req_id}}


def scripted(*actions: Action) -> Handler:
    """A handler answering the n-th request with ``actions[n]`` (the last one repeats)."""
    queue = list(actions)

    def handle(_: Seen) -> Action:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handle


class Loopback:
    """``async with Loopback(handler) as server``: ``server.url``, ``server.requests``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Seen] = []
        self.url = ""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._stop = asyncio.Event()

    async def __aenter__(self) -> Loopback:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        # Handlers end by themselves: asyncio logs cancelled connection tasks.
        self._stop.set()
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                seen = Seen(method, path, headers, body)
                self.requests.append(seen)
                action = self.handler(seen)
                if inspect.isawaitable(action):
                    action = await action
                if isinstance(action, Reply):
                    writer.write(action.encode())
                    await writer.drain()
                    continue
                if isinstance(action, ResetMidBody | StallMidBody):
                    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"status":')
                    await writer.drain()
                    if isinstance(action, ResetMidBody):
                        _reset(writer)
                        return
                if isinstance(action, Close):
                    return
                await self._stop.wait()  # Hang / StallMidBody: silent until the server stops
                return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            self._tasks.discard(task)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort with an RST (SO_LINGER 0) rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    writer.transport.abort()


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` until it holds (the state it watches has no event to await)."""
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.005)


def fast_retry(max_retries: int = 2) -> RetryConfig:
    """Retries with millisecond backoffs, so tests stay fast."""
    return RetryConfig(max_retries=max_retries, initial_backoff=0.01, max_backoff=0.05)


@contextlib.asynccontextmanager
async def client_for(server: Loopback, **kwargs: Any) -> AsyncIterator[Client]:
    """A client on ``server`` with fast retries (overridable), closed afterwards."""
    kwargs.setdefault("retry", fast_retry())
    async with Client(PAT, base_url=server.url, app_id="app", **kwargs) as client:
        yield client


def acquired_connections(client: Client) -> int:
    """Connections aiohttp's connector itself counts as acquired (not our budget)."""
    session = getattr(client._core.transport, "_session", None)
    if session is None or session.connector is None:
        return 0
    return len(session.connector._acquired)


@asynccontextmanager
async def deaf_server() -> AsyncIterator[str]:
    """Accepts connections and never reads from them, so a large upload blocks."""
    stop = asyncio.Event()
    handlers: set[asyncio.Task[Any]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        await stop.wait()
        writer.transport.abort()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        stop.set()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


@contextmanager
def unreachable_server() -> Iterator[str]:
    """A port whose accept queue is full: connecting hangs (SYNs are dropped)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        sock = socket.socket()
        sock.setblocking(False)
        with suppress(BlockingIOError):
            sock.connect(("127.0.0.1", port))
        fillers.append(sock)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


# -- a streaming generate endpoint (aiohttp.web) ------------------------------------------

StreamHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
GENERATE = "/v2/users/{user}/apps/{app}/models/{model}/outputs/generate"
GENERATE_VERSION = "/v2/users/{user}/apps/{app}/models/{model}/versions/{version}/outputs/generate"


class StreamServer:
    """A loopback generate endpoint whose behaviour each test sets with ``handler``.

    ``requests`` counts the requests (with their JSON bodies in ``bodies``);
    ``disconnected`` is set when a handler stopped because the client went away.
    """

    def __init__(self) -> None:
        self.handler: StreamHandler = self._not_set
        self.requests = 0
        self.bodies: list[Any] = []
        self.paths: list[str] = []
        self.disconnected = asyncio.Event()
        app = web.Application()
        app.router.add_post(GENERATE, self._dispatch)
        app.router.add_post(GENERATE_VERSION, self._dispatch)
        # TestServer cancels a handler whose client disconnected (handler_cancellation).
        self._server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    async def start(self) -> None:
        await self._server.start_server()

    async def close(self) -> None:
        await self._server.close()

    async def _not_set(self, request: web.Request) -> web.StreamResponse:
        raise AssertionError("set server.handler")

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        self.paths.append(request.path)
        self.bodies.append(await request.json())
        try:
            return await self.handler(request)
        except (asyncio.CancelledError, ConnectionResetError):
            self.disconnected.set()
            raise


async def send_lines(
    request: web.Request, pieces: list[bytes], *, delay: float = 0.0, forever: bool = False
) -> web.StreamResponse:
    """A 200 chunked answer that writes ``pieces`` one by one (each flushed)."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    while True:
        for piece in pieces:
            await resp.write(piece)
            if delay:
                await asyncio.sleep(delay)
        if not forever:
            break
    await resp.write_eof()
    return resp


def _result_line(text: str) -> bytes:
    message = {"status": {"code": 10000}, "outputs": [{"data": {"text": {"raw": text}}}]}
    return json.dumps({"result": message}).encode() + b"\n"


def serve_cut(server: StreamServer, body: bytes, *, cuts: int, seed: int) -> None:
    """Make ``server`` send ``body`` in ``cuts + 1`` writes cut at seeded random places."""
    at = sorted(random.Random(seed).sample(range(1, len(body)), cuts))
    pieces = [body[a:b] for a, b in zip([0, *at], [*at, len(body)], strict=True)]

    async def handler(request: web.Request) -> web.StreamResponse:
        return await send_lines(request, pieces)

    server.handler = handler


def slow_forever(delay: float = 0.02) -> StreamHandler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await send_lines(request, [_result_line("tok")], delay=delay, forever=True)

    return handler


async def assert_dropped(server: StreamServer, client: Client) -> None:
    """The server saw the disconnect and the pool holds nothing of this stream."""
    await asyncio.wait_for(server.disconnected.wait(), 10)
    assert client.connections_in_use == 0
    assert client.idle_connections == 0  # half-read: dropped, never pooled


async def assert_cancel_drops(
    read: Callable[[asyncio.Event], Coroutine[Any, Any, None]], server: StreamServer, client: Client
) -> None:
    """Cancel ``read`` once it set its event (it is reading): a cancellation, the stream dropped."""
    reading = asyncio.Event()
    task = asyncio.create_task(read(reading))
    await asyncio.wait_for(reading.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_dropped(server, client)
