"""``aioclarifai batch`` end to end against FakeClarifai over loopback."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from aioclarifai import Client
from aioclarifai.cli import main
from aioclarifai.cli._batch import run_batch
from aioclarifai.testing import FakeClarifai


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLARIFAI_PAT", "CLARIFAI_USER_ID", "CLARIFAI_APP_ID", "CLARIFAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)


def _env(monkeypatch: pytest.MonkeyPatch, fake: FakeClarifai) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", fake.pat)
    monkeypatch.setenv("CLARIFAI_APP_ID", "cli-app")
    monkeypatch.setenv("CLARIFAI_API_BASE", fake.url)


def _write_jsonl(
    path: Path, n: int, *, fail_every: int = 0, malformed: tuple[int, ...] = ()
) -> set[str]:
    """n input lines (even lines with ids, odd without); returns every id the output must hold."""
    ids = set()
    with path.open("w") as f:
        for i in range(1, n + 1):
            if i in malformed:
                f.write('{"id": "broken", "text": \n' if i % 2 == 0 else "not json at all\n")
                ids.add(f"line-{i}")
                continue
            item: dict[str, str] = {}
            if i % 2 == 0:
                item["id"] = f"item-{i}"
            if fail_every and i % fail_every == 0:
                item["url"] = f"https://images.example/fail-{i}.jpg"
            elif i % 3:
                item["url"] = f"https://images.example/{i}.jpg"
            else:
                item["text"] = f"text number {i}"
            f.write(json.dumps(item) + "\n")
            ids.add(item.get("id", f"line-{i}"))
    return ids


def _records(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [json.loads(line) for line in f]


def _assert_exactly_once(path: Path, ids: set[str]) -> list[dict[str, Any]]:
    records = _records(path)
    counts = collections.Counter(r["id"] for r in records)
    assert set(counts) == ids
    assert max(counts.values()) == 1
    return records


async def test_batch_job_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = _write_jsonl(inputs, 500, fail_every=50, malformed=(7, 99, 333))
    async with FakeClarifai() as fake:
        _env(monkeypatch, fake)
        argv = ["batch", "general", str(inputs), "-o", str(output), "--batch-size", "32"]
        code = await asyncio.to_thread(main, [*argv, "--concurrency", "64"])
        requests = len(fake.requests_for("PostModelOutputs"))
    assert code == 1  # some inputs failed
    records = _assert_exactly_once(output, ids)
    errors = {r["id"]: r["error"] for r in records if "error" in r}
    assert len(errors) == 10 + 3
    assert errors["line-7"]["type"] == "InputError"
    assert errors["line-7"]["line"] == 7
    assert errors["line-99"]["message"].startswith("invalid JSON")
    assert errors["item-50"]["code"] == 30002
    assert errors["item-50"]["type"] == "OutputError"
    ok = [r for r in records if "output" in r]
    assert len(ok) == 487
    assert all(r["output"]["data"]["concepts"] for r in ok)
    assert all("input" not in r["output"] for r in ok)
    assert requests <= 497 // 32 + 4  # coalesced, not one request per input
    out = capsys.readouterr().out
    assert "done: 500 inputs" in out
    assert "487 succeeded, 13 failed (3 unreadable input lines)" in out


async def test_batch_csv_all_ok_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, output = tmp_path / "in.csv", tmp_path / "out.jsonl"
    inputs.write_text(
        "id,text,url\n"
        + "".join(f"r{i},hello {i},\n" for i in range(100))
        + ",,https://x/1.jpg\n"
        + 'multi,"a quoted cell\non two lines",\n'  # one input, two lines of the file
    )
    async with FakeClarifai() as fake:
        _env(monkeypatch, fake)
        code = await asyncio.to_thread(main, ["batch", "m", str(inputs), "-o", str(output), "-q"])
    assert code == 0
    _assert_exactly_once(output, {f"r{i}" for i in range(100)} | {"line-102", "multi"})
    captured = capsys.readouterr()
    assert captured.err == ""  # -q: no progress lines
    assert captured.out.startswith("done: 102 inputs")
    assert "102 succeeded, 0 failed" in captured.out


async def test_stop_then_resume_records_every_input_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, output = tmp_path / "in.txt", tmp_path / "out.jsonl"
    inputs.write_text("".join(f"https://images.example/{i}.jpg\n" for i in range(400)))
    stop = asyncio.Event()
    sent = 0

    def after_three_requests(event: Any) -> None:
        nonlocal sent
        sent += 1
        if sent == 3:
            stop.set()  # what the first Ctrl-C does

    async with FakeClarifai() as fake:
        fake.set_latency(0.02)
        from aioclarifai._batching import BatchConfig

        async with Client(
            pat=fake.pat,
            base_url=fake.url,
            app_id="a",
            on_request=after_three_requests,
            batching=BatchConfig(max_batch_size=10),
        ) as client:
            stats = await run_batch(
                client, "m", str(inputs), str(output), concurrency=20, stop=stop
            )
        assert stats.interrupted
        assert 0 < stats.done < 400
        assert stats.remaining == 400 - stats.done
        first = _records(output)
        assert len(first) == stats.done
        assert len({r["id"] for r in first}) == stats.done

        _env(monkeypatch, fake)
        fake.set_latency(None)
        argv = ["batch", "m", str(inputs), "-o", str(output), "--resume"]
        code = await asyncio.to_thread(main, argv)
    assert code == 0
    _assert_exactly_once(output, {f"line-{i}" for i in range(1, 401)})
    out = capsys.readouterr().out
    assert f"{stats.done:,} already in the output (skipped)" in out


async def test_resume_after_a_torn_output_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = _write_jsonl(inputs, 60)
    # What a killed run leaves: some whole records, then half a line.
    output.write_text(
        '{"id":"line-1","output":{}}\n{"id":"item-2","error":{"type":"X","message":"m"}}\n'
        '{"id":"line-3","outp'
    )
    async with FakeClarifai() as fake:
        _env(monkeypatch, fake)
        code = await asyncio.to_thread(
            main, ["batch", "m", str(inputs), "-o", str(output), "--resume", "-q"]
        )
    assert code == 0  # the recorded error is an earlier run's; this run had none
    records = _assert_exactly_once(output, ids)
    assert records[1] == {"id": "item-2", "error": {"type": "X", "message": "m"}}


@pytest.mark.parametrize("problem", ["bad-pat", "missing-model"])
async def test_request_level_failure_stops_without_recording(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    problem: str,
) -> None:
    inputs, output = tmp_path / "in.txt", tmp_path / "out.jsonl"
    inputs.write_text("".join(f"text {i}\n" for i in range(300)))
    async with FakeClarifai() as fake:
        _env(monkeypatch, fake)
        if problem == "bad-pat":
            monkeypatch.setenv("CLARIFAI_PAT", "wrong-secret")
        else:
            fake.missing_models.add("gone")
        argv = ["batch", "gone", str(inputs), "-o", str(output), "-q"]
        code = await asyncio.to_thread(main, argv)
    assert code == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("aioclarifai: error: ")
    assert ("11008" if problem == "bad-pat" else "21200") in line
    assert "wrong-secret" not in captured.err + captured.out
    assert output.read_text() == ""  # nothing recorded: a rerun redoes every input
    assert "rerun the same command with --resume" in captured.out


async def test_sigint_stops_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    inputs, output = tmp_path / "in.txt", tmp_path / "out.jsonl"
    inputs.write_text("".join(f"sentence {i}\n" for i in range(1500)))
    async with FakeClarifai() as fake:
        fake.set_latency(0.05)
        env = {**os.environ, "CLARIFAI_PAT": fake.pat, "CLARIFAI_APP_ID": "a"}
        env["CLARIFAI_API_BASE"] = fake.url
        cmd = [sys.executable, "-m", "aioclarifai", "batch", "m", str(inputs), "-o", str(output)]
        cmd += ["--batch-size", "10", "--concurrency", "20"]
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        # Another process writes the file: poll it (no event to wait on).
        while not output.exists() or output.stat().st_size < 2000:
            assert proc.returncode is None
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = await proc.communicate()
        assert proc.returncode == 130, stderr
        assert b"stopping: finishing the inputs in flight" in stderr
        assert b"Traceback" not in stderr
        assert b"stopped: " in stdout
        assert b"rerun the same command with --resume" in stdout
        first = _records(output)
        assert 0 < len(first) < 1500
        assert len({r["id"] for r in first}) == len(first)

        fake.set_latency(None)
        resumed = await asyncio.create_subprocess_exec(
            *cmd,
            "--resume",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await resumed.communicate()
        assert resumed.returncode == 0, stderr
    _assert_exactly_once(output, {f"line-{i}" for i in range(1, 1501)})


async def test_second_sigint_stops_at_once_keeping_finished_results(tmp_path: Path) -> None:
    inputs, output = tmp_path / "in.txt", tmp_path / "out.jsonl"
    inputs.write_text("".join(f"sentence {i}\n" for i in range(200)))
    async with FakeClarifai() as fake:
        fake.set_latency(0.2)
        env = {**os.environ, "CLARIFAI_PAT": fake.pat, "CLARIFAI_APP_ID": "a"}
        env["CLARIFAI_API_BASE"] = fake.url
        cmd = [sys.executable, "-m", "aioclarifai", "batch", "m", str(inputs), "-o", str(output)]
        cmd += ["--batch-size", "10", "--concurrency", "20"]
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        while not output.exists() or output.stat().st_size == 0:
            assert proc.returncode is None
            await asyncio.sleep(0.02)
        # Batches sent from now on outlast the test's patience: only the second Ctrl-C ends them
        # (FakeClarifai's close then waits for these handlers, so keep it short).
        fake.set_latency(2.5)
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        started = asyncio.get_running_loop().time()
        _, stderr = await proc.communicate()
        stopped_after = asyncio.get_running_loop().time() - started
    assert proc.returncode == 130
    assert stopped_after < 2.0  # not waiting for the requests in flight
    assert b"stopped; finished results are in" in stderr
    assert b"Traceback" not in stderr
    records = _records(output)
    assert 0 < len(records) < 200
    assert len({r["id"] for r in records}) == len(records)


async def test_whole_batch_failures_are_recorded_or_stop_the_job(tmp_path: Path) -> None:
    from aioclarifai._batching import BatchConfig
    from aioclarifai.cli._batch import BatchAborted

    inputs = tmp_path / "in.txt"
    inputs.write_text("".join(f"text {i}\n" for i in range(100)))
    async with FakeClarifai() as fake:

        def client() -> Client:
            config = BatchConfig(max_batch_size=10)
            return Client(pat=fake.pat, base_url=fake.url, app_id="a", batching=config)

        # A bad request may be one input's fault: recorded, and the job goes on.
        fake.inject("post_model_outputs", code=11102, times=1)
        async with client() as c:
            stats = await run_batch(c, "m", str(inputs), str(tmp_path / "a.jsonl"), concurrency=10)
        assert (stats.done, stats.errors, stats.interrupted) == (100, 10, False)
        records = _records(tmp_path / "a.jsonl")
        assert sum(r.get("error", {}).get("type") == "BadRequestError" for r in records) == 10

        # A server error before anything succeeded would repeat: stop, record nothing.
        fake.clear_faults()
        fake.inject("post_model_outputs", http_status=503)
        async with client() as c:
            with pytest.raises(BatchAborted) as info:
                await run_batch(c, "m", str(inputs), str(tmp_path / "b.jsonl"), concurrency=10)
        assert info.value.stats.interrupted
        assert info.value.error.__class__.__name__ == "ServerError"
        assert (tmp_path / "b.jsonl").read_text() == ""


async def test_bad_arguments_raise_before_anything_starts(tmp_path: Path) -> None:
    # The progress ticker must not outlive the job, nor an empty output be left behind.
    inputs, output = tmp_path / "in.txt", tmp_path / "out.jsonl"
    inputs.write_text("a\nb\n")
    async with FakeClarifai() as fake, Client(fake.pat, base_url=fake.url, app_id="a") as client:
        with pytest.raises(ValueError, match="concurrency"):
            await run_batch(client, "m", str(inputs), str(output), concurrency=0)
        assert asyncio.all_tasks() == {asyncio.current_task()}
    assert not output.exists()
