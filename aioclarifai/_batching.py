"""Micro-batching: concurrent single-input predicts coalesce into PostModelOutputs batches.

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

Per caller the cost is one future and a list append: no task, no timer (one
timer per batch, one task per request). Every request goes through
``client.post_model_outputs``, so retries and typed errors apply unchanged.

Outputs are matched to callers by ``output.input.id`` (each input gets an id
unique within its batch), falling back to position. A failed output fails
only its caller (``OutputError``); a failed request fails every caller of that
batch with the request's typed error. A caller cancelled before its batch is
sent is left out of it (a batch whose callers all cancelled is not sent); one
cancelled later simply never sees its result. Siblings are never affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from asyncio import Future
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from . import types
from ._errors import APIStatusError, OutputError

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["MAX_BATCH_SIZE", "BatchConfig", "Batcher"]

MAX_BATCH_SIZE = 128
"""Clarifai's limit on inputs per PostModelOutputs request."""

_SUCCESS = 10000
_MIXED_STATUS = 10010
_FAILURE = 10020
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
    max_batch_size: int = 64
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
        "client",
        "in_flight",
        "key",
        "limit",
        "model",
        "model_id",
        "pending",
        "runner_selector",
        "user_app_id",
        "version_id",
    )

    def __init__(
        self,
        key: tuple[Any, ...],
        *,
        client: Client,
        limit: int,
        user_app_id: types.UserAppIDSet,
        model_id: str,
        version_id: str,
        model: types.Model | None,
        runner_selector: types.RunnerSelector | None,
    ) -> None:
        self.key = key
        self.client = client
        self.limit = limit
        self.user_app_id = user_app_id
        self.model_id = model_id
        self.version_id = version_id
        self.model = model
        self.runner_selector = runner_selector
        self.pending: deque[_Batch] = deque()
        self.in_flight = 0

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

    def __init__(self, client: Client, config: BatchConfig) -> None:
        self._client = client
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

    async def predict(
        self,
        model_id: str,
        input: types.Input,
        *,
        version_id: str | None = None,
        user_app_id: types.UserAppIDSet | None = None,
        model: types.Model | None = None,
        runner_selector: types.RunnerSelector | None = None,
        timeout: float | None = None,
        via: Client | None = None,
    ) -> types.Output:
        """Predict one input, sharing a request with concurrent calls of the same key.

        ``timeout`` (seconds) bounds this call's request; ``via`` is the
        client view (``client.with_options(...)``) whose options apply.
        Raises :class:`OutputError` when this input's output failed (or the
        response had none for it), the request's typed error when the whole
        request failed, ``ValueError`` for a missing app or model id,
        ``TypeError`` when ``input`` is not a ``types.Input``, and
        ``RuntimeError`` once the client is closed.
        """
        if self._closed:
            raise RuntimeError(_CLOSED)
        if asyncio.get_running_loop() is not self._loop:
            self._bind_loop()
        if not isinstance(input, types.Input):
            raise TypeError(f"input must be a types.Input, not {type(input).__name__}")
        lane = self._lane(
            model_id,
            version_id=version_id,
            user_app_id=user_app_id,
            model=model,
            runner_selector=runner_selector,
            timeout=timeout,
            via=via,
        )
        if not self._enabled:
            return await self._predict_alone(lane, input)
        if not self._try_reserve():
            await self._admit()
        return await self._enqueue(self._lanes.setdefault(lane.key, lane), input)

    async def _predict_alone(self, lane: _Lane, input: types.Input) -> types.Output:
        request = lane.request([input])
        fallback: types.Status | None = None
        try:
            response = await lane.client.post_model_outputs(request)
            outputs = response.outputs
        except APIStatusError as error:
            partial, fallback = _partial_outputs(error)
            if partial is None:
                raise
            outputs = partial
        out = _match(outputs, [input.id], 1)[0]
        result = _outcome(out, input, fallback)
        if isinstance(result, OutputError):
            raise result
        return result

    # -- many predicts -------------------------------------------------------------

    def predict_many(
        self,
        model_id: str,
        inputs: Iterable[types.Input] | AsyncIterable[types.Input],
        *,
        version_id: str | None = None,
        user_app_id: types.UserAppIDSet | None = None,
        model: types.Model | None = None,
        runner_selector: types.RunnerSelector | None = None,
        concurrency: int = 512,
        ordered: bool = True,
        return_exceptions: bool = True,
        via: Client | None = None,
    ) -> AsyncIterator[types.Output | Exception]:
        """Predict every input of an (async) iterable through the batcher.

        At most ``concurrency`` inputs are pulled ahead of the results handed
        out, so memory stays bounded however long ``inputs`` is (it is never
        materialised). Results come in input order when ``ordered``, else as
        they complete. With ``return_exceptions`` a failed input yields its
        exception in its place; without, the first failure is raised after
        the outstanding predicts are withdrawn. Leaving the iteration early
        withdraws them too. ``via``: as for :meth:`predict`.
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, not {concurrency!r}")
        if self._closed:
            raise RuntimeError(_CLOSED)
        lane = self._lane(
            model_id,
            version_id=version_id,
            user_app_id=user_app_id,
            model=model,
            runner_selector=runner_selector,
            timeout=None,
            via=via,
        )
        if ordered:
            return self._many_ordered(lane, inputs, concurrency, return_exceptions)
        return self._many_unordered(lane, inputs, concurrency, return_exceptions)

    async def _many_ordered(
        self,
        lane: _Lane,
        inputs: Iterable[types.Input] | AsyncIterable[types.Input],
        concurrency: int,
        return_exceptions: bool,
    ) -> AsyncIterator[types.Output | Exception]:
        if asyncio.get_running_loop() is not self._loop:
            self._bind_loop()
        pull = _puller(inputs)
        pending: deque[Future[types.Output]] = deque()
        exhausted = False
        try:
            while True:
                while pending and pending[0].done():
                    yield _result(pending.popleft(), return_exceptions)
                if not exhausted and len(pending) < concurrency:
                    item = await pull()
                    if item is _END:
                        exhausted = True
                    else:
                        pending.append(await self._submit(lane, item))
                    continue
                if not pending:
                    return
                # Errors are read from the future above, in order.
                with contextlib.suppress(Exception):
                    await pending[0]
        finally:
            _withdraw(pending)

    async def _many_unordered(
        self,
        lane: _Lane,
        inputs: Iterable[types.Input] | AsyncIterable[types.Input],
        concurrency: int,
        return_exceptions: bool,
    ) -> AsyncIterator[types.Output | Exception]:
        if asyncio.get_running_loop() is not self._loop:
            self._bind_loop()
        pull = _puller(inputs)
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
                    yield _result(fut, return_exceptions)
                if not exhausted and len(outstanding) < concurrency:
                    item = await pull()
                    if item is _END:
                        exhausted = True
                    else:
                        fut = await self._submit(lane, item)
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
            _withdraw(outstanding)

    async def _submit(self, lane: _Lane, item: Any) -> Future[types.Output]:
        """Queue one input of ``predict_many``; a non-Input gets its error in its place."""
        if not isinstance(item, types.Input):
            fut: Future[types.Output] = asyncio.get_running_loop().create_future()
            fut.set_exception(TypeError(f"inputs must be types.Input, not {type(item).__name__}"))
            return fut
        if self._closed:
            raise RuntimeError(_CLOSED)
        if not self._try_reserve():
            await self._admit()
        return self._enqueue(self._lanes.setdefault(lane.key, lane), item)

    # -- lifecycle -----------------------------------------------------------------

    def _bind_loop(self) -> None:
        """Bind to the running loop on first use; from any other loop, refuse."""
        if self._loop is not None:
            raise RuntimeError(_OTHER_LOOP)
        self._loop = asyncio.get_running_loop()

    def _drop(self) -> None:
        """Forget everything unsent or in flight: it all belonged to a loop that has ended."""
        self._closed = True
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
        model_id: str,
        *,
        version_id: str | None,
        user_app_id: types.UserAppIDSet | None,
        model: types.Model | None,
        runner_selector: types.RunnerSelector | None,
        timeout: float | None,
        via: Client | None,
    ) -> _Lane:
        """The lane of this key (not registered until a caller joins it)."""
        client = self._client
        options: tuple[Any, ...] | None = None
        if via is not None and via._core is not client._core:
            # A with_options view: calls with the same options share its lanes.
            options = (via._core.timeout, via._core.retry)
            client = via
        if user_app_id is None:
            user_id, app_id = client.user_id, client.app_id
        else:
            user_id = user_app_id.user_id or client.user_id
            app_id = user_app_id.app_id or client.app_id
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
            client=client if timeout is None else client.with_options(timeout=timeout),
            limit=self._limit,
            user_app_id=types.UserAppIDSet(user_id=user_id, app_id=app_id),
            model_id=model_id,
            version_id=version_id or "",
            model=model,
            runner_selector=runner_selector,
        )

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

    def _enqueue(self, lane: _Lane, input: types.Input) -> Future[types.Output]:
        """Add a caller (its queue slot already reserved) to the lane's open batch."""
        size = 0 if input.data is None else _payload_size(input.data)
        pending = lane.pending
        batch = pending[-1] if pending else None
        fresh = False
        if batch is None or len(batch.inputs) >= self._max_size:
            batch = _Batch()
            pending.append(batch)
            fresh = True
        elif batch.nbytes + size > self._max_bytes:
            _seal(batch)
            batch = _Batch()
            pending.append(batch)
            fresh = True
        loop = asyncio.get_running_loop()
        fut: Future[types.Output] = loop.create_future()
        batch.inputs.append(input)
        batch.futures.append(fut)
        batch.nbytes += size
        if len(batch.inputs) >= self._max_size or batch.nbytes >= self._max_bytes:
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
        if not pending and not lane.in_flight and self._lanes.get(lane.key) is lane:
            del self._lanes[lane.key]

    def _sent(self, task: asyncio.Task[None]) -> None:
        del self._sending[task]

    async def _send(
        self, lane: _Lane, inputs: list[types.Input], futures: list[Future[types.Output]]
    ) -> None:
        try:
            sent, ids = _assign_ids(inputs)
            try:
                response = await lane.client.post_model_outputs(lane.request(sent))
            except APIStatusError as error:
                outputs, fallback = _partial_outputs(error)
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


class _EndType:
    __slots__ = ()


_END = _EndType()


def _puller(
    inputs: Iterable[types.Input] | AsyncIterable[types.Input],
) -> Callable[[], Any]:
    """An async ``next`` over a sync or async iterable, returning ``_END`` when done."""
    if isinstance(inputs, AsyncIterable):
        ait = aiter(inputs)

        async def pull_async() -> Any:
            try:
                return await anext(ait)
            except StopAsyncIteration:
                return _END

        return pull_async
    it: Iterator[types.Input] = iter(inputs)

    async def pull_sync() -> Any:
        return next(it, _END)

    return pull_sync


def _seal(batch: _Batch) -> None:
    batch.ready = True
    if batch.timer is not None:
        batch.timer.cancel()
        batch.timer = None


def _fail(futures: list[Future[types.Output]], error: BaseException) -> None:
    for fut in futures:
        if not fut.done():
            fut.set_exception(error)


def _result(fut: Future[types.Output], return_exceptions: bool) -> types.Output | Exception:
    """A done predict's output or its error (returned if ``return_exceptions``, else raised)."""
    exc = fut.exception()
    if exc is None:
        return fut.result()
    if return_exceptions and isinstance(exc, Exception):
        return exc
    raise exc


def _withdraw(futures: Iterable[Future[types.Output]]) -> None:
    """Cancel unfinished predicts of an abandoned iteration; mark finished errors as seen."""
    for fut in futures:
        if not fut.cancel() and not fut.cancelled():
            fut.exception()


def _payload_size(data: types.Data) -> int:
    """Approximate bytes ``data``'s inline payloads add to a JSON body (base64 is 4/3)."""
    raw = 0
    if data.image is not None:
        raw += len(data.image.base64)
    if data.video is not None:
        raw += len(data.video.base64)
    if data.audio is not None:
        raw += len(data.audio.base64)
    if data.ndarray is not None:
        raw += len(data.ndarray.buffer)
    size = raw * 4 // 3 + (len(data.text.raw) if data.text is not None else 0)
    for part in data.parts:
        if part.data is not None:
            size += _payload_size(part.data)
    return size


def _assign_ids(inputs: list[types.Input]) -> tuple[list[types.Input], list[str]]:
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


def _partial_outputs(
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


def _match(outputs: list[types.Output], ids: list[str], n: int) -> list[types.Output | None]:
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


def _outcome(
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


def _deliver(
    outputs: list[types.Output],
    inputs: list[types.Input],
    ids: list[str],
    futures: list[Future[types.Output]],
    fallback: types.Status | None,
    *,
    req_id: str = "",
) -> None:
    matched = _match(outputs, ids, len(futures))
    for fut, out, original in zip(futures, matched, inputs, strict=True):
        if fut.done():
            continue  # the caller was cancelled after the request left
        result = _outcome(out, original, fallback, req_id)
        if isinstance(result, OutputError):
            fut.set_exception(result)
        else:
            fut.set_result(result)
