"""``client.paginate`` over loopback against a small list server of our own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from aioclarifai import Client, types

PAT = "test-pat"


class ListServer:
    """GET …/workflows with page/per_page, POST …/searches with a pagination body."""

    def __init__(self, workflows: int, hits: int = 0) -> None:
        self.workflows = [{"id": f"wf-{i:05d}", "description": f"#{i}"} for i in range(workflows)]
        self.hits = [{"score": 1.0, "input": {"id": f"in-{i}"}} for i in range(hits)]
        self.queries: list[dict[str, str]] = []
        self.bodies: list[dict[str, Any]] = []
        self.block_page: int | None = None
        self.unblock = asyncio.Event()
        self.blocked = asyncio.Event()
        self.url = ""

    async def list_workflows(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == f"Key {PAT}"
        self.queries.append(dict(request.query))
        page = int(request.query.get("page", "1"))
        per_page = int(request.query.get("per_page", "128"))
        if page == self.block_page:
            self.blocked.set()
            await self.unblock.wait()
        start = (page - 1) * per_page
        return web.json_response(
            {"status": {"code": 10000}, "workflows": self.workflows[start : start + per_page]}
        )

    async def post_searches(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        p = body.get("pagination", {})
        page, per_page = int(p.get("page", 1)), int(p.get("per_page", 128))
        start = (page - 1) * per_page
        return web.json_response(
            {"status": {"code": 10000}, "hits": self.hits[start : start + per_page]}
        )


@pytest.fixture
async def server() -> AsyncIterator[ListServer]:
    state = ListServer(workflows=10_000, hits=45)
    app = web.Application()
    app.router.add_get("/v2/users/{user}/apps/{app}/workflows", state.list_workflows)
    app.router.add_post("/v2/users/{user}/apps/{app}/searches", state.post_searches)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        state.unblock.set()
        await runner.cleanup()


async def test_ten_thousand_workflows_eleven_requests(server: ListServer) -> None:
    async with Client(pat=PAT, app_id="app", base_url=server.url) as client:
        ids = [w.id async for w in client.paginate(client.list_workflows, per_page=1000)]
    assert ids == [w["id"] for w in server.workflows]
    assert len(set(ids)) == 10_000
    assert [q["page"] for q in server.queries] == [str(p) for p in range(1, 12)]
    assert {q["per_page"] for q in server.queries} == {"1000"}


async def test_request_fields_go_in_the_query(server: ListServer) -> None:
    async with Client(pat=PAT, app_id="app", base_url=server.url) as client:
        request = types.ListWorkflowsRequest(search="cats", sort_ascending=True)
        got = [w async for w in client.paginate(client.list_workflows, request, limit=5)]
    assert [w.description for w in got] == ["#0", "#1", "#2", "#3", "#4"]
    assert server.queries == [
        {"page": "1", "per_page": "5", "search": "cats", "sort_ascending": "true"}
    ]


async def test_searches_page_through_the_body(server: ListServer) -> None:
    async with Client(pat=PAT, app_id="app", base_url=server.url) as client:
        hits = [
            h
            async for h in client.paginate(
                client.post_searches, types.PostSearchesRequest(), per_page=20
            )
        ]
    assert [h.input.id for h in hits if h.input] == [f"in-{i}" for i in range(45)]
    assert [b["pagination"] for b in server.bodies] == [
        {"page": 1, "per_page": 20},
        {"page": 2, "per_page": 20},
        {"page": 3, "per_page": 20},
    ]


async def test_break_during_a_prefetch_releases_the_connection(server: ListServer) -> None:
    server.block_page = 2
    async with Client(pat=PAT, app_id="app", base_url=server.url) as client:
        async for _ in client.paginate(client.list_workflows, per_page=100):
            await server.blocked.wait()  # the prefetch of page 2 reached the server
            assert client.connections_in_use == 1
            break
        for _ in range(100):
            if client.connections_in_use == 0:
                break
            await asyncio.sleep(0.001)
        assert client.connections_in_use == 0
        pending = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
        assert not {t for t in pending if "list_workflows" in repr(t.get_coro())}
        # The client still works afterwards.
        server.unblock.set()
        resp = await client.list_workflows(per_page=3)
        assert len(resp.workflows) == 3


async def test_pages_through_a_with_options_view(server: ListServer) -> None:
    async with Client(pat=PAT, app_id="app", base_url=server.url) as client:
        view = client.with_options(timeout=5, max_retries=0)
        async with client.paginate(view.list_workflows, per_page=4000 // 4, limit=2500) as pages:
            sizes = [len(p.items) async for p in pages.pages()]
    assert sizes == [1000, 1000, 500]
