"""Issue 14 item 3: stream lines, bodies and inflated bodies are capped; memory stays bounded.

The behaviour over loopback with an in-process hostile server, and the memory
in fresh client processes against a hostile server process
(:mod:`benchmarks.limits`), so neither side's buffers blur the figures.
"""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import pytest

from aioclarifai import Client, ResponseTooLargeError, types
from benchmarks.limits import MIB, hostile_server, measure

from ._hostile import OK, PAT, Hostile, Request, answer

TEXT = [types.Input(data=types.Data(text=types.Text(raw="hi")))]
PREFIX = b'{"result":{"status":{"code":10000},"outputs":[{"data":{"text":{"raw":"'
CAP = 64 * 1024


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _stream_forever(writer: asyncio.StreamWriter, server: Hostile) -> bool:
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunk(PREFIX))
    for _ in range(100_000):  # bounded: 6 GiB at most, the client hangs up long before
        writer.write(_chunk(b"a" * 65536))
        await writer.drain()
        if server.stop.is_set():
            break
    return False


def _client(server: Hostile, **caps: Any) -> Client:
    return Client(PAT, base_url=server.url, app_id="app", max_retries=2, **caps)


async def test_item3_stream_line_cap() -> None:
    async def handle(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.path.endswith("/generate"):
            return await _stream_forever(writer, server)
        writer.write(answer(200, OK))
        await writer.drain()
        return True

    async with Hostile(handle) as server, _client(server, max_line_bytes=CAP) as client:
        with pytest.raises(ResponseTooLargeError) as info:
            async with client.generate_model_outputs(model_id="m", inputs=TEXT) as stream:
                async for _ in stream:
                    pass
        assert client.connections_in_use == 0 and client.idle_connections == 0  # dropped
        await client.list_workflows()  # the client is fine
    assert info.value.what == "stream line" and info.value.limit == CAP
    assert "65,536 bytes" in str(info.value)
    assert len([r for r in server.requests if r.path.endswith("/generate")]) == 1  # not retried


async def test_item3_stream_lines_within_the_cap_pass() -> None:
    line = PREFIX + b"b" * (CAP - 200) + b'"}}}]}}\n'

    async def handle(request: Request, writer: asyncio.StreamWriter) -> bool:
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        # The same line whole in one chunk, then split across many small ones.
        writer.write(
            head
            + _chunk(line)
            + b"".join(_chunk(line[i : i + 999]) for i in range(0, len(line), 999))
        )
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async with (
        Hostile(handle) as server,
        _client(server, max_line_bytes=CAP) as client,
        client.generate_model_outputs(model_id="m", inputs=TEXT) as stream,
    ):
        texts = [c.outputs[0].data.text.raw async for c in stream]  # type: ignore[union-attr]
    assert [len(t) for t in texts] == [CAP - 200, CAP - 200]


@pytest.mark.parametrize("declared", [True, False])
async def test_item3_body_cap(declared: bool) -> None:
    body = b'{"status":{"code":10000},"x":"' + b"a" * (4 * CAP) + b'"}'

    async def handle(request: Request, writer: asyncio.StreamWriter) -> bool:
        if declared:
            writer.write(answer(200, body))
        else:
            head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            writer.write(
                head + b"".join(_chunk(body[i : i + 8192]) for i in range(0, len(body), 8192))
            )
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async with Hostile(handle) as server, _client(server, max_body_bytes=CAP) as client:
        with pytest.raises(ResponseTooLargeError) as info:
            await client.list_workflows()
        assert client.connections_in_use == 0
    assert info.value.what == "body" and len(server.requests) == 1


@pytest.mark.parametrize("cap", ["max_body_bytes", "max_decompressed_bytes"])
async def test_item3_caps_hold_for_a_small_answer_that_arrives_whole(cap: str) -> None:
    # A few kB in one write: read without awaiting (the answer is complete with its
    # headers), and still measured against the caps.
    body = b'{"status":{"code":10000},"x":"' + b"a" * 4000 + b'"}'
    data = gzip.compress(body) if cap == "max_decompressed_bytes" else body
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(data)}\r\n\r\n"
        if cap == "max_decompressed_bytes"
        else "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    wire = head + (data if cap == "max_decompressed_bytes" else _chunk(data) + b"0\r\n\r\n")

    async def handle(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(wire)
        await writer.drain()
        return True

    async with Hostile(handle) as server, _client(server, **{cap: 1024}) as client:
        with pytest.raises(ResponseTooLargeError) as info:
            await client.list_workflows()
        assert client.connections_in_use == 0
        assert info.value.limit == 1024 and f"at least {len(body):,} bytes" in str(info.value)
    async with Hostile(handle) as server, _client(server, **{cap: len(body)}) as client:
        answer_at_the_cap = await client.list_workflows()  # at the cap: fine
        assert answer_at_the_cap.status is not None and answer_at_the_cap.status.code == 10000
    assert info.value.what == ("body" if cap == "max_body_bytes" else "decompressed body")


async def test_item3_gzip_bomb_unary_and_stream() -> None:
    bomb = gzip.compress(b'{"status":{"code":10000}}' + b" " * (64 * MIB), 9)
    line_bomb = gzip.compress(PREFIX + b"0" * (64 * MIB), 9)
    assert len(bomb) < MIB // 8

    async def handle(request: Request, writer: asyncio.StreamWriter) -> bool:
        data = line_bomb if request.path.endswith("/generate") else bomb
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(data)}\r\n\r\n"
        writer.write(head.encode() + data)
        await writer.drain()
        return True

    caps = {"max_decompressed_bytes": MIB, "max_line_bytes": MIB}
    async with Hostile(handle) as server, _client(server, **caps) as client:
        with pytest.raises(ResponseTooLargeError) as unary:
            await client.list_workflows()
        with pytest.raises(ResponseTooLargeError) as streamed:
            async with client.generate_model_outputs(model_id="m", inputs=TEXT) as stream:
                async for _ in stream:
                    pass
    assert unary.value.what == "decompressed body"
    assert streamed.value.what == "stream line"


def test_item3_caps_are_validated() -> None:
    for name in ("max_line_bytes", "max_body_bytes", "max_decompressed_bytes"):
        with pytest.raises(ValueError, match=name):
            Client(PAT, **{name: 0})  # type: ignore[arg-type]


def test_item3_peak_memory_is_bounded_by_the_caps() -> None:
    """Fresh client processes; the server in its own: growth stays near the caps."""
    cap = 4 * MIB
    caps = {"max_line_bytes": cap, "max_body_bytes": cap, "max_decompressed_bytes": cap}
    with hostile_server() as (url, conn):
        conn.send(("prepare", "gzline", 256))
        conn.recv()
        conn.send(("prepare", "gzbody", 256))
        conn.recv()
        results = {
            m: measure(url, m, caps) for m in ("line-64", "endless", "gzline-256", "gzbody-256")
        }
    for model, result in results.items():
        assert "ResponseTooLargeError" in result["error"], (model, result)
        # Uncapped, these cost 128 MiB, unbounded, 512 MiB and 512 MiB.
        assert result["growth_mib"] < 40, (model, result)
