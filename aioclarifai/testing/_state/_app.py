"""The fake's per-application records and the base every area of handlers builds on."""

from __future__ import annotations

import datetime
import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ... import types as t
from ._common import Code, default_version, now, status


@dataclass
class UploadState:
    """One upload: its parts, the bytes received and its state code."""

    upload: t.Upload
    buffer: bytearray = field(default_factory=bytearray)
    parts: dict[int, tuple[int, int]] = field(default_factory=dict)
    """part number → (range start, length)."""
    code: int = Code.UPLOAD_IN_PROGRESS

    def received(self) -> int:
        """Bytes received, counting each part number once."""
        return sum(length for _, length in self.parts.values())

    def percent(self) -> int:
        """Percent of ``content_length`` received."""
        total = self.upload.content_length
        return 100 if total <= 0 else min(100, self.received() * 100 // total)

    def view(self) -> t.Upload:
        """The upload as the API shows it."""
        return msgspec.structs.replace(
            self.upload,
            status=status(self.code, percent_completed=self.percent()),
        )


@dataclass
class Assignment:
    """A task assignment of one input to one worker, with its annotation."""

    input: t.Input
    user_id: str
    code: int = Code.TASK_ASSIGNMENT_PENDING
    annotation_code: int = Code.ANNOTATION_PENDING
    id: str = ""
    created_at: datetime.datetime = field(default_factory=now)
    modified_at: datetime.datetime = field(default_factory=now)


@dataclass
class AppState:
    """Resources of one application."""

    user_id: str
    app_id: str
    modules: dict[str, t.Module] = field(default_factory=dict)
    module_versions: dict[str, dict[str, t.ModuleVersion]] = field(default_factory=dict)
    module_version_uses: Counter[tuple[str, str]] = field(default_factory=Counter)
    searches: dict[str, t.Search] = field(default_factory=dict)
    tasks: dict[str, t.Task] = field(default_factory=dict)
    assignments: dict[str, dict[str, Assignment]] = field(default_factory=dict)
    """task id → input id → assignment."""
    uploads: dict[str, UploadState] = field(default_factory=dict)
    workflows: dict[str, t.Workflow] = field(default_factory=dict)
    stat_values: list[t.StatValue] = field(default_factory=list)
    trending: dict[str, Counter[str]] = field(default_factory=dict)
    exports: dict[tuple[str, str], float] = field(default_factory=dict)
    """(model id, version id) → monotonic time the export started."""
    metrics: dict[tuple[str, str], t.EvalMetrics] = field(default_factory=dict)
    inputs: dict[str, t.Input] = field(default_factory=dict)
    model_inputs: dict[str, list[t.Input]] = field(default_factory=dict)
    models_seen: set[str] = field(default_factory=set)
    collections: dict[tuple[str, tuple[tuple[str, Any], ...]], dict[str, Any]] = field(
        default_factory=dict
    )
    """(item type name, scoping fields) → id → item: what the CRUD engine keeps."""

    def collection(self, name: str, parent: tuple[tuple[str, Any], ...] = ()) -> dict[str, Any]:
        """The items of one collection (``"ModelVersion"`` of ``(("model_id", "m"),)``).

        Resources that hand-written handlers also keep (inputs, workflows,
        modules, saved searches, tasks) are the same dictionaries, so both
        kinds of handler see one state.
        """
        if not parent:
            own = _OWN.get(name)
            if own is not None:
                store: dict[str, Any] = getattr(self, own)
                return store
        key = (name, parent)
        found = self.collections.get(key)
        if found is None:
            found = self.collections[key] = {}
        return found


_OWN = {
    "Input": "inputs",
    "Workflow": "workflows",
    "Module": "modules",
    "Search": "searches",
    "Task": "tasks",
}


class StateBase:
    """What every area of handlers shares: the applications and fresh ids."""

    def __init__(self, user_id: str, *, export_delay: float = 0.2) -> None:
        self.user_id = user_id
        self.export_delay = export_delay
        self.apps: dict[tuple[str, str], AppState] = {}
        self._ids = itertools.count(1)
        self.missing_models: set[str] = set()
        """Model ids that answer 404 / 21200 (deleted ones, and those a test names)."""

    def models_changed(self) -> None:
        """Called after models are created or deleted (areas that cache models hook in)."""

    def app(self, user_app_id: t.UserAppIDSet | None) -> AppState:
        """The state of the application a request names (created on first use)."""
        user = (user_app_id.user_id if user_app_id else "") or "me"
        if user == "me":
            user = self.user_id
        app_id = user_app_id.app_id if user_app_id else ""
        key = (user, app_id)
        state = self.apps.get(key)
        if state is None:
            state = self.apps[key] = AppState(user, app_id)
        return state

    def model_version(self, app: AppState, model_id: str, version_id: str) -> t.ModelVersion:
        """The (trained) version a model id reports; every model id exists in the fake."""
        app.models_seen.add(model_id)
        return t.ModelVersion(
            id=version_id or default_version(model_id),
            app_id=app.app_id,
            user_id=app.user_id,
            status=status(Code.MODEL_TRAINED),
        )

    def new_id(self, prefix: str) -> str:
        """A fresh identifier, unique within this fake."""
        return f"{prefix}-{next(self._ids):08d}"
