"""Optional OpenTelemetry spans: one per operation, one per attempt (extra ``otel``).

Off unless asked for: ``Client(tracing=True)`` uses the global tracer
provider, ``Client(tracing=provider)`` a given one. Off, the client never
imports ``opentelemetry`` and the attempt policy pays one ``is None`` test.

Operation span (kind INTERNAL, named after the operation, e.g.
``PostModelOutputs``): ``clarifai.operation``, ``clarifai.attempts`` and the
final ``http.response.status_code``, ``clarifai.status.code``,
``clarifai.req_id``. Attempt span (kind CLIENT, child of the operation,
named ``"<METHOD> <operation>"``; ``client.request`` calls are named
``"<METHOD> <path>"`` at both levels): ``http.request.method``, ``url.path``,
``clarifai.attempt`` (1 for the first), ``http.request.resend_count`` (from
the second), the answer's status, code and ``req_id``, and
``clarifai.retry_delay`` (seconds) when another attempt follows. Each
attempt's headers carry the attempt span's W3C ``traceparent`` (the global
propagator's fields). A failed span has status ERROR, ``error.type`` and the
error's message, from which the PAT is already removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from opentelemetry.trace import Span, TracerProvider

__all__ = ["Tracing", "make_tracing"]


def make_tracing(option: bool | TracerProvider | None) -> Tracing | None:
    """The tracer a ``Client(tracing=...)`` option asks for (None: tracing off)."""
    if option is None or option is False:
        return None
    try:
        from opentelemetry import trace
    except ImportError:
        from ._clarifai_config import ConfigurationError

        raise ConfigurationError(
            "tracing needs opentelemetry-api: pip install 'aioclarifai[otel]'"
        ) from None
    provider = trace.get_tracer_provider() if option is True else option
    return Tracing(provider)


class Tracing:
    """Starts and ends the operation and attempt spans of one client."""

    __slots__ = ("_inject", "_kind", "_set_span", "_tracer")

    def __init__(self, provider: TracerProvider) -> None:
        from opentelemetry import propagate, trace

        self._tracer = provider.get_tracer("aioclarifai", __version__)
        self._set_span = trace.set_span_in_context
        self._inject = propagate.inject
        self._kind = trace.SpanKind

    def operation(self, operation: str) -> Span:
        """Start the span of one whole call (a child of the caller's current span)."""
        return self._tracer.start_span(
            operation, kind=self._kind.INTERNAL, attributes={"clarifai.operation": operation}
        )

    def attempt(
        self,
        parent: Span,
        operation: str,
        method: str,
        path: str,
        *,
        attempt: int,
        headers: MutableMapping[str, str] | None = None,
    ) -> Span:
        """Start the span of attempt number ``attempt`` (from 0).

        Its ``traceparent`` (and any other field of the global propagator) is
        added to ``headers`` when given.
        """
        attributes: dict[str, Any] = {
            "clarifai.operation": operation,
            "http.request.method": method,
            "url.path": path.partition("?")[0],
            "clarifai.attempt": attempt + 1,
        }
        if attempt:
            attributes["http.request.resend_count"] = attempt
        # client.request's operations are already named "<METHOD> <path>".
        name = operation if operation.startswith(f"{method} ") else f"{method} {operation}"
        span = self._tracer.start_span(
            name,
            context=self._set_span(parent),
            kind=self._kind.CLIENT,
            attributes=attributes,
        )
        if headers is not None:
            self._inject(headers, context=self._set_span(span))
        return span

    def end(
        self,
        span: Span,
        *,
        http_status: int = 0,
        code: int = 0,
        req_id: str = "",
        error: BaseException | None = None,
        retry_delay: float | None = None,
        attempts: int | None = None,
    ) -> None:
        """Record the outcome on ``span`` and end it."""
        if http_status:
            span.set_attribute("http.response.status_code", http_status)
        if code:
            span.set_attribute("clarifai.status.code", code)
        if req_id:
            span.set_attribute("clarifai.req_id", req_id)
        if retry_delay is not None:
            span.set_attribute("clarifai.retry_delay", retry_delay)
        if attempts is not None:
            span.set_attribute("clarifai.attempts", attempts)
        if error is not None:
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, str(error) or type(error).__name__))
        span.end()
