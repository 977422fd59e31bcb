"""Issue 17 item 6: ``aioclarifai ingest`` and ``client.add_inputs`` against FakeClarifai."""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from aioclarifai import Client, types
from aioclarifai.cli import main
from aioclarifai.testing import FakeClarifai


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeClarifai]:
    monkeypatch.delenv("CLARIFAI_USER_ID", raising=False)
    async with FakeClarifai() as server:
        monkeypatch.setenv("CLARIFAI_PAT", server.pat)
        monkeypatch.setenv("CLARIFAI_APP_ID", "app")
        monkeypatch.setenv("CLARIFAI_API_BASE", server.url)
        yield server


def _sizes(fake: FakeClarifai) -> list[int]:
    return [len(r.json()["inputs"]) for r in fake.requests_for("PostInputs")]


async def _stored(fake: FakeClarifai) -> dict[str, types.Input]:
    async with Client(pat=fake.pat, base_url=fake.url, app_id="app") as client:
        found = {}
        async for inp in client.paginate(client.list_inputs, types.ListInputsRequest()):
            found[inp.id] = inp
        return found


async def _datasets(fake: FakeClarifai, *ids: str) -> None:
    async with Client(pat=fake.pat, base_url=fake.url, app_id="app") as client:
        await client.post_datasets(datasets=[types.Dataset(id=i) for i in ids])


def _records(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [json.loads(line) for line in f]


async def test_ingest_adds_ids_metadata_concepts_and_dataset(
    fake: FakeClarifai, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        {"id": "cat-1", "url": "https://x.example/cat.jpg", "concepts": ["cat", "pet"],
         "metadata": {"source": "web", "n": 1}, "dataset_id": "animals"},
        {"id": "doc-1", "text": "a note", "concepts": [{"id": "note", "value": 0}]},
        {"url": "https://x.example/clip.mp4"},
        {"id": "bad", "text": "x", "metadata": [1]},
    ]  # fmt: skip
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "added.jsonl"
    await _datasets(fake, "animals")
    code = await asyncio.to_thread(main, ["ingest", str(inputs), "-o", str(out)])
    assert code == 1  # one unreadable line
    stored = await _stored(fake)
    assert set(stored) == {"cat-1", "doc-1", "line-3"}
    cat = stored["cat-1"]
    assert cat.data is not None and cat.data.image is not None
    assert cat.data.image.url == "https://x.example/cat.jpg"
    assert [(c.id, c.value) for c in cat.data.concepts] == [("cat", 1.0), ("pet", 1.0)]
    assert cat.data.metadata == {"source": "web", "n": 1}
    assert cat.dataset_ids == ["animals"]
    doc = stored["doc-1"]
    assert doc.data is not None and [(c.id, c.value) for c in doc.data.concepts] == [("note", 0)]
    clip = stored["line-3"]
    assert clip.data is not None and clip.data.video is not None
    records = {r["id"]: r for r in _records(out)}
    assert set(records) == {"cat-1", "doc-1", "line-3", "bad"}
    assert records["cat-1"]["input"]["id"] == "cat-1"
    assert "data" not in records["cat-1"]["input"]
    assert records["bad"]["error"]["message"] == "metadata must be a JSON object"
    assert "3 succeeded, 1 failed (1 unreadable input lines)" in capsys.readouterr().out


async def test_ingest_csv_columns(fake: FakeClarifai, tmp_path: Path) -> None:
    inputs = tmp_path / "in.csv"
    inputs.write_text(
        "id,url,concepts,metadata,dataset_id\n"
        'a,https://x.example/a.jpg,"cat,dog","{""k"": 2}",ds1\n'
        'b,https://x.example/b.jpg,"[""bird""]",,\n'
    )
    out = tmp_path / "added.csv"
    await _datasets(fake, "ds1")
    assert await asyncio.to_thread(main, ["ingest", str(inputs), "-o", str(out), "-q"]) == 0
    stored = await _stored(fake)
    a, b = stored["a"], stored["b"]
    assert a.data is not None and [c.id for c in a.data.concepts] == ["cat", "dog"]
    assert a.data.metadata == {"k": 2} and a.dataset_ids == ["ds1"]
    assert b.data is not None and [c.id for c in b.data.concepts] == ["bird"]
    assert out.read_text().splitlines()[0].startswith("id,status,")


async def test_ingest_128_a_request_and_resume_exactly_once(
    fake: FakeClarifai, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, out = tmp_path / "in.txt", tmp_path / "added.jsonl"
    inputs.write_text("".join(f"https://x.example/{i}.jpg\n" for i in range(600)))
    half = tmp_path / "half.txt"
    half.write_text("".join(f"https://x.example/{i}.jpg\n" for i in range(250)))
    assert await asyncio.to_thread(main, ["ingest", str(half), "-o", str(out), "-q"]) == 0
    assert _sizes(fake) == [128, 122]
    argv = ["ingest", str(inputs), "-o", str(out), "-q", "--resume"]
    assert await asyncio.to_thread(main, argv) == 0
    assert sum(_sizes(fake)) == 600  # the first 250 were not sent again
    assert max(_sizes(fake)) == 128
    counts = collections.Counter(r["id"] for r in _records(out))
    assert set(counts) == {f"line-{i}" for i in range(1, 601)} and max(counts.values()) == 1
    assert len(await _stored(fake)) == 600
    assert "250 already in the output (skipped)" in capsys.readouterr().out


async def test_ingest_an_id_the_app_has_fails_alone(fake: FakeClarifai, tmp_path: Path) -> None:
    async with Client(pat=fake.pat, base_url=fake.url, app_id="app") as client:
        await client.post_inputs(
            inputs=[types.Input(id="taken", data=types.Data(text=types.Text(raw="old")))]
        )
    inputs, out = tmp_path / "in.jsonl", tmp_path / "added.jsonl"
    rows = [{"id": f"n{i}", "text": f"t{i}"} for i in range(5)]
    rows.insert(2, {"id": "taken", "text": "new"})
    inputs.write_text("".join(json.dumps(x) + "\n" for x in rows))
    assert await asyncio.to_thread(main, ["ingest", str(inputs), "-o", str(out), "-q"]) == 1
    records = {r["id"]: r for r in _records(out)}
    assert records["taken"]["error"]["type"] == "BadRequestError"
    assert all("input" in records[f"n{i}"] for i in range(5))  # the others were added
    assert set(await _stored(fake)) == {"taken", *(f"n{i}" for i in range(5))}


async def test_ingest_dry_run(
    fake: FakeClarifai, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (inputs := tmp_path / "in.txt").write_text("".join(f"t{i}\n" for i in range(300)))
    argv = ["ingest", str(inputs), "-o", str(tmp_path / "o.jsonl"), "--dry-run"]
    assert await asyncio.to_thread(main, argv) == 0
    assert "300 inputs in 3 requests" in capsys.readouterr().out
    assert not fake.requests


async def test_client_add_inputs_bounded_and_in_order(fake: FakeClarifai) -> None:
    pulled = 0

    def inputs() -> Iterator[types.Input]:
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            url = f"https://x.example/{i}.jpg"
            yield types.Input(id=f"i{i}", data=types.Data(image=types.Image(url=url)))

    seen: list[types.Input | Exception] = []
    async with Client(pat=fake.pat, base_url=fake.url, app_id="app") as client:
        async for result in client.add_inputs(inputs(), batch_size=100, concurrency=2):
            # Never more than batch_size x (concurrency + 1) inputs read ahead.
            assert pulled - len(seen) <= 300
            seen.append(result)
    assert [r.id for r in seen if isinstance(r, types.Input)] == [f"i{i}" for i in range(1000)]
    assert _sizes(fake) == [100] * 10


async def test_client_add_inputs_rejects_bad_sizes(fake: FakeClarifai) -> None:
    async with Client(pat=fake.pat, base_url=fake.url, app_id="app") as client:
        with pytest.raises(ValueError, match="between 1 and 128"):
            client.add_inputs([], batch_size=129)
        with pytest.raises(ValueError, match="concurrency"):
            client.add_inputs([], concurrency=0)
