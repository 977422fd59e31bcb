"""Extra headers, tracing headers and stream headers over MockTransport (no sockets)."""

from __future__ import annotations

import msgspec

from aioclarifai import Client, types
from aioclarifai.testing import MockRequest, MockResponse, MockTransport
from tests.helpers import FAST_RETRY, PAT

LINE = msgspec.json.encode({"result": {"status": {"code": 10000}, "outputs": []}}) + b"\n"


def mock_client(seen: list[MockRequest]) -> Client:
    def handler(request: MockRequest) -> MockResponse:
        seen.append(request)
        if request.url.endswith("/generate"):
            return MockResponse(200, content=[LINE, LINE], headers={"X-Stream": "yes"})
        return MockResponse(200, json={"status": {"code": 10000}})

    return Client(
        PAT, base_url="https://api.test", app_id="app", retry=FAST_RETRY,
        transport=MockTransport(handler),
    )  # fmt: skip


async def test_stream_exposes_status_and_headers_and_carries_extra_headers() -> None:
    seen: list[MockRequest] = []
    async with mock_client(seen) as client:
        view = client.with_options(extra_headers={"X-Job": "j1"})
        stream = view.generate_model_outputs(types.PostModelOutputsRequest(model_id="m"))
        assert (stream.http_status, dict(stream.headers)) == (0, {})
        async with stream:
            chunks = [chunk async for chunk in stream]
        assert len(chunks) == 2
        assert stream.http_status == 200
        assert stream.headers["X-Stream"] == "yes"
    assert seen[0].headers["X-Job"] == "j1"
    assert seen[0].headers["Authorization"] == f"Key {PAT}"


async def test_extra_headers_reach_a_mock_transport_for_unary_calls() -> None:
    seen: list[MockRequest] = []
    async with mock_client(seen) as client:
        await client.with_options(extra_headers={"X-Job": "j2"}).list_workflows()
        await client.list_workflows()
    assert seen[0].headers["X-Job"] == "j2"
    assert "X-Job" not in seen[1].headers
