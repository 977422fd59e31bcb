"""Client lifecycle: loop binding, use after close, closing under load, large bodies."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from aioclarifai import APIConnectionError, Client, ClientState, types
from tests.helpers_loopback import (
    PAT,
    Hang,
    Loopback,
    Reply,
    client_for,
    deaf_server,
    scripted,
    wait_until,
)


def state(client: Client) -> ClientState:
    """The client's state, read fresh (not narrowed by earlier asserts)."""
    return client.state


@contextmanager
def other_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def test_a_client_is_bound_to_its_first_loop() -> None:
    async with Loopback(scripted(Reply())) as server:
        client = Client(PAT, base_url=server.url, app_id="app")
        with other_loop() as loop:
            first = asyncio.run_coroutine_threadsafe(client.list_workflows(), loop)
            await asyncio.wrap_future(first)
            with pytest.raises(RuntimeError, match="bound to the event loop"):
                await client.list_workflows()
            with pytest.raises(RuntimeError, match="bound to the event loop"):
                await client.aclose()
            assert state(client) is ClientState.OPEN
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(client.aclose(), loop))
        assert state(client) is ClientState.CLOSED
        assert len(server.requests) == 1


async def test_use_after_close() -> None:
    async with Loopback(scripted(Reply())) as server:
        client = Client(PAT, base_url=server.url, app_id="app")
        assert state(client) is ClientState.UNOPENED
        await client.list_workflows()
        assert state(client) is ClientState.OPEN
        await client.aclose()
        await client.aclose()  # idempotent
        assert state(client) is ClientState.CLOSED
        with pytest.raises(RuntimeError, match="closed"):
            await client.list_workflows()
        with pytest.raises(RuntimeError, match="closed"):
            await client.with_options(timeout=1).list_workflows()
        with pytest.raises(RuntimeError, match="closed"):
            async with client:
                pass


async def test_closing_under_load_never_hangs() -> None:
    big = types.Workflow(id="w", description="x" * (4 << 20))
    async with deaf_server() as url:
        client = Client(PAT, base_url=url, app_id="app", max_connections=2)
        # Two uploads stuck on a peer that never reads, one call queued behind them.
        uploads = [asyncio.create_task(client.post_workflows(workflows=[big])) for _ in range(2)]
        await wait_until(lambda: client.connections_in_use == 2)
        queued = asyncio.create_task(client.list_workflows())
        await asyncio.sleep(0.05)
        await asyncio.wait_for(client.aclose(), 5)
        results = await asyncio.gather(*uploads, queued, return_exceptions=True)
    assert all(isinstance(r, APIConnectionError) for r in results[:2])
    assert isinstance(results[2], RuntimeError) and "closed" in str(results[2])
    assert client.connections_in_use == 0


async def test_in_flight_idempotent_call_is_not_retried_after_close() -> None:
    async with Loopback(scripted(Hang())) as server:
        client = Client(PAT, base_url=server.url, app_id="app")
        task = asyncio.create_task(client.list_workflows())
        await wait_until(lambda: bool(server.requests))
        await client.aclose()
        with pytest.raises(APIConnectionError):
            await task
        assert len(server.requests) == 1


async def test_large_bodies_are_sent_without_warnings() -> None:
    description = "y" * (3 << 20)  # above aiohttp's 1 MiB "large raw body" warning
    async with Loopback(scripted(Reply())) as server, client_for(server) as client:
        await client.post_workflows(workflows=[types.Workflow(id="w", description=description)])
        await client.patch_workflows(workflows=[types.Workflow(id="w", description="small")])
    sent = json.loads(server.requests[0].body)
    assert sent["workflows"][0]["description"] == description
    assert server.requests[0].headers["content-type"] == "application/json"
    assert json.loads(server.requests[1].body)["workflows"][0]["description"] == "small"


async def test_with_options_shares_the_pool() -> None:
    async with Loopback(scripted(Hang())) as server, client_for(server) as client:
        view = client.with_options(max_retries=0)
        task = asyncio.create_task(view.list_workflows())
        await wait_until(lambda: bool(server.requests))
        assert client.connections_in_use == view.connections_in_use == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.connections_in_use == 0
    assert PAT not in repr(client) + repr(view)


PREDICTION = {"status": {"code": 10000}, "outputs": [{"status": {"code": 10000}}]}


async def test_refused_close_from_another_loop_leaves_batching_usable() -> None:
    async with Loopback(scripted(Reply(body=PREDICTION))) as server:
        client = Client(PAT, base_url=server.url, app_id="app")
        with other_loop() as loop:

            def on_loop(coro: Any) -> Any:
                return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

            async def predict(id: str) -> types.Output:
                # predict queues its input in the loop it is called in: call it there.
                return await client.predict("m", types.Input(id=id))

            await on_loop(predict("a"))
            with pytest.raises(RuntimeError, match="bound to the event loop"):
                await client.aclose()
            # The refused close changed nothing: predicts still go out.
            out = await on_loop(predict("b"))
            assert out.input is not None and out.input.id == "b"
            await on_loop(client.aclose())
        assert state(client) is ClientState.CLOSED
        assert len(server.requests) == 2
        await client.aclose()  # closing again is a no-op, from any loop


async def test_cancelled_close_still_closes_the_pool() -> None:
    async with Loopback(scripted(Hang())) as server:
        client = Client(PAT, base_url=server.url, app_id="app")
        predict = asyncio.create_task(client.predict("m", types.Input(id="a")))
        await wait_until(lambda: bool(server.requests))
        closing = asyncio.create_task(client.aclose())
        await asyncio.sleep(0.01)  # aclose is now waiting for the batch in flight
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
        assert state(client) is ClientState.CLOSED
        assert client.connections_in_use == 0
        with pytest.raises(RuntimeError, match="closed before this predict completed"):
            await predict
