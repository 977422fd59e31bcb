"""``aioclarifai predict``, ``generate``, ``fake-server`` and ``demo`` against FakeClarifai."""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
import sys
from pathlib import Path

import pytest

from aioclarifai import Client, types
from aioclarifai.cli import main
from aioclarifai.cli._demo import run_demo
from aioclarifai.testing import FakeClarifai


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLARIFAI_PAT", "CLARIFAI_USER_ID", "CLARIFAI_APP_ID", "CLARIFAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)


def _flags(fake: FakeClarifai) -> list[str]:
    return ["--pat", fake.pat, "--base-url", fake.url, "--app-id", "cli-app"]


async def test_predict_prints_a_concept_table(capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeClarifai() as fake:
        code = await asyncio.to_thread(
            main, ["predict", "general", "--text", "a cat", *_flags(fake)]
        )
        async with Client(pat=fake.pat, base_url=fake.url, app_id="cli-app") as client:
            expected = await client.predict(
                "general", types.Input(data=types.Data(text=types.Text(raw="a cat")))
            )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["concept", "value"]
    assert expected.data is not None
    best = max(expected.data.concepts, key=lambda c: c.value)
    assert lines[2].split() == [best.name or best.id, f"{best.value:.4f}"]


async def test_predict_json_and_user_app_in_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "photo.jpg"
    image.write_bytes(b"\xff\xd8\xff not really a jpeg")
    async with FakeClarifai() as fake:
        argv = ["predict", "someone/their-app/general", "--file", str(image), "--json"]
        argv += ["--pat", fake.pat, "--base-url", fake.url]  # no --app-id: MODEL names it
        code = await asyncio.to_thread(main, argv)
        (record,) = fake.requests_for("PostModelOutputs")
    assert code == 0
    output = json.loads(capsys.readouterr().out)
    assert output["data"]["concepts"]
    assert "/users/someone/apps/their-app/models/general/" in record.path


async def test_predict_failure_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeClarifai() as fake:
        argv = ["predict", "general", "--url", "https://x.example/fail.jpg", *_flags(fake)]
        code = await asyncio.to_thread(main, argv)
    assert code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("aioclarifai: error: output failed: 30002")


async def test_predict_typed_api_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeClarifai() as fake:
        argv = ["predict", "general", "--text", "x", *_flags(fake)]
        argv[argv.index("--pat") + 1] = "not-the-pat"
        code = await asyncio.to_thread(main, argv)
    assert code == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert "11008" in line
    assert "not-the-pat" not in captured.err


async def test_generate_prints_the_stream(capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeClarifai(generate_chunks=5) as fake:
        code = await asyncio.to_thread(main, ["generate", "llm", "Tell me", *_flags(fake)])
        async with Client(pat=fake.pat, base_url=fake.url, app_id="cli-app") as client:
            expected = await client.generate("llm", "Tell me").read_text()
    assert code == 0
    assert capsys.readouterr().out == expected + "\n"


async def test_demo_smoke() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert await run_demo(size=300, out=out, err=err) == 0
    text = out.getvalue()
    assert "▸ Batch job: 300 inputs" in text
    assert "300 inputs in" in text
    assert '299 predicted; 1 failed, as planned (1 URLs contain "fail")' in text
    assert '{"id":"demo-00001","output":' in text
    # The account-limited job: bound by 15 req/s, throttled on the way, nothing lost.
    assert "▸ Account limit: 7,680 inputs" in text
    assert "7,680 inputs in" in text and ", 0 failed:" in text
    assert re.search(r"\d+ requests, [1-9]\d* throttled \(\d+%\) and retried", text), text
    assert "▸ Streamed generation" in text
    assert "16 chunks in" in text
    assert "Next steps:" in text
    assert "batch: 300/300 (100%)" in err.getvalue()


def test_demo_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--size", "200"]) == 0
    assert "200 inputs in" in capsys.readouterr().out


async def test_fake_server_command() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aioclarifai",
        "fake-server",
        "--port",
        "0",
        "--pat",
        "k123",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await proc.stdout.readline()).decode()
        assert line.startswith("FakeClarifai listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        async with (
            Client(pat="k123", base_url=url, app_id="a") as client,
            client.generate("llm", "hi") as stream,
        ):
            assert [delta async for delta in stream]
    finally:
        proc.send_signal(signal.SIGINT)
        await proc.communicate()
    assert proc.returncode == 0


async def test_predict_top_below_one_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    # It used to predict, then crash formatting an empty concept table (a traceback).
    async with FakeClarifai() as fake:
        code = await asyncio.to_thread(
            main, ["predict", "general", "--text", "a cat", "--top", "0", *_flags(fake)]
        )
        assert not fake.requests_for("PostModelOutputs")
    assert code == 2
    assert capsys.readouterr().err == "aioclarifai: error: --top must be at least 1\n"
