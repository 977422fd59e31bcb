"""Issue 14 items 5-7 over loopback: the PAT never escapes; error frames, bad bodies are typed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from aioclarifai import (
    APIConnectionError,
    ClarifaiError,
    Client,
    NotFoundError,
    OutputError,
    ServerError,
    StreamError,
    types,
)

from ._hostile import PAT, Hostile, Request, answer, chain_reprs, reply, status_body

PIECE = PAT[:8]  # no 8+ character piece of the PAT may show anywhere


def _client(server: Hostile, **kwargs: Any) -> Client:
    kwargs.setdefault("max_retries", 0)
    return Client(PAT, base_url=server.url, app_id="app", **kwargs)


def _text(raw: str) -> types.Input:
    return types.Input(data=types.Data(text=types.Text(raw=raw)))


def _lines(*lines: bytes | dict[str, Any]) -> bytes:
    return b"".join(
        (ln if isinstance(ln, bytes) else json.dumps(ln).encode()) + b"\n" for ln in lines
    )


def _chunk(text: str) -> dict[str, Any]:
    output = {"status": {"code": 10000}, "data": {"text": {"raw": text}}}
    return {"result": {"status": {"code": 10000}, "outputs": [output]}}


def _no_pat(*things: Any) -> None:
    for thing in things:
        text = chain_reprs(thing) if isinstance(thing, BaseException) else repr(thing)
        assert PIECE not in text, text


# -- item 5: the PAT never escapes ------------------------------------------------------


async def test_item5a_mixed_status_output_error_carries_no_pat() -> None:
    echoed = f"cannot fetch url (request headers: Authorization: Key {PAT})"
    body = status_body(
        10010,
        "Mixed Success",
        outputs=[
            {"id": "o1", "status": {"code": 10000}, "input": {"id": "a"}},
            {"id": "o2", "status": {"code": 30002, "description": echoed}, "input": {"id": "b"}},
        ],
    )
    async with Hostile(reply(200, body)) as server, _client(server) as client:
        inputs = [
            types.Input(id="a", data=_text("x").data),
            types.Input(id="b", data=_text("y").data),
        ]
        results = [r async for r in client.predict_many("m", inputs)]
        raw = await client.post_model_outputs(model_id="m", inputs=inputs)
    assert isinstance(results[0], types.Output)
    error = results[1]
    assert isinstance(error, OutputError) and error.code == 30002
    assert "cannot fetch url" in str(error) and "***" in error.description
    _no_pat(error, error.output, error.status, raw)


async def test_item5b_pat_cut_short_is_still_redacted() -> None:
    # The server echoes only the PAT's first 20 characters (as a proxy truncating a header).
    unary = status_body(21200, f"no such model; saw Authorization: Key {PAT[:20]}")
    # A stream line that is not JSON, with the PAT straddling the 120-character excerpt cut.
    line = b"x" * 100 + f"Key {PAT} trailing garbage".encode() + b"\n"

    async def handle(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.path.endswith("/generate"):
            writer.write(answer(200, line))
        else:
            writer.write(answer(404, unary))
        await writer.drain()
        return True

    async with Hostile(handle) as server, _client(server) as client:
        with pytest.raises(NotFoundError) as unary_error:
            await client.list_workflows()
        with pytest.raises(StreamError) as stream_error:
            async with client.generate_model_outputs(model_id="m", inputs=[_text("hi")]) as s:
                async for _ in s:
                    pass
    assert "no such model" in str(unary_error.value)
    assert "unreadable stream line" in str(stream_error.value)
    _no_pat(unary_error.value, stream_error.value)


async def test_item5c_chained_aiohttp_error_carries_no_pat() -> None:
    async def bad_status_line(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 abc Nope\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        return False

    async with Hostile(bad_status_line) as server, _client(server) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.list_workflows()
    error = info.value
    # The cause is kept for debugging, with its request headers scrubbed.
    assert error.__cause__ is not None and error.__context__ is error.__cause__
    assert "Invalid status code" in repr(error.__cause__)
    _no_pat(error)


# -- item 6: every error frame raises StreamError with its code and message ----------------


@pytest.mark.parametrize(
    ("frame", "code", "message"),
    [
        ({"error": "the model exploded"}, 2, "the model exploded"),
        (
            {"error": {"grpc_code": 13, "http_code": 500, "message": "boom", "http_status": "ISE"}},
            13,
            "boom",
        ),
        (
            {"error": {"code": "UNAVAILABLE", "message": "try later", "details": []}},
            14,
            "try later",
        ),
        ({"code": 8, "message": "quota", "details": []}, 8, "quota"),
        (
            {"error": {"code": 0, "message": "said OK but is an error"}},
            2,
            "said OK but is an error",
        ),
        ({"error": ["odd", 1]}, 2, '["odd",1]'),
    ],
)
async def test_item6_error_frames_of_every_shape(
    frame: dict[str, Any], code: int, message: str
) -> None:
    body = _lines(_chunk("Hello"), frame, _chunk("never seen"))
    async with Hostile(reply(200, body)) as server, _client(server) as client:
        seen: list[str] = []
        with pytest.raises(StreamError) as info:
            async with client.generate("m", "hi") as tokens:
                async for delta in tokens:
                    seen.append(delta)
        chunks: list[types.MultiOutputResponse] = []
        with pytest.raises(StreamError) as raw_info:
            async with client.generate_model_outputs(model_id="m", inputs=[_text("hi")]) as s:
                async for chunk in s:
                    chunks.append(chunk)
    assert seen == ["Hello"] and len(chunks) == 1
    for error in (info.value, raw_info.value):
        assert error.grpc_code == code
        assert error.grpc_message == message
        assert message in str(error) and "gRPC 0" not in str(error)


# -- item 7: every malformed body is a typed error naming what was wrong -------------------


async def test_item7_deeply_nested_json_is_a_typed_error() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    unary = b'{"status":{"code":10000},"workflows":[{"id":"w","metadata":{"x":' + deep + b"}}]}"
    line = (
        b'{"result":{"status":{"code":10000},"outputs":[{"data":{"metadata":{"x":'
        + deep
        + b"}}}]}}\n"
    )

    async def handle(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(200, line if request.path.endswith("/generate") else unary))
        await writer.drain()
        return True

    async with Hostile(handle) as server, _client(server) as client:
        with pytest.raises(ClarifaiError) as unary_error:
            await client.list_workflows()
        with pytest.raises(ClarifaiError) as stream_error:
            async with client.generate_model_outputs(model_id="m", inputs=[_text("hi")]) as s:
                async for _ in s:
                    pass
    assert isinstance(unary_error.value, ServerError)
    assert "nested too deeply" in str(unary_error.value)
    assert isinstance(stream_error.value, StreamError)
    assert "unreadable stream line" in str(stream_error.value)


async def test_item7_wrong_type_error_names_the_field() -> None:
    wrong = status_body(10000, "Ok", workflows=[{"id": "w", "metadata": "not an object"}])
    failed = status_body(21200, "Model does not exist", outputs="not a list")

    async def handle(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(200, wrong) if "workflows" in request.path else answer(404, failed))
        await writer.drain()
        return True

    async with Hostile(handle) as server, _client(server) as client:
        with pytest.raises(ServerError) as info:
            await client.list_workflows()
        with pytest.raises(NotFoundError) as failed_info:
            await client.post_model_outputs(model_id="m", inputs=[_text("x")])
    assert "$.workflows[0].metadata" in str(info.value)
    assert "wrong type" in str(info.value)
    # The status still decides the family; the field problem is in the details.
    assert failed_info.value.code == 21200 and "$.outputs" in failed_info.value.details
