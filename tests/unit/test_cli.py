"""The ``aioclarifai`` command line without a server: configuration, parsing, formatting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aioclarifai import types
from aioclarifai.cli._batch import BatchStats
from aioclarifai.cli._main import (
    ModelRef,
    format_output,
    format_summary,
    main,
    parse_model,
)

_ENV = ("CLARIFAI_PAT", "CLARIFAI_USER_ID", "CLARIFAI_APP_ID", "CLARIFAI_API_BASE")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_missing_pat_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "m", "--text", "hi", "--app-id", "a"]) == 2
    assert _one_line_error(capsys) == "aioclarifai: error: no PAT: set CLARIFAI_PAT or pass --pat"


def test_missing_app_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", "secret-pat")
    assert main(["generate", "m", "hello"]) == 2
    line = _one_line_error(capsys)
    assert line.startswith("aioclarifai: error: no app: set CLARIFAI_APP_ID")
    assert "secret-pat" not in line


def test_batch_checks_files_before_any_io(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", "p")
    monkeypatch.setenv("CLARIFAI_APP_ID", "a")
    inputs = tmp_path / "in.txt"
    out = tmp_path / "out.jsonl"
    assert main(["batch", "m", str(inputs), "-o", str(out)]) == 2
    assert "no such input file" in _one_line_error(capsys)
    inputs.write_text("hello\n")
    out.write_text('{"id":"line-1","output":{}}\n')
    assert main(["batch", "m", str(inputs), "-o", str(out)]) == 2
    assert "pass --resume" in _one_line_error(capsys)
    assert main(["batch", "m", str(inputs), "-o", str(inputs)]) == 2
    assert "different files" in _one_line_error(capsys)
    assert main(["batch", "m", str(inputs), "-o", str(tmp_path / "nodir" / "o.jsonl")]) == 2
    assert "no such directory" in _one_line_error(capsys)
    out.unlink()
    assert main(["batch", "m", str(inputs), "-o", str(out), "--batch-size", "129"]) == 2
    assert "between 1 and 128" in _one_line_error(capsys)
    assert main(["batch", "m", str(inputs), "-o", str(out), "--concurrency", "0"]) == 2
    assert "at least 1" in _one_line_error(capsys)
    bad_csv = tmp_path / "in.csv"
    bad_csv.write_text("name\nx\n")
    assert main(["batch", "m", str(bad_csv), "-o", str(out)]) == 2
    assert "CSV header" in _one_line_error(capsys)


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["predict", "m"])  # one of --text/--url/--file is required
    assert info.value.code == 2
    capsys.readouterr()


def test_predict_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", "p")
    assert main(["predict", "u/a/m", "--file", str(tmp_path / "nope.jpg")]) == 2
    assert "cannot read" in _one_line_error(capsys)


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("general", ModelRef("general")),
        ("clarifai/main/general", ModelRef("general", "clarifai", "main")),
        (
            "https://clarifai.com/clarifai/main/models/general-image-recognition",
            ModelRef("general-image-recognition", "clarifai", "main"),
        ),
        ("https://clarifai.com/u/a/models/m/versions/v1", ModelRef("m", "u", "a", "v1")),
        ("openai/chat-completion/models/GPT-4", ModelRef("GPT-4", "openai", "chat-completion")),
        ("u/a/models/m/versions/v.2", ModelRef("m", "u", "a", "v.2")),
        ("https://clarifai.com/u/a/models/m/", ModelRef("m", "u", "a")),
        ("https://api.clarifai.com/v2/users/u/apps/a/models/m", ModelRef("m", "u", "a")),
        (
            "https://api.clarifai.com/v2/users/u/apps/a/models/m/versions/v",
            ModelRef("m", "u", "a", "v"),
        ),
    ],
)
def test_parse_model(text: str, ref: ModelRef) -> None:
    assert parse_model(text) == ref


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a/b",
        "a//c",
        "https://clarifai.com/u/a",
        "u/a/modelz/m",
        "u/a/models/m/versions",
        "u/a/models/m/versions/v/extra",
        "ftp://clarifai.com/u/a/models/m",
        "m?x=1",
        "a/../m",
        "my model",
    ],
)
def test_parse_model_rejects_naming_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="USER/APP/models/MODEL_ID") as info:
        parse_model(text)
    assert "https://clarifai.com/USER/APP/models/MODEL_ID" in str(info.value)


def test_format_output_concepts() -> None:
    out = types.Output(
        data=types.Data(
            concepts=[
                types.Concept(id="c1", name="dog", value=0.25),
                types.Concept(id="c2", name="train", value=0.9996),
                types.Concept(id="c3", value=0.5),
            ]
        )
    )
    assert format_output(out).splitlines() == [
        "concept  value",
        "-------  ------",
        "train    0.9996",
        "c3       0.5000",
        "dog      0.2500",
    ]
    assert format_output(out, top=1).splitlines()[-1].startswith("… 2 more")


def test_format_output_text_and_other() -> None:
    text = types.Output(data=types.Data(text=types.Text(raw="Hello there")))
    assert format_output(text) == "Hello there"
    part = types.Output(
        data=types.Data(parts=[types.Part(data=types.Data(text=types.Text(raw="in a part")))])
    )
    assert format_output(part) == "in a part"
    other = types.Output(data=types.Data(metadata={"k": 1}))
    assert format_output(other) == '{\n  "metadata": {\n    "k": 1\n  }\n}'


def test_format_summary() -> None:
    stats = BatchStats(total=100, skipped=10, done=80, errors=3, malformed=1, elapsed=2.0)
    stats.interrupted = True
    text = format_summary(stats, "out.jsonl")
    assert text.splitlines() == [
        "stopped: 80 inputs in 2.0 s (40 inputs/s)",
        "  77 succeeded, 3 failed (1 unreadable input lines), 10 already in the output (skipped)",
        "  results: out.jsonl",
        '  failed inputs have an "error" field: grep \'"error"\' out.jsonl',
        "  10 inputs left: rerun the same command with --resume to finish",
    ]


def test_import_stays_cheap() -> None:
    # The CLI and tqdm are never imported by ``import aioclarifai``.
    code = (
        "import sys, aioclarifai; "
        "print(sorted(m for m in sys.modules if m.startswith(('aioclarifai.cli', "
        "'aioclarifai._cli_', 'tqdm'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_python_m_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aioclarifai", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("predict", "batch", "generate", "fake-server", "demo"):
        assert command in result.stdout
    assert "--size" not in result.stdout


def test_format_summary_when_everything_was_done() -> None:
    stats = BatchStats(total=5, skipped=5, elapsed=0.1)
    assert format_summary(stats, "o.jsonl") == (
        "nothing to do: all 5 inputs are already in o.jsonl (delete it to start over)"
    )
