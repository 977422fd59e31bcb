"""ResponseStream and LineSplitter without sockets: a fake core serves scripted bodies."""

from __future__ import annotations

import gc
import itertools
import tracemalloc
import warnings
from collections.abc import Coroutine, Iterable, Iterator
from typing import Any, TypeVar, cast

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aioclarifai import (
    APIConnectionError,
    ClarifaiError,
    ModelNotReadyError,
    ResponseStream,
    ServerError,
    StreamError,
    types,
)
from aioclarifai._streaming import LineSplitter
from aioclarifai.endpoints import GENERATE_MODEL_OUTPUTS

T = TypeVar("T")


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits on I/O (the fake never blocks) to its end."""
    while True:
        try:
            coro.send(None)  # only asyncio.sleep(0) suspends; resume at once
        except StopIteration as stop:
            return cast(T, stop.value)


class FakeResponse:
    """Stands in for ``StreamingResponse``: hands out scripted chunks."""

    def __init__(
        self, chunks: Iterable[bytes], status: int = 200, fail: Exception | None = None
    ) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self.status = status
        self.closed = False
        self.reads = 0
        self._fail = fail

    async def read_chunk(self, operation: str) -> bytes:
        assert not self.closed, "read after close"
        self.reads += 1
        chunk = next(self._chunks, None)
        if chunk is None:
            if self._fail is not None:
                raise self._fail
            return b""
        return chunk

    def close(self) -> None:
        self.closed = True


class FakeCore:
    """Just what ResponseStream uses of ``Core``: prepare, open_stream, redact, retry_delay."""

    def __init__(
        self, *bodies: Iterable[bytes] | FakeResponse | ClarifaiError, retries: int = 2
    ) -> None:
        self.bodies = list(bodies)
        self.opened: list[FakeResponse] = []
        self.retries = retries

    def prepare(self, endpoint: Any, request: Any) -> object:
        return object()

    async def open_stream(self, endpoint: Any, built: Any, attempt: int) -> FakeResponse:
        body = self.bodies.pop(0)
        if isinstance(body, ClarifaiError):
            raise body
        resp = body if isinstance(body, FakeResponse) else FakeResponse(body)
        self.opened.append(resp)
        return resp

    def redact(self, error: ClarifaiError) -> ClarifaiError:
        return error

    def retry_delay(self, endpoint: Any, error: ClarifaiError, attempt: int) -> float | None:
        if attempt >= self.retries or not isinstance(error, ModelNotReadyError | ServerError):
            return None
        return 0.0


def make_stream(core: FakeCore) -> ResponseStream[types.MultiOutputResponse]:
    return ResponseStream(
        cast(Any, core), GENERATE_MODEL_OUTPUTS, types.PostModelOutputsRequest(model_id="m")
    )


def result_line(text: str, code: int = 10000) -> bytes:
    message = {"status": {"code": code}, "outputs": [{"data": {"text": {"raw": text}}}]}
    return msgspec.json.encode({"result": message}) + b"\n"


async def collect(stream: ResponseStream[types.MultiOutputResponse]) -> list[str]:
    texts = []
    async with stream:
        async for chunk in stream:
            data = chunk.outputs[0].data
            assert data is not None and data.text is not None
            texts.append(data.text.raw)
    return texts


# -- LineSplitter -------------------------------------------------------------------


def split_all(body: bytes, cuts: list[int]) -> list[bytes]:
    splitter = LineSplitter()
    out: list[bytes] = []
    start = 0
    for cut in [*sorted(cuts), len(body)]:
        out.extend(splitter.feed(body[start:cut]) if cut > start else ())
        start = max(start, cut)
    out.extend(splitter.flush())
    assert splitter.pending == 0
    return out


line_text = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"x").strip() or b"{}")


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        st.tuples(
            line_text, st.sampled_from([b"\n", b"\r\n"]), st.sampled_from([b"", b"\n", b" \r\n"])
        ),
        max_size=20,
    ),
    final_newline=st.booleans(),
    data=st.data(),
)
def test_splitter_any_boundaries(
    lines: list[tuple[bytes, bytes, bytes]], final_newline: bool, data: st.DataObject
) -> None:
    body = b"".join(text + end + blank for text, end, blank in lines)
    expected = [text for text, _, _ in lines]
    if lines and not final_newline:
        body = body[: len(body) - len(lines[-1][1] + lines[-1][2])]
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=30))
    got = [line.strip() for line in split_all(body, cuts)]
    assert got == expected


def test_splitter_one_megabyte_line_in_small_chunks() -> None:
    big = b'{"result":{"x":"' + b"a" * (1 << 20) + b'"}}'
    body = big + b"\r\n" + b'{"n":1}'
    lines = split_all(body, list(range(0, len(body), 4096)))
    assert [line.strip() for line in lines] == [big, b'{"n":1}']


def test_splitter_keeps_only_the_partial_line() -> None:
    splitter = LineSplitter()
    assert list(splitter.feed(b'{"a":1}\n{"b"')) == [b'{"a":1}']
    assert splitter.pending == 4
    assert list(splitter.feed(b":2}\n")) == [b'{"b":2}']
    assert splitter.pending == 0
    assert list(splitter.feed(b"\r\n\n   \n")) == []


# -- whole streams over random chunk boundaries ----------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.text(max_size=30), min_size=1, max_size=12),
    bare=st.lists(st.booleans(), min_size=12, max_size=12),
    crlf=st.booleans(),
    final_newline=st.booleans(),
    data=st.data(),
)
def test_stream_any_chunk_boundaries(
    texts: list[str], bare: list[bool], crlf: bool, final_newline: bool, data: st.DataObject
) -> None:
    end = b"\r\n" if crlf else b"\n"
    parts = []
    for text, is_bare in zip(texts, bare, strict=False):
        message = {"status": {"code": 10000}, "outputs": [{"data": {"text": {"raw": text}}}]}
        parts.append(msgspec.json.encode(message if is_bare else {"result": message}))
    body = end.join(parts) + (end if final_newline else b"") + end * data.draw(st.integers(0, 2))
    cuts = sorted(data.draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=20)))
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True) if b > a]
    core = FakeCore(chunks)
    assert drive(collect(make_stream(core))) == texts
    assert core.opened[0].closed


def test_one_megabyte_line() -> None:
    big = "z" * (1 << 20)
    body = result_line("a") + result_line(big) + result_line("b")
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    assert drive(collect(make_stream(FakeCore(chunks)))) == ["a", big, "b"]


# -- errors -----------------------------------------------------------------------------


def test_error_frame_mid_stream_raises_stream_error_and_closes() -> None:
    frame = b'{"error":{"code":14,"message":"backend went away","details":[]}}\n'
    core = FakeCore([result_line("a"), frame, result_line("never")])
    stream = make_stream(core)
    seen: list[str] = []

    async def run() -> None:
        async for chunk in stream:
            data = chunk.outputs[0].data
            assert data is not None and data.text is not None
            seen.append(data.text.raw)

    with pytest.raises(StreamError) as info:
        drive(run())
    assert seen == ["a"]
    assert info.value.grpc_code == 14
    assert info.value.grpc_message == "backend went away"
    assert "UNAVAILABLE" in str(info.value)
    assert core.opened[0].closed and stream.closed
    assert len(core.opened) == 1


def test_error_frame_with_code_name() -> None:
    frame = b'{"error": {"code": "RESOURCE_EXHAUSTED", "message": "slow down"}}\n'
    with pytest.raises(StreamError) as info:
        drive(collect(make_stream(FakeCore([frame]))))
    assert info.value.grpc_code == 8


def test_enum_names_in_chunks_are_accepted() -> None:
    line = b'{"result":{"status":{"code":"SUCCESS"},"outputs":[{"data":{"text":{"raw":"hi"}}}]}}\n'
    assert drive(collect(make_stream(FakeCore([line])))) == ["hi"]


def test_unreadable_line() -> None:
    core = FakeCore([result_line("a"), b"<html>bad gateway</html>\n"])
    with pytest.raises(StreamError, match="unreadable stream line"):
        drive(collect(make_stream(core)))
    assert core.opened[0].closed


def test_non_success_chunk_status_after_first_chunk_is_not_retried() -> None:
    core = FakeCore([result_line("a"), result_line("", code=21355)], [result_line("b")])
    with pytest.raises(ModelNotReadyError) as info:
        drive(collect(make_stream(core)))
    assert info.value.code == 21355
    assert info.value.http_status == 200
    assert len(core.opened) == 1 and core.opened[0].closed


def test_first_chunk_model_loading_is_retried() -> None:
    core = FakeCore([result_line("", code=21355)], [result_line("a"), result_line("b")])
    assert drive(collect(make_stream(core))) == ["a", "b"]
    assert len(core.opened) == 2
    assert all(resp.closed for resp in core.opened)


def test_retries_run_out() -> None:
    loading = [result_line("", code=21355)]
    core = FakeCore(loading, loading, loading, retries=2)
    with pytest.raises(ModelNotReadyError):
        drive(collect(make_stream(core)))
    assert len(core.opened) == 3


def test_failure_before_the_stream_is_retried_like_unary() -> None:
    busy = ServerError(code=0, http_status=503, operation="GenerateModelOutputs")
    core = FakeCore(busy, [result_line("a")])
    assert drive(collect(make_stream(core))) == ["a"]


def test_connection_lost_after_first_chunk_is_raised_not_retried() -> None:
    broken = FakeResponse([result_line("a")], fail=APIConnectionError("reset by peer"))
    core = FakeCore(broken, [result_line("b")])
    with pytest.raises(APIConnectionError):
        drive(collect(make_stream(core)))
    assert core.opened == [broken] and broken.closed


# -- lifecycle --------------------------------------------------------------------------


def test_nothing_is_sent_until_used() -> None:
    core = FakeCore([result_line("a")])
    stream = make_stream(core)
    assert core.opened == [] and not stream.closed
    drive(stream.aclose())
    assert drive(collect(stream)) == []
    assert core.opened == []


def test_break_inside_async_with_closes_at_once() -> None:
    core = FakeCore([result_line("a"), result_line("b"), result_line("c")])
    stream = make_stream(core)

    async def run() -> None:
        async with stream:
            async for _ in stream:
                break
        assert core.opened[0].closed  # closed on exit, before anything else runs

    drive(run())
    assert stream.closed
    assert drive(collect(stream)) == []  # a closed stream ends at once


def test_consumer_exception_inside_async_with_closes() -> None:
    core = FakeCore([result_line("a"), result_line("b")])
    stream = make_stream(core)

    async def run() -> None:
        async with stream:
            async for _ in stream:
                raise KeyError("consumer bug")

    with pytest.raises(KeyError):
        drive(run())
    assert core.opened[0].closed


def test_empty_body_ends_at_once() -> None:
    core = FakeCore([b"\n", b"  \r\n"])
    assert drive(collect(make_stream(core))) == []
    assert core.opened[0].closed


def test_garbage_collected_open_stream_warns_once_and_closes() -> None:
    core = FakeCore([result_line("a"), result_line("b")])
    stream = make_stream(core)

    async def first(s: ResponseStream[types.MultiOutputResponse]) -> None:
        async for _ in s:
            break  # a plain async for: nothing closes the stream here

    drive(first(stream))
    resp = core.opened[0]
    assert not resp.closed
    with pytest.warns(ResourceWarning, match="unclosed GenerateModelOutputs stream") as record:
        del stream
        gc.collect()
    assert len(record) == 1
    assert resp.closed


def test_finished_or_unstarted_streams_do_not_warn() -> None:
    core = FakeCore([result_line("a")])
    done = make_stream(core)
    drive(collect(done))
    unused = make_stream(core)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del done, unused
        gc.collect()


def test_bad_request_fails_before_io() -> None:
    class Rejecting(FakeCore):
        def prepare(self, endpoint: Any, request: Any) -> object:
            raise ValueError("model_id is required")

    with pytest.raises(ValueError, match="model_id"):
        make_stream(Rejecting())


def test_memory_stays_flat_while_streaming() -> None:
    # Chunks come from an endless generator, so anything the stream kept per
    # chunk would show up as growth between the two snapshots.
    pieces = itertools.cycle(
        [result_line("tok"), b'{"result":{"outputs":[]}}\n{"res', b'ult":{}}\n']
    )
    stream = make_stream(FakeCore(pieces))

    async def take(n: int) -> None:
        for _ in range(n):
            await stream.__anext__()

    tracemalloc.start()
    try:
        drive(take(2_000))
        before = tracemalloc.get_traced_memory()[0]
        drive(take(20_000))
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        drive(stream.aclose())
    assert after - before < 16_384


@pytest.mark.parametrize(
    "odd",
    [
        b'{"error":{"code":14,"message":"gone"}}\n',  # an error frame
        result_line("x", code=21355),  # a failed status
        b"not json\n",  # an unreadable line
        b'{"result":{"status":{"code":"SUCCESS"},"outputs":[{"data":{"text":{"raw":"n"}}}]}}\n',
        b'{"status":{"code":10000},"outputs":[{"data":{"text":{"raw":"bare"}}}]}\n',
    ],
)
def test_lines_of_one_chunk_keep_their_order_around_an_odd_line(odd: bytes) -> None:
    # Several lines arrive in one network chunk and are decoded together: the
    # lines before the odd one are delivered first, and it is met in its turn.
    burst = b"".join(result_line(t) for t in "abc") + odd + result_line("d") + result_line("e")
    seen: list[str] = []

    async def run() -> None:
        async with make_stream(FakeCore([result_line("first"), burst])) as stream:
            async for chunk in stream:
                data = chunk.outputs[0].data
                assert data is not None and data.text is not None
                seen.append(data.text.raw)

    if odd.startswith((b'{"result":{"status":{"code":"', b'{"status"')):
        drive(run())
        assert seen == ["first", "a", "b", "c", "n" if b'"n"' in odd else "bare", "d", "e"]
    else:
        with pytest.raises(ClarifaiError):
            drive(run())
        assert seen == ["first", "a", "b", "c"]
