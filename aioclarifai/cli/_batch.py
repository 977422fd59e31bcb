"""The engine of ``aioclarifai batch``: a file of inputs in, a JSONL file of results out.

Inputs are read lazily and fed to ``client.predict_many`` (ordered, so each
result pairs with the id at the head of a small queue of ids in flight);
memory stays bounded by the number of inputs in flight, plus, with
``--resume``, the set of ids already done. Each result is written as one JSON
line as soon as it arrives and the file is flushed several times a second.

Setting ``stop`` (the first Ctrl-C) ends the feeding: inputs already sent
finish and are written, then the job returns with ``interrupted`` set.
Cancelling the task (a second Ctrl-C) still flushes every finished record.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from .._errors import (
    AuthenticationError,
    BadRequestError,
    ClarifaiError,
    NotFoundError,
    OutputError,
    PermissionDeniedError,
)
from . import _io
from ._progress import Progress, make_progress

if TYPE_CHECKING:
    from .. import types
    from .._client import Client

__all__ = ["BatchAborted", "BatchStats", "run_batch"]

# Request-level failures that will fail every other input too: stop instead of
# recording them, so a rerun with --resume redoes those inputs once fixed.
_FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError)


@dataclass(slots=True)
class BatchStats:
    """What a batch job did."""

    total: int = 0
    """Input lines in the file."""
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

    @property
    def rate(self) -> float:
        """Inputs recorded per second."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def remaining(self) -> int:
        """Inputs neither skipped nor recorded (those a ``--resume`` would do)."""
        return max(0, self.total - self.skipped - self.done)


class BatchAborted(Exception):
    """A request-level error that every input would hit (bad PAT, unknown model, no server).

    ``stats`` holds what was recorded before; ``error`` is the typed error.
    """

    def __init__(self, error: ClarifaiError, stats: BatchStats) -> None:
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
    version_id: str | None = None,
    concurrency: int = 512,
    resume: bool = False,
    stop: asyncio.Event | None = None,
    progress_stream: TextIO | None = None,
    progress_interval: float = 2.0,
) -> BatchStats:
    """Predict every input of ``inputs_path`` with ``model_id``, writing ``output_path``.

    With ``resume``, ids already in ``output_path`` are skipped and new records
    are appended; otherwise the output is created afresh. Progress goes to
    ``progress_stream`` (None: no progress). Raises :class:`BatchAborted` when a
    request-level error means every input would fail.
    """
    fmt = fmt or _io.detect_format(inputs_path)
    lines = _io.iter_inputs(inputs_path, fmt)
    stats = BatchStats(total=_io.count_inputs(inputs_path, fmt))
    done_ids = _io.load_done_ids(output_path) if resume else set()
    stop = stop or asyncio.Event()
    in_flight: deque[tuple[str, int]] = deque()
    fatal: list[ClarifaiError] = []
    read_all = False

    def feed() -> Generator[types.Input, None, None]:
        # Runs inside predict_many as it pulls inputs: it is the one reader of the file.
        nonlocal read_all
        for parsed in lines:
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
    results = client.predict_many(
        model_id,
        source,
        version_id=version_id,
        concurrency=concurrency,
        ordered=True,
        return_exceptions=True,
    )
    start = time.monotonic()
    with _io.open_output(output_path, append=resume) as out:
        writer = _io.ResultWriter(out)
        progress = make_progress(
            stats.total,
            progress_stream,
            initial=min(len(done_ids), stats.total),
            interval=progress_interval,
        )
        ticker = asyncio.create_task(_tick(stats, writer, progress))
        ok = 0
        try:
            async for result in results:
                item_id, line = in_flight.popleft()
                if isinstance(result, BaseException):
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
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            aclose = getattr(results, "aclose", None)
            if aclose is not None:
                await aclose()
            source.close()
            close_lines = getattr(lines, "close", None)
            if close_lines is not None:
                close_lines()
            stats.elapsed = time.monotonic() - start
            # Judged by the reading, not by count_inputs (a quoted CSV cell may span lines).
            stats.interrupted = not read_all or bool(fatal) or bool(in_flight)
            writer.flush()
            os.fsync(out.fileno())
            progress.update(stats.done, stats.errors)
            progress.close()
    if fatal:
        raise BatchAborted(fatal[0], stats)
    return stats


def _is_fatal(error: ClarifaiError, successes: int) -> bool:
    # A bad request may be the fault of one input of the batch: record it, never abort
    # on it, or a rerun would stop at the same place forever.
    if isinstance(error, OutputError | BadRequestError):
        return False
    # Before any success, other request-level errors (no server, a wrong URL) would repeat.
    return isinstance(error, _FATAL) or successes == 0


async def _tick(stats: BatchStats, writer: _io.ResultWriter, progress: Progress) -> None:
    while True:
        await asyncio.sleep(0.1)
        writer.maybe_flush(time.monotonic())
        progress.update(stats.done, stats.errors)
