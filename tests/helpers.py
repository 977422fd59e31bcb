"""Helpers shared by the test modules (no test module imports another one)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import msgspec

from aioclarifai import ClarifaiError, RetryConfig, Timeout
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
        from aioclarifai import types
        from aioclarifai.endpoints import GENERATE_MODEL_OUTPUTS

        return ResponseStream(
            self.core, GENERATE_MODEL_OUTPUTS, types.PostModelOutputsRequest(model_id="m"), **kwargs
        )
