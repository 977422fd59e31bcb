"""Paginator logic: a real core, ListWorkflows served by a MockTransport (no sockets)."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import msgspec
import pytest

from aioclarifai import Client, types
from aioclarifai._pagination import Page, Paginator
from aioclarifai.endpoints import LIST_WORKFLOWS
from aioclarifai.testing import MockRequest, MockResponse, MockTransport
from tests.helpers import core_for

if TYPE_CHECKING:
    from typing_extensions import assert_type


WorkflowPages = Paginator[types.MultiWorkflowResponse, types.Workflow]


class Workflows:
    """A stand-in for ``client.list_workflows`` over ``total`` workflows."""

    def __init__(self, total: int) -> None:
        self.workflows = [types.Workflow(id=f"wf-{i:05d}") for i in range(total)]
        self.requests: list[types.ListWorkflowsRequest] = []
        self.gates: dict[int, asyncio.Event] = {}
        self.cancelled: list[int] = []
        self.fail_page: int | None = None

        self.core = core_for(MockTransport(self._handle))

    def paginator(self, request: Any = None, **options: Any) -> WorkflowPages:
        """A paginator of ListWorkflows over this fake's workflows."""
        return Paginator(self.core, LIST_WORKFLOWS, "workflows", request, **options)

    async def _handle(self, http: MockRequest) -> MockResponse:
        query = dict(parse_qsl(urlsplit(http.url).query))
        request = msgspec.convert(query, types.ListWorkflowsRequest, strict=False)
        self.requests.append(request)
        gate = self.gates.get(request.page)
        if gate is not None:
            try:
                await gate.wait()
            except asyncio.CancelledError:
                self.cancelled.append(request.page)
                raise
        if request.page == self.fail_page:
            raise RuntimeError(f"page {request.page} failed")
        start = (request.page - 1) * request.per_page
        answer = types.MultiWorkflowResponse(
            status=types.Status(code=10000),
            workflows=self.workflows[start : start + request.per_page],
        )
        return MockResponse(200, json=msgspec.to_builtins(answer))

    @property
    def pages(self) -> list[int]:
        return [r.page for r in self.requests]


async def test_ten_thousand_workflows_in_eleven_requests() -> None:
    wf = Workflows(10_000)
    seen = [w.id async for w in wf.paginator(per_page=1000)]
    assert seen == [w.id for w in wf.workflows]
    assert len(set(seen)) == 10_000
    assert wf.pages == list(range(1, 12))
    assert {r.per_page for r in wf.requests} == {1000}


async def test_stops_at_a_short_page_without_asking_further() -> None:
    wf = Workflows(250)
    items = [w async for w in wf.paginator(per_page=100)]
    assert len(items) == 250
    assert wf.pages == [1, 2, 3]


async def test_empty_list_is_one_request() -> None:
    wf = Workflows(0)
    assert [w async for w in wf.paginator()] == []
    assert wf.pages == [1]


async def test_limit_stops_early_and_trims() -> None:
    wf = Workflows(1000)
    items = [w.id async for w in wf.paginator(per_page=100, limit=250)]
    assert items == [w.id for w in wf.workflows[:250]]
    assert wf.pages == [1, 2, 3]


async def test_small_limit_asks_only_for_that_many() -> None:
    wf = Workflows(1000)
    items = [w async for w in wf.paginator(per_page=500, limit=7)]
    assert len(items) == 7
    assert [(r.page, r.per_page) for r in wf.requests] == [(1, 7)]


async def test_limit_zero_sends_nothing() -> None:
    wf = Workflows(10)
    assert [w async for w in wf.paginator(limit=0)] == []
    assert wf.requests == []


@pytest.mark.parametrize("per_page", [0, -1, 1001, 5000])
def test_per_page_out_of_range(per_page: int) -> None:
    with pytest.raises(ValueError, match="per_page"):
        Workflows(1).paginator(per_page=per_page)


def test_per_page_bounds_accepted() -> None:
    Workflows(1).paginator(per_page=1)
    Workflows(1).paginator(per_page=1000)


def test_negative_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        Workflows(1).paginator(limit=-1)


async def test_paginate_takes_only_a_paged_operation_of_a_client() -> None:
    async def list_workflows(request: Any = None) -> Any:
        raise AssertionError("not called")  # pragma: no cover

    async with Client(
        pat="k", app_id="app", transport=MockTransport(lambda r: MockResponse())
    ) as typed:
        client: Any = typed  # wrong arguments on purpose: the checks at run time
        with pytest.raises(TypeError, match="get_workflow"):
            client.paginate(client.get_workflow)
        with pytest.raises(
            TypeError, match=r"list_next_task_assignments \(ListNextTaskAssignments\)"
        ):
            client.paginate(client.list_next_task_assignments)
        with pytest.raises(TypeError, match="operation method"):
            client.paginate(lambda request=None: None)
        # Recognised by what it is, not by its name.
        with pytest.raises(TypeError, match="operation method"):
            client.paginate(list_workflows)


def test_wrong_request_type() -> None:
    with pytest.raises(TypeError, match="ListWorkflowsRequest"):
        Workflows(1).paginator(types.ListModulesRequest())


async def test_request_fields_kept_and_start_page_honoured() -> None:
    wf = Workflows(500)
    request = types.ListWorkflowsRequest(page=3, per_page=7, search="cats", sort_ascending=True)
    items = [w.id async for w in wf.paginator(request, per_page=100)]
    assert items == [w.id for w in wf.workflows[200:]]
    assert wf.pages == [3, 4, 5, 6]  # page 5 was full, so page 6 (empty) is asked for
    assert all(r.search == "cats" and r.sort_ascending and r.per_page == 100 for r in wf.requests)
    assert request.page == 3 and request.per_page == 7  # the caller's request is untouched


async def test_prefetch_asks_for_the_next_page_while_this_one_is_consumed() -> None:
    wf = Workflows(300)
    paginator = wf.paginator(per_page=100)
    first = await paginator.__anext__()
    assert first.id == "wf-00000"
    await asyncio.sleep(0)
    assert wf.pages == [1, 2]
    await paginator.aclose()


async def test_no_prefetch_asks_only_when_needed() -> None:
    wf = Workflows(300)
    paginator = wf.paginator(per_page=100, prefetch=False)
    for _ in range(100):
        await paginator.__anext__()
    await asyncio.sleep(0)
    assert wf.pages == [1]
    assert (await paginator.__anext__()).id == "wf-00100"
    assert wf.pages == [1, 2]
    await paginator.aclose()


async def test_no_prefetch_after_the_last_page() -> None:
    wf = Workflows(150)
    async for _ in wf.paginator(per_page=100):
        await asyncio.sleep(0)
    assert wf.pages == [1, 2]


async def test_aclose_cancels_a_pending_prefetch() -> None:
    wf = Workflows(300)
    wf.gates[2] = asyncio.Event()
    paginator = wf.paginator(per_page=100)
    await paginator.__anext__()
    await asyncio.sleep(0)
    assert wf.pages == [1, 2]
    await paginator.aclose()
    assert wf.cancelled == [2]
    await paginator.aclose()  # idempotent
    assert _other_tasks() == set()


async def test_async_with_cleans_up() -> None:
    wf = Workflows(300)
    wf.gates[2] = asyncio.Event()
    async with wf.paginator(per_page=100) as paginator:
        async for _ in paginator:
            await asyncio.sleep(0)  # let the prefetch start
            break
    assert wf.cancelled == [2]
    assert _other_tasks() == set()


async def test_break_cancels_the_prefetch(caplog: pytest.LogCaptureFixture) -> None:
    wf = Workflows(300)
    wf.gates[2] = asyncio.Event()
    async for _ in wf.paginator(per_page=100):
        await asyncio.sleep(0)
        break
    # The dropped paginator frees its page generator at once (no reference cycle),
    # and the loop's finalizer hook closes it: no gc.collect() needed.
    for _ in range(5):
        await asyncio.sleep(0)
    assert wf.cancelled == [2]
    assert _other_tasks() == set()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_break_after_a_failed_prefetch_logs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wf = Workflows(300)
    wf.fail_page = 2
    paginator = wf.paginator(per_page=100)
    await paginator.__anext__()
    for _ in range(3):
        await asyncio.sleep(0)  # the prefetch of page 2 fails meanwhile
    await paginator.aclose()
    del paginator
    gc.collect()
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


async def test_a_failing_page_raises_when_reached() -> None:
    wf = Workflows(300)
    wf.fail_page = 2
    seen = []
    with pytest.raises(RuntimeError, match="page 2 failed"):
        async for w in wf.paginator(per_page=100):
            seen.append(w)
    assert len(seen) == 100


async def test_pages() -> None:
    wf = Workflows(250)
    paginator = wf.paginator(per_page=100)
    pages = [page async for page in paginator.pages()]
    assert [p.number for p in pages] == [1, 2, 3]
    assert [len(p.items) for p in pages] == [100, 100, 50]
    assert all(isinstance(p, Page) and p.response.status is not None for p in pages)
    with pytest.raises(RuntimeError, match="already"):
        paginator.pages()


async def test_pages_with_limit_trims_the_last_page() -> None:
    wf = Workflows(1000)
    pages = [p async for p in wf.paginator(per_page=100, limit=150).pages()]
    assert [len(p.items) for p in pages] == [100, 50]


async def test_post_searches_pages_through_the_body() -> None:
    seen: list[types.PostSearchesRequest] = []
    hits = [types.Hit(score=1.0 - i / 1000, input=types.Input(id=f"in{i}")) for i in range(25)]

    def post_searches(http: MockRequest) -> MockResponse:
        request = msgspec.convert(http.json(), types.PostSearchesRequest)
        assert request.pagination is not None
        seen.append(request)
        p = request.pagination
        start = (p.page - 1) * p.per_page
        answer = types.MultiSearchResponse(hits=hits[start : start + p.per_page])
        return MockResponse(200, json=msgspec.to_builtins(answer))

    query = types.Query(ranks=[types.Rank(annotation=types.Annotation(id="a"))])
    async with Client(pat="k", app_id="app", transport=MockTransport(post_searches)) as client:
        got = [
            h
            async for h in client.paginate(
                client.post_searches, types.PostSearchesRequest(query=query), per_page=10
            )
        ]
    assert got == hits
    assert [(r.pagination.page, r.pagination.per_page) for r in seen if r.pagination] == [
        (1, 10),
        (2, 10),
        (3, 10),
    ]
    assert all(r.query == query for r in seen)


async def test_client_paginate_is_typed() -> None:
    # Typing is checked by mypy: these must be the item types, not Any.
    async with Client(pat="k", app_id="app", base_url="http://127.0.0.1:9") as client:
        workflows = client.paginate(client.list_workflows, per_page=10)
        hits = client.paginate(client.post_searches, types.PostSearchesRequest())
        searches = client.paginate(client.list_searches)
        assert isinstance(workflows, Paginator)
        if TYPE_CHECKING:
            async for w in workflows:
                assert_type(w, types.Workflow)
            async for h in hits:
                assert_type(h, types.Hit)
            async for s in searches:
                assert_type(s, types.Search)
            async for page in client.paginate(client.list_modules).pages():
                assert_type(page.items, list[types.Module])
                assert_type(page.response, types.MultiModuleResponse)


def _other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}
