"""Batch jobs at an account limit: quota stops, resume re-runs transient errors once each."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aioclarifai import Client
from aioclarifai._batching import BatchConfig
from aioclarifai._config import RetryConfig
from aioclarifai.cli._batch import BatchAborted, run_batch
from aioclarifai.cli._writers import is_failure
from aioclarifai.testing import FakeClarifai

N = 400
FAILING = {f"i{k}" for k in range(7, N, 50)}  # their text says "fail": a per-input error


def _inputs(path: Path) -> str:
    with path.open("w") as f:
        for k in range(N):
            text = f"fail {k}" if f"i{k}" in FAILING else f"text {k}"
            f.write(json.dumps({"id": f"i{k}", "text": text}) + "\n")
    return str(path)


def _client(fake: FakeClarifai, **options: Any) -> Client:
    return Client(
        fake.pat, base_url=fake.url, app_id="a", batching=BatchConfig(max_batch_size=10),
        retry=RetryConfig(max_retries=0, initial_backoff=0.001), **options,
    )  # fmt: skip


def _sent_ids(fake: FakeClarifai) -> collections.Counter[str]:
    sent: collections.Counter[str] = collections.Counter()
    for record in fake.requests_for("PostModelOutputs"):
        assert record.body is not None
        sent.update(i["id"] for i in msgspec.json.decode(record.body)["inputs"])
    return sent


def _records(path: Path) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    by_id = {r["id"]: r for r in lines}
    assert len(by_id) == len(lines), "one record per id"
    return by_id


async def test_resume_reruns_transient_errors_exactly_once_each(tmp_path: Path) -> None:
    inputs, output = _inputs(tmp_path / "in.jsonl"), tmp_path / "out.jsonl"
    async with FakeClarifai(log_limit=0) as fake:
        # 40031 unavailable on a third of the requests (not the first: seed 0 rolls 0.84).
        fake.inject("post_model_outputs", code=40031, rate=0.3)
        async with _client(fake) as client:
            first = await run_batch(client, "m", inputs, str(output), concurrency=40)
    records = _records(output)
    transient = {i for i, r in records.items() if r.get("error", {}).get("type") == "ServerError"}
    assert len(records) == N and first.errors == len(transient | FAILING)
    assert 20 <= len(transient) <= N - 100

    async with FakeClarifai() as fake:
        async with _client(fake) as client:
            second = await run_batch(client, "m", inputs, str(output), resume=True)
        sent = _sent_ids(fake)
    assert sent == collections.Counter(transient)  # each once; nothing else sent again
    assert second.done == len(transient) and second.errors == len(transient & FAILING)
    records = _records(output)
    assert len(records) == N
    assert {i for i, r in records.items() if "error" in r} == FAILING  # not transient: kept

    async with FakeClarifai() as fake:
        async with _client(fake) as client:
            third = await run_batch(client, "m", inputs, str(output), resume=True, redo=is_failure)
        sent = _sent_ids(fake)
    assert sent == collections.Counter(FAILING)  # --retry-failed: every failed input, once
    assert third.errors == len(FAILING)
    assert len(_records(output)) == N


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
async def test_resume_rewrites_flat_outputs_with_one_row_per_id(tmp_path: Path, fmt: str) -> None:
    pytest.importorskip("pyarrow")
    import pandas as pd

    inputs, output = _inputs(tmp_path / "in.jsonl"), tmp_path / f"out.{fmt}"
    async with FakeClarifai(log_limit=0) as fake:
        fake.inject("post_model_outputs", code=40031, rate=0.3)
        async with _client(fake) as client:
            await run_batch(client, "m", inputs, str(output), concurrency=40)
    async with FakeClarifai() as fake, _client(fake) as client:
        await run_batch(client, "m", inputs, str(output), resume=True)
    frame = pd.read_csv(output) if fmt == "csv" else pd.read_parquet(output)
    assert len(frame) == N and frame["id"].is_unique
    assert set(frame[frame["status"] == "error"]["id"]) == FAILING


@pytest.mark.parametrize("code", [11003, 11004, 11006])
async def test_quota_codes_stop_the_job_at_once(tmp_path: Path, code: int) -> None:
    inputs, output = _inputs(tmp_path / "in.jsonl"), tmp_path / "out.jsonl"
    async with FakeClarifai(log_limit=0) as fake, _client(fake) as client:
        # Half the requests meet the used-up quota (the first passes: seed 0 rolls 0.84).
        fault = fake.inject("post_model_outputs", code=code, rate=0.5)
        with pytest.raises(BatchAborted) as info:
            await run_batch(client, "m", inputs, str(output), concurrency=40)
    message = str(info.value.error)
    assert "quota is used up" in message and str(code) in message and "--resume" in message
    assert fault.hits <= 8  # stopped at once: at most the requests already in flight
    records = _records(output)
    assert all(r.get("error", {}).get("type") != "RateLimitError" for r in records.values())
    assert info.value.stats.interrupted


async def test_max_error_rate_stops_a_failing_job(tmp_path: Path) -> None:
    inputs, output = _inputs(tmp_path / "in.jsonl"), tmp_path / "out.jsonl"
    async with FakeClarifai(log_limit=0) as fake:
        fake.inject("post_model_outputs", code=40031, rate=0.5)
        async with _client(fake) as client:
            with pytest.raises(BatchAborted) as info:
                await run_batch(
                    client, "m", inputs, str(output), concurrency=20, max_error_rate=0.1
                )
    assert "--max-error-rate" in str(info.value.error)
    assert info.value.stats.done < N


async def test_a_job_against_an_account_limit_loses_no_input(tmp_path: Path) -> None:
    inputs, output = _inputs(tmp_path / "in.jsonl"), tmp_path / "out.jsonl"
    async with FakeClarifai(log_limit=0, rate_limit=20, retry_after=False) as fake:
        async with _client(fake) as client:
            stats = await run_batch(client, "m", inputs, str(output))
        assert fake.limits is not None and fake.limits.throttled >= 1  # the limit was met
    assert stats.errors == len(FAILING)  # every other input succeeded
    assert stats.throttled == fake.limits.throttled
    assert stats.settled_rate is not None
    assert len(_records(output)) == N
