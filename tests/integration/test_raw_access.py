"""Escape hatches over real loopback HTTP: default and extra headers, extra query and body,
``client.request`` on any path, raw responses, hook-added headers, predict's req_id."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest

from aioclarifai import (
    BadRequestError,
    Client,
    ConfigurationError,
    RateLimitError,
    RequestEvent,
    RetryConfig,
    types,
)

from ._recording_server import Recorder, ok_body, recording_server

PAT = "pat-raw-access-0123456789"
FAST = RetryConfig(max_retries=2, initial_backoff=0.001, max_backoff=0.002)


def client_for(server: Recorder, **options: Any) -> Client:
    return Client(PAT, base_url=server.url, app_id="a", retry=FAST, **options)


async def test_default_headers_arrive_with_every_request() -> None:
    async with recording_server() as server:
        async with client_for(server, default_headers={"X-Team": "vision"}) as client:
            await client.list_workflows(types.ListWorkflowsRequest())
            await client.list_workflows(types.ListWorkflowsRequest())
        assert [r.headers["X-Team"] for r in server.received] == ["vision", "vision"]
        assert server.last.headers["Authorization"] == f"Key {PAT}"


def test_default_headers_cannot_replace_the_credential() -> None:
    with pytest.raises(ConfigurationError, match="pat="):
        Client(PAT, app_id="a", default_headers={"authorization": "Key other"})
    with pytest.raises(ConfigurationError, match="control character"):
        Client(PAT, app_id="a", default_headers={"X-Bad": "a\nb"})


async def test_extra_headers_query_and_body_through_with_options() -> None:
    async with recording_server() as server, client_for(server) as client:
        view = client.with_options(
            extra_headers={"X-Request-Tag": "job-7"},
            extra_query={"flag": True, "tag": ["a b", "c"]},
            extra_body={"model": {"output_info": {"params": {"temperature": 0.2}}}, "new": 1},
        )
        request = types.PostModelOutputsRequest(
            model_id="m",
            inputs=[types.Input(data=types.Data(text=types.Text(raw="hi")))],
        )
        await view.post_model_outputs(request)
        seen = server.last
        assert seen.headers["X-Request-Tag"] == "job-7"
        assert seen.query == [("flag", "true"), ("tag", "a b"), ("tag", "c")]
        body = seen.json()
        assert body["new"] == 1
        assert body["model"]["output_info"]["params"] == {"temperature": 0.2}
        assert body["inputs"][0]["data"]["text"]["raw"] == "hi"  # merged, not replaced
        # The client itself is unchanged; a view of a view adds to the options.
        await client.list_workflows(types.ListWorkflowsRequest())
        assert "X-Request-Tag" not in server.last.headers
        nested = client.with_options(extra_query={"flag": True}).with_options(
            extra_query={"more": 2}, extra_headers={"X-More": "1"}
        )
        await nested.list_workflows(types.ListWorkflowsRequest(per_page=5))
        assert server.last.query == [("per_page", "5"), ("flag", "true"), ("more", "2")]
        assert server.last.headers["X-More"] == "1"


async def test_extra_body_on_a_bodiless_operation_fails_before_io() -> None:
    async with recording_server() as server, client_for(server) as client:
        with pytest.raises(ValueError, match="extra_query"):
            await client.with_options(extra_body={"x": 1}).list_workflows(
                types.ListWorkflowsRequest()
            )
        with pytest.raises(ValueError, match="header name"):
            client.with_options(extra_headers={"bad name": "x"})
        assert server.received == []


async def test_client_request_on_an_arbitrary_path() -> None:
    async with recording_server() as server, client_for(server) as client:
        server.script.append((200, {"id": "chatcmpl-1", "choices": [{"text": "hi"}]}, {}))
        answer = await client.request(
            "POST",
            "/v2/ext/openai/v1/chat/completions",
            body={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            query={"stream": False},
        )
        assert answer == {"id": "chatcmpl-1", "choices": [{"text": "hi"}]}
        seen = server.last
        assert (seen.method, seen.path) == ("POST", "/v2/ext/openai/v1/chat/completions")
        assert seen.query == [("stream", "false")]
        assert seen.headers["Authorization"] == f"Key {PAT}"
        assert seen.json()["messages"][0]["content"] == "hi"


async def test_client_request_decodes_into_cast_to_and_retries_and_types_errors() -> None:
    class Reply(msgspec.Struct):
        status: types.Status
        value: int = 0

    async with recording_server() as server, client_for(server) as client:
        throttled = {"status": {"code": 11005, "description": "throttled", "req_id": "r0"}}
        server.script += [(429, throttled, {}), (200, ok_body("r1", value=7), {})]
        reply = await client.request("GET", "/v2/anything", cast_to=Reply)
        assert isinstance(reply, Reply)
        assert (reply.value, reply.status.req_id) == (7, "r1")
        assert len(server.received) == 2  # the throttled attempt was retried

        server.script.append((400, {"status": {"code": 11102, "description": "bad"}}, {}))
        with pytest.raises(BadRequestError) as info:
            await client.request("DELETE", "/v2/anything/else")
        assert info.value.code == 11102

        # A Clarifai failure inside an HTTP 200 is an error too.
        server.script.append((200, {"status": {"code": 11004, "description": "monthly"}}, {}))
        with pytest.raises(RateLimitError):
            await client.request("GET", "/v2/quota")
        raw = await client.request("GET", "/v2/bytes", cast_to=bytes)
        assert msgspec.json.decode(raw)["status"]["code"] == 10000


async def test_client_request_refuses_other_hosts_before_io() -> None:
    async with recording_server() as server, client_for(server) as client:
        for bad in ("https://evil.example.com/v2", "//evil.example.com/v2", "v2/x", "/v2/a b"):
            with pytest.raises(ValueError, match="path"):
                await client.request("GET", bad)
        with pytest.raises(ValueError, match="method"):
            await client.request("BREW", "/v2/x")
        assert server.received == []


async def test_raw_response_headers_status_req_id_elapsed_and_parse() -> None:
    async with recording_server() as server, client_for(server) as client:
        server.script.append((200, ok_body("req-raw", workflows=[{"id": "w1"}]), {"X-Extra": "1"}))
        raw = await client.with_raw_response.list_workflows(types.ListWorkflowsRequest())
        assert raw.http_status == 200
        assert raw.headers["x-served-by"] == "recorder"  # case-insensitive
        assert raw.headers["X-Extra"] == "1"
        assert raw.req_id == "req-raw"
        assert raw.elapsed > 0
        assert raw.attempts == 1
        parsed = raw.parse()
        assert isinstance(parsed, types.MultiWorkflowResponse)
        assert parsed.workflows[0].id == "w1"
        assert raw.json()["workflows"][0]["id"] == "w1"
        assert "req-raw" in repr(raw)
        direct = await client.with_raw_response.request("GET", "/v2/x")
        assert direct.http_status == 200
        assert direct.req_id == "req-2"
        with pytest.raises(AttributeError):
            client.with_raw_response.predict  # noqa: B018 - not an operation
        with pytest.raises(TypeError, match="unary"):
            client.with_raw_response.generate_model_outputs(types.PostModelOutputsRequest())


async def test_on_request_hooks_add_headers_to_each_attempt() -> None:
    seen: list[int] = []

    def hook(event: RequestEvent) -> None:
        seen.append(event.attempt)
        event.headers["traceparent"] = f"00-{'a' * 32}-{event.attempt + 1:016x}-01"

    async with recording_server() as server, client_for(server, on_request=hook) as client:
        server.script.append((503, {"status": {"code": 10030, "description": "again"}}, {}))
        await client.list_workflows(types.ListWorkflowsRequest())
        assert seen == [0, 1]
        assert [r.headers["traceparent"] for r in server.received] == [
            f"00-{'a' * 32}-{1:016x}-01",
            f"00-{'a' * 32}-{2:016x}-01",
        ]


async def test_every_predict_result_knows_its_req_id() -> None:
    async with recording_server() as server, client_for(server) as client:
        server.script.append(
            (200, ok_body("req-predict", outputs=[{"id": "o1", "status": {"code": 10000}}]), {})
        )
        out = await client.predict("m", types.Input(data=types.Data(text=types.Text(raw="x"))))
        assert out.status is not None
        assert out.status.req_id == "req-predict"


async def test_info_log_line_for_each_retry(caplog: pytest.LogCaptureFixture) -> None:
    async with recording_server() as server, client_for(server) as client:
        server.script.append((503, {"status": {"code": 10030, "description": "again"}}, {}))
        with caplog.at_level(logging.INFO, logger="aioclarifai"):
            await client.list_workflows(types.ListWorkflowsRequest())
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(lines) == 1
    assert lines[0].startswith("ListWorkflows attempt 1 failed (ServerError")
    assert "retrying in" in lines[0]
    assert PAT not in caplog.text
