"""Models and model versions: exports, evaluations, output info, model inputs."""

from __future__ import annotations

import time

import msgspec

from ... import types as t
from ._app import StateBase
from ._common import (
    VOCABULARY,
    Code,
    digest,
    ok,
    page_of,
    status,
)


class ModelsArea(StateBase):
    """Model versions, evaluations and exports."""

    def PutModelVersionExports(
        self, req: t.PutModelVersionExportsRequest
    ) -> t.SingleModelVersionExportResponse:
        """Start an export; it reports done, with a URL, after ``export_delay``."""
        app = self.app(req.user_app_id)
        key = (req.model_id, req.version_id)
        started = app.exports.setdefault(key, time.monotonic())
        if time.monotonic() - started >= self.export_delay:
            export = t.ModelVersionExport(
                status=status(Code.MODEL_EXPORTED),
                url=f"https://fake-clarifai.invalid/exports/{app.user_id}/{app.app_id}/"
                f"{req.model_id}/{req.version_id}.tar",
                size=len(req.model_id + req.version_id) * 1_000_003,
            )
        else:
            export = t.ModelVersionExport(status=status(Code.MODEL_EXPORTING))
        return ok(t.SingleModelVersionExportResponse, export=export)

    def PostModelVersionMetrics(
        self, req: t.PostModelVersionMetricsRequest
    ) -> t.SingleModelVersionResponse:
        """Evaluate a model version (deterministic metrics)."""
        app = self.app(req.user_app_id)
        d = digest(f"{req.model_id}/{req.version_id}".encode())
        summary = t.MetricsSummary(
            top1_accuracy=0.5 + d[0] / 512,
            top5_accuracy=0.75 + d[1] / 1024,
            macro_avg_roc_auc=0.6 + d[2] / 640,
            macro_avg_f1_score=0.5 + d[3] / 512,
            macro_avg_precision=0.5 + d[4] / 512,
            macro_avg_recall=0.5 + d[5] / 512,
        )
        metrics = t.EvalMetrics(
            status=status(Code.MODEL_EVALUATED),
            id=self.new_id("eval"),
            user_id=app.user_id,
            app_id=app.app_id,
            summary=summary,
            eval_info=req.eval_info,
            confusion_matrix=t.ConfusionMatrix(concept_ids=[f"ai_{w}" for w in VOCABULARY[:3]]),
        )
        app.metrics[(req.model_id, req.version_id)] = metrics
        version = msgspec.structs.replace(
            self.model_version(app, req.model_id, req.version_id), metrics=metrics
        )
        return ok(t.SingleModelVersionResponse, model_version=version)

    def GetModelVersionMetrics(
        self, req: t.GetModelVersionMetricsRequest
    ) -> t.SingleModelVersionResponse:
        """The evaluation, or MODEL_NOT_EVALUATED; the confusion matrix only on request."""
        app = self.app(req.user_app_id)
        metrics = app.metrics.get((req.model_id, req.version_id))
        if metrics is None:
            metrics = t.EvalMetrics(status=status(Code.MODEL_NOT_EVALUATED))
        elif not (req.fields and req.fields.confusion_matrix):
            # Optional parts come only when asked for, as on the live API.
            metrics = msgspec.structs.replace(metrics, confusion_matrix=None)
        version = msgspec.structs.replace(
            self.model_version(app, req.model_id, req.version_id), metrics=metrics
        )
        return ok(t.SingleModelVersionResponse, model_version=version)

    def GetModelOutputInfo(self, req: t.GetModelRequest) -> t.SingleModelResponse:
        """The model with the concepts predictions draw from."""
        app = self.app(req.user_app_id)
        concepts = [t.Concept(id=f"ai_{w}", name=w, app_id="main") for w in VOCABULARY]
        model = t.Model(
            id=req.model_id,
            name=req.model_id,
            app_id=app.app_id,
            user_id=app.user_id,
            model_type_id="visual-classifier",
            output_info=t.OutputInfo(
                data=t.Data(concepts=concepts), message="Show output_info with: GET"
            ),
            model_version=self.model_version(app, req.model_id, req.version_id),
        )
        return ok(t.SingleModelResponse, model=model)

    def ListModelInputs(self, req: t.ListModelInputsRequest) -> t.MultiInputResponse:
        """The inputs added with :meth:`FakeClarifai.add_model_inputs`."""
        app = self.app(req.user_app_id)
        app.models_seen.add(req.model_id)
        inputs = app.model_inputs.get(req.model_id, [])
        return ok(t.MultiInputResponse, inputs=page_of(inputs, req.page, req.per_page))
