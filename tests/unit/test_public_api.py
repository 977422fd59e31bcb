"""The public names are a contract: ``__all__`` lists exactly what is exported."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import msgspec
import pytest

import aioclarifai
from aioclarifai import endpoints, types

if TYPE_CHECKING:
    from typing_extensions import assert_type


def test_all_names_resolve() -> None:
    for name in aioclarifai.__all__:
        assert getattr(aioclarifai, name) is not None, name


def test_all_lists_every_public_class() -> None:
    public = {
        name
        for name, value in vars(aioclarifai).items()
        if not name.startswith("_")
        and inspect.isclass(value)
        and value.__module__.startswith("aioclarifai")
    }
    assert public <= set(aioclarifai.__all__)


def test_types_all_lists_every_message() -> None:
    # dir(), not vars(): the types are loaded on first use.
    structs = {
        name
        for name in dir(types)
        if inspect.isclass(value := getattr(types, name)) and issubclass(value, msgspec.Struct)
    }
    shared_defaults = {"EMPTY_LIST", "EMPTY_DICT"}
    assert structs == set(types.__all__) - shared_defaults - {
        n for n in types.__all__ if _is_enum(n)
    }
    assert len(structs) > 700  # the union of 12.6.0 and 10.9.11


def _is_enum(name: str) -> bool:
    import enum

    value = getattr(types, name)
    return inspect.isclass(value) and issubclass(value, enum.IntEnum)


def test_every_operation_has_a_method() -> None:
    # 268 REST operations of clarifai-grpc 12.6.0 + the 15 seed ones it dropped.
    assert len(endpoints.ENDPOINTS) == 283
    for method_name, endpoint in endpoints.ENDPOINTS.items():
        method = getattr(aioclarifai.Client, method_name)
        assert endpoint.name in (method.__doc__ or ""), method_name


def test_errors_exported_with_tree() -> None:
    assert issubclass(aioclarifai.APITimeoutError, aioclarifai.APIConnectionError)
    for name in (
        "BadRequestError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "RateLimitError",
        "ModelNotReadyError",
        "ServerError",
    ):
        assert issubclass(getattr(aioclarifai, name), aioclarifai.APIStatusError)
    assert issubclass(aioclarifai.StreamError, aioclarifai.ClarifaiError)
    assert issubclass(aioclarifai.OutputError, aioclarifai.ClarifaiError)


def test_import_does_not_load_anyio_or_cli() -> None:
    # Keeps `import aioclarifai` cheap: heavy or optional modules load on first use.
    code = (
        "import sys, aioclarifai; "
        "print(sorted(m for m in ('anyio', 'aioclarifai.cli', 'tqdm', 'ray') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_high_level_helpers_have_precise_return_types() -> None:
    # mypy checks the assert_type lines: an ``Any`` return would fail them.
    client = aioclarifai.Client(pat="k", app_id="app", base_url="http://127.0.0.1:9")
    stream = client.generate("llm", "hi")
    assert isinstance(stream, aioclarifai.TextStream)
    many = client.predict_many("m", [types.Input(id="a")])
    assert isinstance(many, AsyncIterator)
    if TYPE_CHECKING:
        assert_type(stream, aioclarifai.TextStream)
        assert_type(many, AsyncIterator[types.Output | Exception])
    # Nothing was sent: neither object holds a connection or a pending task.
    del stream, many


def test_objects_the_client_returns_are_exported() -> None:
    # Users annotate with these: each must be importable from the package itself.
    from aioclarifai._pagination import Page, Paginator

    client = aioclarifai.Client(pat="k", app_id="app", base_url="http://127.0.0.1:9")
    assert type(client.paginate(client.list_workflows)) is aioclarifai.Paginator is Paginator
    assert aioclarifai.Page is Page
    assert type(client.generate("llm", "hi")) is aioclarifai.TextStream


def test_types_load_on_first_use() -> None:
    # 750 Structs and 58 enums: importing the package loads the few the client's own
    # modules name; an operation's first call loads the modules of its messages only.
    code = (
        "import sys, aioclarifai\n"
        "from aioclarifai._generated import types as g\n"
        "def loaded(): return {n for m, mod in list(sys.modules.items())\n"
        "    if m.startswith('aioclarifai._generated.types._') for n in mod.__all__}\n"
        "at_import = loaded()\n"
        "from aioclarifai.endpoints import ENDPOINTS\n"
        "ENDPOINTS['list_open_source_licenses'].response_type\n"
        "print(len(g.__all__), len(at_import), len(loaded() - at_import),\n"
        "      'aioclarifai._generated.types._enums' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    total, at_import, first_call, enums = out.stdout.split()
    assert int(at_import) < int(total) / 2
    assert 0 < int(first_call) < 20
    assert enums == "False"


def test_unknown_names_are_attribute_errors_of_the_public_modules() -> None:
    with pytest.raises(AttributeError, match=r"module 'aioclarifai.types' has no attribute 'Nope'"):
        _ = types.Nope
    with pytest.raises(AttributeError, match=r"'aioclarifai.endpoints' has no attribute 'NOPE'"):
        _ = endpoints.NOPE
    assert not hasattr(types, "Nope") and hasattr(types, "Data")
