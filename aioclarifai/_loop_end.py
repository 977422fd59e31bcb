"""Run a cleanup coroutine when the event loop a client is bound to shuts down.

asyncio has no "loop is ending" callback, but every proper shutdown
(``asyncio.run``, ``asyncio.Runner``, ``anyio.run``, pytest-asyncio) calls
``loop.shutdown_asyncgens()``, which closes every async generator that was
started in the loop and is still suspended, while the loop can still run
them. A started, suspended generator whose ``finally`` awaits the cleanup is
therefore a loop-end hook: the pool closes in its own loop instead of being
stranded, half-open, when the loop is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable

__all__ = ["LoopEndWatch"]


class LoopEndWatch:
    """Calls ``on_end()`` (an async bound method) once, when the running loop shuts down.

    Holds only a weak reference to ``on_end``'s object, so the watch never
    keeps a client alive. :meth:`cancel` stops watching without running it.
    """

    __slots__ = ("__weakref__", "_gen", "_on_end")

    def __init__(self, on_end: Callable[[], Awaitable[None]]) -> None:
        self._on_end = weakref.WeakMethod(on_end)
        gen = _watch(weakref.ref(self))
        self._gen: AsyncGenerator[None, None] | None = gen
        # Run the generator up to its ``yield`` now, synchronously: its first
        # step registers it with the running loop (the firstiter hook).
        with contextlib.suppress(StopIteration):
            gen.asend(None).send(None)

    def cancel(self) -> None:
        """Stop watching (synchronously; the cleanup does not run)."""
        gen, self._gen = self._gen, None
        if gen is not None:
            # The finally clause finds nothing to do and never suspends, so the
            # generator finishes within this send, from any loop or none.
            with contextlib.suppress(StopIteration, RuntimeError):
                gen.aclose().send(None)


async def _watch(ref: weakref.ref[LoopEndWatch]) -> AsyncGenerator[None, None]:
    loop = asyncio.get_running_loop()
    try:
        yield
    finally:
        watch = ref()
        # Only at the loop's own shutdown: not after cancel(), never from another loop.
        if watch is not None and watch._gen is not None and _running_loop() is loop:
            watch._gen = None
            on_end = watch._on_end()
            if on_end is not None:
                await on_end()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
