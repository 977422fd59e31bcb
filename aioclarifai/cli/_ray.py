"""``aioclarifai batch --engine ray``: the batch job on Ray Data.

The same input formats, output records, ids and ``--resume`` semantics as the
single-process job (:mod:`aioclarifai.cli._batch`):

- **read** with a Ray Data file datasource that yields ``(line number, raw
  line)`` rows, so inputs without an id get the same ``line-<N>`` ids as on
  one machine, and the input may live wherever Ray's readers reach (local
  paths on every node, ``s3://``, ...);
- **parse and predict** in an actor pool (``map_batches``): each actor keeps
  one event loop and one :class:`~aioclarifai.Client`, skips ids already done,
  turns malformed lines into error records, and draws every HTTP attempt from a
  shared :func:`~aioclarifai.ray.create_rate_limiter` budget. A request-level
  error that every input would hit (a bad PAT, an unknown model) is not
  recorded: the job stops with :class:`~aioclarifai.cli._batch.BatchAborted`,
  so a rerun with ``--resume`` does those inputs, as on one machine;
- **write** on the driver: records stream back as the pool produces them and
  are added to the one output (JSONL, CSV or Parquet, local or remote, as on
  one machine) and flushed, so every finished input is recorded exactly once
  even when the job is interrupted; the first failed write stops the job.
  (Ray's own ``write_json`` would shard the output into a folder of files; the
  driver keeps the single-file format of the one-machine job.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from .._errors import ClarifaiError
from ..ray import ClarifaiPredictor, create_rate_limiter
from . import _io, _storage, _writers
from ._batch import BatchAborted, BatchStats, _is_fatal
from ._progress import make_progress

if TYPE_CHECKING:
    import pandas as pd

    from .. import types

__all__ = ["run_batch_on_ray"]

_READ_CHUNK = 4 << 20
_ROWS_PER_BLOCK = 8192


def _numbered_lines(path: str) -> Any:
    """A Ray Data datasource reading ``path`` as ``{"line": N, "raw": bytes}`` rows.

    A URL that is not local is read through fsspec (wrapped as a pyarrow file
    system), so Ray's workers reach what the one-process job reaches.
    """
    import pyarrow as pa
    from ray.data.datasource import FileBasedDatasource

    class NumberedLines(FileBasedDatasource):
        def _read_stream(self, f: Any, path: str) -> Iterator[Any]:
            number = 0
            numbers: list[int] = []
            raws: list[bytes] = []
            tail = b""
            while True:
                chunk = f.read(_READ_CHUNK)
                if not chunk:
                    break
                lines = (tail + chunk).split(b"\n")
                tail = lines.pop()
                for raw in lines:
                    number += 1
                    if raw.strip():
                        numbers.append(number)
                        raws.append(raw)
                if len(numbers) >= _ROWS_PER_BLOCK:
                    yield pa.table({"line": numbers, "raw": raws})
                    numbers, raws = [], []
            if tail.strip():
                numbers.append(number + 1)
                raws.append(tail)
            if numbers:
                yield pa.table({"line": numbers, "raw": raws})

    if _storage.is_local(path):
        return NumberedLines(_storage.local_path(path))
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    fs, inner = _storage.filesystem(path)
    return NumberedLines(inner, filesystem=PyFileSystem(FSSpecHandler(fs)))


class JobPredictor(ClarifaiPredictor):
    """The actor of the Ray batch job: raw lines in, finished JSONL records out."""

    def __init__(
        self,
        model_id: str,
        *,
        fmt: str,
        header: list[str],
        done_ids: set[str],
        settings: types.Model | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_id, **kwargs)
        self.fmt = fmt
        self.header = header
        self.done_ids = done_ids
        self.settings = settings
        self._ok = 0

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Rows for the lines of ``batch``: ``id``, ``record``, ``failed``, ``skipped``, ``abort``.

        A record row has the JSONL ``record``; a line already done is a
        ``skipped`` row; a request-level error that every input would hit is an
        ``abort`` row (its message) and is not recorded.
        """
        return self._loop.run_until_complete(self._records(batch))

    async def _records(self, batch: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        ids: list[str] = []
        records: list[bytes] = []
        failed: list[bool] = []
        skipped: list[bool] = []
        abort: list[str] = []

        def row(
            item_id: str, record: bytes, *, bad: bool, skip: bool = False, why: str = ""
        ) -> None:
            ids.append(item_id)
            records.append(record)
            failed.append(bad)
            skipped.append(skip)
            abort.append(why)

        todo: list[_io.ParsedLine] = []
        for number, raw in zip(batch["line"], batch["raw"], strict=True):
            parsed = _io.parse_line(self.fmt, int(number), bytes(raw), self.header)
            if parsed is None:
                continue
            if parsed.id in self.done_ids:
                row(parsed.id, b"", bad=False, skip=True)
            elif parsed.input is None:
                row(
                    parsed.id,
                    _io.error_line(parsed.id, parsed.error or "", parsed.line),
                    bad=True,
                )
            else:
                todo.append(parsed)
        results = self._get_client().predict_many(
            self.model_id,
            (p.input for p in todo if p.input is not None),
            version_id=self.version_id,
            model=self.settings,
            ordered=True,
            return_exceptions=True,
        )
        k = 0
        async for result in results:
            parsed = todo[k]
            k += 1
            if isinstance(result, ClarifaiError) and _is_fatal(result, self._ok):
                # Not recorded: the input was never judged, a rerun should do it.
                row(parsed.id, b"", bad=True, why=str(result) or type(result).__name__)
            elif isinstance(result, BaseException):
                row(parsed.id, _io.error_line(parsed.id, result, parsed.line), bad=True)
            else:
                self._ok += 1
                row(parsed.id, _io.output_line(parsed.id, result), bad=False)
        return pd.DataFrame(
            {
                "id": pd.Series(ids, dtype=object),
                "record": pd.Series(records, dtype=object),
                "failed": pd.Series(failed, dtype=bool),
                "skipped": pd.Series(skipped, dtype=bool),
                "abort": pd.Series(abort, dtype=object),
            }
        )


def run_batch_on_ray(
    model_id: str,
    inputs_path: str,
    output_path: str,
    *,
    client_args: dict[str, Any],
    fmt: str | None = None,
    output_format: str | None = None,
    top: int = 5,
    version_id: str | None = None,
    model: types.Model | None = None,
    actors: int = 2,
    cpus_per_actor: float = 0.5,
    batch_size: int = 1024,
    requests_per_second: float | None = None,
    resume: bool = False,
    address: str | None = None,
    progress_stream: TextIO | None = None,
    progress_interval: float = 2.0,
) -> BatchStats:
    """Run the batch job on Ray Data (``ray.init(address=...)`` unless already connected).

    ``client_args`` (pat, user_id, app_id, base_url) configure each actor's
    client. ``requests_per_second`` makes all actors share one rate budget.
    Actors mostly wait on the network, so each reserves ``cpus_per_actor``
    (half a CPU by default), leaving room for the read tasks. Paths and
    formats as for :func:`~aioclarifai.cli._batch.run_batch` (but not stdin).
    Raises :class:`~aioclarifai.cli._batch.BatchAborted` when a request-level
    error means every input would fail (nothing of it is recorded), or when
    the results cannot be written.
    """
    import ray

    fmt = fmt or _io.detect_format(inputs_path)
    output_format = output_format or _writers.detect_output_format(output_path)
    total = None
    with _storage.open_input(inputs_path) as f:
        header = _io.csv_header(f) if fmt == "csv" else []
        if _storage.is_local(inputs_path):
            f.seek(0)
            total = _io.count_inputs(f, fmt)
    stats = BatchStats(total=total)
    with _writers.open_writer(output_path, output_format, resume=resume, top=top) as (
        writer,
        done_ids,
    ):
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        # One controller for all actors: the given limit, or the account's, learned.
        limiter = create_rate_limiter(requests_per_second)
        dataset = ray.data.read_datasource(_numbered_lines(inputs_path)).map_batches(
            JobPredictor,
            fn_constructor_kwargs={
                "model_id": model_id,
                "fmt": fmt,
                "header": header,
                "done_ids": done_ids,
                "settings": model,
                "version_id": version_id,
                "rate_limiter": limiter,
                **client_args,
            },
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=cpus_per_actor,
            batch_size=batch_size,
            batch_format="pandas",
        )
        progress = make_progress(
            stats.total,
            progress_stream,
            initial=len(done_ids) if total is None else min(len(done_ids), total),
            interval=progress_interval,
        )
        started = time.monotonic()
        fatal = ""
        try:
            for batch in dataset.iter_batches(batch_format="pandas", batch_size=None):
                skipped = batch["skipped"]
                aborted = batch["abort"] != ""
                recorded = batch[~skipped & ~aborted]
                # Whole batches are recorded: a Ctrl-C lands between them, and closing
                # the writer flushes every record counted here.
                for record, failed in zip(recorded["record"], recorded["failed"], strict=True):
                    writer.write_record(record, failed=bool(failed))
                writer.maybe_flush(time.monotonic())
                stats.skipped += int(skipped.sum())
                stats.done += len(recorded)
                stats.errors += int(recorded["failed"].sum())
                progress.update(stats.done, stats.errors)
                if aborted.any():
                    fatal = str(batch["abort"][aborted].iloc[0])
                    break
        except KeyboardInterrupt:
            stats.interrupted = True
        except _writers.OutputWriteError:
            pass  # kept in writer.failed: stop reading results (and so predicting)
        finally:
            stats.elapsed = time.monotonic() - started
            if writer.failed is not None:
                stats.done, stats.errors = writer.saved, writer.saved_errors
                stats.interrupted = True
            progress.close()
    if writer.failed is not None:
        raise BatchAborted(writer.failed, stats)
    if fatal:
        stats.interrupted = True
        raise BatchAborted(ClarifaiError(fatal), stats)
    return stats
