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
    └── OutputError                     one input of a batch failed (``predict``)

Classification reads the body's ``status.code`` first and the HTTP status
second; every code lands in some family. ``asyncio.CancelledError`` is never
caught or converted. No message, repr or log line contains the PAT.
"""

from __future__ import annotations

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
    "ServerError",
    "StreamError",
    "status_error_class",
]


class ClarifaiError(Exception):
    """Base of every error aioclarifai raises."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
        """Build the right subclass for a decoded ``Status``."""
        err_cls = status_error_class(status.code, http_status)
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

_AUTH = frozenset({11000, 11001, 11002, 11008, 11009, 11010, 11011, 11012})
_PERMISSION = frozenset({11007})
_RATE = frozenset({11003, 11004, 11005, 11006})
_BAD_REQUEST = frozenset({11100, 11102, 30002})
_NOT_FOUND = frozenset({11101, 21200, 22102, 25300, 30102})
_NOT_READY = frozenset({21351, 21354, 21355})
_SERVER = frozenset({10020, 10030, 40030, 40031, 40032})

_BY_HTTP: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: ServerError,
    409: BadRequestError,
    413: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
}


def code_name(code: int) -> str:
    """``StatusCode`` name of ``code``, or ``"UNKNOWN_<code>"`` for codes newer than the schema."""
    if code == 0:
        return ""
    if code == 21354:
        return "MODEL_BUSY_PLEASE_RETRY"
    if code == 21355:
        return "MODEL_LOADING"
    from .types import StatusCode

    try:
        return StatusCode(code).name
    except ValueError:
        return f"UNKNOWN_{code}"


def status_error_class(code: int, http_status: int) -> type[APIStatusError]:
    """The error family of a Clarifai status code, falling back on the HTTP status."""
    if code:
        for codes, cls in (
            (_AUTH, AuthenticationError),
            (_PERMISSION, PermissionDeniedError),
            (_RATE, RateLimitError),
            (_BAD_REQUEST, BadRequestError),
            (_NOT_FOUND, NotFoundError),
            (_NOT_READY, ModelNotReadyError),
            (_SERVER, ServerError),
        ):
            if code in codes:
                return cls
        name = code_name(code)
        if "DOES_NOT_EXIST" in name or "NOT_FOUND" in name:
            return NotFoundError
        if name.startswith("CONN_KEY") or name.startswith("CONN_AUTH"):
            return AuthenticationError
        if "PERMISSION" in name or "SCOPE" in name:
            return PermissionDeniedError
        if code >= 98000 or (40000 <= code < 50000) or http_status >= 500:
            return ServerError
        if 21350 <= code < 21360:
            return ModelNotReadyError
        if http_status in _BY_HTTP:
            return _BY_HTTP[http_status]
        # A code that names a client-side problem (invalid argument, bad input, ...).
        return BadRequestError
    if http_status in _BY_HTTP:
        return _BY_HTTP[http_status]
    if 400 <= http_status < 500:
        return BadRequestError
    return ServerError
