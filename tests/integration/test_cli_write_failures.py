"""Issue 14 item 8: a batch job whose output cannot be written stops at the first failed write.

It stops sending inputs (they would be paid for, then lost), prints the summary
and one clear error, exits 1, and a ``--resume`` to a good output records
every input exactly once.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import json
import os
from pathlib import Path
from typing import IO, Any

import pytest

from aioclarifai.cli import _storage, main
from aioclarifai.testing import FakeClarifai


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLARIFAI_PAT", "CLARIFAI_USER_ID", "CLARIFAI_APP_ID", "CLARIFAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)


def _env(monkeypatch: pytest.MonkeyPatch, fake: FakeClarifai) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", fake.pat)
    monkeypatch.setenv("CLARIFAI_APP_ID", "cli-app")
    monkeypatch.setenv("CLARIFAI_API_BASE", fake.url)


def _sent(fake: FakeClarifai) -> int:
    return sum(len(r.json()["inputs"]) for r in fake.requests_for("PostModelOutputs"))


class _FillingDisk:
    """A file that accepts ``budget`` bytes, writes part of the next chunk, then ENOSPC."""

    def __init__(self, f: IO[bytes], budget: int) -> None:
        self._f = f
        self._budget = budget

    def write(self, data: Any) -> int:
        data = bytes(data)
        if len(data) > self._budget:
            self._f.write(data[: self._budget])  # a torn last line, as a full disk leaves
            self._budget = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._budget -= len(data)
        return self._f.write(data)

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
async def test_full_disk_stops_predicting_and_prints_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = tmp_path / "in.txt"
    inputs.write_text("".join(f"sentence {i}\n" for i in range(3000)))
    async with FakeClarifai() as fake:
        _env(monkeypatch, fake)
        fake.set_latency(0.05)  # the whole job would take seconds; the failure comes at once
        argv = ["batch", "m", str(inputs), "-o", "/dev/full", "--batch-size", "10"]
        code = await asyncio.to_thread(main, [*argv, "--concurrency", "40", "-q"])
        sent = _sent(fake)
    assert code == 1
    assert sent < 1000  # stopped early, not every remaining input predicted
    captured = capsys.readouterr()
    (error,) = captured.err.splitlines()
    assert error == (
        "aioclarifai: error: cannot write the results to /dev/full: No space left on device"
    )
    assert captured.out.startswith("stopped: 0 inputs")  # nothing reached the output
    assert "3,000 inputs left: rerun the same command with --resume" in captured.out


async def test_failed_write_then_resume_records_every_input_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, output = tmp_path / "in.txt", tmp_path / "out.jsonl"
    inputs.write_text("".join(f"https://images.example/{i}.jpg\n" for i in range(2000)))
    real_open = _storage.open_output

    def filling(path: str, *, append: bool = False) -> Any:
        return _FillingDisk(real_open(path, append=append), budget=20_000)

    async with FakeClarifai() as fake:
        _env(monkeypatch, fake)
        fake.set_latency(0.02)
        monkeypatch.setattr(_storage, "open_output", filling)
        argv = ["batch", "m", str(inputs), "-o", str(output), "--batch-size", "10", "-q"]
        assert await asyncio.to_thread(main, [*argv, "--concurrency", "40"]) == 1
        first_sent = _sent(fake)
        captured = capsys.readouterr()
        assert "No space left on device" in captured.err
        whole = output.read_bytes().split(b"\n")[:-1]  # less the torn last line
        # The summary counts what surely reached the file (a failed write may have
        # stored part of its chunk: --resume reads the file itself).
        reported = int(captured.out.split()[1])
        assert reported <= len(whole) < 2000
        assert first_sent < 2000

        monkeypatch.setattr(_storage, "open_output", real_open)
        fake.set_latency(None)
        assert await asyncio.to_thread(main, [*argv, "--resume"]) == 0
    with output.open() as f:
        counts = collections.Counter(json.loads(line)["id"] for line in f)
    assert set(counts) == {f"line-{i}" for i in range(1, 2001)}
    assert max(counts.values()) == 1
