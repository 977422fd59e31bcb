"""Server streams: newline-delimited JSON → an async iterator of typed messages.

Each line is ``{"result": <message>}``, ``{"error": {"code", "message", "details"}}``
(grpc-gateway framing) or a bare message. Lines are split here, not with
``readline()``, so a line can be any length and break anywhere across network
chunks; CRLF, blank lines and a missing final newline are fine. Before the
first message arrives, failures are retried like unary calls; after it, never.
Leaving the iteration early, an exception, ``aclose()`` or cancellation closes
the response at once, and the half-read connection is dropped, not pooled.
"""

from __future__ import annotations

import asyncio
import functools
import warnings
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from . import _decode
from ._errors import APIStatusError, ClarifaiError, StreamError
from ._transport import StreamingResponse

if TYPE_CHECKING:
    from ._core import Core
    from ._endpoint import Endpoint

__all__ = ["LineSplitter", "ResponseStream"]

T = TypeVar("T")
_SUCCESS_CODES = frozenset({0, 10000, 10010})


class _ErrorFrame(msgspec.Struct, gc=False):
    code: int = 0
    message: str = ""
    details: Any = None


@functools.cache
def _frame_decoder(cls: type[T]) -> msgspec.json.Decoder[Any]:
    frame = msgspec.defstruct(
        f"{cls.__name__}Frame",
        [("result", cls | None, None), ("error", _ErrorFrame | None, None)],  # type: ignore[arg-type]
        gc=False,
    )
    return msgspec.json.Decoder(frame, strict=False)


class LineSplitter:
    """Splits a byte stream into lines; holds at most one partial line."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """Complete, non-blank lines ending in ``chunk`` (``\\r\\n`` or ``\\n``)."""
        buf = self._buffer
        if b"\n" not in chunk:
            buf += chunk
            return []
        if buf:
            buf += chunk
            data: bytes = bytes(buf)
            buf.clear()
        else:
            data = chunk
        lines = data.split(b"\n")
        tail = lines.pop()
        if tail:
            buf += tail
        return [s for line in lines if (s := line.rstrip(b"\r").strip())]

    def flush(self) -> list[bytes]:
        """The last line, when the body did not end with a newline."""
        rest = bytes(self._buffer).strip()
        self._buffer.clear()
        return [rest] if rest else []


class ResponseStream(Generic[T], AsyncIterator[T]):
    """Typed messages of one streamed answer.

    Use ``async with client.generate_model_outputs(req) as stream: async for
    chunk in stream`` (or a plain ``async for``). The request starts on enter
    or on the first iteration; :meth:`aclose` ends it at any time.
    """

    def __init__(self, core: Core, endpoint: Endpoint[Any, T], request: Any) -> None:
        self._core = core
        self._endpoint = endpoint
        self._built = core.prepare(endpoint, request)  # bad input fails here, before I/O
        self._decoder = _frame_decoder(endpoint.response_type)
        self._response: StreamingResponse | None = None
        self._splitter = LineSplitter()
        self._pending: list[bytes] = []
        self._ready: list[T] = []
        self._started = False
        self._done = False
        self.chunks_received = 0

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> ResponseStream[T]:
        await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """End the stream now and release its connection (safe to call twice)."""
        self._done = True
        self._close_response()

    def _close_response(self) -> None:
        resp, self._response = self._response, None
        if resp is not None:
            resp.close()

    def __del__(self) -> None:
        if self._response is not None and not self._response.closed:
            warnings.warn(
                f"unclosed {self._endpoint.name} stream; use 'async with' or aclose()",
                ResourceWarning,
                stacklevel=1,
            )
            self._response.close()

    async def _start(self) -> None:
        """Open the request, retrying until the first message arrives or the error is final."""
        if self._started:
            return
        self._started = True
        core, endpoint = self._core, self._endpoint
        attempt = 0
        try:
            while True:
                try:
                    self._response = await core.open_stream(endpoint, self._built, attempt)
                    first = await self._next_message()
                    if first is not None:
                        self._ready.append(first)
                    return
                except ClarifaiError as error:
                    self._close_response()
                    self._splitter = LineSplitter()
                    self._pending.clear()
                    delay = core.retry_delay(endpoint, error, attempt)
                    if delay is None:
                        raise
                    await asyncio.sleep(delay)
                    attempt += 1
        except BaseException:
            self._done = True
            self._close_response()
            raise

    # -- iteration -------------------------------------------------------------------

    def __aiter__(self) -> ResponseStream[T]:
        return self

    async def __anext__(self) -> T:
        if not self._started:
            await self._start()
        if self._ready:
            return self._ready.pop()
        if self._done:
            raise StopAsyncIteration
        try:
            message = await self._next_message()
        except BaseException:
            self._done = True
            self._close_response()
            raise
        if message is None:
            self._done = True
            self._close_response()
            raise StopAsyncIteration
        return message

    async def _next_message(self) -> T | None:
        """The next decoded message, or None at the end of the body."""
        resp = self._response
        if resp is None:
            return None
        while not self._pending:
            chunk = await resp.read_chunk(self._endpoint.name)
            if not chunk:
                self._pending.extend(self._splitter.flush())
                if not self._pending:
                    return None
                break
            self._pending.extend(self._splitter.feed(chunk))
        line = self._pending.pop(0)
        return self._decode_line(line, resp.status)

    def _decode_line(self, line: bytes, http_status: int) -> T:
        name = self._endpoint.name
        try:
            frame = self._decoder.decode(line)
            message = frame.result
            if message is None and frame.error is None:
                message = _decode.decode(self._endpoint.response_type, line)  # a bare message
        except msgspec.ValidationError:
            raw = msgspec.json.decode(line)
            inner = raw.get("result", raw) if isinstance(raw, dict) else raw
            message = _decode.convert(self._endpoint.response_type, inner)
            frame = None
        except msgspec.DecodeError:
            raise StreamError(
                f"{name}: unreadable stream line: {line[:120]!r}", operation=name
            ) from None
        if frame is not None and frame.error is not None:
            err = frame.error
            raise StreamError(
                f"{name}: stream failed: {err.message} (grpc code {err.code})",
                grpc_code=err.code,
                operation=name,
                details=err.details,
            )
        status = getattr(message, "status", None)
        if status is not None and status.code not in _SUCCESS_CODES:
            raise APIStatusError.from_status(
                status, http_status=http_status, operation=name, response=message
            )
        self.chunks_received += 1
        return message
