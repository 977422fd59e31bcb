"""What an Output shows people: its concepts, best first, and its text."""

from __future__ import annotations

from .. import types

__all__ = ["output_text", "top_concepts"]


def top_concepts(output: types.Output, top: int) -> list[types.Concept]:
    """The ``top`` concepts of ``output`` with the highest values, best first."""
    data = output.data
    if data is None or not data.concepts:
        return []
    return sorted(data.concepts, key=lambda c: c.value, reverse=True)[:top]


def output_text(output: types.Output) -> str | None:
    """The text an output carries (its ``text``, else its parts' texts), or None."""
    data = output.data
    if data is None:
        return None
    if data.text is not None and data.text.raw:
        return data.text.raw
    # Newer models put text in parts.
    for part in data.parts:
        if part.data is not None and part.data.text is not None and part.data.text.raw:
            return part.data.text.raw
    return None
