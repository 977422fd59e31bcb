"""Batched predict end to end: a real Client against a loopback server recording requests."""

from __future__ import annotations

import asyncio
import inspect
import json
import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aiohttp import web

from aioclarifai import (
    APITimeoutError,
    Client,
    NotFoundError,
    OutputError,
    RetryConfig,
    ServerError,
    types,
)
from aioclarifai._batching import BatchConfig

PAT = "test-pat-batching"


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]


@dataclass
class PredictServer:
    """Answers PostModelOutputs like a text model: each input's text, upper-cased.

    Inputs whose text starts with ``bad`` fail (MIXED_STATUS); ``status_plan``
    holds canned whole-request answers (HTTP status, body) used first.
    """

    delay: float = 0.0
    status_plan: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    all_fail: bool = False
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(Recorded(request.path, body))
        assert request.headers["Authorization"] == f"Key {PAT}"
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status_plan:
            http_status, answer = self.status_plan.pop(0)
            return web.json_response(answer, status=http_status)
        outputs = []
        failed = 0
        for inp in body.get("inputs", []):
            text = inp["data"]["text"]["raw"]
            bad = self.all_fail or text.startswith("bad")
            failed += bad
            status = (
                {"code": 30002, "description": "Input download failed"}
                if bad
                else {"code": 10000, "description": "Ok"}
            )
            outputs.append(
                {
                    "id": f"out-{inp.get('id', '')}",
                    "status": status,
                    "input": inp,
                    "data": {} if bad else {"text": {"raw": text.upper()}},
                }
            )
        code = 10000 if not failed else (10020 if failed == len(outputs) else 10010)
        return web.json_response(
            {"status": {"code": code, "req_id": f"req-{len(self.requests)}"}, "outputs": outputs}
        )


@pytest.fixture
async def server() -> AsyncIterator[PredictServer]:
    state = PredictServer()
    app = web.Application()
    app.router.add_post("/v2/users/{user}/apps/{app}/models/{model}/outputs", state.handle)
    app.router.add_post(
        "/v2/users/{user}/apps/{app}/models/{model}/versions/{version}/outputs", state.handle
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = cast(Any, site._server).sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


def client_for(server: PredictServer, **kwargs: Any) -> Client:
    return Client(PAT, base_url=server.url, app_id="app", **kwargs)


def text_input(text: str, id: str = "") -> types.Input:
    return types.Input(id=id, data=types.Data(text=types.Text(raw=text)))


def text_of(out: types.Output | types.Input | None) -> str:
    assert out is not None and out.data is not None and out.data.text is not None
    return out.data.text.raw


async def test_concurrent_predicts_share_requests(server: PredictServer) -> None:
    async with client_for(server) as client:
        outs = await asyncio.gather(*(client.predict("m", text_input(f"t{i}")) for i in range(200)))
    assert [text_of(o) for o in outs] == [f"T{i}" for i in range(200)]
    assert sorted(len(r.body["inputs"]) for r in server.requests) == [72, 128]
    first = server.requests[0]
    assert first.path == "/v2/users/me/apps/app/models/m/outputs"
    ids = [i["id"] for i in first.body["inputs"]]
    assert len(set(ids)) == len(ids) and all(ids)
    # Callers see their own input (no id) back.
    assert all(o.input is not None and o.input.id == "" for o in outs)


async def test_4096_concurrent_predicts_make_few_requests(server: PredictServer) -> None:
    server.delay = 0.02
    async with client_for(server) as client:
        outs = await asyncio.gather(*(client.predict("m", text_input(str(i))) for i in range(4096)))
    assert len(outs) == 4096 and text_of(outs[-1]) == "4095"
    assert len(server.requests) <= math.ceil(4096 / 64) + 3


async def test_version_and_app_reach_the_path(server: PredictServer) -> None:
    async with client_for(server) as client:
        await asyncio.gather(
            client.predict("m", text_input("a"), version_id="v1"),
            client.predict(
                "m",
                text_input("b"),
                user_app_id=types.UserAppIDSet(user_id="clarifai", app_id="main"),
            ),
        )
    assert sorted(r.path for r in server.requests) == [
        "/v2/users/clarifai/apps/main/models/m/outputs",
        "/v2/users/me/apps/app/models/m/versions/v1/outputs",
    ]


async def test_mixed_status_fails_only_the_bad_inputs(server: PredictServer) -> None:
    texts = ["ok", "bad-one", "fine", "bad-two"]
    async with client_for(server) as client:
        results = await asyncio.gather(
            *(client.predict("m", text_input(t, id=f"id-{t}")) for t in texts),
            return_exceptions=True,
        )
    assert len(server.requests) == 1
    for text, result in zip(texts, results, strict=True):
        if text.startswith("bad"):
            assert isinstance(result, OutputError) and result.code == 30002
            assert result.output is not None and result.output.input is not None
            assert result.output.input.id == f"id-{text}"
        else:
            assert isinstance(result, types.Output) and text_of(result) == text.upper()


async def test_failure_status_with_outputs_gives_output_errors(server: PredictServer) -> None:
    server.all_fail = True
    async with client_for(server) as client:
        results = await asyncio.gather(
            *(client.predict("m", text_input(str(i))) for i in range(3)), return_exceptions=True
        )
    assert all(isinstance(r, OutputError) and r.code == 30002 for r in results)
    assert len(server.requests) == 1


async def test_whole_request_failure_reaches_every_caller(server: PredictServer) -> None:
    server.status_plan = [
        (404, {"status": {"code": 21200, "description": "Model does not exist", "req_id": "x"}})
    ]
    async with client_for(server) as client:
        results = await asyncio.gather(
            *(client.predict("missing", text_input(str(i))) for i in range(5)),
            return_exceptions=True,
        )
    assert len(server.requests) == 1
    assert all(isinstance(r, NotFoundError) and r.code == 21200 for r in results)


async def test_batches_are_retried_like_any_request(server: PredictServer) -> None:
    server.status_plan = [(503, {"status": {"code": 0}})]
    async with client_for(server, retry=RetryConfig(initial_backoff=0.01)) as client:
        outs = await asyncio.gather(*(client.predict("m", text_input(str(i))) for i in range(5)))
    assert [text_of(o) for o in outs] == [str(i) for i in range(5)]
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body


async def test_per_call_timeout_applies_to_its_batch(server: PredictServer) -> None:
    server.delay = 0.2
    async with client_for(server, max_retries=0) as client:
        with pytest.raises(APITimeoutError):
            await client.predict("m", text_input("slow"), timeout=0.02)


async def test_batching_disabled_sends_each_predict_alone(server: PredictServer) -> None:
    async with client_for(server, batching=False) as client:
        outs = await asyncio.gather(*(client.predict("m", text_input(str(i))) for i in range(6)))
    assert [text_of(o) for o in outs] == [str(i) for i in range(6)]
    assert [len(r.body["inputs"]) for r in server.requests] == [1] * 6


async def test_client_batch_config(server: PredictServer) -> None:
    async with client_for(server, batching=BatchConfig(max_batch_size=5)) as client:
        await asyncio.gather(*(client.predict("m", text_input(str(i))) for i in range(12)))
    assert sorted(len(r.body["inputs"]) for r in server.requests) == [2, 5, 5]


async def test_aclose_flushes_pending_predicts(server: PredictServer) -> None:
    client = client_for(server, batching=BatchConfig(max_wait=60.0))
    tasks = [asyncio.ensure_future(client.predict("m", text_input(str(i)))) for i in range(3)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert server.requests == []
    await client.aclose()
    outs = await asyncio.gather(*tasks)
    assert [text_of(o) for o in outs] == ["0", "1", "2"]
    assert len(server.requests) == 1
    with pytest.raises(RuntimeError, match="closed"):
        await client.predict("m", text_input("late"))


async def test_predict_many_over_http(server: PredictServer) -> None:
    def inputs() -> Iterator[types.Input]:
        for i in range(1000):
            yield text_input(f"bad{i}" if i % 100 == 7 else str(i))

    async with client_for(server) as client:
        results = [r async for r in client.predict_many("m", inputs(), concurrency=256)]
    assert len(results) == 1000
    for i, r in enumerate(results):
        if i % 100 == 7:
            assert isinstance(r, OutputError)
        else:
            assert isinstance(r, types.Output) and text_of(r) == str(i)
    assert len(server.requests) <= math.ceil(1000 / 64) + 4
    bodies = [json.dumps(r.body) for r in server.requests]
    assert all('"text"' in b for b in bodies)


async def test_with_options_views_apply_their_options_and_share_lanes(
    server: PredictServer,
) -> None:
    server.status_plan = [(503, {"status": {"code": 0}})]
    async with client_for(server, retry=RetryConfig(initial_backoff=0.01)) as client:
        # Two views with the same options coalesce; their max_retries=0 is honoured.
        results = await asyncio.gather(
            client.with_options(max_retries=0).predict("m", text_input("a")),
            client.with_options(max_retries=0).predict("m", text_input("b")),
            return_exceptions=True,
        )
        assert all(isinstance(r, ServerError) and r.http_status == 503 for r in results)
        assert len(server.requests) == 1
        # The root client keeps its own options (it would have retried).
        server.status_plan = [(503, {"status": {"code": 0}})]
        out = await client.predict("m", text_input("c"))
    assert text_of(out) == "C"
    assert len(server.requests) == 3


async def test_client_predict_hands_out_the_batchers_future(server: PredictServer) -> None:
    async with client_for(server) as client:
        call = client.predict("m", text_input("a"))
        # No coroutine of its own: gather and wait_for use the future as it is.
        assert isinstance(call, asyncio.Future) and not inspect.iscoroutine(call)
        tasks_before = len(asyncio.all_tasks())
        gathered = asyncio.gather(call, client.predict("m", text_input("b")))
        assert len(asyncio.all_tasks()) - tasks_before <= 1  # at most the batch's own request
        assert [text_of(o) for o in await gathered] == ["A", "B"]
        with pytest.raises(TypeError, match=r"types\.Input"):
            _ = client.predict("m", cast(types.Input, {"id": "not an input"}))
        view = client.with_options(max_retries=0)
        assert text_of(await view.predict("m", text_input("c"))) == "C"
    with pytest.raises(RuntimeError, match="closed"):
        _ = client.predict("m", text_input("late"))
