"""Issue 17 items 3 and 4 end to end: model references reach the right path; input kinds,
``-p`` parameters and output settings reach the request where the live API reads them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aioclarifai.cli import main
from aioclarifai.testing import FakeClarifai


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeClarifai]:
    for name in ("CLARIFAI_USER_ID", "CLARIFAI_APP_ID"):
        monkeypatch.delenv(name, raising=False)
    async with FakeClarifai() as server:
        monkeypatch.setenv("CLARIFAI_PAT", server.pat)
        monkeypatch.setenv("CLARIFAI_API_BASE", server.url)
        yield server


_FORMS = [
    ("general", "/v2/users/me/apps/cli-app/models/general/outputs"),
    ("u1/app1/general", "/v2/users/u1/apps/app1/models/general/outputs"),
    ("u1/app1/models/general", "/v2/users/u1/apps/app1/models/general/outputs"),
    (
        "openai/chat-completion/models/GPT-4/versions/v9",
        "/v2/users/openai/apps/chat-completion/models/GPT-4/versions/v9/outputs",
    ),
    (
        "https://clarifai.com/clarifai/main/models/general-image-recognition",
        "/v2/users/clarifai/apps/main/models/general-image-recognition/outputs",
    ),
    (
        "https://clarifai.com/clarifai/main/models/m/versions/aa11",
        "/v2/users/clarifai/apps/main/models/m/versions/aa11/outputs",
    ),
]


@pytest.mark.parametrize(("ref", "path"), _FORMS)
@pytest.mark.parametrize("command", ["predict", "batch", "generate"])
async def test_each_model_reference_reaches_its_path(
    fake: FakeClarifai, tmp_path: Path, command: str, ref: str, path: str
) -> None:
    argv = {
        "predict": ["predict", ref, "--text", "hi"],
        "batch": ["batch", ref, str(tmp_path / "in.txt"), "-o", str(tmp_path / "o.jsonl"), "-q"],
        "generate": ["generate", ref, "hi"],
    }[command]
    (tmp_path / "in.txt").write_text("hi\n")
    assert await asyncio.to_thread(main, [*argv, "--app-id", "cli-app"]) == 0
    if command == "generate":
        (record,) = fake.requests_for("GenerateModelOutputs")
        assert record.path == path.replace("/outputs", "/outputs/generate")
    else:
        (record,) = fake.requests_for("PostModelOutputs")
        assert record.path == path


async def test_a_bad_reference_names_the_accepted_forms(
    fake: FakeClarifai, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(main, ["predict", "a/b", "--text", "hi"]) == 2
    err = capsys.readouterr().err
    assert "MODEL_ID, USER/APP/MODEL_ID, USER/APP/models/MODEL_ID[/versions/VERSION_ID]" in err
    assert not fake.requests


async def test_version_flag_and_reference_must_agree(
    fake: FakeClarifai, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["predict", "u/a/models/m/versions/v1", "--version", "v2", "--text", "x"]
    assert await asyncio.to_thread(main, argv) == 2
    assert "names version v1 but --version says v2" in capsys.readouterr().err


def _data(record: Any) -> dict[str, Any]:
    body = record.json()
    (inp,) = body["inputs"]
    data: dict[str, Any] = inp["data"]
    return data


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--url", "https://x.example/clip.mp4"], "video"),
        (["--url", "https://x.example/song.mp3?sig=1"], "audio"),
        (["--url", "https://x.example/notes.txt"], "text"),
        (["--url", "https://x.example/photo"], "image"),
        (["--url", "https://x.example/photo", "--type", "video"], "video"),
        (["--url", "https://x.example/clip.mp4", "--type", "image"], "image"),
    ],
)
async def test_predict_url_kinds(fake: FakeClarifai, flags: list[str], field: str) -> None:
    assert await asyncio.to_thread(main, ["predict", "m", *flags, "--app-id", "a"]) == 0
    (record,) = fake.requests_for("PostModelOutputs")
    data = _data(record)
    assert list(data) == [field]
    assert data[field]["url"] == flags[1]


async def test_predict_file_kinds(fake: FakeClarifai, tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF....WAVE")
    (tmp_path / "b.bin").write_bytes(b"\x00\x01")
    for name, flags, field in [
        ("a.wav", [], "audio"),
        ("b.bin", [], "image"),
        ("b.bin", ["--type", "video"], "video"),
    ]:
        argv = ["predict", "m", "--file", str(tmp_path / name), *flags, "--app-id", "a"]
        assert await asyncio.to_thread(main, argv) == 0
        assert list(_data(fake.requests_for("PostModelOutputs")[-1])) == [field]


async def test_text_cannot_be_another_type(
    fake: FakeClarifai, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["predict", "m", "--text", "hi", "--type", "image", "--app-id", "a"]
    assert await asyncio.to_thread(main, argv) == 2
    assert "--text sends a text" in capsys.readouterr().err


async def test_parameters_and_output_settings_reach_output_info(fake: FakeClarifai) -> None:
    argv = ["predict", "m", "--text", "hi", "--app-id", "a"]
    argv += ["-p", "temperature=0.2", "-p", "max_tokens=100", "-p", "stream=true"]
    argv += ["-p", 'stop=["\\n"]', "-p", "system_prompt=be brief", "-p", "ratio=1e-3"]
    argv += ["--min-value", "0.5", "--max-concepts", "3", "--select-concepts", "cat,id:ai_dog"]
    assert await asyncio.to_thread(main, argv) == 0
    (record,) = fake.requests_for("PostModelOutputs")
    info = record.json()["model"]["model_version"]["output_info"]
    assert info["params"] == {
        "temperature": 0.2,
        "max_tokens": 100,
        "stream": True,
        "stop": ["\n"],
        "system_prompt": "be brief",
        "ratio": 0.001,
    }
    assert info["output_config"] == {
        "min_value": 0.5,
        "max_concepts": 3,
        "select_concepts": [{"name": "cat"}, {"id": "ai_dog"}],
    }


async def test_generate_and_batch_send_parameters(fake: FakeClarifai, tmp_path: Path) -> None:
    argv = ["generate", "llm", "hi", "-p", "temperature=0.7", "--app-id", "a"]
    assert await asyncio.to_thread(main, argv) == 0
    (inputs := tmp_path / "in.txt").write_text("a\nb\n")
    argv = ["batch", "m", str(inputs), "-o", str(tmp_path / "o.jsonl"), "-q", "--app-id", "a"]
    assert await asyncio.to_thread(main, [*argv, "-p", "top_k=5", "--max-concepts", "2"]) == 0
    (gen,) = fake.requests_for("GenerateModelOutputs")
    (batch,) = fake.requests_for("PostModelOutputs")
    assert gen.json()["model"]["model_version"]["output_info"]["params"] == {"temperature": 0.7}
    info = batch.json()["model"]["model_version"]["output_info"]
    assert info == {"params": {"top_k": 5}, "output_config": {"max_concepts": 2}}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["-p", "novalue"], "-p takes key=value"),
        (["-p", "=1"], "-p takes key=value"),
        (["--min-value", "2"], "--min-value must be between 0 and 1"),
        (["--max-concepts", "0"], "--max-concepts must be at least 1"),
        (["--select-concepts", "a,,b"], "not an empty one"),
    ],
)
async def test_bad_settings_are_usage_errors_before_any_request(
    fake: FakeClarifai, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    argv = ["predict", "m", "--text", "hi", "--app-id", "a", *flags]
    assert await asyncio.to_thread(main, argv) == 2
    assert message in capsys.readouterr().err
    assert not fake.requests


async def test_batch_type_field_and_column(fake: FakeClarifai, tmp_path: Path) -> None:
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps(item)
            for item in [
                {"id": "v", "url": "https://x.example/a", "type": "video"},
                {"id": "a", "url": "https://x.example/b.flac"},
                {"id": "t", "url": "https://x.example/c.txt"},
                {"id": "i", "url": "https://x.example/d"},
                {"id": "bad", "url": "https://x.example/e", "type": "hologram"},
                {"id": "bad2", "text": "hello", "type": "image"},
            ]
        )
        + "\n"
    )
    csv_file = tmp_path / "in.csv"
    csv_file.write_text("id,type,url\nv2,VIDEO,https://x.example/f\na2,,https://x.example/g.mp3\n")
    for inputs in (jsonl, csv_file):
        out = tmp_path / f"{inputs.name}.out.jsonl"
        argv = ["batch", "m", str(inputs), "-o", str(out), "-q", "--app-id", "a"]
        await asyncio.to_thread(main, argv)
    sent = {
        inp["id"]: list(inp["data"])
        for r in fake.requests_for("PostModelOutputs")
        for inp in r.json()["inputs"]
    }
    assert sent == {
        "v": ["video"],
        "a": ["audio"],
        "t": ["text"],
        "i": ["image"],
        "v2": ["video"],
        "a2": ["audio"],
    }
    with (tmp_path / "in.jsonl.out.jsonl").open() as f:
        errors = {r["id"]: r["error"]["message"] for r in map(json.loads, f) if "error" in r}
    assert errors == {
        "bad": "type must be one of image, video, audio, text, not 'hologram'",
        "bad2": "a text cannot be sent as image",
    }
