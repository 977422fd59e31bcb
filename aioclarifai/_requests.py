"""Turning a request Struct into an HTTP request: path, query string, JSON body.

Path values are percent-encoded as whole segments (``.``, ``/``, ``?``, ``#``,
``%``, spaces and unicode included) and the URL is handed to aiohttp already
encoded, so nothing is decoded or normalised twice on the way.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import quote

import msgspec

from ._endpoint import Endpoint, PathTemplate
from .types import UserAppIDSet

__all__ = ["BuiltRequest", "build_request", "quote_segment"]

_encoder = msgspec.json.Encoder()
_MISSING = object()


@functools.lru_cache(maxsize=4096)
def quote_segment(value: str) -> str:
    """Percent-encode ``value`` as one path segment (``.`` too, so ``..`` stays a name)."""
    return quote(value, safe="").replace(".", "%2E")


def _quote_query(value: str) -> str:
    return quote(value, safe="")


class BuiltRequest(msgspec.Struct, gc=False):
    """What goes on the wire for one call."""

    method: str
    path_and_query: str
    body: bytes | None


def with_app_defaults(request: Any, user_id: str, app_id: str) -> Any:
    """Fill ``user_app_id`` from the client's defaults where the request left it unset."""
    uai = request.user_app_id
    if uai is None:
        return msgspec.structs.replace(
            request, user_app_id=UserAppIDSet(user_id=user_id, app_id=app_id)
        )
    if not uai.user_id or not uai.app_id:
        return msgspec.structs.replace(
            request,
            user_app_id=UserAppIDSet(user_id=uai.user_id or user_id, app_id=uai.app_id or app_id),
        )
    return request


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def _choose_template(endpoint: Endpoint[Any, Any], request: Any) -> tuple[PathTemplate, list[str]]:
    for template in endpoint.templates:
        values = [_get(request, f) for f in template.fields]
        if all(values):
            return template, values
    # Name the first empty field of the least specific template.
    last = endpoint.templates[-1]
    for f in last.fields:
        if not _get(request, f):
            name = ".".join(f)
            hint = " (pass app_id= to Client or set CLARIFAI_APP_ID)" if f[-1] == "app_id" else ""
            raise ValueError(f"{endpoint.name}: {name} must be set{hint}")
    raise AssertionError("unreachable")  # pragma: no cover


def _clear(obj: Any, path: tuple[str, ...]) -> Any:
    """``obj`` with the field at ``path`` reset to its default; empty parents become absent."""
    head = path[0]
    if len(path) == 1:
        default = _default_of(type(obj), head)
        return msgspec.structs.replace(obj, **{head: default})
    child = _clear(getattr(obj, head), path[1:])
    if child == type(child)():
        child = None
    return msgspec.structs.replace(obj, **{head: child})


@functools.cache
def _defaults(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in msgspec.structs.fields(cls):
        if f.default is not msgspec.NODEFAULT:
            out[f.name] = f.default
        elif f.default_factory is not msgspec.NODEFAULT:
            out[f.name] = f.default_factory()
    return out


def _default_of(cls: type, name: str) -> Any:
    return _defaults(cls)[name]


def build_request(endpoint: Endpoint[Any, Any], request: Any) -> BuiltRequest:
    """Path, query and body for ``request`` (whose ``user_app_id`` is already filled)."""
    if not isinstance(request, endpoint.request_type):
        raise TypeError(
            f"{endpoint.name} takes a {endpoint.request_type.__name__}, "
            f"not {type(request).__name__}"
        )
    template, values = _choose_template(endpoint, request)
    lits = template.literals
    parts = [lits[0]]
    for value, lit in zip(values, lits[1:], strict=True):
        parts.append(quote_segment(value if isinstance(value, str) else str(value)))
        parts.append(lit)
    path = "".join(parts)
    rest = request
    for f in template.fields:
        rest = _clear(rest, f)
    if endpoint.body:
        return BuiltRequest(endpoint.http_method, path, _encoder.encode(rest))
    query = encode_query(msgspec.to_builtins(rest), endpoint.name)
    return BuiltRequest(endpoint.http_method, f"{path}?{query}" if query else path, None)


def encode_query(fields: dict[str, Any], operation: str = "") -> str:
    """Flatten JSON-like ``fields`` into a query string as grpc-gateway reads it.

    Nested fields are dotted (``fields.confusion_matrix=true``), repeated ones
    repeat their key, booleans are ``true``/``false``. A list of messages cannot
    be expressed in a query string: that is a ``ValueError`` rather than a
    silently dropped field.
    """
    pairs: list[str] = []
    _flatten("", fields, pairs, operation)
    return "&".join(pairs)


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value if isinstance(value, str) else str(value)


def _flatten(prefix: str, value: Any, out: list[str], operation: str) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, sub, out, operation)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                raise ValueError(
                    f"{operation}: field {prefix!r} holds messages, which cannot be sent "
                    "in a query string"
                )
            out.append(f"{_quote_query(prefix)}={_quote_query(_scalar(item))}")
    elif value is not None:
        out.append(f"{_quote_query(prefix)}={_quote_query(_scalar(value))}")
