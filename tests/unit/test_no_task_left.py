"""No task of the library outlives its owner: after a cancel or a failure, nothing is left running.

Uploads' part workers and the paginator's prefetch are covered beside their
other tests (test_uploads, test_pagination); here: predict_many, predict and
the start of a stream, and the CLI job with its progress ticker, all over MockTransport.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from aioclarifai import Client, types
from aioclarifai.testing import MockRequest, MockResponse, MockTransport
from tests.helpers import FAST_RETRY, PAT, result_line


def other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


class Held:
    """A handler holding every request until released; counts those cancelled under it."""

    def __init__(self) -> None:
        self.arrived = 0
        self.cancelled = 0
        self.release = asyncio.Event()
        self.some_arrived = asyncio.Event()

    async def __call__(self, request: MockRequest) -> MockResponse:
        self.arrived += 1
        self.some_arrived.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if request.operation == "GenerateModelOutputs":
            return MockResponse(200, content=[result_line("x")])
        inputs = request.json()["inputs"]
        outputs = [{"status": {"code": 10000}, "input": inp} for inp in inputs]
        return MockResponse(200, json={"status": {"code": 10000}, "outputs": outputs})


def text(i: int) -> types.Input:
    return types.Input(data=types.Data(text=types.Text(raw=str(i))))


def client_for(handler: Any) -> Client:
    return Client(PAT, app_id="app", retry=FAST_RETRY, transport=MockTransport(handler))


async def test_cancelled_predict_many_leaves_no_request_running() -> None:
    held = Held()
    async with client_for(held) as client:

        async def consume() -> None:
            async for _ in client.predict_many("m", (text(i) for i in range(300)), concurrency=200):
                pass  # pragma: no cover - nothing is answered

        task = asyncio.ensure_future(consume())
        await held.some_arrived.wait()
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(3):
            await asyncio.sleep(0)
        assert held.arrived >= 1 and held.cancelled == held.arrived
        assert other_tasks() == set()


async def test_failed_predict_many_leaves_no_request_running() -> None:
    held = Held()
    async with client_for(held) as client:
        inputs: list[Any] = [text(i) for i in range(200)]
        inputs.append("not an input")  # fails the iteration when its turn comes
        with pytest.raises(TypeError, match=r"types\.Input"):
            async for _ in client.predict_many("m", inputs, ordered=False, return_exceptions=False):
                pass  # pragma: no cover
        for _ in range(3):
            await asyncio.sleep(0)
        assert held.arrived >= 1 and held.cancelled == held.arrived
        assert other_tasks() == set()


async def test_the_last_cancelled_predict_stops_its_request() -> None:
    held = Held()
    async with client_for(held) as client:
        calls = [asyncio.ensure_future(client.predict("m", text(i))) for i in range(3)]
        await held.some_arrived.wait()
        calls[0].cancel()
        await asyncio.sleep(0)
        assert held.cancelled == 0  # siblings still wait for the request
        for call in calls[1:]:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        for _ in range(3):
            await asyncio.sleep(0)
        assert held.cancelled == 1
        assert other_tasks() == set()


async def test_aclose_from_another_task_stops_a_starting_stream() -> None:
    held = Held()
    async with client_for(held) as client:
        stream = client.generate_model_outputs(model_id="m")
        starting = asyncio.ensure_future(stream.__aenter__())
        await held.some_arrived.wait()
        await stream.aclose()
        await asyncio.wait_for(starting, 5)  # the start ends quietly, the stream closed
        assert stream.closed and held.cancelled == 1
        assert [c async for c in stream] == []
        assert other_tasks() == set()


async def test_failed_stream_start_leaves_nothing_open() -> None:
    def refuse(request: MockRequest) -> MockResponse:
        return MockResponse(400, json={"status": {"code": 11102, "description": "bad"}})

    transport = MockTransport(refuse)
    async with Client(PAT, app_id="app", transport=transport) as client:
        with pytest.raises(Exception, match="11102"):
            async with client.generate_model_outputs(model_id="m"):
                pass  # pragma: no cover
        assert client.connections_in_use == 0
        assert other_tasks() == set()


class BrokenStream(io.StringIO):
    """A progress stream that fails on the first write (a closed pipe, say)."""

    def write(self, s: str) -> int:
        raise OSError("progress stream is gone")


async def test_cancelled_cli_job_leaves_no_task(tmp_path: Path) -> None:
    from aioclarifai.cli._batch import run_batch

    held = Held()
    inputs = tmp_path / "in.txt"
    inputs.write_text("".join(f"text {i}\n" for i in range(300)))
    async with client_for(held) as client:
        job = asyncio.create_task(
            run_batch(
                client, "m", str(inputs), str(tmp_path / "out.jsonl"),
                progress_stream=io.StringIO(), progress_interval=0.01,
            )
        )  # fmt: skip
        await asyncio.wait_for(held.some_arrived.wait(), 5)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        await asyncio.sleep(0)
        assert other_tasks() == set()  # neither the ticker nor a request is left
        assert held.cancelled == held.arrived


async def test_failing_cli_ticker_ends_the_job_with_its_error(tmp_path: Path) -> None:
    from aioclarifai.cli._batch import run_batch

    held = Held()  # never released: only the ticker's failure can end the job
    inputs = tmp_path / "in.txt"
    inputs.write_text("".join(f"text {i}\n" for i in range(300)))
    async with client_for(held) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(OSError, match="progress stream is gone"):
            await asyncio.wait_for(
                run_batch(
                    client, "m", str(inputs), str(tmp_path / "out.jsonl"),
                    progress_stream=BrokenStream(), progress_interval=0.0,
                ),
                10,
            )  # fmt: skip
        # Ended by the ticker's first tick, not by wait_for's bound (which would also
        # surface the ticker's error, late, when the job is torn down).
        assert asyncio.get_running_loop().time() - started < 8
        await asyncio.sleep(0)
        assert other_tasks() == set()
