"""The one request pipeline every operation goes through.

build (defaults, path, query/body) → send with the attempt's timeouts →
decode with the endpoint's cached typed decoder → status → typed error →
retry with backoff when the error, the operation and the time left allow it.

The unary path is kept lean: no extra awaits or allocations per call unless a
hook is set or debug logging is on, and nothing is formatted for logs that
nobody reads.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from ._endpoint_spec import Endpoint
from ._errors import APIStatusError, ClarifaiError, redact, scrub_bytes, status_error_class
from ._requests import BuiltRequest, build_request
from ._retry import parse_retry_after, retry_delay
from ._transport import BodyStream, ClientState, RawResponse, StreamingResponse, Transport
from .types import Status

__all__ = ["Core", "Hook", "RequestEvent", "ResponseEvent", "interpret"]

logger = logging.getLogger("aioclarifai")

ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")

SUCCESS = 10000
MIXED_STATUS = 10010
_OK_CODES = frozenset({SUCCESS, MIXED_STATUS, 0})  # MIXED_STATUS is data: see outputs[i].status
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/=]{96,}")
_DEBUG = logging.DEBUG


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """Passed to ``on_request`` before each attempt (``attempt`` counts from 0)."""

    operation: str
    method: str
    path: str
    attempt: int


@dataclass(frozen=True, slots=True)
class ResponseEvent:
    """Passed to ``on_response`` after each attempt.

    ``error`` is set when the attempt failed; ``retry_delay`` is the wait
    before the next attempt, or None when this attempt was the last.
    """

    operation: str
    method: str
    path: str
    attempt: int
    http_status: int
    code: int
    req_id: str
    duration: float
    error: ClarifaiError | None
    retry_delay: float | None = None


Hook = Callable[[Any], Any]
"""``on_request`` / ``on_response``: a plain or an async callable taking the event."""


def snippet(body: bytes, limit: int = 160) -> str:
    """A short, printable excerpt of a body, for error messages."""
    text = " ".join(body[:limit].decode("utf-8", "replace").split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text + ("…" if len(body) > limit else "")


def _shorten_payloads(body: bytes) -> str:
    short = _BASE64_RUN.sub(lambda m: b"<%d base64 chars>" % len(m.group()), body)
    return snippet(short, 300)


class Core:
    """Settings, transport and per-call options shared by a client and its copies."""

    def __init__(  # noqa: PLR0917 - the client passes all six positionally
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
        self._hooked = on_request is not None or on_response is not None
        # Too short to be a real PAT: redacting it would garble every message.
        self._secret = settings.pat if len(settings.pat) >= 4 else ""
        self._secret_bytes = self._secret.encode()

    def __repr__(self) -> str:
        return f"<Core {self.settings!r} timeout={self.timeout!r} retry={self.retry!r}>"

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
        return build_request(endpoint, request, self.settings.user_id, self.settings.app_id)

    # -- unary -------------------------------------------------------------------

    async def call(
        self, endpoint: Endpoint[ReqT, RespT], request: ReqT, stream: BodyStream | None = None
    ) -> RespT:
        """Send ``request`` and return the typed response, retrying as allowed.

        ``timeout.total`` bounds the whole call: a retry whose wait would not
        fit in what is left is not made, and the last error is raised.
        ``stream`` replaces the encoded body on the wire (see ``BodyStream``).
        """
        built = self.prepare(endpoint, request)
        send = self.transport.send
        timeout = self.timeout
        name = endpoint.name
        started = time.monotonic()
        deadline: float | None = None
        attempt = 0
        t0 = 0.0
        while True:
            watched = self._hooked or logger.isEnabledFor(_DEBUG)
            if watched:
                t0 = time.perf_counter()
                if self.on_request is not None:
                    await _run_hook(self.on_request, _request_event(endpoint, built, attempt))
            try:
                raw = await send(
                    built.method, built.path_and_query, built.body, timeout, name,
                    deadline=deadline, stream=stream,
                )  # fmt: skip
                result = interpret(endpoint, raw, self._secret_bytes)
            except ClarifaiError as exc:
                error = redact(exc, self._secret)
            else:
                if watched:
                    status = getattr(result, "status", None)
                    await self._observe(
                        endpoint, built, attempt=attempt, t0=t0, http_status=raw.status,
                        code=status.code if status is not None else 0,
                        req_id=status.req_id if status is not None else "",
                    )  # fmt: skip
                return result
            delay = retry_delay(
                error, attempt=attempt, operation=name, idempotent=endpoint.idempotent,
                config=self.retry,
            )  # fmt: skip
            if delay is not None and self.transport.state is ClientState.CLOSED:
                delay = None  # closed meanwhile: report what happened, not the closing
            if delay is not None and timeout.total is not None:
                deadline = started + timeout.total
                if time.monotonic() + delay >= deadline:
                    delay = None  # the retry could not finish in time: fail now
            if watched:
                await self._observe_error(endpoint, built, attempt, t0, error, delay=delay)
            if delay is None:
                raise error
            await asyncio.sleep(delay)
            attempt += 1

    # -- streams -----------------------------------------------------------------

    async def open_stream(
        self, endpoint: Endpoint[Any, Any], built: BuiltRequest, attempt: int
    ) -> StreamingResponse:
        """Open one streaming attempt; a non-2xx answer raises its typed error."""
        watched = self._hooked or logger.isEnabledFor(_DEBUG)
        t0 = time.perf_counter()
        if self.on_request is not None:
            await _run_hook(self.on_request, _request_event(endpoint, built, attempt))
        try:
            resp = await self.transport.open_stream(
                built.method, built.path_and_query, built.body, self.timeout, endpoint.name
            )
        except ClarifaiError as exc:
            error = redact(exc, self._secret)
        else:
            if 200 <= resp.status < 300:
                if watched:
                    try:
                        await self._observe(
                            endpoint, built, attempt=attempt, t0=t0, http_status=resp.status,
                            code=0, req_id="",
                        )  # fmt: skip
                    except BaseException:
                        resp.close()
                        raise
                return resp
            error = redact(await self._stream_error(endpoint, resp), self._secret)
        if watched:
            await self._observe_error(endpoint, built, attempt, t0, error)
        raise error

    async def _stream_error(
        self, endpoint: Endpoint[Any, Any], resp: StreamingResponse
    ) -> ClarifaiError:
        """The typed error a non-2xx answer to a stream request stands for."""
        try:
            body = await resp.read_all(endpoint.name)
        except ClarifaiError as exc:
            return exc
        finally:
            resp.close()
        try:
            interpret(endpoint, RawResponse(resp.status, resp.headers, body), self._secret_bytes)
        except ClarifaiError as exc:
            return exc
        raise AssertionError("interpret() raises for every non-2xx answer")  # pragma: no cover

    def redact(self, error: ClarifaiError) -> ClarifaiError:
        """Blank the PAT out of ``error`` (in place), in case the server echoed it; returns it.

        Besides its texts, the decoded ``response``, a stream error frame's
        ``details`` and an ``OutputError``'s ``output`` and ``status`` are
        cleaned too (unary answers are cleaned before decoding).
        """
        redact(error, self._secret)
        secret = self._secret_bytes
        if not secret:
            return error
        for name in ("response", "details", "output", "status"):
            value = getattr(error, name, None)
            if value is None or isinstance(value, str):
                continue
            raw = msgspec.json.encode(value)
            clean = scrub_bytes(raw, secret)
            if clean is not raw:
                if isinstance(value, msgspec.Struct):
                    setattr(error, name, _decode.decode(type(value), clean))
                else:
                    setattr(error, name, msgspec.json.decode(clean))
        return error

    def retry_delay(
        self, endpoint: Endpoint[Any, Any], error: ClarifaiError, attempt: int
    ) -> float | None:
        """Seconds to wait before retrying ``error`` (None: give up)."""
        return retry_delay(
            error, attempt=attempt, operation=endpoint.name, idempotent=endpoint.idempotent,
            config=self.retry,
        )  # fmt: skip

    # -- observability ------------------------------------------------------------

    async def _observe_error(
        self,
        endpoint: Endpoint[Any, Any],
        built: BuiltRequest,
        attempt: int,
        t0: float,
        error: ClarifaiError,
        *,
        delay: float | None = None,
    ) -> None:
        await self._observe(
            endpoint, built, attempt=attempt, t0=t0,
            http_status=getattr(error, "http_status", 0), code=getattr(error, "code", 0),
            req_id=getattr(error, "req_id", ""), error=error, delay=delay,
        )  # fmt: skip

    async def _observe(
        self,
        endpoint: Endpoint[Any, Any],
        built: BuiltRequest,
        *,
        attempt: int,
        t0: float,
        http_status: int,
        code: int,
        req_id: str,
        error: ClarifaiError | None = None,
        delay: float | None = None,
    ) -> None:
        """One debug line and one ``on_response`` event per attempt."""
        duration = time.perf_counter() - t0
        if logger.isEnabledFor(_DEBUG):
            line = (
                f"{endpoint.name} {built.method} {built.path_and_query} -> http={http_status} "
                f"code={code} req_id={req_id or '-'} {duration * 1000:.1f}ms attempt={attempt + 1}"
            )
            if error is not None:
                line += f" error={type(error).__name__}: {error}"
            if delay is not None:
                line += f" retry_in={delay:.3f}s"
            if built.body:
                line += f" body={_shorten_payloads(built.body)}"
            if self._secret:
                line = line.replace(self._secret, "***")
            logger.debug("%s", line)
        if self.on_response is not None:
            event = ResponseEvent(
                endpoint.name, built.method, built.path_and_query, attempt, http_status, code,
                req_id, duration, error, delay,
            )  # fmt: skip
            await _run_hook(self.on_response, event)


async def _run_hook(hook: Hook, event: Any) -> None:
    # Hooks run inline: their exceptions (and cancellation) reach the caller.
    result = hook(event)
    if inspect.isawaitable(result):
        await result


def _request_event(endpoint: Endpoint[Any, Any], built: BuiltRequest, attempt: int) -> RequestEvent:
    return RequestEvent(endpoint.name, built.method, built.path_and_query, attempt)


def interpret(endpoint: Endpoint[Any, RespT], raw: RawResponse, secret: bytes = b"") -> RespT:
    """The typed response of a 2xx success, or the typed error the answer stands for.

    ``secret`` (the PAT) is blanked out of error bodies before they become
    messages, in case a server or proxy echoed the request's headers.
    """
    malformed: Exception | None = None
    try:
        response = _decode.decode(endpoint.response_type, raw.body)
    except (msgspec.MsgspecError, ValueError, TypeError, RecursionError) as exc:
        response = None
        malformed = exc
    status = getattr(response, "status", None)
    if (
        response is not None
        and 200 <= raw.status < 300
        and (status is None or status.code in _OK_CODES)
    ):
        if status is not None and status.code == MIXED_STATUS and secret:
            # Failed outputs' descriptions become OutputErrors: they may echo the PAT.
            clean = scrub_bytes(raw.body, secret)
            if clean is not raw.body:
                response = _decode.decode(endpoint.response_type, clean)
        return response
    # -- an error: nothing below is on the hot path ----------------------------------
    body = scrub_bytes(raw.body, secret)
    if body is not raw.body and response is not None:
        response = _decode.decode(endpoint.response_type, body)
        status = getattr(response, "status", None)
    retry_after = parse_retry_after(raw.headers)
    if response is None and isinstance(malformed, msgspec.ValidationError | RecursionError):
        raise _malformed(endpoint, raw, body, malformed, retry_after)
    if response is None:
        # An HTML page from a proxy, an empty or truncated body: typed, with a snippet.
        cls = status_error_class(0, raw.status)
        raise cls(
            code=0,
            http_status=raw.status,
            operation=endpoint.name,
            description=f"unreadable answer ({raw.headers.get('Content-Type', 'no content type')})",
            details=snippet(body) or "(empty body)",
            retry_after=retry_after,
        )
    if status is None:
        raise status_error_class(0, raw.status)(
            code=0, http_status=raw.status, operation=endpoint.name,
            description="answer without a Clarifai status", details=snippet(body),
            response=response, retry_after=retry_after,
        )  # fmt: skip
    raise APIStatusError.from_status(
        status, http_status=raw.status, operation=endpoint.name, response=response,
        retry_after=retry_after,
    )  # fmt: skip


class _StatusOnly(msgspec.Struct, gc=False):
    status: Status | None = None


def _malformed(
    endpoint: Endpoint[Any, Any],
    raw: RawResponse,
    body: bytes,
    exc: Exception,
    retry_after: float | None,
) -> APIStatusError:
    """The typed error of JSON that does not fit the response type, or nests too deeply.

    msgspec's message names the field (``Expected `array`, got `str` - at
    `$.outputs```). When the answer's status still reads as a failure, that
    status decides the family, and the field problem goes in ``details``.
    """
    what = (
        "JSON nested too deeply to decode"
        if isinstance(exc, RecursionError)
        else f"a field has the wrong type: {exc}"
    )
    status: Status | None = None
    if not isinstance(exc, RecursionError):
        with contextlib.suppress(msgspec.MsgspecError, RecursionError):
            status = msgspec.json.decode(body, type=_StatusOnly, strict=False).status
    if status is not None and status.code not in _OK_CODES:
        details = f"{status.details} (malformed answer: {what})".lstrip()
        return APIStatusError.from_status(
            msgspec.structs.replace(status, details=details),
            http_status=raw.status, operation=endpoint.name, retry_after=retry_after,
        )  # fmt: skip
    return status_error_class(0, raw.status)(
        code=0, http_status=raw.status, operation=endpoint.name,
        description=f"malformed answer: {what}", details=snippet(body),
        retry_after=retry_after,
    )  # fmt: skip
