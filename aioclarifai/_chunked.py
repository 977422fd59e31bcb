"""Many inputs through an operation that takes a list: ``PostInputs``, ``PostWorkflowResults``.

:func:`map_chunks` cuts a (sync or async) iterable of inputs into requests of
up to ``size`` inputs, keeps up to ``concurrency`` requests in flight, and
yields one result per input, in input order: memory stays bounded by
``size * concurrency`` inputs however long the iterable. Each request goes
through the client's own call (and so its retry policy and rate gate).

:func:`add_inputs` and :func:`workflow_results` are the two users: they pair
each input with its item of the answer (by id, else by position) and turn an
item's failed status into an :class:`OutputError` in that input's place; a
request that failed as a whole gives its error to each of its inputs. A
``FAILURE`` answer (every input failed, HTTP 400) still carries the items, so
each input gets its own status.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from . import types
from ._errors import APIStatusError, BadRequestError, ClarifaiError, OutputError
from ._predict_many import END, puller

__all__ = ["add_inputs", "map_chunks", "workflow_results"]

R = TypeVar("R")

MAX_INPUTS_PER_ADD = 128
"""Inputs per PostInputs request: Clarifai's cap."""
MAX_INPUTS_PER_WORKFLOW = 32
"""Inputs per PostWorkflowResults request: the live API's cap."""
_MIXED, _FAILURE = 10010, 10020
# An added input's own status while its media is fetched: not a failure.
_INPUT_OK = frozenset({0, 10000, 30000, 30001, 30003})


async def map_chunks(
    inputs: Iterable[types.Input] | AsyncIterable[types.Input],
    send: Callable[[list[types.Input]], Awaitable[list[R | Exception]]],
    *,
    size: int,
    concurrency: int,
) -> AsyncIterator[R | Exception]:
    """``send`` each chunk of up to ``size`` inputs; yield its results, in input order.

    Leaving the iteration early cancels the requests in flight.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, not {size!r}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency!r}")
    pull, awaited = puller(inputs)
    pending: deque[asyncio.Task[list[R | Exception]]] = deque()
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < concurrency:
                chunk: list[types.Input] = []
                while len(chunk) < size:
                    item = await pull() if awaited else pull()
                    if item is END:
                        exhausted = True
                        break
                    chunk.append(item)
                if chunk:
                    pending.append(asyncio.ensure_future(send(chunk)))
            if not pending:
                return
            for result in await pending.popleft():
                yield result
    finally:
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _paired(
    sent: list[types.Input], items: list[Any], item_input: Callable[[Any], Any]
) -> list[Any]:
    """The answer's item for each sent input: by echoed input id, else by position."""
    by_id: dict[str, Any] = {}
    for item in items:
        echoed = item_input(item)
        if echoed is not None and echoed.id:
            by_id.setdefault(echoed.id, item)
    paired = []
    for i, inp in enumerate(sent):
        item = by_id.get(inp.id) if inp.id else None
        if item is None and len(items) == len(sent):
            item = items[i]
        paired.append(item)
    return paired


class ListSender(Protocol):
    """What these helpers need of a client: the two list operations (a narrow protocol)."""

    async def post_inputs(
        self, request: types.PostInputsRequest | None = None, /, **fields: Any
    ) -> types.MultiInputResponse:
        """PostInputs."""

    async def post_workflow_results(
        self, request: types.PostWorkflowResultsRequest | None = None, /, **fields: Any
    ) -> types.PostWorkflowResultsResponse:
        """PostWorkflowResults."""


def add_inputs(
    client: ListSender,
    inputs: Iterable[types.Input] | AsyncIterable[types.Input],
    *,
    user_app_id: types.UserAppIDSet | None = None,
    batch_size: int = MAX_INPUTS_PER_ADD,
    concurrency: int = 4,
) -> AsyncIterator[types.Input | Exception]:
    """Add ``inputs`` to the app in PostInputs requests; the added Input or the error, in order.

    A request refused as a bad request (one input's fault, such as an id the
    app already has) is retried one input per request, so the others are
    still added and each input gets its own outcome.
    """
    if not 1 <= batch_size <= MAX_INPUTS_PER_ADD:
        raise ValueError(f"batch_size must be between 1 and {MAX_INPUTS_PER_ADD}, not {batch_size}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency!r}")

    async def send(chunk: list[types.Input]) -> list[types.Input | Exception]:
        try:
            response = await client.post_inputs(user_app_id=user_app_id, inputs=chunk)
            items, top = list(response.inputs), response.status
        except APIStatusError as exc:
            answer = exc.response
            if (
                exc.code == _FAILURE
                and isinstance(answer, types.MultiInputResponse)
                and answer.inputs
            ):
                items, top = list(answer.inputs), answer.status
            elif isinstance(exc, BadRequestError) and len(chunk) > 1:
                results: list[types.Input | Exception] = []
                for one in chunk:  # each input alone: its own outcome
                    results += await send([one])
                return results
            else:
                return [exc] * len(chunk)
        except ClarifaiError as exc:
            return [exc] * len(chunk)
        judged = top is not None and top.code in (_MIXED, _FAILURE)
        out: list[types.Input | Exception] = []
        for item in _paired(chunk, items, lambda x: x):
            if item is None:
                out.append(OutputError(None, top, "the answer has no item for this input"))
            elif judged and item.status is not None and item.status.code not in _INPUT_OK:
                out.append(OutputError(None, item.status))
            else:
                out.append(item)
        return out

    return map_chunks(inputs, send, size=batch_size, concurrency=concurrency)


def workflow_results(
    client: ListSender,
    workflow_id: str,
    inputs: Iterable[types.Input] | AsyncIterable[types.Input],
    *,
    version_id: str | None = None,
    user_app_id: types.UserAppIDSet | None = None,
    output_config: types.OutputConfig | None = None,
    batch_size: int = MAX_INPUTS_PER_WORKFLOW,
    concurrency: int = 4,
) -> AsyncIterator[types.WorkflowResult | Exception]:
    """Run ``workflow_id`` over ``inputs`` in PostWorkflowResults requests; each input's
    WorkflowResult (every node's output) or its error, in order."""
    if not 1 <= batch_size <= MAX_INPUTS_PER_WORKFLOW:
        raise ValueError(
            f"batch_size must be between 1 and {MAX_INPUTS_PER_WORKFLOW}, not {batch_size}"
        )
    if not workflow_id:
        raise ValueError("workflow_results needs a workflow_id")
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency!r}")

    async def send(chunk: list[types.Input]) -> list[types.WorkflowResult | Exception]:
        try:
            response = await client.post_workflow_results(
                user_app_id=user_app_id, workflow_id=workflow_id, version_id=version_id or "",
                inputs=chunk, output_config=output_config,
            )  # fmt: skip
            items, top = list(response.results), response.status
        except APIStatusError as exc:
            answer = exc.response
            if (
                exc.code == _FAILURE
                and isinstance(answer, types.PostWorkflowResultsResponse)
                and answer.results
            ):
                items, top = list(answer.results), answer.status
            else:
                return [exc] * len(chunk)
        except ClarifaiError as exc:
            return [exc] * len(chunk)
        out: list[types.WorkflowResult | Exception] = []
        for item in _paired(chunk, items, lambda r: r.input):
            if item is None:
                out.append(OutputError(None, top, "the answer has no result for this input"))
            elif item.status is not None and item.status.code not in (0, 10000):
                out.append(OutputError(None, item.status))
            else:
                out.append(item)
        return out

    return map_chunks(inputs, send, size=batch_size, concurrency=concurrency)
