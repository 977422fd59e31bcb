"""The coalescing engine: concurrent single-input predicts become PostModelOutputs batches.

Callers that share a *coalescing key* (user, app, model, version, the encoded
``model`` and ``runner_selector``, the per-call timeout and the options of
the ``with_options`` view called) join the same batch. A batch is sent when
it holds ``max_batch_size`` inputs, when its inline payloads reach the byte
budget, or ``max_wait`` seconds after its first caller joined — whichever
comes first. Each key has at most
``max_concurrent_batches`` requests in flight; batches that are due wait for a
free slot (and keep accepting callers until full meanwhile), and at most
``max_queue`` callers wait unsent across all keys — further callers wait to be
admitted.

Per caller the cost is one future and a list append: no coroutine, no task,
no timer (one timer per batch, one task per request). ``predict`` queues the
input when called and hands out that future (:class:`Call`), so ``gather``
over thousands of predicts makes no task per input either; the future is the
one GC-tracked object an input adds. Every request goes through the core's
``call``, so retries, rate control and typed errors apply unchanged.

Outputs are matched to callers by ``output.input.id`` (each input gets an id
unique within its batch), falling back to position
(:mod:`aioclarifai._output_match`); ``predict_many`` is
:mod:`aioclarifai._predict_many` over this engine. A failed output fails
only its caller (``OutputError``); a failed request fails every caller of that
batch with the request's typed error. A caller cancelled before its batch is
sent is left out of it (a batch whose callers all cancelled is not sent); one
cancelled later simply never sees its result. Siblings are never affected.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from asyncio import Future
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from . import types
from ._config import Timeout
from ._errors import APIStatusError, OutputError
from ._generated.endpoints import POST_MODEL_OUTPUTS
from ._output_match import assign_ids, match, outcome, partial_outputs, payload_size
from ._predict_many import check_concurrency, predict_many

if TYPE_CHECKING:
    from ._core import Core

__all__ = ["MAX_BATCH_SIZE", "BatchConfig", "Batcher", "Call", "default_concurrency"]

MAX_BATCH_SIZE = 128
"""Clarifai's limit on inputs per PostModelOutputs request."""

_REQUESTS_AHEAD = 32  # requests predict_many keeps in flight by default (15/s x 2 s)
_BARE_LANES = 1024  # bare model ids whose lanes are memoized
_CLOSED = "this Client is closed; create a new one"
_ABORTED = "the Client was closed before this predict completed"
_OTHER_LOOP = (
    "this Client is bound to the event loop that first used it (predict in another loop "
    "would wait for that loop forever); create one Client per event loop"
)


@dataclass(frozen=True, slots=True)
class BatchConfig:
    """How :meth:`Client.predict` coalesces concurrent calls.

    ``enabled``: False sends every predict in its own request.
    ``max_batch_size``: inputs per request (1..128, Clarifai's cap).
    ``max_wait``: seconds a batch waits for company after its first caller
    joined; 0 sends at the end of the current event-loop tick.
    ``max_batch_bytes``: budget for a request's inline payloads (base64 images,
    video, audio, ndarrays, raw text); an input that would exceed it starts a
    new batch (one input larger than the budget is sent alone).
    ``max_concurrent_batches``: requests in flight per coalescing key; due
    batches wait for a free slot.
    ``max_queue``: callers waiting unsent across all keys; more callers wait
    to be admitted (backpressure).
    """

    enabled: bool = True
    max_batch_size: int = 128  # Clarifai's cap: requests, not inputs, are what an account limits
    max_wait: float = 0.005
    max_batch_bytes: int = 64 * 1024 * 1024
    max_concurrent_batches: int = 64
    max_queue: int = 16384

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch_size <= MAX_BATCH_SIZE:
            raise ValueError(
                f"max_batch_size must be between 1 and {MAX_BATCH_SIZE} "
                f"(Clarifai's limit per request), not {self.max_batch_size!r}"
            )
        if not self.max_wait >= 0:  # also rejects NaN
            raise ValueError(f"max_wait must be >= 0 seconds, not {self.max_wait!r}")
        if self.max_batch_bytes < 1:
            raise ValueError(f"max_batch_bytes must be >= 1, not {self.max_batch_bytes!r}")
        if self.max_concurrent_batches < 1:
            raise ValueError(
                f"max_concurrent_batches must be >= 1, not {self.max_concurrent_batches!r}"
            )
        if self.max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, not {self.max_queue!r}")


def default_concurrency(config: BatchConfig) -> int:
    """``predict_many``'s default ``concurrency`` under ``config``: full requests in flight.

    ``max_batch_size x min(max_concurrent_batches, 32)``: 128 x 32 = 4,096 by
    default. 32 requests in flight keep an account at Clarifai's default limit
    (15 requests/s) busy with a model answering in 2 s; more only hold more
    results in memory (measured: slower per input, no faster). With batching
    disabled each input is its own request: up to 32 of them.
    """
    per_request = config.max_batch_size if config.enabled else 1
    return per_request * min(config.max_concurrent_batches, _REQUESTS_AHEAD)


class Call(Future[types.Output], Coroutine[Any, Any, types.Output]):
    """One caller's pending predict: the batcher's future, usable as a coroutine too.

    ``await`` it, pass it to ``asyncio.gather`` / ``wait_for`` (used as it is,
    no task made for it), or to ``create_task`` / an anyio task group (it
    speaks the coroutine protocol, so code written for ``async def predict``
    keeps working). Cancelling it withdraws the input: left out of its batch
    if unsent; once sent, the request is stopped when none of its callers
    still waits (checked once per loop iteration, however many were cancelled).
    """

    __slots__ = ("_batcher",)
    _batcher: Batcher  # set by the batcher right after making it (no __init__ frame)

    def cancel(self, msg: Any = None) -> bool:
        """Cancel this predict (see the class docstring)."""
        if not super().cancel(msg):
            return False
        self._batcher._schedule_reap(self.get_loop())
        return True

    # The coroutine protocol, for a task that drives this call like ``async def predict``.

    def send(self, value: None) -> Any:
        """Step as a coroutine would: wait on this future, then return its result."""
        if not self.done():
            self._asyncio_future_blocking = True
            return self
        raise StopIteration(self.result())

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        """An exception thrown in (a cancelled task): cancel this predict, then raise it."""
        self.cancel()
        if val is None:
            val = typ() if isinstance(typ, type) else typ
        raise val

    def close(self) -> None:
        """Closing an unfinished call withdraws it."""
        self.cancel()


class _Batch:
    """Callers waiting to be sent together; ``ready`` once full, over budget or due."""

    __slots__ = ("futures", "inputs", "nbytes", "ready", "timer")

    def __init__(self) -> None:
        self.inputs: list[types.Input] = []
        self.futures: list[Future[types.Output]] = []
        self.nbytes = 0
        self.ready = False
        self.timer: asyncio.Handle | None = None


class _Lane:
    """One coalescing key: its request fields, unsent batches and requests in flight."""

    __slots__ = (
        "core",
        "in_flight",
        "key",
        "limit",
        "model",
        "model_id",
        "pending",
        "registered",
        "runner_selector",
        "user_app_id",
        "version_id",
    )

    def __init__(
        self,
        key: tuple[Any, ...],
        *,
        core: Core,
        limit: int,
        user_app_id: types.UserAppIDSet,
        model_id: str,
        version_id: str,
        model: types.Model | None,
        runner_selector: types.RunnerSelector | None,
    ) -> None:
        self.key = key
        self.core = core
        self.limit = limit
        self.user_app_id = user_app_id
        self.model_id = model_id
        self.version_id = version_id
        self.model = model
        self.runner_selector = runner_selector
        self.pending: deque[_Batch] = deque()
        self.in_flight = 0
        self.registered = False  # it is the batcher's lane of its key (in ``_lanes``)

    def request(self, inputs: list[types.Input]) -> types.PostModelOutputsRequest:
        """The PostModelOutputs request for ``inputs`` under this key."""
        return types.PostModelOutputsRequest(
            user_app_id=self.user_app_id,
            model_id=self.model_id,
            version_id=self.version_id,
            inputs=inputs,
            model=self.model,
            runner_selector=self.runner_selector,
        )


class Batcher:
    """Coalesces a client's concurrent single-input predicts (see the module docstring).

    One per client, created on the first :meth:`Client.predict`; bound to the
    event loop that uses it.
    """

    def __init__(self, core: Core, config: BatchConfig) -> None:
        self._core = core
        self._config = config
        self._enabled = config.enabled
        # Disabled batching still serves predict_many through the same machinery,
        # one input per request and no in-flight limit beyond the pool's.
        self._max_size = config.max_batch_size if config.enabled else 1
        self._max_bytes = config.max_batch_bytes
        self._max_wait = config.max_wait
        self._limit = config.max_concurrent_batches if config.enabled else sys.maxsize
        self._max_queue = config.max_queue
        self._lanes: dict[tuple[Any, ...], _Lane] = {}
        self._queued = 0  # callers in unsent batches, cancelled ones included
        self._admission: deque[Future[None]] = deque()
        # Each request's task and its callers, so an abort can fail even unstarted ones.
        self._sending: dict[asyncio.Task[None], list[Future[types.Output]]] = {}
        self._closed = False
        # Lanes of bare model ids (the root client's, no per-call options), by model id.
        self._bare: dict[str, _Lane] = {}
        self._reap_due = False  # a reap is scheduled for this loop iteration
        # Batches, timers and futures belong to one loop: the one of the first predict.
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def config(self) -> BatchConfig:
        """The configuration this batcher runs with."""
        return self._config

    @property
    def queued(self) -> int:
        """Callers waiting in unsent batches."""
        return self._queued

    @property
    def requests_in_flight(self) -> int:
        """PostModelOutputs requests currently being sent by this batcher."""
        return len(self._sending)

    # -- single predicts -----------------------------------------------------------

    def predict(
        self,
        model_id: str,
        input: types.Input,
        *,
        core: Core | None = None,
        version_id: str | None = None,
        user_app_id: types.UserAppIDSet | None = None,
        model: types.Model | None = None,
        runner_selector: types.RunnerSelector | None = None,
        timeout: float | None = None,
    ) -> Coroutine[Any, Any, types.Output]:
        """Predict one input, sharing a request with concurrent calls of the same key.

        Not a coroutine function: the input is queued now and its
        :class:`Call` (a future that is also a coroutine) returned; only when
        the queue is full (or batching is disabled) is it a coroutine that
        waits for room. ``core`` is the calling client's when it is a
        ``with_options`` view (whose options then apply); ``timeout``
        (seconds) bounds this call's request. Raises here, before anything
        is queued: ``ValueError`` for a missing app or model id,
        ``TypeError`` when ``input`` is not a ``types.Input``, and
        ``RuntimeError`` once the client is closed. Awaiting it raises
        :class:`OutputError` when this input's output failed (or the
        response had none for it), the request's typed error when the whole
        request failed.
        """
        if self._closed:
            raise RuntimeError(_CLOSED)
        if not isinstance(input, types.Input):
            raise TypeError(f"input must be a types.Input, not {type(input).__name__}")
        if (
            (core is None or core is self._core)
            and version_id is None
            and user_app_id is None
            and model is None
            and runner_selector is None
            and timeout is None
        ):
            # The common call: the lane of a bare model id, without building its key.
            lane = self._bare.get(model_id) or self._bare_lane(model_id)
        else:
            lane = self._lane(
                core or self._core,
                model_id,
                version_id=version_id,
                user_app_id=user_app_id,
                model=model,
                runner_selector=runner_selector,
                timeout=timeout,
            )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # No loop in this thread (run_coroutine_threadsafe): queue in the loop that runs it.
            return self._predict_later(lane, input)
        if loop is not self._loop:
            self._bind_loop()
        if not self._enabled:
            return self._predict_alone(lane, input)
        if self._queued >= self._max_queue or self._admission:
            return self._predict_admitted(lane, input)
        self._queued += 1  # the caller's queue slot (see _try_reserve)
        return self._enqueue(lane if lane.registered else self._join(lane), input, loop)

    def _bare_lane(self, model_id: str) -> _Lane:
        lane = self._lane(
            self._core, model_id, version_id=None, user_app_id=None, model=None,
            runner_selector=None, timeout=None,
        )  # fmt: skip
        if len(self._bare) >= _BARE_LANES:
            self._bare.clear()  # many model ids: keep the memo bounded
        self._bare[model_id] = lane
        return lane

    async def _predict_admitted(self, lane: _Lane, input: types.Input) -> types.Output:
        await self._admit()
        return await self._enqueue(self._join(lane), input, asyncio.get_running_loop())

    async def _predict_later(self, lane: _Lane, input: types.Input) -> types.Output:
        if self._closed:
            raise RuntimeError(_CLOSED)
        if asyncio.get_running_loop() is not self._loop:
            self._bind_loop()
        if not self._enabled:
            return await self._predict_alone(lane, input)
        if not self._try_reserve():
            await self._admit()
        return await self._enqueue(self._join(lane), input, asyncio.get_running_loop())

    async def _predict_alone(self, lane: _Lane, input: types.Input) -> types.Output:
        request = lane.request([input])
        fallback: types.Status | None = None
        try:
            response = await lane.core.call(POST_MODEL_OUTPUTS, request)
            outputs = response.outputs
        except APIStatusError as error:
            partial, fallback = partial_outputs(error)
            if partial is None:
                raise
            outputs = partial
        out = match(outputs, [input.id], 1)[0]
        result = outcome(out, input, fallback)
        if isinstance(result, OutputError):
            raise result
        return result

    # -- many predicts -------------------------------------------------------------

    def predict_many(
        self,
        model_id: str,
        inputs: Iterable[types.Input] | AsyncIterable[types.Input],
        *,
        core: Core | None = None,
        version_id: str | None = None,
        user_app_id: types.UserAppIDSet | None = None,
        model: types.Model | None = None,
        runner_selector: types.RunnerSelector | None = None,
        concurrency: int | None = None,
        ordered: bool = True,
        return_exceptions: bool = True,
    ) -> AsyncIterator[types.Output | Exception]:
        """Predict every input of an (async) iterable through this batcher.

        See :func:`aioclarifai._predict_many.predict_many`; ``core`` as for
        :meth:`predict`; ``concurrency`` None is :func:`default_concurrency`.
        """
        if concurrency is None:
            concurrency = default_concurrency(self._config)
        check_concurrency(concurrency)
        if self._closed:
            raise RuntimeError(_CLOSED)
        lane = self._lane(
            core or self._core,
            model_id,
            version_id=version_id,
            user_app_id=user_app_id,
            model=model,
            runner_selector=runner_selector,
            timeout=None,
        )
        return predict_many(
            functools.partial(self._submit, lane),
            self.reap,
            inputs,
            concurrency=concurrency,
            ordered=ordered,
            return_exceptions=return_exceptions,
        )

    def _submit(self, lane: _Lane, item: Any) -> Future[types.Output] | Awaitable[Call]:
        """Queue one input of ``predict_many``; a non-Input gets its error in its place.

        The future at once, or, when the queue is full, an awaitable of it.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind_loop()
        if not isinstance(item, types.Input):
            fut: Future[types.Output] = loop.create_future()
            fut.set_exception(TypeError(f"inputs must be types.Input, not {type(item).__name__}"))
            return fut
        if self._closed:
            raise RuntimeError(_CLOSED)
        if self._queued >= self._max_queue or self._admission:
            return self._submit_admitted(lane, item)
        self._queued += 1  # the input's queue slot (see _try_reserve)
        return self._enqueue(lane if lane.registered else self._join(lane), item, loop)

    async def _submit_admitted(self, lane: _Lane, item: types.Input) -> Call:
        await self._admit()
        return self._enqueue(self._join(lane), item, asyncio.get_running_loop())

    # -- lifecycle -----------------------------------------------------------------

    def _bind_loop(self) -> None:
        """Bind to the running loop on first use; from any other loop, refuse."""
        if self._loop is not None:
            raise RuntimeError(_OTHER_LOOP)
        self._loop = asyncio.get_running_loop()

    def _drop(self) -> None:
        """Forget everything unsent or in flight: it all belonged to a loop that has ended."""
        self._closed = True
        for lane in self._lanes.values():
            lane.registered = False
        self._lanes.clear()
        self._admission.clear()
        self._sending.clear()
        self._queued = 0

    async def aclose(self) -> None:
        """Send every pending batch and wait for all requests; later predicts raise.

        Callers waiting for admission get ``RuntimeError``. If ``aclose`` itself
        is cancelled, unsent and in-flight callers get ``RuntimeError`` too, so
        nobody is left waiting. Idempotent. From another loop than the
        batcher's (which must then have ended: the client checks), what that
        loop left unsent is dropped: its callers went with it.
        """
        loop = self._loop
        if loop is not None and loop is not asyncio.get_running_loop():
            self._drop()
            return
        if not self._closed:
            self._closed = True
            while self._admission:
                waiter = self._admission.popleft()
                if not waiter.done():
                    waiter.set_exception(RuntimeError(_CLOSED))
            for lane in list(self._lanes.values()):
                for batch in lane.pending:
                    _seal(batch)
                self._pump(lane)
        try:
            while self._sending:
                await asyncio.wait(list(self._sending))
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        error = RuntimeError(_ABORTED)
        for lane in list(self._lanes.values()):
            while lane.pending:
                batch = lane.pending.popleft()
                _seal(batch)
                self._queued -= len(batch.futures)
                _fail(batch.futures, error)
        for task, futures in list(self._sending.items()):
            task.cancel()
            _fail(futures, error)

    # -- machinery -----------------------------------------------------------------

    def _lane(
        self,
        core: Core,
        model_id: str,
        *,
        version_id: str | None,
        user_app_id: types.UserAppIDSet | None,
        model: types.Model | None,
        runner_selector: types.RunnerSelector | None,
        timeout: float | None,
    ) -> _Lane:
        """The lane of this key (not registered until a caller joins it)."""
        options: tuple[Any, ...] | None = None
        if core is not self._core:
            # A with_options view: calls with the same options share its lanes.
            options = (core.timeout, core.retry)
        settings = core.settings
        if user_app_id is None:
            user_id, app_id = settings.user_id, settings.app_id
        else:
            user_id = user_app_id.user_id or settings.user_id
            app_id = user_app_id.app_id or settings.app_id
        key = (
            user_id,
            app_id,
            model_id,
            version_id or "",
            None if model is None else msgspec.json.encode(model),
            None if runner_selector is None else msgspec.json.encode(runner_selector),
            timeout,
            options,
        )
        lane = self._lanes.get(key)
        if lane is not None:
            return lane
        if not model_id:
            raise ValueError("predict needs a model_id")
        if not app_id:
            raise ValueError(
                "predict needs an app: pass user_app_id=types.UserAppIDSet(user_id=..., "
                "app_id=...) or create the Client with app_id"
            )
        return _Lane(
            key,
            core=core if timeout is None else core.with_options(timeout=Timeout.of(timeout)),
            limit=self._limit,
            user_app_id=types.UserAppIDSet(user_id=user_id, app_id=app_id),
            model_id=model_id,
            version_id=version_id or "",
            model=model,
            runner_selector=runner_selector,
        )

    def _join(self, lane: _Lane) -> _Lane:
        """The lane callers of ``lane``'s key join: the registered one, else ``lane``."""
        joined = self._lanes.setdefault(lane.key, lane)
        joined.registered = True
        return joined

    def _try_reserve(self) -> bool:
        """Reserve a queue slot if one is free and nobody waits before us (never awaits)."""
        if self._queued < self._max_queue and not self._admission:
            self._queued += 1
            return True
        return False

    async def _admit(self) -> None:
        """Wait for room in the queue; on return one slot is reserved for the caller."""
        waiter: Future[None] = asyncio.get_running_loop().create_future()
        self._admission.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            # Admitted just before being cancelled: hand the slot on.
            if not waiter.cancelled() and waiter.exception() is None:
                self._queued -= 1
                self._admit_waiters()
            raise
        if self._closed:
            self._queued -= 1
            raise RuntimeError(_CLOSED)

    def _admit_waiters(self) -> None:
        admission = self._admission
        while admission and self._queued < self._max_queue:
            waiter = admission.popleft()
            if not waiter.done():
                self._queued += 1
                waiter.set_result(None)

    def _enqueue(self, lane: _Lane, input: types.Input, loop: asyncio.AbstractEventLoop) -> Call:
        """Add a caller (its queue slot already reserved) to the lane's open batch."""
        data = input.data
        size = 0 if data is None else payload_size(data)
        pending = lane.pending
        batch = pending[-1] if pending else None
        fresh = False
        if batch is None or len(batch.inputs) >= self._max_size:
            batch = _Batch()
            pending.append(batch)
            fresh = True
        elif size and batch.nbytes + size > self._max_bytes:
            _seal(batch)
            batch = _Batch()
            pending.append(batch)
            fresh = True
        fut = Call(loop=loop)
        fut._batcher = self
        inputs = batch.inputs
        inputs.append(input)
        batch.futures.append(fut)
        if size:
            batch.nbytes += size
            full = len(inputs) >= self._max_size or batch.nbytes >= self._max_bytes
        else:
            full = len(inputs) >= self._max_size
        if full:
            _seal(batch)
            self._pump(lane)
        elif fresh:
            if self._max_wait > 0:
                batch.timer = loop.call_later(self._max_wait, self._on_due, lane, batch)
            else:
                batch.timer = loop.call_soon(self._on_due, lane, batch)
        return fut

    def _on_due(self, lane: _Lane, batch: _Batch) -> None:
        batch.timer = None
        batch.ready = True
        self._pump(lane)

    def _pump(self, lane: _Lane) -> None:
        """Send due batches while the lane has free slots; drop callers who cancelled."""
        pending = lane.pending
        while pending and pending[0].ready and lane.in_flight < lane.limit:
            batch = pending.popleft()
            inputs, futures = batch.inputs, batch.futures
            self._queued -= len(futures)
            if any(f.done() for f in futures):
                live = [i for i, f in enumerate(futures) if not f.done()]
                if not live:
                    continue  # every caller cancelled: nothing to send
                inputs = [inputs[i] for i in live]
                futures = [futures[i] for i in live]
            lane.in_flight += 1
            task = asyncio.get_running_loop().create_task(self._send(lane, inputs, futures))
            self._sending[task] = futures
            task.add_done_callback(self._sent)
        if self._admission:
            self._admit_waiters()
        if lane.registered and not pending and not lane.in_flight:
            del self._lanes[lane.key]
            lane.registered = False

    def reap(self) -> None:
        """Cancel the requests whose callers have all gone (cancelled or withdrawn).

        A request belongs to its callers: once none of them waits for it, it
        is stopped, so no task of the batcher outlives the calls it serves.
        """
        for task, futures in list(self._sending.items()):
            if not task.done() and all(f.done() for f in futures):
                task.cancel()

    def _schedule_reap(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reap once, soon: a withdrawn iteration cancels thousands of calls at once."""
        if not self._reap_due and not loop.is_closed():
            self._reap_due = True
            loop.call_soon(self._scheduled_reap)

    def _scheduled_reap(self) -> None:
        self._reap_due = False
        self.reap()

    def _sent(self, task: asyncio.Task[None]) -> None:
        del self._sending[task]

    async def _send(
        self, lane: _Lane, inputs: list[types.Input], futures: list[Future[types.Output]]
    ) -> None:
        try:
            sent, ids = assign_ids(inputs)
            try:
                response = await lane.core.call(POST_MODEL_OUTPUTS, lane.request(sent))
            except APIStatusError as error:
                outputs, fallback = partial_outputs(error)
                if outputs is None:
                    _fail(futures, error)
                else:
                    _deliver(outputs, inputs, ids, futures, fallback)
            except asyncio.CancelledError:
                _fail(futures, RuntimeError(_ABORTED))
                raise
            except Exception as error:  # typed errors and anything unexpected: tell every caller
                _fail(futures, error)
            else:
                status = response.status
                _deliver(
                    response.outputs, inputs, ids, futures, None,
                    req_id=status.req_id if status is not None else "",
                )  # fmt: skip
        finally:
            lane.in_flight -= 1
            self._pump(lane)


# -- helpers -----------------------------------------------------------------------


def _seal(batch: _Batch) -> None:
    batch.ready = True
    if batch.timer is not None:
        batch.timer.cancel()
        batch.timer = None


def _fail(futures: list[Future[types.Output]], error: BaseException) -> None:
    for fut in futures:
        if not fut.done():
            fut.set_exception(error)


def _deliver(
    outputs: list[types.Output],
    inputs: list[types.Input],
    ids: list[str],
    futures: list[Future[types.Output]],
    fallback: types.Status | None,
    *,
    req_id: str = "",
) -> None:
    matched = match(outputs, ids, len(futures))
    for fut, out, original in zip(futures, matched, inputs, strict=True):
        if fut.done():
            continue  # the caller was cancelled after the request left
        result = outcome(out, original, fallback, req_id)
        if isinstance(result, OutputError):
            fut.set_exception(result)
        else:
            fut.set_result(result)
