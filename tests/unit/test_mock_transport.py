"""``Client(transport=MockTransport(handler))``: every operation, streams, retries, rate gate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import msgspec
import pytest

from aioclarifai import (
    APIConnectionError,
    APITimeoutError,
    Client,
    ClientState,
    RetryConfig,
    ServerError,
    Timeout,
    Transport,
)
from aioclarifai._endpoint_spec import Endpoint
from aioclarifai.endpoints import ENDPOINTS
from aioclarifai.testing import MockRequest, MockResponse, MockTransport
from tests.helpers import FAST_RETRY, PAT

BASE = "https://api.test"


def mock_client(handler: Any, **kwargs: Any) -> Client:
    kwargs.setdefault("retry", FAST_RETRY)
    return Client(PAT, base_url=BASE, app_id="app", transport=MockTransport(handler), **kwargs)


def minimal_request(endpoint: Endpoint[Any, Any]) -> Any:
    """Path ids (nested ones too) set to ``an-id``; user and app from the client's defaults."""
    fields: dict[str, Any] = {}
    for path in endpoint.templates[0].fields:
        if path[0] == "user_app_id":
            continue
        node = fields
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = "an-id"
    return msgspec.convert(fields, endpoint.request_type)


def expected_path(endpoint: Endpoint[Any, Any]) -> str:
    template = endpoint.templates[0]
    values: dict[tuple[str, ...], str] = {
        ("user_app_id", "user_id"): "me",
        ("user_app_id", "app_id"): "app",
    }
    out = template.literals[0]
    for field, literal in zip(template.fields, template.literals[1:], strict=True):
        out += values.get(field, "an-id") + literal
    return out


def stream_lines(name: str, n: int) -> bytes:
    return b"".join(
        msgspec.json.encode({"result": {"status": {"code": 10000, "req_id": f"{name}-{i}"}}})
        + b"\n"
        for i in range(n)
    )


def cut(body: bytes, size: int) -> list[bytes]:
    """``body`` in pieces of ``size`` bytes: lines break across chunks."""
    return [body[i : i + size] for i in range(0, len(body), size)]


async def test_every_operation_is_served_through_mock_transport() -> None:
    seen: list[MockRequest] = []

    def handler(request: MockRequest) -> MockResponse:
        seen.append(request)
        endpoint = ENDPOINTS_BY_NAME[request.operation]
        if endpoint.streaming:
            # A streamed generation: three messages, cut so that lines span chunks.
            return MockResponse(200, content=cut(stream_lines(endpoint.name, 3), 7))
        return MockResponse(200, json={"status": {"code": 10000, "req_id": f"{endpoint.name}-r"}})

    assert len(ENDPOINTS) >= 50  # the 50 seed operations and every other REST one
    async with mock_client(handler) as client:
        for method_name, endpoint in sorted(ENDPOINTS.items()):
            method = getattr(client, method_name)
            request = minimal_request(endpoint)
            if endpoint.streaming:
                async with method(request) as stream:
                    ids = [chunk.status.req_id async for chunk in stream]
                assert ids == [f"{endpoint.name}-{i}" for i in range(3)]
            else:
                response = await method(request)
                assert response.status.req_id == f"{endpoint.name}-r", method_name
            sent = seen[-1]
            assert sent.operation == endpoint.name
            assert sent.method == endpoint.http_method
            assert sent.url.split("?")[0] == BASE + expected_path(endpoint), method_name
            assert sent.headers["authorization"] == f"Key {PAT}"
            if endpoint.body:
                assert isinstance(sent.json(), dict)
                assert sent.headers["Content-Type"] == "application/json"
            else:
                assert sent.content == b"" and sent.json() is None
    assert len(seen) == len(ENDPOINTS)
    assert {r.operation for r in seen} == {e.name for e in ENDPOINTS.values()}


ENDPOINTS_BY_NAME = {e.name: e for e in ENDPOINTS.values()}


async def test_streamed_generation_from_an_async_iterable_of_chunks() -> None:
    body = b"".join(
        msgspec.json.encode(
            {"result": {"status": {"code": 10000}, "outputs": [{"data": {"text": {"raw": t}}}]}}
        )
        + b"\r\n"
        for t in ("Once", " upon", " a time")
    )

    async def chunks() -> AsyncIterator[bytes]:
        for piece in cut(body, 5):
            await asyncio.sleep(0)
            yield piece

    async def handler(request: MockRequest) -> MockResponse:
        assert request.json()["inputs"][0]["data"]["text"]["raw"] == "tell me"
        return MockResponse(200, content=chunks())

    async with mock_client(handler) as client:
        text = await client.generate("llm", "tell me").read_text()
    assert text == "Once upon a time"


async def test_handler_sees_every_attempt_of_a_retried_call() -> None:
    answers = [
        MockResponse(503, json={"status": {"code": 10030}}),
        MockResponse(200, json={"status": {"code": 10000}, "workflows": [{"id": "w"}]}),
    ]
    calls: list[str] = []

    def handler(request: MockRequest) -> MockResponse:
        calls.append(request.url)
        return answers.pop(0)

    async with mock_client(handler) as client:
        resp = await client.list_workflows()
    assert [w.id for w in resp.workflows] == ["w"]
    assert len(calls) == 2 and calls[0] == calls[1]


async def test_a_raised_connection_error_is_retried_and_then_surfaces() -> None:
    calls = 0

    def handler(request: MockRequest) -> MockResponse:
        nonlocal calls
        calls += 1
        raise APIConnectionError("reset", operation=request.operation)

    async with mock_client(handler) as client:
        with pytest.raises(APIConnectionError, match="reset"):
            await client.list_workflows()
    assert calls == 3  # the first attempt and FAST_RETRY's two retries


async def test_a_slow_handler_hits_the_total_timeout() -> None:
    async def handler(request: MockRequest) -> MockResponse:
        await asyncio.sleep(10)
        raise AssertionError("not reached")  # pragma: no cover

    async with mock_client(handler, timeout=Timeout(total=0.05), max_retries=0) as client:
        with pytest.raises(APITimeoutError) as info:
            await client.list_workflows()
    assert info.value.kind == "total"


async def test_a_stalled_stream_hits_the_idle_timeout() -> None:
    async def stalled() -> AsyncIterator[bytes]:
        yield stream_lines("GenerateModelOutputs", 1)
        await asyncio.sleep(10)
        yield b""  # pragma: no cover

    def handler(request: MockRequest) -> MockResponse:
        return MockResponse(200, content=stalled())

    timeout = Timeout(stream_idle=0.05)
    async with mock_client(handler, timeout=timeout) as client:
        stream = client.generate_model_outputs(model_id="m")
        async with stream:
            with pytest.raises(APITimeoutError) as info:
                async for _ in stream:
                    pass
    assert info.value.kind == "read"


async def test_error_answers_are_typed_and_headers_read_without_case() -> None:
    def handler(request: MockRequest) -> MockResponse:
        return MockResponse(
            503, json={"status": {"code": 10030, "description": "busy"}},
            headers={"retry-after": "0"},
        )  # fmt: skip

    async with mock_client(handler, max_retries=0) as client:
        with pytest.raises(ServerError) as info:
            await client.list_workflows()
    assert info.value.code == 10030 and info.value.retry_after == 0.0


async def test_closed_transport_refuses_requests() -> None:
    def handler(request: MockRequest) -> MockResponse:
        return MockResponse(200, json={"status": {"code": 10000}})

    client = mock_client(handler)
    states = [client.state]
    await client.list_workflows()
    states.append(client.state)
    assert states == [ClientState.UNOPENED, ClientState.OPEN]
    await client.aclose()
    assert client.state is ClientState.CLOSED
    with pytest.raises(RuntimeError, match="closed"):
        await client.list_workflows()


async def test_bad_handler_answers_and_bad_responses_are_type_errors() -> None:
    async with mock_client(lambda request: {"status": {}}, max_retries=0) as client:
        with pytest.raises(TypeError, match="must return a MockResponse"):
            await client.list_workflows()
    with pytest.raises(TypeError, match="json= or content="):
        MockResponse(200, json={}, content=b"x")
    with pytest.raises(TypeError, match="content must be bytes"):
        MockResponse(200, content=cast(Any, "text"))
    with pytest.raises(ValueError, match=r"100\.\.599"):
        MockResponse(42)
    with pytest.raises(TypeError, match="callable"):
        MockTransport(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a Transport"):
        Client(PAT, transport=object())  # type: ignore[arg-type]


def test_mock_transport_is_a_transport_and_hides_the_pat() -> None:
    transport = MockTransport(lambda r: MockResponse())
    assert isinstance(transport, Transport)
    Client(PAT, transport=transport)
    request = MockRequest("GET", BASE, _headers(transport), b"", "ListWorkflows")
    assert PAT not in repr(request.headers) and "***" in repr(request.headers)


def _headers(transport: MockTransport) -> Any:
    from aioclarifai.testing._mock import Headers

    return Headers(transport._headers)


class RecordingGate:
    """A RateGate that counts: acquire before each attempt, record after it."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def acquire(self) -> None:
        self.events.append("acquire")

    def record(self, throttled: bool, retry_after: float | None) -> None:
        self.events.append(f"record throttled={throttled} retry_after={retry_after}")


async def test_the_rate_gate_surrounds_every_attempt_of_every_path() -> None:
    unary = [
        MockResponse(429, json={"status": {"code": 11005}}, headers={"Retry-After": "0"}),
        MockResponse(200, json={"status": {"code": 10000}}),
    ]
    upload_parts = 0

    def handler(request: MockRequest) -> MockResponse:
        nonlocal upload_parts
        if request.operation == "ListWorkflows":
            return unary.pop(0)
        if request.operation == "GenerateModelOutputs":
            return MockResponse(200, content=[stream_lines("g", 2)])
        if request.operation == "PostUploads":
            return MockResponse(200, json={"status": {"code": 10000}, "uploads": [{"id": "u1"}]})
        if request.operation == "PutUploadContentParts":
            upload_parts += 1
            if upload_parts == 1:
                return MockResponse(503, json={"status": {"code": 10030}})
            return MockResponse(200, json={"status": {"code": 10000}})
        assert request.operation == "GetUpload"
        return MockResponse(200, json={"status": {"code": 10000}, "upload": {
            "id": "u1", "status": {"code": 68001}}})  # fmt: skip

    gate = RecordingGate()
    async with mock_client(handler) as client:
        client._core.gate = gate  # the rate-control issue wires this from Client options
        await client.with_options(timeout=5).list_workflows()  # views share the gate
        async with client.generate_model_outputs(model_id="m") as stream:
            assert len([c async for c in stream]) == 2
        await client.upload(b"12345", part_size=5, poll_interval=0)
    ok = "record throttled=False retry_after=None"
    assert gate.events == [
        "acquire", "record throttled=True retry_after=0.0", "acquire", ok,  # unary, retried
        "acquire", ok,  # the stream's start
        "acquire", ok,  # PostUploads
        "acquire", "record throttled=False retry_after=None", "acquire", ok,  # a part, retried
        "acquire", ok,  # GetUpload
    ]  # fmt: skip


async def test_the_gate_hears_of_a_cancelled_attempt() -> None:
    started = asyncio.Event()

    async def handler(request: MockRequest) -> MockResponse:
        started.set()
        await asyncio.sleep(10)
        raise AssertionError("not reached")  # pragma: no cover

    gate = RecordingGate()
    async with mock_client(handler) as client:
        client._core.gate = gate
        task = asyncio.ensure_future(client.list_workflows())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert gate.events == ["acquire", "record throttled=False retry_after=None"]


async def test_upload_parts_retry_by_part_retries_not_max_retries() -> None:
    # PutUploadContentParts appends (not idempotent), yet a part is resent after
    # a 5xx that followed its body: the upload path passes its own rule and budget.
    puts = 0

    def handler(request: MockRequest) -> MockResponse:
        nonlocal puts
        if request.operation == "PostUploads":
            return MockResponse(json={"status": {"code": 10000}, "uploads": [{"id": "u1"}]})
        if request.operation == "PutUploadContentParts":
            puts += 1
            return MockResponse(503 if puts < 3 else 200, json={"status": {"code": 10000}})
        return MockResponse(json={"status": {"code": 10000}, "upload": {
            "id": "u1", "status": {"code": 68001}}})  # fmt: skip

    async with mock_client(handler, retry=RetryConfig(max_retries=0, initial_backoff=0)) as c:
        done = await c.upload(b"abc", part_retries=2, poll_interval=0)
    assert done.id == "u1" and puts == 3
