"""Total timeouts of many concurrent calls enforced by one timer per time slice.

aiohttp enforces ``ClientTimeout.total`` with a timer of its own per request
(a ``TimerHandle`` scheduled and cancelled, a timer context entered on every
read): about a tenth of the client CPU of a small call. Calls of one client
mostly share one budget, so their deadlines crowd together: here each
deadline is rounded *up* to the next :data:`SLICE` of a second, every call
whose deadline falls in the same slice shares that slice's one timer, and the
timer cancels whichever of them are still running when it fires.

A call is never cut short. It runs at most one slice past its deadline: 1/64
of a second (under 16 ms) when its deadline is less than five seconds away,
a quarter of a second otherwise (aiohttp's own timer rounds deadlines five
seconds away or more up to a whole second). Tasks that finish in time leave
their slice at once, so nothing outlives the calls in flight but a few empty
slices waiting for their timers: a busy client with the default 60 s total
keeps about 240.

The caller that catches the ``CancelledError`` asks :meth:`Slice.expired`
whether it was this timer's doing, and if so turns it into its own timeout
error; a cancellation from anyone else (the task's owner, a task group)
propagates untouched, as with :func:`asyncio.timeout`.
"""

from __future__ import annotations

import asyncio
import functools
import math
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["COARSE_SLICE", "FAR", "SLICE", "DeadlineSweep", "Slice"]

#: Width of a slice in seconds for a deadline less than :data:`FAR` seconds away.
SLICE = 1 / 64
#: Width of a slice for a deadline at least :data:`FAR` seconds away.
COARSE_SLICE = 1 / 4
FAR = 5.0


class Slice:
    """The calls whose deadlines fall in one slice, and the timer they share."""

    __slots__ = ("fired", "handle", "tasks")

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[object]] = set()
        self.fired = False
        self.handle: asyncio.TimerHandle | None = None

    def expired(self, task: asyncio.Task[object]) -> bool:
        """True when this slice's timer cancelled ``task`` and nobody else did.

        Consumes the timer's cancellation request (``Task.uncancel``); with a
        cancellation of someone else's still pending it returns False, so that
        one goes on. (Python 3.10 does not count cancellations: there, one that
        lands in the same loop pass as the deadline reads as the timeout, as
        with aiohttp's own timer.)
        """
        if not self.fired:
            return False
        uncancel = getattr(task, "uncancel", None)
        return uncancel is None or uncancel() == 0


class DeadlineSweep:
    """One event loop's deadline slices (one per transport, made in its loop)."""

    __slots__ = ("_loop", "_slices", "current_task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._slices: dict[float, Slice] = {}  # by the time their timer fires
        #: The running task of this loop (what :meth:`watch` needs), asked cheaply.
        self.current_task = _task_getter(loop)

    def watch(self, deadline: float, task: asyncio.Task[object]) -> Slice | None:
        """Cancel ``task`` once ``deadline`` (``time.monotonic()`` based) has passed.

        Return the slice to give to :meth:`unwatch` when the task is done with
        the guarded work (in a ``finally``), and to ask whether a
        ``CancelledError`` came from it; None when ``deadline`` has passed
        already (nothing is watched).
        """
        now = time.monotonic()
        if deadline <= now:
            return None
        width = SLICE if deadline - now < FAR else COARSE_SLICE
        end = math.ceil(deadline / width) * width  # exact: the widths are powers of two
        found = self._slices.get(end)
        if found is None:
            found = self._slices[end] = Slice()
            found.handle = self._loop.call_later(end - now, self._fire, end)
        found.tasks.add(task)
        return found

    @staticmethod
    def unwatch(watched: Slice, task: asyncio.Task[object]) -> None:
        """``task`` is done with the guarded work: its deadline no longer applies."""
        watched.tasks.discard(task)

    def _fire(self, end: float) -> None:
        early = end - time.monotonic()
        if early > 0:
            # A loop whose clock lags ours (uvloop reads its clock once per pass)
            # may run the timer a little early: never cut a call short.
            self._slices[end].handle = self._loop.call_later(early, self._fire, end)
            return
        found = self._slices.pop(end)
        found.fired = True
        for task in found.tasks:
            task.cancel()

    @property
    def pending(self) -> int:
        """Slices whose timer has not fired yet (tests and diagnostics)."""
        return len(self._slices)

    @property
    def watched(self) -> int:
        """Tasks currently watched, over every slice."""
        return sum(len(s.tasks) for s in self._slices.values())

    def close(self) -> None:
        """Cancel every timer; the calls still watched are failing already (pool closed)."""
        for found in self._slices.values():
            if found.handle is not None:
                found.handle.cancel()
        self._slices.clear()


def _task_getter(loop: asyncio.AbstractEventLoop) -> Callable[[], asyncio.Task[Any] | None]:
    """A function returning ``loop``'s running task.

    On Python 3.11 ``asyncio.current_task`` is Python code that looks the
    running loop up again and reads asyncio's own table of running tasks; a
    bound ``get`` of that table is what it does, without the lookups (a fifth
    of the sweep's cost per call). Elsewhere it is asyncio's own function.
    """
    running: Any = getattr(asyncio.tasks, "_current_tasks", None)
    if sys.version_info < (3, 12) and isinstance(running, dict):
        return functools.partial(running.get, loop)
    return functools.partial(asyncio.current_task, loop)
