"""Large uploads in parts: PostUploads, PutUploadContentParts per part, GetUpload until done.

``await client.upload(source)`` creates the upload with its ``content_length``,
sends parts of ``part_size`` bytes (1-based ``part_number``, ``range_start``
byte offset, base64 data) with at most ``concurrency`` in flight, retries each
part on its own, and polls GetUpload until the upload is done (68001) or
failed (68002-68006, raised as :class:`UploadError`).

Memory is bounded by the parts in flight: a part is read — from the file, the
bytes or the async iterator — only when one of the ``concurrency`` slots is
free, never the whole source. Each in-flight part is held as raw bytes and as
its base64 JSON body (plus whatever copies the HTTP layer makes while sending).

PutUploadContentParts appends, so the core would not retry it after a body
was sent; a part *is* idempotent by its number, though, so each part is sent
through the core's attempt policy as idempotent, with ``part_retries``
retries. :func:`resume_upload` continues an interrupted upload by its id:
the API does not say which parts it holds, only how far along it is
(``percent_completed``), so unless everything arrived every part is sent again.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import msgspec

from ._config import RetryConfig
from ._errors import APIStatusError, ClarifaiError, code_name
from ._generated.endpoints import GET_UPLOAD, POST_UPLOADS, PUT_UPLOAD_CONTENT_PARTS
from .types import (
    GetUploadRequest,
    PostUploadsRequest,
    PutUploadContentPartsRequest,
    Upload,
    UploadContentPart,
)

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from ._core import Core

__all__ = [
    "DEFAULT_PART_SIZE",
    "UPLOAD_DONE",
    "UPLOAD_FAILURE_STATES",
    "UPLOAD_IN_PROGRESS",
    "Progress",
    "Source",
    "UploadError",
    "resume_upload",
    "upload",
]

#: Default part size: 8 MiB (Clarifai's own SDK sends parts of 5-50 MB).
DEFAULT_PART_SIZE = 8 * 1024 * 1024
UPLOAD_IN_PROGRESS = 68000
UPLOAD_DONE = 68001
#: Failed, unexpected error, expired, canceled, conflict.
UPLOAD_FAILURE_STATES = frozenset(range(68002, 68007))
_UPLOAD_STATES = range(UPLOAD_IN_PROGRESS, 68007)
_encoder = msgspec.json.Encoder()

Source = bytes | bytearray | memoryview | str | os.PathLike[str] | AsyncIterable[bytes]
"""Bytes, a file path, or an async iterator of bytes (then ``content_length`` is required)."""
Progress = Callable[[int, int], Any]
"""``progress(sent_bytes, total_bytes)``, a plain or an async callable."""


class UploadError(ClarifaiError):
    """An upload ended in a failure state, or was not done before the timeout.

    ``state`` is the upload's status code: 68002 failed, 68003 unexpected
    error, 68004 expired, 68005 canceled, 68006 conflict — or 68000 (still in
    progress) when polling gave up; such an upload can be continued with
    :func:`resume_upload`. ``upload`` is the last :class:`types.Upload` seen.
    """

    def __init__(
        self, message: str, *, upload_id: str, state: int, upload: Upload | None = None
    ) -> None:
        super().__init__(message)
        self.upload_id = upload_id
        self.state = state
        self.state_name = code_name(state)
        self.upload = upload


# -- sources ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Part:
    number: int
    offset: int
    data: bytes


class _Parts:
    """A source cut into parts, read one part at a time on demand."""

    def __init__(self, source: Source, content_length: int | None, part_size: int) -> None:
        self.part_size = part_size
        self._bytes: memoryview | None = None
        self._path: str | None = None
        self._stream: AsyncIterable[bytes] | None = None
        if isinstance(source, bytes | bytearray | memoryview):
            # A flat byte view: slicing it copies nothing until a part is taken.
            self._bytes = memoryview(source).cast("B")
            self.total = self._bytes.nbytes
            self.name = ""
        elif isinstance(source, str | os.PathLike):
            self._path = os.fspath(source)
            self.total = os.stat(self._path).st_size
            self.name = os.path.basename(self._path)
        elif isinstance(source, AsyncIterable):
            if content_length is None:
                raise ValueError("an async iterator source needs content_length=<total bytes>")
            self._stream = source
            self.total = content_length
            self.name = ""
        else:
            raise TypeError(
                f"upload source must be bytes, a path or an async iterator of bytes, "
                f"not {type(source).__name__}"
            )
        if content_length is not None and content_length != self.total:
            raise ValueError(
                f"content_length={content_length} but the source has {self.total} bytes"
            )
        if self.total <= 0:
            raise ValueError("nothing to upload: the source is empty")

    @property
    def count(self) -> int:
        """How many parts the source makes."""
        return -(-self.total // self.part_size)

    def size_of(self, number: int) -> int:
        """The length of part ``number`` (1-based)."""
        return min(self.part_size, self.total - (number - 1) * self.part_size)

    def parts(self) -> AsyncGenerator[_Part, None]:
        """Every part in order; each is read only when asked for."""
        if self._stream is not None:
            return self._rechunk(self._stream)
        return self._slices()

    async def _slices(self) -> AsyncGenerator[_Part, None]:
        for number in range(1, self.count + 1):
            offset = (number - 1) * self.part_size
            size = self.size_of(number)
            if self._bytes is not None:
                data = bytes(self._bytes[offset : offset + size])
            else:
                assert self._path is not None
                # A thread keeps a slow disk from stalling the event loop.
                data = await asyncio.to_thread(_read_range, self._path, offset, size)
            yield _Part(number, offset, data)

    async def _rechunk(self, stream: AsyncIterable[bytes]) -> AsyncGenerator[_Part, None]:
        buffer = bytearray()
        number = 1
        received = 0
        async for chunk in stream:
            received += len(chunk)
            if received > self.total:
                raise ValueError(f"the source yielded more than content_length={self.total} bytes")
            buffer += chunk
            while len(buffer) >= self.part_size:
                yield _Part(number, (number - 1) * self.part_size, bytes(buffer[: self.part_size]))
                del buffer[: self.part_size]
                number += 1
        if received != self.total:
            raise ValueError(f"the source yielded {received} bytes but content_length={self.total}")
        if buffer:
            yield _Part(number, (number - 1) * self.part_size, bytes(buffer))


def _read_range(path: str, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(size)
    if len(data) != size:
        raise ValueError(f"{path} changed while it was being uploaded (short read at {offset})")
    return data


# -- the upload ------------------------------------------------------------------


async def upload(
    core: Core,
    source: Source,
    *,
    content_name: str | None = None,
    content_length: int | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    concurrency: int = 4,
    progress: Progress | None = None,
    on_created: Callable[[Upload], Any] | None = None,
    part_retries: int = 3,
    poll_interval: float = 0.5,
    timeout: float | None = 600.0,  # noqa: ASYNC109 - how long to poll, a public option
) -> Upload:
    """Upload ``source`` in parts and return the finished :class:`types.Upload`.

    ``source``: bytes, a file path, or an async iterator of bytes (then
    ``content_length`` is required). ``content_name`` defaults to the file's
    name. ``part_size`` bytes per part, ``concurrency`` parts in flight,
    ``part_retries`` retries per part after the first attempt.
    ``progress(sent, total)`` after each part (plain or async).
    ``on_created(upload)`` right after the upload is created — keep
    ``upload.id`` to :func:`resume_upload` if this call is interrupted.
    ``poll_interval`` / ``timeout``: seconds between GetUpload polls and the
    longest wait for the server to finish (None: no limit).

    Raises :class:`UploadError` when the upload fails or is not done in time.
    """
    _check_options(part_size, concurrency, part_retries, poll_interval)
    parts = _Parts(source, content_length, part_size)
    name = content_name if content_name is not None else parts.name
    created = await core.call(
        POST_UPLOADS,
        PostUploadsRequest(uploads=[Upload(content_name=name, content_length=parts.total)]),
    )
    if not created.uploads or not created.uploads[0].id:
        raise UploadError("PostUploads returned no upload", upload_id="", state=0)
    new = created.uploads[0]
    if on_created is not None:
        await _maybe_await(on_created(new))
    last = await _send(
        core, new.id, parts, concurrency=concurrency, retries=part_retries, progress=progress
    )
    return await _wait_done(core, new.id, last, poll_interval=poll_interval, timeout=timeout)


async def resume_upload(
    core: Core,
    upload_id: str,
    source: Source,
    *,
    content_length: int | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    concurrency: int = 4,
    progress: Progress | None = None,
    part_retries: int = 3,
    poll_interval: float = 0.5,
    timeout: float | None = 600.0,  # noqa: ASYNC109 - how long to poll, a public option
) -> Upload:
    """Finish an interrupted upload: send what the server may lack, then wait for it.

    ``source`` must hold the same bytes as the first attempt, and ``part_size``
    must match it (parts are identified by number). Already done: returned at
    once; failed: :class:`UploadError`. The API reports only
    ``percent_completed``, so unless it says 100 every part is sent again —
    parts are idempotent by number. Other arguments as for :func:`upload`.
    """
    _check_options(part_size, concurrency, part_retries, poll_interval)
    state, current = await _get_upload(core, upload_id)
    if state == UPLOAD_DONE and current is not None:
        return current
    _raise_if_failed(upload_id, state, current)
    parts = _Parts(source, content_length, part_size)
    if current is not None and current.content_length not in (0, parts.total):
        raise ValueError(
            f"upload {upload_id} expects {current.content_length} bytes; "
            f"the source has {parts.total}"
        )
    status = current.status if current is not None else None
    if status is not None and status.percent_completed >= 100:
        last = None  # every byte arrived; the server is still finishing
    else:
        last = await _send(
            core, upload_id, parts, concurrency=concurrency, retries=part_retries,
            progress=progress,
        )  # fmt: skip
    return await _wait_done(
        core, upload_id, last or current, poll_interval=poll_interval, timeout=timeout
    )


def _check_options(
    part_size: int, concurrency: int, part_retries: int, poll_interval: float
) -> None:
    if part_size < 1:
        raise ValueError(f"part_size must be >= 1, not {part_size}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, not {concurrency}")
    if part_retries < 0:
        raise ValueError(f"part_retries must be >= 0, not {part_retries}")
    if poll_interval < 0:
        raise ValueError(f"poll_interval must be >= 0, not {poll_interval}")


async def _send(
    core: Core,
    upload_id: str,
    parts: _Parts,
    *,
    concurrency: int,
    retries: int,
    progress: Progress | None,
) -> Upload | None:
    """Send every part with at most ``concurrency`` in flight; the last Upload seen.

    The part workers live in a task group owned by this call: the first failure
    (of a part, or of reading the source) cancels the rest and is raised once
    they have all stopped; cancelling the upload cancels them too.
    """
    import anyio  # on first use: keeps ``import aioclarifai`` cheap

    retry = replace(core.retry, max_retries=retries)
    slots = anyio.Semaphore(concurrency)
    failures: list[Exception] = []
    sent = 0
    last: Upload | None = None

    async def send_one(part: _Part, group: TaskGroup) -> None:
        nonlocal sent, last
        try:
            answer = await _put_part(core, upload_id, part, retry)
            sent += len(part.data)
            last = answer if answer is not None else last
            if progress is not None:
                await _maybe_await(progress(sent, parts.total))
        except Exception as exc:  # the first failure stops the upload (no exception groups)
            failures.append(exc)
            group.cancel_scope.cancel()
        finally:
            slots.release()

    source = parts.parts()
    try:
        async with anyio.create_task_group() as group:
            try:
                while True:
                    # Take a slot before reading, so at most ``concurrency`` parts exist
                    # (without a checkpoint while one is free: parts start together).
                    try:
                        slots.acquire_nowait()
                    except anyio.WouldBlock:
                        await slots.acquire()
                    try:
                        part = await source.__anext__()
                    except StopAsyncIteration:
                        break
                    group.start_soon(send_one, part, group)
            except Exception as exc:  # reading the source failed
                failures.append(exc)
                group.cancel_scope.cancel()
    finally:
        await source.aclose()
    if failures:
        raise failures[0]
    return last


async def _put_part(core: Core, upload_id: str, part: _Part, retry: RetryConfig) -> Upload | None:
    # The part's bytes are base64-encoded while they are sent, so a part in
    # flight costs its raw bytes only, not a whole encoded JSON copy.
    request = PutUploadContentPartsRequest(
        upload_id=upload_id,
        content_parts=[UploadContentPart(range_start=part.offset, part_number=part.number)],
    )
    try:
        # PutUploadContentParts appends, but a part is idempotent by its number:
        # the core's policy may retry it even after its body was sent.
        response = await core.call(
            PUT_UPLOAD_CONTENT_PARTS, request, _PartBody(request, part.data),
            idempotent=True, retry=retry,
        )  # fmt: skip
    except APIStatusError as error:
        if error.code not in _UPLOAD_STATES:
            raise
        # The upload's state came as the answer's status: data, not a failure.
        upload = getattr(error.response, "upload", None)
        _raise_if_failed(upload_id, error.code, upload)
        return upload
    return response.upload


class _PartBody:
    """The JSON body of one part, its ``data`` field base64-encoded slice by slice."""

    _SLICE = 3 * (1 << 18)  # a multiple of 3: slices encode without padding in between

    def __init__(self, request: PutUploadContentPartsRequest, data: bytes) -> None:
        encoded = _encoder.encode(request.content_parts[0])  # {"range_start":…,"part_number":…}
        self._head = b'{"content_parts":[' + encoded[:-1] + b',"data":"'
        self._tail = b'"}]}'
        self._data = data
        size = len(self._head) + 4 * -(-len(data) // 3) + len(self._tail)
        self.headers = {"Content-Type": "application/json", "Content-Length": str(size)}

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body from the start; each call begins a new attempt."""
        yield self._head
        view = memoryview(self._data)
        for start in range(0, len(view), self._SLICE):
            yield base64.b64encode(view[start : start + self._SLICE])
        yield self._tail


# -- waiting for the server ----------------------------------------------------------


def _state(upload: Upload | None) -> int:
    return upload.status.code if upload is not None and upload.status is not None else 0


def _raise_if_failed(upload_id: str, state: int, upload: Upload | None) -> None:
    if state in UPLOAD_FAILURE_STATES:
        status = upload.status if upload is not None else None
        why = f": {status.description}" if status is not None and status.description else ""
        raise UploadError(
            f"upload {upload_id} ended in {state} {code_name(state)}{why}",
            upload_id=upload_id,
            state=state,
            upload=upload,
        )


async def _get_upload(core: Core, upload_id: str) -> tuple[int, Upload | None]:
    """GetUpload's state and Upload, whether the state came as data or as the answer's status."""
    try:
        response = await core.call(GET_UPLOAD, GetUploadRequest(upload_id=upload_id))
    except APIStatusError as error:
        if error.code not in _UPLOAD_STATES:
            raise
        return error.code, getattr(error.response, "upload", None)
    return _state(response.upload), response.upload


async def _wait_done(
    core: Core,
    upload_id: str,
    last: Upload | None,
    *,
    poll_interval: float,
    timeout: float | None,  # noqa: ASYNC109 - how long to poll
) -> Upload:
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    state, current = _state(last), last
    first = True
    while True:
        if state == UPLOAD_DONE and current is not None:
            return current
        _raise_if_failed(upload_id, state, current)
        if deadline is not None and loop.time() >= deadline:
            raise UploadError(
                f"upload {upload_id} was not done after {timeout:g}s (state {state})",
                upload_id=upload_id,
                state=state or UPLOAD_IN_PROGRESS,
                upload=current,
            )
        # Ask once right away: the server often finishes with the last part.
        if not first:
            await asyncio.sleep(poll_interval)
        first = False
        state, current = await _get_upload(core, upload_id)


async def _maybe_await(result: Awaitable[Any] | Any) -> None:
    if inspect.isawaitable(result):
        await result
