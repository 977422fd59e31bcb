"""Exceptions raised by aioclarifai, and the table that classifies Clarifai status codes.

The tree::

    ClarifaiError                       every error this package raises on purpose
    ├── APIConnectionError              no usable answer: refused, reset, DNS, TLS
    │   └── APITimeoutError             connect / pool / read / total budget ran out
    ├── APIStatusError                  Clarifai answered with a non-success status
    │   ├── BadRequestError             11100 bad request format, invalid arguments, ...
    │   ├── AuthenticationError         11008 key invalid, 11009 key not found, ...
    │   ├── PermissionDeniedError       11007 insufficient scopes
    │   ├── NotFoundError               21200 model / 25300 module / 30102 input does not exist
    │   ├── RateLimitError              11005 throttled, 11003/11004 usage limits, HTTP 429
    │   ├── ModelNotReadyError          21351 deploying, 21354 busy, 21355 loading
    │   └── ServerError                 10030 try again, 98xxx/99xxx, 5xx, unreadable bodies
    ├── StreamError                     an error frame inside a streamed answer
    ├── ResponseTooLargeError           an answer beyond the client's size caps
    ├── OutputError                     one input of a batch failed (``predict``)
    ├── UploadError                     an upload failed (68002-68006) or never finished
    └── ConfigurationError              bad settings at ``Client()``, before any I/O

Classification reads the body's ``status.code`` first and the HTTP status
second; every code lands in some family. ``asyncio.CancelledError`` is never
caught or converted. No message, repr or log line contains the PAT.
``UploadError`` lives with the upload helpers (:mod:`aioclarifai._uploads`),
``ConfigurationError`` (also a ``ValueError``) with the settings
(:mod:`aioclarifai._clarifai_config`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .types import Output, Status

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClarifaiError",
    "ModelNotReadyError",
    "NotFoundError",
    "OutputError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ServerError",
    "StreamError",
    "code_name",
    "redact",
    "scrub",
    "scrub_bytes",
    "status_error_class",
]


class ClarifaiError(Exception):
    """Base of every error aioclarifai raises."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        # ``aioclarifai.NotFoundError('...')``: the name users import (see the package).
        cls = type(self)
        return f"{cls.__module__}.{cls.__qualname__}({self.message!r})"


class APIConnectionError(ClarifaiError):
    """The request got no usable answer (connection refused, reset, DNS, TLS).

    ``request_sent`` is False only when the request surely never reached the
    server (it failed while connecting), which makes even non-idempotent
    operations safe to retry.
    """

    def __init__(self, message: str, *, operation: str = "", request_sent: bool = True) -> None:
        super().__init__(message)
        self.operation = operation
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """A time budget ran out.

    ``kind`` says which: ``"pool"`` (waiting for a free pooled connection — the
    client is saturated, not the server), ``"connect"``, ``"read"`` (no bytes
    for the read/idle timeout) or ``"total"``.
    """

    def __init__(self, message: str, *, operation: str = "", kind: str = "total") -> None:
        super().__init__(message, operation=operation, request_sent=kind not in {"pool", "connect"})
        self.kind = kind


class APIStatusError(ClarifaiError):
    """Clarifai answered with a non-success status (or an unreadable body).

    Attributes: ``code`` (Clarifai status code, 0 when the body had none),
    ``code_name``, ``description``, ``details``, ``req_id``, ``http_status``,
    ``operation``, ``response`` (the decoded response, when there was one),
    ``retry_after`` (seconds the server asked to wait, if it said).
    """

    def __init__(
        self,
        *,
        code: int,
        description: str = "",
        details: str = "",
        req_id: str = "",
        http_status: int = 0,
        operation: str = "",
        response: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.code_name = code_name(code)
        self.description = description
        self.details = details
        self.req_id = req_id
        self.http_status = http_status
        self.operation = operation
        self.response = response
        self.retry_after = retry_after
        parts = [f"{operation}: " if operation else ""]
        parts.append(f"{code} {self.code_name}" if code else f"HTTP {http_status}")
        if description:
            parts.append(f" {description}")
        if details and details != description:
            parts.append(f" ({details})")
        if code:
            parts.append(f" [HTTP {http_status}]")
        if req_id:
            parts.append(f" req_id={req_id}")
        super().__init__("".join(parts))

    @classmethod
    def from_status(
        cls,
        status: Status,
        *,
        http_status: int,
        operation: str,
        response: Any = None,
        retry_after: float | None = None,
    ) -> APIStatusError:
        """Build the right subclass for a decoded ``Status``.

        ``10020 FAILURE`` (every input failed) takes the family of the first
        output's status, so a batch of unreachable URLs is a ``BadRequestError``.
        """
        family_code = status.code
        if family_code == 10020:
            outputs = getattr(response, "outputs", None)
            first = outputs[0].status if outputs else None
            if first is not None and first.code not in (0, 10000, 10010, 10020):
                family_code = first.code
        err_cls = status_error_class(family_code, http_status)
        return err_cls(
            code=status.code,
            description=status.description,
            details=status.details,
            req_id=status.req_id,
            http_status=http_status,
            operation=operation,
            response=response,
            retry_after=retry_after,
        )


class BadRequestError(APIStatusError):
    """The request was malformed or its arguments invalid (11100, 11102, HTTP 400)."""


class AuthenticationError(APIStatusError):
    """The PAT or key is missing, invalid or unknown (11008, 11009, HTTP 401)."""


class PermissionDeniedError(APIStatusError):
    """The key lacks the scopes for this operation (11007, HTTP 403)."""


class NotFoundError(APIStatusError):
    """The model, workflow, module, input, ... does not exist (21200, 25300, HTTP 404)."""


class RateLimitError(APIStatusError):
    """Throttled (11005, HTTP 429) or over a usage limit (11003 hourly, 11004 monthly)."""


class ModelNotReadyError(APIStatusError):
    """The model is deploying (21351), busy (21354) or loading (21355): try again later."""


class ServerError(APIStatusError):
    """Clarifai or a proxy failed (10030, 98xxx/99xxx, HTTP 5xx, unreadable bodies)."""


class StreamError(ClarifaiError):
    """An ``{"error": …}`` frame arrived inside a streamed answer.

    ``grpc_code`` and ``grpc_message`` are what the frame said.
    """

    def __init__(
        self, message: str, *, grpc_code: int = 0, operation: str = "", details: Any = None
    ) -> None:
        super().__init__(message)
        self.grpc_code = grpc_code
        self.grpc_message = message
        self.operation = operation
        self.details = details


class ResponseTooLargeError(ClarifaiError):
    """An answer went past one of the client's size caps; what was read of it is dropped.

    ``what`` is ``"stream line"``, ``"body"`` (bytes on the wire) or
    ``"decompressed body"``; ``limit`` the cap in bytes (``Client(max_line_bytes=,
    max_body_bytes=, max_decompressed_bytes=)``). Never retried: the same
    answer would come again. The connection is dropped, not pooled.
    """

    def __init__(self, what: str, limit: int, *, operation: str = "", seen: int = 0) -> None:
        at_least = f" (at least {seen:,} bytes)" if seen else ""
        super().__init__(
            f"{operation + ': ' if operation else ''}the answer's {what} is larger than "
            f"{limit:,} bytes{at_least}; raise the client's limit if it is expected"
        )
        self.what = what
        self.limit = limit
        self.operation = operation


class OutputError(ClarifaiError):
    """One input of a batched predict failed; ``output`` and ``status`` say why."""

    def __init__(self, output: Output | None, status: Status | None, message: str = "") -> None:
        self.output = output
        self.status = status
        self.code = status.code if status is not None else 0
        self.code_name = code_name(self.code)
        self.description = status.description if status is not None else ""
        self.req_id = status.req_id if status is not None else ""
        detail = message or (
            f"{self.code} {self.code_name} {self.description}".rstrip()
            if status is not None
            else "no output"
        )
        super().__init__(f"output failed: {detail}")


# -- classification -------------------------------------------------------------

# Exact codes first: the families WIRE.md names, plus codes whose names mislead.
_BY_CODE: dict[int, type[APIStatusError]] = {}
for _codes, _cls in (
    ((11000, 11001, 11002, 11008, 11009, 11010, 11011, 11012, 11200, 65000), AuthenticationError),
    ((11007, 11104, 50001), PermissionDeniedError),
    ((11003, 11004, 11005, 11006), RateLimitError),
    ((11100, 11102, 11103, 30002, 40010, 40033, 46003, 47103, 47104), BadRequestError),
    ((11101, 21200, 22102, 25300, 30102, 51000, 52000, 54102), NotFoundError),
    (
        (21101, 21103, 21104, 21107, 21350, 21351, 21352, 21353, 21354, 21355),
        ModelNotReadyError,
    ),
    ((10020, 10030, 10040, 21313, 39996, 39997, 39998, 40030, 40031, 40032, 90500), ServerError),
):
    for _code in _codes:
        _BY_CODE[_code] = _cls

# Then the words Clarifai puts in its code names.
_BY_NAME: tuple[tuple[tuple[str, ...], type[APIStatusError]], ...] = (
    (("DOES_NOT_EXIST", "NOT_FOUND"), NotFoundError),
    (("PERMISSION_DENIED",), PermissionDeniedError),
    (
        ("INVALID_ARGUMENT", "INVALID_REQUEST", "INVALID_SYNTAX", "UNSUPPORTED", "BAD_REQUEST"),
        BadRequestError,
    ),
    (("INTERNAL", "UNCATEGORIZED", "UNEXPECTED"), ServerError),
)

_BY_HTTP: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: ServerError,
    429: RateLimitError,
}


def code_name(code: int) -> str:
    """``StatusCode`` name of ``code``, or ``"UNKNOWN_<code>"`` for codes newer than the schema."""
    if code == 0:
        return ""
    return _code_names().get(code) or f"UNKNOWN_{code}"


@functools.cache
def _code_names() -> dict[int, str]:
    from .types import StatusCode

    names = {int(c): c.name for c in StatusCode}
    # Newer than the clarifai-grpc release the types were generated from (WIRE.md).
    names.setdefault(21354, "MODEL_BUSY_PLEASE_RETRY")
    names.setdefault(21355, "MODEL_LOADING")
    return names


@functools.lru_cache(maxsize=512)
def _family_of_code(code: int) -> type[APIStatusError] | None:
    """The family a Clarifai code names by itself (None: let the HTTP status decide)."""
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls
    name = _code_names().get(code, "")
    for words, cls in _BY_NAME:
        if any(w in name for w in words):
            return cls
    if code >= 98000 or 40000 <= code < 50000:
        return ServerError  # internal, RPC, database, queue, ... failures
    return None


def status_error_class(code: int, http_status: int) -> type[APIStatusError]:
    """The error family of a Clarifai status code, falling back on the HTTP status.

    Every code lands in some family: codes that name neither a family nor a
    server-side failure (resource states such as ``MODEL_TRAINING_FAILED``)
    follow the HTTP status, and are ``BadRequestError`` when it says nothing.
    """
    if code:
        cls = _family_of_code(code)
        if cls is not None:
            return cls
    by_http = _BY_HTTP.get(http_status)
    if by_http is not None:
        return by_http
    if http_status >= 500 or (code == 0 and not 400 <= http_status < 500):
        return ServerError
    return BadRequestError


#: The shortest piece of the PAT that is blanked out on its own: a server that echoes
#: a header cut short, or an excerpt cut in the middle of the PAT, still shows none of it.
_MIN_PIECE = 8


def scrub(text: str, secret: str) -> str:
    """``text`` with ``secret``, and every cut-off start of it (8+ characters), as ``***``."""
    if not secret or not text:
        return text
    if secret in text:
        text = text.replace(secret, "***")
    head = secret[: min(_MIN_PIECE, len(secret))]
    start = text.find(head)
    while start >= 0:
        end = start + len(head)
        while end < len(text) and end - start < len(secret) and text[end] == secret[end - start]:
            end += 1
        text = f"{text[:start]}***{text[end:]}"
        start = text.find(head, start + 3)
    return text


def scrub_bytes(body: bytes, secret: bytes) -> bytes:
    """:func:`scrub` for a raw body (the same rule, on bytes)."""
    if not secret or not body:
        return body
    head = secret[: min(_MIN_PIECE, len(secret))]
    if head not in body:
        return body
    return scrub(body.decode("latin-1"), secret.decode("latin-1")).encode("latin-1")


def redact(error: ClarifaiError, secret: str) -> ClarifaiError:
    """Blank ``secret`` (the PAT) out of ``error``'s message and text attributes; returns ``error``.

    A server or proxy may echo request headers into its error body, whole or
    cut short; this keeps the PAT, and any 8+ character start of it, out of
    messages, reprs and logs even then.
    """
    if secret:
        head = secret[: min(_MIN_PIECE, len(secret))]
        for name, value in vars(error).items():
            if isinstance(value, str) and head in value:
                setattr(error, name, scrub(value, secret))
        if any(isinstance(a, str) and head in a for a in error.args):
            error.args = tuple(scrub(a, secret) if isinstance(a, str) else a for a in error.args)
    return error
