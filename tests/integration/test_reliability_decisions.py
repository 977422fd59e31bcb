"""Issue 14 item 11 over loopback: paginate always ends; a generation once read is not resent."""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import Any

import pytest

from aioclarifai import APIConnectionError, ClarifaiError, Client, Paginator, RetryConfig, types
from aioclarifai.endpoints import LIST_WORKFLOWS

from ._hostile import PAT, Hostile, Request, answer, reset, status_body

RETRY = RetryConfig(max_retries=2, initial_backoff=0.01, max_backoff=0.02)


def _page_of(request: Request) -> int:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
    return int(query.get("page", ["1"])[0])


async def test_item11_paginate_stops_when_the_server_ignores_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    full = status_body(10000, "Ok", workflows=[{"id": f"w{i}"} for i in range(3)])

    async def same_page(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(200, full))  # whatever page was asked for
        await writer.drain()
        return True

    async with (
        Hostile(same_page) as server,
        Client(PAT, base_url=server.url, app_id="app", retry=RETRY) as client,
    ):
        with caplog.at_level(logging.WARNING, logger="aioclarifai"):
            ids = [w.id async for w in client.paginate(client.list_workflows, per_page=3)]
    assert ids == ["w0", "w1", "w2"]  # the repeated page is not yielded again
    assert [_page_of(r) for r in server.requests] == [1, 2]
    assert "repeats page 1" in caplog.text


async def test_item11_paginate_raises_after_max_pages() -> None:
    async def endless(request: Request, writer: asyncio.StreamWriter) -> bool:
        page = _page_of(request)  # a new full page every time: only the cap ends it
        body = status_body(10000, "Ok", workflows=[{"id": f"p{page}-{i}"} for i in range(2)])
        writer.write(answer(200, body))
        await writer.drain()
        return True

    async with (
        Hostile(endless) as server,
        Client(PAT, base_url=server.url, app_id="app", retry=RETRY) as client,
    ):
        seen: list[str] = []
        # paginate() has no max_pages: the Paginator is built as the client builds it.
        walk: Paginator[Any, types.Workflow] = Paginator(
            client._core, LIST_WORKFLOWS, "workflows", per_page=2, max_pages=5
        )
        with pytest.raises(ClarifaiError, match="max_pages=5"):
            async for w in walk:
                seen.append(w.id)
    assert len(seen) == 10 and seen[-1] == "p5-1"
    assert [_page_of(r) for r in server.requests] == [1, 2, 3, 4, 5]  # no prefetch past the cap


async def test_item11_generation_the_server_read_is_not_sent_again() -> None:
    async def read_then_drop(request: Request, writer: asyncio.StreamWriter) -> bool:
        reset(writer)  # the request was read (and billed); no answer
        return False

    async with (
        Hostile(read_then_drop) as server,
        Client(PAT, base_url=server.url, app_id="app", retry=RETRY) as client,
    ):
        with pytest.raises(APIConnectionError):
            async with client.generate("llm", "Write a haiku") as tokens:
                async for _ in tokens:
                    pass
    assert len(server.requests) == 1


async def test_item11_generation_refused_before_running_is_retried() -> None:
    refused = answer(503, status_body(40031, "server unavailable"))
    line = b'{"result":{"status":{"code":10000},"outputs":[{"data":{"text":{"raw":"ok"}}}]}}\n'

    async def unavailable_once(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(refused if request.number == 1 else answer(200, line))
        await writer.drain()
        return True

    async with (
        Hostile(unavailable_once) as server,
        Client(PAT, base_url=server.url, app_id="app", retry=RETRY) as client,
        client.generate("llm", "hi") as tokens,
    ):
        text = "".join([t async for t in tokens])
    assert text == "ok" and len(server.requests) == 2
