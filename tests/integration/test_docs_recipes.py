"""The recipes that need no third-party service run as printed, against FakeClarifai."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from aioclarifai.testing import FakeClarifai

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _block(page: str, containing: str) -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", (DOCS / page).read_text(), re.M | re.S)
    (code,) = [b for b in blocks if containing in b]
    return str(code)


async def test_the_batch_recipe_writes_one_line_per_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _block("recipes/batch.md", "predict_many")
    assert code.rstrip().endswith("asyncio.run(main())")
    code = code.rstrip()[: -len("asyncio.run(main())")]  # we are already in a loop
    urls = [f"https://example.com/{i}.jpg" for i in range(300)]
    (tmp_path / "urls.txt").write_text("\n".join(urls) + "\n")
    monkeypatch.chdir(tmp_path)
    async with FakeClarifai() as fake:
        monkeypatch.setenv("CLARIFAI_PAT", fake.pat)
        monkeypatch.setenv("CLARIFAI_API_BASE", fake.url)
        namespace: dict[str, Any] = {}
        exec(compile(code, "docs/recipes/batch.md", "exec"), namespace)
        await namespace["main"]()
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["line"] for r in records] == list(range(1, 301))
    assert all(r["concepts"] for r in records)


async def test_the_fault_injection_recipe_runs() -> None:
    code = _block("recipes/testing.md", "fake.inject")
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/recipes/testing.md", "exec"), namespace)
    await namespace["test_tag_survives_a_flaky_clarifai"]()


async def test_the_mock_transport_recipe_runs() -> None:
    code = _block("recipes/testing.md", "MockTransport(handler)")
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/recipes/testing.md", "exec"), namespace)
    await namespace["test_the_story_arrives_delta_by_delta"]()
