"""The client's default caps on answer sizes, so no server can exhaust its memory.

Configurable per client: ``Client(max_line_bytes=..., max_body_bytes=...,
max_decompressed_bytes=...)``. Going past one raises
:class:`aioclarifai.ResponseTooLargeError` and drops the connection.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_DECOMPRESSED_BYTES", "DEFAULT_MAX_LINE_BYTES"]

_MIB = 1024 * 1024

#: One line of a streamed answer (a chunk with base64 image data can be tens of MiB).
DEFAULT_MAX_LINE_BYTES = 64 * _MIB
#: A unary answer's body as it arrives on the wire (compressed or not).
DEFAULT_MAX_BODY_BYTES = 256 * _MIB
#: A unary answer's body once inflated (gzip, deflate, br, zstd): a bomb stops here.
DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * _MIB


def check_cap(name: str, value: int) -> int:
    """``value`` if it is a positive int, else a ``ValueError`` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive number of bytes, not {value!r}")
    return value
