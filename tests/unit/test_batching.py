"""Unit tests of the predict batcher: a real core, PostModelOutputs behind a MockTransport."""

from __future__ import annotations

import asyncio
import gc
import inspect
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, cast

import anyio
import pytest

from aioclarifai import APIConnectionError, OutputError, ServerError, types
from aioclarifai._batching import MAX_BATCH_SIZE, BatchConfig, Batcher, Call, default_concurrency
from tests.helpers import PredictServer

Handler = Callable[[types.PostModelOutputsRequest], Awaitable[types.MultiOutputResponse]]

OK = types.Status(code=10000, description="Ok")


def text_input(text: str, id: str = "") -> types.Input:
    return types.Input(id=id, data=types.Data(text=types.Text(raw=text)))


class CountingSource:
    """``n`` text inputs ("0", "1", …) that count how many were pulled."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pulled = 0

    def __iter__(self) -> Iterator[types.Input]:
        for i in range(self.n):
            self.pulled += 1
            yield text_input(str(i))


def text_of(item: types.Input | types.Output | None) -> str:
    assert item is not None and item.data is not None and item.data.text is not None
    return item.data.text.raw


def echo_output(inp: types.Input, status: types.Status = OK) -> types.Output:
    """What a text model returns: the input echoed and its text upper-cased."""
    return types.Output(
        id=f"out-{inp.id}",
        status=status,
        input=inp,
        data=types.Data(text=types.Text(raw=text_of(inp).upper())),
    )


async def echo(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
    return types.MultiOutputResponse(status=OK, outputs=[echo_output(i) for i in req.inputs])


def make(handler: Handler = echo, **config: Any) -> tuple[Batcher, PredictServer]:
    stub = PredictServer(handler)
    return Batcher(stub.core, BatchConfig(**config)), stub


class Gate:
    """A handler that holds every request until opened."""

    def __init__(self, inner: Handler = echo) -> None:
        self.inner = inner
        self.opened = asyncio.Event()
        self.arrived = 0

    async def __call__(self, req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        self.arrived += 1
        await self.opened.wait()
        return await self.inner(req)


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Errors reported to the loop's exception handler (InvalidStateError and the like)."""
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    yield errors
    gc.collect()  # "exception was never retrieved" is reported when a future is collected
    loop.set_exception_handler(None)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# -- configuration ------------------------------------------------------------------


def test_config_defaults_and_limits() -> None:
    config = BatchConfig()
    assert config.enabled and config.max_batch_size == 128 and config.max_wait == 0.005
    assert config.max_batch_bytes < 128 * 1024 * 1024
    BatchConfig(max_batch_size=MAX_BATCH_SIZE)
    for bad in (
        {"max_batch_size": 129},
        {"max_batch_size": 0},
        {"max_wait": -1.0},
        {"max_wait": float("nan")},
        {"max_batch_bytes": 0},
        {"max_concurrent_batches": 0},
        {"max_queue": 0},
    ):
        with pytest.raises(ValueError):
            BatchConfig(**bad)
    with pytest.raises(ValueError, match="128"):
        BatchConfig(max_batch_size=200)


# -- coalescing ---------------------------------------------------------------------


async def test_concurrent_predicts_coalesce_into_full_batches() -> None:
    batcher, stub = make()
    outs = await asyncio.gather(*(batcher.predict("m", text_input(f"t{i}")) for i in range(150)))
    assert stub.sizes() == [128, 22]
    assert [text_of(o) for o in outs] == [f"T{i}" for i in range(150)]
    # Each caller sees its own input back, id included (none was given).
    assert all(o.input is not None and o.input.id == "" for o in outs)
    assert [text_of(o.input) for o in outs] == [f"t{i}" for i in range(150)]
    req = stub.requests[0]
    assert req.model_id == "m" and req.version_id == ""
    assert req.user_app_id == types.UserAppIDSet(user_id="me", app_id="app")
    assert batcher.queued == 0


async def test_128_cap_is_respected() -> None:
    batcher, stub = make(max_batch_size=128)
    await asyncio.gather(*(batcher.predict("m", text_input(str(i))) for i in range(300)))
    assert stub.sizes() == [128, 128, 44]
    assert max(stub.sizes()) <= MAX_BATCH_SIZE


async def test_different_keys_never_share_a_request() -> None:
    batcher, stub = make(max_wait=10.0, max_batch_size=2)
    params = types.Model(
        output_info=types.OutputInfo(params={"temperature": 0.5}),
    )
    other_params = types.Model(output_info=types.OutputInfo(params={"temperature": 0.9}))
    runner = types.RunnerSelector(nodepool=types.Nodepool(id="np1"))
    uai = types.UserAppIDSet(user_id="clarifai", app_id="main")
    variants: list[dict[str, Any]] = [
        {},
        {"model_id": "other"},
        {"version_id": "v1"},
        {"user_app_id": uai},
        {"model": params},
        {"model": other_params},
        {"runner_selector": runner},
        {"timeout": 5.0},
    ]
    calls: list[Awaitable[types.Output]] = []
    for v in variants:
        kw = dict(v)
        model_id = kw.pop("model_id", "m")
        # Two callers per key: each pair fills one batch of 2.
        for n in range(2):
            calls.append(batcher.predict(model_id, text_input(f"{len(calls)}-{n}"), **kw))
    await asyncio.gather(*calls)
    assert stub.sizes() == [2] * len(variants)
    keys = {
        (
            r.model_id,
            r.version_id,
            r.user_app_id.user_id if r.user_app_id else "",
            r.user_app_id.app_id if r.user_app_id else "",
            r.model.output_info.params["temperature"]
            if r.model and r.model.output_info and r.model.output_info.params
            else None,
            r.runner_selector is not None,
        )
        for r in stub.requests
    }
    # The timeout variant matches the default one but for its timeout.
    assert len(keys) == len(variants) - 1
    assert sorted(t for t in stub.timeouts if t is not None) == [5.0]
    for r in stub.requests:
        if r.model is not None:
            assert r.model in (params, other_params)


async def test_same_key_with_equal_but_distinct_objects_shares() -> None:
    batcher, stub = make()

    def model() -> types.Model:
        return types.Model(output_info=types.OutputInfo(params={"k": 1}))

    await asyncio.gather(
        *(batcher.predict("m", text_input(str(i)), model=model()) for i in range(10))
    )
    assert stub.sizes() == [10]


async def test_max_wait_zero_flushes_at_end_of_tick() -> None:
    batcher, stub = make(max_wait=0)
    first = [asyncio.ensure_future(batcher.predict("m", text_input(str(i)))) for i in range(5)]
    await asyncio.gather(*first)
    second = [asyncio.ensure_future(batcher.predict("m", text_input(str(i)))) for i in range(3)]
    await asyncio.gather(*second)
    assert stub.sizes() == [5, 3]


async def test_max_wait_timer_holds_the_batch_open_then_sends_it() -> None:
    batcher, stub = make(max_wait=0.2)
    early = asyncio.ensure_future(batcher.predict("m", text_input("a")))
    await settle()  # several loop ticks later, well within max_wait
    assert stub.requests == []
    late = asyncio.ensure_future(batcher.predict("m", text_input("b")))
    # Neither batch size nor any other call triggers the flush: only the timer does.
    outs = await asyncio.gather(early, late)
    assert stub.sizes() == [2]
    assert [text_of(o) for o in outs] == ["A", "B"]


async def test_byte_budget_splits_batches() -> None:
    batcher, stub = make(max_batch_bytes=1000)

    def image(n: int) -> types.Input:
        return types.Input(data=types.Data(image=types.Image(base64=b"x" * n)))

    async def handler(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        return types.MultiOutputResponse(
            status=OK, outputs=[types.Output(status=OK, input=i) for i in req.inputs]
        )

    stub.handler = handler
    # 300 raw bytes are 400 on the wire: two fit in 1000, a third does not.
    await asyncio.gather(*(batcher.predict("m", image(300)) for _ in range(5)))
    assert stub.sizes() == [2, 2, 1]
    stub.requests.clear()
    # An input larger than the whole budget goes alone.
    await asyncio.gather(batcher.predict("m", image(3000)), batcher.predict("m", image(10)))
    assert sorted(stub.sizes()) == [1, 1]


async def test_batching_disabled_sends_each_predict_alone() -> None:
    batcher, stub = make(enabled=False)
    outs = await asyncio.gather(*(batcher.predict("m", text_input(str(i))) for i in range(10)))
    assert stub.sizes() == [1] * 10
    assert [text_of(o) for o in outs] == [str(i) for i in range(10)]
    results = [r async for r in batcher.predict_many("m", (text_input(str(i)) for i in range(7)))]
    assert stub.sizes() == [1] * 17
    assert [text_of(cast(types.Output, r)) for r in results] == [str(i) for i in range(7)]


async def test_disabled_batching_still_reports_output_errors() -> None:
    async def failing(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        bad = types.Status(code=30002, description="download failed")
        return types.MultiOutputResponse(
            status=types.Status(code=10010), outputs=[echo_output(req.inputs[0], bad)]
        )

    batcher, _ = make(failing, enabled=False)
    with pytest.raises(OutputError) as info:
        await batcher.predict("m", text_input("x", id="mine"))
    assert info.value.code == 30002
    assert info.value.output is not None and info.value.output.input is not None
    assert info.value.output.input.id == "mine"


async def test_validation_happens_before_anything_is_queued() -> None:
    stub = PredictServer(echo, app_id="")
    batcher = Batcher(stub.core, BatchConfig())
    with pytest.raises(ValueError, match="app"):
        await batcher.predict("m", text_input("x"))
    with pytest.raises(ValueError, match="model_id"):
        await batcher.predict("", text_input("x"), user_app_id=types.UserAppIDSet(app_id="a"))
    with pytest.raises(TypeError):
        await batcher.predict("m", cast(types.Input, "not an input"))
    with pytest.raises(ValueError, match="concurrency"):
        batcher.predict_many("m", [], concurrency=0)
    assert stub.requests == [] and batcher.queued == 0
    # The app can come from the call instead.
    out = await batcher.predict(
        "m", text_input("x"), user_app_id=types.UserAppIDSet(user_id="u", app_id="a")
    )
    assert text_of(out) == "X"
    assert stub.requests[0].user_app_id == types.UserAppIDSet(user_id="u", app_id="a")


# -- ids and matching -------------------------------------------------------------------


async def test_duplicate_and_missing_ids_are_made_unique() -> None:
    batcher, stub = make()
    inputs = [
        text_input("one", id="a"),
        text_input("two", id="a"),
        text_input("three", id="b"),
        text_input("four"),
        text_input("five", id="aioclarifai-3"),  # collides with a made-up id pattern
    ]
    outs = await asyncio.gather(*(batcher.predict("m", i) for i in inputs))
    sent = stub.sent_ids[0]
    assert len(set(sent)) == len(sent) and "" not in sent
    assert sent[2] == "b" and sent[4] == "aioclarifai-3"
    # Every caller gets its own answer and sees its own input (and id) back.
    assert [text_of(o) for o in outs] == ["ONE", "TWO", "THREE", "FOUR", "FIVE"]
    assert [o.input.id if o.input else None for o in outs] == ["a", "a", "b", "", "aioclarifai-3"]
    assert [text_of(o.input) for o in outs] == ["one", "two", "three", "four", "five"]
    # The callers' own inputs are not modified.
    assert [i.id for i in inputs] == ["a", "a", "b", "", "aioclarifai-3"]


async def test_outputs_matched_by_id_when_reordered() -> None:
    async def reversed_echo(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        return types.MultiOutputResponse(
            status=OK, outputs=[echo_output(i) for i in reversed(req.inputs)]
        )

    batcher, _ = make(reversed_echo)
    outs = await asyncio.gather(*(batcher.predict("m", text_input(f"t{i}")) for i in range(20)))
    assert [text_of(o) for o in outs] == [f"T{i}" for i in range(20)]


async def test_outputs_matched_by_position_when_ids_are_not_echoed() -> None:
    async def rewrites_ids(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        outs = []
        for n, i in enumerate(req.inputs):
            out = echo_output(i)
            out.input = types.Input(id=f"server-{n}", data=i.data)
            outs.append(out)
        outs[0].input = None
        return types.MultiOutputResponse(status=OK, outputs=outs)

    batcher, _ = make(rewrites_ids)
    inputs = [text_input(f"t{i}", id=f"c{i}") for i in range(6)]
    outs = await asyncio.gather(*(batcher.predict("m", i) for i in inputs))
    assert [text_of(o) for o in outs] == [f"T{i}" for i in range(6)]
    # No echo at all: the caller's own input is filled in.
    assert outs[0].input is inputs[0]


async def test_a_repeated_output_is_not_given_to_another_caller() -> None:
    async def answers_the_first_twice(
        req: types.PostModelOutputsRequest,
    ) -> types.MultiOutputResponse:
        first = req.inputs[0]
        return types.MultiOutputResponse(status=OK, outputs=[echo_output(first)] * 2)

    batcher, _ = make(answers_the_first_twice)
    results = await asyncio.gather(
        *(batcher.predict("m", text_input(t, id=t)) for t in ["a", "b"]),
        return_exceptions=True,
    )
    assert text_of(cast(types.Output, results[0])) == "A"
    # The second output echoes "a": it is not b's answer, whatever its position.
    assert isinstance(results[1], OutputError) and results[1].output is None


async def test_missing_output_fails_only_that_caller() -> None:
    async def drops_one(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        outs = [echo_output(i) for i in req.inputs if text_of(i) != "lost"]
        return types.MultiOutputResponse(status=OK, outputs=outs[::-1])

    batcher, _ = make(drops_one)
    results = await asyncio.gather(
        *(batcher.predict("m", text_input(t)) for t in ["a", "lost", "c"]),
        return_exceptions=True,
    )
    assert isinstance(results[1], OutputError) and results[1].output is None
    assert "no output" in str(results[1])
    assert [text_of(cast(types.Output, r)) for r in (results[0], results[2])] == ["A", "C"]


# -- failures -------------------------------------------------------------------------


async def test_per_output_failure_only_fails_those_callers() -> None:
    bad = types.Status(code=30002, description="Input download failed", req_id="r1")

    async def mixed(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        outs = [echo_output(i, bad if text_of(i).startswith("bad") else OK) for i in req.inputs]
        return types.MultiOutputResponse(status=types.Status(code=10010), outputs=outs)

    batcher, stub = make(mixed)
    texts = ["ok0", "bad1", "ok2", "bad3"]
    results = await asyncio.gather(
        *(batcher.predict("m", text_input(t)) for t in texts), return_exceptions=True
    )
    assert len(stub.requests) == 1
    for text, result in zip(texts, results, strict=True):
        if text.startswith("bad"):
            assert isinstance(result, OutputError)
            assert result.code == 30002 and result.status == bad
            assert result.output is not None and text_of(result.output.input) == text
        else:
            assert isinstance(result, types.Output) and text_of(result) == text.upper()


async def test_failure_with_outputs_reports_each_output() -> None:
    # 10020 arrives as a typed error carrying the decoded response.
    bad = types.Status(code=30002, description="Input download failed")

    async def failure(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        response = types.MultiOutputResponse(
            status=types.Status(code=10020, description="Failure"),
            outputs=[echo_output(i, bad) for i in req.inputs[:-1]]
            + [echo_output(req.inputs[-1], types.Status())],
        )
        raise ServerError(code=10020, http_status=200, operation="PostModelOutputs",
                          response=response)  # fmt: skip

    batcher, _ = make(failure)
    results = await asyncio.gather(
        *(batcher.predict("m", text_input(str(i))) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, OutputError) for r in results)
    errors = cast(list[OutputError], results)
    assert [e.code for e in errors] == [30002, 30002, 10020]


async def test_whole_request_failure_reaches_every_caller() -> None:
    error = ServerError(code=0, http_status=503, operation="PostModelOutputs")

    async def broken(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        raise error

    batcher, stub = make(broken)
    results = await asyncio.gather(
        *(batcher.predict("m", text_input(str(i))) for i in range(140)), return_exceptions=True
    )
    assert stub.sizes() == [128, 12]
    assert all(r is error for r in results)


async def test_connection_error_and_unexpected_errors_reach_every_caller() -> None:
    async def unreachable(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        raise APIConnectionError("refused", operation="PostModelOutputs")

    batcher, _ = make(unreachable)
    results = await asyncio.gather(
        *(batcher.predict("m", text_input(str(i))) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, APIConnectionError) for r in results)

    async def buggy(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        raise KeyError("boom")

    batcher, _ = make(buggy)
    results = await asyncio.gather(
        *(batcher.predict("m", text_input(str(i))) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, KeyError) for r in results)


# -- cancellation ----------------------------------------------------------------------


async def test_caller_cancelled_before_send_is_left_out(loop_errors: list[Any]) -> None:
    batcher, stub = make(max_wait=10.0, max_batch_size=4)
    tasks = [asyncio.ensure_future(batcher.predict("m", text_input(f"t{i}"))) for i in range(3)]
    await settle()
    tasks[1].cancel()
    await settle()
    assert stub.requests == []
    tasks.append(asyncio.ensure_future(batcher.predict("m", text_input("t3"))))  # fills it
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[1], asyncio.CancelledError)
    assert [text_of(i) for i in stub.requests[0].inputs] == ["t0", "t2", "t3"]
    assert [text_of(cast(types.Output, o)) for o in (done[0], done[2], done[3])] == [
        "T0",
        "T2",
        "T3",
    ]
    assert loop_errors == []


async def test_caller_cancelled_after_send_does_not_hurt_siblings(
    loop_errors: list[Any],
) -> None:
    gate = Gate()
    batcher, stub = make(gate, max_wait=0)
    tasks = [asyncio.ensure_future(batcher.predict("m", text_input(f"t{i}"))) for i in range(4)]
    await settle()
    assert gate.arrived == 1
    tasks[2].cancel()
    await settle()
    gate.opened.set()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[2], asyncio.CancelledError)
    assert [text_of(cast(types.Output, done[i])) for i in (0, 1, 3)] == ["T0", "T1", "T3"]
    assert stub.sizes() == [4]
    assert loop_errors == []


async def test_all_callers_cancelled_sends_nothing(loop_errors: list[Any]) -> None:
    batcher, stub = make(max_wait=0.01)
    tasks = [asyncio.ensure_future(batcher.predict("m", text_input(str(i)))) for i in range(5)]
    await settle()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0.03)  # past max_wait: the timer has fired
    assert stub.requests == []
    assert batcher.queued == 0 and batcher.requests_in_flight == 0
    # The key still works afterwards.
    assert text_of(await batcher.predict("m", text_input("x"))) == "X"
    assert loop_errors == []


# -- backpressure -----------------------------------------------------------------------


async def test_in_flight_batches_are_bounded_per_key() -> None:
    gate = Gate()
    batcher, stub = make(gate, max_batch_size=2, max_concurrent_batches=2, max_wait=0)
    tasks = [asyncio.ensure_future(batcher.predict("m", text_input(str(i)))) for i in range(12)]
    await settle()
    assert gate.arrived == 2  # two requests in flight, four batches wait
    assert batcher.queued == 8
    # Another key has its own slots.
    other = asyncio.ensure_future(batcher.predict("other", text_input("o")))
    await settle()
    assert gate.arrived == 3
    gate.opened.set()
    await asyncio.gather(*tasks, other)
    assert stub.max_in_flight == 3
    assert sorted(stub.sizes()) == [1] + [2] * 6


async def test_due_batches_keep_filling_while_waiting_for_a_slot() -> None:
    gate = Gate()
    batcher, stub = make(gate, max_batch_size=10, max_concurrent_batches=1, max_wait=0)
    first = asyncio.ensure_future(batcher.predict("m", text_input("first")))
    await settle()
    assert gate.arrived == 1
    # These arrive in different ticks while the only slot is busy: one batch forms.
    later = []
    for i in range(5):
        later.append(asyncio.ensure_future(batcher.predict("m", text_input(str(i)))))
        await settle()
    gate.opened.set()
    await asyncio.gather(first, *later)
    assert stub.sizes() == [1, 5]


async def test_queue_is_bounded_and_callers_wait_for_room() -> None:
    gate = Gate()
    batcher, stub = make(gate, max_batch_size=2, max_concurrent_batches=1, max_queue=3, max_wait=0)
    tasks = [asyncio.ensure_future(batcher.predict("m", text_input(str(i)))) for i in range(9)]
    await settle()
    assert gate.arrived == 1
    assert batcher.queued == 3  # never more than max_queue unsent callers
    # A waiting caller that gives up does not take a slot with it.
    tasks[-1].cancel()
    gate.opened.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[-1], asyncio.CancelledError)
    assert [text_of(cast(types.Output, r)) for r in results[:-1]] == [str(i) for i in range(8)]
    assert sum(stub.sizes()) == 8
    assert batcher.queued == 0


# -- aclose -------------------------------------------------------------------------------


async def test_aclose_flushes_pending_callers_and_rejects_new_ones() -> None:
    batcher, stub = make(max_wait=30.0, max_concurrent_batches=1, max_batch_size=3)
    tasks = [asyncio.ensure_future(batcher.predict("m", text_input(str(i)))) for i in range(7)]
    await settle()
    await batcher.aclose()
    outs = await asyncio.gather(*tasks)  # none was left waiting for the 30 s timer
    assert [text_of(o) for o in outs] == [str(i) for i in range(7)]
    assert stub.sizes() == [3, 3, 1]
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.predict("m", text_input("late"))
    with pytest.raises(RuntimeError, match="closed"):
        batcher.predict_many("m", [text_input("late")])
    await batcher.aclose()  # idempotent


async def test_aclose_fails_callers_waiting_for_admission() -> None:
    gate = Gate()
    batcher, _ = make(gate, max_queue=1, max_wait=0, max_batch_size=1, max_concurrent_batches=1)
    tasks = [asyncio.ensure_future(batcher.predict("m", text_input(str(i)))) for i in range(4)]
    await settle()
    closing = asyncio.ensure_future(batcher.aclose())
    await settle()
    gate.opened.set()
    await closing
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert [text_of(cast(types.Output, r)) for r in results[:2]] == ["0", "1"]
    assert all(isinstance(r, RuntimeError) for r in results[2:])


async def test_cancelled_aclose_leaves_nobody_waiting() -> None:
    gate = Gate()
    batcher, _ = make(gate, max_wait=0, max_batch_size=2, max_concurrent_batches=1)
    tasks = [asyncio.ensure_future(batcher.predict("m", text_input(str(i)))) for i in range(6)]
    await settle()
    closing = asyncio.ensure_future(batcher.aclose())
    await settle()
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert batcher.requests_in_flight == 0


# -- predict_many ----------------------------------------------------------------------------


def delayed_echo(delays: dict[str, float]) -> Handler:
    """Echo, sleeping per batch by the first input's text (to scramble completion order)."""

    async def handler(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        await asyncio.sleep(delays.get(text_of(req.inputs[0]), 0))
        return await echo(req)

    return handler


async def test_predict_many_yields_in_input_order() -> None:
    batcher, stub = make(delayed_echo({"0": 0.03, "4": 0.01}), max_batch_size=4)
    inputs = (text_input(str(i)) for i in range(20))
    results = [r async for r in batcher.predict_many("m", inputs, concurrency=8)]
    assert [text_of(cast(types.Output, r)) for r in results] == [str(i) for i in range(20)]
    assert sum(stub.sizes()) == 20 and max(stub.sizes()) == 4


async def test_predict_many_unordered_yields_as_completed() -> None:
    batcher, _ = make(delayed_echo({"0": 0.05}), max_batch_size=4)
    inputs = [text_input(str(i)) for i in range(12)]
    results = [
        text_of(cast(types.Output, r))
        async for r in batcher.predict_many("m", inputs, ordered=False, concurrency=12)
    ]
    assert sorted(results, key=int) == [str(i) for i in range(12)]
    assert results[-4:] == ["0", "1", "2", "3"]  # the slow first batch finishes last


async def test_predict_many_reports_errors_in_place() -> None:
    bad = types.Status(code=30002, description="Input download failed")

    async def mixed(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        outs = [echo_output(i, bad if text_of(i) == "3" else OK) for i in req.inputs]
        return types.MultiOutputResponse(status=types.Status(code=10010), outputs=outs)

    batcher, _ = make(mixed)
    items: list[Any] = [text_input(str(i)) for i in range(6)]
    items.insert(5, "not an input")
    results = [r async for r in batcher.predict_many("m", items)]
    assert isinstance(results[3], OutputError) and results[3].code == 30002
    assert isinstance(results[5], TypeError)
    texts = [text_of(cast(types.Output, r)) for n, r in enumerate(results) if n not in (3, 5)]
    assert texts == ["0", "1", "2", "4", "5"]


async def test_predict_many_raises_first_error_and_withdraws_the_rest(
    loop_errors: list[Any],
) -> None:
    gate = Gate(delayed_echo({}))

    async def handler(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        if text_of(req.inputs[0]) == "0":
            raise ServerError(code=0, http_status=500, operation="PostModelOutputs")
        return await gate(req)

    batcher, stub = make(handler, max_batch_size=2, max_concurrent_batches=2, max_wait=0)
    seen: list[types.Output | Exception] = []
    with pytest.raises(ServerError):
        async for r in batcher.predict_many(
            "m", (text_input(str(i)) for i in range(10)), return_exceptions=False
        ):
            seen.append(r)
    assert seen == []
    # The batches still waiting for a slot were withdrawn, not sent.
    assert sum(stub.sizes()) == 4
    gate.opened.set()
    await settle()
    assert batcher.queued == 0 and batcher.requests_in_flight == 0
    assert loop_errors == []


async def test_predict_many_unordered_raises_first_error() -> None:
    async def handler(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
        if any(text_of(i) == "5" for i in req.inputs):
            raise ServerError(code=0, http_status=500, operation="PostModelOutputs")
        return await echo(req)

    batcher, _ = make(handler, max_batch_size=2)
    got = []
    with pytest.raises(ServerError):
        async for r in batcher.predict_many(
            "m", [text_input(str(i)) for i in range(10)], ordered=False, return_exceptions=False
        ):
            got.append(r)
    assert len(got) < 10


async def test_predict_many_accepts_async_iterables() -> None:
    batcher, stub = make(max_batch_size=8, max_wait=0.001)

    async def source() -> AsyncIterator[types.Input]:
        for i in range(30):
            if i % 7 == 0:
                await asyncio.sleep(0)
            yield text_input(str(i))

    results = [r async for r in batcher.predict_many("m", source(), concurrency=16)]
    assert [text_of(cast(types.Output, r)) for r in results] == [str(i) for i in range(30)]
    assert sum(stub.sizes()) == 30


async def test_predict_many_pulls_lazily_with_bounded_lookahead() -> None:
    batcher, stub = make(max_batch_size=4)
    source = CountingSource(1000)

    consumed = 0
    async for r in batcher.predict_many("m", iter(source), concurrency=10):
        assert isinstance(r, types.Output)
        consumed += 1
        assert source.pulled - consumed <= 10
        if consumed == 50:
            break
    assert source.pulled <= 60
    await asyncio.sleep(0.02)  # past max_wait: withdrawn callers' batch is dropped
    # Leaving early withdraws what was pulled ahead: no result is left pending.
    assert batcher.queued == 0 and batcher.requests_in_flight == 0
    assert sum(stub.sizes()) <= 60


async def test_predict_many_unordered_bounded_lookahead() -> None:
    batcher, _ = make(max_batch_size=4)
    source = CountingSource(200)

    consumed = 0
    async for _ in batcher.predict_many("m", iter(source), concurrency=10, ordered=False):
        consumed += 1
        assert source.pulled - consumed <= 10
    assert consumed == 200


async def test_many_concurrent_predicts_need_few_requests() -> None:
    batcher, stub = make()
    await asyncio.gather(*(batcher.predict("m", text_input(str(i))) for i in range(4096)))
    assert len(stub.requests) <= math.ceil(4096 / 64) + 2


async def test_abort_fails_callers_of_requests_not_yet_started() -> None:
    # What a cancelled aclose() does; here the request task exists but has not run yet.
    batcher, stub = make(max_batch_size=2)
    # predict queues at once: both callers joined, the full batch's task is scheduled only.
    tasks = [asyncio.ensure_future(batcher.predict("m", text_input(str(i)))) for i in range(2)]
    assert batcher.requests_in_flight == 1 and stub.requests == []
    batcher._abort()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert stub.requests == []


# -- predict hands out the batcher's future ------------------------------------------------


async def test_predict_queues_at_once_and_returns_a_future_not_a_coroutine() -> None:
    batcher, stub = make(max_wait=10.0, max_batch_size=2)
    call = batcher.predict("m", text_input("a"))
    assert isinstance(call, asyncio.Future) and not inspect.iscoroutine(call)
    assert batcher.queued == 1  # queued by the call itself, before any await
    second = batcher.predict("m", text_input("b"))  # fills the batch: sent
    assert [text_of(o) for o in await asyncio.gather(call, second)] == ["A", "B"]
    assert stub.sizes() == [2]


async def test_bad_predicts_raise_typed_errors_at_the_call() -> None:
    stub = PredictServer(echo, app_id="")
    batcher = Batcher(stub.core, BatchConfig())
    with pytest.raises(ValueError, match="app"):
        _ = batcher.predict("m", text_input("x"))  # no await: raised by the call
    with pytest.raises(TypeError, match=r"types\.Input"):
        _ = batcher.predict("m", cast(types.Input, "not an input"))
    await batcher.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        _ = batcher.predict("m", text_input("x"), user_app_id=types.UserAppIDSet(app_id="a"))
    assert stub.requests == [] and batcher.queued == 0


async def test_cancelling_the_future_stops_a_request_nobody_waits_for() -> None:
    gate = Gate()
    batcher, _ = make(gate, max_wait=0)
    calls = [cast(Call, batcher.predict("m", text_input(str(i)))) for i in range(3)]
    assert all(isinstance(call, Call) for call in calls)
    await settle()
    assert gate.arrived == 1 and batcher.requests_in_flight == 1
    calls[0].cancel()
    await settle()
    assert batcher.requests_in_flight == 1  # two callers still wait for it
    for call in calls[1:]:
        call.cancel()
    await settle()
    assert batcher.requests_in_flight == 0 and batcher.queued == 0
    assert all(call.cancelled() for call in calls)


async def test_a_call_cancelled_before_its_task_started_is_left_out() -> None:
    batcher, stub = make(max_wait=10.0, max_batch_size=3)
    task = asyncio.create_task(batcher.predict("m", text_input("gone")))
    task.cancel()  # the task never ran: its call is withdrawn all the same
    await settle()
    assert task.cancelled()
    kept = [batcher.predict("m", text_input(str(i))) for i in range(2)]  # fill the batch
    assert [text_of(o) for o in await asyncio.gather(*kept)] == ["0", "1"]
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [text_of(i) for i in stub.requests[0].inputs] == ["0", "1"]


async def test_a_call_runs_as_a_task_and_in_task_groups() -> None:
    # Code written for ``async def predict`` keeps working: create_task, anyio, TaskGroup.
    batcher, stub = make(max_wait=0)
    task = asyncio.create_task(batcher.predict("m", text_input("a")))
    assert text_of(await task) == "A"
    got: list[types.Output] = []

    async def keep(call: Awaitable[types.Output]) -> None:
        got.append(await call)

    async with anyio.create_task_group() as tg:
        tg.start_soon(keep, batcher.predict("m", text_input("c")))
    assert [text_of(o) for o in got] == ["C"]
    stub.handler = _refuse
    with pytest.raises(ServerError):
        await asyncio.create_task(batcher.predict("m", text_input("b")))
    # A task cancelled while it waits withdraws its input too.
    held = Gate()
    stub.handler = held
    waiting = asyncio.create_task(batcher.predict("m", text_input("d")))
    await settle()
    assert held.arrived == 1
    waiting.cancel()
    await settle()
    assert waiting.cancelled() and batcher.requests_in_flight == 0


async def _refuse(req: types.PostModelOutputsRequest) -> types.MultiOutputResponse:
    raise ServerError(code=0, http_status=500, operation="PostModelOutputs")


async def test_predict_many_default_concurrency_is_derived_from_the_config() -> None:
    gate = Gate()
    batcher, _ = make(gate, max_batch_size=4, max_concurrent_batches=3, max_wait=0)
    assert default_concurrency(batcher.config) == 12
    assert default_concurrency(BatchConfig()) == 128 * 32
    assert default_concurrency(BatchConfig(max_batch_size=16)) == 16 * 32
    assert default_concurrency(BatchConfig(enabled=False)) == 32
    source = CountingSource(100)

    outs = batcher.predict_many("m", iter(source))
    first = asyncio.ensure_future(anext(outs))
    await settle()
    assert source.pulled == 12 and gate.arrived == 3  # 3 full requests of 4 in flight, no more
    gate.opened.set()
    assert text_of(cast(types.Output, await first)) == "0"
    rest = [o async for o in outs]
    assert len(rest) == 99 and source.pulled == 100


def test_payload_size_counts_every_inline_payload_and_nothing_else() -> None:
    from aioclarifai._output_match import payload_size

    assert payload_size(types.Data(image=types.Image(url="https://x/a.jpg"))) == 0
    assert payload_size(types.Data(text=types.Text(raw="hello"))) == 5
    assert payload_size(types.Data(image=types.Image(base64=b"x" * 300))) == 400
    for data in (
        types.Data(video=types.Video(base64=b"x" * 300)),
        types.Data(audio=types.Audio(base64=b"x" * 300)),
        types.Data(ndarray=types.NDArray(buffer=b"x" * 300)),
        types.Data(parts=[types.Part(data=types.Data(image=types.Image(base64=b"x" * 300)))]),
    ):
        assert payload_size(data) == 400, data
    both = types.Data(image=types.Image(base64=b"x" * 30), video=types.Video(base64=b"x" * 30))
    assert payload_size(both) == 80


async def test_a_queued_predict_adds_about_one_gc_tracked_object() -> None:
    # The future is all an input adds (no coroutine, no task), even under gather.
    gate = Gate()
    batcher, _ = make(gate, max_wait=0)
    inputs = [text_input(str(i)) for i in range(1024)]
    gate.opened.set()
    await asyncio.gather(*(batcher.predict("m", i) for i in inputs[:256]))  # warm the lane
    gate.opened.clear()
    gc.collect()
    gc.disable()
    try:
        before = gc.get_count()[0]
        waiting = asyncio.gather(*(batcher.predict("m", i) for i in inputs))
        await settle()  # every request sent and held
        tracked = gc.get_count()[0] - before
    finally:
        gc.enable()
    gate.opened.set()
    assert len(await waiting) == 1024
    # One future each, gather's callback context each, and a few objects per request.
    assert tracked / len(inputs) < 2.5, tracked / len(inputs)


async def test_idle_lanes_are_forgotten_and_rejoined() -> None:
    batcher, stub = make(max_wait=0)
    for _ in range(2):
        outs = await asyncio.gather(*(batcher.predict("m", text_input(str(i))) for i in range(3)))
        assert [text_of(o) for o in outs] == ["0", "1", "2"]
        await settle()
        assert batcher._lanes == {}  # nothing kept for a key nobody uses
    many = [o async for o in batcher.predict_many("m", [text_input("a"), text_input("b")])]
    assert len(many) == 2 and batcher._lanes == {}
    assert stub.sizes() == [3, 3, 2]
