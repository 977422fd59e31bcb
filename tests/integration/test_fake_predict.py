"""FakeClarifai's predictions and streamed generations, through the real Client."""

from __future__ import annotations

import msgspec
import pytest

from aioclarifai import APIStatusError, BadRequestError, Client, StreamError, types
from aioclarifai.testing import FakeClarifai, concepts_for
from aioclarifai.testing._server import generated_text

Code = types.StatusCode


def _image(url: str, input_id: str = "") -> types.Input:
    return types.Input(id=input_id, data=types.Data(image=types.Image(url=url)))


def _text(raw: str, input_id: str = "") -> types.Input:
    return types.Input(id=input_id, data=types.Data(text=types.Text(raw=raw)))


async def test_outputs_follow_inputs_and_are_deterministic(clarifai_client: Client) -> None:
    inputs = [
        _image("https://x/cat.jpg", "a"),
        _text("hello"),
        types.Input(id="c", data=types.Data(image=types.Image(base64=b"\x89PNG..."))),
    ]
    resp = await clarifai_client.post_model_outputs(model_id="general", inputs=inputs)
    assert resp.status is not None and resp.status.code == Code.SUCCESS and resp.status.req_id
    assert len(resp.outputs) == 3
    ids = [o.input.id for o in resp.outputs]  # type: ignore[union-attr]
    assert ids[0] == "a" and ids[1] and ids[2] == "c"
    assert resp.outputs[2].input.data.image.base64 == b"\x89PNG..."  # type: ignore[union-attr]
    keys = [b"https://x/cat.jpg", b"hello", b"\x89PNG..."]
    for out, key in zip(resp.outputs, keys, strict=True):
        assert out.status is not None and out.status.code == Code.SUCCESS
        assert out.data is not None and out.data.concepts == concepts_for(key)
        assert out.model is not None and out.model.id == "general"
    again = await clarifai_client.post_model_outputs(model_id="general", inputs=inputs[:1])
    assert again.outputs[0].data == resp.outputs[0].data
    assert resp.outputs[0].data != resp.outputs[1].data


async def test_version_path(clarifai_client: Client, fake_clarifai: FakeClarifai) -> None:
    resp = await clarifai_client.post_model_outputs(
        model_id="general", version_id="v1", inputs=[_text("x")]
    )
    assert resp.outputs[0].model.model_version.id == "v1"  # type: ignore[union-attr]
    assert fake_clarifai.requests[-1].path.endswith("/models/general/versions/v1/outputs")


async def test_partial_failure_is_mixed_status(clarifai_client: Client) -> None:
    resp = await clarifai_client.post_model_outputs(
        model_id="m", inputs=[_image("https://x/ok.jpg"), _image("https://x/fail.jpg"), _text("ok")]
    )
    assert resp.status is not None and resp.status.code == Code.MIXED_STATUS
    codes = [o.status.code for o in resp.outputs]  # type: ignore[union-attr]
    assert codes == [Code.SUCCESS, Code.INPUT_DOWNLOAD_FAILED, Code.SUCCESS]
    assert resp.outputs[1].data is None


async def test_all_failed_is_failure(clarifai_client: Client) -> None:
    with pytest.raises(APIStatusError) as info:
        await clarifai_client.post_model_outputs(
            model_id="m", inputs=[_text("please fail"), _image("https://fail/x.jpg")]
        )
    assert info.value.code == Code.FAILURE and info.value.http_status == 400


async def test_more_than_128_inputs_is_refused(clarifai_client: Client) -> None:
    with pytest.raises(BadRequestError) as info:
        await clarifai_client.post_model_outputs(
            model_id="m", inputs=[_text(str(i)) for i in range(129)]
        )
    assert info.value.code == Code.CONN_INVALID_REQUEST and info.value.http_status == 400
    ok = await clarifai_client.post_model_outputs(
        model_id="m", inputs=[_text(str(i)) for i in range(128)]
    )
    assert len(ok.outputs) == 128


async def test_predict_helper_batches_against_the_fake(clarifai_client: Client) -> None:
    out = await clarifai_client.predict("m", _text("a dog", "mine"))
    assert out.input is not None and out.input.id == "mine"
    assert out.data is not None and out.data.concepts == concepts_for(b"a dog")


async def test_generate_streams_deterministic_text(
    clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    fake_clarifai.generate_chunks = 5
    request = types.PostModelOutputsRequest(model_id="llm", inputs=[_text("Tell me a story")])
    pieces = []
    async with clarifai_client.generate_model_outputs(request) as stream:
        async for chunk in stream:
            assert chunk.status is not None and chunk.status.code == Code.SUCCESS
            pieces.append(chunk.outputs[0].data.text.raw)  # type: ignore[union-attr]
    assert len(pieces) == 5
    assert "".join(pieces) == generated_text(b"Tell me a story")
    assert fake_clarifai.requests[-1].operation == "GenerateModelOutputs"


async def test_generate_error_frame(clarifai_client: Client, fake_clarifai: FakeClarifai) -> None:
    fake_clarifai.inject("generate_model_outputs", stream_error_after=2)
    request = types.PostModelOutputsRequest(model_id="llm", inputs=[_text("hi")])
    got = 0
    with pytest.raises(StreamError):
        async with clarifai_client.generate_model_outputs(request) as stream:
            async for _ in stream:
                got += 1
    assert got == 2


async def test_generate_wire_format(fake_clarifai: FakeClarifai) -> None:
    import aiohttp

    fake_clarifai.generate_chunks = 3
    url = f"{fake_clarifai.url}/v2/users/me/apps/a/models/llm/outputs/generate"
    async with aiohttp.ClientSession() as session, session.post(
        url, data=b'{"inputs":[{"data":{"text":{"raw":"x"}}}]}',
        headers={"Authorization": f"Key {fake_clarifai.pat}"},
    ) as resp:  # fmt: skip
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        lines = (await resp.read()).splitlines()
    assert len(lines) == 3
    frames = [msgspec.json.decode(line) for line in lines]
    assert all(set(f) == {"result"} for f in frames)
    assert frames[0]["result"]["status"]["req_id"]


async def test_early_break_closes_the_stream(
    clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    import asyncio

    fake_clarifai.generate_chunks, fake_clarifai.generate_pace = 50, 0.01
    request = types.PostModelOutputsRequest(model_id="llm", inputs=[_text("hi")])
    async with clarifai_client.generate_model_outputs(request) as stream:
        async for _ in stream:
            break
    for _ in range(100):
        if fake_clarifai.client_disconnects:
            break
        await asyncio.sleep(0.01)
    assert fake_clarifai.client_disconnects == 1
