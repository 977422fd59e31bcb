"""The base of every generated Clarifai message Struct."""

from __future__ import annotations

import msgspec

__all__ = ["Message"]


class Message(msgspec.Struct, kw_only=True, omit_defaults=True, repr_omit_defaults=True, gc=False):
    """Base of all Clarifai messages.

    ``kw_only``: build messages with keyword arguments. ``omit_defaults``: zero
    values and absent messages are not sent, as protobuf's JSON mapping does.
    Unknown fields in responses are ignored, so newer servers stay compatible.
    ``gc=False``: decoded messages never form reference cycles, and skipping the
    cycle collector's bookkeeping makes large responses cheaper to decode; do not
    build a cycle out of messages yourself.
    """
