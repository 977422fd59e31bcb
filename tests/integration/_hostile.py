"""A misbehaving HTTP/1.1 server on loopback for the reliability tests (issue 14).

No tests live here. Each connection is served by ``handler(request, writer)``,
a coroutine that writes whatever it likes (a well-formed answer, half an
answer, an endless line, a gzip bomb) and returns True to keep the
connection for the next request, False to drop it. Raw asyncio sockets, not
aiohttp.web, because the faults must be exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

PAT = "pat-hostile-0123456789abcdef-SECRET"


@dataclass
class Request:
    """A request as the server read it; ``number`` counts from 1 across connections."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    number: int
    connection: int


Handler = Callable[[Request, asyncio.StreamWriter], Awaitable[bool]]


def answer(
    status: int, body: bytes | dict[str, Any], headers: dict[str, str] | None = None
) -> bytes:
    """A whole HTTP answer with a Content-Length body (a dict is sent as JSON)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    )
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return head.encode() + b"\r\n" + data


def status_body(code: int, description: str = "", **extra: Any) -> dict[str, Any]:
    """A Clarifai body with a status (plus any other top-level fields)."""
    return {"status": {"code": code, "description": description, "req_id": "req-h"}, **extra}


OK = status_body(10000, "Ok", workflows=[])


def reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with an RST (SO_LINGER 0) rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    writer.transport.abort()


class Hostile:
    """``async with Hostile(handler) as server``: ``server.url``, ``server.requests``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.url = ""
        self.connections = 0
        self.stop = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> Hostile:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        self.stop.set()
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        connection = self.connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(method, path, headers, body, len(self.requests) + 1, connection)
                self.requests.append(request)
                if not await self.handler(request, writer):
                    return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            self._tasks.discard(task)


def reply(status: int = 200, body: bytes | dict[str, Any] | None = None, **headers: str) -> Handler:
    """A handler answering every request the same way (keep-alive)."""
    data = answer(
        status, OK if body is None else body, {k.replace("_", "-"): v for k, v in headers.items()}
    )

    async def handle(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(data)
        await writer.drain()
        return True

    return handle


def chain_reprs(error: BaseException) -> str:
    """Messages and reprs of ``error`` and of everything chained to it (cause and context)."""
    seen: list[str] = []
    todo: list[BaseException | None] = [error]
    visited: set[int] = set()
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in visited:
            continue
        visited.add(id(exc))
        seen += [repr(exc), str(exc), repr(vars(exc)) if hasattr(exc, "__dict__") else ""]
        todo += [exc.__cause__, exc.__context__]
    return "\n".join(seen)
