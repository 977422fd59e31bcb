"""The engine of ``aioclarifai batch``: a file of inputs in, a file of results out.

Inputs are read lazily (in a worker thread, a chunk at a time) and fed to
``client.predict_many`` (ordered, so each result pairs with the id at the
head of a small queue of ids in flight);
memory stays bounded by the number of inputs in flight, plus, with
``--resume``, the set of ids already done. Each result is recorded as soon as
it arrives and the output is flushed several times a second. The first failed
write (a full disk, a lost store) stops the feeding at once: nothing more is
sent, the summary counts what reached the output, and ``--resume`` does the rest.

Setting ``stop`` (the first Ctrl-C) ends the feeding: inputs already sent
finish and are written, then the job returns with ``interrupted`` set.
Cancelling the task (a second Ctrl-C) still flushes every finished record.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

import anyio
from anyio import to_thread
from anyio.abc import TaskGroup

from .._batching import BatchConfig
from .._errors import (
    AuthenticationError,
    BadRequestError,
    ClarifaiError,
    NotFoundError,
    OutputError,
    PermissionDeniedError,
    RateLimitError,
)
from .._gc import freeze_startup_objects
from . import _io, _storage, _writers
from ._progress import Progress, make_progress

if TYPE_CHECKING:
    from .. import types
    from .._client import Client

__all__ = ["BatchAborted", "BatchPlan", "BatchStats", "plan_batch", "run_batch", "run_job"]

# Request-level failures that will fail every other input too: stop instead of
# recording them, so a rerun with --resume redoes those inputs once fixed.
_FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError)
# Usage quotas that will not clear within the job (hourly, monthly, account): every
# further input would hit them too, so the job stops at once instead of burning the file.
_QUOTA_CODES = {11003: "hourly", 11004: "monthly", 11006: "account"}
#: Inputs in flight: 32 full requests of 128, enough for the account limit (15 req/s by
#: default), not the job, to be the ceiling for model latencies up to about 2 s.
DEFAULT_CONCURRENCY = 32 * 128
_MIN_JUDGED = 100  # inputs recorded before --max-error-rate judges the job


@dataclass(slots=True)
class BatchStats:
    """What a batch job did."""

    total: int | None = 0
    """Inputs in the file (None when it is read once, from stdin or a remote store)."""
    skipped: int = 0
    """Inputs already in the output file (``--resume``)."""
    done: int = 0
    """Inputs recorded by this run, successes and failures."""
    errors: int = 0
    """Inputs recorded as failed by this run (malformed lines included)."""
    malformed: int = 0
    """Lines that could not be read as an input."""
    elapsed: float = 0.0
    """Seconds this run took."""
    interrupted: bool = False
    """The job was stopped before every input was recorded."""
    requests: int = 0
    """HTTP attempts the client's rate controller let through (0: no controller)."""
    throttled: int = 0
    """Of those, the answers that were throttling (429 / 11005), each retried."""
    settled_rate: float | None = None
    """Requests/s the controller settled on (None: never throttled, or no controller)."""
    limit: float | None = None
    """The rate limit given with ``--rate`` (requests/s), if any."""
    inputs_per_request: int = 128
    """The batch size the job's requests were filled to."""

    @property
    def rate(self) -> float:
        """Inputs recorded per second."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def remaining(self) -> int | None:
        """Inputs neither skipped nor recorded (those a ``--resume`` would do), when known."""
        if self.total is None:
            return None
        return max(0, self.total - self.skipped - self.done)


class BatchAborted(Exception):
    """The job stopped early: a request-level error that every input would hit (bad PAT,
    unknown model, no server), or results that could not be written.

    ``stats`` holds what was recorded before; ``error`` is the typed error
    (a :class:`ClarifaiError` or an :class:`~aioclarifai.cli._writers.OutputWriteError`).
    """

    def __init__(self, error: Exception, stats: BatchStats) -> None:
        super().__init__(str(error))
        self.error = error
        self.stats = stats


async def run_batch(
    client: Client,
    model_id: str,
    inputs_path: str,
    output_path: str,
    *,
    fmt: str | None = None,
    output_format: str | None = None,
    top: int = 5,
    version_id: str | None = None,
    model: types.Model | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    resume: bool = False,
    redo: _writers.Redo | None = _writers.is_transient,
    max_error_rate: float | None = None,
    stop: asyncio.Event | None = None,
    progress_stream: TextIO | None = None,
    progress_interval: float = 2.0,
    freeze_gc: bool = False,
) -> BatchStats:
    """Predict every input of ``inputs_path`` with ``model_id``, writing ``output_path``.

    Paths are local, ``-`` (stdin/stdout) or fsspec URLs (see
    :mod:`aioclarifai.cli._storage`); ``output_format`` is ``jsonl``, ``csv``
    or ``parquet`` (default: by extension), with ``top`` concept columns in
    the flat formats. ``model`` carries inference settings (output info).
    With ``resume``, ids already in ``output_path`` are skipped and new
    records are added; otherwise the output is created afresh. Progress goes
    to ``progress_stream`` (None: no progress). Raises :class:`BatchAborted`
    when a request-level error means every input would fail, or when the
    results cannot be written (the job stops sending inputs at the first
    failed write; a rerun with ``resume`` does the rest). With ``freeze_gc``
    (the CLI's one-process job), objects alive when the job starts are frozen
    out of the garbage collector's full passes (:func:`gc.freeze`).

    On resume, previous error records that ``redo`` picks (by default the
    transient ones: throttled, unavailable, timed out) are run again and
    replaced, so the output keeps one final record per id. A usage quota
    answer (11003/11004/11006) stops the job at once; so does an error share
    above ``max_error_rate`` once 100 inputs are recorded.
    """

    def send(source: AsyncIterable[types.Input]) -> AsyncIterator[Any]:
        return client.predict_many(
            model_id,
            source,
            version_id=version_id,
            model=model,
            concurrency=concurrency,
            ordered=True,
            return_exceptions=True,
        )

    try:
        stats = await run_job(
            send,
            inputs_path,
            output_path,
            fmt=fmt,
            output_format=output_format,
            top=top,
            resume=resume,
            redo=redo,
            max_error_rate=max_error_rate,
            stop=stop,
            progress_stream=progress_stream,
            progress_interval=progress_interval,
            freeze_gc=freeze_gc,
        )
    except BatchAborted as exc:
        _rate_summary(client, exc.stats)
        raise
    _rate_summary(client, stats)
    return stats


async def run_job(
    send: Callable[[AsyncIterable[types.Input]], AsyncIterator[Any]],
    inputs_path: str,
    output_path: str,
    *,
    fmt: str | None = None,
    output_format: str | None = None,
    top: int = 5,
    resume: bool = False,
    redo: _writers.Redo | None = _writers.is_transient,
    max_error_rate: float | None = None,
    stop: asyncio.Event | None = None,
    progress_stream: TextIO | None = None,
    progress_interval: float = 2.0,
    freeze_gc: bool = False,
) -> BatchStats:
    """The job of :func:`run_batch` with any operation: ``send(inputs)`` yields one result
    per input, in order (an Output, a WorkflowResult, an added Input, or the exception).

    ``aioclarifai batch --workflow`` and ``aioclarifai ingest`` run through here.
    """
    fmt = fmt or _io.detect_format(inputs_path)
    output_format = output_format or _writers.detect_output_format(output_path)
    with contextlib.ExitStack() as files:
        f = await to_thread.run_sync(files.enter_context, _storage.open_input(inputs_path))
        total = None
        if _storage.is_local(inputs_path):
            total = await to_thread.run_sync(_io.count_inputs, f, fmt)
            await to_thread.run_sync(f.seek, 0)
        # A bad CSV header raises here, before the output is touched.
        lines = await to_thread.run_sync(_io.iter_inputs, f, fmt)
        files.callback(getattr(lines, "close", lambda: None))
        return await _run(
            send,
            lines,
            output_path,
            stats=BatchStats(total=total),
            output_format=output_format,
            top=top,
            resume=resume,
            redo=redo if resume else None,
            max_error_rate=max_error_rate,
            stop=stop or asyncio.Event(),
            progress_stream=progress_stream,
            progress_interval=progress_interval,
            freeze_gc=freeze_gc,
        )


async def _run(
    send: Callable[[AsyncIterable[types.Input]], AsyncIterator[Any]],
    lines: Iterator[_io.ParsedLine],
    output_path: str,
    *,
    stats: BatchStats,
    output_format: str,
    top: int,
    resume: bool,
    redo: _writers.Redo | None,
    max_error_rate: float | None,
    stop: asyncio.Event,
    progress_stream: TextIO | None,
    progress_interval: float,
    freeze_gc: bool,
) -> BatchStats:
    in_flight: deque[tuple[str, int]] = deque()
    fatal: list[Exception] = []
    read_all = False
    done_ids: set[str] = set()

    async def feed() -> AsyncGenerator[types.Input, None]:
        # Runs inside ``send`` as it pulls inputs: it is the one reader of the input,
        # in a worker thread, a chunk at a time (a remote read must not block the loop).
        nonlocal read_all
        while True:
            chunk = await to_thread.run_sync(_next_chunk, lines)
            if not chunk:
                break
            for parsed in chunk:
                if stop.is_set():
                    return
                if parsed.id in done_ids:
                    stats.skipped += 1
                    continue
                if parsed.input is None:
                    writer.write_error(parsed.id, _io.error_record(parsed.error or "", parsed.line))
                    stats.done += 1
                    stats.errors += 1
                    stats.malformed += 1
                    continue
                in_flight.append((parsed.id, parsed.line))
                yield parsed.input
        read_all = True

    source = feed()
    # Bad arguments raise here, before the output is touched or the ticker started.
    results = send(source)
    start = time.monotonic()
    opened = _writers.open_writer(output_path, output_format, resume=resume, top=top, redo=redo)
    with opened as (writer, done):
        done_ids.update(done)
        progress = make_progress(
            stats.total,
            progress_stream,
            initial=len(done_ids) if stats.total is None else min(len(done_ids), stats.total),
            interval=progress_interval,
        )
        if freeze_gc:
            # Start-up is over (imports, client, resumed ids): keep it out of full GC passes.
            freeze_startup_objects()
        ok = 0
        # The ticker lives in a task group owned by this job: it never outlives it,
        # and its failure ends the job as the job's own failure (no exception groups).
        failures: list[Exception] = []

        async def tick(group: TaskGroup) -> None:
            try:
                await _tick(stats, writer, progress, stop)
            except Exception as exc:
                failures.append(exc)
                group.cancel_scope.cancel()

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(tick, group)
                try:
                    async for result in results:
                        if writer.failed is not None:
                            break  # nothing more can be recorded: stop paying for predictions
                        item_id, line = in_flight.popleft()
                        if isinstance(result, BaseException):
                            quota = _quota_stop(result)
                            if quota is not None:
                                if not fatal:
                                    fatal.append(quota)
                                    stop.set()
                                continue  # not recorded: a --resume once the quota resets does it
                            if isinstance(result, ClarifaiError) and _is_fatal(result, ok):
                                # Not recorded: the input was never judged, a rerun should do it.
                                if not fatal:
                                    fatal.append(result)
                                    stop.set()
                                continue
                            writer.write_error(item_id, _io.error_record(result, line))
                            stats.errors += 1
                        else:
                            writer.write_output(item_id, result)
                            ok += 1
                        stats.done += 1
                        if max_error_rate is not None and not fatal:
                            failing = _failing(stats, max_error_rate)
                            if failing is not None:
                                fatal.append(failing)
                                stop.set()
                except Exception as exc:
                    failures.append(exc)
                finally:
                    group.cancel_scope.cancel()
        finally:
            await results.aclose()  # type: ignore[attr-defined]
            await source.aclose()
            stats.elapsed = time.monotonic() - start
            # Judged by the reading, not by count_inputs (a quoted CSV cell may span lines).
            stats.interrupted = not read_all or bool(fatal) or bool(in_flight)
            with contextlib.suppress(_writers.OutputWriteError):
                writer.flush()  # a failure stays in writer.failed
            if writer.failed is not None:
                # Only what reached the store counts; --resume finds the rest to do.
                stats.done, stats.errors = writer.saved, writer.saved_errors
                stats.interrupted = True
            progress.update(stats.done, stats.errors)
            progress.close()
        if failures:
            raise failures[0]
    if writer.failed is not None:
        raise BatchAborted(writer.failed, stats)
    if fatal:
        raise BatchAborted(fatal[0], stats)
    return stats


def _quota_stop(error: BaseException) -> ClarifaiError | None:
    """The error that stops the job when ``error`` says a usage quota is used up."""
    if not isinstance(error, RateLimitError) or error.code not in _QUOTA_CODES:
        return None
    stop = ClarifaiError(
        f"the account's {_QUOTA_CODES[error.code]} usage quota is used up "
        f"({error.code} {error.code_name}: {error.description or error.message}); the job "
        "stopped at once rather than fail every other input: rerun with --resume once it resets"
    )
    stop.__cause__ = error
    return stop


def _failing(stats: BatchStats, max_error_rate: float) -> ClarifaiError | None:
    """The error that stops a job failing more than ``max_error_rate`` of its inputs."""
    if stats.done < _MIN_JUDGED or stats.errors <= max_error_rate * stats.done:
        return None
    return ClarifaiError(
        f"{stats.errors:,} of the {stats.done:,} inputs recorded failed "
        f"({stats.errors / stats.done:.0%}, above --max-error-rate {max_error_rate:.0%}): "
        "the job stopped; see the error records, then rerun with --resume (--retry-failed "
        "runs the failed inputs again)"
    )


def _rate_summary(client: Client, stats: BatchStats) -> None:
    rate = client.rate_stats()
    if rate is not None:
        stats.requests, stats.throttled = rate.requests, rate.throttled
        stats.settled_rate = rate.ceiling  # the account limit as learned from throttling
        stats.limit = rate.limit
    config = client._batching  # what the job's requests were filled to
    if isinstance(config, BatchConfig):
        stats.inputs_per_request = config.max_batch_size if config.enabled else 1
    elif config is False:
        stats.inputs_per_request = 1
    else:
        stats.inputs_per_request = BatchConfig().max_batch_size


def _next_chunk(lines: Iterator[_io.ParsedLine], size: int = 256) -> list[_io.ParsedLine]:
    return list(itertools.islice(lines, size))


def _is_fatal(error: ClarifaiError, successes: int) -> bool:
    # A bad request may be the fault of one input of the batch: record it, never abort
    # on it, or a rerun would stop at the same place forever.
    if isinstance(error, OutputError | BadRequestError):
        return False
    # Before any success, other request-level errors (no server, a wrong URL) would repeat.
    return isinstance(error, _FATAL) or successes == 0


async def _tick(
    stats: BatchStats, writer: _writers.RecordWriter, progress: Progress, stop: asyncio.Event
) -> None:
    while True:
        await asyncio.sleep(0.1)
        try:
            writer.maybe_flush(time.monotonic())
        except _writers.OutputWriteError:
            stop.set()  # stop feeding inputs; the job ends with writer.failed
            return
        progress.update(stats.done, stats.errors)


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What a batch job would do (``--dry-run``): nothing is sent to make it."""

    inputs: int
    """Valid inputs."""
    invalid: int
    """Inputs that would be recorded as an InputError."""
    examples: list[tuple[int, str, str]]
    """(line, id, reason) of the first few of them."""
    requests: int
    """PostModelOutputs requests at ``batch_size`` inputs each."""
    requests_per_second: float
    """The rate limit the estimate assumes."""

    @property
    def min_seconds(self) -> float:
        """The least time the requests take at the rate limit."""
        return self.requests / self.requests_per_second

    def describe(self) -> str:
        """The lines ``--dry-run`` prints."""
        from ._progress import format_duration

        lines = [
            f"dry run: {self.inputs:,} inputs in {self.requests:,} requests; at least "
            f"{format_duration(self.min_seconds)} ({self.min_seconds:,.1f} s) at "
            f"{self.requests_per_second:g} requests/s; nothing was sent"
        ]
        if self.invalid:
            lines.append(f"  {self.invalid:,} inputs cannot be read (recorded as errors):")
            lines += [f"    line {n} ({i}): {why}" for n, i, why in self.examples]
            if self.invalid > len(self.examples):
                lines.append(f"    … {self.invalid - len(self.examples):,} more")
        return "\n".join(lines)


def plan_batch(
    inputs_path: str,
    *,
    fmt: str | None = None,
    batch_size: int = 128,
    requests_per_second: float = 15.0,
) -> BatchPlan:
    """Read and check every input of ``inputs_path``; count the requests a job would send.

    The count assumes full batches (the batcher sends fewer inputs per request
    only when inline payloads exceed its byte budget), so the time is a floor.
    """
    fmt = fmt or _io.detect_format(inputs_path)
    valid = invalid = 0
    examples: list[tuple[int, str, str]] = []
    with _storage.open_input(inputs_path) as f:
        for parsed in _io.iter_inputs(f, fmt):
            if parsed.input is not None:
                valid += 1
                continue
            invalid += 1
            if len(examples) < 10:
                examples.append((parsed.line, parsed.id, parsed.error or ""))
    return BatchPlan(
        inputs=valid,
        invalid=invalid,
        examples=examples,
        requests=-(-valid // batch_size),
        requests_per_second=requests_per_second,
    )
