"""Issue 14 items 1-2 over loopback: aclose fails readers promptly; nothing resends below us."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aioclarifai import (
    APIConnectionError,
    Client,
    RequestEvent,
    ResponseEvent,
    RetryConfig,
    Timeout,
)

from ._hostile import OK, PAT, Hostile, Request, answer

RETRY = RetryConfig(max_retries=2, initial_backoff=0.01, max_backoff=0.02)
LINE = b'{"result":{"status":{"code":10000},"outputs":[{"data":{"text":{"raw":"hi"}}}]}}\n'


def _chunked_head() -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _stall(server: Hostile) -> bool:
    await server.stop.wait()  # silent, connection open, until the server stops
    return False


# -- item 1: aclose() fails every reader promptly -------------------------------------------


async def test_item1_aclose_fails_a_stream_reader_promptly() -> None:
    async def one_line_then_silence(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(_chunked_head() + _chunk(LINE))
        await writer.drain()
        return await _stall(server)

    # No idle timeout and no total: only aclose() can end the read.
    timeout = Timeout(total=None, read=None, stream_idle=None, stream_total=None)
    async with Hostile(one_line_then_silence) as server:
        client = Client(PAT, base_url=server.url, app_id="app", timeout=timeout)
        got_first = asyncio.Event()

        async def reader() -> list[Any]:
            chunks = []
            async with client.generate_model_outputs(model_id="m") as stream:
                async for chunk in stream:
                    chunks.append(chunk)
                    got_first.set()
            return chunks

        task = asyncio.create_task(reader())
        await asyncio.wait_for(got_first.wait(), 5)
        await asyncio.wait_for(client.aclose(), 5)
        with pytest.raises(APIConnectionError):
            await asyncio.wait_for(task, 5)  # not a hang, not a quiet end
    assert client.connections_in_use == 0


async def test_item1_aclose_fails_a_unary_reader_promptly() -> None:
    async def half_a_body(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"status":')
        await writer.drain()
        return await _stall(server)

    timeout = Timeout(total=None, read=None)
    async with Hostile(half_a_body) as server:
        client = Client(PAT, base_url=server.url, app_id="app", timeout=timeout, max_retries=0)
        task = asyncio.create_task(client.list_workflows())
        while not server.requests:  # noqa: ASYNC110 - the server has no event to await
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the headers and half the body are in
        await asyncio.wait_for(client.aclose(), 5)
        with pytest.raises(APIConnectionError):
            await asyncio.wait_for(task, 5)
    assert client.connections_in_use == 0


# -- item 2: every attempt is ours: counted, hooked, never resent by aiohttp ----------------


def _hooks() -> tuple[list[RequestEvent], list[ResponseEvent], dict[str, Any]]:
    requests: list[RequestEvent] = []
    responses: list[ResponseEvent] = []
    return requests, responses, {"on_request": requests.append, "on_response": responses.append}


async def test_item2_a_put_is_not_resent_after_a_dropped_keepalive_connection() -> None:
    async def ok_then_drop_the_put(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.method == "PUT":
            return False  # read it, then close the reused connection without an answer
        writer.write(answer(200, OK))
        await writer.drain()
        return True

    requests, responses, hooks = _hooks()
    async with (
        Hostile(ok_then_drop_the_put) as server,
        Client(PAT, base_url=server.url, app_id="app", max_retries=0, **hooks) as client,
    ):
        await client.list_workflows()  # opens the keep-alive connection the PUT reuses
        with pytest.raises(APIConnectionError):
            await client.put_task_assignments(task_id="t")
    puts = [r for r in server.requests if r.method == "PUT"]
    assert len(puts) == 1  # aiohttp's own retry would have sent it twice
    assert puts[0].connection == server.requests[0].connection  # it did reuse the connection
    assert [e.operation for e in requests] == ["ListWorkflows", "PutTaskAssignments"]
    assert len(responses) == 2


async def test_item2_get_attempts_are_exactly_the_retry_policys() -> None:
    async def drop(request: Request, writer: asyncio.StreamWriter) -> bool:
        return False  # read the GET, close without answering

    requests, responses, hooks = _hooks()
    async with (
        Hostile(drop) as server,
        Client(PAT, base_url=server.url, app_id="app", retry=RETRY, **hooks) as client,
    ):
        with pytest.raises(APIConnectionError):
            await client.list_workflows()
    assert len(server.requests) == 1 + RETRY.max_retries  # not twice as many
    assert len(requests) == len(responses) == len(server.requests)
    assert [e.attempt for e in responses] == [0, 1, 2]
