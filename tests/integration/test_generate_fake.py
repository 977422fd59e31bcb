"""``client.generate`` against FakeClarifai's streamed generations and stream faults."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aioclarifai import APIConnectionError, Client, RetryConfig, StreamError
from aioclarifai.testing import FakeClarifai
from aioclarifai.testing._server import generated_text


@pytest.fixture
async def fake() -> AsyncIterator[FakeClarifai]:
    async with FakeClarifai(generate_chunks=6) as server:
        yield server


@pytest.fixture
async def client(fake: FakeClarifai) -> AsyncIterator[Client]:
    retry = RetryConfig(max_retries=2, initial_backoff=0.01, model_not_ready_backoff=0.01)
    async with Client(fake.pat, base_url=fake.url, app_id="app", retry=retry) as c:
        yield c


async def test_deltas_join_into_the_generated_text(client: Client) -> None:
    async with client.generate("llm", "a poem about rivers") as stream:
        deltas = [d async for d in stream]
    assert len(deltas) == 6
    assert "".join(deltas) == generated_text(b"a poem about rivers")
    assert client.connections_in_use == 0


async def test_model_loading_before_the_stream_is_retried(
    fake: FakeClarifai, client: Client
) -> None:
    fault = fake.inject("generate_model_outputs", code=21355, times=1)
    text = await client.generate("llm", "hello").read_text()
    assert text == generated_text(b"hello")
    assert fault.hits == 1


async def test_error_frame_after_some_chunks(fake: FakeClarifai, client: Client) -> None:
    fake.inject("generate_model_outputs", stream_error_after=2)
    got = []
    with pytest.raises(StreamError) as info:
        async with client.generate("llm", "hello") as stream:
            async for delta in stream:
                got.append(delta)
    assert len(got) == 2
    assert info.value.grpc_code == 13
    assert client.connections_in_use == 0


async def test_truncated_stream_is_a_connection_error(fake: FakeClarifai, client: Client) -> None:
    fake.inject("generate_model_outputs", truncate=True)
    with pytest.raises(APIConnectionError):
        await client.generate("llm", "hello").read_text()
    assert client.connections_in_use == 0
