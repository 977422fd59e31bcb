"""Input kinds and inference settings of the command line.

- **Kinds**: ``image``, ``video``, ``audio``, ``text``. A URL or file without
  an explicit kind is judged by the MIME type its extension implies
  (:mod:`mimetypes`), else it is an image, as Clarifai's visual models expect.
- **Inference parameters** (``-p key=value``): the value is parsed as JSON
  when it is JSON (numbers, ``true``/``false``, ``null``, objects, arrays,
  quoted strings), else kept as a string; they go to
  ``model.model_version.output_info.params``, where the live API reads them
  (temperature, max_tokens, ...).
- **Output settings** (``--min-value``, ``--max-concepts``,
  ``--select-concepts``) go to ``model.model_version.output_info.output_config``.
"""

from __future__ import annotations

import json
import mimetypes
import urllib.parse
from typing import Any

from .. import types

__all__ = ["KINDS", "data_for", "guess_kind", "model_settings", "parse_params"]

KINDS = ("image", "video", "audio", "text")


def guess_kind(name: str) -> str | None:
    """The kind a file name or URL's extension implies (None when it implies none of them)."""
    path = urllib.parse.urlsplit(name).path if "://" in name else name
    mime = mimetypes.guess_type(path)[0] or ""
    major = mime.split("/")[0]
    if major in KINDS:
        return major
    return None


def data_for(
    kind: str, *, url: str | None = None, content: bytes | None = None, text: str | None = None
) -> types.Data:
    """The ``Data`` holding one value of ``kind``: a URL, raw bytes, or (text only) a string.

    ``ValueError`` when ``kind`` is unknown.
    """
    if kind == "text":
        if text is not None:
            return types.Data(text=types.Text(raw=text))
        if url is not None:
            return types.Data(text=types.Text(url=url))
        return types.Data(text=types.Text(raw=(content or b"").decode("utf-8", "replace")))
    if kind not in KINDS:
        raise ValueError(f"unknown input type {kind!r} (expected one of {', '.join(KINDS)})")
    if text is not None:
        raise ValueError(f"a text cannot be sent as {kind}")
    if kind == "image":
        return types.Data(
            image=types.Image(url=url) if url is not None else types.Image(base64=content or b"")
        )
    if kind == "video":
        return types.Data(
            video=types.Video(url=url) if url is not None else types.Video(base64=content or b"")
        )
    return types.Data(
        audio=types.Audio(url=url) if url is not None else types.Audio(base64=content or b"")
    )


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["temperature=0.2", "stream=true", "stop=[\\"x\\"]"]`` → a params dict (``ValueError``)."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"-p takes key=value, not {item!r}")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw  # a plain word: a string parameter
    return params


def model_settings(
    *,
    params: dict[str, Any] | None = None,
    min_value: float | None = None,
    max_concepts: int | None = None,
    select_concepts: list[str] | None = None,
) -> types.Model | None:
    """The ``Model`` of a request carrying these settings (None when there are none).

    ``select_concepts`` are concept names, or ``id:CONCEPT_ID`` for an id.
    """
    if min_value is not None and not 0.0 <= min_value <= 1.0:
        raise ValueError("--min-value must be between 0 and 1")
    if max_concepts is not None and max_concepts < 1:
        raise ValueError("--max-concepts must be at least 1")
    fields: dict[str, Any] = {}  # only what was given, so the defaults stay off the wire
    if min_value is not None:
        fields["min_value"] = min_value
    if max_concepts is not None:
        fields["max_concepts"] = max_concepts
    if select_concepts:
        fields["select_concepts"] = [_concept(c) for c in select_concepts]
    config = types.OutputConfig(**fields) if fields else None
    if config is None and not params:
        return None
    info = types.OutputInfo(output_config=config, params=params or None)
    return types.Model(model_version=types.ModelVersion(output_info=info))


def _concept(text: str) -> types.Concept:
    name = text.strip()
    if not name:
        raise ValueError("--select-concepts takes names separated by commas, not an empty one")
    if name.startswith("id:"):
        return types.Concept(id=name[3:])
    return types.Concept(name=name)
