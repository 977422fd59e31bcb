"""The architecture, enforced: imports point downward, no cycles, no reach-ins, one aiohttp user.

Every import of the package is read from the source (type-only imports under
``TYPE_CHECKING`` and imports inside functions included), so what this test
sees is what a reader sees.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "aioclarifai"

#: Bottom to top; a module may import its own layer and those below it.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "generated",  # written by tools/generate.py, plus the records they are made of
        frozenset(
            {
                "aioclarifai._version",
                "aioclarifai._message",
                "aioclarifai._endpoint_spec",
                "aioclarifai._generated",
                "aioclarifai._generated.types",
                "aioclarifai._generated.endpoints",
                "aioclarifai.types",
                "aioclarifai.endpoints",
            }
        ),
    ),
    (
        "foundation",  # settings, errors, request building, decoding, retry rules, the seam
        frozenset(
            {
                "aioclarifai._config",
                "aioclarifai._errors",
                "aioclarifai._decode",
                "aioclarifai._requests",
                "aioclarifai._retry",
                "aioclarifai._transport",
                "aioclarifai._loop_end",
                "aioclarifai._caps",
                "aioclarifai._clarifai_config",
                "aioclarifai._network",
                "aioclarifai._otel",
                "aioclarifai._log",
                "aioclarifai._gc",
                "aioclarifai._extras",
                "aioclarifai._rate",
                "aioclarifai._deadlines",
            }
        ),
    ),
    ("transport", frozenset({"aioclarifai._aiohttp"})),
    ("core", frozenset({"aioclarifai._core"})),
    (
        "helpers",  # take the core, never the Client
        frozenset(
            {
                "aioclarifai._streaming",
                "aioclarifai._text_stream",
                "aioclarifai._pagination",
                "aioclarifai._uploads",
                "aioclarifai._batching",
                "aioclarifai._predict_many",
                "aioclarifai._output_match",
                "aioclarifai._chunked",
                "aioclarifai._any_request",
            }
        ),
    ),
    (
        "client",  # the generated operation methods are the Client's, mixed into it
        frozenset({"aioclarifai._generated.operations", "aioclarifai._client", "aioclarifai"}),
    ),
    ("outer", frozenset({"aioclarifai.__main__", "aioclarifai.ray"})),  # + testing/, cli/
)
OUTER_PACKAGES = ("aioclarifai.testing", "aioclarifai.cli")
#: The generated types are a package of many modules (and the public ``types`` its index).
GENERATED_PACKAGES = ("aioclarifai._generated.types.", "aioclarifai.types.")
#: aiohttp and the libraries it brings: only the transport layer speaks them...
AIOHTTP = frozenset({"aiohttp", "yarl", "multidict", "aiosignal", "frozenlist"})
#: ...except FakeClarifai, a real HTTP server: ``aiohttp.web`` in ``aioclarifai.testing``.
FAKE_SERVER = "aioclarifai.testing"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> Iterator[tuple[str, int]]:
    """Every module ``name`` imports (resolved, ``from pkg import module`` included), with lines."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            submodules = [f"{target}.{a.name}" for a in node.names]
            for sub in submodules:
                if sub in MODULES:
                    yield sub, node.lineno  # ``from . import types``: the module, not the package
            if not all(sub in MODULES for sub in submodules):
                yield target, node.lineno


def layer_of(name: str) -> int:
    if name.startswith(OUTER_PACKAGES):
        return len(LAYERS) - 1
    if name.startswith(GENERATED_PACKAGES):
        return 0
    for index, (_, members) in enumerate(LAYERS):
        if name in members:
            return index
    raise AssertionError(f"{name} is in no layer: add it to LAYERS in {__file__}")


def internal_edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        for target, _ in imports(name):
            if target in MODULES and target != name:
                graph[name].add(target)
    return graph


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_downward(name: str) -> None:
    mine = layer_of(name)
    upward = [
        f"{name}:{line} imports {target} ({LAYERS[layer_of(target)][0]})"
        for target, line in imports(name)
        if target in MODULES and layer_of(target) > mine
    ]
    assert upward == [], f"{name} is in layer {LAYERS[mine][0]}"


def test_no_import_cycles() -> None:
    graph = internal_edges()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_transport_imports_aiohttp(name: str) -> None:
    found = [(target, line) for target, line in imports(name) if target.split(".")[0] in AIOHTTP]
    if name == "aioclarifai._aiohttp":
        assert found, "the transport module is where aiohttp is used"
        return
    if name.startswith(FAKE_SERVER):
        found = [(t, line) for t, line in found if t not in ("aiohttp", "aiohttp.web")]
        web_only = [
            node
            for node in ast.walk(ast.parse(MODULES[name].read_text()))
            if isinstance(node, ast.ImportFrom) and node.module == "aiohttp"
            if any(alias.name != "web" for alias in node.names)
        ]
        assert web_only == [], f"{name}: FakeClarifai may use aiohttp.web only"
    assert found == [], f"{name} imports {found}: only aioclarifai._aiohttp may"


#: A namedtuple's public methods start with an underscore so as not to clash with fields.
NAMEDTUPLE_API = frozenset({"_replace", "_asdict", "_fields", "_make"})


def own_attributes(tree: ast.AST) -> set[str]:
    """Attribute names the module's own classes define (methods, slots, ``self.x = ...``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.ClassDef):
            names |= {
                t.id
                for stmt in node.body
                if isinstance(stmt, ast.Assign | ast.AnnAssign)
                for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
                if isinstance(t, ast.Name)
            }
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            names |= {
                c.value
                for c in ast.walk(node.value)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
    return names


@pytest.mark.parametrize(
    "name",
    # The transport is where aiohttp's own internals are read (connector pools): its business.
    sorted(n for n in MODULES if not n.startswith(OUTER_PACKAGES) and n != "aioclarifai._aiohttp"),
)
def test_no_reach_into_another_objects_private_parts(name: str) -> None:
    # Private attributes are read only on objects of the module's own classes.
    tree = ast.parse(MODULES[name].read_text())
    own = own_attributes(tree)
    reach = [
        f"{name}:{node.lineno} {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and node.attr not in own | NAMEDTUPLE_API
    ]
    assert reach == []


def test_no_test_module_imports_another() -> None:
    # Shared servers and fixtures live in tests/conftest.py and tests/helpers*.py.
    tests = PACKAGE.parent / "tests"
    found = []
    for path in sorted(tests.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.rpartition(".")[2].startswith("test_")
            ):
                found.append(f"{path.relative_to(tests)}:{node.lineno} {node.module}")
    assert found == []
