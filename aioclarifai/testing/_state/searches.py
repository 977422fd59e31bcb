"""Saved searches and queries over the stored inputs (filters and ranks: see :mod:`.query`)."""

from __future__ import annotations

from functools import partial

import msgspec

from ... import types as t
from ._app import AppState, StateBase
from ._common import (
    Code,
    find,
    invalid,
    now,
    ok,
    page_of,
    patch_each,
)
from .query import input_hits


class SearchesArea(StateBase):
    """Saved searches and queries over the stored inputs."""

    def _run_query(
        self, app: AppState, query: t.Query | None, page: int, per_page: int
    ) -> list[t.Hit]:
        # The same filters and ranks as PostInputsSearches (see .query).
        return page_of(input_hits(app, query), page, per_page)

    def PostSearches(self, req: t.PostSearchesRequest) -> t.MultiSearchResponse:
        """Run a query over the app's inputs; searches with ``save`` are stored."""
        app = self.app(req.user_app_id)
        saved = []
        query = req.query
        for s in req.searches:
            query = query or s.query
            if s.save:
                if s.id and s.id in app.searches:
                    raise invalid(f"search '{s.id}' already exists")
                stamp = now()
                search = msgspec.structs.replace(
                    s, id=s.id or self.new_id("search"), created_at=stamp, modified_at=stamp,
                    application_id=app.app_id,
                )  # fmt: skip
                app.searches[search.id] = search
                saved.append(search)
        pagination = req.pagination or t.Pagination()
        hits = self._run_query(app, query, pagination.page, pagination.per_page)
        return ok(
            t.MultiSearchResponse,
            id=self.new_id("run"),
            hits=hits,
            query=query,
            searches=saved,
        )

    def _search(self, app: AppState, search_id: str) -> t.Search:
        return find(app.searches, search_id, Code.CONN_DOES_NOT_EXIST, "Search")

    def ListSearches(self, req: t.ListSearchesRequest) -> t.MultiSearchResponse:
        """Saved searches, newest first."""
        app = self.app(req.user_app_id)
        ordered = list(reversed(app.searches.values()))
        return ok(t.MultiSearchResponse, searches=page_of(ordered, req.page, req.per_page))

    def GetSearch(self, req: t.GetSearchRequest) -> t.SingleSearchResponse:
        """One saved search, or 404 / 11101."""
        app = self.app(req.user_app_id)
        return ok(t.SingleSearchResponse, search=self._search(app, req.id))

    def PatchSearches(self, req: t.PatchSearchesRequest) -> t.MultiSearchResponse:
        """Merge, overwrite or remove fields of saved searches."""
        app = self.app(req.user_app_id)
        out = patch_each(app.searches, req.searches, partial(self._search, app), req.action)
        return ok(t.MultiSearchResponse, searches=out)

    def DeleteSearch(self, req: t.DeleteSearchRequest) -> t.BaseResponse:
        """Delete a saved search."""
        app = self.app(req.user_app_id)
        self._search(app, req.id)
        del app.searches[req.id]
        return ok(t.BaseResponse)

    def PostSearchesByID(self, req: t.PostSearchesByIDRequest) -> t.MultiSearchResponse:
        """Run a saved search's query again, with its own pagination."""
        app = self.app(req.user_app_id)
        search = self._search(app, req.id)
        pagination = req.pagination or t.Pagination()
        hits = self._run_query(app, search.query, pagination.page, pagination.per_page)
        return ok(t.MultiSearchResponse, id=search.id, hits=hits, query=search.query)
