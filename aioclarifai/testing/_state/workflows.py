"""Workflows: create, list, patch, delete, and runs of their nodes over inputs.

``PostWorkflowResults`` runs every node's model (any model id: the fake's
models, see :mod:`.predict`) over each input and answers with one result per
input holding one output per node (nodes with ``suppress_output`` left out).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

import msgspec

from ... import types as t
from ._app import AppState
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
    status,
)
from .predict import MAX_INPUTS, PredictArea, input_key, timestamp

_output_decoder = msgspec.json.Decoder(t.Output, strict=False)


def _decode_output(raw: dict[str, Any]) -> t.Output:
    """An output the predict path wrote as JSON pieces, as a message."""
    return _output_decoder.decode(_encoder.encode(raw))


_encoder = msgspec.json.Encoder()


class WorkflowsArea(PredictArea):
    """Workflows and their runs."""

    def PostWorkflowResults(
        self, req: t.PostWorkflowResultsRequest
    ) -> t.PostWorkflowResultsResponse:
        """Run the workflow's nodes over up to 128 inputs (stored inputs may be named by id)."""
        app = self.app(req.user_app_id)
        workflow = self._workflow(app, req.workflow_id)
        if not req.inputs:
            raise invalid("inputs must not be empty")
        if len(req.inputs) > MAX_INPUTS:
            raise invalid(f"{len(req.inputs)} inputs in one request; the maximum is {MAX_INPUTS}")
        inputs = []
        for given in req.inputs:
            stored = app.inputs.get(given.id) if given.id and given.data is None else None
            inp = stored or given
            # One id per input, the same in every node's output.
            inputs.append(inp if inp.id else msgspec.structs.replace(inp, id=self.new_id("input")))
        stamp = timestamp()
        per_node: list[list[dict[str, Any]]] = []
        for node in workflow.nodes:
            if node.suppress_output:
                continue
            model = node.model or t.Model(id=node.id)
            user, app_id = model.user_id or app.user_id, model.app_id or app.app_id
            path = {"user_app_id.user_id": user, "user_app_id.app_id": app_id, "model_id": model.id}
            if model.model_version is not None and model.model_version.id:
                path["version_id"] = model.model_version.id
            kind = self.output_kind(user, app_id, model.id)
            node_outputs, _failed = self.outputs_for(inputs, kind, self.model_raw(path), stamp)
            per_node.append(node_outputs)
        results = []
        failed = 0
        for i, inp in enumerate(inputs):
            outputs = [_decode_output(node_out[i]) for node_out in per_node]
            bad = input_key(inp)[1]
            failed += bad
            code = Code.INPUT_DOWNLOAD_FAILED if bad else Code.SUCCESS
            results.append(
                t.WorkflowResult(
                    id=self.new_id("workflow-result"), status=status(code), created_at=now(),
                    input=outputs[0].input if outputs else inp, outputs=outputs,
                )
            )  # fmt: skip
        top = Code.SUCCESS if not failed else Code.MIXED_STATUS
        if failed == len(inputs):
            top = Code.FAILURE
        return t.PostWorkflowResultsResponse(status=status(top), workflow=workflow, results=results)

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
