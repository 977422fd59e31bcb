"""``client.paginate`` against FakeClarifai, the project's stateful test peer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import pytest

from aioclarifai import Client, types
from aioclarifai.testing import FakeClarifai


@pytest.fixture
async def fake() -> AsyncIterator[FakeClarifai]:
    async with FakeClarifai() as server:
        yield server


async def test_ten_thousand_workflows_in_eleven_requests(fake: FakeClarifai) -> None:
    fake.add_workflows((types.Workflow(id=f"wf-{i:05d}") for i in range(10_000)), app_id="app")
    async with Client(base_url=fake.url, pat=fake.pat, app_id="app") as client:
        request = types.ListWorkflowsRequest(sort_by_id=True, sort_ascending=True)
        ids = [w.id async for w in client.paginate(client.list_workflows, request, per_page=1000)]
    assert ids == [f"wf-{i:05d}" for i in range(10_000)]
    records = fake.requests_for("list_workflows")
    assert len(records) == 11
    queries = [parse_qs(r.query) for r in records]
    assert [q["page"] for q in queries] == [[str(p)] for p in range(1, 12)]
    assert all(q["per_page"] == ["1000"] for q in queries)


async def test_modules_page_by_page(fake: FakeClarifai) -> None:
    async with Client(base_url=fake.url, pat=fake.pat, app_id="app") as client:
        await client.post_modules(modules=[types.Module(id=f"m{i:02d}") for i in range(25)])
        sizes = [
            len(p.items) async for p in client.paginate(client.list_modules, per_page=10).pages()
        ]
        limited = [m.id async for m in client.paginate(client.list_modules, limit=3)]
    assert sizes == [10, 10, 5]
    assert len(limited) == 3
    assert len(fake.requests_for("list_modules")) == 4
