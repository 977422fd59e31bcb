"""Result files of ``aioclarifai batch``: JSONL (default), CSV and Parquet.

- **jsonl**: one line per input, ``{"id", "output": <Output>}`` or
  ``{"id", "error": {...}}`` (see :mod:`aioclarifai.cli._io`); the full Output.
- **csv** and **parquet**: flat columns for pandas, DuckDB and Spark —
  ``id``, ``status`` (``ok`` / ``error``), ``concept_1``, ``value_1`` …
  ``concept_N``, ``value_N`` (the top ``N`` concepts, best first; ``--top``,
  default 5), ``text`` (a text output), ``error_type``, ``error_message``,
  ``error_code``. Parquet needs pyarrow (the ``parquet`` extra).

The format comes from the extension (``.csv``, ``.parquet``/``.pq``, else
JSONL) or ``--output-format``. Every writer buffers records and writes them
on :meth:`flush`; ``saved`` counts the records whose bytes the store
accepted, so after a failed write the job knows what is on disk. Parquet is
written to ``OUTPUT.partial`` and renamed when complete (a Parquet file is
unreadable until its footer is written). See :mod:`aioclarifai.cli._storage`
for how ``--resume`` appends to or rewrites each kind of output.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
from collections.abc import Callable, Iterator
from typing import IO, Any

import msgspec

from .. import _decode, types
from . import _io, _storage
from ._render import output_text, top_concepts

__all__ = [
    "OUTPUT_FORMATS",
    "TRANSIENT_ERRORS",
    "OutputWriteError",
    "RecordWriter",
    "Redo",
    "detect_output_format",
    "flat_columns",
    "flat_row",
    "is_failure",
    "is_transient",
    "open_writer",
]

OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
_PARQUET_ROWS_PER_GROUP = 50_000


class OutputWriteError(Exception):
    """Results could not be written (a full disk, a lost connection to the store)."""


def _failure(name: str, exc: OSError) -> OutputWriteError:
    return OutputWriteError(f"cannot write the results to {name}: {exc.strerror or exc}")


def detect_output_format(path: str) -> str:
    """``csv`` / ``parquet`` by extension; JSONL otherwise (and for ``-``)."""
    ext = os.path.splitext(path.split("?", 1)[0])[1].lower()
    if ext == ".csv":
        return "csv"
    if ext in (".parquet", ".pq"):
        return "parquet"
    return "jsonl"


def flat_columns(top: int) -> list[str]:
    """The column names of a CSV or Parquet output with ``top`` concept columns."""
    concepts = [f"{kind}_{i}" for i in range(1, top + 1) for kind in ("concept", "value")]
    return ["id", "status", *concepts, "text", "error_type", "error_message", "error_code"]


def flat_row(
    item_id: str,
    output: _io.Result | None,
    error: dict[str, Any] | None,
    top: int,
) -> list[Any]:
    """One row under :func:`flat_columns` (None for an empty cell).

    A workflow result's concepts are the best of all its nodes' outputs, its
    text the texts of those that have one, a line each.
    """
    row: list[Any] = [item_id, "error" if error is not None else "ok"]
    outputs: list[types.Output] = []
    if isinstance(output, types.Output):
        outputs = [output]
    elif isinstance(output, types.WorkflowResult):
        outputs = list(output.outputs)
    concepts = sorted(
        (c for o in outputs for c in top_concepts(o, top)), key=lambda c: c.value, reverse=True
    )[:top]
    for i in range(top):
        if i < len(concepts):
            row += [concepts[i].name or concepts[i].id, concepts[i].value]
        else:
            row += [None, None]
    texts = [t for t in map(output_text, outputs) if t is not None]
    row.append("\n".join(texts) if texts else None)
    if error is None:
        row += [None, None, None]
    else:
        row += [error.get("type"), error.get("message"), error.get("code")]
    return row


class RecordWriter:
    """Buffers records and writes them to ``f`` in the subclass's format."""

    def __init__(self, f: IO[bytes], *, flush_every: float = 0.2) -> None:
        self._f = f
        self.name = "the output"
        """The output's path, for messages."""
        self._flush_every = flush_every
        self._last_flush = 0.0
        self.written = 0
        """Records handed to this writer."""
        self.saved = 0
        """Records the store accepted (all of them after a successful :meth:`flush`)."""
        self.saved_errors = 0
        """Error records among ``saved``."""
        self._pending_errors = 0
        self.failed: OutputWriteError | None = None
        """The first write failure; nothing is written after it."""

    def write_output(self, item_id: str, output: _io.Result) -> None:
        """Record a successful input: a prediction, a workflow run or an added input."""
        self._add(item_id, output, None)
        self.written += 1

    def write_error(self, item_id: str, error: dict[str, Any]) -> None:
        """Record a failed input with its :func:`~aioclarifai.cli._io.error_record`."""
        self._add(item_id, None, error)
        self.written += 1
        self._pending_errors += 1

    def write_record(self, record: bytes, *, failed: bool) -> None:
        """Record one JSONL record made elsewhere (the Ray engine's actors)."""
        parsed = _decode.decode(_io._Record, record)
        if parsed.error is not None:
            self.write_error(parsed.id, parsed.error)
        else:
            self.write_output(
                parsed.id, parsed.output or parsed.result or parsed.input or types.Output()
            )

    def maybe_flush(self, now: float) -> None:
        """Flush when the last flush is older than ``flush_every`` seconds."""
        if now - self._last_flush >= self._flush_every:
            self.flush()
            self._last_flush = now

    def flush(self) -> None:
        """Write every buffered record through to the store.

        The first failure raises :class:`OutputWriteError` and ends the writer:
        later flushes write nothing, so the file keeps whole records up to that
        point (a torn last line at most, which ``--resume`` cuts off).
        """
        if self.failed is not None:
            return
        try:
            self._write_pending()
            self._f.flush()
        except OSError as exc:
            self.failed = _failure(self.name, exc)
            raise self.failed from exc
        self.saved = self.written
        self.saved_errors += self._pending_errors
        self._pending_errors = 0

    def close(self) -> None:
        """Write what is left and finish the file (a Parquet footer, a remote commit)."""
        self.flush()
        self._finish()

    def _finish(self) -> None:
        pass

    def _add(self, item_id: str, output: _io.Result | None, error: dict[str, Any] | None) -> None:
        raise NotImplementedError

    def _write_pending(self) -> None:
        raise NotImplementedError


class JsonlWriter(RecordWriter):
    """One JSON line per input: the full Output or the error."""

    def __init__(self, f: IO[bytes], *, flush_every: float = 0.2) -> None:
        super().__init__(f, flush_every=flush_every)
        self._encoder = msgspec.json.Encoder()
        self._buf = bytearray()

    def write_record(self, record: bytes, *, failed: bool) -> None:
        """Append ``record`` as it is (no decoding)."""
        self._buf += record
        self._buf += b"\n"
        self.written += 1
        self._pending_errors += failed

    def _add(self, item_id: str, output: _io.Result | None, error: dict[str, Any] | None) -> None:
        record = (
            _io.output_record(item_id, output)
            if output is not None
            else _io._Record(id=item_id, error=error)
        )
        self._encoder.encode_into(record, self._buf, -1)
        self._buf += b"\n"

    def _write_pending(self) -> None:
        if self._buf:
            self._f.write(self._buf)
            self._buf.clear()


class CsvWriter(RecordWriter):
    """Flat rows under :func:`flat_columns`, the header first unless appending."""

    def __init__(self, f: IO[bytes], *, top: int, header: bool, flush_every: float = 0.2) -> None:
        super().__init__(f, flush_every=flush_every)
        self._top = top
        self._text = io.StringIO()
        self._csv = csv.writer(self._text, lineterminator="\n")
        if header:
            self._csv.writerow(flat_columns(top))

    def copy_row(self, row: list[str]) -> None:
        """Write a row of a previous run as it is (``--resume``)."""
        self._csv.writerow(row)

    def _add(self, item_id: str, output: _io.Result | None, error: dict[str, Any] | None) -> None:
        row = flat_row(item_id, output, error, self._top)
        self._csv.writerow(["" if cell is None else cell for cell in row])

    def _write_pending(self) -> None:
        text = self._text.getvalue()
        if text:
            self._f.write(text.encode("utf-8"))
            self._text.seek(0)
            self._text.truncate()


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise _storage.StorageError(
            "Parquet output needs pyarrow: pip install 'aioclarifai[parquet]'"
        ) from None
    return pa, pq


def parquet_schema(top: int) -> Any:
    """The Arrow schema of a Parquet output with ``top`` concept columns."""
    pa, _ = _pyarrow()
    fields = [pa.field("id", pa.string()), pa.field("status", pa.string())]
    for i in range(1, top + 1):
        fields += [pa.field(f"concept_{i}", pa.string()), pa.field(f"value_{i}", pa.float64())]
    fields += [
        pa.field("text", pa.string()),
        pa.field("error_type", pa.string()),
        pa.field("error_message", pa.string()),
        pa.field("error_code", pa.int64()),
    ]
    return pa.schema(fields)


class ParquetWriter(RecordWriter):
    """Flat rows in row groups of up to 50,000; the file is complete once closed."""

    def __init__(self, f: IO[bytes], *, top: int, flush_every: float = 0.2) -> None:
        super().__init__(f, flush_every=flush_every)
        _, pq = _pyarrow()
        self._top = top
        self._schema = parquet_schema(top)
        self._writer = pq.ParquetWriter(f, self._schema)
        self._rows: list[list[Any]] = []

    def copy_from(self, table: Any) -> None:
        """Write a row group of a previous run first (``--resume``)."""
        self._writer.write_table(table)

    def _add(self, item_id: str, output: _io.Result | None, error: dict[str, Any] | None) -> None:
        self._rows.append(flat_row(item_id, output, error, self._top))

    def maybe_flush(self, now: float) -> None:
        """Write a row group once enough rows are buffered (small groups read slowly)."""
        if len(self._rows) >= _PARQUET_ROWS_PER_GROUP:
            self.flush()

    def _write_pending(self) -> None:
        if self._rows:
            pa, _ = _pyarrow()
            columns = list(zip(*self._rows, strict=True))
            self._rows.clear()
            self._writer.write_table(
                pa.Table.from_arrays(
                    [pa.array(c, type=f.type) for c, f in zip(columns, self._schema, strict=True)],
                    schema=self._schema,
                )
            )

    def _finish(self) -> None:
        try:
            self._writer.close()  # the footer
            self._f.flush()
        except OSError as exc:
            self.failed = _failure(self.name, exc)
            raise self.failed from exc


# -- opening an output, fresh or resumed -------------------------------------------------


Redo = Callable[[str], bool]
"""Given a recorded error's type name, whether ``--resume`` runs that input again."""

#: Errors a rerun may not meet again: throttled, unavailable, timed out, not reachable.
TRANSIENT_ERRORS = frozenset(
    {"RateLimitError", "ServerError", "APIConnectionError", "APITimeoutError", "ModelNotReadyError"}
)


def is_transient(error_type: str) -> bool:
    """The default ``redo`` of ``--resume``: the recorded error was transient."""
    return error_type in TRANSIENT_ERRORS


def is_failure(error_type: str) -> bool:
    """The ``redo`` of ``--retry-failed``: every recorded error."""
    return True


@contextlib.contextmanager
def open_writer(
    path: str, fmt: str, *, resume: bool, top: int = 5, redo: Redo | None = None
) -> Iterator[tuple[RecordWriter, set[str]]]:
    """The writer of ``path`` and the ids it already holds (``--resume``; else empty).

    With ``redo``, previous error records it picks are dropped (their ids are
    not in the returned set, so the job runs them again): the output is then
    rewritten rather than appended to, and keeps one final record per id.
    Closing commits the output (a remote object, a Parquet file's rename).
    Failures to write surface as :class:`OutputWriteError`.
    """
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format {fmt!r} (expected {', '.join(OUTPUT_FORMATS)})")
    if fmt == "parquet":
        _pyarrow()
    resume = resume and _storage.exists(path)
    append = resume and _storage.is_local(path) and fmt != "parquet" and redo is None
    done: set[str] = set()
    if append:
        done = _load_local(path, fmt, top)
    target = path
    if _storage.is_local(path) and (fmt == "parquet" or (resume and not append)):
        # Written beside and renamed when complete: the previous file is read meanwhile.
        target = _storage.local_path(path) + ".partial"
    name = "stdout" if _storage.is_stdio(path) else path
    with contextlib.ExitStack() as previous:
        # Rewrite mode reads the previous output through a handle opened first: some
        # stores (fsspec's memory://) replace the object as soon as it is opened to write.
        old = None
        if resume and not append:
            old = previous.enter_context(_storage.open_input(path))
            if fmt == "parquet":
                old = _previous_parquet(path, old, top)  # checked before anything is written
        try:
            f = _storage.open_output(target, append=append)
        except OSError as exc:
            raise _failure(name, exc) from exc
        writer: RecordWriter | None = None
        try:
            try:
                if fmt == "jsonl":
                    writer = JsonlWriter(f)
                elif fmt == "csv":
                    writer = CsvWriter(f, top=top, header=not resume)
                else:
                    writer = ParquetWriter(f, top=top)
            except OSError as exc:
                raise _failure(name, exc) from exc
            writer.name = name
            if old is not None:
                done = _copy_previous(path, old, fmt=fmt, top=top, writer=writer, f=f, redo=redo)
                previous.close()
            yield writer, done
        finally:
            _close(writer, f)
    if writer is not None and writer.failed is None and target != path:
        os.replace(target, _storage.local_path(path))
    elif target != path:
        with contextlib.suppress(OSError):
            os.remove(target)  # a broken Parquet file, and the space it takes


def _close(writer: RecordWriter | None, f: IO[bytes]) -> None:
    """Finish ``writer`` and close ``f``; after a write failure, only close."""
    try:
        if writer is not None and writer.failed is None:
            with contextlib.suppress(OutputWriteError):
                writer.close()  # a failure is kept in writer.failed for the caller
            if writer.failed is None and isinstance(f, io.BufferedWriter):
                _sync(writer, f)
    finally:
        try:
            f.close()
        except OSError as exc:
            # Where a store commits the object (or a disk reports a late failure).
            if writer is not None and writer.failed is None:
                writer.failed = _failure(writer.name, exc)


def _sync(writer: RecordWriter, f: io.BufferedWriter) -> None:
    """Make a local file's records durable (a late disk error is a write failure)."""
    try:
        os.fsync(f.fileno())
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            writer.failed = _failure(writer.name, exc)
    except ValueError:
        pass  # no file descriptor


def _load_local(path: str, fmt: str, top: int) -> set[str]:
    local = _storage.local_path(path)
    if fmt == "jsonl":
        return _load_jsonl(local)
    return _load_csv(local, top)


class _IdOnly(msgspec.Struct):
    id: str


class _ErrorType(msgspec.Struct):
    type: str = ""


class _IdAndError(msgspec.Struct):
    id: str
    error: _ErrorType | None = None


def _load_jsonl(path: str) -> set[str]:
    """Ids recorded in a local JSONL output; a torn last line (a killed run) is cut off."""
    done: set[str] = set()
    decoder = msgspec.json.Decoder(_IdOnly)
    good_end = 0
    with open(path, "rb+") as f:
        offset = 0
        for raw in f:
            offset += len(raw)
            if not raw.endswith(b"\n"):
                break
            good_end = offset
            if raw.isspace():
                continue
            try:
                done.add(decoder.decode(raw).id)
            except msgspec.DecodeError:
                continue  # not a record of ours; leave it, it names no id
        if good_end != offset:
            f.truncate(good_end)
    return done


def _load_csv(path: str, top: int) -> set[str]:
    """Ids recorded in a local CSV output; a torn last record is cut off."""
    done: set[str] = set()
    good_end = 0
    with open(path, "rb+") as f:
        offsets: list[int] = []

        def lines() -> Iterator[str]:
            offset = 0
            for raw in f:
                offset += len(raw)
                offsets.append(offset if raw.endswith(b"\n") else -1)
                yield raw.decode("utf-8", "replace")

        reader = csv.reader(lines(), strict=True)
        try:
            for number, row in enumerate(reader):
                if number == 0:
                    _check_header(path, row, top)
                    good_end = offsets[-1]
                    continue
                if offsets[-1] < 0:
                    break  # the last record, without its newline
                good_end = offsets[-1]
                if row:
                    done.add(row[0])
        except csv.Error:
            pass  # a quoted cell cut off at the end of the file
        f.truncate(max(good_end, 0))
    return done


def _check_header(path: str, header: list[str], top: int) -> None:
    if header != flat_columns(top):
        raise _storage.StorageError(
            f"{path} has other columns than this job would write ({','.join(header[:4])}…); "
            "use the same --top as the run that made it, or another output"
        )


def _copy_previous(
    path: str,
    old: Any,
    *,
    fmt: str,
    top: int,
    writer: RecordWriter,
    f: IO[bytes],
    redo: Redo | None = None,
) -> set[str]:
    """Rewrite mode: copy the previous records (less those to redo); returns their ids."""
    if fmt == "parquet":
        assert isinstance(writer, ParquetWriter)
        return _copy_parquet(old, writer, redo)
    if fmt == "csv":
        assert isinstance(writer, CsvWriter)
        return _copy_csv(path, old, top, writer, redo)
    done: set[str] = set()
    decoder = msgspec.json.Decoder(_IdAndError)
    for raw in old:
        if raw.strip() and raw.endswith(b"\n"):
            try:
                record = decoder.decode(raw)
            except msgspec.DecodeError:
                pass  # not a record of ours: kept as it is, it names no id
            else:
                if redo is not None and record.error is not None and redo(record.error.type):
                    continue
                done.add(record.id)
            f.write(raw)
    return done


def _copy_csv(
    path: str, old: IO[bytes], top: int, writer: CsvWriter, redo: Redo | None = None
) -> set[str]:
    done: set[str] = set()
    reader = csv.reader(_io._text_lines(old))
    header = next(reader, None)
    if header is not None:
        _check_header(path, header, top)
        writer.copy_row(header)
    error_type = flat_columns(top).index("error_type")
    for row in reader:
        if row:
            failed = redo is not None and len(row) > error_type and row[1] == "error"
            if failed and redo is not None and redo(row[error_type]):
                continue
            done.add(row[0])
            writer.copy_row(row)
            if len(done) % 10_000 == 0:
                writer.flush()  # bounded memory for a large previous output
    writer.flush()
    return done


def _previous_parquet(path: str, old: IO[bytes], top: int) -> Any:
    _, pq = _pyarrow()
    try:
        previous = pq.ParquetFile(old)
    except Exception as exc:  # pyarrow's errors share no base class narrower than this
        raise _storage.StorageError(
            f"cannot resume {path}: not a complete Parquet file ({exc})"
        ) from None
    if previous.schema_arrow != parquet_schema(top):
        raise _storage.StorageError(
            f"{path} has other columns than this job would write; use the same --top "
            "as the run that made it, or another output"
        )
    return previous


def _copy_parquet(previous: Any, writer: ParquetWriter, redo: Redo | None = None) -> set[str]:
    pa, _ = _pyarrow()
    done: set[str] = set()
    for i in range(previous.num_row_groups):
        group = previous.read_row_group(i)
        if redo is not None:
            types_ = group.column("error_type").to_pylist()
            keep = [t is None or not redo(t) for t in types_]
            group = group.filter(pa.array(keep, type=pa.bool_()))
        writer.copy_from(group)
        done.update(group.column("id").to_pylist())
    return done
