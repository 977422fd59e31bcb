"""The one request pipeline every operation goes through, and its one attempt policy.

build (defaults, path, query/body) → rate gate → send with the attempt's
timeouts → decode with the endpoint's cached typed decoder → status → typed
error → retry with backoff when the error, the path's idempotency rule and the
time left allow it.

:meth:`Core.run` is the only retry loop of the library: unary calls, the start
of a stream and each upload part hand it one *attempt* (a coroutine function)
and their idempotency rule; it asks the rate gate for a slot before every
attempt, tells the gate how the attempt ended, runs the hooks, decides retry,
delay and deadline. Nothing below it resends.

The unary path is kept lean: no extra awaits or allocations per call unless a
hook or a gate is set or debug logging is on, and nothing is formatted for logs
that nobody reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import msgspec

from . import _decode
from ._caps import DEFAULT_MAX_LINE_BYTES
from ._config import RetryConfig, Settings, Timeout
from ._endpoint_spec import Endpoint
from ._errors import APIStatusError, ClarifaiError, redact, scrub_bytes, status_error_class
from ._extras import APIResponse, append_query, check_headers, encode_query, merge_body
from ._rate import RateLimiter
from ._requests import BuiltRequest, build_request
from ._retry import is_throttled, parse_retry_after, retry_delay, throttle_delay
from ._transport import BodyStream, ClientState, RawResponse, StreamResponse, Transport
from .types import Status

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from ._otel import Tracing

__all__ = ["Attempt", "Core", "Hook", "RateGate", "RequestEvent", "ResponseEvent", "interpret"]

logger = logging.getLogger("aioclarifai")

ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")
T = TypeVar("T")

SUCCESS = 10000
MIXED_STATUS = 10010
_OK_CODES = frozenset({SUCCESS, MIXED_STATUS, 0})  # MIXED_STATUS is data: see outputs[i].status
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/=]{96,}")
_DEBUG = logging.DEBUG
_UNTIMED_THROTTLES = 100  # throttled retries of a call without a deadline (timeout.total None)


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """Passed to ``on_request`` before each attempt (``attempt`` counts from 0).

    ``headers`` holds what this attempt adds to the client's headers (extra
    headers, the tracing ``traceparent``); a hook may add to it, say a W3C
    ``traceparent`` of its own or a request id, and the attempt carries them.
    """

    operation: str
    method: str
    path: str
    attempt: int
    headers: dict[str, str] = field(default_factory=dict)


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


class RateGate(Protocol):
    """Rate control in front of every attempt (unary, stream start, upload part).

    :meth:`Core.run` awaits :meth:`acquire` right before each attempt is sent
    and calls :meth:`record` exactly once after it, when its outcome is known:
    ``throttled`` for a 429 / 11005 answer, ``retry_after`` for the wait the
    server asked for (if any). An attempt cancelled or failed by something
    other than the server is recorded as not throttled. One gate serves a
    client and every ``with_options`` view of it (one account).
    """

    async def acquire(self) -> None:
        """Wait until one more attempt may be sent."""

    def record(self, throttled: bool, retry_after: float | None) -> None:
        """Learn from how an attempt ended."""


Attempt = Callable[[float | None, Mapping[str, str] | None], Awaitable[tuple[T, int]]]
"""One try of a request: given the call's deadline (``time.monotonic()``
based, None until a retry sets it) and the headers this attempt adds (None:
none), send and return ``(value, http_status)``, or raise the attempt's
:class:`ClarifaiError`."""


def snippet(body: bytes, limit: int = 160) -> str:
    """A short, printable excerpt of a body, for error messages."""
    text = " ".join(body[:limit].decode("utf-8", "replace").split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text + ("…" if len(body) > limit else "")


def _shorten_payloads(body: bytes) -> str:
    short = _BASE64_RUN.sub(lambda m: b"<%d base64 chars>" % len(m.group()), body)
    return snippet(short, 300)


class Core:
    """Settings, transport, rate gate and per-call options shared by a client and its views."""

    def __init__(  # noqa: PLR0917 - the client passes these positionally
        self,
        settings: Settings,
        transport: Transport,
        timeout: Timeout,
        retry: RetryConfig,
        on_request: Hook | None = None,
        on_response: Hook | None = None,
        gate: RateGate | None = None,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: str = "",
        extra_body: Mapping[str, Any] | None = None,
        tracing: Tracing | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self.settings = settings
        self.max_line_bytes = max_line_bytes  # streams: see aioclarifai._caps
        self.transport = transport
        self.timeout = timeout
        self.retry = retry
        self.on_request = on_request
        self.on_response = on_response
        self.gate = gate
        self.extra_headers: dict[str, str] = dict(extra_headers or {})
        self.extra_query = extra_query
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self.tracing = tracing
        self._extras = bool(extra_query or extra_body)
        # Attempts that build their own header dict: hooks may add to it, tracing injects.
        self._attempt_headers = bool(self.extra_headers) or on_request is not None or tracing
        self._hooked = on_request is not None or on_response is not None
        # Nothing to run around an attempt: unary calls take the short path (see call).
        self._plain = not self._attempt_headers and not self._hooked and tracing is None
        # Too short to be a real PAT: redacting it would garble every message.
        secret = settings.pat or settings.session_token
        self._secret = secret if len(secret) >= 4 else ""
        self._secret_bytes = self._secret.encode()

    def __repr__(self) -> str:
        return f"<Core {self.settings!r} timeout={self.timeout!r} retry={self.retry!r}>"

    def with_options(
        self,
        *,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Core:
        """A core sharing this one's transport and gate, with other per-call options.

        Extra headers, query parameters and body fields add to this core's
        (checked here, before any I/O: ``ValueError`` for a bad one).
        """
        headers = {**self.extra_headers, **check_headers(extra_headers, "extra_headers")}
        query = "&".join(q for q in (self.extra_query, encode_query(extra_query)) if q)
        if extra_body is not None and not isinstance(extra_body, Mapping):
            raise ValueError("extra_body must be a mapping of top-level body fields")
        return Core(
            self.settings,
            self.transport,
            timeout if timeout is not None else self.timeout,
            replace(self.retry, max_retries=max_retries) if max_retries is not None else self.retry,
            self.on_request,
            self.on_response,
            self.gate,
            extra_headers=headers,
            extra_query=query,
            extra_body={**self.extra_body, **(extra_body or {})},
            tracing=self.tracing,
            max_line_bytes=self.max_line_bytes,
        )

    def prepare(self, endpoint: Endpoint[Any, Any], request: Any) -> BuiltRequest:
        """Apply user/app defaults and build the wire request (raises ``ValueError`` early).

        This core's extra query parameters and body fields are added here.
        """
        built = build_request(endpoint, request, self.settings.user_id, self.settings.app_id)
        if self._extras:
            built = self.add_extras(endpoint, built)
        return built

    def add_extras(self, endpoint: Endpoint[Any, Any], built: BuiltRequest) -> BuiltRequest:
        """``built`` with this core's extra query string and body fields."""
        return BuiltRequest(
            built.method,
            append_query(built.path_and_query, self.extra_query),
            merge_body(built.body, self.extra_body, endpoint.name),
        )

    # -- the attempt policy -------------------------------------------------------

    async def _run_traced(
        self,
        endpoint: Endpoint[Any, Any],
        built: BuiltRequest,
        attempt: Attempt[T],
        *,
        idempotent: bool,
        retry: RetryConfig,
        total: float | None,
    ) -> T:
        """:meth:`run` inside the operation's span."""
        tracing = self.tracing
        assert tracing is not None
        trace = _OperationTrace(tracing.operation(endpoint.name))
        try:
            value = await self.run(
                endpoint, built, attempt, idempotent=idempotent, retry=retry, total=total,
                trace=trace,
            )  # fmt: skip
        except BaseException as exc:
            tracing.end(
                trace.span, http_status=getattr(exc, "http_status", 0),
                code=getattr(exc, "code", 0), req_id=getattr(exc, "req_id", ""), error=exc,
                attempts=trace.attempts,
            )  # fmt: skip
            raise
        tracing.end(
            trace.span, http_status=trace.http_status, code=trace.code, req_id=trace.req_id,
            attempts=trace.attempts,
        )  # fmt: skip
        return value

    async def run(
        self,
        endpoint: Endpoint[Any, Any],
        built: BuiltRequest,
        attempt: Attempt[T],
        *,
        idempotent: bool,
        retry: RetryConfig,
        total: float | None,
        trace: _OperationTrace | None = None,
        failed: ClarifaiError | None = None,
        started: float | None = None,
    ) -> T:
        """Make attempts until one succeeds or the error may not be retried; return its value.

        ``idempotent`` is the path's rule: False retries only what surely was
        not processed (see :mod:`aioclarifai._retry`). ``total`` bounds the
        whole call: a retry whose wait would not fit in what is left is not
        made, and the last error is raised. With tracing on, the call runs
        inside its operation span (``trace``, set by :meth:`_run_traced`).
        ``failed``: the error of a first attempt the caller already made (and
        recorded with the gate) at ``started``; the policy goes on from there.
        """
        if self.tracing is not None and trace is None:
            return await self._run_traced(
                endpoint, built, attempt, idempotent=idempotent, retry=retry, total=total
            )
        gate = self.gate
        ticket: float | None = None
        tracing = self.tracing
        name = endpoint.name
        if started is None:
            started = time.monotonic()
        deadline: float | None = None
        number = 0
        throttles = 0  # throttled attempts: retried outside the max_retries budget
        last: ClarifaiError | None = None
        t0 = 0.0
        headers: dict[str, str] | None = None
        span: Span | None = None
        while True:
            if failed is not None:
                # The caller made the first attempt itself (see call).
                error, failed, watched = failed, None, False
            else:
                watched = self._hooked or logger.isEnabledFor(_DEBUG)
                if self._attempt_headers:
                    headers = dict(self.extra_headers)
                    if tracing is not None and trace is not None:
                        span = tracing.attempt(
                            trace.span, name, built.method, built.path_and_query, attempt=number,
                            headers=headers,
                        )  # fmt: skip
                        trace.attempts += 1
                    if self.on_request is not None:
                        event = _request_event(endpoint, built, number, headers)
                        try:
                            await _run_hook(self.on_request, event)
                            headers = check_headers(event.headers, "on_request headers")
                        except BaseException as exc:
                            if span is not None and tracing is not None:
                                tracing.end(span, error=exc)
                            raise
                if gate is not None:
                    ticket = await _acquire(gate, deadline, last)
                if watched or span is not None:
                    t0 = time.perf_counter()
                try:
                    value, http_status = await attempt(deadline, headers)
                except ClarifaiError as exc:
                    error = self.redact(exc)
                    _settle(gate, ticket, error)
                except BaseException as exc:
                    _settle(gate, ticket, None)
                    if span is not None and tracing is not None:
                        tracing.end(span, error=exc)
                    raise
                else:
                    _settle(gate, ticket, None)
                    if watched or span is not None:
                        status = getattr(value, "status", None)
                        if status is None and isinstance(value, APIResponse):
                            status = getattr(value.parse(), "status", None)
                        code = status.code if status is not None else 0
                        req_id = status.req_id if status is not None else ""
                        if span is not None and tracing is not None and trace is not None:
                            tracing.end(span, http_status=http_status, code=code, req_id=req_id)
                            trace.http_status, trace.code, trace.req_id = http_status, code, req_id
                        if watched:
                            await self._observe(
                                endpoint, built, attempt=number, t0=t0, http_status=http_status,
                                code=code, req_id=req_id,
                            )  # fmt: skip
                    return value
            if is_throttled(error) and (total is not None or throttles < _UNTIMED_THROTTLES):
                # Not processed, so safe for any operation; bounded by the deadline instead.
                assert isinstance(error, APIStatusError)  # is_throttled says so
                delay = throttle_delay(error, throttles=throttles, config=retry)
                throttles += 1
            else:
                delay = retry_delay(
                    error, attempt=number - throttles, operation=name, idempotent=idempotent,
                    config=retry,
                )  # fmt: skip
            if delay is not None and self.transport.state is ClientState.CLOSED:
                delay = None  # closed meanwhile: report what happened, not the closing
            if delay is not None and total is not None:
                deadline = started + total
                if time.monotonic() + delay >= deadline:
                    delay = None  # the retry could not finish in time: fail now
            if span is not None and tracing is not None:
                tracing.end(
                    span, http_status=getattr(error, "http_status", 0),
                    code=getattr(error, "code", 0), req_id=getattr(error, "req_id", ""),
                    error=error, retry_delay=delay,
                )  # fmt: skip
            if watched:
                await self._observe_error(endpoint, built, number, t0, error, delay=delay)
            if (
                delay is not None
                and logger.isEnabledFor(logging.INFO)
                and not logger.isEnabledFor(_DEBUG)  # the debug line says it already
            ):
                logger.info(
                    "%s attempt %d failed (%s: %s); retrying in %.2fs",
                    name, number + 1, type(error).__name__, error, delay,
                )  # fmt: skip
            if delay is None:
                raise error
            last = error
            await asyncio.sleep(delay)
            number += 1

    # -- unary -------------------------------------------------------------------

    async def call(
        self,
        endpoint: Endpoint[ReqT, RespT],
        request: ReqT,
        stream: BodyStream | None = None,
        *,
        idempotent: bool | None = None,
        retry: RetryConfig | None = None,
    ) -> RespT:
        """Send ``request`` and return the typed response, retrying as allowed.

        ``timeout.total`` bounds the whole call. ``stream`` replaces the
        encoded body on the wire (see ``BodyStream``). ``idempotent`` and
        ``retry`` override the endpoint's rule and the client's retries for
        this call (an upload part is idempotent by its number).

        A call without hooks, tracing or extra headers makes its first attempt
        right here: a gate ticket, one exchange, its decoding and the gate's
        record. Anything else (a retry, a wait for the gate, debug logging) is
        the attempt policy's (:meth:`run`), which goes on from the first
        attempt's error.
        """
        # What prepare() does, inline (the hot path): bad input fails here, before any I/O.
        built = build_request(endpoint, request, self.settings.user_id, self.settings.app_id)
        if self._extras:
            built = self.add_extras(endpoint, built)
        idempotent = endpoint.idempotent if idempotent is None else idempotent
        retry = self.retry if retry is None else retry
        total = self.timeout.total
        gate = self.gate
        limiter = gate if isinstance(gate, RateLimiter) else None
        ticket = None
        if (
            not self._plain
            or logger.isEnabledFor(_DEBUG)
            or (limiter is None and gate is not None)
            or (limiter is not None and (ticket := limiter.grant_now()) is None)
        ):
            return await self.run(
                endpoint, built, self._unary_attempt(endpoint, built, stream),
                idempotent=idempotent, retry=retry, total=total,
            )  # fmt: skip
        started = time.monotonic()
        try:
            raw = await self.transport.send(
                built.method, built.path_and_query, built.body, self.timeout, endpoint.name,
                stream=stream,
            )  # fmt: skip
            value = interpret(endpoint, raw, self._secret_bytes)
        except ClarifaiError as exc:
            error = self.redact(exc)
            _settle(gate, ticket, error)
            return await self.run(
                endpoint, built, self._unary_attempt(endpoint, built, stream),
                idempotent=idempotent, retry=retry, total=total, failed=error, started=started,
            )  # fmt: skip
        except BaseException:
            _settle(gate, ticket, None)
            raise
        if limiter is not None:  # _settle(gate, ticket, None), without its checks: the hot path
            limiter.settle(False, None, ticket)
        return value

    def _unary_attempt(
        self, endpoint: Endpoint[Any, RespT], built: BuiltRequest, stream: BodyStream | None
    ) -> Attempt[RespT]:
        """One attempt of a unary call, for :meth:`run`."""
        send = self.transport.send
        timeout = self.timeout
        name = endpoint.name
        secret = self._secret_bytes
        method, path, body = built.method, built.path_and_query, built.body

        async def once(
            deadline: float | None, headers: Mapping[str, str] | None
        ) -> tuple[RespT, int]:
            if headers:
                raw = await send(
                    method, path, body, timeout, name, deadline=deadline, stream=stream,
                    headers=headers,
                )  # fmt: skip
            else:
                raw = await send(
                    method, path, body, timeout, name, deadline=deadline, stream=stream
                )
            return interpret(endpoint, raw, secret), raw.status

        return once

    def call_raw(
        self,
        endpoint: Endpoint[Any, RespT],
        built: BuiltRequest,
        *,
        idempotent: bool | None = None,
        decode: Callable[[Endpoint[Any, RespT], RawResponse, bytes], RespT] | None = None,
    ) -> Awaitable[APIResponse[RespT]]:
        """Send an already built request; the answer with its HTTP details.

        Same attempt policy as :meth:`call`. ``decode`` replaces
        :func:`interpret` (``client.request`` decodes to any type).
        """
        send = self.transport.send
        timeout = self.timeout
        name = endpoint.name
        secret = self._secret_bytes
        read = interpret if decode is None else decode
        method, path, body = built.method, built.path_and_query, built.body
        attempts = 0

        async def once(
            deadline: float | None, headers: Mapping[str, str] | None
        ) -> tuple[APIResponse[RespT], int]:
            nonlocal attempts
            attempts += 1
            t0 = time.perf_counter()
            raw = await send(
                method, path, body, timeout, name, deadline=deadline, **_headers_kw(headers)
            )
            parsed = read(endpoint, raw, secret)
            elapsed = time.perf_counter() - t0
            response = APIResponse(
                name, raw.status, raw.headers, raw.body, parsed, elapsed, attempts
            )
            return response, raw.status

        return self.run(
            endpoint, built, once,
            idempotent=endpoint.idempotent if idempotent is None else idempotent,
            retry=self.retry, total=timeout.total,
        )  # fmt: skip

    # -- streams -----------------------------------------------------------------

    async def open_stream(
        self,
        endpoint: Endpoint[Any, Any],
        built: BuiltRequest,
        headers: Mapping[str, str] | None = None,
    ) -> StreamResponse:
        """Open one streaming exchange; a non-2xx answer raises its typed error.

        One piece of a stream's attempt: :class:`ResponseStream` runs it, with
        the read of the first message, through :meth:`run`.
        """
        resp = await self.transport.open_stream(
            built.method, built.path_and_query, built.body, self.timeout, endpoint.name,
            **_headers_kw(headers),
        )  # fmt: skip
        if 200 <= resp.status < 300:
            return resp
        raise await self._stream_error(endpoint, resp)

    async def _stream_error(
        self, endpoint: Endpoint[Any, Any], resp: StreamResponse
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


async def _acquire(
    gate: RateGate, deadline: float | None, last: ClarifaiError | None
) -> float | None:
    """A slot of ``gate`` for one attempt: our limiter's ticket (any other gate: None).

    A retry (``deadline`` set) waits no longer than the call may last, then
    fails with the error it retries (``last``).
    """
    if isinstance(gate, RateLimiter):
        ticket = gate.grant_now()
        if ticket is not None:
            return ticket
        wait: Callable[[], Awaitable[float | None]] = gate.grant
    else:
        wait = gate.acquire
    if deadline is None:
        return await wait()
    import anyio  # only here: importing aioclarifai stays light

    try:
        with anyio.fail_after(max(0.0, deadline - time.monotonic())):
            return await wait()
    except TimeoutError:
        assert last is not None  # a deadline is set by a retry only
        raise last from None


def _settle(gate: RateGate | None, ticket: float | None, error: ClarifaiError | None) -> None:
    """Tell ``gate`` how an attempt ended: throttled or not (``error`` None: not).

    Our limiter gets the attempt's ticket back directly; any other gate is told
    through its protocol (``record``).
    """
    if gate is None:
        return
    throttled = error is not None and is_throttled(error)
    retry_after = getattr(error, "retry_after", None)
    if isinstance(gate, RateLimiter):
        gate.settle(throttled, retry_after, ticket)
    else:
        gate.record(throttled, retry_after)


async def _run_hook(hook: Hook, event: Any) -> None:
    # Hooks run inline: their exceptions (and cancellation) reach the caller.
    result = hook(event)
    if inspect.isawaitable(result):
        await result


def _request_event(
    endpoint: Endpoint[Any, Any],
    built: BuiltRequest,
    attempt: int,
    headers: dict[str, str] | None = None,
) -> RequestEvent:
    return RequestEvent(endpoint.name, built.method, built.path_and_query, attempt, headers or {})


def _headers_kw(headers: Mapping[str, str] | None) -> dict[str, Any]:
    # Only pass headers= when there are some: a Transport written before it still works.
    return {"headers": headers} if headers else {}


class _OperationTrace:
    """The operation span of one traced call and what its last attempt answered."""

    __slots__ = ("attempts", "code", "http_status", "req_id", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.attempts = 0
        self.http_status = 0
        self.code = 0
        self.req_id = ""


def interpret(endpoint: Endpoint[Any, RespT], raw: RawResponse, secret: bytes = b"") -> RespT:
    """The typed response of a 2xx success, or the typed error the answer stands for.

    ``secret`` (the PAT) is blanked out of error bodies before they become
    messages, in case a server or proxy echoed the request's headers.
    """
    malformed: Exception | None = None
    try:
        try:
            response = _decode.decoder_for(endpoint.response_type).decode(raw.body)
        except msgspec.ValidationError:  # enum names, say: the slower, forgiving decode
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
