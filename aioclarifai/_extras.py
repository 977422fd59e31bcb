"""Escape hatches: extra headers, query and body fields, any path, and raw responses.

``extra_headers`` / ``extra_query`` / ``extra_body`` (per client view through
``with_options``, or per ``client.request`` call) change what one call sends
without waiting for a new release: headers are added to every attempt, query
parameters appended (percent-encoded; lists repeat the key; booleans are
``true``/``false``), body fields merged into the JSON body (mappings merge
key by key, anything else replaces). Everything is checked before any I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import msgspec

__all__ = [
    "APIResponse",
    "Query",
    "append_query",
    "check_headers",
    "check_path",
    "encode_body",
    "merge_body",
]

T = TypeVar("T")

Query = Mapping[str, Any]
"""Query parameters: a value, or a list/tuple of values for a repeated key."""

# RFC 9110 token characters for header names (a set: no regex to compile at import).
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: The credential headers: set through pat= / session_token=, never by hand.
RESERVED_HEADERS = frozenset({"authorization", "x-clarifai-session-token"})
_encoder = msgspec.json.Encoder()


def check_headers(headers: Mapping[str, str] | None, what: str) -> dict[str, str]:
    """A copy of ``headers`` after checking names and values; ``ValueError`` otherwise."""
    if not headers:
        return {}
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not name or not _TOKEN.issuperset(name):
            raise ValueError(f"{what}: {name!r} is not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(
                f"{what}: {name} carries the credential; pass pat= or session_token= to Client"
            )
        if not isinstance(value, str):
            raise ValueError(
                f"{what}: the value of {name} must be a str, not {type(value).__name__}"
            )
        if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value):
            raise ValueError(f"{what}: the value of {name} contains a control character")
        out[name] = value
    return out


def _query_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return quote(str(value), safe="")
    raise ValueError(
        f"extra_query: {key!r} must be a str, int, float, bool or a list of them, "
        f"not {type(value).__name__}"
    )


def encode_query(query: Query | None) -> str:
    """``query`` as an encoded query string (no leading ``?``); lists repeat the key."""
    if not query:
        return ""
    parts: list[str] = []
    for key, value in query.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"{key!r} is not a query parameter name")
        name = quote(key, safe="")
        values = value if isinstance(value, list | tuple) else (value,)
        parts.extend(f"{name}={_query_value(key, v)}" for v in values if v is not None)
    return "&".join(parts)


def append_query(path_and_query: str, encoded: str) -> str:
    """``path_and_query`` with an already encoded query string appended."""
    if not encoded:
        return path_and_query
    return f"{path_and_query}{'&' if '?' in path_and_query else '?'}{encoded}"


def check_path(path: str) -> str:
    """A path on the API's host, checked: it must start with ``/`` and carry no scheme or host.

    The PAT goes with every request, so a full URL to another host is refused.
    Characters outside the URL's safe set are percent-encoded; ``%XX`` escapes
    already present are kept.
    """
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise ValueError(
            f"path must be a path on the API's host starting with '/', such as "
            f"'/v2/users/me/apps', not {path!r}"
        )
    if any(ord(c) < 33 or ord(c) == 127 for c in path):
        raise ValueError(f"path {path!r} contains whitespace or a control character")
    return quote(path, safe="/%:@!$&'()*+,;=-._~?")


def encode_body(body: Any) -> bytes | None:
    """The JSON bytes of ``body`` (a Struct, a mapping, a list...); bytes are sent as they are."""
    if body is None:
        return None
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    try:
        return _encoder.encode(body)
    except (TypeError, msgspec.EncodeError) as exc:
        raise ValueError(f"body cannot be encoded as JSON: {exc}") from None


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def merge_body(body: bytes | None, extra: Mapping[str, Any] | None, operation: str) -> bytes | None:
    """``body`` with ``extra`` merged in (mappings key by key); unchanged without ``extra``."""
    if not extra:
        return body
    if body is None:
        raise ValueError(
            f"{operation}: extra_body needs an operation that sends a JSON body; "
            "this one sends its fields in the query string (use extra_query)"
        )
    data = msgspec.json.decode(body) if body else {}
    if not isinstance(data, dict):
        raise ValueError(f"{operation}: extra_body needs a JSON object body")
    _merge(data, extra)
    try:
        return _encoder.encode(data)
    except (TypeError, msgspec.EncodeError) as exc:
        raise ValueError(f"extra_body cannot be encoded as JSON: {exc}") from None


class APIResponse(Generic[T]):
    """A successful answer with its HTTP details (``client.with_raw_response.<op>(...)``).

    ``http_status``, ``headers`` (case-insensitive), ``req_id`` (from the
    body's status, else the ``X-Clarifai-Request-Id`` header), ``elapsed``
    (seconds, from sending the successful attempt to its decoded answer),
    ``attempts`` (1 unless retried), ``content`` (the body's bytes) and
    :meth:`parse` (the typed response, as the plain call returns it). A
    failure still raises its typed error.
    """

    __slots__ = ("_parsed", "attempts", "content", "elapsed", "headers", "http_status", "operation")

    def __init__(  # noqa: PLR0917 - built in one place, by the core
        self,
        operation: str,
        http_status: int,
        headers: Mapping[str, str],
        content: bytes,
        parsed: T,
        elapsed: float,
        attempts: int,
    ) -> None:
        self.operation = operation
        self.http_status = http_status
        self.headers = headers
        self.content = content
        self._parsed = parsed
        self.elapsed = elapsed
        self.attempts = attempts

    @property
    def req_id(self) -> str:
        """Clarifai's id of this request ("" when the answer carried none)."""
        parsed = self._parsed
        if isinstance(parsed, dict):
            status = parsed.get("status")
            req_id = status.get("req_id", "") if isinstance(status, dict) else ""
        else:
            req_id = getattr(getattr(parsed, "status", None), "req_id", "")
        return str(req_id or self.headers.get("X-Clarifai-Request-Id", ""))

    def parse(self) -> T:
        """The typed response."""
        return self._parsed

    def json(self) -> Any:
        """The body as plain JSON values."""
        return msgspec.json.decode(self.content)

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return (
            f"<APIResponse {self.operation} http_status={self.http_status} "
            f"req_id={self.req_id!r} elapsed={self.elapsed * 1000:.1f}ms>"
        )
