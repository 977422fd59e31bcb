"""Typed errors and retries over loopback: what each failure becomes, and how often it is tried."""

from __future__ import annotations

import email.utils
import logging
import socket
import time
from typing import Any

import pytest

from aioclarifai import (
    APIConnectionError,
    AuthenticationError,
    ClarifaiError,
    Client,
    NotFoundError,
    RateLimitError,
    RequestEvent,
    ResponseEvent,
    ServerError,
    Timeout,
    types,
)
from tests.helpers_loopback import (
    PAT,
    Close,
    Hang,
    Loopback,
    Reply,
    ResetMidBody,
    Seen,
    client_for,
    fast_retry,
    scripted,
    status_body,
)

SERVICE_UNAVAILABLE = Reply(503, status_body(40031, "server unavailable"))


async def test_429_retry_after_then_success() -> None:
    throttled = Reply(429, status_body(11005, "throttled"), {"Retry-After": "1"})
    async with Loopback(scripted(throttled, Reply())) as server, client_for(server) as client:
        started = time.monotonic()
        resp = await client.list_workflows()
        elapsed = time.monotonic() - started
    assert resp.status is not None and resp.status.code == 10000
    assert len(server.requests) == 2
    assert elapsed >= 0.9  # the server's wait, not our millisecond backoff


async def test_retry_after_ms_and_http_date() -> None:
    def handler(seen: Seen) -> Reply:
        n = len(server.requests)
        if n == 1:
            return Reply(429, status_body(11005), {"retry-after-ms": "150"})
        if n == 2:
            # An HTTP date has whole seconds: 2 s ahead means a wait of 1-2 s.
            when = email.utils.formatdate(time.time() + 2, usegmt=True)
            return Reply(503, b"<html>maintenance</html>", {"Retry-After": when})
        return Reply()

    async with Loopback(handler) as server, client_for(server) as client:
        started = time.monotonic()
        await client.list_workflows()
        elapsed = time.monotonic() - started
    assert len(server.requests) == 3
    assert elapsed >= 0.15 + 1.0


async def test_retry_after_above_the_cap_raises_at_once() -> None:
    throttled = Reply(429, status_body(11005), {"Retry-After": "120"})
    async with Loopback(scripted(throttled, Reply())) as server, client_for(server) as client:
        started = time.monotonic()
        with pytest.raises(RateLimitError) as info:
            await client.list_workflows()
        assert time.monotonic() - started < 1.0
    assert info.value.retry_after == 120.0
    assert len(server.requests) == 1


async def test_503_twice_then_success() -> None:
    handler = scripted(SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE, Reply())
    async with Loopback(handler) as server, client_for(server) as client:
        resp = await client.list_workflows()
    assert resp.status is not None and resp.status.code == 10000
    assert len(server.requests) == 3


async def test_503_beyond_max_retries() -> None:
    async with (
        Loopback(scripted(Reply(503, status_body(98004, "oops", "r-9")))) as server,
        client_for(server, retry=fast_retry(3)) as client,
    ):
        with pytest.raises(ServerError) as info:
            await client.list_workflows()
    assert len(server.requests) == 4
    err = info.value
    assert (err.code, err.http_status, err.req_id, err.operation) == (
        98004,
        503,
        "r-9",
        "ListWorkflows",
    )


async def test_401_is_final_after_one_request() -> None:
    body = status_body(11008, "API key not found")
    async with Loopback(scripted(Reply(401, body))) as server, client_for(server) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.list_workflows()
    assert len(server.requests) == 1
    assert info.value.code == 11008
    assert info.value.code_name == "CONN_KEY_INVALID"
    assert server.requests[0].headers["authorization"] == f"Key {PAT}"


async def test_404_model_does_not_exist() -> None:
    body = status_body(21200, "Model does not exist")
    async with Loopback(scripted(Reply(404, body))) as server, client_for(server) as client:
        with pytest.raises(NotFoundError) as info:
            await client.post_model_outputs(model_id="nope")
    assert len(server.requests) == 1
    assert info.value.code == 21200
    assert isinstance(info.value.response, types.MultiOutputResponse)


async def test_html_502_becomes_a_typed_error_with_a_snippet() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    reply = Reply(502, page, {"Content-Type": "text/html"})
    async with (
        Loopback(scripted(reply)) as server,
        client_for(server, retry=fast_retry(1)) as client,
    ):
        with pytest.raises(ServerError) as info:
            await client.list_workflows()
    err = info.value
    assert (err.code, err.http_status) == (0, 502)
    assert "502 Bad Gateway" in str(err)
    assert "text/html" in str(err)
    assert len(server.requests) == 2  # a 502 is retried


async def test_malformed_json_in_a_200() -> None:
    reply = Reply(200, b'{"status": {"code": 10000, "descr')
    async with Loopback(scripted(reply)) as server, client_for(server) as client:
        with pytest.raises(ServerError) as info:
            await client.list_workflows()
    assert info.value.http_status == 200
    assert '{"status": {"code": 10000, "descr' in str(info.value)
    assert len(server.requests) == 1


async def test_mixed_status_is_returned_as_data() -> None:
    body = {
        "status": {"code": 10010, "description": "Mixed Success"},
        "outputs": [
            {"id": "a", "status": {"code": 10000}},
            {"id": "b", "status": {"code": 30002, "description": "Download failed"}},
        ],
    }
    async with Loopback(scripted(Reply(200, body))) as server, client_for(server) as client:
        resp = await client.post_model_outputs(model_id="m")
    assert resp.status is not None and resp.status.code == 10010
    assert [o.status.code for o in resp.outputs if o.status] == [10000, 30002]


async def test_non_success_status_in_a_200_raises() -> None:
    body = status_body(10020, "Failure")
    async with Loopback(scripted(Reply(200, body))) as server, client_for(server) as client:
        with pytest.raises(ServerError):
            await client.post_model_outputs(model_id="m")
    assert len(server.requests) == 1


async def test_non_idempotent_503_is_not_retried() -> None:
    async with (
        Loopback(scripted(SERVICE_UNAVAILABLE, Reply())) as server,
        client_for(server) as client,
    ):
        with pytest.raises(ServerError):
            await client.post_workflows(workflows=[types.Workflow(id="w")])
    assert len(server.requests) == 1


async def test_non_idempotent_429_is_retried() -> None:
    throttled = Reply(429, status_body(11005), {"retry-after-ms": "10"})
    async with Loopback(scripted(throttled, Reply())) as server, client_for(server) as client:
        await client.post_workflows(workflows=[types.Workflow(id="w")])
    assert len(server.requests) == 2


async def test_model_busy_is_retried_for_predict_only() -> None:
    busy = Reply(503, status_body(21354, "busy"))
    async with Loopback(scripted(busy, Reply())) as server:
        retry = fast_retry()
        async with client_for(server, retry=retry) as client:
            await client.post_model_outputs(model_id="m")
            assert len(server.requests) == 2
    async with Loopback(scripted(busy, Reply())) as server, client_for(server) as client:
        with pytest.raises(ClarifaiError):
            await client.get_module(module_id="x")
        assert len(server.requests) == 1


def _refused_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now: connections are refused
    return f"http://127.0.0.1:{port}"


async def test_connect_refused_is_retried_even_for_post_workflows() -> None:
    events: list[ResponseEvent] = []
    async with Client(
        PAT, base_url=_refused_url(), app_id="app", retry=fast_retry(), on_response=events.append
    ) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.post_workflows(workflows=[types.Workflow(id="w")])
        assert client.connections_in_use == 0
    assert info.value.request_sent is False
    assert "cannot connect" in str(info.value)
    assert len(events) == 3
    assert [e.retry_delay is not None for e in events] == [True, True, False]


async def test_connection_reset_mid_body() -> None:
    async with (
        Loopback(scripted(ResetMidBody(), Reply())) as server,
        client_for(server) as client,
    ):
        resp = await client.list_workflows()  # idempotent: retried after the reset
        assert resp.status is not None and resp.status.code == 10000
        assert len(server.requests) == 2
        server.handler = scripted(ResetMidBody(), Reply())
        with pytest.raises(APIConnectionError) as info:
            await client.post_workflows(workflows=[types.Workflow(id="w")])
        assert info.value.request_sent is True
        assert len(server.requests) == 3  # not retried: the body was sent
        assert client.connections_in_use == 0


async def test_server_closing_without_answer() -> None:
    async with Loopback(scripted(Close(), Reply())) as server, client_for(server) as client:
        await client.list_workflows()
        assert len(server.requests) == 2


# -- observability and the PAT ------------------------------------------------------------------


async def test_hooks_sync_and_async_see_every_attempt() -> None:
    requests: list[RequestEvent] = []
    responses: list[ResponseEvent] = []

    async def on_response(event: ResponseEvent) -> None:
        responses.append(event)

    handler = scripted(SERVICE_UNAVAILABLE, Reply())
    async with (
        Loopback(handler) as server,
        client_for(server, on_request=requests.append, on_response=on_response) as client,
    ):
        await client.list_workflows()
    assert [e.attempt for e in requests] == [0, 1]
    assert requests[0].operation == "ListWorkflows" and requests[0].method == "GET"
    first, second = responses
    assert (first.http_status, first.code, first.req_id) == (503, 40031, "req-1")
    assert isinstance(first.error, ServerError) and first.retry_delay is not None
    assert (second.http_status, second.code, second.error, second.retry_delay) == (
        200,
        10000,
        None,
        None,
    )
    assert second.duration >= 0


async def test_hook_errors_reach_the_caller() -> None:
    def broken(event: Any) -> None:
        raise LookupError("hook bug")

    async with Loopback(scripted(Reply())) as server, client_for(server, on_response=broken) as c:
        with pytest.raises(LookupError):
            await c.list_workflows()


async def test_debug_log_line_per_attempt(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aioclarifai")
    image = types.Image(base64=b"\x89PNG" * 3000)
    handler = scripted(SERVICE_UNAVAILABLE, Reply())
    async with Loopback(handler) as server, client_for(server) as client:
        await client.post_model_outputs(
            model_id="m", inputs=[types.Input(data=types.Data(image=image))]
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "aioclarifai"]
    assert len(lines) == 2
    first, second = lines
    for part in ("PostModelOutputs", "POST", "/models/m/outputs", "http=503", "code=40031"):
        assert part in first
    assert "req_id=req-1" in first and "attempt=1" in first and "ms" in first
    assert "retry_in=" in first and "ServerError" in first
    assert "http=200" in second and "attempt=2" in second and "req_id=req-ok" in second
    assert "base64 chars>" in first
    assert len(first) < 1000  # 16 KB of base64 shortened


async def test_pat_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aioclarifai")

    def echo(seen: Seen) -> Reply:
        # A hostile proxy that echoes the Authorization header everywhere it can.
        auth = seen.headers["authorization"]
        if seen.path.endswith("/modules"):
            return Reply(502, f"<html>{auth}</html>".encode(), {"Content-Type": "text/html"})
        return Reply(401, {"status": {"code": 11008, "description": auth, "details": auth}})

    errors: list[BaseException] = []
    async with Loopback(echo) as server, client_for(server) as client:
        for call in (client.list_workflows, client.list_modules):
            with pytest.raises(ClarifaiError) as info:
                await call()
            errors.append(info.value)
        texts = [repr(client), repr(client._core), repr(client._core.transport)]
    async with (
        Loopback(scripted(Hang())) as server,
        client_for(server, timeout=Timeout(total=0.3), retry=fast_retry(0)) as client,
    ):
        with pytest.raises(ClarifaiError) as info:
            await client.list_workflows()
        errors.append(info.value)
    async with Client(PAT, base_url=_refused_url(), app_id="a", retry=fast_retry(0)) as client:
        with pytest.raises(ClarifaiError) as info:
            await client.list_workflows()
        errors.append(info.value)
    for err in errors:
        texts += [str(err), repr(err), repr(vars(err)), repr(err.__cause__)]
    texts.append(caplog.text)
    assert all(PAT not in text for text in texts)
    assert "***" in str(errors[0])  # the echo was blanked, not dropped


async def test_stream_open_errors_are_typed_and_observed() -> None:
    events: list[ResponseEvent] = []
    body = status_body(21200, "Model does not exist")
    async with (
        Loopback(scripted(Reply(404, body))) as server,
        client_for(server, on_response=events.append) as client,
    ):
        with pytest.raises(NotFoundError) as info:
            async with client.generate_model_outputs(model_id="m") as stream:
                async for _ in stream:
                    pass
        assert client.connections_in_use == 0
    assert info.value.code == 21200
    assert len(server.requests) == 1
    assert [(e.http_status, e.code) for e in events] == [(404, 21200)]
    assert isinstance(events[0].error, NotFoundError)
