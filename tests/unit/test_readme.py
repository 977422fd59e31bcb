"""README promises that stay true: the user test snippet is the one a test runs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_fake_snippet_is_the_tested_one() -> None:
    tested = (ROOT / "tests/integration/test_fake_readme_snippet.py").read_text()
    code = tested.split('"""', 2)[2].strip()  # the file minus its docstring
    assert f"```python\n{code}\n```" in (ROOT / "README.md").read_text()


def test_readme_names_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    ci = (ROOT / ".ci/run").read_text()
    assert "make test" in ci
