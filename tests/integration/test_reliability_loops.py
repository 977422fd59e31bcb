"""Issue 14 item 4: a client whose event loop ended fails clearly and can still be closed.

These tests run several event loops one after the other, so they are plain
(sync) tests; the misbehaving server runs in its own thread and loop.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator

import pytest

from aioclarifai import Client, types

from ._hostile import PAT, Hostile, reply, status_body

PREDICTED = status_body(
    10000, "Ok", outputs=[{"id": "o", "status": {"code": 10000}, "input": {"id": "a"}}]
)
INPUT = types.Input(id="a", data=types.Data(text=types.Text(raw="x")))


@pytest.fixture
def server_url() -> Iterator[str]:
    """A loopback server in a thread of its own, serving predictions and lists."""
    ready = threading.Event()
    url: list[str] = []
    stop: list[asyncio.Event] = []
    loops: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        async with Hostile(reply(200, PREDICTED)) as server:
            url.append(server.url)
            stop.append(asyncio.Event())
            loops.append(asyncio.get_running_loop())
            ready.set()
            await stop[0].wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    assert ready.wait(10)
    try:
        yield url[0]
    finally:
        loops[0].call_soon_threadsafe(stop[0].set)
        thread.join(10)


async def _bounded(coro: object, seconds: float = 5.0) -> object:
    # A hang fails the test instead of blocking it.
    return await asyncio.wait_for(coro, seconds)  # type: ignore[arg-type]


@pytest.mark.parametrize("pool_opened", [True, False])
def test_item4_predict_after_its_loop_ended_fails_clearly(
    server_url: str, pool_opened: bool
) -> None:
    client = Client(PAT, base_url=server_url, app_id="app")

    async def first_loop() -> None:
        if pool_opened:
            await client.list_workflows()
        # A predict still waiting for its batch (max_wait) when the loop ends.
        asyncio.get_running_loop().create_task(client.predict("m", INPUT))
        await asyncio.sleep(0)

    asyncio.run(first_loop())

    async def second_loop() -> None:
        with pytest.raises(RuntimeError, match="event loop"):
            await _bounded(client.predict("m", INPUT))
        if pool_opened:  # (a pool never opened is not bound to any loop yet)
            with pytest.raises(RuntimeError, match="event loop"):
                await _bounded(client.list_workflows())
        await _bounded(client.aclose())
        assert client.state.value == "closed"
        # Recoverable: a client of this loop works.
        async with Client(PAT, base_url=server_url, app_id="app") as fresh:
            out = await _bounded(fresh.predict("m", INPUT))
            assert isinstance(out, types.Output)

    asyncio.run(second_loop())


def test_item4_loop_end_closes_the_pool_in_its_own_loop(server_url: str) -> None:
    client = Client(PAT, base_url=server_url, app_id="app")

    async def use() -> int:
        await client.list_workflows()
        return client.idle_connections

    assert asyncio.run(use()) == 1
    # asyncio.run's shutdown closed the pool while its loop could still run it.
    assert client.state.value == "closed"
    assert getattr(client._core.transport, "_session", None) is None


def test_item4_client_of_a_closed_loop_can_be_closed_from_a_new_loop(server_url: str) -> None:
    client = Client(PAT, base_url=server_url, app_id="app")
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(client.list_workflows())
    finally:
        loop.close()  # without shutting its async generators down: nothing closed the pool
    assert client.state.value == "open"

    async def close_from_a_new_loop(client: Client) -> None:
        with pytest.raises(RuntimeError, match="event loop"):
            await _bounded(client.list_workflows())
        await _bounded(client.aclose())

    asyncio.run(close_from_a_new_loop(client))
    assert client.state.value == "closed"
    del client
    gc.collect()  # no "unclosed transport" / "unclosed socket" warning (warnings are errors)
