"""OpenTelemetry spans from a real client, recorded with the SDK's in-memory exporter."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aioclarifai import Client, NotFoundError, RetryConfig, types

from ._recording_server import ok_body, recording_server

PAT = "pat-tracing-0123456789"
FAST = RetryConfig(max_retries=2, initial_backoff=0.001, max_backoff=0.002)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


async def test_one_span_per_operation_and_per_attempt(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with recording_server() as server:
        server.script += [
            (503, {"status": {"code": 10030, "description": "try again", "req_id": "r1"}}, {}),
            (200, ok_body("r2", workflows=[]), {}),
        ]
        async with Client(
            PAT, base_url=server.url, app_id="a", retry=FAST, tracing=provider
        ) as client:
            await client.list_workflows(types.ListWorkflowsRequest())
        first, second, operation = exporter.get_finished_spans()
    assert operation.name == "ListWorkflows"
    assert operation.kind is SpanKind.INTERNAL
    assert dict(operation.attributes or {}) == {
        "clarifai.operation": "ListWorkflows",
        "http.response.status_code": 200,
        "clarifai.status.code": 10000,
        "clarifai.req_id": "r2",
        "clarifai.attempts": 2,
    }
    for span in (first, second):
        assert span.name == "GET ListWorkflows"
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None
        assert span.parent.span_id == operation.context.span_id
    a1, a2 = dict(first.attributes or {}), dict(second.attributes or {})
    assert a1["http.response.status_code"] == 503
    assert a1["clarifai.status.code"] == 10030
    assert a1["clarifai.req_id"] == "r1"
    assert a1["clarifai.attempt"] == 1
    assert isinstance(a1["clarifai.retry_delay"], float)
    assert a1["error.type"] == "ServerError"
    assert first.status.status_code is StatusCode.ERROR
    assert a2["clarifai.attempt"] == 2
    assert a2["http.request.resend_count"] == 1
    assert a2["clarifai.req_id"] == "r2"
    assert a1["url.path"] == "/v2/users/me/apps/a/workflows"
    # Each attempt carried its own span's W3C traceparent.
    for seen, span in zip(server.received, (first, second), strict=True):
        ctx = span.context
        assert seen.headers["traceparent"].startswith(f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}")


async def test_failed_operation_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with recording_server() as server:
        server.script.append(
            (404, {"status": {"code": 21200, "description": "Model does not exist"}}, {})
        )
        async with Client(
            PAT, base_url=server.url, app_id="a", retry=FAST, tracing=provider
        ) as client:
            with pytest.raises(NotFoundError):
                await client.get_model(types.GetModelRequest(model_id="nope"))
    attempt, operation = exporter.get_finished_spans()
    assert operation.status.status_code is StatusCode.ERROR
    assert dict(operation.attributes or {})["error.type"] == "NotFoundError"
    assert dict(operation.attributes or {})["clarifai.status.code"] == 21200
    assert "clarifai.retry_delay" not in dict(attempt.attributes or {})
    assert PAT not in (operation.status.description or "")


async def test_predict_and_request_are_traced_too(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with recording_server() as server:
        server.script.append((200, ok_body("rp", outputs=[{"id": "o"}]), {}))
        async with Client(
            PAT, base_url=server.url, app_id="a", retry=FAST, tracing=provider
        ) as client:
            await client.predict("m", types.Input(data=types.Data(text=types.Text(raw="x"))))
            await client.request("GET", "/v2/anything")
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == [
        "POST PostModelOutputs",
        "PostModelOutputs",
        "GET /v2/anything",
        "GET /v2/anything",
    ]


async def test_no_spans_when_tracing_is_off(exporter: InMemorySpanExporter) -> None:
    async with recording_server() as server:
        async with Client(PAT, base_url=server.url, app_id="a") as client:
            await client.list_workflows(types.ListWorkflowsRequest())
        assert "traceparent" not in server.last.headers
    assert exporter.get_finished_spans() == ()
