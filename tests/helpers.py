"""Helpers shared by the test modules (no test module imports another one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import msgspec

from aioclarifai import ClarifaiError, RetryConfig, Timeout, types
from aioclarifai._config import Settings
from aioclarifai._core import Core
from aioclarifai._streaming import ResponseStream
from aioclarifai._transport import StreamResponse
from aioclarifai.testing import MockRequest, MockResponse, MockTransport

PAT = "test-pat-0123"

#: Retries without waiting: every backoff is zero.
FAST_RETRY = RetryConfig(max_retries=2, initial_backoff=0.0, model_not_ready_backoff=0.0)


def core_for(transport: MockTransport, *, retries: int = 2, app_id: str = "app") -> Core:
    """A real core over ``transport``: defaults ``me``/``app_id``, retries without waiting.

    No stream idle timeout: a scripted stream never stalls, and an idle timer
    armed per chunk would only add noise to the memory measurements.
    """
    settings = Settings.resolve(PAT, "https://api.test", "me", app_id)
    transport.bind(settings.base_url, {"Authorization": f"Key {PAT}"})
    retry = RetryConfig(max_retries=retries, initial_backoff=0.0, model_not_ready_backoff=0.0)
    return Core(settings, transport, Timeout(stream_idle=None), retry)


def texts(batch: list[types.MultiOutputResponse]) -> list[str]:
    """The ``data.text.raw`` of each streamed message of ``batch``."""
    out = []
    for chunk in batch:
        data = chunk.outputs[0].data
        assert data is not None and data.text is not None
        out.append(data.text.raw)
    return out


def result_line(text: str, code: int = 10000) -> bytes:
    """One ``{"result": …}`` line of a generation carrying ``text``."""
    message = {"status": {"code": code}, "outputs": [{"data": {"text": {"raw": text}}}]}
    return msgspec.json.encode({"result": message}) + b"\n"


class Body:
    """A scripted streamed answer: its chunks, then ``fail`` (if given) instead of the end."""

    def __init__(
        self, chunks: Iterable[bytes], *, status: int = 200, fail: Exception | None = None
    ) -> None:
        self.chunks = chunks
        self.status = status
        self.fail = fail

    async def content(self) -> AsyncIterator[bytes]:
        """The chunks one by one, then the failure."""
        for chunk in self.chunks:
            yield chunk
        if self.fail is not None:
            raise self.fail


class _Recording(MockTransport):
    """A MockTransport that keeps every stream it opened, to check they were closed."""

    def __init__(self, handler: Any, opened: list[StreamResponse]) -> None:
        super().__init__(handler)
        self.opened = opened

    async def open_stream(self, *args: Any, **kwargs: Any) -> Any:
        stream = await super().open_stream(*args, **kwargs)
        self.opened.append(stream)
        return stream


class ScriptedStreams:
    """A real core whose transport answers each stream request with the next scripted body.

    A body is an iterable of chunks, a :class:`Body`, or a ClarifaiError the
    attempt fails with before any answer.
    """

    def __init__(self, *bodies: Iterable[bytes] | Body | ClarifaiError, retries: int = 2) -> None:
        self.bodies = list(bodies)
        self.opened: list[StreamResponse] = []
        self.requests: list[MockRequest] = []
        self.transport = _Recording(self._handle, self.opened)
        self.core = core_for(self.transport, retries=retries)

    def _handle(self, request: MockRequest) -> MockResponse:
        self.requests.append(request)
        body = self.bodies.pop(0)
        if isinstance(body, ClarifaiError):
            raise body
        if not isinstance(body, Body):
            body = Body(body)
        return MockResponse(body.status, content=body.content())

    def stream(self, **kwargs: Any) -> ResponseStream[Any]:
        """A GenerateModelOutputs stream over this script."""
        from aioclarifai.endpoints import GENERATE_MODEL_OUTPUTS

        return ResponseStream(
            self.core, GENERATE_MODEL_OUTPUTS, types.PostModelOutputsRequest(model_id="m"), **kwargs
        )


# -- PostModelOutputs behind a MockTransport ------------------------------------------

PredictHandler = Callable[[types.PostModelOutputsRequest], Awaitable[types.MultiOutputResponse]]


class _TimeoutRecording(MockTransport):
    """A MockTransport that notes each request's total timeout (None when unlimited)."""

    def __init__(self, handler: Any, timeouts: list[float | None]) -> None:
        super().__init__(handler)
        self.timeouts = timeouts

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        self.timeouts.append(args[3].total)
        return await super().send(*args, **kwargs)


class PredictServer:
    """A real core whose PostModelOutputs requests a typed handler answers (no retries).

    ``requests`` are the requests as the server read them (path fields put
    back), ``sent_ids`` their input ids, ``timeouts`` their total timeouts.
    A handler raising a ClarifaiError fails that request with it.
    """

    def __init__(self, handler: PredictHandler, *, app_id: str = "app") -> None:
        self.handler = handler
        self.requests: list[types.PostModelOutputsRequest] = []
        self.sent_ids: list[list[str]] = []
        self.timeouts: list[float | None] = []
        self.in_flight = 0
        self.max_in_flight = 0
        transport = _TimeoutRecording(self._handle, self.timeouts)
        settings = Settings.resolve(PAT, "https://api.test", "me", app_id)
        transport.bind(settings.base_url, {"Authorization": f"Key {PAT}"})
        unlimited = Timeout(total=None, pool=None, stream_idle=None)
        self.core = Core(settings, transport, unlimited, RetryConfig(max_retries=0))

    def sizes(self) -> list[int]:
        """Inputs per request, in the order the requests arrived."""
        return [len(r.inputs) for r in self.requests]

    async def _handle(self, request: MockRequest) -> MockResponse:
        req = msgspec.json.decode(request.content, type=types.PostModelOutputsRequest)
        # /v2/users/{u}/apps/{a}/models/{m}[/versions/{v}]/outputs
        parts = request.url.split("/v2/", 1)[1].split("/")
        fields = dict(zip(parts[0::2], parts[1::2], strict=False))
        req = msgspec.structs.replace(
            req,
            user_app_id=types.UserAppIDSet(user_id=fields["users"], app_id=fields["apps"]),
            model_id=fields["models"],
            version_id=fields.get("versions", ""),
        )
        self.requests.append(req)
        self.sent_ids.append([i.id for i in req.inputs])
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)
            answer = await self.handler(req)
        finally:
            self.in_flight -= 1
        return MockResponse(200, json=msgspec.to_builtins(answer))
