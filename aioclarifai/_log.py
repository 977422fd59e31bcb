"""``AIOCLARIFAI_LOG=debug|info``: log the ``aioclarifai`` logger to stderr without code.

``info`` shows retries and warnings; ``debug`` adds one line per attempt
(operation, method, path, HTTP status, Clarifai code, ``req_id``, duration,
attempt number and an abridged body — the PAT is blanked out). Applications
that configure logging themselves need not set it: the logger is
``logging.getLogger("aioclarifai")``.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Mapping

__all__ = ["ENV_VAR", "configure_from_env"]

ENV_VAR = "AIOCLARIFAI_LOG"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_FORMAT = "[%(asctime)s %(levelname)s %(name)s] %(message)s"


class _EnvHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler this module adds (told apart so it is added once)."""


def configure_from_env(env: Mapping[str, str] | None = None) -> logging.Handler | None:
    """Set up the ``aioclarifai`` logger as ``AIOCLARIFAI_LOG`` asks; the handler added, if any.

    Unset or empty: nothing changes. An unknown value is ignored with a
    ``RuntimeWarning`` naming the accepted ones. Calling it again changes the
    level but never adds a second handler.
    """
    value = (os.environ if env is None else env).get(ENV_VAR, "").strip().lower()
    if not value:
        return None
    level = _LEVELS.get(value)
    if level is None:
        warnings.warn(
            f"{ENV_VAR}={value!r} is ignored: use one of {', '.join(_LEVELS)}",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    logger = logging.getLogger("aioclarifai")
    logger.setLevel(level)
    for handler in logger.handlers:
        if isinstance(handler, _EnvHandler):
            return handler
    handler = _EnvHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    return handler
