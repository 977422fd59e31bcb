"""Scopes and resource counts of the fake's key and applications."""

from __future__ import annotations

from ... import types as t
from ._app import StateBase
from ._common import (
    ok,
)


class AccountArea(StateBase):
    """Scopes and resource counts of the fake's key and applications."""

    def MyScopes(self, req: t.MyScopesRequest) -> t.MultiScopeResponse:
        """Every scope and every endpoint: the fake's key may do anything."""
        from ..._generated.endpoints import ENDPOINTS

        app = self.app(req.user_app_id)
        names = sorted(ep.name for ep in ENDPOINTS.values())
        return ok(
            t.MultiScopeResponse,
            scopes=["All"],
            endpoints=[f"/clarifai.api.V2/{n}" for n in names],
            app=t.App(id=app.app_id, user_id=app.user_id, name=app.app_id),
        )

    def GetResourceCounts(self, req: t.GetResourceCountsRequest) -> t.GetResourceCountsResponse:
        """Counts of the application's datasets, workflows, modules, inputs and models.

        Models count those created and those used (every model id exists).
        """
        app = self.app(req.user_app_id)
        return ok(
            t.GetResourceCountsResponse,
            datasets=len(app.collection("Dataset")),
            models=len(app.models_seen | set(app.model_inputs) | set(app.collection("Model"))),
            workflows=len(app.workflows),
            modules=len(app.modules),
            inputs=len(app.inputs),
        )
