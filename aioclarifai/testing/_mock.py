"""``MockTransport``: a client that answers from a function, without sockets (httpx's pattern).

>>> def handler(request: MockRequest) -> MockResponse:
...     assert request.method == "GET" and request.url.endswith("/v2/users/me/apps/a/workflows")
...     return MockResponse(200, json={"status": {"code": 10000}, "workflows": []})
>>> async with Client(pat="key", app_id="a", transport=MockTransport(handler)) as client:
...     await client.list_workflows()

The handler (plain or async) gets every attempt the client makes — retries
included, since retries happen above the transport — and returns a
:class:`MockResponse`. A streamed answer is a ``content`` given as an iterable
or an async iterable of byte chunks; each chunk reaches the client as one read.
To simulate a network failure, raise :class:`aioclarifai.APIConnectionError`
(or ``APITimeoutError``) from the handler.

Time budgets apply as on the wire: a handler slower than the call's total
timeout fails with ``APITimeoutError(kind="total")``, and a streamed answer
whose next chunk takes longer than ``stream_idle`` with ``kind="read"``.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from typing import Any

import anyio
import msgspec

from .._config import Timeout
from .._errors import APIConnectionError, APITimeoutError
from .._transport import CLOSED_MESSAGE, BodyStream, ClientState, RawResponse

__all__ = ["Handler", "MockRequest", "MockResponse", "MockTransport"]

Content = bytes | Iterable[bytes] | AsyncIterable[bytes]


class Headers(Mapping[str, str]):
    """Header names looked up without regard to case, as HTTP has them."""

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in (headers or {}).items():
            self._items[name.lower()] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        # The Authorization header is a secret: never shown.
        shown = {
            name: ("***" if key == "authorization" else value)
            for key, (name, value) in self._items.items()
        }
        return f"Headers({shown!r})"


class MockRequest:
    """One attempt as the client sent it: ``method``, ``url``, ``headers``, ``content``.

    ``url`` is absolute and percent-encoded as on the wire (query string
    included); ``content`` is the whole body (``b""`` when there is none);
    :meth:`json` decodes it.
    """

    __slots__ = ("content", "headers", "method", "operation", "url")

    def __init__(
        self, method: str, url: str, headers: Headers, content: bytes, operation: str
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.content = content
        #: The Clarifai operation the client was calling (``"PostModelOutputs"``).
        self.operation = operation

    def __repr__(self) -> str:
        return f"<MockRequest {self.method} {self.url}>"

    def json(self) -> Any:
        """The body decoded from JSON (``None`` when there is no body)."""
        return msgspec.json.decode(self.content) if self.content else None


class MockResponse:
    """The answer a handler gives.

    ``MockResponse(status_code=200, *, json=None, content=b"", headers=None)``:

    ``json`` is encoded as the body (and sets ``Content-Type: application/json``);
    otherwise ``content`` is the body: bytes, or an iterable / async iterable of
    byte chunks for a streamed answer.
    """

    __slots__ = ("content", "headers", "status_code")

    def __init__(
        self,
        status_code: int = 200,
        *,
        json: Any = None,
        content: Content = b"",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(status_code, bool) or not isinstance(status_code, int):
            raise TypeError(f"status_code must be an int, not {status_code!r}")
        if not 100 <= status_code <= 599:
            raise ValueError(f"status_code must be 100..599, not {status_code}")
        merged = dict(headers or {})
        if json is not None:
            if content != b"":
                raise TypeError("give json= or content=, not both")
            content = msgspec.json.encode(json)
            if not any(name.lower() == "content-type" for name in merged):
                merged["Content-Type"] = "application/json"
        elif isinstance(content, bytearray | memoryview):
            content = bytes(content)
        elif isinstance(content, str) or not isinstance(content, bytes | Iterable | AsyncIterable):
            raise TypeError(
                "content must be bytes or an (async) iterable of bytes, "
                f"not {type(content).__name__}"
            )
        self.status_code = status_code
        self.content = content
        self.headers = Headers(merged)

    def __repr__(self) -> str:
        return f"<MockResponse {self.status_code}>"


Handler = Callable[[MockRequest], MockResponse | Awaitable[MockResponse]]
"""A plain or async function from the request to its answer."""


class MockTransport:
    """A :class:`aioclarifai._transport.Transport` that hands every request to ``handler``.

    ``Client(transport=MockTransport(handler))``: everything above the wire —
    request building, retries, decoding, streams, batching, uploads — runs as
    with a real server.
    """

    def __init__(self, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError(f"handler must be callable, not {type(handler).__name__}")
        self._handler = handler
        self._base_url = ""
        self._headers: dict[str, str] = {}
        self._in_flight = 0
        self._streams: set[_MockStream] = set()
        self.state = ClientState.UNOPENED

    def __repr__(self) -> str:
        return f"<MockTransport {self.state.value} {self._base_url}>"

    # -- the Transport protocol ------------------------------------------------------

    @property
    def connections_in_use(self) -> int:
        """Exchanges under way plus streams not yet closed."""
        return self._in_flight + len(self._streams)

    @property
    def idle_connections(self) -> int:
        """Always 0: there are no connections to keep."""
        return 0

    def bind(self, base_url: str, headers: Mapping[str, str]) -> None:
        """Remember the base URL and the headers every request carries."""
        self._base_url = base_url
        self._headers = dict(headers)

    def check_loop(self) -> None:
        """Any event loop will do: nothing is bound to one."""

    async def aclose(self) -> None:
        """Refuse further requests; streams still open fail on their next read."""
        self.state = ClientState.CLOSED
        for stream in list(self._streams):
            stream.close()

    async def send(
        self,
        method: str,
        path_and_query: str,
        body: bytes | None,
        timeout: Timeout,  # noqa: ASYNC109 - the Transport protocol's budgets, not a wait
        operation: str,
        *,
        deadline: float | None = None,
        stream: BodyStream | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> RawResponse:
        """Ask the handler, within the call's total timeout; the answer's body read in full."""
        limit = timeout.total if deadline is None else deadline - time.monotonic()
        self._in_flight += 1
        try:
            with anyio.fail_after(limit) if limit is not None else contextlib.nullcontext():
                response = await self._answer(
                    method, path_and_query, body, stream, operation, extra=headers
                )
                content = await _collect(response.content)
        except TimeoutError:
            raise APITimeoutError(
                f"{operation}: the call exceeded its total timeout",
                operation=operation,
                kind="total",
            ) from None
        finally:
            self._in_flight -= 1
        return RawResponse(response.status_code, response.headers, content)

    async def open_stream(
        self,
        method: str,
        path_and_query: str,
        body: bytes | None,
        timeout: Timeout,  # noqa: ASYNC109 - the Transport protocol's budgets, not a wait
        operation: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> _MockStream:
        """Ask the handler; its content is then read chunk by chunk."""
        self._in_flight += 1
        try:
            response = await self._answer(
                method, path_and_query, body, None, operation, extra=headers
            )
        finally:
            self._in_flight -= 1
        stream = _MockStream(response, timeout.stream_idle, self._streams.discard)
        self._streams.add(stream)
        return stream

    # -- internals -------------------------------------------------------------------

    async def _answer(
        self,
        method: str,
        path_and_query: str,
        body: bytes | None,
        stream: BodyStream | None,
        operation: str,
        *,
        extra: Mapping[str, str] | None = None,
    ) -> MockResponse:
        if self.state is ClientState.CLOSED:
            raise RuntimeError(CLOSED_MESSAGE)
        self.state = ClientState.OPEN
        headers = dict(self._headers)
        if stream is not None:
            headers.update(stream.headers)
            content = b"".join([chunk async for chunk in stream.chunks()])
        elif body is not None:
            headers["Content-Type"] = "application/json"
            content = body
        else:
            content = b""
        if extra:
            headers.update(extra)
        request = MockRequest(
            method, self._base_url + path_and_query, Headers(headers), content, operation
        )
        response = self._handler(request)
        if inspect.isawaitable(response):
            response = await response
        if not isinstance(response, MockResponse):
            raise TypeError(
                f"the MockTransport handler must return a MockResponse, "
                f"not {type(response).__name__}"
            )
        return response


async def _collect(content: Content) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, AsyncIterable):
        return b"".join([bytes(chunk) async for chunk in content])
    return b"".join(bytes(chunk) for chunk in content)


class _MockStream:
    """A handler's content read as a stream: each chunk is one read; ``close`` ends it."""

    __slots__ = ("_chunks", "_done", "_forget", "_idle", "closed", "headers", "status")

    def __init__(
        self, response: MockResponse, idle: float | None, forget: Callable[[_MockStream], None]
    ) -> None:
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers
        self.closed = False
        self._chunks = _chunks(response.content)
        self._idle = idle
        self._forget = forget
        self._done = False

    async def read_chunk(self, operation: str) -> bytes:
        """The next non-empty chunk; ``b""`` at the end."""
        while True:
            if self.closed:
                raise APIConnectionError(f"{operation}: connection closed", operation=operation)
            if self._done:
                return b""
            try:
                if self._idle is None:
                    chunk = await self._chunks.__anext__()
                else:
                    with anyio.fail_after(self._idle):
                        chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._done = True
                return b""
            except TimeoutError:
                raise APITimeoutError(
                    f"{operation}: no data from the server within the read timeout",
                    operation=operation,
                    kind="read",
                ) from None
            if chunk:
                return bytes(chunk)

    async def read_all(self, operation: str) -> bytes:
        """The rest of the content."""
        parts = []
        while chunk := await self.read_chunk(operation):
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        """End the stream (idempotent)."""
        if not self.closed:
            self.closed = True
            self._forget(self)


async def _chunks(content: Content) -> AsyncIterator[bytes]:
    if isinstance(content, bytes):
        yield content
    elif isinstance(content, AsyncIterable):
        async for chunk in content:
            yield chunk
    else:
        for chunk in content:
            yield chunk
