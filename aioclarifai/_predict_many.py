"""``predict_many``: an (async) iterable of inputs through the batcher, with bounded memory.

At most ``concurrency`` inputs are pulled ahead of the results handed out;
``inputs`` is never materialised. Results come in input order (``ordered``)
or as they complete. Leaving the iteration — its end, ``break``, an error,
cancellation — withdraws every predict still outstanding, so the batcher sends
nothing for them and no request is kept running on their behalf.

This module starts no task: each input becomes one future of the coalescing
engine (:mod:`aioclarifai._batching`), which owns the requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from asyncio import Future
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from . import types

__all__ = [
    "END",
    "Submit",
    "check_concurrency",
    "predict_many",
    "puller",
    "result",
    "withdraw",
]

Submit = Callable[[Any], "Future[types.Output] | Awaitable[Future[types.Output]]"]
"""Queue one input (anything else gets its TypeError in its place): its future, or
(when the engine's queue is full) an awaitable of it."""


def check_concurrency(concurrency: int) -> None:
    """Raise ``ValueError`` unless ``concurrency`` is a positive int."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive int, not {concurrency!r}")


def predict_many(
    submit: Submit,
    withdrawn: Callable[[], None],
    inputs: Iterable[types.Input] | AsyncIterable[types.Input],
    *,
    concurrency: int,
    ordered: bool,
    return_exceptions: bool,
) -> AsyncIterator[types.Output | Exception]:
    """The outputs (or, with ``return_exceptions``, the errors) of every input.

    Without ``return_exceptions`` the first failure is raised after the
    outstanding predicts are withdrawn; ``withdrawn()`` is then called, for
    the engine to stop requests nobody waits for any more. ``concurrency`` was checked by
    :func:`check_concurrency` before anything was set up.
    """
    if ordered:
        return _ordered(submit, withdrawn, inputs, concurrency, return_exceptions)
    return _unordered(submit, withdrawn, inputs, concurrency, return_exceptions)


async def _ordered(
    submit: Submit,
    withdrawn: Callable[[], None],
    inputs: Iterable[types.Input] | AsyncIterable[types.Input],
    concurrency: int,
    return_exceptions: bool,
) -> AsyncIterator[types.Output | Exception]:
    pull, awaited = puller(inputs)
    pending: deque[Future[types.Output]] = deque()
    exhausted = False
    try:
        while True:
            while pending and pending[0].done():
                fut = pending.popleft()
                # result(), inlined: this runs once per input.
                exc = fut.exception()
                if exc is None:
                    yield fut.result()
                elif return_exceptions and isinstance(exc, Exception):
                    yield exc
                else:
                    raise exc
            if not exhausted and len(pending) < concurrency:
                # A sync iterable never lets the loop run, so no result completes while
                # it is read: fill up to ``concurrency`` before looking at results again.
                while True:
                    item = await pull() if awaited else pull()
                    if item is END:
                        exhausted = True
                        break
                    submitted = submit(item)
                    pending.append(submitted if isinstance(submitted, Future) else await submitted)
                    if awaited or len(pending) >= concurrency:
                        break
                continue
            if not pending:
                return
            # Errors are read from the future above, in order.
            with contextlib.suppress(Exception):
                await pending[0]
    finally:
        withdraw(pending)
        withdrawn()


async def _unordered(
    submit: Submit,
    withdrawn: Callable[[], None],
    inputs: Iterable[types.Input] | AsyncIterable[types.Input],
    concurrency: int,
    return_exceptions: bool,
) -> AsyncIterator[types.Output | Exception]:
    pull, awaited = puller(inputs)
    outstanding: set[Future[types.Output]] = set()
    completed: deque[Future[types.Output]] = deque()
    wakeup: Future[None] | None = None

    def on_done(fut: Future[types.Output]) -> None:
        completed.append(fut)
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    exhausted = False
    try:
        while True:
            while completed:
                fut = completed.popleft()
                outstanding.discard(fut)
                yield result(fut, return_exceptions)
            if not exhausted and len(outstanding) < concurrency:
                item = await pull() if awaited else pull()
                if item is END:
                    exhausted = True
                else:
                    submitted = submit(item)
                    fut = submitted if isinstance(submitted, Future) else await submitted
                    outstanding.add(fut)
                    fut.add_done_callback(on_done)
                continue
            if not outstanding:
                return
            wakeup = asyncio.get_running_loop().create_future()
            try:
                await wakeup
            finally:
                wakeup = None
    finally:
        completed.clear()  # their results were delivered or are dropped with the iterator
        withdraw(outstanding)
        withdrawn()


class _EndType:
    __slots__ = ()


END = _EndType()
"""What a :func:`puller` returns once the inputs are exhausted."""


def puller(
    inputs: Iterable[types.Input] | AsyncIterable[types.Input],
) -> tuple[Callable[[], Any], bool]:
    """A ``next`` over a sync or async iterable returning ``END`` when done, and whether
    it must be awaited (async iterables only: a sync one costs no coroutine per item)."""
    if isinstance(inputs, AsyncIterable):
        ait = aiter(inputs)
        return functools.partial(anext, ait, END), True
    return functools.partial(next, iter(inputs), END), False


def result(fut: Future[types.Output], return_exceptions: bool) -> types.Output | Exception:
    """A done predict's output or its error (returned if ``return_exceptions``, else raised)."""
    exc = fut.exception()
    if exc is None:
        return fut.result()
    if return_exceptions and isinstance(exc, Exception):
        return exc
    raise exc


def withdraw(futures: Iterable[Future[types.Output]]) -> None:
    """Cancel unfinished predicts of an abandoned iteration; mark finished errors as seen."""
    for fut in futures:
        if not fut.cancel() and not fut.cancelled():
            fut.exception()
