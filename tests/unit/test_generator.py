"""tools/generate.py: the formatter pin, the committed definitions, stale modules."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"


@pytest.fixture
def tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TOOLS))


def test_the_dev_extra_pins_the_formatter_the_generator_runs(tools: None) -> None:
    import generate

    extras = (ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]")[1]
    dev = extras.split("\n]")[0]  # the dev extra comes first
    assert re.findall(r'"(ruff[^"]*)"', dev) == [f"ruff=={generate.RUFF_VERSION}"]


def test_another_ruff_is_refused(tools: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import generate

    monkeypatch.setattr(generate, "RUFF_VERSION", "0.0.1")
    with pytest.raises(SystemExit, match=r"formats with ruff 0\.0\.1.*pip install ruff==0\.0\.1"):
        generate.check_formatter()


def test_the_generator_reads_only_the_committed_descriptor_sets(tools: None) -> None:
    import descriptors
    import schema

    current, seed = schema.releases()
    assert (current.version, seed.version) == (descriptors.CURRENT, descriptors.SEED)
    assert current.method("PostModelOutputs") is not None
    assert current.method("ListModules") is None and seed.method("ListModules") is not None
    # Nothing of an installed clarifai-grpc is needed to generate.
    code = (
        "import sys; sys.path.insert(0, 'tools'); sys.modules['clarifai_grpc'] = None\n"
        "import schema; c, s = schema.releases()\n"
        "print(len(schema.load_operations(c, s)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "283"


def test_a_stale_module_is_reported(tools: None) -> None:
    import generate

    leftover = generate.TYPES_DIR / "_m99.py"
    outputs = {p: p.read_text() for p in generate.TYPES_DIR.glob("*.py")}
    leftover.write_text("")
    try:
        assert generate.stale_files(outputs) == [leftover]
    finally:
        leftover.unlink()
