"""The transport seam: what the core needs from an HTTP layer, and nothing more.

The core builds requests and decides retries; a transport only carries one
attempt to the server and back. :class:`aioclarifai._aiohttp.AiohttpTransport`
is the default (and the only module that imports aiohttp);
:class:`aioclarifai.testing.MockTransport` answers from a function, without
sockets. Any object with these methods can be given as ``Client(transport=...)``.

A transport maps its own failures onto :class:`APIConnectionError` /
:class:`APITimeoutError` (never resending anything itself) and lets
``CancelledError`` through.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import msgspec

if TYPE_CHECKING:
    from ._config import Timeout

__all__ = [
    "CLOSED_MESSAGE",
    "BodyStream",
    "ClientState",
    "RawResponse",
    "StreamResponse",
    "Transport",
]

CLOSED_MESSAGE = "this Client is closed; create a new one"


class ClientState(enum.Enum):
    """Lifecycle of a client: unopened → open → closed (closed is final)."""

    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class BodyStream(Protocol):
    """A request body produced piece by piece while it is sent (never whole in memory)."""

    @property
    def headers(self) -> Mapping[str, str]:
        """Content-Type and Content-Length of the body."""

    def chunks(self) -> AsyncIterator[bytes]:
        """The body's bytes, from the start (called again for each attempt)."""


class RawResponse(msgspec.Struct, gc=False):
    """A fully read HTTP answer: ``RawResponse(status, headers, body)``.

    A Struct: one is made per exchange, and its C constructor is the cheapest
    there is (untracked by the GC: it holds nothing that could point back at it).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes


class StreamResponse(Protocol):
    """An HTTP answer whose body is read incrementally; ``close`` is safe to call again."""

    status: int
    headers: Mapping[str, str]
    closed: bool

    async def read_chunk(self, operation: str) -> bytes:
        """The next piece of the body as it arrives; ``b""`` at the end."""

    async def read_all(self, operation: str) -> bytes:
        """The rest of the body."""

    def close(self) -> None:
        """Drop the connection unless the body was read to the end (synchronous)."""


@runtime_checkable
class Transport(Protocol):
    """One HTTP exchange per call, a lifecycle, and a few pool figures.

    ``bind`` is called once by the client before any exchange, with the API's
    base URL and the headers every request carries (``Authorization``,
    ``User-Agent``). Paths passed to ``send`` / ``open_stream`` are already
    percent-encoded and include the query string.
    """

    @property
    def state(self) -> ClientState:
        """``UNOPENED`` until the first exchange, ``OPEN`` while in use, ``CLOSED`` after close."""

    @property
    def connections_in_use(self) -> int:
        """Connections held by exchanges or open streams right now."""

    @property
    def idle_connections(self) -> int:
        """Keep-alive connections waiting to be reused."""

    def bind(self, base_url: str, headers: Mapping[str, str]) -> None:
        """Receive the base URL and the headers of every request (before the first exchange)."""

    async def send(
        self,
        method: str,
        path_and_query: str,
        body: bytes | None,
        timeout: Timeout,
        operation: str,
        *,
        deadline: float | None = None,
        stream: BodyStream | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> RawResponse:
        """One request with its answer read in full.

        ``deadline`` (``time.monotonic()`` based) bounds the attempt when the
        call already spent part of ``timeout.total``; ``stream``, when given, is
        sent as the body instead of ``body`` (which then only serves the logs).
        ``headers`` are added to this attempt's (extra headers, ``traceparent``,
        what ``on_request`` hooks added).
        """

    async def open_stream(
        self,
        method: str,
        path_and_query: str,
        body: bytes | None,
        timeout: Timeout,
        operation: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> StreamResponse:
        """Send a request and return once the answer's headers arrived (``headers`` added)."""

    def check_loop(self) -> None:
        """Raise ``RuntimeError`` if the transport cannot be used from the running event loop."""

    async def aclose(self) -> None:
        """Release every connection; the transport cannot be used again. Idempotent."""
