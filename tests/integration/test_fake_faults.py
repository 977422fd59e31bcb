"""FakeClarifai's fault injection, observed through the real Client."""

from __future__ import annotations

import time

import pytest

from aioclarifai import (
    APIConnectionError,
    Client,
    NotFoundError,
    RateLimitError,
    ServerError,
    types,
)
from aioclarifai.testing import FakeClarifai


def _client(fake: FakeClarifai, **options: object) -> Client:
    return Client(base_url=fake.url, pat=fake.pat, app_id="a", **options)  # type: ignore[arg-type]


async def test_error_code_for_one_operation(fake_clarifai: FakeClarifai) -> None:
    fault = fake_clarifai.inject("list_workflows", code=21200)
    async with _client(fake_clarifai, max_retries=0) as client:
        with pytest.raises(NotFoundError) as info:
            await client.list_workflows()
        assert info.value.code == 21200 and info.value.http_status == 404
        await client.list_modules()  # other operations are untouched
    assert fault.hits == 1


async def test_http_status_only_gets_a_matching_code(fake_clarifai: FakeClarifai) -> None:
    fake_clarifai.inject(http_status=503, times=1)
    async with _client(fake_clarifai, max_retries=0) as client:
        with pytest.raises(ServerError) as info:
            await client.list_workflows()
        assert (info.value.http_status, info.value.code) == (503, 10030)
        await client.list_workflows()  # times=1: the fault is used up


async def test_throttle_with_retry_after_is_honoured(fake_clarifai: FakeClarifai) -> None:
    fault = fake_clarifai.throttle("list_workflows", retry_after=0.2)
    async with _client(fake_clarifai, max_retries=0, adaptive_rate=False, timeout=0.1) as client:
        with pytest.raises(RateLimitError) as info:  # the wait asked would pass the deadline
            await client.list_workflows()
    assert info.value.retry_after == pytest.approx(0.2)
    assert fault.hits == 1

    fake_clarifai.throttle("list_workflows", retry_after=0.2)
    async with _client(fake_clarifai, max_retries=1) as client:
        started = time.monotonic()
        await client.list_workflows()
        assert time.monotonic() - started >= 0.15
    assert len(fake_clarifai.requests_for("list_workflows")) == 3


async def test_rate_is_a_probability(fake_clarifai: FakeClarifai) -> None:
    fault = fake_clarifai.inject("list_workflows", code=98004, rate=0.5)
    failures = 0
    async with _client(fake_clarifai, max_retries=0) as client:
        for _ in range(40):
            try:
                await client.list_workflows()
            except ServerError:
                failures += 1
    assert failures == fault.hits and 5 < failures < 35


@pytest.mark.parametrize("drop", ["before_headers", "after_headers"])
async def test_dropped_connection(fake_clarifai: FakeClarifai, drop: str) -> None:
    fault = fake_clarifai.inject("get_upload", drop=drop)  # type: ignore[arg-type]
    async with _client(fake_clarifai, max_retries=0) as client:
        with pytest.raises(APIConnectionError):
            await client.get_upload(upload_id="u")
    assert fault.hits >= 1


async def test_truncated_and_malformed_bodies(fake_clarifai: FakeClarifai) -> None:
    async with _client(fake_clarifai, max_retries=0) as client:
        fake_clarifai.inject(truncate=True, times=1)
        with pytest.raises(APIConnectionError):
            await client.list_workflows()
        fake_clarifai.inject(malformed=True, times=1)
        with pytest.raises(ServerError) as info:
            await client.list_workflows()
        assert info.value.http_status == 200


async def test_truncated_stream(fake_clarifai: FakeClarifai) -> None:
    fake_clarifai.generate_chunks = 6
    fake_clarifai.inject("generate_model_outputs", truncate=True)
    request = types.PostModelOutputsRequest(
        model_id="llm", inputs=[types.Input(data=types.Data(text=types.Text(raw="x")))]
    )
    got = 0
    async with _client(fake_clarifai, max_retries=0) as client:
        with pytest.raises(APIConnectionError):
            async with client.generate_model_outputs(request) as stream:
                async for _ in stream:
                    got += 1
    assert got == 3


async def test_latency(fake_clarifai: FakeClarifai) -> None:
    async with _client(fake_clarifai) as client:
        fake_clarifai.set_latency(0.1, operation="list_workflows")
        started = time.monotonic()
        await client.list_workflows()
        assert time.monotonic() - started >= 0.1
        fake_clarifai.set_latency((0.05, 0.08))
        started = time.monotonic()
        await client.list_modules()
        assert time.monotonic() - started >= 0.05
        fake_clarifai.clear_faults()
        fake_clarifai.set_latency(None)


def test_unknown_operation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown operation"):
        FakeClarifai().inject("post_everything", code=1)
