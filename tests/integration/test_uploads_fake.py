"""``client.upload`` / ``resume_upload`` against FakeClarifai, the project's stateful test peer."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aioclarifai import Client, RetryConfig, UploadError, types
from aioclarifai.testing import FakeClarifai


@pytest.fixture
async def fake() -> AsyncIterator[FakeClarifai]:
    async with FakeClarifai(log_body_limit=0) as server:
        yield server


def _client(fake: FakeClarifai) -> Client:
    retry = RetryConfig(max_retries=2, initial_backoff=0.01)
    return Client(base_url=fake.url, pat=fake.pat, app_id="app", retry=retry)


def _data(n: int) -> bytes:
    return hashlib.shake_256(b"fake-upload").digest(n)


async def test_bytes_path_and_stream_byte_exact(fake: FakeClarifai, tmp_path: Path) -> None:
    data = _data(2_000_003)
    path = tmp_path / "data.bin"
    path.write_bytes(data)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 65_536):
            yield data[i : i + 65_536]

    async with _client(fake) as client:
        from_bytes = await client.upload(data, content_name="a.bin", part_size=300_000)
        from_path = await client.upload(path, part_size=300_000, concurrency=2)
        from_stream = await client.upload(chunks(), content_length=len(data), part_size=512_000)
    for done in (from_bytes, from_path, from_stream):
        assert done.status is not None and done.status.code == types.StatusCode.UPLOAD_DONE
        assert fake.upload_bytes(done.id) == data
    assert from_path.content_name == "data.bin"
    assert len(fake.requests_for("put_upload_content_parts")) == 7 + 7 + 4


async def test_a_part_failing_with_503_is_retried(fake: FakeClarifai) -> None:
    fault = fake.inject("put_upload_content_parts", http_status=503, times=1)
    data = _data(1_000_000)
    async with _client(fake) as client:
        done = await client.upload(data, part_size=250_000)
    assert fault.hits == 1
    assert len(fake.requests_for("put_upload_content_parts")) == 5
    assert fake.upload_bytes(done.id) == data


async def test_failure_state_is_a_typed_error(fake: FakeClarifai) -> None:
    async with _client(fake) as client:
        with pytest.raises(UploadError) as info:
            await client.upload(
                _data(100_000), part_size=50_000,
                on_created=lambda u: fake.set_upload_state(u.id, 68004),
            )  # fmt: skip
    assert info.value.state == 68004
    assert info.value.state_name == "UPLOAD_EXPIRED"


async def test_cancel_halfway_then_resume_byte_exact(fake: FakeClarifai) -> None:
    data = _data(4_000_000)
    created: list[types.Upload] = []
    halfway = asyncio.Event()

    def progress(sent: int, total: int) -> None:
        if sent >= total // 2:
            halfway.set()

    async with _client(fake) as client:
        fake.set_latency(0.05, "put_upload_content_parts")
        task = asyncio.ensure_future(
            client.upload(
                data, part_size=250_000, concurrency=2, progress=progress,
                on_created=created.append,
            )
        )  # fmt: skip
        await halfway.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.connections_in_use == 0
        upload_id = created[0].id
        got = await client.get_upload(upload_id=upload_id)
        assert got.upload is not None and got.upload.status is not None
        assert got.upload.status.code == types.StatusCode.UPLOAD_IN_PROGRESS

        fake.clear_faults()
        done = await client.resume_upload(upload_id, data, part_size=250_000, poll_interval=0)
    assert done.status is not None and done.status.code == types.StatusCode.UPLOAD_DONE
    assert hashlib.sha256(fake.upload_bytes(upload_id)).digest() == hashlib.sha256(data).digest()
