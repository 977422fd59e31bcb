"""FakeClarifai's in-memory resources, and the handlers of every operation, by resource area.

Every handler takes the decoded request and returns the response message; a
missing resource or an invalid request raises :class:`WireError`. State is kept
per application (``user_id``/``app_id``; ``"me"`` is the fake's own user).

Each area is a module with one class of handlers named as Clarifai names the
operations (``PostModules``); :class:`FakeState` combines them. Operations no
area writes by hand are served from the endpoint table by the CRUD engine
(:mod:`.crud`), so every operation of the table has a handler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..._endpoint_spec import Endpoint
from ._app import AppState, Assignment, StateBase, UploadState
from ._common import (
    VOCABULARY,
    concepts_for,
    invalid,
    not_found,
    now,
    page_of,
    patch_message,
    status,
)
from .account import AccountArea
from .apps import AppsArea, DatasetsArea
from .crud import default_answer, plan_table, serve
from .inputs import InputsArea
from .models import ModelsArea
from .modules import ModulesArea
from .predict import OUTPUT_KINDS, PredictArea
from .searches import SearchesArea
from .stats import StatsArea, aggregate
from .tasks import TasksArea
from .uploads import UploadsArea
from .workflows import WorkflowsArea

__all__ = [
    "OUTPUT_KINDS",
    "VOCABULARY",
    "AppState",
    "Assignment",
    "FakeState",
    "UploadState",
    "aggregate",
    "concepts_for",
    "handlers",
    "invalid",
    "not_found",
    "now",
    "page_of",
    "patch_message",
    "status",
]


class FakeState(
    WorkflowsArea,
    PredictArea,
    InputsArea,
    AppsArea,
    DatasetsArea,
    ModulesArea,
    AccountArea,
    SearchesArea,
    StatsArea,
    TasksArea,
    UploadsArea,
    ModelsArea,
    StateBase,
):
    """All applications of one FakeClarifai, and the handlers that read and change them."""


Handler = Callable[[Any], Any]


def handlers(state: FakeState, endpoints: Iterable[Endpoint[Any, Any]]) -> dict[str, Handler]:
    """A handler for every operation in ``endpoints``, by Clarifai name.

    A hand-written handler of an area wins; otherwise the CRUD engine serves
    the operation from its table entry; anything else answers success with an
    empty response of its type.
    """
    eps = list(endpoints)
    plans = plan_table(eps)
    out: dict[str, Handler] = {}
    for ep in eps:
        own = getattr(state, ep.name, None)
        if own is not None:
            out[ep.name] = own
            continue
        plan = plans[ep.name]
        out[ep.name] = serve(state, plan, ep.response_type) if plan else default_answer(ep)
    return out
