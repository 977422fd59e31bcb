"""Models, model versions and model types: exports, evaluations, output info, model inputs.

Every model id exists, as public models do: ``GetModel`` of a model nobody
created describes it (a visual classifier over :data:`VOCABULARY`). Models
created with ``PostModels`` (or ``FakeClarifai.add_model``) are stored; a
deleted model answers 404 / ``MODEL_DOES_NOT_EXIST`` (21200) everywhere, its
predictions included, until it is created again.
"""

from __future__ import annotations

import time

import msgspec

from ... import types as t
from ._app import AppState, StateBase
from ._common import (
    VOCABULARY,
    Code,
    digest,
    invalid,
    not_found,
    now,
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

    def _described(self, app: AppState, model_id: str, version_id: str = "") -> t.Model:
        stored: t.Model | None = app.collection("Model").get(model_id)
        if stored is not None:
            return stored
        return t.Model(
            id=model_id,
            name=model_id,
            app_id=app.app_id,
            user_id=app.user_id,
            model_type_id="visual-classifier",
            model_version=self.model_version(app, model_id, version_id),
            visibility=t.Visibility(gettable=10),
        )

    def GetModel(self, req: t.GetModelRequest) -> t.SingleModelResponse:
        """The stored model, or the description every model id has."""
        app = self.app(req.user_app_id)
        return ok(t.SingleModelResponse, model=self._described(app, req.model_id, req.version_id))

    def PostModels(self, req: t.PostModelsRequest) -> t.SingleModelResponse:
        """Create one model (id new); a deleted id may be created again."""
        app = self.app(req.user_app_id)
        store = app.collection("Model")
        given = [*([req.model] if req.model is not None else []), *req.models]
        if len(given) != 1:
            raise invalid(f"one model per request, not {len(given)}", Code.MODEL_INVALID_ARGUMENT)
        m = given[0]
        if not m.id:
            raise invalid("model id is required", Code.MODEL_INVALID_ARGUMENT)
        if m.id in store:
            raise invalid(f"model '{m.id}' already exists", Code.MODEL_INVALID_ARGUMENT)
        stamp = now()
        stored = msgspec.structs.replace(
            m, app_id=app.app_id, user_id=app.user_id, created_at=stamp, modified_at=stamp,
            name=m.name or m.id, model_type_id=m.model_type_id or "visual-classifier",
        )  # fmt: skip
        store[m.id] = stored
        self.missing_models.discard(m.id)
        self.models_changed()
        return ok(t.SingleModelResponse, model=stored)

    def _delete_models(self, app: AppState, ids: list[str]) -> None:
        store = app.collection("Model")
        for ident in ids:
            if ident not in store:
                raise not_found(Code.MODEL_DOES_NOT_EXIST, "Model", ident)
        for ident in ids:
            del store[ident]
            self.missing_models.add(ident)
        self.models_changed()

    def DeleteModel(self, req: t.DeleteModelRequest) -> t.BaseResponse:
        """Delete a created model: from then on it does not exist."""
        self._delete_models(self.app(req.user_app_id), [req.model_id])
        return ok(t.BaseResponse)

    def DeleteModels(self, req: t.DeleteModelsRequest) -> t.BaseResponse:
        """Delete created models by id, or all of them."""
        app = self.app(req.user_app_id)
        ids = list(app.collection("Model")) if req.delete_all else list(req.ids)
        self._delete_models(app, ids)
        return ok(t.BaseResponse)

    def ListModelConcepts(self, req: t.ListModelConceptsRequest) -> t.MultiConceptResponse:
        """The concepts a model predicts (its ``output_info`` concepts, or the vocabulary)."""
        app = self.app(req.user_app_id)
        model = self._described(app, req.model_id, req.version_id)
        info = model.output_info
        concepts = list(info.data.concepts) if info and info.data and info.data.concepts else [
            t.Concept(id=f"ai_{w}", name=w, app_id="main") for w in VOCABULARY
        ]  # fmt: skip
        if req.search:
            needle = req.search.lower()
            concepts = [c for c in concepts if needle in c.name.lower() or needle in c.id.lower()]
        return ok(t.MultiConceptResponse, concepts=page_of(concepts, req.page, req.per_page))

    def ListModelTypes(self, req: t.ListModelTypesRequest) -> t.MultiModelTypeResponse:
        """The model types the fake knows (:data:`MODEL_TYPES`)."""
        return ok(
            t.MultiModelTypeResponse, model_types=page_of(MODEL_TYPES, req.page, req.per_page)
        )

    def GetModelType(self, req: t.GetModelTypeRequest) -> t.SingleModelTypeResponse:
        """One model type, or 404 / 11101."""
        for mt in MODEL_TYPES:
            if mt.id == req.model_type_id:
                return ok(t.SingleModelTypeResponse, model_type=mt)
        raise not_found(Code.CONN_DOES_NOT_EXIST, "Model type", req.model_type_id)

    def ListModelInputs(self, req: t.ListModelInputsRequest) -> t.MultiInputResponse:
        """The inputs added with :meth:`FakeClarifai.add_model_inputs`."""
        app = self.app(req.user_app_id)
        app.models_seen.add(req.model_id)
        inputs = app.model_inputs.get(req.model_id, [])
        return ok(t.MultiInputResponse, inputs=page_of(inputs, req.page, req.per_page))


def _model_type(ident: str, title: str, inputs: list[str], outputs: list[str]) -> t.ModelType:
    return t.ModelType(
        id=ident, title=title, input_fields=inputs, output_fields=outputs, creatable=True,
        trainable=ident.endswith("classifier") or ident.endswith("detector"),
    )  # fmt: skip


MODEL_TYPES: list[t.ModelType] = [
    _model_type("visual-classifier", "Visual Classifier", ["image"], ["concepts"]),
    _model_type("visual-detector", "Visual Detector", ["image"], ["regions"]),
    _model_type("visual-embedder", "Visual Embedder", ["image"], ["embeddings"]),
    _model_type("text-classifier", "Text Classifier", ["text"], ["concepts"]),
    _model_type("text-to-text", "Text to Text", ["text"], ["text"]),
    _model_type("multimodal-to-text", "Multimodal to Text", ["image", "text"], ["text"]),
    _model_type("any-to-any", "Any to Any (Python models)", ["parts"], ["parts"]),
]
"""The model types ``ListModelTypes`` answers with."""
