"""stream.batches() over loopback HTTP: grouping, failures in order, the connection's fate."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from aiohttp import web

from aioclarifai import Client, StreamError, types
from tests.helpers import texts
from tests.helpers_loopback import (
    StreamServer,
    assert_cancel_drops,
    assert_dropped,
    send_lines,
    serve_cut,
    slow_forever,
)


def line(text: str) -> bytes:
    message = {"status": {"code": 10000}, "outputs": [{"data": {"text": {"raw": text}}}]}
    return msgspec.json.encode({"result": message}) + b"\n"


def request() -> types.PostModelOutputsRequest:
    prompt = types.Input(data=types.Data(text=types.Text(raw="hi")))
    return types.PostModelOutputsRequest(model_id="llm", inputs=[prompt])


async def test_every_chunk_arrives_once_in_order_and_the_connection_is_pooled(
    server: StreamServer, client: Client
) -> None:
    words = [f"token-{i}" for i in range(3000)]
    body = b"".join(line(w) for w in words)
    serve_cut(server, body, cuts=200, seed=19)
    async with client.generate_model_outputs(request()) as stream:
        batches = [texts(batch) async for batch in stream.batches()]
    assert all(batches)
    assert [w for batch in batches for w in batch] == words
    assert client.connections_in_use == 0
    assert client.idle_connections == 1  # read to the end: kept for reuse


async def test_an_error_frame_comes_after_the_lines_before_it(
    server: StreamServer, client: Client
) -> None:
    frame = b'{"error":{"code":14,"message":"backend went away"}}\n'

    async def handler(request: web.Request) -> web.StreamResponse:
        return await send_lines(
            request, [line("a") + line("b") + frame + line("never")], forever=True
        )

    server.handler = handler
    seen: list[list[str]] = []
    with pytest.raises(StreamError) as info:
        async with client.generate_model_outputs(request()) as stream:
            async for batch in stream.batches():
                seen.append(texts(batch))
    assert seen == [["a", "b"]]
    assert info.value.grpc_code == 14
    await assert_dropped(server, client)


async def test_break_out_of_batches_drops_the_connection(
    server: StreamServer, client: Client
) -> None:
    server.handler = slow_forever(0.001)
    async for batch in client.generate_model_outputs(request()).batches():
        assert texts(batch)[0] == "tok"
        break  # no async with: leaving the loop is enough
    await assert_dropped(server, client)


async def test_cancelling_a_batches_reader_drops_the_connection(
    server: StreamServer, client: Client
) -> None:
    server.handler = slow_forever(0.005)

    async def read(reading: asyncio.Event) -> None:
        async for _ in client.generate_model_outputs(request()).batches():
            reading.set()

    await assert_cancel_drops(read, server, client)


async def test_aclose_from_another_task_ends_a_blocked_batches_loop(
    server: StreamServer, client: Client
) -> None:
    server.handler = slow_forever(0.5)
    stream = client.generate_model_outputs(request())
    first = asyncio.Event()
    got: list[list[str]] = []

    async def read() -> None:
        async for batch in stream.batches():
            got.append(texts(batch))
            first.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(first.wait(), 10)
    await stream.aclose()
    await asyncio.wait_for(task, 10)  # the loop simply ends
    assert got == [["tok"]]
    await assert_dropped(server, client)
