"""How the fake runs a search query over stored inputs and annotations.

Filters (all must hold; ``negate`` flips one) match:

- ``input.id`` / ``annotation.input_id``: the input's id;
- ``…data.concepts``: a concept (by id, or by name when the id is empty) the
  input carries, in its own data or in one of its annotations; as on the
  live API, value 1 asks for the concept and value 0 (the default) for its
  absence;
- ``…data.metadata``: every key/value given is in the input's metadata
  (nested maps compared key by key);
- ``input.dataset_ids``: the input is in one of these datasets;
- ``annotation.user_id``: (annotation searches) who made the annotation.

Ranks order the hits by a deterministic score in [0, 1]: by concepts, the
value the input carries for them; by text, the share of the query's words in
the input's text, by an input (``annotation.input_id`` or media), closeness to
it (the input itself scores 1). Without ranks every hit scores 1, newest
first. Ties fall back to a per-input hash, so results never depend on timing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ... import types as t
from ._app import AppState
from ._common import digest, invalid

__all__ = ["annotation_matches", "input_concepts", "input_hits", "input_matches", "rank_score"]

_WORD = re.compile(r"\w+")


def input_concepts(inp: Any, annotations: Iterable[Any]) -> dict[str, float]:
    """Concept id and name → value, over the input's data and its annotations."""
    out: dict[str, float] = {}
    sources = [inp.data] + [a.data for a in annotations]
    for data in sources:
        if data is None:
            continue
        for c in data.concepts:
            value = c.value if c.value else 1.0
            for key in (c.id, c.name):
                if key:
                    out[key] = max(out.get(key, 0.0), value)
    return out


def _metadata_contains(have: Any, want: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(have, dict) and all(
            k in have and _metadata_contains(have[k], v) for k, v in want.items()
        )
    return bool(have == want)


def _data_matches(data: Any, inp: Any, concepts: dict[str, float]) -> bool:
    if data is None:
        return True
    for c in data.concepts:
        key = c.id or c.name
        if (concepts.get(key, 0.0) > 0) != (c.value > 0):
            return False
    if data.metadata:
        have = inp.data.metadata if inp.data is not None else None
        if not _metadata_contains(have or {}, data.metadata):
            return False
    return True


def _check_query(query: Any) -> None:
    if query is not None and query.ands:
        raise invalid("query.ands is the legacy form; FakeClarifai takes filters and ranks")


def input_matches(query: Any, inp: Any, annotations: list[Any]) -> bool:
    """Whether ``inp`` (with its ``annotations``) passes every filter of ``query``."""
    _check_query(query)
    if query is None:
        return True
    concepts: dict[str, float] | None = None
    for f in query.filters:
        ok = True
        if f.input is not None:
            want = f.input
            if want.id and want.id != inp.id:
                ok = False
            if ok and want.dataset_ids and not set(want.dataset_ids) & set(inp.dataset_ids):
                ok = False
            if ok and want.data is not None:
                concepts = concepts if concepts is not None else input_concepts(inp, annotations)
                ok = _data_matches(want.data, inp, concepts)
        if ok and f.annotation is not None:
            ann = f.annotation
            if ann.input_id and ann.input_id != inp.id:
                ok = False
            if ok and ann.user_id and not any(a.user_id == ann.user_id for a in annotations):
                ok = False
            if ok and ann.data is not None:
                concepts = concepts if concepts is not None else input_concepts(inp, annotations)
                ok = _data_matches(ann.data, inp, concepts)
        if ok == f.negate:
            return False
    return True


def annotation_matches(query: Any, annotation: Any, inp: Any) -> bool:
    """Whether one annotation (of input ``inp``) passes every filter of ``query``."""
    _check_query(query)
    if query is None:
        return True
    own = input_concepts(_Bare(annotation.data), ())
    for f in query.filters:
        ok = True
        if f.input is not None and f.input.id and f.input.id != annotation.input_id:
            ok = False
        if ok and f.annotation is not None:
            ann = f.annotation
            if ann.input_id and ann.input_id != annotation.input_id:
                ok = False
            if ok and ann.user_id and ann.user_id != annotation.user_id:
                ok = False
            if ok and ann.data is not None:
                ok = _data_matches(ann.data, inp, own)
        if ok == f.negate:
            return False
    return True


class _Bare:
    """An input-like holder of one ``data``, to read an annotation's own concepts."""

    def __init__(self, data: Any) -> None:
        self.data = data


def _text_of(inp: Any) -> str:
    data = inp.data
    if data is None:
        return ""
    if data.text is not None and data.text.raw:
        return str(data.text.raw)
    return str(getattr(data, "string_value", "") or "")


def _media_key(data: Any) -> bytes:
    for media in (data.image, data.video, data.audio, data.text):
        if media is None:
            continue
        for attr in ("url", "raw"):
            value = getattr(media, attr, "")
            if value:
                return str(value).encode()
        blob = getattr(media, "base64", b"")
        if blob:
            return bytes(blob)
    return b""


def _hash_score(key: bytes, input_id: str) -> float:
    d = digest(key + b"\0" + input_id.encode())
    return int.from_bytes(d[:4], "big") / 2**32


def rank_score(query: Any, inp: Any, annotations: list[Any], by_id: dict[str, Any]) -> float:
    """The score of ``inp`` under ``query``'s ranks (1.0 without ranks), rounded to 6 places."""
    if query is None or not query.ranks:
        return 1.0
    total = 0.0
    for rank in query.ranks:
        ann = rank.annotation
        if ann is None:
            continue
        s = _one_rank(ann, inp, annotations, by_id)
        total += 1.0 - s if rank.negate else s
    return round(total / len(query.ranks), 6)


def _one_rank(ann: Any, inp: Any, annotations: list[Any], by_id: dict[str, Any]) -> float:
    data = ann.data
    if ann.input_id:
        if ann.input_id == inp.id:
            return 1.0
        ref = by_id.get(ann.input_id)
        key = _media_key(ref.data) if ref is not None and ref.data is not None else b""
        return 0.9 * _hash_score(key or ann.input_id.encode(), inp.id)
    if data is None:
        return 0.0
    if data.concepts:
        have = input_concepts(inp, annotations)
        return sum(have.get(c.id or c.name, 0.0) for c in data.concepts) / len(data.concepts)
    if data.text is not None and data.text.raw:
        words = set(_WORD.findall(data.text.raw.lower()))
        mine = set(_WORD.findall(_text_of(inp).lower()))
        overlap = len(words & mine) / len(words) if words else 0.0
        return 0.8 * overlap + 0.2 * _hash_score(data.text.raw.encode(), inp.id)
    key = _media_key(data)
    if key:
        same = inp.data is not None and _media_key(inp.data) == key
        return 1.0 if same else 0.9 * _hash_score(key, inp.id)
    return 0.0


def input_hits(app: AppState, query: Any, min_value: float = 0.0) -> list[t.Hit]:
    """The app's inputs passing ``query``'s filters, best score first (ties: newest first)."""
    by_input: dict[str, list[Any]] = {}
    for a in app.collection("Annotation").values():
        by_input.setdefault(a.input_id, []).append(a)
    hits = []
    for inp in reversed(app.inputs.values()):
        annotations = by_input.get(inp.id, [])
        if input_matches(query, inp, annotations):
            score = rank_score(query, inp, annotations, app.inputs)
            if score >= min_value:
                hits.append(t.Hit(score=score, input=inp, user_id=app.user_id, app_id=app.app_id))
    hits.sort(key=lambda h: -h.score)
    return hits
