"""Batch inference on Ray Data, with the same client inside every worker.

Nothing here imports Ray until it is used; install it with the ``ray`` extra
(``pip install 'aioclarifai[ray]'``)::

    import ray
    from aioclarifai.ray import ClarifaiPredictor, create_rate_limiter

    limiter = create_rate_limiter(requests_per_second=15)       # one budget for all actors
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
attempt of every actor first takes a token from one shared token bucket held
by a small Ray actor (:func:`create_rate_limiter`), or, without one, from a
per-actor bucket (``requests_per_second`` split by hand). Throttling answers
(11005 / HTTP 429) are retried with backoff rather than failing rows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import types
from ._batching import BatchConfig
from ._client import Client
from ._config import RetryConfig
from ._core import RequestEvent
from ._gc import freeze_startup_objects

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_COLUMNS", "ClarifaiPredictor", "TokenBucket", "create_rate_limiter"]

#: Input column names the predictor reads, by role.
DEFAULT_COLUMNS: Mapping[str, str] = {"id": "id", "text": "text", "url": "url", "bytes": "bytes"}


class TokenBucket:
    """A token bucket that hands out *reservations*: how long to wait for a token.

    Reserving never blocks the bucket's owner (important inside a Ray actor that
    serves many callers): the caller sleeps for the returned delay itself.
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0 requests per second")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate / 10))
        self._tokens = self.burst
        self._stamp = time.monotonic()

    def reserve(self, tokens: float = 1.0) -> float:
        """Take ``tokens`` now (possibly going into debt); seconds until they are covered."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= tokens
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


def create_rate_limiter(
    requests_per_second: float = 15.0, *, burst: float | None = None, name: str | None = None
) -> Any:
    """Start a Ray actor holding one :class:`TokenBucket` shared by all predictors.

    Returns the actor handle; pass it as ``rate_limiter=`` to
    :class:`ClarifaiPredictor`. ``name`` makes it findable with ``ray.get_actor``.
    """
    import ray

    actor_cls = ray.remote(num_cpus=0)(_RateLimiterActor)
    options = {"name": name, "get_if_exists": True} if name else {}
    return actor_cls.options(**options).remote(requests_per_second, burst)


class _RateLimiterActor:
    """The Ray actor behind :func:`create_rate_limiter`."""

    def __init__(self, rate: float, burst: float | None) -> None:
        self._bucket = TokenBucket(rate, burst)
        self.granted = 0

    def reserve(self) -> float:
        self.granted += 1
        return self._bucket.reserve()

    def granted_count(self) -> int:
        return self.granted


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
        max_batch_size: int = 64,
        max_retries: int = 8,
        concurrency: int = 512,
        freeze_gc: bool = True,
    ) -> None:
        self.model_id = model_id
        self.version_id = version_id
        self.columns = {**DEFAULT_COLUMNS, **(columns or {})}
        self.top_k = top_k
        self._limiter = rate_limiter
        self._bucket = TokenBucket(requests_per_second) if requests_per_second else None
        self._concurrency = concurrency
        self._client_args: dict[str, Any] = {
            "pat": pat,
            "user_id": user_id,
            "app_id": app_id,
            "base_url": base_url,
            "batching": BatchConfig(max_batch_size=max_batch_size),
            "retry": RetryConfig(max_retries=max_retries, max_backoff=16.0),
        }
        self._loop = asyncio.new_event_loop()
        self._client: Client | None = None
        if freeze_gc:
            freeze_startup_objects()

    # -- lifecycle ------------------------------------------------------------------

    def _get_client(self) -> Client:
        if self._client is None:
            hook = self._take_token if (self._limiter or self._bucket) else None
            self._client = Client(**self._client_args, on_request=hook)
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

    async def _take_token(self, event: RequestEvent) -> None:
        if self._limiter is not None:
            delay = float(await self._limiter.reserve.remote())
        else:
            assert self._bucket is not None
            delay = self._bucket.reserve()
        if delay > 0:
            await asyncio.sleep(delay)

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
