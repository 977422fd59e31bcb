"""Workflows: create, list, patch, delete."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

import msgspec

from ... import types as t
from ._app import AppState, StateBase
from ._common import (
    Code,
    delete_each,
    find,
    invalid,
    now,
    ok,
    page_of,
    patch_each,
    sorted_like,
)


class WorkflowsArea(StateBase):
    """Workflows."""

    def _workflow(self, app: AppState, workflow_id: str) -> t.Workflow:
        return find(app.workflows, workflow_id, Code.WORKFLOW_DOES_NOT_EXIST, "Workflow")

    def add_workflows(self, app: AppState, workflows: Iterable[t.Workflow]) -> list[t.Workflow]:
        """Store ``workflows`` (ids required and new) with creation times; return them."""
        batch = list(workflows)
        seen: set[str] = set()
        for w in batch:
            if not w.id:
                raise invalid("workflow id is required", Code.WORKFLOW_INVALID_ARGUMENT)
            if w.id in app.workflows or w.id in seen:
                raise invalid(f"workflow '{w.id}' already exists", Code.WORKFLOW_INVALID_ARGUMENT)
            seen.add(w.id)
        out = []
        for w in batch:
            stamp = now()
            stored = msgspec.structs.replace(
                w, app_id=app.app_id, user_id=app.user_id, created_at=stamp, modified_at=stamp,
                visibility=w.visibility or t.Visibility(gettable=10),
            )  # fmt: skip
            app.workflows[w.id] = stored
            out.append(stored)
        return out

    def PostWorkflows(self, req: t.PostWorkflowsRequest) -> t.MultiWorkflowResponse:
        """Create workflows (ids required and new)."""
        app = self.app(req.user_app_id)
        return ok(t.MultiWorkflowResponse, workflows=self.add_workflows(app, req.workflows))

    def ListWorkflows(self, req: t.ListWorkflowsRequest) -> t.MultiWorkflowResponse:
        """Workflows, newest first unless a sort is asked for; ``id``/search filters."""
        app = self.app(req.user_app_id)
        items: Iterable[t.Workflow] = app.workflows.values()
        if req.id:
            items = [w for w in items if w.id == req.id]
        needle = (req.search or req.query or req.search_term).lower()
        if needle:
            items = [
                w for w in items
                if needle in w.id.lower() or needle in w.description.lower()
            ]  # fmt: skip
        if req.starred_only:
            items = [w for w in items if w.is_starred]
        ordered = sorted_like(
            items,
            ascending=req.sort_ascending,
            by_id=req.sort_by_id,
            by_modified=req.sort_by_modified_at,
            by_stars=req.sort_by_star_count,
        )
        return ok(t.MultiWorkflowResponse, workflows=page_of(ordered, req.page, req.per_page))

    def PatchWorkflows(self, req: t.PatchWorkflowsRequest) -> t.MultiWorkflowResponse:
        """Merge, overwrite or remove fields of workflows."""
        app = self.app(req.user_app_id)
        find = partial(self._workflow, app)
        out = patch_each(app.workflows, req.workflows, find, req.action)
        return ok(t.MultiWorkflowResponse, workflows=out)

    def DeleteWorkflows(self, req: t.DeleteWorkflowsRequest) -> t.BaseResponse:
        """Delete workflows by id, or all of them."""
        app = self.app(req.user_app_id)
        if req.delete_all:
            app.workflows.clear()
            return ok(t.BaseResponse)
        delete_each(app.workflows, req.ids, partial(self._workflow, app))
        return ok(t.BaseResponse)
