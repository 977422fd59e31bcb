"""Iterating every item of a paged List operation: ``async for w in client.paginate(...)``.

Clarifai lists take ``page`` (from 1) and ``per_page`` (at most 1000) and give
neither a total nor a next token, so the walk stops at an empty page or at a
page shorter than ``per_page``. Searches (``post_searches``,
``post_searches_by_id``) page the same way through a ``pagination`` body field.

A server (or proxy) that ignores ``page`` would answer the same full page
forever: the walk also stops, with a warning, when a page repeats the one
before it (it is not yielded again), and raises :class:`ClarifaiError` after
``max_pages`` pages (:data:`MAX_PAGES` by default), so no walk is endless.

While the caller works through one page the next one is already being fetched
(``prefetch``). Stopping early — ``break``, :meth:`Paginator.aclose`, leaving
``async with``, or an exception — cancels that fetch and waits for it, so no
request keeps running and no task is left behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from ._errors import ClarifaiError
from .types import Pagination

if TYPE_CHECKING:
    from ._core import Core
    from ._endpoint_spec import Endpoint

__all__ = ["MAX_PAGES", "MAX_PER_PAGE", "Page", "Paginator"]

#: Clarifai's largest page.
MAX_PER_PAGE = 1000
#: Pages one walk asks for at most (10 million items at 100 per page).
MAX_PAGES = 100_000

logger = logging.getLogger("aioclarifai")

RespT = TypeVar("RespT")
ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class Page(Generic[RespT, ItemT]):
    """One page of a List operation.

    ``number`` is the page number sent (from 1), ``items`` the page's results
    (cut short when ``limit`` was reached) and ``response`` the whole decoded
    response.
    """

    number: int
    items: list[ItemT]
    response: RespT


class Paginator(Generic[RespT, ItemT]):
    """An async iterator over the items of every page of a paged List operation.

    Built by :meth:`aioclarifai.Client.paginate`::

        async for workflow in client.paginate(client.list_workflows, per_page=500):
            ...
        async for page in client.paginate(client.list_modules).pages():
            print(page.number, len(page.items))

    ``core`` sends each page (a ``with_options`` view's core keeps its
    options); ``endpoint`` is the paged operation and ``items_field`` its
    response's list of results, both from the generated tables.
    ``request`` supplies every other field; its ``page`` (if set) is the first
    page asked for, while ``per_page`` (1..1000) is this argument's. ``limit``
    stops after that many items. ``prefetch`` asks for the next page while the
    current one is being consumed. ``max_pages`` bounds the requests of one
    walk: asking for more raises :class:`ClarifaiError` (``None``: no bound).
    A page equal to the one before it (a server ignoring ``page``) ends the
    walk with a warning logged.

    A paginator is consumed once, either by item or by :meth:`pages`. Use
    ``async with`` or :meth:`aclose` to stop early deterministically; a plain
    ``break`` also cancels the pending prefetch as soon as the paginator is
    released.
    """

    __slots__ = (
        "_buffer", "_core", "_endpoint", "_gen", "_index", "_items_field", "_limit",
        "_max_pages", "_per_page", "_prefetch", "_request", "_style",
    )  # fmt: skip

    def __init__(
        self,
        core: Core,
        endpoint: Endpoint[Any, RespT],
        items_field: str,
        request: Any = None,
        *,
        per_page: int = 128,
        limit: int | None = None,
        prefetch: bool = True,
        max_pages: int | None = MAX_PAGES,
    ) -> None:
        name = endpoint.name
        if isinstance(per_page, bool) or not isinstance(per_page, int):
            raise TypeError(f"per_page must be an int, not {per_page!r}")
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page}")
        if limit is not None and (isinstance(limit, bool) or limit < 0):
            raise ValueError(f"limit must be None or >= 0, not {limit!r}")
        if max_pages is not None and (isinstance(max_pages, bool) or max_pages < 1):
            raise ValueError(f"max_pages must be None or >= 1, not {max_pages!r}")
        if request is None:
            request = endpoint.request_type()
        elif not isinstance(request, endpoint.request_type):
            raise TypeError(
                f"{name} takes a {endpoint.request_type.__name__}, not {type(request).__name__}"
            )
        self._core = core
        self._endpoint = endpoint
        self._request = request
        self._items_field = items_field
        # GET lists carry page/per_page themselves; searches nest them in ``pagination``.
        self._style = "fields" if endpoint.paged else "pagination"
        # A limit below a page needs no more than ``limit`` results from the server.
        self._per_page = min(per_page, limit) if limit else per_page
        self._limit = limit
        self._max_pages = max_pages
        self._prefetch = prefetch
        self._gen: AsyncGenerator[Page[RespT, ItemT], None] | None = None
        self._buffer: list[ItemT] = []
        self._index = 0

    def __repr__(self) -> str:
        return f"<Paginator {self._endpoint.name} per_page={self._per_page} limit={self._limit}>"

    # -- iteration -------------------------------------------------------------------

    def pages(self) -> AsyncIterator[Page[RespT, ItemT]]:
        """Iterate page by page instead of item by item (empty pages are not yielded)."""
        return self._start()

    def __aiter__(self) -> Paginator[RespT, ItemT]:
        return self

    async def __anext__(self) -> ItemT:
        # Pages come from an async generator so that the event loop's finalizer
        # closes it (cancelling the prefetch) when a ``break`` drops this paginator.
        while self._index >= len(self._buffer):
            pages = self._gen if self._gen is not None else self._start()
            self._buffer = (await pages.__anext__()).items
            self._index = 0
        item = self._buffer[self._index]
        self._index += 1
        return item

    async def aclose(self) -> None:
        """Stop iterating: cancel and await a pending prefetch. Idempotent."""
        if self._gen is not None:
            await self._gen.aclose()

    async def __aenter__(self) -> Paginator[RespT, ItemT]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- requests --------------------------------------------------------------------

    def _start(self) -> AsyncGenerator[Page[RespT, ItemT], None]:
        if self._gen is not None:
            raise RuntimeError("this Paginator is already being iterated; make a new one")
        self._gen = _walk(
            _fetcher(self._core, self._endpoint, self._request, self._per_page, self._style),
            self._first_page(),
            per_page=self._per_page,
            items_field=self._items_field,
            limit=self._limit,
            prefetch=self._prefetch,
            name=self._endpoint.name,
            max_pages=self._max_pages,
        )
        return self._gen

    def _first_page(self) -> int:
        if self._style == "fields":
            page: int = self._request.page
        else:
            pagination = self._request.pagination
            page = pagination.page if pagination is not None else 0
        return max(page, 1)


def _fetcher(
    core: Core, endpoint: Endpoint[Any, RespT], request: Any, per_page: int, style: str
) -> Callable[[int], Awaitable[RespT]]:
    """The call for one page; a closure holding no reference to the Paginator."""
    call = core.call

    def fetch(page: int) -> Awaitable[RespT]:
        if style == "fields":
            return call(endpoint, msgspec.structs.replace(request, page=page, per_page=per_page))
        pagination = Pagination(page=page, per_page=per_page)
        return call(endpoint, msgspec.structs.replace(request, pagination=pagination))

    return fetch


# A module-level generator (not a method) holds no reference to its Paginator, so
# dropping the paginator frees the generator at once (no cycle waiting for the GC)
# and the loop's finalizer hook closes it.
async def _walk(
    fetch: Callable[[int], Awaitable[RespT]],
    page: int,
    *,
    per_page: int,
    items_field: str,
    limit: int | None,
    prefetch: bool,
    name: str,
    max_pages: int | None,
) -> AsyncGenerator[Page[RespT, ItemT], None]:
    remaining = limit
    if remaining == 0:
        return
    pending: asyncio.Future[RespT] | None = None
    # The last page asked for (a cap, not a count from 1: ``request.page`` may start later).
    last_page = None if max_pages is None else page + max_pages - 1
    previous: list[ItemT] | None = None
    try:
        response = await fetch(page)
        while True:
            items: list[ItemT] = getattr(response, items_field)
            if items and items == previous:
                logger.warning(
                    "%s: page %d repeats page %d (does the server ignore 'page'?); "
                    "stopping here", name, page, page - 1,
                )  # fmt: skip
                return
            previous = items
            last = len(items) < per_page
            if remaining is not None:
                items = items[:remaining]
                remaining -= len(items)
                last = last or remaining == 0
            capped = not last and last_page is not None and page >= last_page
            if prefetch and not last and not capped:
                pending = asyncio.ensure_future(fetch(page + 1))
            if items:
                yield Page(page, items, response)
            if last:
                return
            if capped:
                raise ClarifaiError(
                    f"{name}: page {page} was still full after max_pages={max_pages} pages; "
                    "stopping (pass max_pages=None, or a larger cap, to go on)"
                )
            page += 1
            if pending is not None:
                response = await pending
                pending = None
            else:
                response = await fetch(page)
    finally:
        if pending is not None:
            await _discard(pending)


async def _discard(future: asyncio.Future[Any]) -> None:
    """Cancel a prefetch nobody will read and wait until it has really stopped."""
    # Its outcome no longer matters: mark an error as retrieved so asyncio does
    # not log "exception was never retrieved".
    future.add_done_callback(_consume)
    if not future.done():
        future.cancel()
        await asyncio.wait([future])


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
