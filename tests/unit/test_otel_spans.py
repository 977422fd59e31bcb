"""The OpenTelemetry helper: span shapes, parenting, traceparent, and off-by-default."""

from __future__ import annotations

import subprocess
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aioclarifai import ConfigurationError, RateLimitError
from aioclarifai._otel import make_tracing


def provider_and_exporter() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_off_unless_asked() -> None:
    assert make_tracing(None) is None
    assert make_tracing(False) is None


def test_operation_and_attempt_spans() -> None:
    provider, exporter = provider_and_exporter()
    tracing = make_tracing(provider)
    assert tracing is not None
    op = tracing.operation("ListWorkflows")
    headers: dict[str, str] = {}
    first = tracing.attempt(
        op, "ListWorkflows", "GET", "/v2/users/me/workflows?page=1", attempt=0, headers=headers
    )
    error = RateLimitError(
        code=11005, http_status=429, operation="ListWorkflows", description="throttled",
        req_id="r1",
    )  # fmt: skip
    tracing.end(first, http_status=429, code=11005, req_id="r1", error=error, retry_delay=0.25)
    second = tracing.attempt(op, "ListWorkflows", "GET", "/v2/users/me/workflows", attempt=1)
    tracing.end(second, http_status=200, code=10000, req_id="r2")
    tracing.end(op, http_status=200, code=10000, req_id="r2", attempts=2)

    finished = exporter.get_finished_spans()
    assert [s.name for s in finished] == ["GET ListWorkflows", "GET ListWorkflows", "ListWorkflows"]
    a1, a2, whole = finished
    assert whole.kind is SpanKind.INTERNAL
    assert dict(whole.attributes or {}) == {
        "clarifai.operation": "ListWorkflows",
        "http.response.status_code": 200,
        "clarifai.status.code": 10000,
        "clarifai.req_id": "r2",
        "clarifai.attempts": 2,
    }
    assert a1.kind is SpanKind.CLIENT
    assert a1.parent is not None and a1.parent.span_id == whole.context.span_id
    assert a2.parent is not None and a2.parent.span_id == whole.context.span_id
    attrs = dict(a1.attributes or {})
    assert attrs["url.path"] == "/v2/users/me/workflows"
    assert attrs["clarifai.attempt"] == 1
    assert attrs["clarifai.retry_delay"] == 0.25
    assert attrs["error.type"] == "RateLimitError"
    assert "http.request.resend_count" not in attrs
    assert a1.status.status_code is StatusCode.ERROR
    assert dict(a2.attributes or {})["http.request.resend_count"] == 1
    # The W3C traceparent of the first attempt went into its headers.
    trace_id, span_id = f"{a1.context.trace_id:032x}", f"{a1.context.span_id:016x}"
    assert headers["traceparent"].startswith(f"00-{trace_id}-{span_id}-")


def test_tracing_without_opentelemetry_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ConfigurationError, match=r"aioclarifai\[otel\]"):
        make_tracing(True)


def test_client_never_imports_opentelemetry_when_off() -> None:
    code = (
        "import sys, aioclarifai; c = aioclarifai.Client('pat-0000', app_id='a'); "
        "print(any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.strip() == "False"
