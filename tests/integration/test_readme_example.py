"""The README's usage example runs as printed, against FakeClarifai instead of Clarifai."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from aioclarifai import types
from aioclarifai.testing import FakeClarifai

README = Path(__file__).resolve().parents[2] / "README.md"


def _usage_example() -> str:
    text = README.read_text()
    section = text[text.index("## Use") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


async def test_readme_usage_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _usage_example()
    assert code.rstrip().endswith("asyncio.run(main())")
    code = code.rstrip()[: -len("asyncio.run(main())")]  # we are already in a loop
    async with FakeClarifai() as fake:
        fake.add_workflows([types.Workflow(id=f"wf-{i}") for i in range(3)], app_id="my-app")
        monkeypatch.setenv("CLARIFAI_PAT", fake.pat)
        monkeypatch.setenv("CLARIFAI_API_BASE", fake.url)
        namespace: dict[str, Any] = {}
        exec(compile(code, str(README), "exec"), namespace)
        await namespace["main"]()
    printed = capsys.readouterr().out
    assert "wf-0" in printed and "wf-2" in printed
