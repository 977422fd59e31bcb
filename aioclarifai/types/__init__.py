"""Typed Clarifai messages: ``types.<MessageName>`` for every message of the API.

Fields are named exactly as on the wire. Generated into
:mod:`aioclarifai._generated.types`; this package is its public name. Each
name is loaded on first use, so importing it costs almost nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._generated import types as _generated
from .._message import EMPTY_DICT, EMPTY_LIST, Message

# Never true at run time; not a bare ``if TYPE_CHECKING:``, whose imports the
# documentation's reader (griffe) leaves out of the reference.
if TYPE_CHECKING or not __name__:
    from .._generated.types import *  # noqa: F403

__all__ = ["EMPTY_DICT", "EMPTY_LIST", "Message", *_generated.__all__]  # noqa: PLE0604


def __getattr__(name: str) -> Any:
    # Loads the generated module that defines ``name``; later lookups find it here.
    try:
        value = globals()[name] = getattr(_generated, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_generated.__all__})
