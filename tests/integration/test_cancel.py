"""Cancellation at every point of a call leaves the pool consistent and propagates."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import pytest

from aioclarifai import Client, ResponseEvent, Timeout, types
from tests.helpers_loopback import (
    PAT,
    Hang,
    Loopback,
    Reply,
    Seen,
    StallMidBody,
    acquired_connections,
    client_for,
    deaf_server,
    scripted,
    status_body,
    unreachable_server,
    wait_until,
)


async def _cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    # CancelledError is never swallowed nor converted into a ClarifaiError.
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert all(task.cancelled() for task in tasks)


def _assert_pool_clean(client: Client) -> None:
    assert client.connections_in_use == 0
    assert acquired_connections(client) == 0


async def test_500_in_flight_calls_cancelled() -> None:
    def handler(seen: Seen) -> Hang | StallMidBody:
        # Half wait for headers, half are part-way through reading a body.
        return Hang() if len(server.requests) % 2 else StallMidBody()

    async with Loopback(handler) as server, client_for(server, max_connections=100) as client:
        tasks = [asyncio.create_task(client.list_workflows()) for _ in range(500)]
        await wait_until(lambda: len(server.requests) >= 100)
        assert client.connections_in_use == 100  # the other 400 are queued for a connection
        await _cancel_all(tasks)
        _assert_pool_clean(client)
        server.handler = scripted(Reply())
        resp = await client.list_workflows()
        assert resp.status is not None and resp.status.code == 10000
        results = await asyncio.gather(*(client.list_workflows() for _ in range(200)))
        assert len(results) == 200
        _assert_pool_clean(client)
    gc.collect()  # an unclosed transport would warn here, and warnings are errors


async def test_cancel_while_connecting() -> None:
    with unreachable_server() as url:
        async with Client(PAT, base_url=url, app_id="a", timeout=Timeout(connect=None)) as client:
            tasks = [asyncio.create_task(client.list_workflows()) for _ in range(50)]
            await asyncio.sleep(0.2)
            assert client.connections_in_use == 50
            await _cancel_all(tasks)
            _assert_pool_clean(client)


async def test_cancel_while_sending_a_body() -> None:
    big = types.Workflow(id="w", description="x" * (8 << 20))
    async with deaf_server() as url, Client(PAT, base_url=url, app_id="a") as client:
        tasks = [asyncio.create_task(client.post_workflows(workflows=[big])) for _ in range(4)]
        await wait_until(lambda: client.connections_in_use == 4)
        await asyncio.sleep(0.1)  # the socket buffers fill up; the writes block
        await _cancel_all(tasks)
        _assert_pool_clean(client)


async def test_cancel_while_sleeping_before_a_retry() -> None:
    retrying = asyncio.Event()

    def on_response(event: ResponseEvent) -> None:
        if event.retry_delay is not None:
            retrying.set()

    slow_503 = Reply(503, status_body(40031), {"Retry-After": "30"})
    async with (
        Loopback(scripted(slow_503)) as server,
        client_for(server, on_response=on_response) as client,
    ):
        task = asyncio.create_task(client.list_workflows())
        await retrying.wait()
        await asyncio.sleep(0.01)
        assert client.connections_in_use == 0  # the connection is not held while sleeping
        await _cancel_all([task])
        assert len(server.requests) == 1
        _assert_pool_clean(client)


async def test_anyio_move_on_after() -> None:
    async with Loopback(scripted(Hang())) as server, client_for(server) as client:
        with anyio.move_on_after(0.2) as scope:
            await client.list_workflows()
        assert scope.cancelled_caught
        _assert_pool_clean(client)
        server.handler = scripted(Reply())
        await client.list_workflows()


@pytest.mark.parametrize("where", ["queued", "awaiting headers", "reading the body"])
async def test_asyncio_wait_for(where: str) -> None:
    action = StallMidBody() if where == "reading the body" else Hang()
    async with Loopback(scripted(action)) as server, client_for(server, max_connections=1) as c:
        blocker = asyncio.create_task(c.list_workflows()) if where == "queued" else None
        await asyncio.sleep(0.05)

        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.list_workflows(), 0.1)
        if blocker is not None:
            await _cancel_all([blocker])
        _assert_pool_clean(c)


async def test_cancelling_a_task_group_of_calls() -> None:
    async with Loopback(scripted(Hang())) as server, client_for(server) as client:
        call: Callable[[], Coroutine[Any, Any, Any]] = client.list_workflows
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(call)
            await anyio.sleep(0.1)
            group.cancel_scope.cancel()
        _assert_pool_clean(client)
