"""Timeouts over loopback: connect, read (idle), total, and the pool told apart from the server."""

from __future__ import annotations

import asyncio
import time

import pytest

from aioclarifai import APITimeoutError, Client, ServerError, Timeout, types
from tests.helpers_loopback import (
    PAT,
    Hang,
    Loopback,
    Reply,
    StallMidBody,
    acquired_connections,
    client_for,
    fast_retry,
    scripted,
    status_body,
    unreachable_server,
    wait_until,
)


async def test_server_that_never_answers_times_out_within_the_budget() -> None:
    async with (
        Loopback(scripted(Hang())) as server,
        client_for(server, timeout=Timeout(total=1.0, read=0.3)) as client,
    ):
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await client.list_workflows()
        elapsed = time.monotonic() - started
        assert client.connections_in_use == 0
    assert info.value.kind in ("read", "total")
    assert 0.3 <= elapsed < 1.4
    assert len(server.requests) >= 2  # idempotent: read timeouts are retried while time is left


async def test_total_covers_every_attempt() -> None:
    timeout = Timeout(total=0.5, read=None)
    async with (
        Loopback(scripted(Hang())) as server,
        client_for(server, timeout=timeout, retry=fast_retry(5)) as client,
    ):
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await client.list_workflows()
        assert time.monotonic() - started < 0.9
    assert info.value.kind == "total"
    assert len(server.requests) == 1  # no time left for another attempt


async def test_retry_that_cannot_fit_is_not_made() -> None:
    slow_503 = Reply(503, status_body(40031), {"Retry-After": "5"})
    async with (
        Loopback(scripted(slow_503, Reply())) as server,
        client_for(server, timeout=Timeout(total=1.0)) as client,
    ):
        started = time.monotonic()
        with pytest.raises(ServerError):
            await client.list_workflows()
        assert time.monotonic() - started < 0.5
    assert len(server.requests) == 1


async def test_post_workflows_after_a_read_timeout_is_not_retried() -> None:
    async with (
        Loopback(scripted(Hang(), Reply())) as server,
        client_for(server, timeout=Timeout(read=0.2)) as client,
    ):
        with pytest.raises(APITimeoutError) as info:
            await client.post_workflows(workflows=[types.Workflow(id="w")])
        assert client.connections_in_use == 0
    assert info.value.kind == "read"
    assert info.value.request_sent is True
    assert len(server.requests) == 1


async def test_stall_mid_body_is_a_read_timeout() -> None:
    async with (
        Loopback(scripted(StallMidBody(), Reply())) as server,
        client_for(server, timeout=Timeout(read=0.2)) as client,
    ):
        resp = await client.list_workflows()  # retried after the stall
        assert resp.status is not None and resp.status.code == 10000
        assert len(server.requests) == 2
        assert client.connections_in_use == 0
        assert acquired_connections(client) == 0


async def test_pool_timeout_is_reported_as_pool() -> None:
    timeout = Timeout(pool=0.1, read=5.0)
    async with (
        Loopback(scripted(Hang())) as server,
        client_for(server, timeout=timeout, max_connections=1) as client,
    ):
        holder = asyncio.create_task(client.list_workflows())
        await wait_until(lambda: bool(server.requests))
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await client.list_workflows()
        assert time.monotonic() - started < 0.5
        assert info.value.kind == "pool"
        assert "saturated" in str(info.value)
        assert len(server.requests) == 1  # the second call never reached the server
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder
        assert client.connections_in_use == 0


async def test_connect_timeout_is_retried_even_for_post_workflows() -> None:
    timeout = Timeout(connect=0.1, total=5.0)
    with unreachable_server() as url:
        await asyncio.sleep(0.05)
        async with Client(
            PAT, base_url=url, app_id="app", timeout=timeout, retry=fast_retry(2)
        ) as client:
            started = time.monotonic()
            with pytest.raises(APITimeoutError) as info:
                await client.post_workflows(workflows=[types.Workflow(id="w")])
            elapsed = time.monotonic() - started
            assert client.connections_in_use == 0
    assert info.value.kind == "connect"
    assert info.value.request_sent is False
    assert elapsed >= 0.3  # three attempts of 0.1 s


async def test_with_options_overrides_per_call() -> None:
    async with (
        Loopback(scripted(Hang())) as server,
        client_for(server, timeout=Timeout(total=30.0)) as client,
    ):
        quick = client.with_options(timeout=0.2, max_retries=0)
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            await quick.list_workflows()
        assert time.monotonic() - started < 1.0
        assert len(server.requests) == 1
        assert quick.connections_in_use == client.connections_in_use == 0
        server.handler = scripted(Reply(503, status_body(40031)))
        with pytest.raises(ServerError):
            await quick.list_workflows()
        assert len(server.requests) == 2  # max_retries=0: one attempt
        with pytest.raises(ServerError):
            await client.list_workflows()
        assert len(server.requests) == 5  # the client itself still retries twice


async def test_attempt_past_the_deadline_gives_its_slot_back() -> None:
    async with Loopback(scripted(Reply())) as server, client_for(server) as client:
        await client.list_workflows()
        transport = client._core.transport
        past = time.monotonic() - 0.01
        with pytest.raises(APITimeoutError) as info:
            await transport.send("GET", "/v2/x", None, Timeout(), "Op", deadline=past)
        assert info.value.kind == "total"
        assert client.connections_in_use == 0
        assert len(server.requests) == 1


async def test_concurrent_stalled_calls_all_hit_their_total_on_one_shared_timer() -> None:
    timeout = Timeout(total=0.4, read=None)
    async with (
        Loopback(scripted(Hang())) as server,
        client_for(server, timeout=timeout, retry=fast_retry(0)) as client,
    ):
        started = time.monotonic()
        results = await asyncio.gather(
            *(client.list_workflows() for _ in range(40)), return_exceptions=True
        )
        elapsed = time.monotonic() - started
        sweep = client._core.transport._sweep  # type: ignore[attr-defined]
        assert sweep.watched == 0  # nothing left behind by the calls
        assert sweep.pending <= 3  # 40 deadlines, a slice or two: not one timer each
        assert client.connections_in_use == 0
    assert all(isinstance(r, APITimeoutError) and r.kind == "total" for r in results)
    assert 0.4 <= elapsed < 1.0  # never early, late by at most a slice (plus a slow machine)


async def test_cancelling_a_stalled_call_is_a_cancellation_not_a_timeout() -> None:
    async with (
        Loopback(scripted(Hang())) as server,
        client_for(server, timeout=Timeout(total=5.0)) as client,
    ):
        call = asyncio.create_task(client.list_workflows())
        await wait_until(lambda: bool(server.requests))
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert client._core.transport._sweep.watched == 0  # type: ignore[attr-defined]
        assert client.connections_in_use == 0
