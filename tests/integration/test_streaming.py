"""Streams over loopback HTTP: a small aiohttp.web server plays the generate endpoint."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import msgspec
import pytest
from aiohttp import web

from aioclarifai import (
    APITimeoutError,
    AuthenticationError,
    Client,
    ModelNotReadyError,
    NotFoundError,
    ResponseStream,
    StreamError,
    Timeout,
    types,
)
from tests.helpers_loopback import (
    StreamServer,
    assert_cancel_drops,
    assert_dropped,
    send_lines,
    serve_cut,
    slow_forever,
)


def message(text: str, code: int = 10000) -> dict[str, Any]:
    return {"status": {"code": code}, "outputs": [{"data": {"text": {"raw": text}}}]}


def line(text: str, code: int = 10000) -> bytes:
    return msgspec.json.encode({"result": message(text, code)}) + b"\n"


def status_body(code: int, description: str) -> bytes:
    return msgspec.json.encode({"status": {"code": code, "description": description}})


def text(chunk: types.MultiOutputResponse) -> str:
    data = chunk.outputs[0].data
    assert data is not None and data.text is not None
    return data.text.raw


def request(**fields: Any) -> types.PostModelOutputsRequest:
    prompt = types.Input(data=types.Data(text=types.Text(raw="hi")))
    return types.PostModelOutputsRequest(model_id="llm", inputs=[prompt], **fields)


async def read_all(stream: ResponseStream[types.MultiOutputResponse]) -> list[str]:
    async with stream:
        return [text(chunk) async for chunk in stream]


# -- reading --------------------------------------------------------------------------


async def test_typed_chunks_and_the_connection_goes_back_to_the_pool(
    server: StreamServer, client: Client
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await send_lines(request, [line("Hel"), line("lo")])

    server.handler = handler
    stream = client.generate_model_outputs(request(version_id="v1"))
    assert server.requests == 0  # nothing is sent until the stream is used
    async with stream:
        assert server.requests == 1  # the request starts on enter
        chunks = [chunk async for chunk in stream]
    assert all(isinstance(c, types.MultiOutputResponse) for c in chunks)
    assert [text(c) for c in chunks] == ["Hel", "lo"]
    assert server.paths == ["/v2/users/me/apps/app/models/llm/versions/v1/outputs/generate"]
    assert server.bodies[0]["inputs"][0]["data"]["text"]["raw"] == "hi"
    assert client.connections_in_use == 0
    assert client.idle_connections == 1  # read to the end: kept for reuse


async def test_long_lines_crlf_blank_lines_and_no_final_newline(
    server: StreamServer, client: Client
) -> None:
    big = "x" * (1 << 20)
    body = b"\r\n".join(
        [
            b"",
            line("a").rstrip(),
            b"",
            line(big).rstrip(),
            b"   ",
            msgspec.json.encode(message("bare")),
            line("last").rstrip(),  # no newline after it
        ]
    )
    serve_cut(server, body, cuts=40, seed=6)
    assert await read_all(client.generate_model_outputs(request())) == [
        "a",
        big,
        "bare",
        "last",
    ]


async def test_plain_async_for_to_the_end_closes_without_warning(
    server: StreamServer, client: Client
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await send_lines(request, [line("a"), line("b")])

    server.handler = handler
    got = [text(chunk) async for chunk in client.generate_model_outputs(request())]
    assert got == ["a", "b"]
    gc.collect()  # filterwarnings=error: a ResourceWarning would fail the test
    assert client.connections_in_use == 0


# -- errors ---------------------------------------------------------------------------


async def test_error_frame_mid_stream(server: StreamServer, client: Client) -> None:
    frame = b'{"error":{"code":13,"message":"model crashed","details":[]}}\n'

    async def handler(request: web.Request) -> web.StreamResponse:
        return await send_lines(request, [line("a"), frame, line("b")])

    server.handler = handler
    seen = []
    with pytest.raises(StreamError) as info:
        async for chunk in client.generate_model_outputs(request()):  # plain: closes on error
            seen.append(text(chunk))
    assert seen == ["a"]
    assert (info.value.grpc_code, info.value.grpc_message) == (13, "model crashed")
    assert server.requests == 1
    assert client.connections_in_use == 0


async def test_non_success_chunk_status_mid_stream_is_not_retried(
    server: StreamServer, client: Client
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await send_lines(request, [line("a"), line("", code=21355), line("b")])

    server.handler = handler
    with pytest.raises(ModelNotReadyError):
        await read_all(client.generate_model_outputs(request()))
    assert server.requests == 1
    assert client.connections_in_use == 0


async def test_first_chunk_model_loading_then_success(server: StreamServer, client: Client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if server.requests == 1:
            return await send_lines(request, [line("", code=21355)])
        return await send_lines(request, [line("a"), line("b")])

    server.handler = handler
    assert await read_all(client.generate_model_outputs(request())) == ["a", "b"]
    assert server.requests == 2
    assert client.connections_in_use == 0


async def test_non_200_before_the_stream_raises_typed_errors(
    server: StreamServer, client: Client
) -> None:
    async def not_found(request: web.Request) -> web.StreamResponse:
        return web.Response(status=404, body=status_body(21200, "Model does not exist"))

    server.handler = not_found
    with pytest.raises(NotFoundError) as info:
        await read_all(client.generate_model_outputs(request()))
    assert info.value.code == 21200 and info.value.http_status == 404
    assert server.requests == 1  # not retried

    async def unauthorized(request: web.Request) -> web.StreamResponse:
        return web.Response(status=401, body=status_body(11009, "API key not found"))

    server.handler = unauthorized
    with pytest.raises(AuthenticationError):
        await read_all(client.generate_model_outputs(request()))
    assert server.requests == 2
    assert client.connections_in_use == 0


async def test_503_before_the_stream_is_retried(server: StreamServer, client: Client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if server.requests == 1:
            return web.Response(status=503, text="upstream unavailable")
        return await send_lines(request, [line("ok")])

    server.handler = handler
    assert await read_all(client.generate_model_outputs(request())) == ["ok"]
    assert server.requests == 2


# -- cleanup ----------------------------------------------------------------------------


async def test_break_after_first_chunk_drops_the_connection(
    server: StreamServer, client: Client
) -> None:
    server.handler = slow_forever()
    async with client.generate_model_outputs(request()) as stream:
        async for chunk in stream:
            assert text(chunk) == "tok"
            break
    assert client.connections_in_use == 0  # at once, before any await
    await assert_dropped(server, client)


async def test_consumer_exception_drops_the_connection(
    server: StreamServer, client: Client
) -> None:
    server.handler = slow_forever()
    with pytest.raises(LookupError):
        async with client.generate_model_outputs(request()) as stream:
            async for _ in stream:
                raise LookupError("consumer failed")
    await assert_dropped(server, client)


async def test_cancellation_mid_stream(server: StreamServer, client: Client) -> None:
    server.handler = slow_forever()

    async def consume(got_one: asyncio.Event) -> None:
        async with client.generate_model_outputs(request()) as stream:
            async for _ in stream:
                got_one.set()

    await assert_cancel_drops(consume, server, client)


async def test_cancellation_of_a_plain_async_for(server: StreamServer, client: Client) -> None:
    server.handler = slow_forever()

    async def consume(got_one: asyncio.Event) -> None:
        async for _ in client.generate_model_outputs(request()):
            got_one.set()

    await assert_cancel_drops(consume, server, client)


async def test_aclose_from_another_task_ends_the_reader(
    server: StreamServer, client: Client
) -> None:
    server.handler = slow_forever(delay=0.2)
    stream = client.generate_model_outputs(request())
    got_one = asyncio.Event()
    count = 0

    async def consume() -> None:
        nonlocal count
        async for _ in stream:
            count += 1
            got_one.set()

    task = asyncio.create_task(consume())
    await got_one.wait()
    await stream.aclose()
    await asyncio.wait_for(task, 10)  # the reader's loop simply ends
    assert count >= 1 and stream.closed
    await assert_dropped(server, client)


async def test_garbage_collected_stream_warns_and_closes(
    server: StreamServer, client: Client
) -> None:
    server.handler = slow_forever()
    stream = client.generate_model_outputs(request())
    async for _ in stream:
        break  # a plain async for does not close the stream on break
    assert client.connections_in_use == 1
    with pytest.warns(ResourceWarning, match="unclosed GenerateModelOutputs stream"):
        del stream
        gc.collect()
    assert client.connections_in_use == 0
    await assert_dropped(server, client)


# -- timeouts ---------------------------------------------------------------------------


async def test_idle_timeout_between_chunks(server: StreamServer, client: Client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(line("a"))
        await asyncio.sleep(30)  # cancelled when the client gives up
        return resp

    server.handler = handler
    quick = client.with_options(timeout=Timeout(stream_idle=0.2))
    seen = []
    with pytest.raises(APITimeoutError) as info:
        async with quick.generate_model_outputs(request()) as stream:
            async for chunk in stream:
                seen.append(text(chunk))
    assert seen == ["a"]
    assert info.value.kind == "read"
    assert server.requests == 1  # after the first chunk: never retried
    await assert_dropped(server, client)


async def test_total_timeout_of_a_stream(server: StreamServer, client: Client) -> None:
    server.handler = slow_forever()
    limited = client.with_options(timeout=Timeout(stream_total=0.3, stream_idle=5))
    count = 0
    with pytest.raises(APITimeoutError) as info:
        async with limited.generate_model_outputs(request()) as stream:
            async for _ in stream:
                count += 1
    assert count > 0
    assert info.value.kind == "total"
    await assert_dropped(server, client)


@pytest.mark.parametrize("first", [True, False])
async def test_the_pat_is_blanked_out_of_stream_errors(
    server: StreamServer, client: Client, first: bool
) -> None:
    # A proxy or server that echoes the Authorization header into a stream's
    # error frame or a chunk's status must not put the PAT into our errors.
    echo = "bad header Authorization: Key test-pat"
    frame = msgspec.json.encode({"error": {"code": 3, "message": echo, "details": [echo]}})
    frame += b"\n"
    failed = msgspec.json.encode(
        {"result": {"status": {"code": 21200, "description": echo, "details": echo}}}
    )
    before = [] if first else [line("a")]
    for bad, kind in ((frame, StreamError), (failed + b"\n", NotFoundError)):

        async def handler(request: web.Request, bad: bytes = bad) -> web.StreamResponse:
            return await send_lines(request, [*before, bad])

        server.handler = handler
        with pytest.raises(kind) as info:
            await read_all(client.generate_model_outputs(request()))
        error = info.value
        assert "test-pat" not in str(error) + repr(error) + repr(vars(error))
        assert "***" in str(error)
