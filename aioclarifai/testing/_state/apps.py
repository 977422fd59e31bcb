"""Applications (user-scoped) and datasets with their inputs.

Apps live under their user: ``PostApps``, ``ListApps`` and ``PatchApps`` are
CRUD of the user's ``App`` collection; ``GetApp``, ``PatchApp`` and
``DeleteApp`` name the app by ``user_app_id.app_id`` (deleting an app drops
everything in it). A dataset's inputs are stored inputs added by id or by a
search; deleting an input leaves every dataset.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ... import types as t
from ._app import AppState, StateBase
from ._common import Code, invalid, not_found, now, ok, page_of, patch_message
from .query import input_matches

__all__ = ["AppsArea", "DatasetsArea"]


class AppsArea(StateBase):
    """Apps by id within their user."""

    def _apps(self, user_app_id: t.UserAppIDSet | None) -> tuple[dict[str, Any], str]:
        app_id = user_app_id.app_id if user_app_id else ""
        user = user_app_id.user_id if user_app_id else ""
        if not app_id:
            raise invalid("user_app_id.app_id is required")
        owner = self.app(t.UserAppIDSet(user_id=user, app_id=""))
        return owner.collection("App"), app_id

    def _stored_app(self, user_app_id: t.UserAppIDSet | None) -> tuple[dict[str, Any], t.App]:
        apps, app_id = self._apps(user_app_id)
        found: t.App | None = apps.get(app_id)
        if found is None:
            raise not_found(Code.CONN_DOES_NOT_EXIST, "App", app_id)
        return apps, found

    def GetApp(self, req: t.GetAppRequest) -> t.SingleAppResponse:
        """One created app, or 404 / 11101."""
        return ok(t.SingleAppResponse, app=self._stored_app(req.user_app_id)[1])

    def PatchApp(self, req: t.PatchAppRequest) -> t.SingleAppResponse:
        """Merge, overwrite or remove fields of one app."""
        apps, found = self._stored_app(req.user_app_id)
        if req.app is None:
            raise invalid("app is required")
        patch = msgspec.structs.replace(req.app, id=found.id)
        apps[found.id] = patch_message(found, patch, req.action)
        return ok(t.SingleAppResponse, app=apps[found.id])

    def DeleteApp(self, req: t.DeleteAppRequest) -> t.BaseResponse:
        """Delete an app and every resource in it."""
        apps, found = self._stored_app(req.user_app_id)
        del apps[found.id]
        owner = found.user_id or (req.user_app_id.user_id if req.user_app_id else "")
        self.apps.pop((self.app(t.UserAppIDSet(user_id=owner)).user_id, found.id), None)
        return ok(t.BaseResponse)


class DatasetsArea(StateBase):
    """A dataset's inputs; the datasets and their versions are CRUD collections."""

    def _dataset(self, app: AppState, dataset_id: str) -> dict[str, t.DatasetInput]:
        if dataset_id not in app.collection("Dataset"):
            raise not_found(Code.CONN_DOES_NOT_EXIST, "Dataset", dataset_id)
        return app.collection("DatasetInput", (("dataset_id", dataset_id),))

    def PostDatasetInputs(self, req: t.PostDatasetInputsRequest) -> t.MultiDatasetInputResponse:
        """Add stored inputs (by id, or those a search finds) to a dataset."""
        app = self.app(req.user_app_id)
        members = self._dataset(app, req.dataset_id)
        chosen: list[t.Input] = []
        for di in req.dataset_inputs:
            ident = di.input.id if di.input else ""
            inp = app.inputs.get(ident)
            if inp is None:
                raise not_found(Code.INPUT_DOES_NOT_EXIST, "Input", ident)
            if ident in members:
                raise invalid(
                    f"input '{ident}' is already in the dataset", Code.DATASET_INPUT_DUPLICATE
                )
            chosen.append(inp)
        if req.search is not None:
            notes = app.collection("Annotation").values()
            chosen += [
                i for i in app.inputs.values()
                if i.id not in members and input_matches(
                    req.search.query, i, [a for a in notes if a.input_id == i.id]
                )
            ]  # fmt: skip
        if not chosen:
            raise invalid("dataset_inputs (or a search finding inputs) must not be empty")
        out = []
        for given in chosen:
            inp = given
            if req.dataset_id not in inp.dataset_ids:
                inp = msgspec.structs.replace(inp, dataset_ids=[*inp.dataset_ids, req.dataset_id])
                app.inputs[inp.id] = inp
            member = members[inp.id] = t.DatasetInput(created_at=now(), input=inp)
            out.append(member)
        return ok(t.MultiDatasetInputResponse, dataset_inputs=out)

    def ListDatasetInputs(self, req: t.ListDatasetInputsRequest) -> t.MultiDatasetInputResponse:
        """A dataset's inputs, newest first."""
        app = self.app(req.user_app_id)
        members = list(reversed(self._dataset(app, req.dataset_id).values()))
        return ok(
            t.MultiDatasetInputResponse, dataset_inputs=page_of(members, req.page, req.per_page)
        )

    def GetDatasetInput(self, req: t.GetDatasetInputRequest) -> t.SingleDatasetInputResponse:
        """One input of a dataset, or 404 / 30102."""
        app = self.app(req.user_app_id)
        member = self._dataset(app, req.dataset_id).get(req.input_id)
        if member is None:
            raise not_found(Code.INPUT_DOES_NOT_EXIST, "Dataset input", req.input_id)
        return ok(t.SingleDatasetInputResponse, dataset_input=member)

    def DeleteDatasetInputs(self, req: t.DeleteDatasetInputsRequest) -> t.BaseResponse:
        """Take inputs out of a dataset (the inputs stay)."""
        app = self.app(req.user_app_id)
        members = self._dataset(app, req.dataset_id)
        for ident in req.input_ids:
            if ident not in members:
                raise not_found(Code.INPUT_DOES_NOT_EXIST, "Dataset input", ident)
        for ident in req.input_ids:
            del members[ident]
            inp = app.inputs.get(ident)
            if inp is not None:
                kept = [d for d in inp.dataset_ids if d != req.dataset_id]
                app.inputs[ident] = msgspec.structs.replace(inp, dataset_ids=kept)
        return ok(t.BaseResponse)

    def DeleteDatasets(self, req: t.DeleteDatasetsRequest) -> t.BaseResponse:
        """Delete datasets with their versions and memberships (the inputs stay)."""
        app = self.app(req.user_app_id)
        datasets = app.collection("Dataset")
        for ident in req.dataset_ids:
            if ident not in datasets:
                raise not_found(Code.CONN_DOES_NOT_EXIST, "Dataset", ident)
        for ident in req.dataset_ids:
            del datasets[ident]
            scope = (("dataset_id", ident),)
            app.collections.pop(("DatasetInput", scope), None)
            app.collections.pop(("DatasetVersion", scope), None)
        return ok(t.BaseResponse)
