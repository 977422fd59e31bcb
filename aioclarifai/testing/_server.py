"""FakeClarifai: every operation of the endpoint table over real HTTP, with state and faults."""

from __future__ import annotations

import asyncio
import collections
import itertools
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import msgspec
from aiohttp import web

from .. import types as t
from .._endpoint_spec import Endpoint
from .._generated.endpoints import ENDPOINTS
from ._faults import Drop, Fault, Latency, code_for, http_status_for
from ._limits import AccountLimits
from ._state import OUTPUT_KINDS, AppState, FakeState, handlers, now, status
from ._state.predict import generated_text, split_text
from ._wire import WireError, decode_body, decode_query, encode_response

__all__ = ["FakeClarifai", "RequestRecord", "generated_text", "split_text"]

_encoder = msgspec.json.Encoder()
_JSON = "application/json"
_GENERATE = "GenerateModelOutputs"


@dataclass
class RequestRecord:
    """One request as FakeClarifai received it (the ``Authorization`` header left out)."""

    operation: str
    """Clarifai operation name (``PostModelOutputs``), or ``""`` for an unknown route."""
    method: str
    path: str
    """The raw, still percent-encoded path."""
    query: str
    body: bytes | None
    """The body, or None when it was larger than the fake's ``log_body_limit``."""
    body_size: int
    headers: dict[str, str]
    time: float = field(default_factory=time.time)

    def json(self) -> Any:
        """The body parsed as JSON (``None`` when absent or not kept)."""
        return msgspec.json.decode(self.body) if self.body else None


@dataclass(frozen=True, slots=True)
class _Route:
    endpoint: Endpoint[Any, Any]
    segments: tuple[str | None, ...]
    """Literal segment, or None where a field goes."""
    fields: tuple[str, ...]
    """Dotted field names of the placeholders, in order."""


class _Router:
    """Matches raw (percent-encoded) paths segment by segment, so ``%2F`` stays inside a value."""

    def __init__(self, endpoints: Iterable[Endpoint[Any, Any]]) -> None:
        table: dict[tuple[str, int], list[_Route]] = {}
        for ep in endpoints:
            for template in ep.templates:
                segments: list[str | None] = []
                fields: list[str] = []
                pieces = [template.literals[0]]
                for f, lit in zip(template.fields, template.literals[1:], strict=True):
                    pieces.append("\0")
                    pieces.append(lit)
                    fields.append(".".join(f))
                for seg in "".join(pieces).split("/"):
                    segments.append(None if seg == "\0" else seg)
                key = (ep.http_method, len(segments))
                table.setdefault(key, []).append(_Route(ep, tuple(segments), tuple(fields)))
        for routes in table.values():
            # Most literal segments first, so fixed names win over placeholders.
            routes.sort(key=lambda r: -sum(s is not None for s in r.segments))
        self._table = table
        self._cache: dict[tuple[str, str], Any] = {}

    def match(self, method: str, path: str) -> tuple[Endpoint[Any, Any], dict[str, str]] | None:
        """The endpoint and decoded path values for ``path`` (None: no route).

        Results are cached: hot paths (one model's predict URL) repeat.
        """
        key = (method, path)
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) >= 4096:
                self._cache.clear()
            hit = self._cache[key] = self._match(method, path)
        return hit

    def _match(self, method: str, path: str) -> tuple[Endpoint[Any, Any], dict[str, str]] | None:
        parts = path.split("/")
        for route in self._table.get((method, len(parts)), ()):
            values: list[str] = []
            for want, got in zip(route.segments, parts, strict=True):
                if want is None:
                    if not got:
                        break
                    values.append(got)
                elif want != got:
                    break
            else:
                return route.endpoint, {
                    f: unquote(v) for f, v in zip(route.fields, values, strict=True)
                }
        return None


def _operation_name(operation: str | None) -> str | None:
    if operation is None:
        return None
    if operation in ENDPOINTS:
        return ENDPOINTS[operation].name
    names = {ep.name for ep in ENDPOINTS.values()}
    if operation in names:
        return operation
    raise ValueError(f"unknown operation {operation!r}")


class FakeClarifai:
    """A stateful in-memory Clarifai over real HTTP, for tests, benchmarks and demos.

    ``async with FakeClarifai() as fake:`` starts it on a free loopback port;
    point a client at ``fake.url`` with ``fake.pat``. Everything is per
    instance: resources, the request log, faults and latency.

    Args:
        pat: the only key accepted (``Authorization: Key <pat>``); others get 401 / 11008.
        user_id: the user ``"me"`` stands for.
        host, port: where to listen (port 0: a free one).
        seed: seeds the random choices (fault rates, random latency).
        generate_chunks: chunks per streamed generation.
        generate_pace: seconds between streamed chunks.
        export_delay: seconds before a model version export reports done.
        log_limit: requests kept in :attr:`requests` (oldest dropped; 0 keeps none).
        log_body_limit: bodies larger than this many bytes are logged as ``None``.
        max_body_size: larger request bodies get 413 (Clarifai takes up to 128 MB per request).
        rate_limit: requests/s per PAT; beyond it 429 / 11005 (see :attr:`limits`).
        retry_after: whether those refusals carry ``Retry-After``.
    """

    def __init__(
        self,
        pat: str = "test-pat",
        *,
        user_id: str = "test-user",
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        generate_chunks: int = 8,
        generate_pace: float = 0.0,
        export_delay: float = 0.2,
        log_limit: int = 10_000,
        log_body_limit: int = 256 * 1024,
        max_body_size: int = 256 * 1024 * 1024,
        rate_limit: float | None = None,
        retry_after: bool = True,
    ) -> None:
        self.pat = pat
        self.user_id = user_id
        self.host = host
        self.port = port
        self.generate_chunks = generate_chunks
        self.generate_pace = generate_pace
        self.log_body_limit = log_body_limit
        self.max_body_size = max_body_size
        self.state = FakeState(user_id, export_delay=export_delay)
        self.requests: collections.deque[RequestRecord] = collections.deque(maxlen=log_limit)
        """The request log, oldest first."""
        self.limits = AccountLimits(rate_limit, retry_after=retry_after) if rate_limit else None
        """The account rate limit (None: unlimited); counts accepted and throttled requests."""
        self.missing_models: set[str] = self.state.missing_models
        """Model ids that answer 404 / 21200 (every other model id exists; deleting a
        created model adds it)."""
        self.admit: Callable[[str], tuple[int, int, float | None] | None] | None = None
        """Account limits hook: called with the operation name of every authenticated request;
        a ``(code, http_status, retry_after)`` answer refuses it (429 / 11005 with
        ``Retry-After``, say). None: every request is admitted."""
        self.request_count = 0
        self.client_disconnects = 0
        """Requests whose client went away before the answer was complete."""
        self._per_second: dict[int, int] = {}
        self._auth = f"Key {pat}"
        self._router = _Router(ENDPOINTS.values())
        self._faults: list[Fault] = []
        self._latency: dict[str | None, Latency] = {}
        self._rng = random.Random(seed)
        self._req_ids = itertools.count(1)
        self._runner: web.ServerRunner | None = None
        self._handlers = handlers(self.state, ENDPOINTS.values())

    def __repr__(self) -> str:
        return f"FakeClarifai(url={self.url if self._runner else None!r})"

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the running server (``http://127.0.0.1:PORT``)."""
        if self._runner is None:
            raise RuntimeError("FakeClarifai is not running: use `async with` or start()")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start listening (``port`` 0 picks a free port; :attr:`url` tells which)."""
        loop = asyncio.get_running_loop()

        def make_request(
            message: Any, payload: Any, protocol: Any, writer: Any, task: Any
        ) -> web.BaseRequest:
            # aiohttp's default 1 MiB body limit is far below Clarifai's 128 MB.
            return web.BaseRequest(
                message, payload, protocol, writer, task, loop,
                client_max_size=self.max_body_size,
            )  # fmt: skip

        server = web.Server(self._handle, request_factory=make_request, access_log=None)
        runner = web.ServerRunner(server, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def close(self) -> None:
        """Stop listening and close every connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeClarifai:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- faults and latency ------------------------------------------------------------------------

    def inject(
        self,
        operation: str | None = None,
        *,
        code: int | None = None,
        http_status: int | None = None,
        rate: float = 1.0,
        times: int | None = None,
        retry_after: float | None = None,
        drop: Drop | None = None,
        truncate: bool = False,
        malformed: bool = False,
        stream_error_after: int | None = None,
    ) -> Fault:
        """Make requests misbehave; returns the :class:`Fault` (its ``hits`` count applications).

        Args:
            operation: method name (``"post_model_outputs"``) or Clarifai name; None: every one.
            code, http_status: answer with this Clarifai status code and/or HTTP status (the
                other one is chosen as the live API pairs them).
            rate: probability that a matching request is affected.
            times: affect at most this many requests (None: no limit).
            retry_after: send ``Retry-After`` (seconds); with no code/status this is a 429 / 11005.
            drop: close the connection ``"before_headers"`` or ``"after_headers"``.
            truncate: send the headers and part of the body, then close (streams: half the chunks).
            malformed: answer 200 with a body that is not JSON.
            stream_error_after: for generations, an error frame after this many chunks.

        Faults are tried in the order they were added; the first that matches applies.
        """
        if retry_after is not None and code is None and http_status is None:
            code, http_status = 11005, 429
        fault = Fault(
            operation=_operation_name(operation),
            code=code,
            http_status=http_status,
            rate=rate,
            times=times,
            retry_after=retry_after,
            drop=drop,
            truncate=truncate,
            malformed=malformed,
            stream_error_after=stream_error_after,
        )
        self._faults.append(fault)
        return fault

    def throttle(
        self, operation: str | None = None, *, retry_after: float = 1.0, times: int | None = 1
    ) -> Fault:
        """Answer 429 / 11005 with ``Retry-After`` (once by default)."""
        return self.inject(operation, code=11005, http_status=429, retry_after=retry_after,
                           times=times)  # fmt: skip

    def clear_faults(self) -> None:
        """Remove every fault and all added latency."""
        self._faults.clear()
        self._latency.clear()

    def set_latency(
        self, seconds: float | tuple[float, float] | None, operation: str | None = None
    ) -> None:
        """Delay answers by ``seconds`` (or uniformly within ``(low, high)``); None removes it.

        A per-operation latency replaces the global one for that operation.
        """
        name = _operation_name(operation)
        if seconds is None:
            self._latency.pop(name, None)
        elif isinstance(seconds, tuple):
            self._latency[name] = Latency(seconds[0], seconds[1])
        else:
            self._latency[name] = Latency(seconds)

    # -- state accessors ---------------------------------------------------------------------------

    def app_state(self, app_id: str, user_id: str = "me") -> AppState:
        """The resources of one application (created empty on first use)."""
        return self.state.app(t.UserAppIDSet(user_id=user_id, app_id=app_id))

    def upload_bytes(self, upload_id: str) -> bytes:
        """The bytes received so far for ``upload_id``, in any application."""
        for app in self.state.apps.values():
            upload = app.uploads.get(upload_id)
            if upload is not None:
                with memoryview(upload.buffer) as view:  # one copy, not two
                    return bytes(view[: upload.upload.content_length])
        raise KeyError(upload_id)

    def set_upload_state(self, upload_id: str, code: int) -> None:
        """Force an upload into a state (68002 failed … 68006 conflict) to test failure paths."""
        for app in self.state.apps.values():
            if upload_id in app.uploads:
                app.uploads[upload_id].code = code
                return
        raise KeyError(upload_id)

    def add_inputs(self, inputs: Iterable[t.Input], *, app_id: str, user_id: str = "me") -> None:
        """Add inputs to an application (tasks assign them; searches return them)."""
        app = self.app_state(app_id, user_id)
        for given in inputs:
            inp = (
                given if given.id else msgspec.structs.replace(given, id=self.state.new_id("input"))
            )
            app.inputs[inp.id] = inp

    def add_model_inputs(
        self, model_id: str, inputs: Iterable[t.Input], *, app_id: str, user_id: str = "me"
    ) -> None:
        """Add inputs that ``ListModelInputs`` of ``model_id`` returns."""
        self.app_state(app_id, user_id).model_inputs.setdefault(model_id, []).extend(inputs)

    def add_model(
        self,
        model_id: str,
        *,
        app_id: str,
        user_id: str = "me",
        output: str = "concepts",
        model: t.Model | None = None,
    ) -> t.Model:
        """Create a model that predicts and generates with answers of the ``output`` kind.

        ``output`` is one of ``"concepts"`` (the default, as every model id
        answers), ``"text"`` (``data.text.raw``), and the shapes of current
        ("pythonic") models: ``"string"`` (``data.string_value``), ``"int"``
        (``data.int_value``), ``"bytes"`` (``data.bytes_value``) and
        ``"parts"`` (``data.parts``: a ``"text"`` part with a string value and
        a ``"count"`` part with an int value). Values are deterministic per
        input (see :func:`generated_text`). Returns the stored model, which
        ``get_model`` and ``list_models`` show too.
        """
        if output not in OUTPUT_KINDS:
            raise ValueError(f"output must be one of {', '.join(OUTPUT_KINDS)}, not {output!r}")
        app = self.app_state(app_id, user_id)
        base = model or t.Model()
        stored = msgspec.structs.replace(
            base, id=model_id, name=base.name or model_id, app_id=app.app_id,
            user_id=app.user_id, created_at=base.created_at or now(),
        )  # fmt: skip
        app.collection("Model")[model_id] = stored
        self.state.set_model_output(app.user_id, app.app_id, model_id, output)
        self.missing_models.discard(model_id)
        self.state.models_changed()
        return stored

    def add_workflows(
        self, workflows: Iterable[t.Workflow], *, app_id: str, user_id: str = "me"
    ) -> None:
        """Create workflows directly (faster than PostWorkflows for large seeds)."""
        self.state.add_workflows(self.app_state(app_id, user_id), workflows)

    # -- request accounting ------------------------------------------------------------------------

    def requests_for(self, operation: str) -> list[RequestRecord]:
        """Logged requests of one operation (method name or Clarifai name)."""
        name = _operation_name(operation)
        return [r for r in self.requests if r.operation == name]

    def requests_per_second(self) -> list[int]:
        """Requests received in each whole second, from the first request's second on.

        The current, unfinished second is left out.
        """
        if not self._per_second:
            return []
        first, current = min(self._per_second), int(time.monotonic())
        return [self._per_second.get(s, 0) for s in range(first, current)]

    # -- the handler -------------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path, _, query = request.raw_path.partition("?")
        method = request.method
        found = self._router.match(method, path)
        endpoint, path_values = found if found is not None else (None, {})
        operation = endpoint.name if endpoint is not None else ""
        rid = f"fake-{next(self._req_ids):08d}"
        self.request_count += 1
        second = int(time.monotonic())
        self._per_second[second] = self._per_second.get(second, 0) + 1
        try:
            body = await request.read() if request.body_exists else b""
        except ConnectionError:
            # The client went away mid-body (a cancelled upload): nobody to answer.
            self.client_disconnects += 1
            return web.Response(status=499)
        except web.HTTPRequestEntityTooLarge:
            size = request.content_length or 0
            body = b""
            too_large = f"the body ({size} bytes) exceeds the limit of {self.max_body_size} bytes"
        else:
            size = len(body)
            too_large = ""
        if self.requests.maxlen:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
            kept = None if too_large or size > self.log_body_limit else body
            self.requests.append(RequestRecord(operation, method, path, query, kept, size, headers))
        if too_large:
            return self._error(413, 11102, "Request too large", too_large, rid)

        if self._latency:
            latency = self._latency.get(operation) or self._latency.get(None)
            if latency is not None:
                await asyncio.sleep(latency.draw(self._rng))
        fault = self._pick_fault(operation) if self._faults else None
        if fault is not None and (endpoint is None or endpoint.name != _GENERATE):
            response = await self._apply_fault(request, fault, rid)
            if response is not None:
                return response
            fault = None

        if request.headers.get("Authorization") != self._auth:
            return self._error(401, 11008, "API key is invalid", "", rid)
        if self.limits is not None and (over := self.limits.check(self._auth)) is not None:
            return self._error(
                over.http_status, over.code, over.description, over.details, rid,
                headers=over.headers,
            )  # fmt: skip
        if endpoint is None:
            return self._error(
                404, 11101, "Resource does not exist", f"no route for {method} {path}", rid
            )
        if self.admit is not None:
            refused = self.admit(operation)
            if refused is not None:
                code, http, retry_after = refused
                wait = None if retry_after is None else {"Retry-After": f"{retry_after:g}"}
                return self._error(http, code, "", "account limit", rid, headers=wait)
        model_id = path_values.get("model_id")
        if model_id is not None and model_id in self.missing_models:
            return self._error(404, 21200, "Model does not exist", f"model '{model_id}'", rid)
        try:
            if endpoint.name == "PostModelOutputs":
                # The hot path: straight to JSON bytes, no response message built.
                http, answer = self.state.predict(body, path_values, rid)
                return web.Response(status=http, body=answer, content_type=_JSON)
            if endpoint.name == _GENERATE:
                return await self._generate(request, body, path_values, rid, fault)
            if endpoint.body:
                message = decode_body(endpoint.request_type, body, path_values)
            else:
                message = decode_query(endpoint.request_type, query, path_values)
            result = self._handlers[endpoint.name](message)
        except WireError as err:
            return self._error(err.http_status, err.code, err.description, err.details, rid)
        if endpoint.streaming:
            return await self._stream(request, result, rid)
        result = msgspec.structs.replace(
            result, status=msgspec.structs.replace(result.status, req_id=rid)
        )
        return web.Response(body=encode_response(result), content_type=_JSON)

    async def _stream(self, request: web.BaseRequest, result: Any, rid: str) -> web.StreamResponse:
        """A server stream: each message of ``result`` (one, or a list) as a ``{"result": …}``."""
        messages = result if isinstance(result, list) else [result]
        resp = web.StreamResponse(headers={"Content-Type": _JSON})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            for message in messages:
                stamped = msgspec.structs.replace(
                    message, status=msgspec.structs.replace(message.status, req_id=rid)
                )
                await resp.write(b'{"result":' + encode_response(stamped) + b"}\n")
            await resp.write_eof()
        except ConnectionError:
            self.client_disconnects += 1
        return resp

    def _error(
        self,
        http_status: int,
        code: int,
        description: str,
        details: str,
        rid: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        body = _encoder.encode({"status": status(code, description, details, req_id=rid)})
        return web.Response(status=http_status, body=body, content_type=_JSON, headers=headers)

    def _pick_fault(self, operation: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(operation, self._rng):
                fault.hits += 1
                return fault
        return None

    async def _apply_fault(
        self, request: web.BaseRequest, fault: Fault, rid: str
    ) -> web.StreamResponse | None:
        """The faulty answer for a non-streaming request (None: answer normally)."""
        transport = request.transport
        if fault.drop == "before_headers":
            if transport is not None:
                transport.abort()
            return web.Response(status=599)  # never reaches the closed connection
        if fault.drop == "after_headers" or fault.truncate:
            body = _encoder.encode({"status": status(10000, req_id=rid)})
            resp = web.StreamResponse(headers={"Content-Type": _JSON})
            resp.content_length = len(body) + 64
            await resp.prepare(request)
            if fault.truncate:
                await resp.write(body[: len(body) // 2])
            if transport is not None:
                transport.abort()
            return resp
        if fault.malformed:
            return web.Response(
                status=fault.http_status or 200,
                body=b'{"status": {"code": 10000, "descr',
                content_type=_JSON,
            )
        if fault.code is not None or fault.http_status is not None:
            code = fault.code if fault.code is not None else code_for(fault.http_status or 500)
            http = fault.http_status or http_status_for(code)
            headers = None
            if fault.retry_after is not None:
                headers = {"Retry-After": f"{fault.retry_after:g}"}
            return self._error(http, code, "", "injected fault", rid, headers=headers)
        return None

    # -- generation --------------------------------------------------------------------------------

    async def _generate(
        self,
        request: web.BaseRequest,
        body: bytes,
        path_values: dict[str, str],
        rid: str,
        fault: Fault | None,
    ) -> web.StreamResponse:
        line, count = self.state.generation(body, path_values, self.generate_chunks)
        if fault is not None and not (fault.truncate or fault.stream_error_after is not None):
            # Faults that strike before the stream starts.
            response = await self._apply_fault(request, fault, rid)
            if response is not None:
                return response
            fault = None
        resp = web.StreamResponse(headers={"Content-Type": _JSON})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            for i in range(count):
                if fault is not None and fault.stream_error_after == i:
                    frame = {"error": {"code": 13, "message": "injected stream failure",
                                       "details": []}}  # fmt: skip
                    await resp.write(_encoder.encode(frame) + b"\n")
                    break
                if fault is not None and fault.truncate and i == count // 2:
                    if request.transport is not None:
                        request.transport.abort()
                    return resp
                await resp.write(line(i, rid))
                if self.generate_pace:
                    await asyncio.sleep(self.generate_pace)
            await resp.write_eof()
        except ConnectionError:
            # The client stopped reading (an early break): count it, as a server would log it.
            self.client_disconnects += 1
        return resp
