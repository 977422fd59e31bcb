"""Turning a request Struct into an HTTP request: path, query string, JSON body.

Path values are percent-encoded as whole segments (``.``, ``/``, ``?``, ``#``,
``%``, spaces and unicode included) and the URL is handed to aiohttp already
encoded, so nothing is decoded or normalised twice on the way.
"""

from __future__ import annotations

import functools
import keyword
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import msgspec

from ._endpoint_spec import Endpoint, PathTemplate

__all__ = ["BuiltRequest", "build_request", "quote_segment"]

_encoder = msgspec.json.Encoder()
_replace = msgspec.structs.replace


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


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


class _Plan:
    """One path template compiled for one request type: how to clear its fields, its paths.

    The quoted path is remembered per tuple of values: a client sends the
    same few paths over and over.
    """

    __slots__ = ("clear", "literals", "partial", "paths", "template")

    def __init__(self, template: PathTemplate, request_type: type) -> None:
        self.template = template
        self.literals = template.literals
        defaults = _defaults(request_type)
        clear: dict[str, Any] = {}
        nested: dict[str, list[tuple[str, ...]]] = {}
        for path in template.fields:
            if len(path) == 1:
                clear[path[0]] = defaults[path[0]]
            else:
                nested.setdefault(path[0], []).append(path)
        partial: list[tuple[str, ...]] = []
        for parent, paths in nested.items():
            subs = {p[1] for p in paths if len(p) == 2}
            if set(_defaults(_field_struct_type(request_type, parent))) <= subs:
                # The path covers the whole message (user_app_id.user_id/app_id of an
                # app-scoped path), so the message is left out of the body altogether.
                clear[parent] = None
            else:
                # Only part of it (user_app_id.user_id of a user-scoped path): the
                # rest of the message is still sent.
                partial += paths
        #: Path fields reset in one ``replace``, so they are not sent twice.
        self.clear = clear
        #: Nested path fields cleared one by one, inside messages the path covers partly.
        self.partial = tuple(partial)
        #: Quoted path by its values (bounded: values that never repeat must not grow it).
        self.paths: dict[tuple[Any, ...], str] = {}

    def path(self, values: tuple[Any, ...]) -> str:
        """The percent-encoded path for ``values``."""
        path = self.paths.get(values)
        if path is None:
            lits = self.literals
            parts = [lits[0]]
            for value, lit in zip(values, lits[1:], strict=True):
                parts.append(quote_segment(value if isinstance(value, str) else str(value)))
                parts.append(lit)
            path = "".join(parts)
            if len(self.paths) >= _MAX_PATHS:
                self.paths.clear()
            self.paths[values] = path
        return path


_SCOPE_FIELDS = (("user_app_id", "user_id"), ("user_app_id", "app_id"))
_MAX_PATHS = 1024

Choose = Callable[[Any, str, str], "tuple[int, tuple[Any, ...]] | None"]
"""An endpoint's compiled router: ``(request, user_id, app_id)`` → (template index,
path values) of the most specific template whose fields are all set, or None."""


class _Route:
    """An endpoint's templates: their plans, and one compiled function choosing among them."""

    __slots__ = ("choose", "plans")

    def __init__(self, endpoint: Endpoint[Any, Any]) -> None:
        self.plans = tuple(_Plan(t, endpoint.request_type) for t in endpoint.templates)
        self.choose = _compile_choose(endpoint.templates)


def _scope(fields: tuple[tuple[str, ...], ...]) -> int:
    """Leading ``user_app_id`` fields: 0, 1 (user_id) or 2 (user_id, app_id)."""
    scope = 0
    for path, expected in zip(fields, _SCOPE_FIELDS, strict=False):
        if path != expected:
            break
        scope += 1
    return scope


def _choose_source(templates: tuple[PathTemplate, ...]) -> str:
    """Python source of an endpoint's router (see :data:`Choose`).

    Straight-line code with the endpoint's field names in it: one call reads
    every path field once and tests the templates most specific first, where
    a loop over templates would cost a few calls per template on every request.
    """
    lines = ["def choose(request, user_id, app_id):"]
    if any(_scope(t.fields) for t in templates):
        lines += [
            "    scoped = request.user_app_id",
            "    if scoped is not None:",
            "        user_id = scoped.user_id or user_id",
            "        app_id = scoped.app_id or app_id",
        ]
    names: dict[tuple[str, ...], str] = {}
    tests: list[tuple[int, list[str]]] = []
    for index, template in enumerate(templates):
        scope = _scope(template.fields)
        values = ["user_id", "app_id"][:scope]
        for path in template.fields[scope:]:
            if path not in names:
                names[path] = name = f"v{len(names)}"
                lines.append(f"    {name} = {_reading(path)}")
            values.append(names[path])
        tests.append((index, values))
    for index, values in tests:
        lines.append(f"    if {' and '.join(values) or 'True'}:")
        lines.append(f"        return {index}, ({''.join(v + ', ' for v in values)})")
    lines.append("    return None")
    return "\n".join(lines) + "\n"


def _reading(path: tuple[str, ...]) -> str:
    """An expression reading ``path`` off ``request`` (an unset message reads None)."""
    if len(path) == 1 and path[0].isidentifier() and not keyword.iskeyword(path[0]):
        return f"request.{path[0]}"
    return f"_get(request, {path!r})"


def _compile_choose(templates: tuple[PathTemplate, ...]) -> Choose:
    namespace: dict[str, Any] = {"_get": _get}
    exec(_choose_source(templates), namespace)  # our own source: field names, checked
    return namespace["choose"]  # type: ignore[no-any-return]


def _field_struct_type(cls: type, name: str) -> type:
    for f in msgspec.structs.fields(cls):
        if f.name == name:
            args = [a for a in getattr(f.type, "__args__", (f.type,)) if a is not type(None)]
            return args[0]  # type: ignore[no-any-return]
    raise KeyError(name)


_ROUTES: dict[int, _Route] = {}


def _route(endpoint: Endpoint[Any, Any]) -> _Route:
    route = _ROUTES.get(id(endpoint))
    if route is None:
        route = _ROUTES[id(endpoint)] = _Route(endpoint)
    return route


def _path_value(request: Any, path: tuple[str, ...], user_id: str, app_id: str) -> Any:
    """The value of one path field; ``user_app_id`` parts fall back to the client's defaults."""
    if path[0] == "user_app_id":
        return _get(request, path) or (user_id if path[1] == "user_id" else app_id)
    return getattr(request, path[0]) if len(path) == 1 else _get(request, path)


def _missing_field(endpoint: Endpoint[Any, Any], request: Any, user_id: str, app_id: str) -> str:
    """A clear message naming the first empty field of the least specific template."""
    for path in _route(endpoint).plans[-1].template.fields:
        if not _path_value(request, path, user_id, app_id):
            hint = (
                " (pass app_id= to Client or set CLARIFAI_APP_ID)" if path[-1] == "app_id" else ""
            )
            return f"{endpoint.name}: {'.'.join(path)} must be set{hint}"
    raise AssertionError("unreachable")  # pragma: no cover


def _without(obj: Any, path: tuple[str, ...]) -> Any:
    """``obj`` with the field at ``path`` reset; a message left empty becomes absent."""
    if len(path) == 1:
        cls: type = type(obj)
        return msgspec.structs.replace(obj, **{path[0]: _defaults(cls)[path[0]]})
    sub = getattr(obj, path[0])
    if sub is None:
        return obj
    sub = _without(sub, path[1:])
    return msgspec.structs.replace(obj, **{path[0]: None if sub == type(sub)() else sub})


@functools.cache
def _defaults(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in msgspec.structs.fields(cls):
        if f.default is not msgspec.NODEFAULT:
            out[f.name] = f.default
        elif f.default_factory is not msgspec.NODEFAULT:
            out[f.name] = f.default_factory()
    return out


def build_request(
    endpoint: Endpoint[Any, Any], request: Any, user_id: str = "me", app_id: str = ""
) -> BuiltRequest:
    """Path, query and body for ``request``.

    The most specific path whose fields are all set is used; an unset
    ``user_app_id`` (or an empty part of it) takes ``user_id`` / ``app_id``.
    Raises ``TypeError`` for a request of the wrong type and ``ValueError``
    naming the missing field, before any I/O.
    """
    if type(request) is not endpoint.request_type and not isinstance(
        request, endpoint.request_type
    ):
        raise TypeError(
            f"{endpoint.name} takes a {endpoint.request_type.__name__}, "
            f"not {type(request).__name__}"
        )
    route = _ROUTES.get(id(endpoint)) or _route(endpoint)
    chosen = route.choose(request, user_id, app_id)
    if chosen is None:
        raise ValueError(_missing_field(endpoint, request, user_id, app_id))
    plan = route.plans[chosen[0]]
    values = chosen[1]
    path = plan.paths.get(values) or plan.path(values)
    rest = _replace(request, **plan.clear)
    for nested in plan.partial:
        rest = _without(rest, nested)
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
