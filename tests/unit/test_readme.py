"""The docs stay true: README snippets are the ones tests run; documented commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = [
    "tests/integration/test_fake_readme_snippet.py",
    "tests/unit/test_aioresponses_readme.py",
]


@pytest.mark.parametrize("tested", SNIPPETS)
def test_readme_snippet_is_the_tested_one(tested: str) -> None:
    code = (ROOT / tested).read_text().split('"""', 2)[2].strip()  # the file minus its docstring
    assert f"```python\n{code}\n```" in (ROOT / "README.md").read_text()


def test_every_make_command_the_docs_name_exists() -> None:
    # A renamed or removed Makefile target must not leave the docs pointing at nothing.
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    docs = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / ".ci/run", *ROOT.glob("docs/*.md")]
    named = {m for path in docs for m in re.findall(r"\bmake ([a-z][\w-]*)", path.read_text())}
    assert {"demo", "test", "unit"} <= named
    assert named <= targets, named - targets
