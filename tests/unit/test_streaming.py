"""ResponseStream and LineSplitter without sockets: a real core over MockTransport."""

from __future__ import annotations

import asyncio
import gc
import itertools
import tracemalloc
import warnings

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
from aioclarifai._streaming import LineSplitter, split_lines
from aioclarifai.endpoints import GENERATE_MODEL_OUTPUTS
from tests.helpers import Body, ScriptedStreams, result_line


def make_stream(core: ScriptedStreams) -> ResponseStream[types.MultiOutputResponse]:
    return core.stream()


async def collect(stream: ResponseStream[types.MultiOutputResponse]) -> list[str]:
    texts = []
    async with stream:
        async for chunk in stream:
            data = chunk.outputs[0].data
            assert data is not None and data.text is not None
            texts.append(data.text.raw)
    return texts


# -- LineSplitter -------------------------------------------------------------------


def split_all(body: bytes, cuts: list[int], piece: int = 16384) -> list[bytes | bytearray]:
    splitter = LineSplitter(piece=piece)
    out: list[bytes | bytearray] = []
    start = 0
    for cut in [*sorted(cuts), len(body)]:
        for block in splitter.feed(body[start:cut]) if cut > start else ():
            out.extend(split_lines(block))
        start = max(start, cut)
    for block in splitter.flush():
        out.extend(split_lines(block))
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
    piece = data.draw(st.sampled_from([1, 5, 40, 16384]))  # lines per decode call vary
    got = [line.strip() for line in split_all(body, cuts, piece)]
    assert got == expected


def test_splitter_one_megabyte_line_in_small_chunks() -> None:
    big = b'{"result":{"x":"' + b"a" * (1 << 20) + b'"}}'
    body = big + b"\r\n" + b'{"n":1}'
    lines = split_all(body, list(range(0, len(body), 4096)))
    assert [line.strip() for line in lines] == [big, b'{"n":1}']


def test_splitter_keeps_only_the_partial_line() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b'{"a":1}\n{"b"') == [b'{"a":1}\n']
    assert splitter.pending == 4
    assert splitter.feed(b":2}\n") == [b'{"b":2}\n']
    assert splitter.pending == 0
    assert [split_lines(block) for block in splitter.feed(b"\r\n\n   \n")] == [[]]


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
    core = ScriptedStreams(chunks)
    assert asyncio.run(collect(make_stream(core))) == texts
    assert core.opened[0].closed


async def test_one_megabyte_line() -> None:
    big = "z" * (1 << 20)
    body = result_line("a") + result_line(big) + result_line("b")
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    assert await collect(make_stream(ScriptedStreams(chunks))) == ["a", big, "b"]


# -- errors -----------------------------------------------------------------------------


async def test_error_frame_mid_stream_raises_stream_error_and_closes() -> None:
    frame = b'{"error":{"code":14,"message":"backend went away","details":[]}}\n'
    core = ScriptedStreams([result_line("a"), frame, result_line("never")])
    stream = make_stream(core)
    seen: list[str] = []

    async def run() -> None:
        async for chunk in stream:
            data = chunk.outputs[0].data
            assert data is not None and data.text is not None
            seen.append(data.text.raw)

    with pytest.raises(StreamError) as info:
        await run()
    assert seen == ["a"]
    assert info.value.grpc_code == 14
    assert info.value.grpc_message == "backend went away"
    assert "UNAVAILABLE" in str(info.value)
    assert core.opened[0].closed and stream.closed
    assert len(core.opened) == 1


async def test_error_frame_with_code_name() -> None:
    frame = b'{"error": {"code": "RESOURCE_EXHAUSTED", "message": "slow down"}}\n'
    with pytest.raises(StreamError) as info:
        await collect(make_stream(ScriptedStreams([frame])))
    assert info.value.grpc_code == 8


async def test_enum_names_in_chunks_are_accepted() -> None:
    line = b'{"result":{"status":{"code":"SUCCESS"},"outputs":[{"data":{"text":{"raw":"hi"}}}]}}\n'
    assert await collect(make_stream(ScriptedStreams([line]))) == ["hi"]


async def test_unreadable_line() -> None:
    core = ScriptedStreams([result_line("a"), b"<html>bad gateway</html>\n"])
    with pytest.raises(StreamError, match="unreadable stream line"):
        await collect(make_stream(core))
    assert core.opened[0].closed


async def test_non_success_chunk_status_after_first_chunk_is_not_retried() -> None:
    core = ScriptedStreams([result_line("a"), result_line("", code=21355)], [result_line("b")])
    with pytest.raises(ModelNotReadyError) as info:
        await collect(make_stream(core))
    assert info.value.code == 21355
    assert info.value.http_status == 200
    assert len(core.opened) == 1 and core.opened[0].closed


async def test_first_chunk_model_loading_is_retried() -> None:
    core = ScriptedStreams([result_line("", code=21355)], [result_line("a"), result_line("b")])
    assert await collect(make_stream(core)) == ["a", "b"]
    assert len(core.opened) == 2
    assert all(resp.closed for resp in core.opened)


async def test_retries_run_out() -> None:
    loading = [result_line("", code=21355)]
    core = ScriptedStreams(loading, loading, loading, retries=2)
    with pytest.raises(ModelNotReadyError):
        await collect(make_stream(core))
    assert len(core.opened) == 3


async def test_failure_before_the_stream_is_retried_like_unary() -> None:
    busy = ServerError(code=0, http_status=503, operation="GenerateModelOutputs")
    core = ScriptedStreams(busy, [result_line("a")])
    assert await collect(make_stream(core)) == ["a"]


async def test_connection_lost_after_first_chunk_is_raised_not_retried() -> None:
    broken = Body([result_line("a")], fail=APIConnectionError("reset by peer"))
    core = ScriptedStreams(broken, [result_line("b")])
    with pytest.raises(APIConnectionError):
        await collect(make_stream(core))
    assert len(core.opened) == 1 and core.opened[0].closed
    assert len(core.bodies) == 1  # the second body was never asked for


# -- lifecycle --------------------------------------------------------------------------


async def test_nothing_is_sent_until_used() -> None:
    core = ScriptedStreams([result_line("a")])
    stream = make_stream(core)
    assert core.opened == [] and not stream.closed
    await stream.aclose()
    assert await collect(stream) == []
    assert core.opened == []


async def test_break_inside_async_with_closes_at_once() -> None:
    core = ScriptedStreams([result_line("a"), result_line("b"), result_line("c")])
    stream = make_stream(core)

    async def run() -> None:
        async with stream:
            async for _ in stream:
                break
        assert core.opened[0].closed  # closed on exit, before anything else runs

    await run()
    assert stream.closed
    assert await collect(stream) == []  # a closed stream ends at once


async def test_consumer_exception_inside_async_with_closes() -> None:
    core = ScriptedStreams([result_line("a"), result_line("b")])
    stream = make_stream(core)

    async def run() -> None:
        async with stream:
            async for _ in stream:
                raise KeyError("consumer bug")

    with pytest.raises(KeyError):
        await run()
    assert core.opened[0].closed


async def test_empty_body_ends_at_once() -> None:
    core = ScriptedStreams([b"\n", b"  \r\n"])
    assert await collect(make_stream(core)) == []
    assert core.opened[0].closed


async def test_garbage_collected_open_stream_warns_once_and_closes() -> None:
    core = ScriptedStreams([result_line("a"), result_line("b")])
    stream = make_stream(core)

    async def first(s: ResponseStream[types.MultiOutputResponse]) -> None:
        async for _ in s:
            break  # a plain async for: nothing closes the stream here

    await first(stream)
    resp = core.opened[0]
    assert not resp.closed
    with pytest.warns(ResourceWarning, match="unclosed GenerateModelOutputs stream") as record:
        del stream
        gc.collect()
    assert len(record) == 1
    assert resp.closed


async def test_finished_or_unstarted_streams_do_not_warn() -> None:
    core = ScriptedStreams([result_line("a")])
    done = make_stream(core)
    await collect(done)
    unused = make_stream(core)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del done, unused
        gc.collect()


async def test_bad_request_fails_before_io() -> None:
    core = ScriptedStreams([result_line("a")])
    with pytest.raises(ValueError, match="model_id"):
        ResponseStream(core.core, GENERATE_MODEL_OUTPUTS, types.PostModelOutputsRequest())
    assert core.requests == []


async def test_memory_stays_flat_while_streaming() -> None:
    # Chunks come from an endless generator, so anything the stream kept per
    # chunk would show up as growth between the two snapshots.
    pieces = itertools.cycle(
        [result_line("tok"), b'{"result":{"outputs":[]}}\n{"res', b'ult":{}}\n']
    )
    stream = make_stream(ScriptedStreams(pieces))

    async def take(n: int) -> None:
        for _ in range(n):
            await stream.__anext__()

    tracemalloc.start()
    try:
        await take(2_000)
        before = tracemalloc.get_traced_memory()[0]
        await take(20_000)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        await stream.aclose()
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
async def test_lines_of_one_chunk_keep_their_order_around_an_odd_line(odd: bytes) -> None:
    # Several lines arrive in one network chunk and are decoded together: the
    # lines before the odd one are delivered first, and it is met in its turn.
    burst = b"".join(result_line(t) for t in "abc") + odd + result_line("d") + result_line("e")
    seen: list[str] = []

    async def run() -> None:
        async with make_stream(ScriptedStreams([result_line("first"), burst])) as stream:
            async for chunk in stream:
                data = chunk.outputs[0].data
                assert data is not None and data.text is not None
                seen.append(data.text.raw)

    if odd.startswith((b'{"result":{"status":{"code":"', b'{"status"')):
        await run()
        assert seen == ["first", "a", "b", "c", "n" if b'"n"' in odd else "bare", "d", "e"]
    else:
        with pytest.raises(ClarifaiError):
            await run()
        assert seen == ["first", "a", "b", "c"]
