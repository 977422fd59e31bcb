"""``client.upload`` and ``client.resume_upload`` over loopback against our own small server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from aioclarifai import Client, RetryConfig, UploadError, types

PAT = "test-pat"
BASE = "/v2/users/{user}/apps/{app}/uploads"


class UploadServer:
    """PostUploads, PutUploadContentParts and GetUpload with parts kept by number."""

    def __init__(self) -> None:
        self.uploads: dict[str, dict[str, Any]] = {}
        self.attempts: dict[int, int] = {}  # part number → PUTs seen
        self.fail_once: set[int] = set()  # parts answered 503 on their first PUT
        self.final_state = 68001
        self.stall_after: int | None = None  # PUTs past this many wait for ``resume``
        self.stalled = asyncio.Event()
        self.resume = asyncio.Event()
        self.puts = 0
        self.url = ""

    def content(self, upload_id: str) -> bytes:
        parts = self.uploads[upload_id]["parts"]
        return b"".join(data for _, data in sorted(parts.values()))

    def _view(self, upload_id: str) -> dict[str, Any]:
        u = self.uploads[upload_id]
        got = sum(len(d) for _, d in u["parts"].values())
        state = self.final_state if got == u["length"] else 68000
        return {
            "id": upload_id,
            "content_name": u["name"],
            "content_length": str(u["length"]),
            "status": {"code": state, "percent_completed": got * 100 // u["length"]},
        }

    async def post(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == f"Key {PAT}"
        (spec,) = (await request.json())["uploads"]
        upload_id = f"up{len(self.uploads) + 1}"
        self.uploads[upload_id] = {
            "name": spec.get("content_name", ""),
            "length": int(spec["content_length"]),
            "parts": {},
        }
        return web.json_response({"status": {"code": 10000}, "uploads": [self._view(upload_id)]})

    async def put(self, request: web.Request) -> web.Response:
        upload_id = request.match_info["upload_id"]
        body = await request.json()
        assert set(body) == {"content_parts"}, body
        (part,) = body["content_parts"]
        number = int(part["part_number"])
        self.attempts[number] = self.attempts.get(number, 0) + 1
        self.puts += 1
        if number in self.fail_once and self.attempts[number] == 1:
            return web.Response(status=503, text="<html>503 Service Unavailable</html>")
        if self.stall_after is not None and self.puts > self.stall_after:
            self.stalled.set()
            await self.resume.wait()
        data = base64.b64decode(part.get("data", ""))
        self.uploads[upload_id]["parts"][number] = (int(part.get("range_start", 0)), data)
        return web.json_response({"status": {"code": 10000}, "upload": self._view(upload_id)})

    async def get(self, request: web.Request) -> web.Response:
        upload_id = request.match_info["upload_id"]
        if upload_id not in self.uploads:
            return web.json_response({"status": {"code": 11101}}, status=404)
        return web.json_response({"status": {"code": 10000}, "upload": self._view(upload_id)})


@pytest.fixture
async def server() -> AsyncIterator[UploadServer]:
    state = UploadServer()
    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_post(BASE, state.post)
    app.router.add_put(BASE + "/{upload_id}/content_parts", state.put)
    app.router.add_get(BASE + "/{upload_id}", state.get)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        state.resume.set()  # let stalled handlers finish so the server stops at once
        await runner.cleanup()


def _client(server: UploadServer) -> Client:
    retry = RetryConfig(max_retries=2, initial_backoff=0.01)
    return Client(pat=PAT, app_id="app", base_url=server.url, retry=retry)


def _data(n: int) -> bytes:
    return hashlib.shake_256(b"upload").digest(n)


async def test_bytes_byte_exact(server: UploadServer) -> None:
    data = _data(300_000)
    async with _client(server) as client:
        done = await client.upload(data, content_name="blob.bin", part_size=64 * 1024)
    assert isinstance(done, types.Upload)
    assert done.status is not None and done.status.code == 68001
    assert done.content_length == 300_000 and done.content_name == "blob.bin"
    assert hashlib.sha256(server.content(done.id)).digest() == hashlib.sha256(data).digest()
    parts = server.uploads[done.id]["parts"]
    assert sorted(parts) == [1, 2, 3, 4, 5]
    assert [parts[n][0] for n in sorted(parts)] == [0, 65536, 131072, 196608, 262144]


async def test_path_byte_exact(server: UploadServer, tmp_path: Path) -> None:
    path = tmp_path / "weights.tar"
    data = _data(1_000_003)
    path.write_bytes(data)
    async with _client(server) as client:
        done = await client.upload(path, part_size=200_000, concurrency=3)
    assert server.content(done.id) == data
    assert server.uploads[done.id]["name"] == "weights.tar"


async def test_async_iterator_byte_exact(server: UploadServer) -> None:
    data = _data(250_000)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 7_000):
            yield data[i : i + 7_000]

    async with _client(server) as client:
        done = await client.upload(chunks(), content_length=len(data), part_size=100_000)
    assert server.content(done.id) == data


async def test_a_part_answered_503_is_sent_again(server: UploadServer) -> None:
    server.fail_once = {2}
    data = _data(300_000)
    async with _client(server) as client:
        done = await client.upload(data, part_size=100_000)
        assert client.connections_in_use == 0
    assert server.content(done.id) == data
    # The core never retries this non-idempotent call after a 503; the uploader did.
    assert server.attempts == {1: 1, 2: 2, 3: 1}


async def test_failure_state_is_an_upload_error(server: UploadServer) -> None:
    server.final_state = 68003
    async with _client(server) as client:
        with pytest.raises(UploadError) as info:
            await client.upload(_data(1000), part_size=500, poll_interval=0)
    assert info.value.state == 68003
    assert info.value.state_name == "UPLOAD_UNEXPECTED_ERROR"
    assert info.value.upload_id == "up1"


async def test_progress_reports_bytes(server: UploadServer) -> None:
    seen: list[tuple[int, int]] = []
    async with _client(server) as client:
        await client.upload(
            _data(250_000), part_size=100_000, concurrency=1,
            progress=lambda sent, total: seen.append((sent, total)),
        )  # fmt: skip
    assert seen == [(100_000, 250_000), (200_000, 250_000), (250_000, 250_000)]


async def test_cancel_halfway_then_resume(server: UploadServer) -> None:
    data = _data(1_000_000)
    server.stall_after = 5  # of 10 parts
    created: list[types.Upload] = []
    async with _client(server) as client:
        task = asyncio.ensure_future(
            client.upload(data, part_size=100_000, concurrency=2, on_created=created.append)
        )
        await server.stalled.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.connections_in_use == 0
        (upload,) = created
        assert len(server.uploads[upload.id]["parts"]) == 5

        server.stall_after = None
        server.resume.set()
        done = await client.resume_upload(upload.id, data, part_size=100_000, poll_interval=0)
        assert done.id == upload.id
        assert done.status is not None and done.status.code == 68001
    assert hashlib.sha256(server.content(upload.id)).digest() == hashlib.sha256(data).digest()
