"""Typed Clarifai messages: ``types.<MessageName>`` for every message the 50 operations reach.

Fields are named exactly as on the wire. See :mod:`aioclarifai.types._generated`.
"""

from ._base import EMPTY_DICT, EMPTY_LIST, Message
from ._generated import *  # noqa: F403
from ._generated import __all__ as _generated_all

__all__ = ["EMPTY_DICT", "EMPTY_LIST", "Message", *_generated_all]  # noqa: PLE0604
