"""Input parsing, output records and resume bookkeeping of ``aioclarifai batch``."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import msgspec
import pytest

from aioclarifai import OutputError, RateLimitError, types
from aioclarifai.cli._io import (
    ParsedLine,
    count_inputs,
    detect_format,
    error_record,
    iter_inputs,
)
from aioclarifai.cli._writers import JsonlWriter, open_writer


def _write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return str(path)


def _parse(
    tmp_path: Path, name: str, text: str | bytes, fmt: str | None = None
) -> list[ParsedLine]:
    path = _write(tmp_path, name, text)
    with open(path, "rb") as f:
        return list(iter_inputs(f, fmt or detect_format(path)))


def _count(path: str, fmt: str) -> int:
    with open(path, "rb") as f:
        return count_inputs(f, fmt)


def test_detect_format() -> None:
    assert detect_format("a.csv") == "csv"
    assert detect_format("a.JSONL") == "jsonl"
    assert detect_format("a.ndjson") == "jsonl"
    assert detect_format("a.json") == "jsonl"
    assert detect_format("urls.txt") == "text"
    assert detect_format("inputs") == "text"


def test_jsonl_simple_forms(tmp_path: Path) -> None:
    png = base64.b64encode(b"\x89PNG-bytes").decode()
    lines = _parse(
        tmp_path,
        "in.jsonl",
        '{"id": "a", "text": "hello"}\n'
        '{"id": "b", "url": "https://x.test/cat.jpg"}\n'
        "\n"
        f'{{"id": 7, "base64": "{png}"}}\n'
        '{"text": "no id"}\n',
    )
    assert [p.id for p in lines] == ["a", "b", "7", "line-5"]
    assert all(p.error is None for p in lines)
    a, b, c, d = (p.input for p in lines)
    assert a is not None and a.data is not None and a.data.text == types.Text(raw="hello")
    assert b is not None and b.data is not None and b.data.image is not None
    assert b.data.image.url == "https://x.test/cat.jpg"
    assert c is not None and c.data is not None and c.data.image is not None
    assert c.data.image.base64 == b"\x89PNG-bytes"
    assert c.id == "7"
    assert d is not None and d.id == "line-5"
    assert [p.line for p in lines] == [1, 2, 4, 5]


def test_jsonl_full_input(tmp_path: Path) -> None:
    (p,) = _parse(
        tmp_path,
        "in.jsonl",
        '{"id": "full", "data": {"image": {"url": "https://x.test/a.jpg"},'
        ' "metadata": {"k": 1}}}\n',
    )
    assert p.error is None
    assert p.input == types.Input(
        id="full",
        data=types.Data(image=types.Image(url="https://x.test/a.jpg"), metadata={"k": 1}),
    )


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"id": "x"}', "expected exactly one of text, url, base64 (got none)"),
        ('{"id": "x", "text": "a", "url": "b"}', "got text and url"),
        ('{"id": "x", "text": 5}', "text must be a string"),
        ('{"id": "x", "base64": "***"}', "not valid base64"),
        ('{"id": "x", "text": "a", "colour": "red"}', "unknown field(s): colour"),
        ('{"id": ["x"], "text": "a"}', "id must be a string or an integer"),
        ('{"id": "x", "data": {"image": {"url": 5}}}', "invalid Input"),
    ],
)
def test_jsonl_malformed_lines_become_errors(tmp_path: Path, line: str, needle: str) -> None:
    lines = _parse(tmp_path, "in.jsonl", f'{{"id": "ok", "text": "fine"}}\n{line}\n')
    assert lines[0].error is None
    bad = lines[1]
    assert bad.input is None
    assert bad.error is not None and needle in bad.error
    assert bad.line == 2
    # Malformed lines still have a stable id: their own, else line-<N>.
    assert bad.id in {"x", "line-2"}


def test_csv(tmp_path: Path) -> None:
    lines = _parse(
        tmp_path,
        "in.csv",
        "id,text,url\n"
        "a,hello,\n"
        ",,https://x.test/b.jpg\n"
        "\n"
        'c,"multi, comma",\n'
        "d,both,https://x.test/d.jpg\n"
        "e,too,many,cells\n",
    )
    assert [(p.id, p.error is None) for p in lines] == [
        ("a", True),
        ("line-3", True),
        ("c", True),
        ("d", False),
        ("line-7", False),
    ]
    c = lines[2].input
    assert c is not None and c.data is not None and c.data.text == types.Text(raw="multi, comma")
    assert lines[3].error is not None and "got text and url" in lines[3].error
    assert lines[4].error == "expected 3 columns, got 4"


def test_csv_bad_header_fails_before_any_work(tmp_path: Path) -> None:
    path = _write(tmp_path, "in.csv", "name,colour\na,b\n")
    with open(path, "rb") as f, pytest.raises(ValueError, match="CSV header"):
        iter_inputs(f, "csv")


def test_text_lines(tmp_path: Path) -> None:
    lines = _parse(
        tmp_path, "in.txt", b"https://x.test/a.jpg\r\n\nA sentence here.\n\xff\xfe bad\nlast"
    )
    assert [p.id for p in lines] == ["line-1", "line-3", "line-4", "line-5"]
    a, b, bad, last = lines
    assert a.input is not None and a.input.data is not None and a.input.data.image is not None
    assert a.input.data.image.url == "https://x.test/a.jpg"
    assert b.input is not None and b.input.data is not None
    assert b.input.data.text == types.Text(raw="A sentence here.")
    assert bad.error == "line is not valid UTF-8"
    assert last.input is not None and last.input.data is not None
    assert last.input.data.text == types.Text(raw="last")


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown input format"):
        iter_inputs(io.BytesIO(b"x"), "xml")


def test_count_inputs(tmp_path: Path) -> None:
    assert _count(_write(tmp_path, "a.txt", "a\n\n  \nb\nc"), "text") == 3
    assert _count(_write(tmp_path, "a.csv", "id,text\n1,a\n\n2,b\n"), "csv") == 2
    assert _count(_write(tmp_path, "e.csv", ""), "csv") == 0


def test_load_done_ids_cuts_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(
        b'{"id":"a","output":{}}\n'
        b"\n"
        b"garbage line\n"
        b'{"id":"b","error":{"type":"X","message":"m"}}\n'
        b'{"id":"c","outp'
    )
    with open_writer(str(path), "jsonl", resume=True) as (_, done):
        assert done == {"a", "b"}
    assert path.read_bytes().endswith(b'"message":"m"}}\n')
    with open_writer(str(tmp_path / "missing.jsonl"), "jsonl", resume=True) as (_, done):
        assert done == set()


def test_writer_records() -> None:
    buf = io.BytesIO()
    writer = JsonlWriter(buf)
    out = types.Output(
        id="o1",
        input=types.Input(id="a", data=types.Data(text=types.Text(raw="big echo"))),
        data=types.Data(concepts=[types.Concept(id="c", name="cat", value=0.5)]),
    )
    writer.write_output("a", out)
    writer.write_error("b", error_record("invalid JSON: x", 3))
    assert buf.getvalue() == b""  # buffered until a flush
    writer.flush()
    first, second = buf.getvalue().splitlines()
    assert msgspec.json.decode(first) == {
        "id": "a",
        "output": {"id": "o1", "data": {"concepts": [{"id": "c", "name": "cat", "value": 0.5}]}},
    }
    assert msgspec.json.decode(second) == {
        "id": "b",
        "error": {"type": "InputError", "message": "invalid JSON: x", "line": 3},
    }
    assert writer.written == 2


def test_writer_flushes_on_schedule() -> None:
    buf = io.BytesIO()
    writer = JsonlWriter(buf, flush_every=1.0)
    writer.write_error("a", error_record("x"))
    writer.maybe_flush(100.0)
    assert buf.getvalue() != b""
    writer.write_error("b", error_record("x"))
    writer.maybe_flush(100.5)  # too soon
    assert buf.getvalue().count(b"\n") == 1
    writer.maybe_flush(101.0)
    assert buf.getvalue().count(b"\n") == 2


def test_error_record_of_typed_errors() -> None:
    status = types.Status(code=30002, description="Download failed", req_id="r1")
    rec = error_record(OutputError(None, status), 9)
    assert rec["type"] == "OutputError"
    assert rec["code"] == 30002
    assert rec["code_name"] == "INPUT_FAILED"  # 12.6.0 names 30002 so (the old name an alias)
    assert rec["req_id"] == "r1"
    assert rec["line"] == 9
    rate = error_record(RateLimitError(code=11005, description="slow down", http_status=429))
    assert rate["type"] == "RateLimitError"
    assert rate["code"] == 11005
    assert "line" not in rate
    assert error_record(RuntimeError()) == {"type": "RuntimeError", "message": "RuntimeError()"}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("in.csv", "id,text\n,\na,hello\n , \nb,\n,world\nc,x,y\n"),
        ("in.jsonl", '{"text": "a"}\n\n{"id": "b", "url": "https://x/y.jpg"}\n{bad\n'),
        ("in.txt", "hello\n\n  \nhttps://x/y.jpg\n"),
    ],
)
def test_ray_engine_reads_lines_as_the_one_process_job(
    tmp_path: Path, name: str, text: str
) -> None:
    # --engine ray parses line by line: the same ids, inputs and errors, and the
    # same lines skipped (the header, blank lines, CSV rows of empty cells).
    from aioclarifai.cli._io import parse_line as ray_parse

    path = _write(tmp_path, name, text)
    fmt = detect_format(path)
    header = [c.strip().lower() for c in text.splitlines()[0].split(",")] if fmt == "csv" else []
    on_ray = []
    for number, raw in enumerate(text.encode().split(b"\n"), start=1):
        if raw.strip():
            parsed = ray_parse(fmt, number, raw, header)
            if parsed is not None:
                on_ray.append(parsed)
    with open(path, "rb") as f:
        assert on_ray == list(iter_inputs(f, fmt))


_BOM = "\ufeff"


def test_csv_with_a_bom_as_excel_saves_it(tmp_path: Path) -> None:
    # Issue 14 item 9: Excel's "CSV UTF-8" starts with a byte order mark.
    path = _write(tmp_path, "in.csv", f"{_BOM}id,text\r\na,hello\r\nb,world\r\n")
    with open(path, "rb") as f:
        lines = list(iter_inputs(f, "csv"))
    assert [(p.id, p.error) for p in lines] == [("a", None), ("b", None)]
    with open(path, "rb") as f:
        from aioclarifai.cli._io import csv_header

        assert csv_header(f) == ["id", "text"]
    assert _count(path, "csv") == 2


@pytest.mark.parametrize("name", ["in.jsonl", "in.txt"])
def test_jsonl_and_text_with_a_bom(tmp_path: Path, name: str) -> None:
    first = '{"id": "first", "text": "hi"}' if name.endswith(".jsonl") else "hi"
    lines = _parse(
        tmp_path,
        name,
        f"{_BOM}{first}\nsecond\n"
        if name == "in.txt"
        else f'{_BOM}{first}\n{{"id": "second", "text": "x"}}\n',
    )
    assert lines[0].error is None
    assert lines[0].id == ("first" if name.endswith(".jsonl") else "line-1")
    assert lines[0].input is not None and lines[0].input.data is not None
    assert lines[0].input.data.text == types.Text(raw="hi")  # no invisible character left


def test_ray_reader_strips_the_bom_too() -> None:
    from aioclarifai.cli._io import parse_line

    parsed = parse_line("jsonl", 1, b'\xef\xbb\xbf{"id": "a", "text": "x"}', [])
    assert parsed is not None and parsed.id == "a" and parsed.error is None
    header_row = parse_line("csv", 1, b"\xef\xbb\xbfid,text", ["id", "text"])
    assert header_row is None  # recognised as the header


def test_params_parsing() -> None:
    from aioclarifai.cli._inputs import parse_params

    assert parse_params(["a=1", "b=1.5", "c=true", "d=null", "e=word", 'f={"x": [1]}']) == {
        "a": 1, "b": 1.5, "c": True, "d": None, "e": "word", "f": {"x": [1]},
    }  # fmt: skip
    assert parse_params(['s="007"', "t=a=b", "u="]) == {"s": "007", "t": "a=b", "u": ""}


def test_guess_kind() -> None:
    from aioclarifai.cli._inputs import guess_kind

    assert guess_kind("https://x/a.MP4?token=1") == "video"
    assert guess_kind("song.ogg") == "audio"
    assert guess_kind("https://x/page") is None
    assert guess_kind("/tmp/x.png") == "image"
