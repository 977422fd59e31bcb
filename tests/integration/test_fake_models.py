"""FakeClarifai models that answer as current models do: string, int, bytes values and parts."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from aioclarifai import Client, types
from aioclarifai.testing import FakeClarifai
from aioclarifai.testing._server import generated_text
from aioclarifai.testing._state._common import digest

APP = "test-app"


def _text(raw: str, input_id: str = "") -> types.Input:
    return types.Input(id=input_id, data=types.Data(text=types.Text(raw=raw)))


async def _raw_predict(fake: FakeClarifai, model_id: str, raw: str) -> Any:
    """The answer's JSON as the fake wrote it (the wire shape, whatever the client's types)."""
    url = f"{fake.url}/v2/users/me/apps/{APP}/models/{model_id}/outputs"
    body = {"inputs": [{"id": "i", "data": {"text": {"raw": raw}}}]}
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Key {fake.pat}"}
        async with session.post(url, json=body, headers=headers) as resp:
            assert resp.status == 200
            return await resp.json()


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("string", lambda key: {"string_value": generated_text(key)}),
        ("int", lambda key: {"int_value": str(int.from_bytes(digest(key)[:4], "big") % 1000)}),
        ("bytes", lambda key: {"bytes_value": base64.b64encode(digest(key)).decode()}),
        (
            "parts",
            lambda key: {
                "parts": [
                    {"id": "text", "data": {"string_value": generated_text(key)}},
                    {
                        "id": "count",
                        "data": {"int_value": str(int.from_bytes(digest(key)[:4], "big") % 1000)},
                    },
                ]
            },
        ),
        ("text", lambda key: {"text": {"raw": generated_text(key)}}),
    ],
)
async def test_model_answers_with_its_output_kind(
    fake_clarifai: FakeClarifai, output: str, expected: Any
) -> None:
    fake_clarifai.add_model("modern", app_id=APP, output=output)
    answer = await _raw_predict(fake_clarifai, "modern", "hello")
    assert answer["outputs"][0]["data"] == expected(b"hello")
    # Other models keep answering with concepts.
    classic = await _raw_predict(fake_clarifai, "classic", "hello")
    assert set(classic["outputs"][0]["data"]) == {"concepts"}


async def test_added_model_is_stored_and_echoed(
    clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    stored = fake_clarifai.add_model(
        "llm", app_id=APP, output="text", model=types.Model(description="a text model")
    )
    assert stored.user_id == "test-user" and stored.app_id == APP and stored.created_at
    resp = await clarifai_client.post_model_outputs(model_id="llm", inputs=[_text("hi")])
    out = resp.outputs[0]
    assert out.data is not None and out.data.text is not None
    assert out.data.text.raw == generated_text(b"hi")
    assert out.model is not None and out.model.description == "a text model"


def test_unknown_output_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="output must be one of"):
        FakeClarifai().add_model("m", app_id=APP, output="floats")


async def test_current_outputs_decode_through_the_client(
    clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    fake_clarifai.add_model("py", app_id=APP, output="parts")
    resp = await clarifai_client.post_model_outputs(model_id="py", inputs=[_text("hello")])
    data = resp.outputs[0].data
    assert data is not None and [p.id for p in data.parts] == ["text", "count"]
    assert data.parts[0].data is not None and data.parts[0].data.string_value == generated_text(
        b"hello"
    )
    count = int.from_bytes(digest(b"hello")[:4], "big") % 1000
    assert data.parts[1].data is not None and data.parts[1].data.int_value == count


async def test_a_string_model_streams_string_deltas(
    clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    fake_clarifai.add_model("llm", app_id=APP, output="string")
    async with clarifai_client.generate_model_outputs(
        model_id="llm", inputs=[_text("a poem")]
    ) as s:
        deltas = [m.outputs[0].data.string_value async for m in s]  # type: ignore[union-attr]
    assert "".join(deltas) == generated_text(b"a poem")
    assert len(deltas) == fake_clarifai.generate_chunks
