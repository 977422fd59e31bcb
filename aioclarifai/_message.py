"""The base of every generated Clarifai message Struct, and the shared empty defaults."""

from __future__ import annotations

from typing import Any, NoReturn

import msgspec

__all__ = ["EMPTY_DICT", "EMPTY_LIST", "Message"]

_HINT = "is the shared empty default of a message field; assign a new one instead"


class _EmptyList(list[Any]):
    """An empty list that refuses changes: the one default of every repeated field."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"this list {_HINT} (msg.items = [...])")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


class _EmptyDict(dict[Any, Any]):
    """An empty dict that refuses changes: the one default of every map field."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"this dict {_HINT} (msg.field = {{...}})")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


#: The default of every repeated field. Shared, so decoding a message allocates
#: nothing for the many list fields a response leaves out (a 128-output
#: prediction would otherwise create ~3,700 empty lists, and the garbage
#: collector would spend more time on them than the decoder spends on the JSON).
EMPTY_LIST: list[Any] = _EmptyList()
#: The default of every map field, shared for the same reason.
EMPTY_DICT: dict[Any, Any] = _EmptyDict()


class Message(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True, gc=False):
    """Base of all Clarifai messages.

    ``kw_only``: build messages with keyword arguments. ``omit_defaults``: zero
    values and absent messages are not sent, as protobuf's JSON mapping does.
    Unknown fields in responses are ignored, so newer servers stay compatible.
    ``gc=False``: decoded messages never form reference cycles, and skipping the
    cycle collector's bookkeeping makes large responses cheaper to decode; do not
    build a cycle out of messages yourself.

    Repeated and map fields that were not set hold the shared, read-only
    :data:`EMPTY_LIST` / :data:`EMPTY_DICT`: pass lists when you build a message
    (``Data(concepts=[...])``) or assign a new one (``data.concepts = [c]``);
    appending to an unset field raises ``TypeError``.
    """
