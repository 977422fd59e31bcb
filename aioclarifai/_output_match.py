"""Pure functions of batched predicts: payload sizes, batch ids, and matching outputs to inputs.

No I/O, no futures, no state: the coalescing engine (:mod:`aioclarifai._batching`)
calls these to size a batch, to give its inputs ids unique within it, and to
hand each caller the output that belongs to its input — by the echoed input
id, falling back to position — or the :class:`OutputError` that stands for it.
"""

from __future__ import annotations

import msgspec

from . import types
from ._errors import APIStatusError, OutputError

__all__ = ["assign_ids", "match", "outcome", "partial_outputs", "payload_size"]

_SUCCESS = 10000
_MIXED_STATUS = 10010
_FAILURE = 10020


def payload_size(data: types.Data) -> int:
    """Approximate bytes ``data``'s inline payloads add to a JSON body (base64 is 4/3).

    The common inputs (an image or text, by URL or inline) are sized from two
    fields; the rest only when one of them is set.
    """
    image, text = data.image, data.text
    size = len(image.base64) * 4 // 3 if image is not None else 0
    if text is not None:
        size += len(text.raw)
    if data.video is not None or data.audio is not None or data.ndarray is not None or data.parts:
        size += _other_size(data)
    return size


def _other_size(data: types.Data) -> int:
    raw = 0
    if data.video is not None:
        raw += len(data.video.base64)
    if data.audio is not None:
        raw += len(data.audio.base64)
    if data.ndarray is not None:
        raw += len(data.ndarray.buffer)
    size = raw * 4 // 3
    for part in data.parts:
        if part.data is not None:
            size += payload_size(part.data)
    return size


def assign_ids(inputs: list[types.Input]) -> tuple[list[types.Input], list[str]]:
    """Inputs to send with ids unique in the batch, and those ids.

    A caller's id is kept when it is set and unique here; others get a made-up
    id on a copy of the input (the caller's own input is never modified).
    """
    ids = [inp.id for inp in inputs]
    seen = set(ids)
    if len(seen) == len(ids) and "" not in seen:
        return inputs, ids
    dups: set[str] = set()
    once: set[str] = set()
    for i in ids:
        if i in once:
            dups.add(i)
        once.add(i)
    sent = list(inputs)
    for n, i in enumerate(ids):
        if i and i not in dups:
            continue
        made = f"aioclarifai-{n}"
        while made in seen:
            made += "_"
        seen.add(made)
        ids[n] = made
        sent[n] = msgspec.structs.replace(inputs[n], id=made)
    return sent, ids


def partial_outputs(
    error: APIStatusError,
) -> tuple[list[types.Output] | None, types.Status | None]:
    """Outputs of a MIXED_STATUS/FAILURE answer (and FAILURE's status), or None."""
    response = error.response
    if (
        error.code in (_MIXED_STATUS, _FAILURE)
        and isinstance(response, types.MultiOutputResponse)
        and response.outputs
    ):
        return response.outputs, response.status if error.code == _FAILURE else None
    return None, None


def match(outputs: list[types.Output], ids: list[str], n: int) -> list[types.Output | None]:
    """Outputs for each of ``n`` sent inputs: by echoed input id, then by position.

    Only outputs that name no input of the batch fall back to their position:
    one that echoes a sent id belongs to that input, or to nobody.
    """
    matched: list[types.Output | None] = [None] * n
    index: dict[str, int] | None = None
    unmatched: list[int] = []
    for pos, out in enumerate(outputs):
        echo = out.input
        oid = echo.id if echo is not None else ""
        if pos < n and oid == ids[pos] and oid:
            slot = pos
        elif oid:
            if index is None:
                index = {v: k for k, v in enumerate(ids)}
            slot = index.get(oid, -1)
        else:
            slot = -1
        if slot < 0:
            unmatched.append(pos)
        elif matched[slot] is None:
            matched[slot] = out
        # else: a second output for an input already answered is nobody else's either.
    for pos in unmatched:
        if pos < n and matched[pos] is None:
            matched[pos] = outputs[pos]
    return matched


def outcome(
    out: types.Output | None,
    original: types.Input,
    fallback: types.Status | None,
    req_id: str = "",
) -> types.Output | OutputError:
    """The caller's result: its output (echoing its own input) or an ``OutputError``.

    A successful output carries the ``req_id`` of the request that produced
    it in its ``status.req_id`` (outputs' own statuses come without one).
    """
    if out is None:
        return OutputError(None, fallback, "the response has no output for this input")
    echo = out.input
    if echo is None:
        out.input = original
    elif echo.id != original.id:
        echo.id = original.id  # the id was made up for the batch
    status = out.status
    if status is not None and status.code not in (0, _SUCCESS):
        return OutputError(out, status)
    if fallback is not None and (status is None or status.code == 0):
        return OutputError(out, fallback)
    if req_id:
        if status is None:
            out.status = types.Status(req_id=req_id)
        elif not status.req_id:
            status.req_id = req_id
    return out
