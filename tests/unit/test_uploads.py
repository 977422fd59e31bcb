"""Chunked uploads against a MockTransport serving the three upload operations (no sockets)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest

from aioclarifai import (
    APIConnectionError,
    BadRequestError,
    ServerError,
    UploadError,
    types,
)
from aioclarifai._core import Core
from aioclarifai._uploads import _Parts, resume_upload, upload
from aioclarifai.testing import MockRequest, MockResponse, MockTransport
from tests.helpers import core_for

OK = types.Status(code=10000)


class Uploads:
    """The upload operations' behaviour: parts stored by number, done when all bytes arrived."""

    def __init__(self) -> None:
        self.uploads: dict[str, types.Upload] = {}
        self.parts: dict[str, dict[int, tuple[int, bytes]]] = {}
        self.puts: list[tuple[int, int]] = []  # (part_number, range_start) per request
        self.gets = 0
        self.fail: dict[int, list[Exception]] = {}  # part number → errors to raise first
        self.final_state = 68001
        self.in_flight = 0
        self.max_in_flight = 0
        self.hold: asyncio.Event | None = None  # when set, PUTs wait on it
        self.held = 0
        self.held_more = asyncio.Event()
        self.done_after_gets = 0  # polls answered "in progress" before "done"

    async def handle(self, request: MockRequest) -> MockResponse:
        """Serve PostUploads, PutUploadContentParts and GetUpload as the API would."""
        path = request.url.split("/apps/app/", 1)[1]
        answer: types.MultiUploadResponse | types.SingleUploadResponse
        if request.operation == "PostUploads":
            answer = await self.post_uploads(request.json())
        elif request.operation == "PutUploadContentParts":
            # Parts arrive as a streamed JSON body: read it as the server would.
            assert len(request.content) == int(request.headers["Content-Length"])
            sent = msgspec.json.decode(request.content, type=types.PutUploadContentPartsRequest)
            upload_id = path.split("/")[1]
            answer = await self.put_upload_content_parts(upload_id, sent.content_parts)
        else:
            assert request.operation == "GetUpload" and request.method == "GET"
            answer = await self.get_upload(path.split("/")[1])
        return MockResponse(200, json=msgspec.to_builtins(answer))

    def content(self, upload_id: str) -> bytes:
        return b"".join(data for _, (_, data) in sorted(self.parts[upload_id].items()))

    def _received(self, upload_id: str) -> int:
        return sum(len(d) for _, d in self.parts[upload_id].values())

    def _view(self, upload_id: str, *, polled: bool = False) -> types.Upload:
        u = self.uploads[upload_id]
        total = u.content_length
        got = self._received(upload_id)
        # Complete once every byte arrived: at once, or after ``done_after_gets`` polls.
        finished = self.gets > self.done_after_gets if polled else self.done_after_gets == 0
        state = self.final_state if got == total and finished else 68000
        status = types.Status(code=state, percent_completed=got * 100 // total)
        return types.Upload(
            id=u.id, content_length=total, content_name=u.content_name, status=status
        )

    async def post_uploads(
        self, body: dict[str, list[dict[str, str]]]
    ) -> types.MultiUploadResponse:
        (u,) = msgspec.convert(body["uploads"], list[types.Upload])
        upload_id = f"up{len(self.uploads) + 1}"
        self.uploads[upload_id] = types.Upload(
            id=upload_id, content_name=u.content_name, content_length=u.content_length
        )
        self.parts[upload_id] = {}
        return types.MultiUploadResponse(status=OK, uploads=[self._view(upload_id)])

    async def put_upload_content_parts(
        self, upload_id: str, content_parts: list[types.UploadContentPart]
    ) -> types.SingleUploadResponse:
        (part,) = content_parts
        self.puts.append((part.part_number, part.range_start))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)
            if self.hold is not None:
                self.held += 1
                self.held_more.set()
                await self.hold.wait()
            errors = self.fail.get(part.part_number)
            if errors:
                raise errors.pop(0)
            self.parts[upload_id][part.part_number] = (part.range_start, part.data)
        finally:
            self.in_flight -= 1
        return types.SingleUploadResponse(status=OK, upload=self._view(upload_id))

    async def get_upload(self, upload_id: str) -> types.SingleUploadResponse:
        self.gets += 1
        return types.SingleUploadResponse(status=OK, upload=self._view(upload_id, polled=True))

    def core(self) -> Core:
        """A core whose requests this fake answers (retries without waiting)."""
        return core_for(MockTransport(self.handle))


def _data(n: int) -> bytes:
    return hashlib.shake_256(b"aioclarifai").digest(n)


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[i : i + size]


def _503() -> ServerError:
    return ServerError(code=0, http_status=503, operation="PutUploadContentParts")


# -- sources ------------------------------------------------------------------------


def test_parts_cut_sizes_and_count() -> None:
    parts = _Parts(_data(2500), None, 1000)
    assert (parts.total, parts.count) == (2500, 3)
    assert [parts.size_of(n) for n in (1, 2, 3)] == [1000, 1000, 500]


async def test_parts_of_bytes_bytearray_memoryview() -> None:
    data = _data(2500)
    for source in (data, bytearray(data), memoryview(data)):
        parts = [p async for p in _Parts(source, None, 1000).parts()]
        assert [(p.number, p.offset, len(p.data)) for p in parts] == [
            (1, 0, 1000),
            (2, 1000, 1000),
            (3, 2000, 500),
        ]
        assert b"".join(p.data for p in parts) == data
        assert all(type(p.data) is bytes for p in parts)


async def test_parts_of_a_file_read_one_at_a_time(tmp_path: Path) -> None:
    data = _data(2500)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    parts = _Parts(path, None, 1000)
    assert parts.name == "blob.bin"
    gen = parts.parts()
    first = await gen.__anext__()
    assert first.data == data[:1000]
    rest = [p async for p in gen]
    assert b"".join([first.data, *(p.data for p in rest)]) == data


async def test_parts_of_a_stream_rechunked() -> None:
    data = _data(2500)
    parts = [p async for p in _Parts(_chunks(data, 333), 2500, 1000).parts()]
    assert [(p.number, p.offset, len(p.data)) for p in parts] == [
        (1, 0, 1000),
        (2, 1000, 1000),
        (3, 2000, 500),
    ]
    assert b"".join(p.data for p in parts) == data


async def test_stream_length_must_match() -> None:
    with pytest.raises(ValueError, match="content_length"):
        _Parts(_chunks(b"abc", 1), None, 10)
    with pytest.raises(ValueError, match="yielded 3 bytes"):
        _ = [p async for p in _Parts(_chunks(b"abc", 1), 5, 10).parts()]
    with pytest.raises(ValueError, match="more than content_length=2"):
        _ = [p async for p in _Parts(_chunks(b"abc", 1), 2, 10).parts()]


def test_bad_sources() -> None:
    with pytest.raises(ValueError, match="empty"):
        _Parts(b"", None, 10)
    with pytest.raises(ValueError, match="content_length=3"):
        _Parts(b"ab", 3, 10)
    with pytest.raises(TypeError, match="int"):
        _Parts(cast(Any, 12), None, 10)


async def test_file_shrinking_during_upload_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(_data(2000))
    parts = _Parts(path, None, 1000)
    path.write_bytes(_data(1500))
    with pytest.raises(ValueError, match="changed"):
        _ = [p async for p in parts.parts()]


# -- upload -------------------------------------------------------------------------


async def test_upload_bytes_byte_exact() -> None:
    fake = Uploads()
    data = _data(10_000)
    done = await upload(fake.core(), data, content_name="a.bin", part_size=1024)
    assert done.status is not None and done.status.code == 68001
    assert fake.content(done.id) == data
    assert sorted(fake.puts) == [(n, (n - 1) * 1024) for n in range(1, 11)]
    assert fake.uploads[done.id].content_name == "a.bin"
    assert fake.uploads[done.id].content_length == 10_000


async def test_upload_path_names_the_content(tmp_path: Path) -> None:
    fake = Uploads()
    path = tmp_path / "model.zip"
    data = _data(5000)
    path.write_bytes(data)
    done = await upload(fake.core(), str(path), part_size=999)
    assert fake.content(done.id) == data
    assert fake.uploads[done.id].content_name == "model.zip"


async def test_upload_stream() -> None:
    fake = Uploads()
    data = _data(7777)
    done = await upload(fake.core(), _chunks(data, 100), content_length=7777, part_size=1000)
    assert fake.content(done.id) == data


async def test_concurrency_is_bounded() -> None:
    fake = Uploads()
    await upload(fake.core(), _data(20_000), part_size=1000, concurrency=3)
    assert fake.max_in_flight == 3
    fake = Uploads()
    await upload(fake.core(), _data(20_000), part_size=1000, concurrency=1)
    assert fake.max_in_flight == 1


async def test_source_read_only_as_slots_free_up() -> None:
    fake = Uploads()
    fake.hold = asyncio.Event()
    pulled = 0
    data = _data(10_000)

    async def source() -> AsyncIterator[bytes]:
        nonlocal pulled
        for i in range(0, len(data), 100):
            pulled += 100
            yield data[i : i + 100]

    task = asyncio.ensure_future(
        upload(fake.core(), source(), content_length=10_000, part_size=1000, concurrency=2)
    )
    await _held(fake, 2)
    for _ in range(10):
        await asyncio.sleep(0)
    # Two parts in flight and nothing read ahead of them.
    assert pulled == 2000
    fake.hold.set()
    done = await task
    assert fake.content(done.id) == data


async def test_a_part_failing_with_503_is_retried() -> None:
    fake = Uploads()
    fake.fail[2] = [_503(), APIConnectionError("reset", operation="PutUploadContentParts")]
    data = _data(3000)
    done = await upload(fake.core(), data, part_size=1000)
    assert fake.content(done.id) == data
    assert [n for n, _ in fake.puts].count(2) == 3


async def test_a_part_failing_too_often_fails_the_upload_and_stops_the_rest() -> None:
    fake = Uploads()
    fake.fail[1] = [_503() for _ in range(10)]
    with pytest.raises(ServerError):
        await upload(fake.core(), _data(10_000), part_size=1000, part_retries=1, concurrency=2)
    assert [n for n, _ in fake.puts].count(1) == 2
    assert fake.in_flight == 0
    assert len(fake.puts) < 12  # stopped early, not all ten parts
    assert _other_tasks() == set()


async def test_a_bad_request_is_not_retried() -> None:
    fake = Uploads()
    fake.fail[1] = [BadRequestError(code=11102, http_status=400)]
    with pytest.raises(BadRequestError):
        await upload(fake.core(), _data(1000), part_size=1000)
    assert len(fake.puts) == 1


@pytest.mark.parametrize("state", [68002, 68003, 68004, 68005, 68006])
async def test_failure_state_is_a_typed_error(state: int) -> None:
    fake = Uploads()
    fake.final_state = state
    fake.done_after_gets = 1
    with pytest.raises(UploadError) as info:
        await upload(fake.core(), _data(2000), part_size=1000, poll_interval=0)
    assert info.value.state == state
    assert info.value.state_name == types.StatusCode(state).name
    assert info.value.upload_id == "up1"
    assert info.value.upload is not None
    assert str(state) in str(info.value)


async def test_polls_until_done() -> None:
    fake = Uploads()
    fake.done_after_gets = 3
    done = await upload(fake.core(), _data(2000), part_size=1000, poll_interval=0)
    assert done.status is not None and done.status.code == 68001
    assert fake.gets == 4


async def test_gives_up_polling_after_the_timeout() -> None:
    fake = Uploads()
    fake.done_after_gets = 10**9
    with pytest.raises(UploadError) as info:
        await upload(fake.core(), _data(2000), part_size=1000, poll_interval=0, timeout=0)
    assert info.value.state == 68000


async def test_progress_sync_and_async() -> None:
    fake = Uploads()
    calls: list[tuple[int, int]] = []
    await upload(
        fake.core(), _data(2500), part_size=1000, progress=lambda s, t: calls.append((s, t))
    )
    assert len(calls) == 3
    assert calls == sorted(calls)
    assert calls[-1] == (2500, 2500)

    seen: list[int] = []

    async def aprogress(sent: int, total: int) -> None:
        await asyncio.sleep(0)
        seen.append(sent)

    await upload(fake.core(), _data(2500), part_size=1000, progress=aprogress, concurrency=1)
    assert seen == [1000, 2000, 2500]


async def test_invalid_options() -> None:
    fake = Uploads()
    with pytest.raises(ValueError, match="part_size"):
        await upload(fake.core(), b"x", part_size=0)
    with pytest.raises(ValueError, match="concurrency"):
        await upload(fake.core(), b"x", concurrency=0)
    with pytest.raises(ValueError, match="part_retries"):
        await upload(fake.core(), b"x", part_retries=-1)
    assert fake.uploads == {}


# -- cancel and resume ----------------------------------------------------------------


async def test_cancel_halfway_then_resume_is_byte_exact() -> None:
    fake = Uploads()
    data = _data(10_000)
    created: list[types.Upload] = []
    sent_before: list[int] = []

    async def progress(sent: int, total: int) -> None:
        sent_before.append(sent)
        if sent >= total // 2 and fake.hold is None:
            fake.hold = asyncio.Event()  # the "network" stalls halfway

    task = asyncio.ensure_future(
        upload(
            fake.core(), data, part_size=1000, concurrency=2, progress=progress,
            on_created=created.append,
        )
    )  # fmt: skip
    await _held(fake, 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.in_flight == 0
    assert _other_tasks() == set()
    (new,) = created
    assert 0 < len(fake.parts[new.id]) < 10
    fake.hold = None
    done = await resume_upload(fake.core(), new.id, data, part_size=1000, poll_interval=0)
    assert done.status is not None and done.status.code == 68001
    assert fake.content(new.id) == data


async def test_resume_of_a_done_upload_sends_nothing() -> None:
    fake = Uploads()
    data = _data(3000)
    done = await upload(fake.core(), data, part_size=1000)
    puts = len(fake.puts)
    again = await resume_upload(fake.core(), done.id, data, part_size=1000)
    assert again.id == done.id
    assert len(fake.puts) == puts


async def test_resume_when_every_byte_arrived_only_polls() -> None:
    fake = Uploads()
    fake.done_after_gets = 10**9
    data = _data(3000)
    created: list[types.Upload] = []
    with pytest.raises(UploadError):
        await upload(
            fake.core(), data, part_size=1000, on_created=created.append, timeout=0,
        )  # fmt: skip
    puts = len(fake.puts)
    fake.done_after_gets = fake.gets + 1
    done = await resume_upload(fake.core(), created[0].id, data, part_size=1000, poll_interval=0)
    assert done.status is not None and done.status.code == 68001
    assert len(fake.puts) == puts


async def test_resume_checks_the_length() -> None:
    fake = Uploads()
    created: list[types.Upload] = []
    fake.hold = asyncio.Event()
    task = asyncio.ensure_future(
        upload(fake.core(), _data(3000), part_size=1000, on_created=created.append)
    )
    await _held(fake, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    fake.hold = None
    with pytest.raises(ValueError, match="expects 3000 bytes"):
        await resume_upload(fake.core(), created[0].id, _data(2999))


async def test_resume_of_a_failed_upload_raises() -> None:
    fake = Uploads()
    fake.final_state = 68004
    with pytest.raises(UploadError):
        await upload(fake.core(), _data(1000), part_size=1000, poll_interval=0)
    with pytest.raises(UploadError) as info:
        await resume_upload(fake.core(), "up1", _data(1000))
    assert info.value.state == 68004


async def _held(fake: Uploads, n: int) -> None:
    """Wait until ``n`` part requests are held by the stand-in."""
    while fake.held < n:
        fake.held_more.clear()
        await fake.held_more.wait()


def _other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def test_part_body_is_encoded_slice_by_slice() -> None:
    from aioclarifai._uploads import _PartBody

    data = bytes(range(256)) * 10_000  # 2.56 MB: several slices
    request = types.PutUploadContentPartsRequest(
        upload_id="u", content_parts=[types.UploadContentPart(range_start=0, part_number=1)]
    )
    body = _PartBody(request, data)
    chunks = [chunk async for chunk in body.chunks()]
    assert len(chunks) > 3 and max(len(c) for c in chunks) <= 4 * _PartBody._SLICE // 3
    whole = b"".join(chunks)
    assert len(whole) == int(body.headers["Content-Length"])
    sent = msgspec.json.decode(whole, type=types.PutUploadContentPartsRequest)
    assert sent.content_parts[0].data == data and sent.content_parts[0].part_number == 1
    assert [c async for c in body.chunks()] == chunks  # every attempt starts afresh
