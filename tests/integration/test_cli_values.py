"""Issue 16 item 5 (CLI side): outputs of current ("pythonic") models print.

``Data.string_value``, ``int_value``, ``bytes_value`` and ``parts`` reach
``aioclarifai predict``'s output and the ``text`` column of flat batch results,
as ``client.predict`` returns them.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aioclarifai import Client, types
from aioclarifai.cli import main
from aioclarifai.cli._render import data_text
from aioclarifai.testing import FakeClarifai


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeClarifai]:
    for name in ("CLARIFAI_USER_ID",):
        monkeypatch.delenv(name, raising=False)
    async with FakeClarifai() as server:
        for kind in ("string", "int", "bytes", "parts"):
            server.add_model(f"{kind}-model", app_id="a", output=kind)
        monkeypatch.setenv("CLARIFAI_PAT", server.pat)
        monkeypatch.setenv("CLARIFAI_APP_ID", "a")
        monkeypatch.setenv("CLARIFAI_API_BASE", server.url)
        yield server


async def _expected(fake: FakeClarifai, model: str) -> types.Data:
    async with Client(pat=fake.pat, base_url=fake.url, app_id="a") as client:
        out = await client.predict(model, types.Input(data=types.Data(text=types.Text(raw="hi"))))
    assert out.data is not None
    return out.data


async def test_predict_prints_string_int_bytes_and_parts(
    fake: FakeClarifai, capsys: pytest.CaptureFixture[str]
) -> None:
    string = await _expected(fake, "string-model")
    number = await _expected(fake, "int-model")
    blob = await _expected(fake, "bytes-model")
    parts = await _expected(fake, "parts-model")
    assert string.string_value and number.int_value and blob.bytes_value and parts.parts
    printed = {}
    for kind in ("string", "int", "bytes", "parts"):
        argv = ["predict", f"{kind}-model", "--text", "hi"]
        assert await asyncio.to_thread(main, argv) == 0
        printed[kind] = capsys.readouterr().out
    assert printed["string"] == string.string_value + "\n"
    assert printed["int"] == f"{number.int_value}\n"
    encoded = base64.b64encode(blob.bytes_value).decode()
    assert printed["bytes"] == f"{len(blob.bytes_value)} bytes, base64: {encoded}\n"
    text_part, count_part = parts.parts
    assert text_part.data is not None and count_part.data is not None
    assert printed["parts"] == (
        f"text: {text_part.data.string_value}\ncount: {count_part.data.int_value}\n"
    )


async def test_batch_text_column_holds_the_values(fake: FakeClarifai, tmp_path: Path) -> None:
    (inputs := tmp_path / "in.txt").write_text("hi\n")
    rows = {}
    for kind in ("string", "int", "parts"):
        out = tmp_path / f"{kind}.csv"
        argv = ["batch", f"{kind}-model", str(inputs), "-o", str(out), "-q"]
        assert await asyncio.to_thread(main, argv) == 0
        (rows[kind],) = csv.DictReader(io.StringIO(out.read_text()))
    assert rows["string"]["text"] == (await _expected(fake, "string-model")).string_value
    assert rows["int"]["text"] == str((await _expected(fake, "int-model")).int_value)
    assert rows["parts"]["text"].startswith("text: ")


def test_data_text_of_other_values() -> None:
    assert data_text(types.Data(float_value=0.25)) == "0.25"
    assert data_text(types.Data(bool_value=True)) == "true"
    assert data_text(types.Data(bytes_value="héllo".encode())) == "héllo"
    one_part = types.Data(parts=[types.Part(id="x", data=types.Data(string_value="only"))])
    assert data_text(one_part) == "only"
    assert data_text(types.Data(text=types.Text(raw="classic"), string_value="new")) == "classic"
    assert data_text(types.Data(concepts=[types.Concept(id="c", value=0.5)])) is None
