"""Typed Clarifai messages: ``types.<MessageName>`` for every message the operations reach.

Fields are named exactly as on the wire. Generated into
:mod:`aioclarifai._generated.types`; this package is its public name.
"""

from .._generated.types import *  # noqa: F403
from .._generated.types import __all__ as _generated_all
from .._message import EMPTY_DICT, EMPTY_LIST, Message

__all__ = ["EMPTY_DICT", "EMPTY_LIST", "Message", *_generated_all]  # noqa: PLE0604
