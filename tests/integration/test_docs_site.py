"""The documentation site builds with ``mkdocs build --strict`` and its reference is whole.

``make test`` builds it too; this test is what guards every landing (which
runs the suite, not make) against a docstring or a rename that breaks a
reference, and checks that the reference covers what it promises.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import aioclarifai
from aioclarifai.cli._main import build_parser
from aioclarifai.endpoints import ENDPOINTS

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("mkdocstrings_handlers.python", reason="needs the docs extra")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)]
    done = subprocess.run(build, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def _page(site: Path, name: str) -> str:
    return (site / "reference" / name / "index.html").read_text()


# A subprocess build of a few thousand headings: seconds alone, more on a busy 2-core box.
@pytest.mark.timeout(180)
def test_every_operation_has_its_reference_entry(site: Path) -> None:
    page = _page(site, "operations")
    missing = [
        n for n in ENDPOINTS if f'id="aioclarifai._generated.operations.Operations.{n}"' not in page
    ]
    assert missing == []


@pytest.mark.timeout(180)
def test_every_public_name_is_in_the_reference(site: Path) -> None:
    pages = "".join(p.read_text() for p in (site / "reference").glob("*/index.html"))
    ids = set(re.findall(r'id="(aioclarifai[\w.]*)"', pages))
    documented = {i.rsplit(".", 1)[-1] for i in ids if re.fullmatch(r"aioclarifai(\.\w+)?\.\w+", i)}
    names = set(aioclarifai.__all__) - {"__version__", "types"}
    assert names - documented == set()
    testing = {i.rsplit(".", 1)[-1] for i in ids if i.startswith("aioclarifai.testing.")}
    assert set(aioclarifai.testing.__all__) - testing == set()


@pytest.mark.timeout(180)
def test_docstrings_read_as_markdown(site: Path) -> None:
    client = _page(site, "client")
    assert ":class:" not in client and ":meth:" not in client  # Sphinx roles became code...
    assert '<a class="autorefs autorefs-internal"' in client  # ...linking what they name
    assert "<blockquote>" not in _page(site, "testing")  # >>> sessions are code, not quotes
    types_page = _page(site, "types")
    assert "region_location_matrix[0][0]" in types_page  # proto comments kept verbatim
    assert "<td><code>SUCCESS</code></td>" in types_page  # enum members as one table


@pytest.mark.timeout(180)
def test_the_cli_reference_is_its_help(site: Path) -> None:
    page = _page(site, "cli")
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert [c for c in commands.choices if f"usage: aioclarifai {c}" not in page] == []
