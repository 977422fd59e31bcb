"""What a user mocks with aioresponses still goes through the client's own pipeline.

The README's snippet is ``test_aioresponses_readme.py``; these show that the
mocked request is the one the client built, that a mocked failure is the typed
error with everything the body said, and that mocked answers meet the client's
retry policy (so a mocked 503 is retried, and the next registered answer wins).
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses
from yarl import URL

from aioclarifai import Client, NotFoundError, RetryConfig, types

OUTPUTS = (
    "https://api.clarifai.com/v2/users/me/apps/my-app/models/general-image-recognition/outputs"
)


class Response(ClientResponse):
    """aioresponses 0.7.9 predates aiohttp 3.14's ``stream_writer`` (aioresponses#289)."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


def _image(url: str) -> types.PostModelOutputsRequest:
    inputs = [types.Input(data=types.Data(image=types.Image(url=url)))]
    return types.PostModelOutputsRequest(model_id="general-image-recognition", inputs=inputs)


async def test_the_mock_sees_the_request_the_client_built() -> None:
    with aioresponses() as mocked:
        mocked.post(OUTPUTS, payload={"status": {"code": 10000}}, response_class=Response)
        async with Client(pat="test-pat", app_id="my-app") as client:
            await client.post_model_outputs(_image("https://example.com/a.jpg"))
        (call,) = mocked.requests[("POST", URL(OUTPUTS))]
    assert json.loads(call.kwargs["data"]) == {
        "inputs": [{"data": {"image": {"url": "https://example.com/a.jpg"}}}]
    }


async def test_a_mocked_failure_is_the_typed_error() -> None:
    status = {"code": 21200, "description": "Model does not exist", "req_id": "r-1"}
    with aioresponses() as mocked:
        mocked.post(OUTPUTS, status=404, payload={"status": status}, response_class=Response)
        async with Client(pat="test-pat", app_id="my-app") as client:
            with pytest.raises(NotFoundError) as caught:
                await client.post_model_outputs(_image("https://example.com/a.jpg"))
    err = caught.value
    assert (err.code, err.description, err.req_id, err.http_status) == (
        21200,
        "Model does not exist",
        "r-1",
        404,
    )


async def test_mocked_answers_go_through_the_clients_retries() -> None:
    retry = RetryConfig(max_retries=1, initial_backoff=0)
    unavailable = {"status": {"code": 10020}}
    with aioresponses() as mocked:
        mocked.post(OUTPUTS, status=503, payload=unavailable, response_class=Response)
        mocked.post(
            OUTPUTS, payload={"status": {"code": 10000, "req_id": "ok"}}, response_class=Response
        )
        async with Client(pat="test-pat", app_id="my-app", retry=retry) as client:
            resp = await client.post_model_outputs(_image("https://example.com/a.jpg"))
        assert resp.status is not None and resp.status.req_id == "ok"
        assert len(mocked.requests[("POST", URL(OUTPUTS))]) == 2
