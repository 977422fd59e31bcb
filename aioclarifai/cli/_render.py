"""What an Output shows people: its concepts, best first, and its value as text.

Classic models answer with ``data.text.raw`` or concepts; current ("pythonic")
models with ``data.string_value``, ``int_value``, ``float_value``,
``bool_value``, ``bytes_value`` or ``parts`` (named parts, each with its own
data). All of them print; none is dropped.
"""

from __future__ import annotations

import base64

from .. import types

__all__ = ["data_text", "output_text", "top_concepts"]


def top_concepts(output: types.Output, top: int) -> list[types.Concept]:
    """The ``top`` concepts of ``output`` with the highest values, best first."""
    data = output.data
    if data is None or not data.concepts:
        return []
    return sorted(data.concepts, key=lambda c: c.value, reverse=True)[:top]


def output_text(output: types.Output) -> str | None:
    """The value an output carries, as text (see :func:`data_text`), or None."""
    return data_text(output.data) if output.data is not None else None


def data_text(data: types.Data) -> str | None:
    """A ``Data``'s value as text: its text or string; its parts, one ``id: value``
    line each; a number or boolean; bytes as UTF-8 text, else a base64 line. None
    when it holds none of these (concepts, regions, embeddings... print otherwise)."""
    if data.text is not None and data.text.raw:
        return data.text.raw
    if data.string_value:
        return data.string_value
    if data.parts:
        lines = []
        for i, part in enumerate(data.parts):
            text = data_text(part.data) if part.data is not None else None
            if text is not None:
                lines.append(text if len(data.parts) == 1 else f"{part.id or i}: {text}")
        if lines:
            return "\n".join(lines)
    if data.int_value:
        return str(data.int_value)
    if data.float_value:
        return repr(data.float_value)
    if data.bool_value:
        return "true"
    if data.bytes_value:
        try:
            return data.bytes_value.decode("utf-8")
        except UnicodeDecodeError:
            encoded = base64.b64encode(data.bytes_value).decode()
            return f"{len(data.bytes_value)} bytes, base64: {encoded}"
    return None
