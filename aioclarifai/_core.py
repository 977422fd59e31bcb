"""The one request pipeline every operation goes through.

build (defaults, path, query/body) → send with the attempt's timeouts →
decode with the endpoint's cached typed decoder → status → typed error →
retry with backoff when the error and the operation allow it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import msgspec

from . import _decode
from ._config import RetryConfig, Settings, Timeout
from ._endpoint import Endpoint
from ._errors import APIStatusError, ClarifaiError, ServerError, status_error_class
from ._requests import BuiltRequest, build_request, with_app_defaults
from ._retry import parse_retry_after, retry_delay
from ._transport import RawResponse, StreamingResponse, Transport

__all__ = ["Core", "RequestEvent", "ResponseEvent"]

logger = logging.getLogger("aioclarifai")

ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")

SUCCESS = 10000
MIXED_STATUS = 10010
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/=]{96,}")


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """Passed to ``on_request`` before each attempt."""

    operation: str
    method: str
    path: str
    attempt: int


@dataclass(frozen=True, slots=True)
class ResponseEvent:
    """Passed to ``on_response`` after each attempt (``error`` set when it failed)."""

    operation: str
    method: str
    path: str
    attempt: int
    http_status: int
    code: int
    req_id: str
    duration: float
    error: ClarifaiError | None


Hook = Callable[[Any], Any]


def snippet(body: bytes, limit: int = 160) -> str:
    """A short, printable excerpt of a body, for error messages."""
    text = " ".join(body[:limit].decode("utf-8", "replace").split())
    return text + ("…" if len(body) > limit else "")


def _shorten_payloads(body: bytes | None) -> str:
    if not body:
        return ""
    short = _BASE64_RUN.sub(lambda m: b"<%d base64 chars>" % len(m.group()), body)
    return snippet(short, 300)


class Core:
    """Settings, transport and per-call options shared by a client and its copies."""

    def __init__(
        self,
        settings: Settings,
        transport: Transport,
        timeout: Timeout,
        retry: RetryConfig,
        on_request: Hook | None = None,
        on_response: Hook | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.timeout = timeout
        self.retry = retry
        self.on_request = on_request
        self.on_response = on_response

    def with_options(
        self, *, timeout: Timeout | None = None, max_retries: int | None = None
    ) -> Core:
        """A core sharing this one's transport with other per-call options."""
        return Core(
            self.settings,
            self.transport,
            timeout if timeout is not None else self.timeout,
            replace(self.retry, max_retries=max_retries) if max_retries is not None else self.retry,
            self.on_request,
            self.on_response,
        )

    def prepare(self, endpoint: Endpoint[Any, Any], request: Any) -> BuiltRequest:
        """Apply user/app defaults and build the wire request (raises ``ValueError`` early)."""
        if hasattr(request, "user_app_id"):
            request = with_app_defaults(request, self.settings.user_id, self.settings.app_id)
        return build_request(endpoint, request)

    # -- unary -------------------------------------------------------------------

    async def call(self, endpoint: Endpoint[ReqT, RespT], request: ReqT) -> RespT:
        """Send ``request`` and return the typed response, retrying as allowed."""
        built = self.prepare(endpoint, request)
        attempt = 0
        while True:
            started = time.perf_counter()
            if self.on_request is not None:
                await _run_hook(self.on_request, _request_event(endpoint, built, attempt))
            try:
                raw = await self.transport.send(
                    built.method, built.path_and_query, built.body, self.timeout, endpoint.name
                )
                result = interpret(endpoint, raw)
            except ClarifaiError as error:
                self._log_attempt(endpoint, built, attempt, started, None, error)
                delay = retry_delay(
                    error,
                    attempt=attempt,
                    operation=endpoint.name,
                    idempotent=endpoint.idempotent,
                    config=self.retry,
                )
                if delay is None:
                    raise
                await asyncio.sleep(delay)
                attempt += 1
                continue
            self._log_attempt(endpoint, built, attempt, started, raw, None, result)
            return result

    # -- streams -----------------------------------------------------------------

    async def open_stream(
        self, endpoint: Endpoint[Any, Any], built: BuiltRequest, attempt: int
    ) -> StreamingResponse:
        """Open one streaming attempt; a non-2xx answer raises its typed error."""
        started = time.perf_counter()
        if self.on_request is not None:
            await _run_hook(self.on_request, _request_event(endpoint, built, attempt))
        try:
            resp = await self.transport.open_stream(
                built.method, built.path_and_query, built.body, self.timeout, endpoint.name
            )
        except ClarifaiError as error:
            self._log_attempt(endpoint, built, attempt, started, None, error)
            raise
        if not 200 <= resp.status < 300:
            try:
                body = await resp.read_all(endpoint.name)
            finally:
                resp.close()
            raw = RawResponse(resp.status, resp.headers, body)
            try:
                interpret(endpoint, raw)
                error: ClarifaiError = ServerError(
                    code=0, http_status=resp.status, operation=endpoint.name,
                    description="unexpected answer to a stream request",
                )
            except ClarifaiError as exc:
                error = exc
            self._log_attempt(endpoint, built, attempt, started, raw, error)
            raise error
        return resp

    def retry_delay(self, endpoint: Endpoint[Any, Any], error: ClarifaiError, attempt: int) -> float | None:
        """Seconds to wait before retrying ``error`` (None: give up)."""
        return retry_delay(
            error, attempt=attempt, operation=endpoint.name, idempotent=endpoint.idempotent,
            config=self.retry,
        )

    # -- observability ------------------------------------------------------------

    def _log_attempt(
        self,
        endpoint: Endpoint[Any, Any],
        built: BuiltRequest,
        attempt: int,
        started: float,
        raw: RawResponse | None,
        error: ClarifaiError | None,
        result: Any = None,
    ) -> None:
        if self.on_response is None and not logger.isEnabledFor(logging.DEBUG):
            return
        duration = time.perf_counter() - started
        http_status = raw.status if raw is not None else getattr(error, "http_status", 0)
        status = getattr(result, "status", None) or getattr(
            getattr(error, "response", None), "status", None
        )
        code = status.code if status is not None else getattr(error, "code", 0)
        req_id = status.req_id if status is not None else getattr(error, "req_id", "")
        path = built.path_and_query
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s %s -> http=%s code=%s req_id=%s %.1fms attempt=%d%s body=%s",
                endpoint.name, built.method, path, http_status, code, req_id,
                duration * 1000, attempt + 1,
                f" error={type(error).__name__}: {error}" if error is not None else "",
                _shorten_payloads(built.body),
            )  # fmt: skip
        if self.on_response is not None:
            event = ResponseEvent(
                endpoint.name, built.method, path, attempt, http_status or 0, code or 0,
                req_id or "", duration, error,
            )  # fmt: skip
            hook_result = self.on_response(event)
            if inspect.isawaitable(hook_result):
                # Fire-and-forget would lose errors; schedule and keep a reference.
                task = asyncio.ensure_future(hook_result)
                _pending_hooks.add(task)
                task.add_done_callback(_pending_hooks.discard)


_pending_hooks: set[asyncio.Future[Any]] = set()


async def _run_hook(hook: Hook, event: Any) -> None:
    result = hook(event)
    if inspect.isawaitable(result):
        await result


def _request_event(endpoint: Endpoint[Any, Any], built: BuiltRequest, attempt: int) -> RequestEvent:
    return RequestEvent(endpoint.name, built.method, built.path_and_query, attempt)


def interpret(endpoint: Endpoint[Any, RespT], raw: RawResponse) -> RespT:
    """The typed response of a 2xx success, or the typed error the answer stands for."""
    try:
        response = _decode.decode(endpoint.response_type, raw.body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        cls = status_error_class(0, raw.status if raw.status >= 400 else 502)
        raise cls(
            code=0,
            http_status=raw.status,
            operation=endpoint.name,
            description=f"unreadable answer ({raw.headers.get('Content-Type', 'no content type')})",
            details=snippet(raw.body) or "(empty body)",
            retry_after=parse_retry_after(raw.headers),
        ) from None
    status = getattr(response, "status", None)
    code = status.code if status is not None else 0
    if 200 <= raw.status < 300 and code in (SUCCESS, MIXED_STATUS, 0):
        return response
    retry_after = parse_retry_after(raw.headers) if raw.status in (429, 503) or code else None
    if status is None:
        cls = status_error_class(0, raw.status)
        raise cls(code=0, http_status=raw.status, operation=endpoint.name,
                  response=response, retry_after=retry_after)  # fmt: skip
    raise APIStatusError.from_status(
        status, http_status=raw.status, operation=endpoint.name, response=response,
        retry_after=retry_after,
    )
