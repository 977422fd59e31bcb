"""FakeClarifai's in-memory resources and the handlers of the stateful operations.

Every handler takes the decoded request and returns the response message; a
missing resource or an invalid request raises :class:`WireError`. State is kept
per application (``user_id``/``app_id``; ``"me"`` is the fake's own user).
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import msgspec

from .. import types as t
from ._wire import WireError

__all__ = ["AppState", "FakeState", "UploadState", "concepts_for", "status"]

S = TypeVar("S", bound=msgspec.Struct)
Code = t.StatusCode

_UTC = datetime.timezone.utc

# Words the deterministic predictions draw their concepts from.
VOCABULARY: tuple[str, ...] = (
    "train", "railway", "station", "people", "city", "street", "travel", "vehicle",
    "outdoors", "building", "sky", "tree", "water", "dog", "cat", "food", "car",
    "portrait", "landscape", "night", "light", "art", "sport", "music",
)  # fmt: skip

_DESCRIPTIONS: dict[int, str] = {
    10000: "Ok",
    10010: "Mixed Success",
    10020: "Failure",
    10030: "Try again",
    11005: "Making too many requests",
    11007: "Insufficient scopes",
    11008: "API key is invalid",
    11100: "Bad request format",
    11101: "Resource does not exist",
    11102: "Invalid request",
    21500: "Model is exported",
    21501: "Model is exporting",
    21354: "Model is busy, please retry",
    21355: "Model is loading",
    30002: "Download failed; check URL",
}


def status(code: int, description: str = "", details: str = "", **extra: Any) -> t.Status:
    """A :class:`types.Status` with the description the live API gives ``code``."""
    if not description:
        description = _DESCRIPTIONS.get(code) or _code_description(code)
    return t.Status(code=code, description=description, details=details, **extra)


def _code_description(code: int) -> str:
    try:
        return Code(code).name.replace("_", " ").capitalize()
    except ValueError:
        return "Error"


def now() -> datetime.datetime:
    """The current time, UTC."""
    return datetime.datetime.now(_UTC)


def not_found(code: int, what: str, ident: str) -> WireError:
    """The 404 the live API answers for a missing ``what``."""
    return WireError(code, 404, f"{what} does not exist", f"{what} '{ident}' not found")


def invalid(details: str, code: int = 11102) -> WireError:
    """A 400 invalid-request error."""
    return WireError(code, 400, _DESCRIPTIONS.get(code) or _code_description(code), details)


def _digest(key: bytes) -> bytes:
    return hashlib.blake2b(key, digest_size=16).digest()


def concepts_for(key: bytes, count: int = 5) -> list[t.Concept]:
    """Deterministic concepts for an input whose text, URL or bytes is ``key``."""
    d = _digest(key)
    out: list[t.Concept] = []
    seen: set[int] = set()
    value = 0.999
    for i in range(len(d)):
        idx = d[i] % len(VOCABULARY)
        if idx in seen:
            continue
        seen.add(idx)
        name = VOCABULARY[idx]
        out.append(t.Concept(id=f"ai_{name}", name=name, value=round(value, 6), app_id="main"))
        value *= 0.5 + d[(i + 7) % len(d)] / 600
        if len(out) == count:
            break
    return out


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


def _ok(cls: type[S], **fields: Any) -> S:
    return cls(status=status(Code.SUCCESS), **fields)


def page_of(items: Sequence[S], page: int, per_page: int) -> list[S]:
    """One page (from 1) of ``items``; ``per_page`` 0 means the default 128, at most 1000."""
    if page < 0 or per_page < 0:
        raise invalid("page and per_page must not be negative")
    per_page = min(per_page or 128, 1000)
    start = (max(page, 1) - 1) * per_page
    return list(items[start : start + per_page])


_ACTIONS = ("merge", "overwrite", "remove")


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _deep_remove(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and value and isinstance(out.get(key), dict):
            out[key] = _deep_remove(out[key], value)
        else:
            out.pop(key, None)
    return out


_KEEP = frozenset({"id", "created_at", "user_id", "app_id", "module_id"})


def patch_message(existing: S, patch: S, action: str) -> S:
    """Apply a Clarifai patch ``action`` (merge, overwrite, remove) of ``patch`` onto ``existing``.

    ``merge`` sets the fields ``patch`` sets (maps merged deeply, lists
    replaced); ``overwrite`` replaces everything but identity and creation
    time; ``remove`` deletes the listed ``metadata`` keys and clears the other
    fields ``patch`` sets.
    """
    action = action or "merge"
    if action not in _ACTIONS:
        raise invalid(f"action must be one of {', '.join(_ACTIONS)}, not {action!r}")
    set_fields = {
        f: getattr(patch, f)
        for f in patch.__struct_fields__
        if f not in _KEEP and getattr(patch, f) != _default(type(patch), f)
    }
    changes: dict[str, Any] = {}
    if action == "overwrite":
        fresh = type(existing)(**{f: getattr(existing, f) for f in _KEEP if hasattr(existing, f)})
        existing = fresh
        changes = set_fields
    elif action == "merge":
        for name, value in set_fields.items():
            old = getattr(existing, name)
            merge = isinstance(value, dict) and isinstance(old, dict)
            changes[name] = _deep_merge(old, value) if merge else value
    else:
        for name, value in set_fields.items():
            old = getattr(existing, name)
            if isinstance(value, dict) and isinstance(old, dict):
                changes[name] = _deep_remove(old, value)
            elif isinstance(value, list) and isinstance(old, list):
                changes[name] = [v for v in old if v not in value]
            else:
                changes[name] = _default(type(existing), name)
    if "modified_at" in existing.__struct_fields__:
        changes["modified_at"] = now()
    return msgspec.structs.replace(existing, **changes)


def _default(cls: type, name: str) -> Any:
    for f in msgspec.structs.fields(cls):
        if f.name == name:
            if f.default_factory is not msgspec.NODEFAULT:
                return f.default_factory()
            return f.default
    raise KeyError(name)  # pragma: no cover


V = TypeVar("V")


def _find(store: dict[str, V], ident: str, code: int, what: str) -> V:
    """``store[ident]``, or the 404 the live API answers for a missing ``what``."""
    found = store.get(ident)
    if found is None:
        raise not_found(code, what, ident)
    return found


def _patch_each(
    store: dict[str, Any], patches: Sequence[Any], find: Callable[[str], object], action: str
) -> list[Any]:
    """Patch the stored messages ``patches`` name by id; none changes unless all exist."""
    for p in patches:
        find(p.id)  # raises the resource's 404
    out = []
    for p in patches:
        store[p.id] = patch_message(store[p.id], p, action)
        out.append(store[p.id])
    return out


def _delete_each(store: dict[str, Any], ids: Sequence[str], find: Callable[[str], object]) -> None:
    """Delete the entries ``ids`` name (an id listed twice is deleted once); all must exist."""
    for ident in ids:
        find(ident)  # raises the resource's 404
    for ident in ids:
        store.pop(ident, None)


def _sorted(
    items: Iterable[S],
    *,
    ascending: bool,
    by_id: bool | None,
    by_modified: bool | None,
    by_stars: bool | None,
) -> list[S]:
    """Sorted as Clarifai lists sort: by creation time unless told otherwise.

    ``sort_ascending`` applies to whichever field is chosen (default: newest
    first). Ties keep insertion order, reversed when descending.
    """
    key: Callable[[Any], Any]
    if by_id:
        key = lambda m: m.id  # noqa: E731
    elif by_modified:
        key = lambda m: m.modified_at or m.created_at  # noqa: E731
    elif by_stars:
        key = lambda m: m.star_count  # noqa: E731
    else:
        key = lambda m: m.created_at  # noqa: E731
    seq = list(items)
    if not ascending:
        seq.reverse()  # ties (equal keys) come newest first, too
    return sorted(seq, key=key, reverse=not ascending)


class FakeState:
    """All applications of one FakeClarifai, and the handlers that read and change them.

    One handler per stateful operation, named as Clarifai names the operation
    (``PostModules``), which is how the server finds it.
    """

    def __init__(self, user_id: str, *, export_delay: float = 0.2) -> None:
        self.user_id = user_id
        self.export_delay = export_delay
        self.apps: dict[tuple[str, str], AppState] = {}
        self._ids = itertools.count(1)

    # -- helpers ---------------------------------------------------------------

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

    def new_id(self, prefix: str) -> str:
        """A fresh identifier, unique within this fake."""
        return f"{prefix}-{next(self._ids):08d}"

    # -- modules -----------------------------------------------------------------

    def PostModules(self, req: t.PostModulesRequest) -> t.MultiModuleResponse:
        """Create modules (ids required and new)."""
        app = self.app(req.user_app_id)
        created = []
        for m in req.modules:
            if not m.id:
                raise invalid("module id is required", Code.MODULE_INVALID_ARGUMENT)
            if m.id in app.modules:
                raise invalid(f"module '{m.id}' already exists", Code.MODULE_INVALID_ARGUMENT)
        for m in req.modules:
            stamp = now()
            module = msgspec.structs.replace(
                m,
                created_at=stamp,
                modified_at=stamp,
                user_id=app.user_id,
                app_id=app.app_id,
                visibility=m.visibility or t.Visibility(gettable=10),
            )
            app.modules[m.id] = module
            app.module_versions[m.id] = {}
            created.append(module)
        return _ok(t.MultiModuleResponse, modules=created)

    def _module(self, app: AppState, module_id: str) -> t.Module:
        return _find(app.modules, module_id, Code.MODULE_DOES_NOT_EXIST, "Module")

    def ListModules(self, req: t.ListModulesRequest) -> t.MultiModuleResponse:
        """Modules, newest first unless a sort is asked for; ``search``/``name`` filter."""
        app = self.app(req.user_app_id)
        items: Iterable[t.Module] = app.modules.values()
        needle = (req.search or req.name).lower()
        if needle:
            items = [m for m in items if needle in m.id.lower() or needle in m.description.lower()]
        if req.starred_only:
            items = [m for m in items if m.is_starred]
        ordered = _sorted(
            items,
            ascending=req.sort_ascending,
            by_id=req.sort_by_id,
            by_modified=req.sort_by_modified_at,
            by_stars=req.sort_by_star_count,
        )
        return _ok(t.MultiModuleResponse, modules=page_of(ordered, req.page, req.per_page))

    def GetModule(self, req: t.GetModuleRequest) -> t.SingleModuleResponse:
        """One module, or 404 / 25300."""
        app = self.app(req.user_app_id)
        return _ok(t.SingleModuleResponse, module=self._module(app, req.module_id))

    def PatchModules(self, req: t.PatchModulesRequest) -> t.MultiModuleResponse:
        """Merge, overwrite or remove fields of existing modules."""
        app = self.app(req.user_app_id)
        out = _patch_each(app.modules, req.modules, partial(self._module, app), req.action)
        return _ok(t.MultiModuleResponse, modules=out)

    def DeleteModules(self, req: t.DeleteModulesRequest) -> t.BaseResponse:
        """Delete modules and their versions (404 if any is missing)."""
        app = self.app(req.user_app_id)
        _delete_each(app.modules, req.ids, partial(self._module, app))
        for module_id in req.ids:
            app.module_versions.pop(module_id, None)
        return _ok(t.BaseResponse)

    # -- module versions -----------------------------------------------------------

    def _versions(self, app: AppState, module_id: str) -> dict[str, t.ModuleVersion]:
        self._module(app, module_id)
        return app.module_versions.setdefault(module_id, {})

    def _version(self, app: AppState, module_id: str, version_id: str) -> t.ModuleVersion:
        versions = self._versions(app, module_id)
        return _find(versions, version_id, Code.MODULE_DOES_NOT_EXIST, "Module version")

    def PostModuleVersions(self, req: t.PostModuleVersionsRequest) -> t.MultiModuleVersionResponse:
        """Create versions of a module (ids made up when absent)."""
        app = self.app(req.user_app_id)
        versions = self._versions(app, req.module_id)
        out = []
        for v in req.module_versions:
            if v.id and v.id in versions:
                raise invalid(f"module version '{v.id}' exists", Code.MODULE_INVALID_ARGUMENT)
        for v in req.module_versions:
            stamp = now()
            version = msgspec.structs.replace(
                v,
                id=v.id or self.new_id("mv"),
                module_id=req.module_id,
                app_id=app.app_id,
                user_id=app.user_id,
                created_at=stamp,
                modified_at=stamp,
            )
            versions[version.id] = version
            out.append(version)
        if out:
            module = app.modules[req.module_id]
            app.modules[req.module_id] = msgspec.structs.replace(module, module_version=out[-1])
        return _ok(t.MultiModuleVersionResponse, module_versions=out)

    def ListModuleVersions(self, req: t.ListModuleVersionsRequest) -> t.MultiModuleVersionResponse:
        """A module's versions, newest first."""
        app = self.app(req.user_app_id)
        ordered = list(reversed(self._versions(app, req.module_id).values()))
        return _ok(
            t.MultiModuleVersionResponse,
            module_versions=page_of(ordered, req.page, req.per_page),
        )

    def GetModuleVersion(self, req: t.GetModuleVersionRequest) -> t.SingleModuleVersionResponse:
        """One module version; each fetch counts as a use."""
        app = self.app(req.user_app_id)
        version = self._version(app, req.module_id, req.module_version_id)
        # A fetch counts as a use, so usage counts move in tests.
        app.module_version_uses[(req.module_id, version.id)] += 1
        return _ok(t.SingleModuleVersionResponse, module_version=version)

    def GetModuleVersionUsageCount(
        self, req: t.GetModuleVersionUsageCountRequest
    ) -> t.SingleModuleVersionUsageCountResponse:
        """How many times the version was fetched."""
        app = self.app(req.user_app_id)
        version = self._version(app, req.module_id, req.module_version_id)
        count = app.module_version_uses[(req.module_id, version.id)]
        return _ok(t.SingleModuleVersionUsageCountResponse, usage_count=count)

    def PatchModuleVersions(
        self, req: t.PatchModuleVersionsRequest
    ) -> t.MultiModuleVersionResponse:
        """Merge, overwrite or remove fields of module versions."""
        app = self.app(req.user_app_id)
        versions = self._versions(app, req.module_id)
        find = partial(self._version, app, req.module_id)
        out = _patch_each(versions, req.module_versions, find, req.action)
        return _ok(t.MultiModuleVersionResponse, module_versions=out)

    def DeleteModuleVersions(self, req: t.DeleteModuleVersionsRequest) -> t.BaseResponse:
        """Delete module versions (404 if any is missing)."""
        app = self.app(req.user_app_id)
        versions = self._versions(app, req.module_id)
        _delete_each(versions, req.ids, partial(self._version, app, req.module_id))
        return _ok(t.BaseResponse)

    # -- scopes and counts -----------------------------------------------------------

    def MyScopes(self, req: t.MyScopesRequest) -> t.MultiScopeResponse:
        """Every scope and every endpoint: the fake's key may do anything."""
        from .._generated.endpoints import ENDPOINTS

        app = self.app(req.user_app_id)
        names = sorted(ep.name for ep in ENDPOINTS.values())
        return _ok(
            t.MultiScopeResponse,
            scopes=["All"],
            endpoints=[f"/clarifai.api.V2/{n}" for n in names],
            app=t.App(id=app.app_id, user_id=app.user_id, name=app.app_id),
        )

    def GetResourceCounts(self, req: t.GetResourceCountsRequest) -> t.GetResourceCountsResponse:
        """Counts of the application's workflows, modules, inputs and models seen."""
        app = self.app(req.user_app_id)
        return _ok(
            t.GetResourceCountsResponse,
            datasets=0,
            models=len(app.models_seen | set(app.model_inputs)),
            workflows=len(app.workflows),
            modules=len(app.modules),
            inputs=len(app.inputs),
        )

    # -- searches ------------------------------------------------------------------------

    def _run_query(self, app: AppState, query: t.Query | None, page: int, per_page: int) -> Any:
        key = msgspec.json.encode(query) if query is not None else b""
        scored = sorted(
            app.inputs.values(),
            key=lambda inp: (-_score(key, inp.id), inp.id),
        )
        chosen = page_of(scored, page, per_page)
        return [
            t.Hit(score=_score(key, i.id), input=i, user_id=app.user_id, app_id=app.app_id)
            for i in chosen
        ]

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
        return _ok(
            t.MultiSearchResponse,
            id=self.new_id("run"),
            hits=hits,
            query=query,
            searches=saved,
        )

    def _search(self, app: AppState, search_id: str) -> t.Search:
        return _find(app.searches, search_id, Code.CONN_DOES_NOT_EXIST, "Search")

    def ListSearches(self, req: t.ListSearchesRequest) -> t.MultiSearchResponse:
        """Saved searches, newest first."""
        app = self.app(req.user_app_id)
        ordered = list(reversed(app.searches.values()))
        return _ok(t.MultiSearchResponse, searches=page_of(ordered, req.page, req.per_page))

    def GetSearch(self, req: t.GetSearchRequest) -> t.SingleSearchResponse:
        """One saved search, or 404 / 11101."""
        app = self.app(req.user_app_id)
        return _ok(t.SingleSearchResponse, search=self._search(app, req.id))

    def PatchSearches(self, req: t.PatchSearchesRequest) -> t.MultiSearchResponse:
        """Merge, overwrite or remove fields of saved searches."""
        app = self.app(req.user_app_id)
        out = _patch_each(app.searches, req.searches, partial(self._search, app), req.action)
        return _ok(t.MultiSearchResponse, searches=out)

    def DeleteSearch(self, req: t.DeleteSearchRequest) -> t.BaseResponse:
        """Delete a saved search."""
        app = self.app(req.user_app_id)
        self._search(app, req.id)
        del app.searches[req.id]
        return _ok(t.BaseResponse)

    def PostSearchesByID(self, req: t.PostSearchesByIDRequest) -> t.MultiSearchResponse:
        """Run a saved search's query again, with its own pagination."""
        app = self.app(req.user_app_id)
        search = self._search(app, req.id)
        pagination = req.pagination or t.Pagination()
        hits = self._run_query(app, search.query, pagination.page, pagination.per_page)
        return _ok(t.MultiSearchResponse, id=search.id, hits=hits, query=search.query)

    # -- stats ------------------------------------------------------------------------------

    def PostStatValues(self, req: t.PostStatValuesRequest) -> t.MultiStatValueResponse:
        """Store stat values (``time`` defaults to now)."""
        app = self.app(req.user_app_id)
        stamp = now()
        stored = [msgspec.structs.replace(v, time=v.time or stamp) for v in req.stat_values]
        app.stat_values.extend(stored)
        return _ok(t.MultiStatValueResponse, stat_values=stored)

    def PostStatValuesAggregate(
        self, req: t.PostStatValuesAggregateRequest
    ) -> t.MultiStatValueAggregateResponse:
        """Aggregate the stored values, one result per query (see :func:`aggregate`)."""
        app = self.app(req.user_app_id)
        results = [
            t.StatValueAggregateResult(
                stat_value_aggregates=aggregate(app.stat_values, q),
                stat_value_aggregate_query=q,
            )
            for q in req.stat_value_aggregate_queries
        ]
        return _ok(t.MultiStatValueAggregateResponse, stat_value_aggregate_results=results)

    # -- tasks ------------------------------------------------------------------------------

    def _task(self, app: AppState, task_id: str) -> t.Task:
        return _find(app.tasks, task_id, Code.TASK_MISSING, "Task")

    def PostTasks(self, req: t.PostTasksRequest) -> t.MultiTaskResponse:
        """Create tasks (ids made up when absent), in progress."""
        app = self.app(req.user_app_id)
        out = []
        for task in req.tasks:
            if task.id and task.id in app.tasks:
                raise invalid(f"task '{task.id}' already exists", Code.TASK_CONFLICT)
        for task in req.tasks:
            stamp = now()
            stored = msgspec.structs.replace(
                task,
                id=task.id or self.new_id("task"),
                created_at=stamp,
                modified_at=stamp,
                app_id=app.app_id,
                user_id=app.user_id,
                status=status(Code.TASK_IN_PROGRESS),
            )
            app.tasks[stored.id] = stored
            app.assignments[stored.id] = {}
            out.append(stored)
        return _ok(t.MultiTaskResponse, tasks=out)

    def ListTasks(self, req: t.ListTasksRequest) -> t.MultiTaskResponse:
        """Tasks, newest first, filtered by ids, worker and reviewer user ids."""
        app = self.app(req.user_app_id)
        items = list(reversed(app.tasks.values()))
        if req.ids:
            wanted = set(req.ids)
            items = [x for x in items if x.id in wanted]
        if req.worker_user_ids:
            workers = set(req.worker_user_ids)
            items = [x for x in items if x.worker and workers & set(x.worker.user_ids)]
        if req.review_user_ids:
            reviewers = set(req.review_user_ids)
            items = [x for x in items if x.review and reviewers & set(x.review.user_ids)]
        if req.label_order_ids:
            orders = set(req.label_order_ids)
            items = [x for x in items if x.label_order_id in orders]
        elif not req.including_label_order_tasks:
            items = [x for x in items if not x.label_order_id]
        return _ok(t.MultiTaskResponse, tasks=page_of(items, req.page, req.per_page))

    def GetTask(self, req: t.GetTaskRequest) -> t.SingleTaskResponse:
        """One task, or 404 / 54102."""
        app = self.app(req.user_app_id)
        return _ok(t.SingleTaskResponse, task=self._task(app, req.task_id))

    def PatchTasks(self, req: t.PatchTasksRequest) -> t.MultiTaskResponse:
        """Merge, overwrite or remove fields of tasks."""
        app = self.app(req.user_app_id)
        out = _patch_each(app.tasks, req.tasks, partial(self._task, app), req.action)
        return _ok(t.MultiTaskResponse, tasks=out)

    def DeleteTasks(self, req: t.DeleteTasksRequest) -> t.BaseResponse:
        """Delete tasks and their assignments."""
        app = self.app(req.user_app_id)
        _delete_each(app.tasks, req.ids, partial(self._task, app))
        for task_id in req.ids:
            app.assignments.pop(task_id, None)
        return _ok(t.BaseResponse)

    def ListNextTaskAssignments(
        self, req: t.ListNextTaskAssignmentsRequest, batch: int = 10
    ) -> t.MultiInputResponse:
        """The next inputs of a task for the fake's user, assigning new ones as needed."""
        app = self.app(req.user_app_id)
        self._task(app, req.task_id)
        assignments = app.assignments.setdefault(req.task_id, {})
        user = self.user_id
        mine = [
            a for a in assignments.values()
            if a.user_id == user and a.code == Code.TASK_ASSIGNMENT_PENDING
        ]  # fmt: skip
        for inp in app.inputs.values():
            if len(mine) >= batch:
                break
            if inp.id not in assignments:
                a = Assignment(input=inp, user_id=user, id=self.new_id("assignment"))
                assignments[inp.id] = a
                mine.append(a)
        return _ok(t.MultiInputResponse, inputs=[a.input for a in mine[:batch]])

    def PutTaskAssignments(self, req: t.PutTaskAssignmentsRequest) -> t.MultiTaskAssignmentResponse:
        """Move an input through labelling and review (REVIEW_START: list those awaiting review)."""
        app = self.app(req.user_app_id)
        task = self._task(app, req.task_id)
        assignments = app.assignments.setdefault(req.task_id, {})
        action = req.action
        A = t.PutTaskAssignmentsRequestAction
        if action == A.REVIEW_START:
            waiting = [
                a for a in assignments.values() if a.code == Code.TASK_ASSIGNMENT_AWAITING_REVIEW
            ]
            return _ok(t.MultiTaskAssignmentResponse, task_assignments=[_view(a) for a in waiting])
        if not req.input_id:
            raise invalid("input_id is required")
        a = assignments.get(req.input_id)
        if a is None:
            inp = app.inputs.get(req.input_id)
            if inp is None:
                raise not_found(Code.INPUT_DOES_NOT_EXIST, "Input", req.input_id)
            a = assignments[req.input_id] = Assignment(
                input=inp, user_id=self.user_id, id=self.new_id("assignment")
            )
        reviewed = task.review is not None and task.review.strategy in (2, 3)
        if action == A.LABEL_START:
            a.code, a.annotation_code = Code.TASK_ASSIGNMENT_PENDING, Code.ANNOTATION_PENDING
        elif action == A.LABEL_SUBMIT:
            if reviewed:
                a.code = Code.TASK_ASSIGNMENT_AWAITING_REVIEW
                a.annotation_code = Code.ANNOTATION_AWAITING_REVIEW
            else:
                a.code, a.annotation_code = Code.TASK_ASSIGNMENT_SUCCESS, Code.ANNOTATION_SUCCESS
        elif action == A.REVIEW_APPROVE:
            a.code, a.annotation_code = Code.TASK_ASSIGNMENT_SUCCESS, Code.ANNOTATION_SUCCESS
        elif action == A.REVIEW_REQUEST_CHANGES:
            a.code, a.annotation_code = Code.TASK_ASSIGNMENT_PENDING, Code.ANNOTATION_PENDING
        elif action == A.REVIEW_REJECT:
            a.code = Code.TASK_ASSIGNMENT_REJECTED
            a.annotation_code = Code.ANNOTATION_REVIEW_DENIED
        else:
            raise invalid(f"unknown action {action}")
        a.modified_at = now()
        return _ok(t.MultiTaskAssignmentResponse, task_assignments=[_view(a)])

    def _counts(
        self, req: t.GetTaskCountRequest, *, annotations: bool
    ) -> t.SingleTaskCountResponse:
        app = self.app(req.user_app_id)
        self._task(app, req.task_id)
        per_user: dict[str, Counter[int]] = {}
        for a in app.assignments.get(req.task_id, {}).values():
            per_user.setdefault(a.user_id, Counter())[
                a.annotation_code if annotations else a.code
            ] += 1
        users = req.user_ids or sorted(per_user)
        # pending, awaiting review, success, review denied, awaiting consensus review
        if annotations:
            kinds = (Code.ANNOTATION_PENDING, Code.ANNOTATION_AWAITING_REVIEW,
                     Code.ANNOTATION_SUCCESS, Code.ANNOTATION_REVIEW_DENIED,
                     Code.ANNOTATION_AWAITING_CONSENSUS_REVIEW)  # fmt: skip
        else:
            kinds = (Code.TASK_ASSIGNMENT_PENDING, Code.TASK_ASSIGNMENT_AWAITING_REVIEW,
                     Code.TASK_ASSIGNMENT_SUCCESS, Code.TASK_ASSIGNMENT_REJECTED,
                     Code.TASK_ASSIGNMENT_AWAITING_CONSENSUS_REVIEW)  # fmt: skip
        counts = []
        for user in users:
            c = per_user.get(user, Counter())
            pending, awaiting, success, denied, consensus = (c[k] for k in kinds)
            counts.append(
                t.TaskStatusCountPerUser(
                    user_id=user,
                    pending=pending,
                    awaiting_review=awaiting,
                    success=success,
                    review_denied=denied,
                    awaiting_consensus_review=consensus,
                )
            )
        return _ok(t.SingleTaskCountResponse, app_id=app.app_id, task_id=req.task_id, counts=counts)

    def GetTaskAnnotationCount(self, req: t.GetTaskCountRequest) -> t.SingleTaskCountResponse:
        """Per worker: annotations by status."""
        return self._counts(req, annotations=True)

    def GetTaskInputCount(self, req: t.GetTaskCountRequest) -> t.SingleTaskCountResponse:
        """Per worker: assigned inputs by status."""
        return self._counts(req, annotations=False)

    def GetInputSamples(self, req: t.GetInputSamplesRequest) -> t.MultiInputAnnotationResponse:
        """Inputs with the annotations workers made on them."""
        app = self.app(req.user_app_id)
        self._task(app, req.task_id)
        users = set(req.user_ids)
        hits = []
        for a in app.assignments.get(req.task_id, {}).values():
            if a.annotation_code == Code.ANNOTATION_PENDING or (users and a.user_id not in users):
                continue
            annotation = t.Annotation(
                id=f"{a.id}-annotation", input_id=a.input.id, user_id=a.user_id,
                task_id=req.task_id, status=status(a.annotation_code),
                created_at=a.created_at, modified_at=a.modified_at,
            )  # fmt: skip
            hits.append(
                t.Hit(input=a.input, annotation=annotation, user_id=a.user_id, app_id=app.app_id)
            )
        return _ok(t.MultiInputAnnotationResponse, hits=hits)

    def PatchAnnotationsStatus(
        self, req: t.PatchAnnotationsStatusRequest
    ) -> t.PatchAnnotationsStatusResponse:
        """Overwrite the status of matching annotations; says how many changed."""
        app = self.app(req.user_app_id)
        self._task(app, req.task_id)
        if (req.action or "overwrite") != "overwrite":
            raise invalid(f"action must be 'overwrite', not {req.action!r}")
        if not req.status_code:
            raise invalid("status_code is required")
        users = set(req.user_ids)
        codes = set(req.status_codes)
        touched: set[str] = set()
        updated = 0
        for a in app.assignments.get(req.task_id, {}).values():
            if (users and a.user_id not in users) or (codes and a.annotation_code not in codes):
                continue
            a.annotation_code = req.status_code
            a.modified_at = now()
            touched.add(a.user_id)
            updated += 1
        return _ok(
            t.PatchAnnotationsStatusResponse, user_ids=sorted(touched), updated_count=updated
        )

    # -- trending metrics ------------------------------------------------------------------

    def PostTrendingMetricsView(self, req: t.PostTrendingMetricsViewRequest) -> t.BaseResponse:
        """Count one view of an object."""
        app = self.app(req.user_app_id)
        app.trending.setdefault(req.view_type, Counter())[req.object_id] += 1
        return _ok(t.BaseResponse)

    def ListTrendingMetricsViews(
        self, req: t.ListTrendingMetricsViewsRequest
    ) -> t.MultiTrendingMetricsViewResponse:
        """Objects of a view type, most viewed first."""
        app = self.app(req.user_app_id)
        views = app.trending.get(req.view_type, Counter())
        ordered = sorted(views.items(), key=lambda kv: (-kv[1], kv[0]))
        metrics = [
            t.TrendingMetric(user_id=app.user_id, app_id=app.app_id, object_id=k, view_count=n)
            for k, n in ordered
        ]
        return _ok(
            t.MultiTrendingMetricsViewResponse, metrics=page_of(metrics, req.page, req.per_page)
        )

    # -- uploads -------------------------------------------------------------------------------

    def _upload(self, app: AppState, upload_id: str) -> UploadState:
        return _find(app.uploads, upload_id, Code.CONN_DOES_NOT_EXIST, "Upload")

    def PostUploads(self, req: t.PostUploadsRequest) -> t.MultiUploadResponse:
        """Start uploads of ``content_length`` bytes (state 68000)."""
        app = self.app(req.user_app_id)
        if not req.uploads:
            raise invalid("uploads must not be empty")
        out = []
        for u in req.uploads:
            if u.content_length <= 0:
                raise invalid("content_length must be positive")
        for u in req.uploads:
            stamp = now()
            upload = t.Upload(
                id=self.new_id("upload"),
                created_at=stamp,
                modified_at=stamp,
                expires_at=stamp + datetime.timedelta(days=1),
                content_name=u.content_name,
                content_length=u.content_length,
            )
            state = app.uploads[upload.id] = UploadState(upload)
            out.append(state.view())
        return _ok(t.MultiUploadResponse, uploads=out)

    def PutUploadContentParts(self, req: t.PutUploadContentPartsRequest) -> t.SingleUploadResponse:
        """Store parts at their byte offsets; done (68001) once every byte arrived."""
        app = self.app(req.user_app_id)
        state = self._upload(app, req.upload_id)
        if state.code not in (Code.UPLOAD_IN_PROGRESS, Code.UPLOAD_DONE):
            raise invalid(f"upload is in state {state.code}", state.code)
        total = state.upload.content_length
        for part in req.content_parts:
            if part.part_number < 1:
                raise invalid("part_number starts at 1")
            if part.range_start < 0 or part.range_start + len(part.data) > total:
                raise invalid(
                    f"part {part.part_number} ({part.range_start}+{len(part.data)}) "
                    f"exceeds content_length {total}"
                )
        for part in req.content_parts:
            start, data = part.range_start, part.data
            buf = state.buffer
            if len(buf) < start + len(data):
                buf.extend(bytes(start + len(data) - len(buf)))
            buf[start : start + len(data)] = data
            state.parts[part.part_number] = (start, len(data))
        if state.received() >= total:
            state.code = Code.UPLOAD_DONE
        state.upload = msgspec.structs.replace(state.upload, modified_at=now())
        view = state.view()
        return t.SingleUploadResponse(
            status=status(Code.SUCCESS, percent_completed=state.percent()), upload=view
        )

    def GetUpload(self, req: t.GetUploadRequest) -> t.SingleUploadResponse:
        """One upload with its state and ``percent_completed``."""
        app = self.app(req.user_app_id)
        return _ok(t.SingleUploadResponse, upload=self._upload(app, req.upload_id).view())

    def ListUploads(self, req: t.ListUploadsRequest) -> t.MultiUploadResponse:
        """Uploads, newest first."""
        app = self.app(req.user_app_id)
        ordered = [u.view() for u in reversed(app.uploads.values())]
        return _ok(t.MultiUploadResponse, uploads=page_of(ordered, req.page, req.per_page))

    def DeleteUploads(self, req: t.DeleteUploadsRequest) -> t.BaseResponse:
        """Delete uploads and their bytes."""
        app = self.app(req.user_app_id)
        _delete_each(app.uploads, req.ids, partial(self._upload, app))
        return _ok(t.BaseResponse)

    # -- workflows ------------------------------------------------------------------------------

    def _workflow(self, app: AppState, workflow_id: str) -> t.Workflow:
        return _find(app.workflows, workflow_id, Code.WORKFLOW_DOES_NOT_EXIST, "Workflow")

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
        return _ok(t.MultiWorkflowResponse, workflows=self.add_workflows(app, req.workflows))

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
        ordered = _sorted(
            items,
            ascending=req.sort_ascending,
            by_id=req.sort_by_id,
            by_modified=req.sort_by_modified_at,
            by_stars=req.sort_by_star_count,
        )
        return _ok(t.MultiWorkflowResponse, workflows=page_of(ordered, req.page, req.per_page))

    def PatchWorkflows(self, req: t.PatchWorkflowsRequest) -> t.MultiWorkflowResponse:
        """Merge, overwrite or remove fields of workflows."""
        app = self.app(req.user_app_id)
        find = partial(self._workflow, app)
        out = _patch_each(app.workflows, req.workflows, find, req.action)
        return _ok(t.MultiWorkflowResponse, workflows=out)

    def DeleteWorkflows(self, req: t.DeleteWorkflowsRequest) -> t.BaseResponse:
        """Delete workflows by id, or all of them."""
        app = self.app(req.user_app_id)
        if req.delete_all:
            app.workflows.clear()
            return _ok(t.BaseResponse)
        _delete_each(app.workflows, req.ids, partial(self._workflow, app))
        return _ok(t.BaseResponse)

    # -- models ---------------------------------------------------------------------------------

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
        return _ok(t.SingleModelVersionExportResponse, export=export)

    def _model_version(self, app: AppState, model_id: str, version_id: str) -> t.ModelVersion:
        app.models_seen.add(model_id)
        return t.ModelVersion(
            id=version_id or _default_version(model_id),
            app_id=app.app_id,
            user_id=app.user_id,
            status=status(Code.MODEL_TRAINED),
        )

    def PostModelVersionMetrics(
        self, req: t.PostModelVersionMetricsRequest
    ) -> t.SingleModelVersionResponse:
        """Evaluate a model version (deterministic metrics)."""
        app = self.app(req.user_app_id)
        d = _digest(f"{req.model_id}/{req.version_id}".encode())
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
            self._model_version(app, req.model_id, req.version_id), metrics=metrics
        )
        return _ok(t.SingleModelVersionResponse, model_version=version)

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
            self._model_version(app, req.model_id, req.version_id), metrics=metrics
        )
        return _ok(t.SingleModelVersionResponse, model_version=version)

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
            model_version=self._model_version(app, req.model_id, req.version_id),
        )
        return _ok(t.SingleModelResponse, model=model)

    def ListModelInputs(self, req: t.ListModelInputsRequest) -> t.MultiInputResponse:
        """The inputs added with :meth:`FakeClarifai.add_model_inputs`."""
        app = self.app(req.user_app_id)
        app.models_seen.add(req.model_id)
        inputs = app.model_inputs.get(req.model_id, [])
        return _ok(t.MultiInputResponse, inputs=page_of(inputs, req.page, req.per_page))


def _default_version(model_id: str) -> str:
    return _digest(model_id.encode()).hex()


def _score(key: bytes, input_id: str) -> float:
    d = _digest(key + b"\0" + input_id.encode())
    return round(int.from_bytes(d[:4], "big") / 2**32, 6)


def _view(a: Assignment) -> t.TaskAssignment:
    return t.TaskAssignment(
        id=a.id,
        created_at=a.created_at,
        modified_at=a.modified_at,
        worker=t.Worker(user=t.User(id=a.user_id)),
        input=a.input,
        status=status(a.code),
    )


# -- aggregates --------------------------------------------------------------------------------


def _bucket(when: datetime.datetime, kind: int) -> datetime.datetime | None:
    T = t.StatTimeAggType
    when = when.astimezone(_UTC)
    if kind == T.NO_TIME_AGG:
        return None
    if kind == T.YEAR:
        return when.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if kind == T.MONTH:
        return when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if kind == T.WEEK:
        day = when.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - datetime.timedelta(days=day.weekday())
    if kind == T.DAY:
        return when.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == T.HOUR:
        return when.replace(minute=0, second=0, microsecond=0)
    if kind == T.MINUTE:
        return when.replace(second=0, microsecond=0)
    raise invalid(f"unknown stat_time_agg_type {kind}", Code.STATS_INVALID_REQUEST)


def aggregate(
    values: Iterable[t.StatValue], q: t.StatValueAggregateQuery
) -> list[t.StatValueAggregate]:
    """SUM or AVG of the stat values matching ``q``'s tags and time range.

    Values must carry every tag of ``q.tags``. Each tag group (a prefix such as
    ``"model"``, matching tags ``"model:…"``) splits the results by the value's
    tags in that group; ``stat_time_agg_type`` splits them by time bucket.
    """
    if q.stat_value_agg_type not in (t.StatValueAggType.SUM, t.StatValueAggType.AVG):
        raise invalid(
            f"unknown stat_value_agg_type {q.stat_value_agg_type}", Code.STATS_INVALID_REQUEST
        )
    wanted = set(q.tags)
    prefixes = [g if g.endswith(":") else f"{g}:" for g in q.tag_groups]
    groups: dict[tuple[datetime.datetime | None, tuple[str, ...]], list[float]] = {}
    for v in values:
        when = v.time
        if when is None:
            continue
        if (q.start_time and when < q.start_time) or (q.end_time and when >= q.end_time):
            continue
        if not wanted.issubset(v.tags):
            continue
        group_tags = tuple(
            sorted(tag for tag in v.tags if any(tag.startswith(p) for p in prefixes))
        )
        if prefixes and not group_tags:
            continue
        key = (_bucket(when, q.stat_time_agg_type), group_tags)
        groups.setdefault(key, []).append(v.value)
    out = []
    epoch = datetime.datetime.min.replace(tzinfo=_UTC)
    for (bucket, group_tags), vals in sorted(
        groups.items(), key=lambda kv: (kv[0][0] or epoch, kv[0][1])
    ):
        total = sum(vals)
        value = total if q.stat_value_agg_type == t.StatValueAggType.SUM else total / len(vals)
        out.append(
            t.StatValueAggregate(
                time=bucket,
                aggregate_value=value,
                count=len(vals),
                tags=sorted(wanted) + list(group_tags),
            )
        )
    return out
