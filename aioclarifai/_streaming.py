"""Server streams: newline-delimited JSON → an async iterator of typed messages.

Each line is ``{"result": <message>}``, ``{"error": {"code", "message", "details"}}``
(grpc-gateway framing) or a bare message. The whole lines of each network
read are decoded in one call (``msgspec``'s ``decode_lines``) into typed
``result`` frames; a read holding any other line (an error frame, a bare
message, a failed status, an enum sent by name) is taken line by line
instead, so messages before the odd line come out first and it is met in its
turn. Lines are split here, not with ``readline()``, so a line can be any
length and break anywhere across network chunks; CRLF, blank lines and a
missing final newline are fine. Splitting is linear in the body's size and
holds at most one partial line, so memory stays flat however long the
stream runs: at most one read's messages are held.

Before the first message arrives, failures are retried like unary calls
(a non-2xx answer, a connection failure, "model loading" as the first chunk's
status); after it, never. Leaving ``async with`` early, an exception, a failed
chunk, ``aclose()`` or task cancellation closes the response at once, and the
half-read connection is dropped, not pooled, so the server sees the disconnect.

A plain ``async for`` (without ``async with``) closes the stream when the loop
runs to its end or the stream raises; a ``break`` out of it leaves the stream
open until it is garbage-collected, which closes it and warns with a
``ResourceWarning``. Use ``async with`` (or ``aclose()``) to stop early.
``async for batch in stream.batches()`` (a list per read, the fastest way to
read a busy stream) closes the stream however its loop is left.
"""

from __future__ import annotations

import contextlib
import functools
import re
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
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

__all__ = ["LineSplitter", "ResponseStream", "split_lines"]

T = TypeVar("T")

_SUCCESS_CODES = frozenset({0, 10000, 10010})
_GRPC_CODE_NAMES = (
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
)  # fmt: skip
_WORD = re.compile(rb"[A-Za-z0-9_.~+/=-]*")
# ResponseStream._state: not started → open → done (done is final).
_NEW, _OPEN, _DONE = 0, 1, 2
_DONE_ITER: Iterator[Any] = iter(())  # exhausted, so it stays so: shared


#: Bytes of lines decoded in one call: a larger read is decoded in pieces, so few
#: decoded messages are alive at once and the garbage collector never sees them
#: grow old (holding a whole 256 KiB read decoded costs more in collections
#: than decoding it).
_PIECE = 16384


class LineSplitter:
    """Cuts a byte stream into pieces of whole lines in linear time; holds at most one partial line.

    :meth:`feed` returns the complete lines a chunk finishes as pieces of
    about ``piece`` bytes (newlines included), each ready for ``msgspec``'s
    ``decode_lines``: no per-line slicing on the common path. A chunk is
    searched backwards for its last newline, and forwards only at piece
    boundaries; a byte is copied at most once (none when a chunk is one
    whole piece). Pieces may hold blank lines and trailing whitespace (the
    ``\r`` of CRLF): JSON decoders skip them. A line longer than
    ``max_line`` raises :class:`ResponseTooLargeError` and frees what was
    held of it.
    """

    __slots__ = ("_max", "_operation", "_partial", "_piece")

    def __init__(
        self, max_line: int = DEFAULT_MAX_LINE_BYTES, operation: str = "", piece: int = _PIECE
    ) -> None:
        self._partial = bytearray()
        self._max = max_line
        self._operation = operation
        self._piece = piece

    @property
    def pending(self) -> int:
        """Bytes of the incomplete last line held so far."""
        return len(self._partial)

    def feed(self, chunk: bytes) -> list[bytes | bytearray]:
        """The lines that ``chunk`` completes, in pieces (none when it completes no line)."""
        last = chunk.rfind(b"\n")
        partial = self._partial
        if last < 0:
            partial += chunk  # amortised O(len(chunk)): no re-scan of what is held
            if len(partial) > self._max:
                self._too_long(len(partial))
            return []
        end = last + 1
        size = self._piece
        pieces: list[bytes | bytearray] = []
        start = 0
        if partial:
            # The held line's end, and whole lines after it up to a piece's size.
            start = chunk.find(b"\n", max(0, size - len(partial))) + 1 or end
            partial += memoryview(chunk)[:start]
            pieces.append(partial)
            self._partial = bytearray()
        while start < end:
            cut = chunk.find(b"\n", start + size, end) + 1 or end
            pieces.append(chunk if cut - start == len(chunk) else chunk[start:cut])
            start = cut
        if end < len(chunk):
            self._partial += memoryview(chunk)[end:]
            if len(self._partial) > self._max:
                self._too_long(len(self._partial))
        for piece in pieces:
            if len(piece) > self._max:  # only then can one of its lines be too long
                longest = max(map(len, piece.split(b"\n")))
                if longest > self._max:
                    self._too_long(longest)
        return pieces

    def flush(self) -> list[bytes | bytearray]:
        """The last line when the body did not end with a newline (else nothing)."""
        rest, self._partial = self._partial, bytearray()
        return [rest] if rest else []

    def _too_long(self, seen: int) -> NoReturn:
        self._partial = bytearray()  # free it now, not when the stream is collected
        raise ResponseTooLargeError("stream line", self._max, operation=self._operation, seen=seen)


def split_lines(block: bytes | bytearray) -> list[bytes | bytearray]:
    """The non-blank lines of a block (the rare path: lines read one by one)."""
    return [line for line in block.split(b"\n") if line and not line.isspace()]


@functools.cache
def _frame_decoder(cls: type[Any]) -> msgspec.json.Decoder[Any]:
    """A cached typed decoder of ``{"result": cls}`` lines, the usual framing.

    Anything else (an error frame, a bare message, an enum sent by name)
    leaves ``result`` unset or fails validation and takes the general path.
    """
    frame = msgspec.defstruct(f"{cls.__name__}Frame", [("result", cls | None, None)], gc=False)
    return msgspec.json.Decoder(frame, strict=False)


@functools.cache
def _block_decoder(cls: Any) -> msgspec.json.Decoder[Any]:
    """Decodes a block of ``{"result": cls}`` lines in one call (``decode_lines``).

    ``result`` is required here: any other line (an error frame, a bare
    message) fails the whole block, which is then read line by line.
    """
    frame = msgspec.defstruct(f"{cls.__name__}Line", [("result", cls)], gc=False)
    return msgspec.json.Decoder(frame, strict=False)


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

    ``async for batch in stream.batches()`` hands out the same messages a
    list at a time: what one network read completed (see :meth:`batches`).

    A chunk whose ``status`` is not a success raises its typed
    :class:`APIStatusError`; an ``{"error": …}`` frame raises :class:`StreamError`.
    """

    __slots__ = (
        "_block_decoder",
        "_built",
        "_core",
        "_decoder",
        "_endpoint",
        "_has_status",
        "_headers",
        "_http_status",
        "_it",
        "_lines",
        "_max_line",
        "_next",
        "_pieces",
        "_pos",
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
        self._block_decoder = _block_decoder(rtype)
        # The decoded, checked messages of the latest read not yet handed out.
        self._it: Iterator[T] = _DONE_ITER
        self._next: Callable[[], T] = _DONE_ITER.__next__
        self._has_status = "status" in rtype.__struct_fields__
        self._max_line = getattr(core, "max_line_bytes", DEFAULT_MAX_LINE_BYTES)
        self._splitter = LineSplitter(self._max_line, endpoint.name)
        # The pieces of the latest read not decoded yet, last first.
        self._pieces: list[bytes | bytearray] = []
        # Lines of a read that are taken one by one (one of them needed a closer look).
        self._lines: list[bytes | bytearray] = []
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
        self._it = _DONE_ITER
        self._next = _DONE_ITER.__next__
        self._lines = []
        self._pieces = []
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
        if scope.cancelled_caught or self._state == _DONE or not first:
            self._finish()  # closed meanwhile, or an empty stream
        else:
            self._it = it = iter(first)
            self._next = it.__next__

    async def _attempt(
        self, deadline: float | None, headers: Mapping[str, str] | None
    ) -> tuple[list[T], int]:
        """One try: open the request and read up to the first message (none: an empty stream).

        What the first read completed comes back whole; only its first line
        decides the attempt (a failure after it is met in its turn, never retried).
        """
        self._splitter = LineSplitter(self._max_line, self._endpoint.name)
        self._lines = []
        self._pieces = []
        resp = self._response = await self._core.open_stream(self._endpoint, self._built, headers)
        self._http_status, self._headers = resp.status, resp.headers
        try:
            return await self._read_messages(), resp.status
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
        try:
            return self._next()
        except StopIteration:
            pass
        if await self._fill():
            return self._next()
        raise StopAsyncIteration

    def batches(self) -> AsyncIterator[list[T]]:
        """Iterate lists of messages: ``async for batch in stream.batches()``.

        Each list holds the messages that one network read completed (at
        least one), in order, typed and checked exactly as plain iteration
        would hand them out, and is the caller's to keep: it saves the
        per-message ``await`` of ``async for``. Messages before an error frame
        or a failed chunk status come out first; the next step raises. Lines
        are capped by ``max_line_bytes`` as always.

        The loop takes the rest of the stream: it ends when the stream does,
        and leaving it in any way (``break``, an exception, cancellation)
        closes the stream and drops its connection, ``async with`` or not.
        Messages already decoded but not yet handed out by a plain ``async
        for`` come first.
        """
        return _Batches(self)

    async def next_batch(self) -> list[T]:
        """The next messages as a list, as one step of :meth:`batches` (empty: the stream ended).

        For code that pulls rather than loops (the stream starts on the
        first call). Unlike :meth:`batches` it leaves the stream open when
        you stop calling it: close it with ``async with`` or :meth:`aclose`.
        """
        batch = list(self._it)  # first what plain iteration left of the latest read
        if batch or not await self._fill():
            return batch
        return list(self._it)

    async def _fill(self) -> bool:
        """Once ``_it`` is exhausted: read the next messages into it (False: the stream ended)."""
        state = self._state
        if state != _OPEN:
            if state == _NEW:
                await self._start()
                return self._state == _OPEN  # else closed meanwhile, or empty
            return False
        self._it = _DONE_ITER  # the batch handed out is not kept while we wait
        self._next = _DONE_ITER.__next__
        try:
            ready = await self._read_messages()
        except BaseException as exc:
            closed_meanwhile = self._state == _DONE
            self._finish()
            if isinstance(exc, ClarifaiError):
                if closed_meanwhile:
                    return False  # aclose() from elsewhere cut the connection under this read
                self._core.redact(exc)  # a chunk's status or error frame may echo the PAT
            raise
        if not ready:
            self._finish()
            return False
        self._it = it = iter(ready)
        self._next = it.__next__
        return True

    async def _read_messages(self) -> list[T]:
        """The next messages, read until there is one: empty at the end of the body."""
        while True:
            if self._pos < len(self._lines):
                return self._take_lines()
            if self._pieces:
                ready = self._decode_piece(self._pieces.pop())
                if ready:
                    return ready
                continue
            resp = self._response
            if resp is None:
                return []
            chunk = await resp.read_chunk(self._endpoint.name)
            pieces = self._splitter.feed(chunk) if chunk else self._splitter.flush()
            if not chunk and not pieces:
                return []
            pieces.reverse()  # popped from the end
            self._pieces = pieces

    def _decode_piece(self, piece: bytes | bytearray) -> list[T]:
        """The messages of ``piece`` when all are plain successes; else it is read line by line."""
        try:
            # The usual case: a piece in one call, no per-line Python work.
            ready: list[T] = [f.result for f in self._block_decoder.decode_lines(piece)]
        except (msgspec.DecodeError, RecursionError):  # also ValidationError
            return self._read_one_by_one(piece)
        if self._has_status:
            try:
                succeeded = {m.status.code for m in ready} <= _SUCCESS_CODES  # type: ignore[attr-defined]
            except AttributeError:  # a message without a status
                succeeded = _all_succeeded(ready)
            if not succeeded:
                return self._read_one_by_one(piece)
        return ready

    def _read_one_by_one(self, piece: bytes | bytearray) -> list[T]:
        """Take ``piece`` line by line (one of its lines is not a plain success)."""
        self._lines = split_lines(piece)
        self._pos = 0
        return []

    def _take_lines(self) -> list[T]:
        """The plain successes from the next line on, or the next line alone.

        A plain success is a ``result`` frame whose status (if any) says so.
        The list stops before the first line that needs a closer look, so
        messages are still handed out in order; that line is then decoded on
        its own, by the general path, which raises its error if it has one.
        """
        lines, pos = self._lines, self._pos
        decode = self._decoder.decode
        check = self._has_status
        ready: list[Any] = []
        while pos < len(lines):
            try:
                message = decode(lines[pos]).result
            except (msgspec.DecodeError, RecursionError):
                message = None
            if message is None or (check and not _succeeded(message)):
                if ready:
                    break
                self._pos = pos + 1
                return [self._decode_line(lines[pos])]
            ready.append(message)
            pos += 1
        self._pos = pos
        if pos >= len(lines):
            self._lines = []
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


class _Batches(AsyncIterator[list[T]]):
    """:meth:`ResponseStream.batches`: what each read completed, a list at a time."""

    __slots__ = ("_stream",)

    def __init__(self, stream: ResponseStream[T]) -> None:
        self._stream = stream

    async def __anext__(self) -> list[T]:
        batch = await self._stream.next_batch()
        if not batch:
            raise StopAsyncIteration
        return batch

    def __del__(self) -> None:
        # The loop is over (ended, left by break, an exception or cancellation,
        # which drops this iterator): the stream ends with it, at once.
        with contextlib.suppress(Exception):  # the event loop may already be closed
            self._stream.close()


def _succeeded(message: Any) -> bool:
    """Whether a message's ``status`` (None: absent) is a success."""
    status = message.status
    return status is None or status.code in _SUCCESS_CODES


def _all_succeeded(messages: list[Any]) -> bool:
    """Whether every message's ``status`` is a success or absent (one loop, no calls)."""
    for message in messages:
        status = message.status
        if status is not None and status.code not in _SUCCESS_CODES:
            return False
    return True


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
