"""TextStream and the generate request, over a real core and MockTransport."""

from __future__ import annotations

from typing import Any, cast

import msgspec
import pytest

from aioclarifai import ModelNotReadyError, ResponseStream, TextStream, types
from aioclarifai._text_stream import (
    GenerateOutput,
    GenerateResponse,
    generate_request,
    text_of,
)
from aioclarifai.endpoints import GENERATE_MODEL_OUTPUTS
from tests.helpers import ScriptedStreams


def chunk(
    raw: str | None = None,
    *,
    part: str | None = None,
    code: int = 10000,
    usage: tuple[Any, Any] | None = None,
) -> bytes:
    output: dict[str, Any] = {"data": {}}
    if raw is not None:
        output["data"]["text"] = {"raw": raw}
    if part is not None:
        output["data"]["parts"] = [{"data": {"string_value": part}}]
    if usage is not None:
        output["prompt_tokens"], output["completion_tokens"] = usage
    body = {"status": {"code": code}, "outputs": [output]}
    return msgspec.json.encode({"result": body}) + b"\n"


def text_stream(core: ScriptedStreams, **kwargs: Any) -> TextStream:
    stream = ResponseStream(
        core.core,
        GENERATE_MODEL_OUTPUTS,
        types.PostModelOutputsRequest(model_id="llm"),
        response_type=GenerateResponse,
    )
    return TextStream(stream, **kwargs)


async def deltas(stream: TextStream) -> list[str]:
    async with stream:
        return [delta async for delta in stream]


# -- the request ------------------------------------------------------------------------


def test_str_prompt_becomes_a_text_input() -> None:
    req = generate_request("llm", "Write a haiku", version_id="v2")
    assert req.model_id == "llm" and req.version_id == "v2"
    assert req.inputs == [types.Input(data=types.Data(text=types.Text(raw="Write a haiku")))]
    assert req.model is None


def test_input_prompt_is_sent_as_is() -> None:
    item = types.Input(id="q1", data=types.Data(text=types.Text(url="https://x/p.txt")))
    assert generate_request("llm", item).inputs == [item]
    with pytest.raises(TypeError, match="prompt must be"):
        generate_request("llm", cast(Any, b"bytes"))


def test_inference_params_go_to_output_info_params() -> None:
    model = types.Model(
        id="llm",
        model_version=types.ModelVersion(
            id="v1", output_info=types.OutputInfo(params={"temperature": 0.1, "top_p": 0.9})
        ),
    )
    req = generate_request(
        "llm", "hi", inference_params={"temperature": 0.7, "max_tokens": 50}, model=model
    )
    assert req.model is not None and req.model.model_version is not None
    assert req.model.id == "llm" and req.model.model_version.id == "v1"
    info = req.model.model_version.output_info
    assert info is not None
    assert info.params == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 50}
    wire = msgspec.json.decode(
        msgspec.json.encode(generate_request("m", "x", inference_params={"a": 1}))
    )
    assert wire["model"] == {"model_version": {"output_info": {"params": {"a": 1}}}}


def test_text_of_reads_text_then_parts() -> None:
    decode = msgspec.json.Decoder(GenerateOutput).decode
    assert text_of(decode(b'{"data":{"text":{"raw":"a"}}}')) == "a"
    assert text_of(decode(b'{"data":{"parts":[{"data":{"string_value":"b"}}]}}')) == "b"
    assert text_of(decode(b'{"data":{"parts":[{"data":{"text":{"raw":"c"}}}]}}')) == "c"
    assert text_of(decode(b'{"data":{}}')) == ""
    assert text_of(decode(b"{}")) == ""


# -- the stream ---------------------------------------------------------------------------


async def test_deltas_skip_empty_chunks_and_counts_are_kept() -> None:
    seen: list[GenerateResponse] = []
    core = ScriptedStreams(
        [chunk("Hel"), chunk(part="lo"), chunk(""), chunk(" world", usage=("12", 3))],
    )
    stream = text_stream(core, on_chunk=seen.append)
    assert await deltas(stream) == ["Hel", "lo", " world"]
    assert len(seen) == 4
    assert all(isinstance(c, types.MultiOutputResponse) for c in seen)
    assert stream.last_chunk is seen[-1]
    assert (stream.prompt_tokens, stream.completion_tokens) == (12, 3)
    assert stream.closed and core.opened[0].closed


async def test_counts_are_none_when_not_reported() -> None:
    stream = text_stream(ScriptedStreams([chunk("a")]))
    await deltas(stream)
    assert stream.prompt_tokens is None and stream.completion_tokens is None


async def test_text_needs_keep_text() -> None:
    stream = text_stream(ScriptedStreams([chunk("a"), chunk("b")]))
    with pytest.raises(RuntimeError, match="keep_text"):
        _ = stream.text
    kept = text_stream(ScriptedStreams([chunk("a"), chunk("b"), chunk("c")]), keep_text=True)

    async def partly() -> None:
        async with kept:
            assert await kept.__anext__() == "a"
            assert kept.text == "a"
            assert await kept.__anext__() == "b"
            assert kept.text == "ab"

    await partly()


async def test_read_text_returns_everything_and_closes() -> None:
    core = ScriptedStreams([chunk("Once"), chunk(" upon"), chunk(" a time")])
    stream = text_stream(core)
    assert await stream.read_text() == "Once upon a time"
    assert core.opened[0].closed


async def test_chunks_iterates_full_messages() -> None:
    stream = text_stream(ScriptedStreams([chunk("a"), chunk("", usage=(5, 1))]))

    async def run() -> list[GenerateResponse]:
        async with stream:
            return [c async for c in stream.chunks()]

    got = await run()
    assert len(got) == 2
    assert got[1].outputs[0].prompt_tokens == 5
    assert stream.prompt_tokens == 5


async def test_failed_chunk_raises_typed_error() -> None:
    core = ScriptedStreams([chunk("a"), chunk("", code=21355)])
    with pytest.raises(ModelNotReadyError):
        await deltas(text_stream(core))
    assert core.opened[0].closed


@pytest.mark.parametrize("via_chunks", [False, True])
async def test_failing_on_chunk_closes_the_stream(via_chunks: bool) -> None:
    # A plain ``async for`` (no ``async with``): the failure comes from the stream's
    # own callback, so the stream must drop its connection itself, not wait for GC.
    def on_chunk(chunk: GenerateResponse) -> None:
        raise LookupError("consumer callback failed")

    core = ScriptedStreams([chunk("a"), chunk("b")])
    stream = text_stream(core, on_chunk=on_chunk)

    async def run() -> None:
        source = stream.chunks() if via_chunks else stream
        async for _ in source:
            pass  # pragma: no cover - the first chunk fails

    with pytest.raises(LookupError):
        await run()
    assert stream.closed and core.opened[0].closed
