"""Model references as Clarifai users write them, for ``predict``, ``batch`` and ``generate``.

Accepted forms (the same ones the official CLI and the Clarifai site use):

- ``MODEL_ID`` — a model of the configured app;
- ``USER/APP/MODEL_ID``;
- ``USER/APP/models/MODEL_ID`` and ``USER/APP/models/MODEL_ID/versions/VERSION_ID``;
- a model URL: ``https://clarifai.com/USER/APP/models/MODEL_ID[/versions/VERSION_ID]``
  (any host, so a private deployment's site works too), or an API URL
  ``https://api.clarifai.com/v2/users/USER/apps/APP/models/MODEL_ID[/versions/VERSION_ID]``.

Workflows (``batch --workflow``) take the same forms with ``workflows`` in
place of ``models``.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

__all__ = ["ACCEPTED_FORMS", "ModelRef", "ModelRefError", "parse_model", "parse_workflow"]

ACCEPTED_FORMS = (
    "MODEL_ID, USER/APP/MODEL_ID, USER/APP/models/MODEL_ID[/versions/VERSION_ID] "
    "or https://clarifai.com/USER/APP/models/MODEL_ID[/versions/VERSION_ID]"
)
# Clarifai ids: letters, digits, '-', '_' and '.'; nothing that would change the URL path.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


class ModelRefError(ValueError):
    """A model reference in none of the accepted forms (the message names them)."""


@dataclass(frozen=True, slots=True)
class ModelRef:
    """Where a model lives: its id, and its user, app and version when the reference named them."""

    model_id: str
    user_id: str | None = None
    app_id: str | None = None
    version_id: str | None = None


def parse_model(text: str) -> ModelRef:
    """A reference in one of the accepted forms → :class:`ModelRef` (:class:`ModelRefError`)."""
    return _parse(text, "models", ACCEPTED_FORMS)


def parse_workflow(text: str) -> ModelRef:
    """A workflow reference, in the same forms with ``workflows`` for ``models``."""
    return _parse(
        text,
        "workflows",
        ACCEPTED_FORMS.replace("models", "workflows").replace("MODEL_ID", "WORKFLOW_ID"),
    )


def _parse(text: str, kind: str, forms: str) -> ModelRef:
    value = text.strip()
    parts = _url_parts(value, kind) if "://" in value else value.split("/")
    ref = _from_parts(parts, kind) if parts else None
    if ref is None:
        raise ModelRefError(f"not a {kind[:-1]} reference: {text!r}; use {forms}")
    return ref


def _url_parts(value: str, kind: str) -> list[str]:
    url = urllib.parse.urlsplit(value)
    if url.scheme not in ("http", "https") or not url.netloc:
        return []
    parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
    # The API's own path: /v2/users/USER/apps/APP/models/MODEL[/versions/V]
    if len(parts) >= 7 and parts[0] == "v2" and parts[1] == "users" and parts[3] == "apps":
        parts = [parts[2], parts[4], *parts[5:]]
    # A URL names the model with its user and app: never the one-part or three-part forms.
    return parts if len(parts) >= 4 and parts[2] == kind else []


def _from_parts(parts: list[str], kind: str) -> ModelRef | None:
    if not all(_ID.match(p) for p in parts):
        return None
    if len(parts) == 1:
        return ModelRef(parts[0])
    if len(parts) == 3:
        return ModelRef(parts[2], parts[0], parts[1])
    if len(parts) == 4 and parts[2] == kind:
        return ModelRef(parts[3], parts[0], parts[1])
    if len(parts) == 6 and parts[2] == kind and parts[4] == "versions":
        return ModelRef(parts[3], parts[0], parts[1], parts[5])
    return None
