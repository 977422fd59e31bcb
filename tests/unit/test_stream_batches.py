"""ResponseStream.batches() / next_batch() and TextStream's batch walk, over MockTransport."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator

import msgspec
import pytest

from aioclarifai import (
    ClarifaiError,
    ModelNotReadyError,
    ResponseStream,
    ResponseTooLargeError,
    StreamError,
    types,
)
from aioclarifai._text_stream import GenerateResponse, TextStream
from aioclarifai.endpoints import GENERATE_MODEL_OUTPUTS
from tests.helpers import PAT, Body, ScriptedStreams, result_line, texts

Stream = ResponseStream[types.MultiOutputResponse]


async def all_batches(stream: Stream) -> list[list[str]]:
    async with stream:
        return [texts(batch) async for batch in stream.batches()]


def lines(*words: str) -> bytes:
    return b"".join(result_line(w) for w in words)


class Stalled(Body):
    """Its chunks, then a read that waits until cancelled."""

    async def content(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        await asyncio.Event().wait()


# -- grouping --------------------------------------------------------------------------


async def test_each_batch_is_what_one_read_completed() -> None:
    c = result_line("c")
    e = result_line("e")
    reads = [lines("a", "b"), c[:5], c[5:] + result_line("d") + e[:3], e[3:]]
    core = ScriptedStreams(reads)
    assert await all_batches(core.stream()) == [["a", "b"], ["c", "d"], ["e"]]
    assert core.opened[0].closed


@pytest.mark.parametrize("every", [1, 2, 7, 64, 181, 4096])
async def test_chunks_cut_every_n_bytes_deliver_every_message_once_in_order(every: int) -> None:
    words = [f"w{i}" for i in range(60)]
    body = lines(*words).replace(b"\n", b"\r\n", 7) + b"\n  \n"
    reads = [body[i : i + every] for i in range(0, len(body), every)]
    batches = await all_batches(ScriptedStreams(reads).stream())
    assert all(batches)  # no empty batch
    assert [w for batch in batches for w in batch] == words


async def test_a_large_read_comes_in_bounded_batches() -> None:
    # 2,000 lines in one read: decoded and handed out in pieces of about
    # 16 KiB, never all 2,000 messages at once.
    words = [f"{i:04}" for i in range(2000)]
    batches = await all_batches(ScriptedStreams([lines(*words)]).stream())
    assert [w for batch in batches for w in batch] == words
    assert len(batches) > 1
    assert max(len(lines(*batch)) for batch in batches) < 16384 + 200


async def test_batches_after_plain_iteration_start_with_the_rest_of_the_read() -> None:
    core = ScriptedStreams([lines("a", "b", "c"), lines("d")])
    async with core.stream() as stream:
        first = await stream.__anext__()
        rest = [texts(batch) async for batch in stream.batches()]
    assert texts([first]) == ["a"]
    assert rest == [["b", "c"], ["d"]]


async def test_a_batch_is_the_callers_to_keep() -> None:
    core = ScriptedStreams([lines("a", "b"), lines("c")])
    kept = []
    async with core.stream() as stream:
        async for batch in stream.batches():
            kept.append(batch)
    assert [texts(b) for b in kept] == [["a", "b"], ["c"]]


async def test_next_batch_pulls_and_leaves_the_stream_open() -> None:
    core = ScriptedStreams([lines("a", "b"), lines("c")])
    stream = core.stream()
    assert texts(await stream.next_batch()) == ["a", "b"]  # the first call starts it
    assert not core.opened[0].closed
    assert texts(await stream.next_batch()) == ["c"]
    assert await stream.next_batch() == []
    assert stream.closed and core.opened[0].closed
    assert await stream.next_batch() == []


# -- failures keep their order ---------------------------------------------------------


@pytest.mark.parametrize(
    ("odd", "kind"),
    [
        (b'{"error":{"code":14,"message":"gone"}}\n', StreamError),
        (result_line("x", code=21355), ModelNotReadyError),
        (b"not json\n", StreamError),
    ],
)
async def test_messages_before_a_failing_line_come_first(
    odd: bytes, kind: type[ClarifaiError]
) -> None:
    core = ScriptedStreams([result_line("first"), lines("a", "b") + odd + lines("never")])
    stream = core.stream()
    seen: list[list[str]] = []
    with pytest.raises(kind):
        async with stream:
            async for batch in stream.batches():
                seen.append(texts(batch))
    assert seen == [["first"], ["a", "b"]]
    assert stream.closed and core.opened[0].closed
    assert len(core.opened) == 1  # after the first message: never retried


async def test_odd_lines_that_decode_are_handed_out_in_place() -> None:
    by_name = b'{"result":{"status":{"code":"SUCCESS"},"outputs":[{"data":{"text":{"raw":"n"}}}]}}'
    bare = b'{"status":{"code":10000},"outputs":[{"data":{"text":{"raw":"bare"}}}]}'
    read = lines("a") + by_name + b"\n" + lines("b") + bare + b"\n" + lines("c")
    batches = await all_batches(ScriptedStreams([read]).stream())
    assert [w for batch in batches for w in batch] == ["a", "n", "b", "bare", "c"]


async def test_the_first_line_decides_the_retry() -> None:
    loading = result_line("", code=21355)
    core = ScriptedStreams([loading + lines("x")], [lines("a", "b")])
    assert await all_batches(core.stream()) == [["a", "b"]]
    assert len(core.opened) == 2 and all(r.closed for r in core.opened)


async def test_the_pat_is_blanked_out_of_an_error_frame() -> None:
    echo = f"bad header Authorization: Key {PAT}"
    frame = msgspec.json.encode({"error": {"code": 3, "message": echo, "details": [echo]}})
    core = ScriptedStreams([lines("a") + frame + b"\n"])
    with pytest.raises(StreamError) as info:
        await all_batches(core.stream())
    assert PAT not in str(info.value) + repr(vars(info.value))


async def test_line_cap() -> None:
    core = ScriptedStreams([lines("a"), result_line("b" * 300), lines("never")])
    core.core.max_line_bytes = 200
    stream = core.stream()
    seen: list[list[str]] = []
    with pytest.raises(ResponseTooLargeError) as info:
        async for batch in stream.batches():
            seen.append(texts(batch))
    assert seen == [["a"]]
    assert info.value.limit == 200
    assert stream.closed and core.opened[0].closed


async def test_line_cap_across_reads_and_inside_one_read() -> None:
    for reads in (
        [lines("a") + result_line("b" * 300)[:150], result_line("b" * 300)[150:]],
        [lines("a") + result_line("b" * 300) + lines("c")],
    ):
        core = ScriptedStreams(reads)
        core.core.max_line_bytes = 200
        with pytest.raises(ResponseTooLargeError):
            await all_batches(core.stream())
        assert core.opened[0].closed


# -- the stream always closes ----------------------------------------------------------


async def test_break_out_of_batches_closes_at_once_without_async_with() -> None:
    core = ScriptedStreams([lines("a"), lines("b"), lines("c")])
    stream = core.stream()

    async def first_batch(s: Stream) -> None:
        async for _ in s.batches():
            break

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ResourceWarning: closed, not collected open
        await first_batch(stream)
        assert core.opened[0].closed and stream.closed
        del stream
        gc.collect()


async def test_an_exception_in_the_loop_closes_the_stream() -> None:
    core = ScriptedStreams([lines("a"), lines("b")])
    stream = core.stream()

    async def fail() -> None:
        async for _ in stream.batches():
            raise KeyError("consumer bug")

    with pytest.raises(KeyError):
        await fail()
    assert core.opened[0].closed and stream.closed


async def test_cancelling_a_reader_blocked_in_batches_closes_the_stream() -> None:
    core = ScriptedStreams(Stalled([lines("a")]))
    stream = core.stream()
    got = asyncio.Event()

    async def read() -> None:
        async for _ in stream.batches():
            got.set()

    task = asyncio.create_task(read())
    await got.wait()
    await asyncio.sleep(0.01)  # now waiting for the next read
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert core.opened[0].closed and stream.closed


# -- TextStream walks batches ------------------------------------------------------------


def text_stream(core: ScriptedStreams, **kwargs: object) -> TextStream:
    stream: ResponseStream[GenerateResponse] = ResponseStream(
        core.core,
        GENERATE_MODEL_OUTPUTS,
        types.PostModelOutputsRequest(model_id="m"),
        response_type=GenerateResponse,
    )
    return TextStream(stream, **kwargs)  # type: ignore[arg-type]


async def test_generate_takes_a_read_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # One await per read, not per delta: __anext__ of the stream is never used.
    calls = []
    real = ResponseStream.next_batch

    async def counted(self: ResponseStream[GenerateResponse]) -> list[GenerateResponse]:
        calls.append(1)
        return await real(self)

    async def never(self: ResponseStream[GenerateResponse]) -> GenerateResponse:
        raise AssertionError("per-delta await")

    monkeypatch.setattr(ResponseStream, "next_batch", counted)
    monkeypatch.setattr(ResponseStream, "__anext__", never)
    core = ScriptedStreams([lines("a", "b", "c"), lines("d", "e")])
    async with text_stream(core) as stream:
        deltas = [d async for d in stream]
    assert deltas == ["a", "b", "c", "d", "e"]
    assert len(calls) == 3  # two reads and the end


async def test_generate_aclose_mid_batch_hands_out_nothing_more() -> None:
    core = ScriptedStreams([lines("a", "b", "c")])
    async with text_stream(core) as stream:
        assert await stream.__anext__() == "a"
        await stream.aclose()
        assert [d async for d in stream] == []
    assert core.opened[0].closed


async def test_generate_on_chunk_failure_drops_the_rest_of_the_batch() -> None:
    seen: list[str] = []

    def on_chunk(chunk: GenerateResponse) -> None:
        seen.append("x")
        if len(seen) == 2:
            raise ValueError("callback bug")

    core = ScriptedStreams([lines("a", "b", "c")])
    stream = text_stream(core, on_chunk=on_chunk)
    got = []
    with pytest.raises(ValueError):
        async for delta in stream:
            got.append(delta)
    assert got == ["a"]
    assert core.opened[0].closed
    assert [d async for d in stream] == []


async def test_generate_chunks_and_deltas_share_the_batch() -> None:
    core = ScriptedStreams([lines("a", "b", "c", "d")])
    async with text_stream(core, keep_text=True) as stream:
        assert await stream.__anext__() == "a"
        chunk = await stream.chunks().__anext__()
        assert texts([chunk]) == ["b"]
        assert [d async for d in stream] == ["c", "d"]
    assert stream.text == "abcd"
