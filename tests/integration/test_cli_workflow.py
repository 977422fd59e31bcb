"""Issue 17 item 5: ``aioclarifai batch --workflow``: PostWorkflowResults, 32 inputs a request."""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from aioclarifai import types
from aioclarifai.cli import main
from aioclarifai.testing import FakeClarifai


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeClarifai]:
    monkeypatch.delenv("CLARIFAI_USER_ID", raising=False)
    async with FakeClarifai() as server:
        server.add_model("describer", app_id="app", output="text")
        nodes = [
            types.WorkflowNode(id="tags", model=types.Model(id="general")),
            types.WorkflowNode(id="caption", model=types.Model(id="describer")),
        ]
        server.add_workflows([types.Workflow(id="wf", nodes=nodes)], app_id="app")
        monkeypatch.setenv("CLARIFAI_PAT", server.pat)
        monkeypatch.setenv("CLARIFAI_APP_ID", "app")
        monkeypatch.setenv("CLARIFAI_API_BASE", server.url)
        yield server


def _records(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [json.loads(line) for line in f]


def _write(path: Path, n: int, *, fail_every: int = 0) -> None:
    with path.open("w") as f:
        for i in range(n):
            bad = fail_every and i % fail_every == 0
            url = f"https://x.example/{'fail-' if bad else ''}{i}.jpg"
            f.write(json.dumps({"id": f"w{i}", "url": url}) + "\n")


async def test_workflow_batch_one_record_per_input_with_every_node(
    fake: FakeClarifai, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(inputs, 100, fail_every=40)
    argv = ["batch", "--workflow", "wf", str(inputs), "-o", str(out)]
    assert await asyncio.to_thread(main, argv) == 1  # three inputs failed
    sizes = [len(r.json()["inputs"]) for r in fake.requests_for("PostWorkflowResults")]
    assert sizes == [32, 32, 32, 4]
    assert "/workflows/wf/results" in fake.requests_for("PostWorkflowResults")[0].path
    records = {r["id"]: r for r in _records(out)}
    assert set(records) == {f"w{i}" for i in range(100)}
    failed = {k for k, r in records.items() if "error" in r}
    assert failed == {"w0", "w40", "w80"}
    assert records["w0"]["error"]["code"] == 30002
    result = records["w1"]["result"]
    tags, caption = result["outputs"]
    assert tags["data"]["concepts"] and caption["data"]["text"]["raw"]
    assert "97 succeeded, 3 failed" in capsys.readouterr().out


async def test_workflow_resume_and_parquet(fake: FakeClarifai, tmp_path: Path) -> None:
    inputs, out = tmp_path / "in.jsonl", tmp_path / "out.parquet"
    _write(inputs, 70)
    (half := tmp_path / "half.jsonl").write_text(
        "".join(inputs.read_text().splitlines(keepends=True)[:40])
    )
    argv = ["batch", "--workflow", "wf", str(half), "-o", str(out), "-q"]
    assert await asyncio.to_thread(main, argv) == 0
    argv = ["batch", "--workflow", "wf", str(inputs), "-o", str(out), "-q", "--resume"]
    assert await asyncio.to_thread(main, argv) == 0
    sent = [len(r.json()["inputs"]) for r in fake.requests_for("PostWorkflowResults")]
    assert sum(sent) == 70  # the first 40 were not run again
    table = pq.read_table(out)
    counts = collections.Counter(table.column("id").to_pylist())
    assert set(counts) == {f"w{i}" for i in range(70)} and max(counts.values()) == 1
    rows = table.to_pylist()
    assert all(r["concept_1"] and r["text"] for r in rows)  # both nodes in one row


async def test_workflow_flags(
    fake: FakeClarifai, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, out = tmp_path / "in.jsonl", tmp_path / "o.jsonl"
    _write(inputs, 3)
    base = ["batch", "--workflow", "me/app/workflows/wf/versions/v7", str(inputs), "-o", str(out)]
    assert await asyncio.to_thread(main, [*base, "-q", "--max-concepts", "2"]) == 0
    (record,) = fake.requests_for("PostWorkflowResults")
    assert record.path.endswith("/workflows/wf/versions/v7/results")
    assert record.json()["output_config"] == {"max_concepts": 2}
    out.unlink()
    for extra, message in [
        (["-p", "t=1"], "-p does not apply to a workflow"),
        (["--batch-size", "33"], "between 1 and 32"),
        (["extra-positional"], "takes INPUTS only"),
    ]:
        argv = ["batch", "--workflow", "wf", str(inputs), *extra, "-o", str(out)]
        if extra == ["extra-positional"]:
            argv = ["batch", "--workflow", "wf", "m", str(inputs), "-o", str(out)]
        assert await asyncio.to_thread(main, argv) == 2
        assert message in capsys.readouterr().err
    assert await asyncio.to_thread(main, [*base, "--dry-run"]) == 0
    assert "3 inputs in 1 requests" in capsys.readouterr().out
