"""Batch inference on Ray Data, with the same client inside every worker.

Nothing here imports Ray until it is used; install it with the ``ray`` extra
(``pip install 'aioclarifai[ray]'``)::

    import ray
    from aioclarifai.ray import ClarifaiPredictor, create_rate_limiter

    limiter = create_rate_limiter()                 # one budget for all actors, learned
    ds = ray.data.read_csv("inputs.csv")                          # columns: id, text | url | bytes
    out = ds.map_batches(
        ClarifaiPredictor,
        fn_constructor_kwargs={"model_id": "general-image-recognition", "app_id": "my-app",
                               "rate_limiter": limiter},
        compute=ray.data.ActorPoolStrategy(size=4),  # actors: one event loop + one Client each
        num_cpus=0.5,               # actors mostly wait on the network
        batch_size=512,
        batch_format="pandas",
    )

Each actor sends its rows through the client's batcher (concurrent predicts
coalesce into PostModelOutputs requests of up to 128 inputs) and returns the
batch with three more columns, one row out per row in, in order: ``concepts``
(the top concepts as ``{"id", "name", "value"}`` structs), ``text`` (generated
text, when the model answers text) and ``error`` (``None`` on success).

Clarifai throttles per account (15 requests/s by default), so every HTTP
attempt of every actor first asks one shared rate controller held by a small
Ray actor (:func:`create_rate_limiter`): the client's own policy
(:mod:`aioclarifai._rate`) on one clock for all actors — a token bucket at the
limit when you know it, otherwise learned from throttling answers, a
``Retry-After`` pausing every actor at once. Without one, each actor's client
controls its own rate (``requests_per_second`` splits a known limit by hand).
Throttling answers (11005 / HTTP 429) are retried until the call's deadline
rather than failing rows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import types
from ._batching import BatchConfig
from ._client import Client
from ._config import RetryConfig
from ._gc import freeze_startup_objects
from ._rate import RateController, RateLimiter, RateStats

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_COLUMNS", "ClarifaiPredictor", "SharedRateGate", "create_rate_limiter"]

#: Input column names the predictor reads, by role.
DEFAULT_COLUMNS: Mapping[str, str] = {"id": "id", "text": "text", "url": "url", "bytes": "bytes"}


def create_rate_limiter(
    requests_per_second: float | None = None, *, adaptive: bool = True, name: str | None = None
) -> Any:
    """Start a Ray actor holding one rate controller shared by all predictors.

    The same policy as one client's (:mod:`aioclarifai._rate`), for the whole
    account across actors: ``requests_per_second`` is the limit when known
    (None: learned from throttling answers); ``adaptive`` lowers the rate on
    throttling; a ``Retry-After`` pauses every actor at once. Returns the actor
    handle; pass it as ``rate_limiter=`` to :class:`ClarifaiPredictor`.
    ``name`` makes it findable with ``ray.get_actor``.
    """
    import ray

    if requests_per_second is not None and not requests_per_second > 0:
        raise ValueError("requests_per_second must be > 0")
    actor_cls = ray.remote(num_cpus=0)(_RateLimiterActor)
    options = {"name": name, "get_if_exists": True} if name else {}
    return actor_cls.options(**options).remote(requests_per_second, adaptive)


class _RateLimiterActor:
    """The Ray actor behind :func:`create_rate_limiter` (async: one event loop serves all)."""

    def __init__(self, rate: float | None, adaptive: bool) -> None:
        self._gate = RateLimiter(RateController(rate, adaptive=adaptive))

    async def grant(self) -> float:
        return await self._gate.grant()

    async def settle(self, throttled: bool, retry_after: float | None, ticket: float) -> None:
        self._gate.settle(throttled, retry_after, ticket)

    async def stats(self) -> RateStats:
        return self._gate.stats()


class SharedRateGate:
    """The client-side end of a :func:`create_rate_limiter` actor (a ``RateLimiter``).

    Each attempt waits for a grant from the actor and reports its answer back
    with the grant's ticket, so the actor's controller sees every actor's
    traffic on one clock.
    """

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    async def acquire(self) -> None:
        """Wait for the shared controller to grant one attempt."""
        _SHARED_TICKET.set(float(await self.actor.grant.remote()))

    def record(self, throttled: bool, retry_after: float | None) -> None:
        """Report the attempt's answer to the shared controller (without waiting)."""
        ticket = _SHARED_TICKET.get()
        if ticket is not None:
            self.actor.settle.remote(throttled, retry_after, ticket)


_SHARED_TICKET: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "aioclarifai_shared_rate_ticket", default=None
)


class ClarifaiPredictor:
    """A callable class for ``Dataset.map_batches`` (use ``batch_format="pandas"``).

    One event loop and one :class:`~aioclarifai.Client` per actor, for the
    actor's lifetime. Client settings come from the arguments, then the
    ``CLARIFAI_*`` environment of the worker. ``columns`` renames the input
    roles (``id``, ``text``, ``url``, ``bytes``); a row may also carry an
    ``error`` column already set (for instance a line that could not be
    parsed): such rows are passed through unchanged. With ``freeze_gc`` (the
    default; an actor is a long-lived process of its own) the objects alive
    after start-up are frozen out of the garbage collector's full passes
    (:func:`gc.freeze`).
    """

    def __init__(
        self,
        model_id: str,
        *,
        version_id: str | None = None,
        pat: str | None = None,
        user_id: str | None = None,
        app_id: str | None = None,
        base_url: str | None = None,
        columns: Mapping[str, str] | None = None,
        top_k: int = 5,
        rate_limiter: Any = None,
        requests_per_second: float | None = None,
        max_batch_size: int = 128,
        max_retries: int = 8,
        concurrency: int = 512,
        freeze_gc: bool = True,
    ) -> None:
        self.model_id = model_id
        self.version_id = version_id
        self.columns = {**DEFAULT_COLUMNS, **(columns or {})}
        self.top_k = top_k
        self._concurrency = concurrency
        self._client_args: dict[str, Any] = {
            "pat": pat,
            "user_id": user_id,
            "app_id": app_id,
            "base_url": base_url,
            "batching": BatchConfig(max_batch_size=max_batch_size),
            "retry": RetryConfig(max_retries=max_retries, max_backoff=16.0),
        }
        if rate_limiter is not None:
            self._client_args["rate_gate"] = SharedRateGate(rate_limiter)
        elif requests_per_second is not None:
            self._client_args["rate_limit"] = requests_per_second
        self._loop = asyncio.new_event_loop()
        self._client: Client | None = None
        if freeze_gc:
            freeze_startup_objects()

    # -- lifecycle ------------------------------------------------------------------

    def _get_client(self) -> Client:
        if self._client is None:
            self._client = Client(**self._client_args)
        return self._client

    def close(self) -> None:
        """Close the client and the actor's event loop."""
        if self._loop.is_closed():
            return
        if self._client is not None:
            self._loop.run_until_complete(self._client.aclose())
            self._client = None
        self._loop.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: nothing left to release
            self.close()

    # -- the batch function ------------------------------------------------------------

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Predict every row of ``batch``; return it with ``concepts``, ``text``, ``error``."""
        return self._loop.run_until_complete(self._predict_frame(batch))

    async def _predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        n = len(frame)
        concepts: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        texts: list[str | None] = [None] * n
        errors: list[str | None] = (
            [e if isinstance(e, str) and e else None for e in frame["error"]]
            if "error" in frame.columns
            else [None] * n
        )
        todo: list[tuple[int, types.Input]] = []
        records = frame.to_dict("records")
        for i, row in enumerate(records):
            if errors[i] is not None:
                continue
            try:
                todo.append((i, self.row_input(row)))
            except ValueError as exc:
                errors[i] = str(exc)
        client = self._get_client()
        results = client.predict_many(
            self.model_id,
            (inp for _, inp in todo),
            version_id=self.version_id,
            concurrency=self._concurrency,
            ordered=True,
            return_exceptions=True,
        )
        k = 0
        async for result in results:
            i = todo[k][0]
            k += 1
            if isinstance(result, BaseException):
                errors[i] = f"{type(result).__name__}: {result}"
            else:
                concepts[i], texts[i] = self.summarize(result)
        out = frame.copy()
        out["concepts"] = concepts
        out["text"] = texts
        out["error"] = errors
        return out

    def row_input(self, row: Mapping[str, Any]) -> types.Input:
        """The ``Input`` for one row (``ValueError`` when it has no content)."""
        cols = self.columns
        raw_id = row.get(cols["id"])
        input_id = "" if _missing(raw_id) else str(raw_id)
        text, url, blob = (row.get(cols[k]) for k in ("text", "url", "bytes"))
        if not _missing(blob):
            # A str column holds base64 text; a binary column holds the bytes themselves.
            payload = blob if isinstance(blob, bytes) else base64.b64decode(str(blob))
            data = types.Data(image=types.Image(base64=payload))
        elif not _missing(url):
            data = types.Data(image=types.Image(url=str(url)))
        elif not _missing(text):
            data = types.Data(text=types.Text(raw=str(text)))
        else:
            raise ValueError(f"row {input_id or '?'} has no text, url or bytes")
        return types.Input(id=input_id, data=data)

    def summarize(self, output: types.Output) -> tuple[list[dict[str, Any]], str | None]:
        """Top concepts and generated text of one output."""
        data = output.data
        if data is None:
            return [], None
        top = sorted(data.concepts, key=lambda c: c.value, reverse=True)[: self.top_k]
        concepts = [{"id": c.id, "name": c.name, "value": float(c.value)} for c in top]
        text = data.text.raw if data.text is not None and data.text.raw else None
        if text is None and data.parts:
            part = data.parts[0].data
            text = part.text.raw if part is not None and part.text is not None else None
        return concepts, text or None


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):  # pandas' NaN for empty cells
        return True
    return isinstance(value, str | bytes) and not value
