"""The table-driven engine: any operation of the endpoint table served as CRUD on a collection.

What an operation does is read off the table, as Clarifai names and shapes
its operations: the verb (``Post``, ``List``, ``Get``, ``Patch``, ``Delete``)
starts the name, the rest names the resource (``ModelVersions``); the item
type is the request's or the response's repeated field of that resource
(``ModelVersion``); the path fields other than the application and the item's
own id scope the collection (``model_id``). So every operation the table holds
is served, without a handler written for it:

- ``Post`` creates (an id already taken: the resource's live "already exists"
  code), ``List`` pages newest first, ``Get`` fetches one, ``Patch`` applies
  the ``action`` (merge, overwrite, remove), ``Delete`` removes by ``ids``, one
  id, or ``delete_all``. Missing items answer 404 with the resource's live
  code (``MODEL_DOES_NOT_EXIST`` 21200, ``INPUT_DOES_NOT_EXIST`` 30102, …) or
  ``CONN_DOES_NOT_EXIST`` 11101 when the resource has none.
- Any other operation answers success with an empty response of its type.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from ... import types as t
from ..._endpoint_spec import Endpoint
from .._wire import WireError
from ._app import AppState, StateBase
from ._common import Code, invalid, now, page_of, patch_message, status

__all__ = ["CrudPlan", "default_answer", "plan_for", "plan_table", "serve"]

_VERBS = {"Post": "create", "List": "list", "Get": "get", "Patch": "patch", "Delete": "delete"}
_NAME = re.compile(r"^(Post|List|Get|Patch|Delete)([A-Z]\w*)$")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class CrudPlan:
    """How one operation maps onto a collection."""

    verb: str
    """create, list, get, patch or delete."""
    item_type: type[msgspec.Struct]
    request_items: str | None
    """The request's repeated field of items (create, patch)."""
    response_items: str | None
    """The response's field holding the items (a list, or one item for get)."""
    id_field: str | None
    """The request field naming one item (get, single delete)."""
    ids_field: str | None
    """The request field listing the items to delete (``ids``, ``dataset_ids``)."""
    parents: tuple[str, ...]
    """Request fields that scope the collection (``model_id`` for model versions)."""
    missing_code: int
    duplicate_code: int

    @property
    def collection(self) -> str:
        """The collection's name: the item type's."""
        return self.item_type.__name__


def snake(name: str) -> str:
    """``ModelVersion`` → ``model_version``."""
    return _CAMEL.sub("_", name).lower()


def _singular(noun: str) -> str:
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith("sses") or noun.endswith("ches") or noun.endswith("xes"):
        return noun[:-2]
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun[:-1]
    return noun


def _fields(name: str, cls: Any) -> dict[str, tuple[bool, type | None]]:
    """Per field of ``cls``: (is repeated, message type or None)."""
    found = _FIELDS.get(name)
    if found is not None:
        return found
    out: dict[str, tuple[bool, type | None]] = {}
    for f in msgspec.structs.fields(cls):
        tp = f.type
        repeated = typing.get_origin(tp) is list
        if repeated:
            tp = typing.get_args(tp)[0]
        else:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
        msg = tp if isinstance(tp, type) and issubclass(tp, msgspec.Struct) else None
        out[f.name] = (repeated, msg)
    _FIELDS[name] = out
    return out


_FIELDS: dict[str, dict[str, tuple[bool, type | None]]] = {}


def _has_id(cls: type | None) -> bool:
    return cls is not None and "id" in _fields(cls.__name__, cls)


def _code(item: str, *suffixes: str, default: int) -> int:
    """The resource's own status code (``MODEL_VERSION_…``), else its parent's (``MODEL_…``)."""
    words = snake(item).upper().split("_")
    for end in range(len(words), 0, -1):
        upper = "_".join(words[:end])
        for suffix in suffixes:
            found = Code.__members__.get(f"{upper}_{suffix}")
            if found is not None:
                return int(found)
    return default


def _path_fields(ep: Endpoint[Any, Any]) -> tuple[str, ...]:
    """Top-level request fields of the endpoint's shortest path, the application left out."""
    shortest = min(ep.templates, key=lambda tpl: len(tpl.fields))
    return tuple(f[0] for f in shortest.fields if len(f) == 1)


def _matches(noun: str, item: type) -> bool:
    name = item.__name__
    return noun == name or _singular(noun) == name or noun.endswith(name + "s")


@functools.cache
def plan_for(ep: Endpoint[Any, Any]) -> CrudPlan | None:
    """The CRUD reading of ``ep``, or None when it is not a collection operation."""
    m = _NAME.match(ep.name)
    if m is None or ep.streaming:
        return None
    verb, noun = _VERBS[m.group(1)], m.group(2)
    req_fields = _fields(ep.request_type.__name__, ep.request_type)
    resp_fields = _fields(ep.response_type.__name__, ep.response_type)
    path = _path_fields(ep)
    item: type | None = None
    request_items = response_items = id_field = ids_field = None
    if verb in ("create", "patch"):
        for name, (repeated, msg) in req_fields.items():
            if repeated and _has_id(msg) and msg is not None and _matches(noun, msg):
                item, request_items = msg, name
                break
        if item is None:
            return None
        response_items = _response_field(resp_fields, item)
    elif verb == "list":
        for name, (repeated, msg) in resp_fields.items():
            if repeated and _has_id(msg) and msg is not None and _matches(noun, msg):
                item, response_items = msg, name
                break
    elif verb == "get":
        for name, (repeated, msg) in resp_fields.items():
            if not repeated and _has_id(msg) and msg is not None and _matches(noun, msg):
                item, response_items = msg, name
                break
        if item is not None:
            id_field = _id_field(item, req_fields, path)
    else:  # delete
        found = getattr(t, _singular(noun), None)
        if isinstance(found, type) and _has_id(found):
            item = found
            for name in ("ids", f"{snake(found.__name__)}_ids"):
                if req_fields.get(name) == (True, None):
                    ids_field = name
                    break
            else:
                id_field = _id_field(found, req_fields, path)
    if item is None or (verb in ("get", "delete") and id_field is None and ids_field is None):
        return None
    parents = tuple(f for f in path if f != id_field)
    return CrudPlan(
        verb=verb,
        item_type=item,
        request_items=request_items,
        response_items=response_items,
        id_field=id_field,
        ids_field=ids_field,
        parents=parents,
        missing_code=_code(item.__name__, "DOES_NOT_EXIST", default=Code.CONN_DOES_NOT_EXIST),
        duplicate_code=_code(
            item.__name__,
            "DUPLICATE",
            "ALREADY_EXISTS",
            "INVALID_ARGUMENT",
            default=Code.CONN_INVALID_REQUEST,
        ),
    )


def plan_table(endpoints: Iterable[Endpoint[Any, Any]]) -> dict[str, CrudPlan | None]:
    """:func:`plan_for` of each endpoint, by name, with one scope per collection.

    Paths name scopes unevenly (``GetAnnotation`` sits under
    ``inputs/{input_id}``, ``ListAnnotations`` does not), so every operation
    of a collection takes the scope of the operation that creates its items
    (or, failing that, lists them).
    """
    plans = {ep.name: plan_for(ep) for ep in endpoints}
    scopes: dict[str, tuple[str, ...]] = {}
    for verb in ("list", "create"):  # create wins: written last
        for plan in plans.values():
            if plan is not None and plan.verb == verb:
                scopes[plan.collection] = plan.parents
    for name, plan in plans.items():
        if plan is not None and plan.collection in scopes:
            plans[name] = dataclasses.replace(plan, parents=scopes[plan.collection])
    return plans


def _response_field(fields: dict[str, tuple[bool, type | None]], item: type) -> str | None:
    for name, (_repeated, msg) in fields.items():
        if msg is item:
            return name
    return None


def _id_field(
    item: type, req_fields: dict[str, tuple[bool, type | None]], path: tuple[str, ...]
) -> str | None:
    own = f"{snake(item.__name__)}_id"
    if own in req_fields:
        return own
    if "id" in req_fields and "id" in path:
        return "id"
    singles = [f for f in path if f in req_fields and not req_fields[f][0]]
    return singles[-1] if singles else None


def default_answer(ep: Endpoint[Any, Any]) -> Callable[[Any], Any]:
    """A handler answering success with an empty response of ``ep``'s type."""

    def answer(_req: Any) -> Any:
        return ep.response_type(status=status(Code.SUCCESS))

    return answer


def serve(state: StateBase, plan: CrudPlan, response_type: type) -> Callable[[Any], Any]:
    """The handler of a CRUD operation over ``state``, answering with ``response_type``."""
    verb = _VERBS_RUN[plan.verb]
    ok = status(Code.SUCCESS)

    def handle(req: Any) -> Any:
        result = verb(state, plan, req)
        if result is None or plan.response_items is None:
            return response_type(status=ok)
        return response_type(status=ok, **{plan.response_items: result})

    return handle


# -- the verbs --------------------------------------------------------------------------------


def _scope(state: StateBase, plan: CrudPlan, req: Any) -> tuple[AppState, dict[str, Any]]:
    app = state.app(getattr(req, "user_app_id", None))
    parent = tuple((f, getattr(req, f, "")) for f in plan.parents)
    return app, app.collection(plan.collection, parent)


def _missing(plan: CrudPlan, ident: str) -> WireError:
    what = _CAMEL.sub(" ", plan.collection).capitalize()
    return WireError(
        plan.missing_code, 404, f"{what} does not exist", f"{what} '{ident}' not found"
    )


def _stamp(state: StateBase, app: AppState, plan: CrudPlan, item: Any) -> Any:
    fields = _fields(plan.collection, plan.item_type)
    changes: dict[str, Any] = {}
    if not item.id:
        changes["id"] = state.new_id(snake(plan.collection).replace("_", "-"))
    stamp = now()
    for name in ("created_at", "modified_at"):
        if name in fields and getattr(item, name) is None:
            changes[name] = stamp
    for name, value in (("user_id", app.user_id), ("app_id", app.app_id)):
        if name in fields and isinstance(getattr(item, name), str) and not getattr(item, name):
            changes[name] = value
    return msgspec.structs.replace(item, **changes) if changes else item


def _create(state: StateBase, plan: CrudPlan, req: Any) -> Any:
    app, store = _scope(state, plan, req)
    given = list(getattr(req, plan.request_items or ""))
    if not given:
        raise invalid(f"{plan.request_items} must not be empty")
    seen: set[str] = set()
    for item in given:
        if item.id and (item.id in store or item.id in seen):
            raise WireError(
                plan.duplicate_code, 400, "Already exists",
                f"{snake(plan.collection).replace('_', ' ')} '{item.id}' already exists",
            )  # fmt: skip
        seen.add(item.id)
    out = []
    for item in given:
        stored = _stamp(state, app, plan, item)
        store[stored.id] = stored
        out.append(stored)
    return out


def _text_matches(item: Any, needle: str) -> bool:
    needle = needle.lower()
    return any(
        needle in str(getattr(item, f, "") or "").lower() for f in ("id", "name", "description")
    )


def _sort_key(req: Any) -> Callable[[Any], Any] | None:
    for flag, attr in _SORTS:
        if getattr(req, flag, None):
            return functools.partial(_sort_value, attr)
    return None


def _sort_value(attr: str, item: Any) -> tuple[bool, Any]:
    # None (an unset time) sorts apart, never against a value.
    value = getattr(item, attr, None)
    return value is None, value


_SORTS = (
    ("sort_by_id", "id"),
    ("sort_by_name", "name"),
    ("sort_by_modified_at", "modified_at"),
    ("sort_by_star_count", "star_count"),
)


def _list(state: StateBase, plan: CrudPlan, req: Any) -> list[Any]:
    """A page of the collection, newest first.

    Honoured when the request has them: ``ids``, ``id``, a text filter
    (``search``, ``query``, ``name``, ``search_term``: a substring of the id,
    name or description), ``model_type_id``, ``starred_only``, ``status_codes``, and the sorts
    ``sort_ascending`` with ``sort_by_id`` / ``_name`` / ``_modified_at`` /
    ``_star_count`` (creation time otherwise).
    """
    _app, store = _scope(state, plan, req)
    items = list(store.values())
    ids = getattr(req, "ids", None)
    if ids:
        wanted = set(ids)
        items = [x for x in items if x.id in wanted]
    one = getattr(req, "id", "")
    if one and isinstance(one, str) and plan.id_field is None:
        items = [x for x in items if x.id == one]
    for name in ("search", "query", "name", "search_term"):
        needle = getattr(req, name, "")
        if needle and isinstance(needle, str):
            items = [x for x in items if _text_matches(x, needle)]
    kind = getattr(req, "model_type_id", "")
    if kind and isinstance(kind, str):
        items = [x for x in items if getattr(x, "model_type_id", kind) == kind]
    if getattr(req, "starred_only", False):
        items = [x for x in items if getattr(x, "is_starred", False)]
    codes = getattr(req, "status_codes", None)
    if codes:
        keep = set(codes)
        items = [x for x in items if getattr(getattr(x, "status", None), "code", None) in keep]
    ascending = bool(getattr(req, "sort_ascending", False))
    if not ascending:
        items.reverse()  # ties keep creation order, newest first when descending
    key = _sort_key(req)
    if key is not None:
        items.sort(key=key, reverse=not ascending)
    return page_of(items, getattr(req, "page", 0), getattr(req, "per_page", 0))


def _get(state: StateBase, plan: CrudPlan, req: Any) -> Any:
    _app, store = _scope(state, plan, req)
    ident = getattr(req, plan.id_field or "")
    found = store.get(ident)
    if found is None:
        raise _missing(plan, ident)
    return found


def _patch(state: StateBase, plan: CrudPlan, req: Any) -> list[Any]:
    _app, store = _scope(state, plan, req)
    given = list(getattr(req, plan.request_items or ""))
    for item in given:
        if item.id not in store:
            raise _missing(plan, item.id)
    action = getattr(req, "action", "") or "merge"
    out = []
    for item in given:
        store[item.id] = patch_message(store[item.id], item, action)
        out.append(store[item.id])
    return out


def _delete(state: StateBase, plan: CrudPlan, req: Any) -> None:
    _app, store = _scope(state, plan, req)
    if getattr(req, "delete_all", False):
        store.clear()
        return
    if plan.id_field is not None:
        ids = [getattr(req, plan.id_field)]
    else:
        ids = list(getattr(req, plan.ids_field or "ids"))
    for ident in ids:
        if ident not in store:
            raise _missing(plan, ident)
    for ident in ids:
        store.pop(ident, None)


_VERBS_RUN: dict[str, Callable[[StateBase, CrudPlan, Any], Any]] = {
    "create": _create,
    "list": _list,
    "get": _get,
    "patch": _patch,
    "delete": _delete,
}
