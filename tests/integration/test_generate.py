"""``client.generate`` over loopback HTTP, with the server of test_streaming."""

from __future__ import annotations

import gc

import msgspec
import pytest
from aiohttp import web

from aioclarifai import Client, TextStream, types
from tests.helpers_loopback import StreamServer, assert_dropped, send_lines, slow_forever


def delta(raw: str = "", *, part: str = "", prompt: int = 0, completion: int = 0) -> bytes:
    output: dict[str, object] = {
        "data": {"parts": [{"data": {"string_value": part}}]} if part else {"text": {"raw": raw}}
    }
    if prompt:
        output["prompt_tokens"] = str(prompt)  # int64: JSON strings on the wire
    if completion:
        output["completion_tokens"] = str(completion)
    body = {"status": {"code": 10000}, "outputs": [output]}
    return msgspec.json.encode({"result": body}) + b"\n"


async def test_generate_streams_text_deltas(server: StreamServer, client: Client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        pieces = [delta("The"), delta(part=" cat"), delta(" sat", prompt=7, completion=3)]
        return await send_lines(request, pieces)

    server.handler = handler
    stream = client.generate(
        "llm", "Tell me a story", inference_params={"temperature": 0.5, "max_tokens": 20}
    )
    assert isinstance(stream, TextStream)
    async with stream:
        got = [d async for d in stream]
    assert got == ["The", " cat", " sat"]
    assert (stream.prompt_tokens, stream.completion_tokens) == (7, 3)
    assert isinstance(stream.last_chunk, types.MultiOutputResponse)
    assert server.paths == ["/v2/users/me/apps/app/models/llm/outputs/generate"]
    body = server.bodies[0]
    assert body["inputs"] == [{"data": {"text": {"raw": "Tell me a story"}}}]
    assert body["model"]["model_version"]["output_info"]["params"] == {
        "temperature": 0.5,
        "max_tokens": 20,
    }
    assert client.connections_in_use == 0


async def test_generate_with_an_input_and_a_version(server: StreamServer, client: Client) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await send_lines(request, [delta("ok")])

    server.handler = handler
    prompt = types.Input(data=types.Data(text=types.Text(raw="hi")))
    text = await client.generate("llm", prompt, version_id="v9").read_text()
    assert text == "ok"
    assert server.paths == ["/v2/users/me/apps/app/models/llm/versions/v9/outputs/generate"]


async def test_break_out_of_generate_drops_the_connection(
    server: StreamServer, client: Client
) -> None:
    server.handler = slow_forever()
    async with client.generate("llm", "go on forever") as stream:
        async for _ in stream:
            break
    assert stream.closed and client.connections_in_use == 0
    await assert_dropped(server, client)


async def test_abandoned_plain_async_for_warns_when_collected(
    server: StreamServer, client: Client
) -> None:
    server.handler = slow_forever()
    stream = client.generate("llm", "go on forever")
    async for _ in stream:
        break
    with pytest.warns(ResourceWarning, match="unclosed"):
        del stream
        gc.collect()
    await assert_dropped(server, client)
