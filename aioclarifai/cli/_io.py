"""Input files and output files of ``aioclarifai batch``.

Inputs come in three formats, one input per line:

- **jsonl**: ``{"id": …, "type": …, "text" | "url" | "base64": …}`` or a full
  ``Input`` (``{"id": …, "data": {…}}``); ``type`` is image, video, audio or
  text (default: by the URL's extension, else image; text for ``text``);
  ``metadata`` (an object), ``concepts`` (ids, or concept objects) and
  ``dataset_id`` label an input (``aioclarifai ingest``);
- **csv**: a header naming some of ``id``, ``type``, ``text``, ``url``,
  ``base64``, ``metadata`` (JSON), ``concepts`` (JSON or comma-separated ids),
  ``dataset_id``, then one row per input;
- **text**: one URL (``http://`` / ``https://``, sent as an image URL) or one text per line.

Blank lines are skipped. An input without an id gets ``line-<N>`` (its 1-based
line number in the file), so a rerun with ``--resume`` recognises it. A line
that cannot be read becomes a :class:`ParsedLine` with an ``error`` and no
input: the job records it and goes on.

The output is JSONL, one line per input: ``{"id": …, "output": <Output>}``
(the Output as the API returns it, less the echoed input; ``"result"``, a
WorkflowResult, for ``--workflow``; ``"input"``, the added Input less its data,
for ``ingest``) or ``{"id": …,
"error": {"type", "message", "code", "code_name", "req_id", "line"}}`` (the
error class, e.g. ``OutputError`` or ``InputError`` for an unreadable line;
Clarifai's status code and request id when known; the input's line number).
Two lines of the input with the same id are both predicted and recorded; with
``--resume`` the id counts as done once either is.
"""

from __future__ import annotations

import base64
import binascii
import csv
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import msgspec

from .. import _decode, types
from .._errors import APIStatusError, OutputError
from . import _inputs

__all__ = [
    "FORMATS",
    "ParsedLine",
    "ResultWriter",
    "count_inputs",
    "csv_header",
    "detect_format",
    "error_line",
    "error_record",
    "iter_inputs",
    "open_output",
    "output_line",
    "output_record",
    "parse_csv_row",
    "parse_line",
]

FORMATS = ("jsonl", "csv", "text")
# Fields an input line may have besides its content: for predictions and, mostly, for
# ``aioclarifai ingest`` (labels, metadata and the dataset an added input joins).
_LABEL_KEYS = ("metadata", "concepts", "dataset_id")
_SIMPLE_KEYS = frozenset({"id", "type", "text", "url", "base64", *_LABEL_KEYS})
_CONTENT_KEYS = ("text", "url", "base64")
_BOM = b"\xef\xbb\xbf"
_CSV_COLUMNS = frozenset(_SIMPLE_KEYS)


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """One input line: its id and ``Input``, or the reason it could not be read."""

    line: int
    id: str
    input: types.Input | None = None
    error: str | None = None


def detect_format(path: str) -> str:
    """The format a file name implies: ``.csv``; ``.jsonl``/``.ndjson``/``.json``; else text."""
    ext = os.path.splitext(path.split("?", 1)[0] if "://" in path else path)[1].lower()
    if ext == ".csv":
        return "csv"
    if ext in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    return "text"


def count_inputs(f: IO[bytes], fmt: str) -> int:
    """The number of non-blank lines (less the CSV header): the job's total, read cheaply."""
    count = 0
    for number, raw in enumerate(f):
        line = raw.removeprefix(_BOM) if number == 0 else raw
        if line.strip():
            count += 1
    if fmt == "csv" and count:
        count -= 1
    return count


def iter_inputs(f: IO[bytes], fmt: str) -> Iterator[ParsedLine]:
    """Read the binary stream ``f`` lazily, one :class:`ParsedLine` per input line.

    A CSV header is read and checked at once (``ValueError`` when it names no
    usable column), so a wrong file fails before any work starts. A UTF-8 byte
    order mark (Excel's "CSV UTF-8", Notepad) is skipped.
    """
    if fmt == "csv":
        reader = csv.reader(_text_lines(f))
        return _iter_csv(reader, _read_header(reader))
    if fmt == "jsonl":
        return _iter_lines(f, _parse_json_line)
    if fmt == "text":
        return _iter_lines(f, _parse_text_line)
    raise ValueError(f"unknown input format {fmt!r} (expected one of {', '.join(FORMATS)})")


def _iter_lines(f: IO[bytes], parse: Callable[[int, bytes], ParsedLine]) -> Iterator[ParsedLine]:
    for number, raw in enumerate(f, start=1):
        line = raw.removeprefix(_BOM) if number == 1 else raw
        if line.strip():
            yield parse(number, line)


def _simple_input(number: int, item_id: str, fields: dict[str, Any]) -> ParsedLine:
    present = [k for k in _CONTENT_KEYS if fields.get(k) not in (None, "")]
    if len(present) != 1:
        what = "none" if not present else " and ".join(present)
        return ParsedLine(
            number, item_id, error=f"expected exactly one of text, url, base64 (got {what})"
        )
    key = present[0]
    value = fields[key]
    kind = fields.get("type") or ""
    if not isinstance(value, str):
        return ParsedLine(number, item_id, error=f"{key} must be a string")
    if not isinstance(kind, str) or kind.strip().lower() not in ("", *_inputs.KINDS):
        return ParsedLine(
            number, item_id, error=f"type must be one of {', '.join(_inputs.KINDS)}, not {kind!r}"
        )
    kind = kind.strip().lower()
    try:
        if key == "text":
            data = _inputs.data_for(kind or "text", text=value)
        elif key == "url":
            data = _inputs.data_for(kind or _inputs.guess_kind(value) or "image", url=value)
        else:
            content = base64.b64decode(value, validate=True)
            data = _inputs.data_for(kind or "image", content=content)
    except binascii.Error:
        return ParsedLine(number, item_id, error="base64 is not valid base64")
    except ValueError as exc:
        return ParsedLine(number, item_id, error=str(exc))
    try:
        return ParsedLine(number, item_id, _labelled(item_id, data, fields))
    except ValueError as exc:
        return ParsedLine(number, item_id, error=str(exc))


def _labelled(item_id: str, data: types.Data, fields: dict[str, Any]) -> types.Input:
    """The Input with the line's metadata, concepts and dataset (``ValueError`` when bad).

    In CSV cells, metadata is a JSON object and concepts a JSON array or
    comma-separated concept ids; in JSONL they are the JSON values themselves.
    A concept is an id (value 1) or an object such as ``{"id": "cat", "value": 0}``.
    """
    metadata = fields.get("metadata")
    if isinstance(metadata, str):
        metadata = _json_cell("metadata", metadata) if metadata.strip() else None
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError("metadata must be a JSON object")
    concepts = fields.get("concepts")
    if isinstance(concepts, str):
        text = concepts.strip()
        concepts = (
            _json_cell("concepts", text)
            if text.startswith("[")
            else [c.strip() for c in text.split(",") if c.strip()]
        )
    if concepts is not None and not isinstance(concepts, list):
        raise ValueError("concepts must be a list of concept ids or objects")
    labels = []
    for concept in concepts or []:
        if isinstance(concept, str) and concept:
            labels.append(types.Concept(id=concept, value=1.0))
        elif isinstance(concept, dict):
            try:
                labels.append(_decode.convert(types.Concept, {"value": 1.0, **concept}))
            except msgspec.ValidationError as exc:
                raise ValueError(f"invalid concept: {exc}") from None
        else:
            raise ValueError("concepts must be a list of concept ids or objects")
    dataset = fields.get("dataset_id") or ""
    if not isinstance(dataset, str):
        raise ValueError("dataset_id must be a string")
    if metadata is not None or labels:
        data = msgspec.structs.replace(data, metadata=metadata, concepts=labels)
    return types.Input(id=item_id, data=data, dataset_ids=[dataset] if dataset else [])


def _json_cell(name: str, text: str) -> Any:
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        raise ValueError(f"{name} is not valid JSON") from None


def _line_id(number: int, raw_id: Any) -> str | None:
    """The input's id: its own (a string or an integer), or ``line-<N>``; None when unusable."""
    if raw_id is None or raw_id == "":
        return f"line-{number}"
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        return None
    return str(raw_id)


def _parse_json_line(number: int, raw: bytes) -> ParsedLine:
    fallback_id = f"line-{number}"
    try:
        obj = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        return ParsedLine(number, fallback_id, error=f"invalid JSON: {exc}")
    if not isinstance(obj, dict):
        return ParsedLine(number, fallback_id, error="expected a JSON object")
    item_id = _line_id(number, obj.get("id"))
    if item_id is None:
        return ParsedLine(number, fallback_id, error="id must be a string or an integer")
    if "data" in obj:
        # A full Input, as the API takes it.
        obj["id"] = item_id
        try:
            return ParsedLine(number, item_id, _decode.convert(types.Input, obj))
        except msgspec.ValidationError as exc:
            return ParsedLine(number, item_id, error=f"invalid Input: {exc}")
    unknown = sorted(set(obj) - _SIMPLE_KEYS)
    if unknown:
        return ParsedLine(number, item_id, error=f"unknown field(s): {', '.join(unknown)}")
    return _simple_input(number, item_id, obj)


def _parse_text_line(number: int, raw: bytes) -> ParsedLine:
    item_id = f"line-{number}"
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return ParsedLine(number, item_id, error="line is not valid UTF-8")
    key = "url" if value.startswith(("http://", "https://")) else "text"
    return _simple_input(number, item_id, {key: value})


def csv_header(f: IO[bytes]) -> list[str]:
    """The lower-cased column names of a CSV input (``ValueError`` when none is usable)."""
    return _read_header(csv.reader(_text_lines(f)))


def _text_lines(f: IO[bytes]) -> Iterator[str]:
    # Undecodable bytes become U+FFFD rather than stopping the job halfway.
    for number, raw in enumerate(f):
        yield (raw.removeprefix(_BOM) if number == 0 else raw).decode("utf-8", "replace")


def _read_header(reader: Any) -> list[str]:
    for row in reader:
        if any(cell.strip() for cell in row):
            header = [name.strip().lower() for name in row]
            if set(header) - _CSV_COLUMNS or not set(header) & set(_CONTENT_KEYS):
                raise ValueError(
                    "the CSV header must name columns among id, type, text, url, base64, "
                    "metadata, concepts, dataset_id "
                    f"(got {','.join(row)})"
                )
            return header
    return []


def _iter_csv(reader: Any, header: list[str]) -> Iterator[ParsedLine]:
    for row in reader:
        if any(cell.strip() for cell in row):
            yield parse_csv_row(reader.line_num, row, header)


def parse_csv_row(number: int, row: list[str], header: list[str]) -> ParsedLine:
    """One CSV data row (line ``number``) under ``header``."""
    fallback_id = f"line-{number}"
    if len(row) != len(header):
        return ParsedLine(
            number, fallback_id, error=f"expected {len(header)} columns, got {len(row)}"
        )
    fields = dict(zip(header, row, strict=True))
    item_id = _line_id(number, fields.get("id", "").strip()) or fallback_id
    return _simple_input(number, item_id, fields)


def parse_line(fmt: str, number: int, raw: bytes, header: list[str]) -> ParsedLine | None:
    """One physical line read alone (the Ray engine's reader): None for a CSV
    header or empty row, which the one-process reader skips as well."""
    if number == 1:
        raw = raw.removeprefix(_BOM)
    if fmt == "jsonl":
        return _parse_json_line(number, raw)
    if fmt == "text":
        return _parse_text_line(number, raw)
    row = next(csv.reader([raw.decode("utf-8", "replace")]))
    if not any(cell.strip() for cell in row) or [c.strip().lower() for c in row] == header:
        return None
    return parse_csv_row(number, row, header)


class _Record(msgspec.Struct, omit_defaults=True):
    id: str
    output: types.Output | None = None
    result: types.WorkflowResult | None = None
    input: types.Input | None = None
    error: dict[str, Any] | None = None


Result = types.Output | types.WorkflowResult | types.Input
"""What a job records for a successful input: a prediction, a workflow run, an added input."""


def error_record(exc: BaseException | str, line: int | None = None) -> dict[str, Any]:
    """The ``error`` object of an output line: type, message, and Clarifai's code when known."""
    if isinstance(exc, str):
        record: dict[str, Any] = {"type": "InputError", "message": exc}
    else:
        record = {"type": type(exc).__name__, "message": str(exc) or repr(exc)}
        if isinstance(exc, OutputError | APIStatusError) and exc.code:
            record["code"] = exc.code
            record["code_name"] = exc.code_name
            if exc.req_id:
                record["req_id"] = exc.req_id
    if line is not None:
        record["line"] = line
    return record


_record_encoder = msgspec.json.Encoder()


def output_record(item_id: str, output: Result) -> _Record:
    """The record of a successful input; the echoed input data is dropped (the id names it).

    ``output`` for a prediction, ``result`` for a workflow run (every node's
    output), ``input`` for an added input (its id, status and dataset ids).
    """
    if isinstance(output, types.Output):
        if output.input is not None:
            output = msgspec.structs.replace(output, input=None)
        return _Record(id=item_id, output=output)
    if isinstance(output, types.WorkflowResult):
        outputs = [msgspec.structs.replace(o, input=None) for o in output.outputs]
        return _Record(
            id=item_id, result=msgspec.structs.replace(output, input=None, outputs=outputs)
        )
    return _Record(id=item_id, input=msgspec.structs.replace(output, data=None))


def output_line(item_id: str, output: Result) -> bytes:
    """One output line (without its newline) for a successful prediction."""
    return _record_encoder.encode(output_record(item_id, output))


def error_line(item_id: str, error: BaseException | str, line: int | None = None) -> bytes:
    """One output line (without its newline) for a failed input."""
    return _record_encoder.encode(_Record(id=item_id, error=error_record(error, line)))


class ResultWriter:
    """Appends one JSON line per input to the output; flushes every ``flush_every`` seconds."""

    def __init__(self, f: IO[bytes], *, flush_every: float = 0.2) -> None:
        self._f = f
        self._encoder = msgspec.json.Encoder()
        self._buf = bytearray()
        self._flush_every = flush_every
        self._last_flush = 0.0
        self.written = 0

    def write_output(self, item_id: str, output: types.Output) -> None:
        """Record a successful prediction (see :func:`output_line`)."""
        self._write(output_record(item_id, output))

    def write_error(self, item_id: str, error: dict[str, Any]) -> None:
        """Record a failed input with its :func:`error_record`."""
        self._write(_Record(id=item_id, error=error))

    def _write(self, record: _Record) -> None:
        self._encoder.encode_into(record, self._buf, -1)
        self._buf += b"\n"
        self.written += 1

    def maybe_flush(self, now: float) -> None:
        """Flush when the last flush is older than ``flush_every`` seconds."""
        if now - self._last_flush >= self._flush_every:
            self.flush()
            self._last_flush = now

    def flush(self) -> None:
        """Write every buffered record through to the operating system."""
        if self._buf:
            self._f.write(self._buf)
            self._buf.clear()
        self._f.flush()


def open_output(path: str, *, append: bool) -> IO[bytes]:
    """The output file, opened for appending (``--resume``) or created afresh."""
    return open(path, "ab" if append else "wb")
