"""Inputs and their annotations: add (128 a request), list, stream, count, delete, search.

Inputs are stored as sent, with an id (made up when absent), creation times
and a status: ``INPUT_DOWNLOAD_SUCCESS`` (30000), or ``INPUT_DOWNLOAD_FAILED``
(30002) for a URL or text that says "fail", as predictions treat them. An
input sent with concepts gets an input-level annotation carrying them, as on
the live API. Searches run :mod:`.query` over what is stored.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ... import types as t
from ._app import AppState, StateBase
from ._common import Code, invalid, not_found, now, ok, page_of, status
from .predict import MAX_INPUTS, input_key
from .query import annotation_matches, input_hits, rank_score

__all__ = ["InputsArea"]


def _one_search(searches: list[t.Search]) -> t.Search:
    if len(searches) != 1:
        raise invalid(f"exactly one search per request, not {len(searches)}")
    return searches[0]


class InputsArea(StateBase):
    """Inputs, annotations, and input and annotation searches."""

    def _input(self, app: AppState, input_id: str) -> t.Input:
        found = app.inputs.get(input_id)
        if found is None:
            raise not_found(Code.INPUT_DOES_NOT_EXIST, "Input", input_id)
        return found

    def PostInputs(self, req: t.PostInputsRequest) -> t.MultiInputResponse:
        """Add up to 128 inputs; each lands with its download status.

        An id already taken is ``INPUT_DUPLICATE`` (30100), unless
        ``input_id_conflict_resolution`` says ``SKIP`` (the input is left out)
        or ``SUFFIX`` (the id gets ``-1``, ``-2``, … until it is free).
        """
        app = self.app(req.user_app_id)
        if not req.inputs:
            raise invalid("inputs must not be empty")
        if len(req.inputs) > MAX_INPUTS:
            raise invalid(
                f"{len(req.inputs)} inputs in one request; the maximum is {MAX_INPUTS}",
                Code.INPUT_OVER_LIMIT,
            )
        given_inputs = self._resolve_ids(app, req.inputs, req.input_id_conflict_resolution)
        datasets = app.collection("Dataset")
        for inp in given_inputs:
            for dataset_id in inp.dataset_ids:
                if dataset_id not in datasets:
                    raise not_found(Code.CONN_DOES_NOT_EXIST, "Dataset", dataset_id)
        out = []
        for given in given_inputs:
            stamp = now()
            fail = input_key(given)[1]
            stored = msgspec.structs.replace(
                given,
                id=given.id or self.new_id("input"),
                created_at=stamp,
                modified_at=stamp,
                status=status(Code.INPUT_DOWNLOAD_FAILED if fail else Code.INPUT_DOWNLOAD_SUCCESS),
            )
            app.inputs[stored.id] = stored
            if stored.data is not None and stored.data.concepts:
                self._add_annotation(
                    app,
                    t.Annotation(input_id=stored.id, data=t.Data(concepts=stored.data.concepts)),
                )
            for dataset_id in stored.dataset_ids:
                members = app.collection("DatasetInput", (("dataset_id", dataset_id),))
                members[stored.id] = t.DatasetInput(created_at=stamp, input=stored)
            out.append(stored)
        return ok(t.MultiInputResponse, inputs=out)

    def _resolve_ids(self, app: AppState, inputs: list[t.Input], resolution: int) -> list[t.Input]:
        R = t.InputIDConflictResolution
        if resolution not in (R.INPUT_ID_CONFLICT_RESOLUTION_NOT_SET, R.SKIP, R.SUFFIX):
            raise invalid(f"unknown input_id_conflict_resolution {resolution}")
        taken: set[str] = set()
        out = []
        for given in inputs:
            ident = given.id
            if ident and (ident in app.inputs or ident in taken):
                if resolution == R.SKIP:
                    continue
                if resolution != R.SUFFIX:
                    raise invalid(f"input '{ident}' already exists", Code.INPUT_DUPLICATE)
                n = 1
                while f"{ident}-{n}" in app.inputs or f"{ident}-{n}" in taken:
                    n += 1
                ident = f"{ident}-{n}"
            taken.add(ident)
            out.append(given if ident == given.id else msgspec.structs.replace(given, id=ident))
        return out

    def ListInputs(self, req: t.ListInputsRequest) -> t.MultiInputResponse:
        """Inputs, newest first; ``ids`` and ``status.code`` filter."""
        app = self.app(req.user_app_id)
        items = list(reversed(app.inputs.values()))
        if req.ids:
            wanted = set(req.ids)
            items = [i for i in items if i.id in wanted]
        if req.status is not None and req.status.code:
            code = req.status.code
            items = [i for i in items if i.status is not None and i.status.code == code]
        return ok(t.MultiInputResponse, inputs=page_of(items, req.page, req.per_page))

    def StreamInputs(self, req: t.StreamInputsRequest) -> t.MultiInputResponse:
        """The next ``per_page`` inputs after ``last_id``, by id or by creation."""
        app = self.app(req.user_app_id)
        items = list(app.inputs.values())
        if req.order_by_id:
            items.sort(key=lambda i: i.id)
        if req.descending:
            items.reverse()
        if req.last_id:
            ids = [i.id for i in items]
            if req.last_id not in ids:
                raise not_found(Code.INPUT_DOES_NOT_EXIST, "Input", req.last_id)
            items = items[ids.index(req.last_id) + 1 :]
        return ok(t.MultiInputResponse, inputs=page_of(items, 1, req.per_page))

    def GetInputCount(self, req: t.GetInputCountRequest) -> t.SingleInputCountResponse:
        """How many inputs are processed and how many failed to download."""
        app = self.app(req.user_app_id)
        codes = [i.status.code if i.status else 0 for i in app.inputs.values()]
        counts = t.InputCount(
            processed=codes.count(Code.INPUT_DOWNLOAD_SUCCESS),
            errors=codes.count(Code.INPUT_DOWNLOAD_FAILED),
        )
        return ok(t.SingleInputCountResponse, counts=counts)

    def _drop_inputs(self, app: AppState, ids: list[str]) -> None:
        for ident in ids:
            self._input(app, ident)
        gone = set(ids)
        for ident in gone:
            del app.inputs[ident]
        annotations = app.collection("Annotation")
        for key in [k for k, a in annotations.items() if a.input_id in gone]:
            del annotations[key]
        for (name, _scope), members in app.collections.items():
            if name == "DatasetInput":
                for ident in gone & members.keys():
                    del members[ident]

    def DeleteInputs(self, req: t.DeleteInputsRequest) -> t.BaseResponse:
        """Delete inputs by id, with their annotations and dataset memberships."""
        self._drop_inputs(self.app(req.user_app_id), list(req.ids))
        return ok(t.BaseResponse)

    def DeleteInput(self, req: t.DeleteInputRequest) -> t.BaseResponse:
        """Delete one input, with its annotations and dataset memberships."""
        self._drop_inputs(self.app(req.user_app_id), [req.input_id])
        return ok(t.BaseResponse)

    # -- annotations -----------------------------------------------------------------------

    def _add_annotation(self, app: AppState, given: t.Annotation) -> t.Annotation:
        stamp = now()
        stored = msgspec.structs.replace(
            given,
            id=given.id or self.new_id("annotation"),
            user_id=given.user_id or app.user_id,
            created_at=stamp,
            modified_at=stamp,
            status=given.status or status(Code.ANNOTATION_SUCCESS),
        )
        app.collection("Annotation")[stored.id] = stored
        return stored

    def PostAnnotations(self, req: t.PostAnnotationsRequest) -> t.MultiAnnotationResponse:
        """Annotate stored inputs (each input must exist; ids new)."""
        app = self.app(req.user_app_id)
        if not req.annotations:
            raise invalid("annotations must not be empty")
        store = app.collection("Annotation")
        for a in req.annotations:
            self._input(app, a.input_id)
            if a.id and a.id in store:
                raise invalid(
                    f"annotation '{a.id}' already exists", Code.ANNOTATION_INVALID_ARGUMENT
                )
        out = [self._add_annotation(app, a) for a in req.annotations]
        return ok(t.MultiAnnotationResponse, annotations=out)

    def ListAnnotations(self, req: t.ListAnnotationsRequest) -> t.MultiAnnotationResponse:
        """Annotations, newest first; ``ids``, ``input_ids`` and ``user_ids`` filter."""
        app = self.app(req.user_app_id)
        items = list(reversed(app.collection("Annotation").values()))
        for wanted, attr in (
            (req.ids, "id"),
            (req.input_ids, "input_id"),
            (req.user_ids, "user_id"),
        ):
            if wanted:
                keep = set(wanted)
                items = [a for a in items if getattr(a, attr) in keep]
        return ok(t.MultiAnnotationResponse, annotations=page_of(items, req.page, req.per_page))

    def StreamAnnotations(
        self, req: t.StreamAnnotationsRequest
    ) -> list[t.SingleStreamAnnotationResponse]:
        """An input's annotations, one message each (the input must exist)."""
        app = self.app(req.user_app_id)
        self._input(app, req.input_id)
        mine = [a for a in app.collection("Annotation").values() if a.input_id == req.input_id]
        if req.track_ids:
            raise invalid("track_ids: FakeClarifai keeps no annotation tracks on frames")
        last = len(mine) - 1
        return [
            ok(t.SingleStreamAnnotationResponse, annotation=a, frame_fully_processed=i == last)
            for i, a in enumerate(mine)
        ] or [ok(t.SingleStreamAnnotationResponse, frame_fully_processed=True)]

    # -- searches --------------------------------------------------------------------------

    def PostInputsSearches(self, req: t.PostInputsSearchesRequest) -> t.MultiSearchResponse:
        """Inputs passing the search's filters, ordered by its ranks (see :mod:`.query`)."""
        app = self.app(req.user_app_id)
        search = _one_search(req.searches)
        hits = input_hits(app, search.query, search.min_value)
        return self._search_answer(search, hits, req.pagination, count_only=req.only_count)

    def PostAnnotationsSearches(
        self, req: t.PostAnnotationsSearchesRequest
    ) -> t.MultiSearchResponse:
        """Annotations passing the search's filters, with their inputs, ranked."""
        app = self.app(req.user_app_id)
        search = _one_search(req.searches)
        query = search.query
        hits = []
        for a in reversed(app.collection("Annotation").values()):
            inp = app.inputs.get(a.input_id)
            if inp is None or not annotation_matches(query, a, inp):
                continue
            score = rank_score(query, inp, [a], app.inputs)
            if score >= search.min_value:
                hits.append(
                    t.Hit(
                        score=score, input=inp, annotation=a, user_id=a.user_id, app_id=app.app_id
                    )
                )
        hits.sort(key=lambda h: -h.score)
        return self._search_answer(search, hits, req.pagination)

    def _search_answer(
        self,
        search: t.Search,
        hits: list[t.Hit],
        pagination: t.Pagination | None,
        *,
        count_only: bool = False,
    ) -> t.MultiSearchResponse:
        page = pagination or t.Pagination()
        counts = [t.HitCount(estimated_total=len(hits))]
        chosen: list[Any] = [] if count_only else page_of(hits, page.page, page.per_page)
        return ok(
            t.MultiSearchResponse,
            id=self.new_id("search-run"),
            hits=chosen,
            query=search.query,
            searches=[search],
            hit_counts=counts,
        )
