"""``client.request``: any path of the API through the core, with its auth, retries and errors.

Split from :mod:`aioclarifai._extras` (which the core itself uses) so that
this part, which needs the core, sits above it: no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from . import _decode
from ._core import interpret
from ._endpoint_spec import Endpoint
from ._extras import Query, append_query, check_path, encode_body, encode_query, merge_body
from ._requests import BuiltRequest

if TYPE_CHECKING:
    from ._core import Core
    from ._transport import RawResponse

__all__ = ["Reader", "request_parts"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

Reader = Callable[[Endpoint[Any, Any], "RawResponse", bytes], Any]


def request_parts(
    core: Core,
    method: str,
    path: str,
    *,
    body: Any,
    query: Query | None,
    cast_to: type[Any] | None,
    idempotent: bool | None,
) -> tuple[Endpoint[None, Any], BuiltRequest, Reader]:
    """What ``client.request`` sends and how it reads the answer; ``ValueError`` early."""
    verb = method.upper() if isinstance(method, str) else ""
    if verb not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(sorted(_METHODS))}, not {method!r}")
    where = check_path(path)
    target = cast_to if cast_to is not None else Any
    name = f"{verb} {where.partition('?')[0]}"
    encoded = encode_body(body)
    if encoded is None and core.extra_body and verb in {"POST", "PUT", "PATCH"}:
        encoded = b"{}"
    endpoint: Endpoint[None, Any] = Endpoint(
        name=name, http_method=verb, paths=(where,), body=encoded is not None,
        request_type=type(None), response_type=target, streaming=False,
        idempotent=verb in _IDEMPOTENT if idempotent is None else idempotent,
        items_field=None, paged=False,
    )  # fmt: skip
    built = BuiltRequest(
        verb,
        append_query(append_query(where, encode_query(query)), core.extra_query),
        merge_body(encoded, core.extra_body, name),
    )
    return endpoint, built, _read_any


def _read_any(endpoint: Endpoint[Any, Any], raw: RawResponse, secret: bytes) -> Any:
    """Decode as ``cast_to``; a failed Clarifai status or HTTP status raises its typed error."""
    from ._generated.types import BaseResponse

    classify: Endpoint[Any, Any] = Endpoint(
        name=endpoint.name, http_method=endpoint.http_method, paths=endpoint.paths,
        body=endpoint.body, request_type=type(None), response_type=BaseResponse,
        streaming=False, idempotent=endpoint.idempotent, items_field=None, paged=False,
    )  # fmt: skip
    target = endpoint.response_type
    if not 200 <= raw.status < 300:
        interpret(classify, raw, secret)  # raises the typed error
    if target is bytes:
        return raw.body
    try:
        status = msgspec.json.decode(raw.body, type=_StatusOnly).status
    except (msgspec.MsgspecError, ValueError):
        status = None
    if status is not None and status.code not in (0, 10000, 10010):
        interpret(classify, raw, secret)  # a Clarifai failure inside a 2xx answer
    if target is Any:
        return msgspec.json.decode(raw.body) if raw.body else None
    try:
        return _decode.decode(target, raw.body)
    except (msgspec.MsgspecError, ValueError, TypeError):
        return interpret(Endpoint(
            name=endpoint.name, http_method=endpoint.http_method, paths=endpoint.paths,
            body=endpoint.body, request_type=type(None), response_type=target,
            streaming=False, idempotent=endpoint.idempotent, items_field=None, paged=False,
        ), raw, secret)  # fmt: skip


class _Code(msgspec.Struct):
    code: int = 0


class _StatusOnly(msgspec.Struct):
    status: _Code | None = None
