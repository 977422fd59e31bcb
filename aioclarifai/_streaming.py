"""Server streams: newline-delimited JSON → an async iterator of typed messages.

Each line is ``{"result": <message>}``, ``{"error": {"code", "message", "details"}}``
(grpc-gateway framing) or a bare message. A ``result`` line is decoded once,
by a cached typed decoder; the rarer others take a second, untyped pass. Lines
are split here, not with ``readline()``, so a line can be any length and break
anywhere across network chunks; CRLF, blank lines and a missing final newline are fine. Splitting is
linear in the body's size and holds at most one partial line, so memory stays
flat however long the stream runs.

Before the first message arrives, failures are retried like unary calls
(a non-2xx answer, a connection failure, "model loading" as the first chunk's
status); after it, never. Leaving ``async with`` early, an exception, a failed
chunk, ``aclose()`` or task cancellation closes the response at once, and the
half-read connection is dropped, not pooled, so the server sees the disconnect.

A plain ``async for`` (without ``async with``) closes the stream when the loop
runs to its end or the stream raises; a ``break`` out of it leaves the stream
open until it is garbage-collected, which closes it and warns with a
``ResourceWarning``. Use ``async with`` (or ``aclose()``) to stop early.
"""

from __future__ import annotations

import contextlib
import functools
import re
import warnings
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

import msgspec

from . import _decode
from ._caps import DEFAULT_MAX_LINE_BYTES
from ._errors import APIStatusError, ClarifaiError, ResponseTooLargeError, StreamError

if TYPE_CHECKING:
    import anyio

    from ._core import Core
    from ._endpoint_spec import Endpoint
    from ._requests import BuiltRequest
    from ._transport import StreamResponse

__all__ = ["LineSplitter", "ResponseStream"]

T = TypeVar("T")

_SUCCESS_CODES = frozenset({0, 10000, 10010})
_GRPC_CODE_NAMES = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
)  # fmt: skip
_NO_LINES: tuple[bytes | bytearray, ...] = ()
_WORD = re.compile(rb"[A-Za-z0-9_.~+/=-]*")
# ResponseStream._state: not started → open → done (done is final).
_NEW, _OPEN, _DONE = 0, 1, 2


class LineSplitter:
    """Splits a byte stream into lines in linear time; holds at most one partial line.

    Each byte is searched for a newline once, when its chunk arrives, and
    copied once into the partial line when its line spans chunks (that
    ``bytearray`` is then handed out as the line itself: a long line costs its
    size, not twice). Returned lines may keep trailing whitespace (the ``\r``
    of CRLF, or the ``\n`` itself when a chunk is exactly one line): JSON
    decoders ignore it, and not slicing it off saves a copy per chunk. Blank
    lines are dropped. A line longer than ``max_line`` raises
    :class:`ResponseTooLargeError` and frees what was held of it.
    """

    __slots__ = ("_max", "_operation", "_partial")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE_BYTES, operation: str = "") -> None:
        self._partial = bytearray()
        self._max = max_line
        self._operation = operation

    @property
    def pending(self) -> int:
        """Bytes of the incomplete last line held so far."""
        return len(self._partial)

    def feed(self, chunk: bytes) -> Sequence[bytes | bytearray]:
        """The non-blank lines that ``chunk`` completes, in order."""
        partial = self._partial
        first = chunk.find(b"\n")
        if first < 0:
            partial += chunk  # amortised O(len(chunk)): no re-scan of what is held
            if len(partial) > self._max:
                self._too_long(len(partial))
            return _NO_LINES
        lines: list[bytes | bytearray]
        if not partial:
            if first == len(chunk) - 1:
                # The usual case for generations: one network chunk, one whole line.
                if first > self._max:
                    self._too_long(first)
                return _NO_LINES if chunk.isspace() else (chunk,)
            lines = list(chunk.split(b"\n"))
        else:
            partial += memoryview(chunk)[:first]  # the line's end, without a temporary copy
            if len(partial) > self._max:
                self._too_long(len(partial))
            self._partial = bytearray()
            lines = [partial, *chunk[first + 1 :].split(b"\n")]
        tail = lines.pop()
        if tail:
            self._partial += tail
        if len(chunk) > self._max:  # only then can a line inside this chunk be too long
            longest = max(map(len, lines), default=0)
            if longest > self._max:
                self._too_long(longest)
        if len(self._partial) > self._max:
            self._too_long(len(self._partial))
        return [line for line in lines if line and not line.isspace()]

    def flush(self) -> Sequence[bytes | bytearray]:
        """The last line when the body did not end with a newline (then empty)."""
        rest, self._partial = self._partial, bytearray()
        return (rest,) if rest and not rest.isspace() else _NO_LINES

    def _too_long(self, seen: int) -> NoReturn:
        self._partial = bytearray()  # free it now, not when the stream is collected
        raise ResponseTooLargeError("stream line", self._max, operation=self._operation, seen=seen)


#: Lines decoded together when several arrive in one network chunk.
_GROUP = 16


@functools.cache
def _frame_decoder(cls: type[Any]) -> msgspec.json.Decoder[Any]:
    """A cached typed decoder of ``{"result": cls}`` lines, the usual framing.

    Anything else (an error frame, a bare message, an enum sent by name)
    leaves ``result`` unset or fails validation and takes the general path.
    """
    frame = msgspec.defstruct(f"{cls.__name__}Frame", [("result", cls | None, None)], gc=False)
    return msgspec.json.Decoder(frame, strict=False)


@functools.cache
def _frames_decoder(cls: Any) -> msgspec.json.Decoder[Any]:
    """Decodes the lines of one network chunk at once, joined into a JSON array.

    One call per chunk instead of one per line: when a burst of lines arrives
    together this halves the Python work per message.
    """
    frame = _frame_decoder(cls).type
    return msgspec.json.Decoder(list[frame], strict=False)  # type: ignore[valid-type]


class ResponseStream(Generic[T], AsyncIterator[T]):
    """The typed messages of one streamed answer.

    ``async with client.generate_model_outputs(req) as stream: async for chunk
    in stream: ...`` — the request starts on enter or on the first iteration,
    and leaving the block closes the stream whatever happened inside it
    (``break``, an exception, cancellation).

    A plain ``async for chunk in client.generate_model_outputs(req)`` works
    too and closes the stream when the loop ends or the stream fails, but
    Python does not tell an iterator that a loop was left by ``break``: such
    a stream stays open until it is garbage-collected, which closes it and
    warns with a ``ResourceWarning``. To stop early, use ``async with`` or
    call :meth:`aclose`, which ends the stream at any time (a reader blocked
    in another task then simply finishes its loop); iterating a closed
    stream ends at once.

    A chunk whose ``status`` is not a success raises its typed
    :class:`APIStatusError`; an ``{"error": …}`` frame raises :class:`StreamError`.
    """

    __slots__ = (
        "_batch_decoder",
        "_built",
        "_core",
        "_decoder",
        "_endpoint",
        "_has_status",
        "_headers",
        "_http_status",
        "_lines",
        "_max_line",
        "_pos",
        "_ready",
        "_ready_at",
        "_response",
        "_splitter",
        "_starting",
        "_state",
        "_type",
    )

    def __init__(
        self,
        core: Core,
        endpoint: Endpoint[Any, Any],
        request: Any,
        *,
        response_type: type[T] | None = None,
    ) -> None:
        self._state = _DONE  # until fully built: nothing to close if prepare() raises
        self._response: StreamResponse | None = None
        self._http_status = 0
        self._headers: Mapping[str, str] = {}
        self._starting: anyio.CancelScope | None = None
        self._core = core
        self._endpoint = endpoint
        self._built: BuiltRequest = core.prepare(endpoint, request)  # bad input fails before I/O
        # ``response_type`` lets callers read extra fields (a subclass of the endpoint's type).
        rtype: Any = response_type or endpoint.response_type
        self._type: type[T] = rtype
        self._decoder = _frame_decoder(rtype)
        self._batch_decoder = _frames_decoder(rtype)
        self._ready: list[Any] = []
        self._ready_at = 0
        self._has_status = "status" in rtype.__struct_fields__
        self._max_line = getattr(core, "max_line_bytes", DEFAULT_MAX_LINE_BYTES)
        self._splitter = LineSplitter(self._max_line, endpoint.name)
        self._lines: Sequence[bytes | bytearray] = _NO_LINES
        self._pos = 0
        self._state = _NEW

    def __repr__(self) -> str:
        state = ("not started", "open", "closed")[self._state]
        return f"<ResponseStream {self._endpoint.name} {state}>"

    @property
    def closed(self) -> bool:
        """True once the stream ended, failed or was closed."""
        return self._state == _DONE

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> ResponseStream[T]:
        if self._state == _NEW:
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
        """End the stream now and drop its connection; safe to call more than once."""
        self.close()

    def close(self) -> None:
        """:meth:`aclose` without awaiting: the connection is dropped before this returns."""
        starting = self._starting
        if starting is not None:
            starting.cancel()  # a start in another task stops at its next await
        self._finish()

    def _finish(self) -> None:
        self._state = _DONE
        self._ready = []
        self._ready_at = 0
        self._lines = _NO_LINES
        self._drop_response()

    def _drop_response(self) -> None:
        resp, self._response = self._response, None
        if resp is not None:
            resp.close()  # synchronous: the connection is gone before we return

    def __del__(self) -> None:
        resp = getattr(self, "_response", None)
        if resp is None or resp.closed:
            return
        self._response = None
        # Close first: with warnings turned into errors the warning raises here.
        with contextlib.suppress(Exception):  # the event loop may already be closed
            resp.close()
        warnings.warn(
            f"unclosed {self._endpoint.name} stream was garbage-collected and closed; "
            "use 'async with' or aclose() to stop a stream early",
            ResourceWarning,
            stacklevel=2,
        )

    async def _start(self) -> None:
        """Open the request through the core's attempt policy, until the first message arrives.

        An attempt is the request plus the read of the first message, so a
        failure before it ("model loading" as the first chunk's status, a
        dropped connection) is retried like a unary call; after it, never.
        """
        import anyio  # on first use: keeps ``import aioclarifai`` cheap

        self._state = _OPEN
        endpoint = self._endpoint
        try:
            # aclose() from another task cancels this scope: the start stops where it is.
            with anyio.CancelScope() as scope:
                self._starting = scope
                first = await self._core.run(
                    endpoint, self._built, self._attempt, idempotent=endpoint.idempotent,
                    retry=self._core.retry, total=None,
                )  # fmt: skip
        except ClarifaiError:
            closed_meanwhile = self._state == _DONE
            self._finish()
            if closed_meanwhile:
                return  # aclose() cut the connection under the first read
            raise
        except BaseException:
            self._finish()
            raise
        finally:
            self._starting = None
        if scope.cancelled_caught or self._state == _DONE:
            self._finish()
        elif first is None:
            self._finish()  # an empty stream
        else:
            self._ready = [first]
            self._ready_at = 0

    async def _attempt(
        self, deadline: float | None, headers: Mapping[str, str] | None
    ) -> tuple[T | None, int]:
        """One try: open the request and read the first message (None: an empty stream)."""
        self._splitter = LineSplitter(self._max_line, self._endpoint.name)
        self._lines = _NO_LINES
        resp = self._response = await self._core.open_stream(self._endpoint, self._built, headers)
        self._http_status, self._headers = resp.status, resp.headers
        try:
            return await self._first_message(), resp.status
        except BaseException:
            self._drop_response()
            raise

    @property
    def http_status(self) -> int:
        """The HTTP status of the answer that opened the stream (0 until it started)."""
        return self._http_status

    @property
    def headers(self) -> Mapping[str, str]:
        """The headers of the answer that opened the stream (empty until it started)."""
        return self._headers

    # -- iteration -------------------------------------------------------------------

    def __aiter__(self) -> ResponseStream[T]:
        return self

    async def __anext__(self) -> T:
        # The hot path: messages already decoded and checked, handed out in order.
        i = self._ready_at
        ready = self._ready
        if i < len(ready):
            self._ready_at = i + 1
            return ready[i]  # type: ignore[no-any-return]
        return await self._next_slow()

    async def _next_slow(self) -> T:
        if self._state != _OPEN:
            if self._state == _DONE:
                raise StopAsyncIteration
            await self._start()
            return await self.__anext__()
        pos = self._pos
        lines = self._lines
        if pos >= len(lines):  # only then await: the lines of one chunk cost no read
            try:
                lines = await self._read_lines()
            except BaseException as exc:
                closed_meanwhile = self._state == _DONE
                self._finish()
                if closed_meanwhile and isinstance(exc, ClarifaiError):
                    # aclose() from elsewhere cut the connection under this read.
                    raise StopAsyncIteration from None
                raise
            if not lines:
                self._finish()
                raise StopAsyncIteration
            pos = 0
        try:
            ready = self._decode_group(lines, pos)
            if ready:
                self._pos = pos + len(ready)
                self._ready = ready
                self._ready_at = 1
                return ready[0]  # type: ignore[no-any-return]
            # The line at ``pos`` is not a plain success: an error frame, a failed
            # status, a bare message, an enum by name. Read it alone.
            self._pos = pos + 1
            return self._decode_line(lines[pos])
        except BaseException as exc:
            self._finish()
            if isinstance(exc, ClarifaiError):
                self._core.redact(exc)  # a chunk's status or error frame may echo the PAT
            raise

    async def _first_message(self) -> T | None:
        lines = await self._read_lines()
        if not lines:
            return None
        self._pos = 1
        return self._decode_line(lines[0])

    async def _read_lines(self) -> Sequence[bytes | bytearray]:
        """Read until at least one line is complete; empty at the end of the body."""
        resp = self._response
        if resp is None:
            return _NO_LINES
        splitter = self._splitter
        name = self._endpoint.name
        while True:
            chunk = await resp.read_chunk(name)
            lines = splitter.feed(chunk) if chunk else splitter.flush()
            if lines or not chunk:
                self._lines = lines
                self._pos = 0
                return lines

    def _decode_group(self, lines: Sequence[bytes | bytearray], pos: int) -> list[Any]:
        """The plain successful messages at the start of the next few lines from ``pos``.

        A small group, not the whole chunk, so a burst of lines never holds
        more than a few decoded messages at once, decoded in one call. The
        list stops before the first line that needs a closer look (empty when
        that is the line at ``pos``), so messages are still handed out in
        order and a failure is raised when its line is reached.
        """
        group = lines[pos : pos + _GROUP]
        try:
            if len(group) == 1:
                frames: Sequence[Any] = (self._decoder.decode(group[0]),)
            else:
                frames = self._batch_decoder.decode(b"[" + b",".join(group) + b"]")
        except (msgspec.DecodeError, RecursionError):  # not JSON, or an enum by name: one by one
            return []
        ready: list[Any] = []
        check = self._has_status
        for frame in frames:
            message = frame.result
            if message is None:
                break
            if check:
                status = message.status
                if status is not None and status.code not in _SUCCESS_CODES:
                    break
            ready.append(message)
        return ready

    # -- decoding --------------------------------------------------------------------

    def _decode_line(self, line: bytes | bytearray) -> T:
        message: T | None
        try:
            message = self._decoder.decode(line).result
        except (msgspec.DecodeError, RecursionError):  # also ValidationError: enums by name
            message = None
        if message is None:
            message = self._decode_other(line)
        return self._checked(message)

    def _checked(self, message: T) -> T:
        """``message``, unless its status says it failed (then its typed error)."""
        if self._has_status:
            status = message.status  # type: ignore[attr-defined]
            if status is not None and status.code not in _SUCCESS_CODES:
                resp = self._response
                raise APIStatusError.from_status(
                    status,
                    http_status=resp.status if resp is not None else 200,
                    operation=self._endpoint.name,
                    response=message,
                )
        return message

    def _decode_other(self, line: bytes | bytearray) -> T:
        """The general path: error frames, bare messages, enums or error codes sent by name."""
        try:
            raw = msgspec.json.decode(line)
        except (msgspec.DecodeError, RecursionError) as exc:
            raise self._unreadable(line, exc) from None
        inner = raw
        if isinstance(raw, dict):
            err = raw.get("error")
            if err is not None:
                raise self._stream_error(*_error_frame(err))
            result = raw.get("result")
            if result is not None:
                inner = result
            elif _is_bare_status(raw):
                raise self._stream_error(*_error_frame(raw))
        try:
            return _decode.convert(self._type, inner)
        except (msgspec.ValidationError, RecursionError) as exc:
            raise self._unreadable(line, exc) from None

    def _stream_error(self, code: int, message: str, details: Any) -> StreamError:
        name = self._endpoint.name
        code_name = _GRPC_CODE_NAMES[code] if 0 <= code < len(_GRPC_CODE_NAMES) else "UNKNOWN"
        error = StreamError(
            f"{name}: the stream failed: {message or '(no message)'} (gRPC {code} {code_name})",
            grpc_code=code,
            operation=name,
            details=details,
        )
        error.grpc_message = message  # what the frame said, without our prefix
        return error

    def _unreadable(self, line: bytes | bytearray, exc: Exception) -> StreamError:
        name = self._endpoint.name
        # Never cut inside a word: a PAT cut in half would escape the redaction that follows.
        cut = 120 + len(_WORD.match(line, 120, 376).group())  # type: ignore[union-attr]
        excerpt = line[:cut].decode("utf-8", "replace").strip()
        more = "…" if len(line) > cut else ""
        return StreamError(
            f"{name}: unreadable stream line ({exc}): {excerpt}{more}", operation=name
        )


#: gRPC's code for errors that say none (``UNKNOWN``).
_UNKNOWN = 2


def _error_frame(err: Any) -> tuple[int, str, Any]:
    """(gRPC code, message, details) of an error frame's ``error``, whatever its shape.

    Seen: grpc-gateway's ``{"code", "message", "details"}``, its older
    ``{"grpc_code", "http_code", "message", "http_status"}``, a bare string,
    and anything else (kept whole as the message, never dropped).
    """
    if isinstance(err, str):
        return _UNKNOWN, err, None
    if not isinstance(err, dict):
        return _UNKNOWN, msgspec.json.encode(err).decode(), None
    raw_code = err.get("code")
    if raw_code is None or raw_code == 0:
        raw_code = err.get("grpc_code")
    code = _grpc_code(raw_code)
    message = err.get("message") or err.get("error") or err.get("description") or ""
    if not isinstance(message, str):
        message = msgspec.json.encode(message).decode()
    if not message:
        http = err.get("http_status") or err.get("http_code")
        message = f"HTTP {http}" if http else msgspec.json.encode(err).decode()
    return code, message, err.get("details")


def _grpc_code(raw: Any) -> int:
    """A gRPC code from a number, a numeric string or a name; UNKNOWN when it says OK or nothing."""
    if isinstance(raw, str):
        raw = _GRPC_CODE_NAMES.index(raw) if raw in _GRPC_CODE_NAMES else raw.strip()
        raw = int(raw) if isinstance(raw, str) and raw.isdigit() else raw
    if isinstance(raw, bool) or not isinstance(raw, int) or raw == 0:
        return _UNKNOWN  # an error frame is never OK
    return raw


def _is_bare_status(raw: dict[str, Any]) -> bool:
    """A grpc-gateway error object sent without the ``{"error": …}`` wrapper."""
    return (
        "message" in raw
        and ("code" in raw or "grpc_code" in raw)
        and not raw.keys() - {"code", "grpc_code", "http_code", "http_status", "message", "details"}
    )
