"""The public names are a contract: ``__all__`` lists exactly what is exported."""

from __future__ import annotations

import inspect
import subprocess
import sys

import msgspec

import aioclarifai
from aioclarifai import endpoints, types


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
    structs = {
        name
        for name, value in vars(types).items()
        if inspect.isclass(value) and issubclass(value, msgspec.Struct)
    }
    assert structs == set(types.__all__) - {n for n in types.__all__ if _is_enum(n)}
    assert len(structs) > 230


def _is_enum(name: str) -> bool:
    import enum

    value = getattr(types, name)
    return inspect.isclass(value) and issubclass(value, enum.IntEnum)


def test_fifty_operations_each_with_a_method() -> None:
    assert len(endpoints.ENDPOINTS) == 50
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
