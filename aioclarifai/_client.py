"""``Client``: lifecycle, defaults, and the high-level helpers over every operation."""

from __future__ import annotations

import copy
import functools
import sys
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._aiohttp import AiohttpTransport
from ._any_request import request_parts
from ._caps import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_DECOMPRESSED_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    check_cap,
)
from ._clarifai_config import ConfigurationError
from ._config import NOT_GIVEN, NotGiven, RetryConfig, Settings, Timeout
from ._core import Core, Hook, RateGate
from ._extras import APIResponse, Query, check_headers
from ._generated.endpoints import ENDPOINTS
from ._generated.operations import PAGINATED, Operations
from ._network import NetworkOptions, SSLOption
from ._otel import make_tracing
from ._rate import RateController, RateLimiter, RateStats
from ._transport import ClientState, Transport
from ._version import __version__

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider
    from typing_extensions import Self

    from . import types
    from ._batching import BatchConfig, Batcher
    from ._endpoint_spec import Endpoint
    from ._pagination import Paginator
    from ._rate import RateStats
    from ._streaming import ResponseStream
    from ._text_stream import TextStream
    from ._uploads import Source

__all__ = ["Client"]


@functools.cache
def _operation_names() -> dict[Any, str]:
    """Each generated operation function → its method name (the key of ``ENDPOINTS``)."""
    return {getattr(Operations, name): name for name in ENDPOINTS}


DEFAULT_TIMEOUT = Timeout()
USER_AGENT = f"aioclarifai/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]}"

ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")
T = TypeVar("T")


class Client(Operations):
    """An asyncio client for the Clarifai V2 REST API.

    ``Client(pat=None, *, user_id=None, app_id=None, base_url=None, ...)``:
    the credential is ``pat`` (or ``session_token``, sent as
    ``X-Clarifai-Session-Token``), else ``CLARIFAI_PAT`` (else
    ``CLARIFAI_SESSION_TOKEN``), else the Clarifai CLI config's current context
    (``~/.config/clarifai/config``; ``CLARIFAI_CONTEXT`` picks another). The
    rest comes from the arguments, then ``CLARIFAI_USER_ID``,
    ``CLARIFAI_APP_ID``, ``CLARIFAI_API_BASE``, then that context; ``user_id``
    defaults to ``"me"`` and the base URL to ``https://api.clarifai.com``. No
    credential, or one with control characters inside, is a
    :class:`ConfigurationError` here; ``repr(client)`` names the credential's
    source, never the secret.

    Use it as ``async with Client(...) as client`` or call :meth:`aclose`. The
    connection pool is created on first use inside the running event loop and
    stays bound to that loop. Every one of the 283 operations is a method
    (``await client.post_model_outputs(req)``); requests whose ``user_app_id``
    is unset get the client's user and app.

    ``timeout``: seconds or a :class:`Timeout`. ``max_retries``: retries after
    the first attempt. ``max_connections``: the pool size. ``batching``: a
    :class:`BatchConfig` for :meth:`predict`, or False to send each predict
    alone. ``on_request`` / ``on_response``: optional (async) callables given a
    :class:`RequestEvent` / :class:`ResponseEvent` per attempt.
    ``transport``: what carries the requests (a :class:`Transport`, such as
    :class:`aioclarifai.testing.MockTransport`); by default an aiohttp pool
    sized by ``max_connections`` and ``keepalive_expiry``.

    Network (the default transport): ``trust_env`` (default True) honours
    ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``; ``proxy`` (a URL, with
    ``user:password@`` for Basic auth) wins over them; ``ssl`` is an
    ``SSLContext``, a CA bundle path, or False (no verification, with an
    :class:`InsecureTransportWarning`) — by default ``CLARIFAI_ROOT_CERTIFICATES_PATH``,
    else the system's CAs; ``connector_options`` are extra
    ``aiohttp.TCPConnector`` arguments; ``session_factory(**kwargs)`` builds
    the ``aiohttp.ClientSession``; ``trace_configs`` go to the session.
    ``default_headers`` are sent with every request. ``tracing``: True (the
    global OpenTelemetry tracer provider) or a provider: a span per
    operation and per attempt (extra ``otel``).

    Size caps, so no server can exhaust the client's memory (each raises
    :class:`ResponseTooLargeError` and drops the connection):
    ``max_line_bytes`` (one line of a stream, 64 MiB), ``max_body_bytes`` (a
    unary answer as sent, 256 MiB) and ``max_decompressed_bytes`` (a unary
    answer once inflated, 256 MiB). The last two are the default transport's.

    Rate control: one controller per client (one account) in front of every
    attempt of every operation (see :mod:`aioclarifai._rate`). ``rate_limit``:
    the account's limit in requests/s when you know it (a token bucket).
    ``adaptive_rate`` (on by default): learn the limit from throttling answers
    and slow down (429 / 11005 are retried until the call's deadline, not
    counted against ``max_retries``); False with no ``rate_limit`` sends
    unpaced. ``rate_gate``: share one gate between clients of one account
    (any object with ``acquire()`` and ``record()``, see ``RateGate``).
    :meth:`rate_stats` tells what the controller did.
    """

    __slots__ = ("_batcher", "_batching", "_core", "_parent")

    def __init__(
        self,
        pat: str | None = None,
        *,
        user_id: str | None = None,
        app_id: str | None = None,
        base_url: str | None = None,
        session_token: str | None = None,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        retry: RetryConfig | None = None,
        max_connections: int = 100,
        keepalive_expiry: float = 30.0,
        batching: BatchConfig | bool = True,
        on_request: Hook | None = None,
        on_response: Hook | None = None,
        transport: Transport | None = None,
        trust_env: bool = True,
        proxy: str | None = None,
        ssl: SSLOption = None,
        connector_options: Mapping[str, Any] | None = None,
        session_factory: Callable[..., Any] | None = None,
        trace_configs: Sequence[Any] = (),
        default_headers: Mapping[str, str] | None = None,
        tracing: bool | TracerProvider = False,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
        rate_limit: float | None = None,
        adaptive_rate: bool = True,
        rate_gate: RateGate | None = None,
    ) -> None:
        settings = Settings.resolve(pat, base_url, user_id, app_id, session_token)
        network = NetworkOptions.resolve(
            trust_env=trust_env, proxy=proxy, ssl=ssl, connector_options=connector_options,
            session_factory=session_factory, trace_configs=trace_configs,
        )  # fmt: skip
        try:
            headers = check_headers(default_headers, "default_headers")
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        retry = retry or RetryConfig(max_retries=max_retries)
        check_cap("max_line_bytes", max_line_bytes)
        if transport is None:
            transport = AiohttpTransport(
                max_connections=max_connections,
                max_keepalive=keepalive_expiry,
                network=network,
                max_body_bytes=check_cap("max_body_bytes", max_body_bytes),
                max_decompressed_bytes=check_cap("max_decompressed_bytes", max_decompressed_bytes),
            )
        elif not isinstance(transport, Transport):
            raise TypeError(f"transport must be a Transport, not {type(transport).__name__}")
        elif network.given:
            raise ConfigurationError(
                "trust_env, proxy, ssl, connector_options, session_factory and trace_configs "
                "configure the default transport; configure the transport you pass instead"
            )
        transport.bind(
            settings.base_url,
            {"User-Agent": USER_AGENT, **headers, **settings.auth_headers()},
        )
        if rate_gate is None and (rate_limit is not None or adaptive_rate):
            rate_gate = RateLimiter(RateController(rate_limit, adaptive=adaptive_rate))
        self._core = Core(
            settings, transport, Timeout.of(timeout), retry, on_request, on_response, rate_gate,
            tracing=make_tracing(tracing),
            max_line_bytes=max_line_bytes,
        )  # fmt: skip
        self._batching: BatchConfig | bool = batching
        self._batcher: Batcher | None = None
        self._parent: Client | None = None

    # -- state ---------------------------------------------------------------------

    def __repr__(self) -> str:
        s = self._core.settings
        return (
            f"<Client {self._core.transport.state.value} base_url={s.base_url!r} "
            f"user_id={s.user_id!r} app_id={s.app_id!r} credentials={s.credential_source!r}>"
        )

    def rate_stats(self) -> RateStats | None:
        """What the rate controller did: requests, throttled answers, the rate in force.

        None when the client has no controller (``adaptive_rate=False`` and no
        ``rate_limit``) or its gate keeps no statistics.
        """
        stats = getattr(self._core.gate, "stats", None)
        return stats() if callable(stats) else None

    @property
    def state(self) -> ClientState:
        """``UNOPENED`` until the first call, ``OPEN`` while in use, ``CLOSED`` after ``aclose``."""
        return self._core.transport.state

    @property
    def user_id(self) -> str:
        """The default user id (``"me"`` means the PAT's owner)."""
        return self._core.settings.user_id

    @property
    def app_id(self) -> str:
        """The default app id ("" when none was given)."""
        return self._core.settings.app_id

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._core.settings.base_url

    @property
    def connections_in_use(self) -> int:
        """Pooled connections currently held by calls or open streams."""
        return self._core.transport.connections_in_use

    @property
    def idle_connections(self) -> int:
        """Keep-alive connections waiting in the pool."""
        return self._core.transport.idle_connections

    async def __aenter__(self) -> Client:
        if self.state is ClientState.CLOSED:
            raise RuntimeError("this Client is closed; create a new one")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Flush pending batched predicts, then close every connection. Idempotent.

        The pool is closed even when ``aclose`` itself is cancelled (say, by a
        timeout around it) while predicts are being flushed. Closing from
        another event loop than the client's is a ``RuntimeError`` that
        changes nothing, unless the client's loop has ended: then what it
        left (unsent predicts, sockets) is released here. A loop that ends
        through ``asyncio.run`` closes its clients' pools itself.
        """
        root = self._root()
        transport = self._core.transport
        transport.check_loop()  # before the batcher: a refused close must leave it usable
        try:
            if root._batcher is not None:
                await root._batcher.aclose()
        finally:
            await transport.aclose()

    def with_options(
        self,
        *,
        timeout: Timeout | float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Query | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Self:
        """A view of this client with other per-call options, sharing its pool.

        ``await client.with_options(timeout=5, max_retries=0).get_task(req)``.
        An option not given keeps this client's value; ``timeout=None`` means
        no time limit, as for ``Client(timeout=None)``. The view is of this
        client's own class (a subclass stays itself).
        ``extra_headers`` go with every attempt; ``extra_query`` parameters
        are appended to the URL (lists repeat the key, booleans are
        ``true``/``false``); ``extra_body`` fields are merged into the JSON
        body (mappings key by key). A view of a view adds to its options.
        Bad values raise ``ValueError`` here; an ``extra_body`` for an
        operation without a body raises when that operation is called.
        """
        return self._view(
            type(self),
            self._core.with_options(
                timeout=None if isinstance(timeout, NotGiven) else Timeout.of(timeout),
                max_retries=None if isinstance(max_retries, NotGiven) else max_retries,
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
            ),
        )

    def _view(self, cls: type[ClientT], core: Core) -> ClientT:
        # A view of this client's own class keeps a subclass's own attributes.
        clone: ClientT = copy.copy(self) if cls is type(self) else object.__new__(cls)
        clone._core = core
        clone._batching = self._batching
        clone._batcher = None
        clone._parent = self._root()
        return clone

    @property
    def with_raw_response(self) -> RawResponses:
        """Every unary operation, returning an :class:`APIResponse` with the HTTP details.

        ``raw = await client.with_raw_response.list_workflows(req)`` gives
        ``raw.headers``, ``raw.http_status``, ``raw.req_id``, ``raw.elapsed``
        and ``raw.parse()`` (the typed response). Errors still raise.
        """
        return RawResponses(self._view(_RawClient, self._core))

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Query | None = None,
        cast_to: type[T],
        extra_headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> T: ...

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Query | None = None,
        cast_to: None = None,
        extra_headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Query | None = None,
        cast_to: type[Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Call any path of the API with this client's auth, retries, rate control and errors.

        ``await client.request("POST", "/v2/ext/openai/v1/chat/completions", body={...})``.
        ``path`` is on the base URL's host (a full URL is refused: the PAT goes
        with it). ``body``: a Struct, a mapping or list (sent as JSON), or bytes.
        ``query``: parameters (lists repeat the key). ``cast_to``: the type to
        decode the answer into (a Struct, ``dict``, ``list``...; ``bytes`` for
        the body itself); by default plain JSON values. A failure raises the
        typed error its Clarifai status (or, without one, its HTTP status)
        stands for. ``idempotent`` (default: GET, HEAD, PUT, DELETE, OPTIONS)
        decides whether a failure that may have been processed is retried.
        This client's (or view's) extra headers, query and body apply too.
        """
        raw = await self._raw_request(
            method, path, body=body, query=query, cast_to=cast_to,
            extra_headers=extra_headers, idempotent=idempotent,
        )  # fmt: skip
        return raw.parse()

    async def _raw_request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Query | None = None,
        cast_to: type[Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> APIResponse[Any]:
        core = self._core
        if extra_headers:
            core = core.with_options(extra_headers=extra_headers)
        endpoint, built, read = request_parts(
            core, method, path, body=body, query=query, cast_to=cast_to, idempotent=idempotent
        )
        return await core.call_raw(endpoint, built, decode=read)

    def _root(self) -> Client:
        return self._parent if self._parent is not None else self

    # -- the core call used by every generated operation -------------------------------

    def _call(self, endpoint: Endpoint[ReqT, RespT], request: ReqT) -> Awaitable[RespT]:
        # A plain def: the operation method awaits the core's coroutine directly.
        return self._core.call(endpoint, request)

    def _stream(self, endpoint: Endpoint[ReqT, RespT], request: ReqT) -> ResponseStream[RespT]:
        from ._streaming import ResponseStream

        return ResponseStream(self._core, endpoint, request)

    # -- high-level helpers -------------------------------------------------------------

    def _get_batcher(self) -> Batcher:
        root = self._root()
        if root._batcher is None:
            from ._batching import BatchConfig, Batcher

            config = self._batching
            if config is True:
                config = BatchConfig()
            elif config is False:
                config = BatchConfig(enabled=False)
            root._batcher = Batcher(root._core, config)
        return root._batcher

    def predict(
        self,
        model_id: str,
        input: types.Input,
        *,
        version_id: str | None = None,
        user_app_id: types.UserAppIDSet | None = None,
        model: types.Model | None = None,
        runner_selector: types.RunnerSelector | None = None,
        timeout: float | None = None,
    ) -> Coroutine[Any, Any, types.Output]:
        """Predict one input; concurrent calls to the same model share one request.

        Call it in a running event loop and await what it returns: the input
        is queued at once and its future handed back (no coroutine of its
        own; it still works with ``create_task`` and task groups). Bad
        arguments raise here, before anything is queued (``TypeError``,
        ``ValueError``; ``RuntimeError`` once the client is closed). Awaiting
        raises :class:`OutputError` when this input failed while others in
        its batch succeeded, and the request's typed error when the whole
        request failed. Cancelling the await withdraws the input.
        """
        batcher = self._batcher or self._get_batcher()  # a view's is its root's
        if (
            self._parent is None
            and version_id is None
            and user_app_id is None
            and model is None
            and runner_selector is None
            and timeout is None
        ):
            return batcher.predict(model_id, input)  # the common call, without its options
        return batcher.predict(
            model_id,
            input,
            core=self._core,
            version_id=version_id,
            user_app_id=user_app_id,
            model=model,
            runner_selector=runner_selector,
            timeout=timeout,
        )

    def predict_many(
        self,
        model_id: str,
        inputs: Iterable[types.Input] | AsyncIterable[types.Input],
        *,
        version_id: str | None = None,
        user_app_id: types.UserAppIDSet | None = None,
        model: types.Model | None = None,
        runner_selector: types.RunnerSelector | None = None,
        concurrency: int | None = None,
        ordered: bool = True,
        return_exceptions: bool = True,
    ) -> AsyncIterator[types.Output | Exception]:
        """Predict many inputs through the batcher with bounded memory.

        An async iterator of :class:`types.Output` (or, with
        ``return_exceptions``, the exception of each failed input, usually a
        :class:`ClarifaiError`), in input order when ``ordered``, else as they
        complete. At most ``concurrency`` inputs are pulled ahead of the
        results; ``inputs`` is never materialised. The default is 32 full
        requests in flight, fewer if the client's :class:`BatchConfig` allows
        fewer: ``max_batch_size x min(max_concurrent_batches, 32)`` (128 x 32
        = 4,096), so the account's rate limit (15 requests/s by default), not
        this, bounds a model answering in 2 s.
        """
        return self._get_batcher().predict_many(
            model_id,
            inputs,
            core=self._core,
            version_id=version_id,
            user_app_id=user_app_id,
            model=model,
            runner_selector=runner_selector,
            concurrency=concurrency,
            ordered=ordered,
            return_exceptions=return_exceptions,
        )

    def add_inputs(
        self,
        inputs: Iterable[types.Input] | AsyncIterable[types.Input],
        *,
        user_app_id: types.UserAppIDSet | None = None,
        batch_size: int = 128,
        concurrency: int = 4,
    ) -> AsyncIterator[types.Input | Exception]:
        """Add many inputs to the app in PostInputs requests, with bounded memory.

        An async iterator of the added :class:`types.Input` (or the exception
        of each input that failed: an :class:`OutputError` with its status, or
        the request's error), in input order. ``batch_size`` inputs a request
        (at most 128, Clarifai's cap), ``concurrency`` requests in flight;
        ``inputs`` is never materialised. Give inputs ids to find them again.
        """
        from ._chunked import add_inputs

        return add_inputs(
            self, inputs, user_app_id=user_app_id, batch_size=batch_size, concurrency=concurrency
        )

    def generate(
        self,
        model_id: str,
        prompt: str | types.Input,
        *,
        version_id: str | None = None,
        user_app_id: types.UserAppIDSet | None = None,
        inference_params: dict[str, Any] | None = None,
        model: types.Model | None = None,
    ) -> TextStream:
        """Stream a generation of ``model_id`` for ``prompt`` as text deltas.

        ``async with client.generate("llm", "Write a haiku") as stream: async for
        delta in stream: ...`` — nothing is sent until the stream is entered or
        iterated; bad arguments raise here. ``inference_params`` (temperature,
        max_tokens, ...) go to the model's output info. See :class:`TextStream`
        for the full chunks and token counts.
        """
        from ._text_stream import TextStream

        return TextStream.create(
            self._core,
            model_id,
            prompt,
            version_id=version_id,
            user_app_id=user_app_id,
            inference_params=inference_params,
            model=model,
        )

    def _paginate(
        self,
        method: Callable[..., Awaitable[Any]],
        request: Any,
        *,
        per_page: int,
        limit: int | None,
        prefetch: bool,
    ) -> Paginator[Any, Any]:
        # The typed, overloaded ``paginate`` is generated in ``_generated/operations.py``;
        # the method is recognised by its function, not by its name.
        from ._pagination import Paginator

        name = _operation_names().get(getattr(method, "__func__", None))
        owner = getattr(method, "__self__", None)
        if name is None or not isinstance(owner, Client):
            raise TypeError(
                "paginate() needs a client operation method such as client.list_workflows, "
                f"not {method!r}"
            )
        endpoint = ENDPOINTS[name]
        items_field = PAGINATED.get(name)
        if items_field is None:
            raise TypeError(
                f"{name} ({endpoint.name}) is not a paged List operation; "
                f"paginate() takes one of: {', '.join(sorted(PAGINATED))}"
            )
        return Paginator(
            owner._core, endpoint, items_field, request, per_page=per_page, limit=limit,
            prefetch=prefetch,
        )  # fmt: skip

    async def upload(
        self,
        source: Source,
        *,
        content_name: str | None = None,
        content_length: int | None = None,
        part_size: int = 8 * 1024 * 1024,
        concurrency: int = 4,
        progress: Callable[[int, int], Any] | None = None,
        on_created: Callable[[types.Upload], Any] | None = None,
        part_retries: int = 3,
        poll_interval: float = 0.5,
        timeout: float | None = 600.0,
    ) -> types.Upload:
        """Upload bytes, a file path or an async iterator of bytes in parts; wait until done.

        ``content_length`` is required for an async iterator. ``concurrency``
        parts of ``part_size`` bytes are in flight at once (memory stays near
        their product); each part is retried up to ``part_retries`` times.
        ``progress(sent, total)`` is called after each part, ``on_created(upload)``
        once the upload exists (keep its ``id`` for :meth:`resume_upload`).
        Polls GetUpload every ``poll_interval`` s for up to ``timeout`` s.
        Raises :class:`UploadError` when the upload fails (68002-68006) or is not
        done in time.
        """
        from ._uploads import upload

        return await upload(
            self._core, source, content_name=content_name, content_length=content_length,
            part_size=part_size, concurrency=concurrency, progress=progress,
            on_created=on_created, part_retries=part_retries, poll_interval=poll_interval,
            timeout=timeout,
        )  # fmt: skip

    async def resume_upload(
        self,
        upload_id: str,
        source: Source,
        *,
        content_length: int | None = None,
        part_size: int = 8 * 1024 * 1024,
        concurrency: int = 4,
        progress: Callable[[int, int], Any] | None = None,
        part_retries: int = 3,
        poll_interval: float = 0.5,
        timeout: float | None = 600.0,
    ) -> types.Upload:
        """Finish an interrupted :meth:`upload` given its id and the same source and part size.

        Returns at once if the upload is done; otherwise sends the parts the
        server may lack (all of them, unless it reports 100 %) and waits.
        """
        from ._uploads import resume_upload

        return await resume_upload(
            self._core, upload_id, source, content_length=content_length, part_size=part_size,
            concurrency=concurrency, progress=progress, part_retries=part_retries,
            poll_interval=poll_interval, timeout=timeout,
        )  # fmt: skip


ClientT = TypeVar("ClientT", bound=Client)


class _RawClient(Client):
    """A view whose operations return :class:`APIResponse` instead of the typed response."""

    __slots__ = ()

    def _call(self, endpoint: Endpoint[ReqT, RespT], request: ReqT) -> Awaitable[Any]:
        core = self._core
        return core.call_raw(endpoint, core.prepare(endpoint, request))

    def _stream(self, endpoint: Endpoint[ReqT, RespT], request: ReqT) -> ResponseStream[RespT]:
        raise TypeError(
            f"with_raw_response is for unary operations; {endpoint.name} streams "
            "(its ResponseStream has .http_status and .headers)"
        )


class RawResponses:
    """``client.with_raw_response``: each operation returns an :class:`APIResponse`."""

    __slots__ = ("_client",)

    def __init__(self, client: _RawClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Callable[..., Awaitable[APIResponse[Any]]]:
        if name.startswith("_") or not callable(getattr(Operations, name, None)):
            raise AttributeError(f"with_raw_response has no operation {name!r}")
        method: Callable[..., Awaitable[APIResponse[Any]]] = getattr(self._client, name)
        return method

    def __dir__(self) -> list[str]:
        names = [n for n in dir(Operations) if not n.startswith("_") and n != "paginate"]
        return [*names, "request"]

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Query | None = None,
        cast_to: type[Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> APIResponse[Any]:
        """:meth:`Client.request`, returning the :class:`APIResponse`."""
        return await self._client._raw_request(
            method, path, body=body, query=query, cast_to=cast_to,
            extra_headers=extra_headers, idempotent=idempotent,
        )  # fmt: skip
