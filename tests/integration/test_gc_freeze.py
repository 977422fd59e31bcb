"""Long-running engines freeze their start-up objects out of full GC passes (issue 19 item 4)."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aioclarifai import Client
from aioclarifai.cli import main
from aioclarifai.cli._batch import run_batch
from aioclarifai.testing import FakeClarifai


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    # Each test starts and ends with nothing frozen, whatever ran before it.
    gc.unfreeze()
    yield
    gc.unfreeze()


def _inputs(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"i{k}", "text": f"t {k}"}) + "\n" for k in range(n)))
    return path


async def test_cli_batch_job_freezes_startup_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs, output = _inputs(tmp_path / "in.jsonl", 20), tmp_path / "out.jsonl"
    async with FakeClarifai() as fake:
        monkeypatch.setenv("CLARIFAI_PAT", fake.pat)
        monkeypatch.setenv("CLARIFAI_APP_ID", "gc-app")
        monkeypatch.setenv("CLARIFAI_API_BASE", fake.url)
        code = await asyncio.to_thread(main, ["batch", "general", str(inputs), "-o", str(output)])
    assert code == 0
    assert len(output.read_text().splitlines()) == 20
    assert gc.get_freeze_count() > 0


async def test_run_batch_as_a_library_leaves_the_collector_alone(tmp_path: Path) -> None:
    inputs, output = _inputs(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
    async with FakeClarifai() as fake, Client(fake.pat, base_url=fake.url, app_id="a") as client:
        stats = await run_batch(client, "general", str(inputs), str(output))
    assert stats.done == 5
    assert gc.get_freeze_count() == 0


def test_ray_predictor_freezes_startup_objects() -> None:
    pytest.importorskip("pandas")
    from aioclarifai.ray import ClarifaiPredictor

    plain = ClarifaiPredictor("m", pat="x", app_id="a", freeze_gc=False)
    plain.close()
    assert gc.get_freeze_count() == 0
    actor = ClarifaiPredictor("m", pat="x", app_id="a")
    actor.close()
    assert gc.get_freeze_count() > 0
