"""Helpers every area of the fake's state shares: statuses, errors, pages, patches, ids."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import msgspec

from ... import types as t
from .._wire import WireError

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


def digest(key: bytes) -> bytes:
    return hashlib.blake2b(key, digest_size=16).digest()


def concepts_for(key: bytes, count: int = 5) -> list[t.Concept]:
    """Deterministic concepts for an input whose text, URL or bytes is ``key``."""
    d = digest(key)
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


def ok(cls: type[S], **fields: Any) -> S:
    """A successful response of type ``cls``."""
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


def _merge_value(old: Any, new: Any) -> Any:
    if isinstance(new, dict) and isinstance(old, dict):
        return _deep_merge(old, new)
    if isinstance(new, msgspec.Struct) and type(old) is type(new):
        cls = type(new)
        return msgspec.structs.replace(
            old,
            **{
                f: _merge_value(getattr(old, f), getattr(new, f))
                for f in new.__struct_fields__
                if getattr(new, f) != field_default(cls, f)
            },
        )
    return new


def patch_message(existing: S, patch: S, action: str) -> S:
    """Apply a Clarifai patch ``action`` (merge, overwrite, remove) of ``patch`` onto ``existing``.

    ``merge`` sets the fields ``patch`` sets (maps and messages merged
    deeply, lists replaced); ``overwrite`` replaces everything but identity and creation
    time; ``remove`` deletes the listed ``metadata`` keys and clears the other
    fields ``patch`` sets.
    """
    action = action or "merge"
    if action not in _ACTIONS:
        raise invalid(f"action must be one of {', '.join(_ACTIONS)}, not {action!r}")
    set_fields = {
        f: getattr(patch, f)
        for f in patch.__struct_fields__
        if f not in _KEEP and getattr(patch, f) != field_default(type(patch), f)
    }
    changes: dict[str, Any] = {}
    if action == "overwrite":
        fresh = type(existing)(**{f: getattr(existing, f) for f in _KEEP if hasattr(existing, f)})
        existing = fresh
        changes = set_fields
    elif action == "merge":
        for name, value in set_fields.items():
            old = getattr(existing, name)
            changes[name] = _merge_value(old, value)
    else:
        for name, value in set_fields.items():
            old = getattr(existing, name)
            if isinstance(value, dict) and isinstance(old, dict):
                changes[name] = _deep_remove(old, value)
            elif isinstance(value, list) and isinstance(old, list):
                changes[name] = [v for v in old if v not in value]
            else:
                changes[name] = field_default(type(existing), name)
    if "modified_at" in existing.__struct_fields__:
        changes["modified_at"] = now()
    return msgspec.structs.replace(existing, **changes)


def field_default(cls: type, name: str) -> Any:
    for f in msgspec.structs.fields(cls):
        if f.name == name:
            if f.default_factory is not msgspec.NODEFAULT:
                return f.default_factory()
            return f.default
    raise KeyError(name)  # pragma: no cover


V = TypeVar("V")


def find(store: dict[str, V], ident: str, code: int, what: str) -> V:
    """``store[ident]``, or the 404 the live API answers for a missing ``what``."""
    found = store.get(ident)
    if found is None:
        raise not_found(code, what, ident)
    return found


def patch_each(
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


def delete_each(store: dict[str, Any], ids: Sequence[str], find: Callable[[str], object]) -> None:
    """Delete the entries ``ids`` name (an id listed twice is deleted once); all must exist."""
    for ident in ids:
        find(ident)  # raises the resource's 404
    for ident in ids:
        store.pop(ident, None)


def sorted_like(
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


def default_version(model_id: str) -> str:
    """The version id a model reports when none is named (stable per model id)."""
    return digest(model_id.encode()).hex()
