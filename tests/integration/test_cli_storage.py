"""``aioclarifai batch`` with inputs and outputs anywhere (issue 17 items 1 and 2).

http:// input from a local aiohttp server, ``-`` for stdin and stdout (in a
child process, as a shell pipe would run it), fsspec's ``memory://`` store
standing in for s3/gs/az (same code path: a remote, non-appendable store),
and JSONL, CSV and Parquet outputs read back by their usual readers.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import fsspec
import pyarrow.parquet as pq
import pytest
from aiohttp import web

from aioclarifai.cli import main
from aioclarifai.cli._writers import flat_columns
from aioclarifai.testing import FakeClarifai


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLARIFAI_PAT", "CLARIFAI_USER_ID", "CLARIFAI_APP_ID", "CLARIFAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def memory_fs() -> Iterator[fsspec.AbstractFileSystem]:
    fs = fsspec.filesystem("memory")
    fs.store.clear()
    yield fs
    fs.store.clear()


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeClarifai]:
    async with FakeClarifai() as server:
        monkeypatch.setenv("CLARIFAI_PAT", server.pat)
        monkeypatch.setenv("CLARIFAI_APP_ID", "cli-app")
        monkeypatch.setenv("CLARIFAI_API_BASE", server.url)
        yield server


def _jsonl(n: int, *, fail_every: int = 0) -> bytes:
    lines = []
    for i in range(n):
        if fail_every and i % fail_every == 0:
            lines.append({"id": f"in-{i}", "url": f"https://images.example/fail-{i}.jpg"})
        elif i % 2:
            lines.append({"id": f"in-{i}", "text": f"text {i}"})
        else:
            lines.append({"id": f"in-{i}", "url": f"https://images.example/{i}.jpg"})
    return b"".join(json.dumps(item).encode() + b"\n" for item in lines)


@pytest.fixture
async def http_inputs(tmp_path: Path) -> AsyncIterator[str]:
    """A loopback web server serving tmp_path/served/ (with Range support, like a CDN)."""
    served = tmp_path / "served"
    served.mkdir()
    app = web.Application()
    app.router.add_static("/files/", served)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/files/"
    finally:
        await runner.cleanup()


async def test_http_input_to_parquet_one_row_per_input(
    tmp_path: Path, fake: FakeClarifai, http_inputs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "served" / "inputs.jsonl").write_bytes(_jsonl(300, fail_every=50))
    output = tmp_path / "results.parquet"
    argv = ["batch", "general", f"{http_inputs}inputs.jsonl", "-o", str(output), "-q"]
    code = await asyncio.to_thread(main, argv)
    assert code == 1  # six inputs failed, and say so
    table = pq.read_table(output)
    assert table.num_rows == 300
    assert table.column_names == flat_columns(5)
    rows = table.to_pylist()
    assert sorted(r["id"] for r in rows) == sorted(f"in-{i}" for i in range(300))
    failed = [r for r in rows if r["status"] == "error"]
    assert len(failed) == 6
    assert all(r["error_type"] == "OutputError" and r["error_code"] == 30002 for r in failed)
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(r["concept_1"] and 0 < r["value_1"] <= 1 for r in ok)
    assert all(r["value_1"] >= r["value_5"] for r in ok)  # best first
    assert not (tmp_path / "results.parquet.partial").exists()
    assert "done: 300 inputs" in capsys.readouterr().out


async def test_missing_http_input_is_a_usage_error(
    fake: FakeClarifai, http_inputs: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["batch", "m", f"{http_inputs}nope.jsonl", "-o", str(tmp_path / "o.jsonl")]
    assert await asyncio.to_thread(main, argv) == 2
    assert "no such input" in capsys.readouterr().err
    assert not fake.requests_for("PostModelOutputs")


async def test_http_output_is_refused_before_any_work(
    fake: FakeClarifai, http_inputs: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in.txt").write_text("hello\n")
    argv = ["batch", "m", str(tmp_path / "in.txt"), "-o", f"{http_inputs}out.jsonl"]
    assert await asyncio.to_thread(main, argv) == 2
    assert "http(s) is read-only" in capsys.readouterr().err
    assert not fake.requests_for("PostModelOutputs")


def _records(data: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]


async def test_stdin_to_stdout_in_a_pipe(tmp_path: Path) -> None:
    async with FakeClarifai() as fake:
        env = {
            **os.environ,
            "CLARIFAI_PAT": fake.pat,
            "CLARIFAI_APP_ID": "cli-app",
            "CLARIFAI_API_BASE": fake.url,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aioclarifai", "batch", "general", "-", "-o", "-",
            "--format", "jsonl",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(_jsonl(120)), 50)
    assert proc.returncode == 0, err.decode()
    records = _records(out)  # stdout holds the results and nothing else
    assert sorted(str(r["id"]) for r in records) == sorted(f"in-{i}" for i in range(120))
    assert all("output" in r for r in records)
    assert "done: 120 inputs" in err.decode()  # the summary went to stderr
    assert "results: stdout" in err.decode()


async def test_stdout_parquet_and_csv(
    fake: FakeClarifai,
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    inputs = tmp_path / "in.jsonl"
    inputs.write_bytes(_jsonl(40))
    argv = ["batch", "m", str(inputs), "-o", "-", "-q", "--output-format", "parquet"]
    assert await asyncio.to_thread(main, argv) == 0
    table = pq.read_table(io.BytesIO(capsysbinary.readouterr().out))
    assert table.num_rows == 40
    argv = ["batch", "m", str(inputs), "-o", "-", "-q", "--output-format", "csv", "--top", "2"]
    assert await asyncio.to_thread(main, argv) == 0
    rows = list(csv.DictReader(io.StringIO(capsysbinary.readouterr().out.decode())))
    assert len(rows) == 40
    assert list(rows[0]) == flat_columns(2)
    text_rows = [r for r in rows if r["id"] in {"in-1", "in-3"}]
    assert all(r["status"] == "ok" and r["concept_1"] for r in text_rows)


async def test_resume_to_stdout_is_refused(
    fake: FakeClarifai, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in.txt").write_text("a\n")
    argv = ["batch", "m", str(tmp_path / "in.txt"), "-o", "-", "--resume"]
    assert await asyncio.to_thread(main, argv) == 2
    assert "--resume needs an OUTPUT file" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
async def test_remote_output_and_resume_rewrites_it(
    fake: FakeClarifai,
    memory_fs: fsspec.AbstractFileSystem,
    fmt: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    memory_fs.pipe("/jobs/in.jsonl", _jsonl(200))
    out = f"memory://jobs/out.{fmt}"
    first_half = b"".join(_jsonl(200).splitlines(keepends=True)[:80])
    memory_fs.pipe("/jobs/half.jsonl", first_half)
    # A first run over the first 80 inputs, then --resume over all 200.
    assert await asyncio.to_thread(main, ["batch", "m", "memory://jobs/half.jsonl", "-o", out]) == 0
    argv = ["batch", "m", "memory://jobs/in.jsonl", "-o", out, "-q"]
    assert await asyncio.to_thread(main, argv) == 2  # exists: needs --resume
    assert "pass --resume" in capsys.readouterr().err
    before = len(fake.requests_for("PostModelOutputs"))
    assert await asyncio.to_thread(main, [*argv, "--resume"]) == 0
    assert "80 already in the output (skipped)" in capsys.readouterr().out
    data = memory_fs.cat("/jobs/out." + fmt)
    if fmt == "jsonl":
        ids = [str(r["id"]) for r in _records(data)]
    elif fmt == "csv":
        ids = [r["id"] for r in csv.DictReader(io.StringIO(data.decode()))]
    else:
        ids = pq.read_table(io.BytesIO(data)).column("id").to_pylist()
    assert sorted(ids) == sorted(f"in-{i}" for i in range(200))  # every input exactly once
    sent = sum(len(r.json()["inputs"]) for r in fake.requests_for("PostModelOutputs")[before:])
    assert sent == 120  # only the new ones were predicted


async def test_local_csv_resume_appends_after_a_torn_record(
    fake: FakeClarifai, tmp_path: Path
) -> None:
    inputs, output = tmp_path / "in.jsonl", tmp_path / "out.csv"
    inputs.write_bytes(_jsonl(50))
    header = ",".join(flat_columns(5))
    # A killed run: one whole record, then a quoted text cut off mid-cell.
    output.write_text(f'{header}\nin-0,ok,,,,,,,,,,,"a text\nwith,,,\nin-1,ok,"cut')
    code = await asyncio.to_thread(
        main, ["batch", "m", str(inputs), "-o", str(output), "--resume", "-q"]
    )
    assert code == 0
    with output.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["id"] for r in rows) == sorted(f"in-{i}" for i in range(50))


async def test_csv_resume_with_other_columns_is_refused(
    fake: FakeClarifai, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, output = tmp_path / "in.jsonl", tmp_path / "out.csv"
    inputs.write_bytes(_jsonl(10))
    assert await asyncio.to_thread(main, ["batch", "m", str(inputs), "-o", str(output)]) == 0
    argv = ["batch", "m", str(inputs), "-o", str(output), "--resume", "--top", "3"]
    assert await asyncio.to_thread(main, argv) == 2
    assert "other columns" in capsys.readouterr().err


async def test_parquet_resume_of_a_broken_file_is_refused(
    fake: FakeClarifai, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, output = tmp_path / "in.jsonl", tmp_path / "out.parquet"
    inputs.write_bytes(_jsonl(10))
    output.write_bytes(b"PAR1 and no footer")
    argv = ["batch", "m", str(inputs), "-o", str(output), "--resume"]
    assert await asyncio.to_thread(main, argv) == 2
    assert "not a complete Parquet file" in capsys.readouterr().err
    assert output.read_bytes() == b"PAR1 and no footer"  # left as it was
    assert not fake.requests_for("PostModelOutputs")


async def test_missing_storage_extra_names_it(
    fake: FakeClarifai,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)
    monkeypatch.setitem(sys.modules, "fsspec.core", None)
    argv = ["batch", "m", "s3://bucket/in.jsonl", "-o", str(tmp_path / "o.jsonl")]
    assert await asyncio.to_thread(main, argv) == 2
    assert "pip install 'aioclarifai[storage]'" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    (tmp_path / "in.txt").write_text("a\n")
    argv = ["batch", "m", str(tmp_path / "in.txt"), "-o", str(tmp_path / "o.parquet")]
    assert await asyncio.to_thread(main, argv) == 2
    assert "pip install 'aioclarifai[parquet]'" in capsys.readouterr().err


async def test_dry_run_reads_everything_and_sends_nothing(
    fake: FakeClarifai, tmp_path: Path, http_inputs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _jsonl(1000) + b'{"id": "x", "colour": "red"}\nnot json\n'
    (tmp_path / "served" / "in.jsonl").write_bytes(data)
    argv = ["batch", "m", f"{http_inputs}in.jsonl", "-o", str(tmp_path / "o.parquet"), "--dry-run"]
    assert await asyncio.to_thread(main, argv) == 1  # two rows would fail
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "dry run: 1,000 inputs in 8 requests; at least 0:01 (0.5 s) at 15 requests/s; "
        "nothing was sent"
    )
    assert "2 inputs cannot be read" in out
    assert "line 1001 (x): unknown field(s): colour" in out
    assert "line 1002 (line-1002): invalid JSON" in out
    assert not fake.requests
    assert not (tmp_path / "o.parquet").exists()
    argv = ["batch", "m", f"{http_inputs}in.jsonl", "-o", "o.jsonl", "--dry-run"]
    argv += ["--batch-size", "128", "--rate", "2"]
    assert await asyncio.to_thread(main, argv) == 1
    assert "1,000 inputs in 8 requests; at least 0:04 (4.0 s) at 2 requests/s" in (
        capsys.readouterr().out
    )


async def test_local_parquet_resume_rewrites_through_a_partial_file(
    fake: FakeClarifai, tmp_path: Path
) -> None:
    inputs, half, out = tmp_path / "in.jsonl", tmp_path / "half.jsonl", tmp_path / "o.parquet"
    inputs.write_bytes(_jsonl(90))
    half.write_bytes(b"".join(_jsonl(90).splitlines(keepends=True)[:30]))
    assert await asyncio.to_thread(main, ["batch", "m", str(half), "-o", str(out), "-q"]) == 0
    argv = ["batch", "m", str(inputs), "-o", str(out), "-q", "--resume"]
    assert await asyncio.to_thread(main, argv) == 0
    ids = pq.read_table(out).column("id").to_pylist()
    assert sorted(ids) == sorted(f"in-{i}" for i in range(90))
    assert sorted(os.listdir(tmp_path)) == ["half.jsonl", "in.jsonl", "o.parquet"]
