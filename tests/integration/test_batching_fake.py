"""Batched predict against FakeClarifai (the project's stateful fake server)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

from aioclarifai import Client, NotFoundError, OutputError, RetryConfig, types
from aioclarifai.testing import FakeClarifai, concepts_for


def text_input(text: str, id: str = "") -> types.Input:
    return types.Input(id=id, data=types.Data(text=types.Text(raw=text)))


def concept_ids(out: types.Output) -> list[str]:
    assert out.data is not None
    return [c.id for c in out.data.concepts]


async def test_coalesced_predicts_get_their_own_predictions() -> None:
    async with FakeClarifai() as fake, Client(fake.pat, base_url=fake.url, app_id="app") as client:
        texts = [f"text {i}" for i in range(300)]
        outs = await asyncio.gather(*(client.predict("m", text_input(t)) for t in texts))
        records = fake.requests_for("post_model_outputs")
    assert len(records) == math.ceil(300 / 128)
    for text, out in zip(texts, outs, strict=True):
        assert concept_ids(out) == [c.id for c in concepts_for(text.encode())]
        assert out.input is not None and out.input.id == ""


async def test_failed_inputs_fail_alone_and_all_failed_batches_report_each() -> None:
    async with FakeClarifai() as fake, Client(fake.pat, base_url=fake.url, app_id="app") as client:
        mixed = await asyncio.gather(
            *(client.predict("m", text_input(t)) for t in ["a", "please fail", "b"]),
            return_exceptions=True,
        )
        assert isinstance(mixed[1], OutputError) and mixed[1].output is not None
        assert isinstance(mixed[0], types.Output) and isinstance(mixed[2], types.Output)
        # Every input failing: 10020 with an HTTP error status, still one error per caller.
        failed = await asyncio.gather(
            *(client.predict("m", text_input(f"fail {i}", id=f"x{i}")) for i in range(3)),
            return_exceptions=True,
        )
    assert all(isinstance(r, OutputError) for r in failed)
    assert [
        r.output.input.id if isinstance(r, OutputError) and r.output and r.output.input else None
        for r in failed
    ] == ["x0", "x1", "x2"]


async def test_missing_model_and_throttling() -> None:
    async with FakeClarifai() as fake:
        fake.missing_models.add("gone")
        retry = RetryConfig(initial_backoff=0.01)
        async with Client(fake.pat, base_url=fake.url, app_id="app", retry=retry) as client:
            results = await asyncio.gather(
                *(client.predict("gone", text_input(str(i))) for i in range(4)),
                return_exceptions=True,
            )
            assert all(isinstance(r, NotFoundError) and r.code == 21200 for r in results)
            fake.throttle("post_model_outputs", retry_after=0.01)
            outs = await asyncio.gather(
                *(client.predict("m", text_input(str(i))) for i in range(4))
            )
            assert len(outs) == 4
    assert len(fake.requests_for("post_model_outputs")) == 3


async def test_predict_many_from_an_async_generator() -> None:
    async def source() -> AsyncIterator[types.Input]:
        for i in range(2000):
            yield text_input(f"fail {i}" if i % 500 == 1 else f"item {i}")

    async with FakeClarifai() as fake, Client(fake.pat, base_url=fake.url, app_id="app") as client:
        results = [r async for r in client.predict_many("m", source(), concurrency=256)]
        records = fake.requests_for("post_model_outputs")
    assert len(results) == 2000
    assert [i for i, r in enumerate(results) if isinstance(r, OutputError)] == [1, 501, 1001, 1501]
    out = results[2]
    assert isinstance(out, types.Output)
    assert concept_ids(out) == [c.id for c in concepts_for(b"item 2")]
    assert len(records) <= math.ceil(2000 / 64) + 8
