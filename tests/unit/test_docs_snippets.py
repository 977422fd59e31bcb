"""Every Python block of the docs site and the README compiles and names only what exists.

Recipes cannot all run here (FastAPI, a Ray cluster, a real account), but a
renamed method, type or import must not leave them pointing at nothing.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import aioclarifai
from aioclarifai import types

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def _blocks() -> list[tuple[str, str]]:
    return [
        (f"{page.relative_to(ROOT)}#{n}", code)
        for page in PAGES
        for n, code in enumerate(_BLOCK.findall(page.read_text()), start=1)
    ]


BLOCKS = _blocks()


def test_the_docs_have_python_blocks() -> None:
    assert {name.split("#")[0] for name, _ in BLOCKS} >= {
        "README.md",
        "docs/getting-started.md",
        "docs/recipes/batch.md",
        "docs/recipes/testing.md",
    }


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_block_compiles_and_names_what_exists(where: str, code: str) -> None:
    tree = ast.parse(code, where)  # top-level ``await`` parses; compiling is not needed
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aioclarifai"):
            module = importlib.import_module(node.module or "")
            for alias in node.names:
                assert hasattr(module, alias.name), f"{where}: {node.module}.{alias.name}"
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = {"types": types, "client": aioclarifai.Client}.get(node.value.id)
            if owner is not None:
                assert hasattr(owner, node.attr), f"{where}: {node.value.id}.{node.attr}"
