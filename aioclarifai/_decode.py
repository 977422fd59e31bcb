"""Typed decoding of Clarifai JSON, with a fallback for enum *names*.

The live API sends enums as numbers, which the cached typed decoders read in
one pass (``strict=False`` also lets 64-bit integers arrive as JSON strings).
An enum sent by name (``"CONN_THROTTLED"``) fails that pass; the fallback
decodes to plain JSON, replaces known names by their numbers using the
generated ``ENUM_FIELDS`` table, and converts the result to the typed message.
"""

from __future__ import annotations

import enum
import functools
import types as _pytypes
import typing
from typing import Any, TypeVar

import msgspec

from ._generated import types as _generated

__all__ = ["decode", "decoder_for"]

T = TypeVar("T")


_decoders: dict[type, msgspec.json.Decoder[Any]] = {}


def decoder_for(cls: type[T]) -> msgspec.json.Decoder[T]:
    """The cached typed decoder of ``cls``."""
    # A plain dict rather than functools.cache, which would erase the type for mypy.
    decoder = _decoders.get(cls)
    if decoder is None:
        decoder = _decoders[cls] = msgspec.json.Decoder(cls, strict=False)
    return decoder


def decode(cls: type[T], data: bytes | str) -> T:
    """Decode ``data`` as ``cls``, accepting enum names as well as numbers."""
    try:
        return decoder_for(cls).decode(data)
    except msgspec.ValidationError:
        raw = msgspec.json.decode(data)
        return msgspec.convert(_enum_names_to_numbers(cls, raw), cls, strict=False)


def convert(cls: type[T], raw: Any) -> T:
    """Like :func:`decode` for an already parsed JSON value."""
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError:
        return msgspec.convert(_enum_names_to_numbers(cls, raw), cls, strict=False)


@functools.cache
def _struct_children(cls: type) -> dict[str, tuple[str, type | None, type[enum.IntEnum] | None]]:
    """Per wire name: (kind, message type, enum type) for fields that need walking."""
    out: dict[str, tuple[str, type | None, type[enum.IntEnum] | None]] = {}
    enums = _generated.ENUM_FIELDS.get(cls.__name__, {})
    for f in msgspec.structs.fields(cls):
        enum_cls = enums.get(f.name)
        kind, msg = _shape(f.type)
        if enum_cls is not None or msg is not None:
            out[f.encode_name] = (kind, msg, enum_cls)
    return out


def _shape(tp: Any) -> tuple[str, type | None]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, _pytypes.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _shape(args[0]) if len(args) == 1 else ("one", None)
    if origin is list:
        return ("list", _shape(typing.get_args(tp)[0])[1])
    if origin is dict:
        return ("dict", _shape(typing.get_args(tp)[1])[1])
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return ("one", tp)
    return ("one", None)


def _fix_value(value: Any, enum_cls: type[enum.IntEnum] | None) -> Any:
    if enum_cls is not None and isinstance(value, str) and not value.lstrip("-").isdigit():
        # Members only: getattr would also find "mro", "__class__", ... and int() them.
        member = enum_cls.__members__.get(value)
        return value if member is None else int(member)  # unknown: the typed pass reports it
    return value


def _enum_names_to_numbers(cls: type, raw: Any) -> Any:
    if not isinstance(raw, dict):
        return raw
    children = _struct_children(cls)
    for key, (kind, msg, enum_cls) in children.items():
        if key not in raw:
            continue
        value = raw[key]
        if kind == "list" and isinstance(value, list):
            raw[key] = [
                _enum_names_to_numbers(msg, v) if msg else _fix_value(v, enum_cls) for v in value
            ]
        elif kind == "dict" and isinstance(value, dict):
            raw[key] = {
                k: _enum_names_to_numbers(msg, v) if msg else _fix_value(v, enum_cls)
                for k, v in value.items()
            }
        elif msg is not None:
            raw[key] = _enum_names_to_numbers(msg, value)
        else:
            raw[key] = _fix_value(value, enum_cls)
    return raw
