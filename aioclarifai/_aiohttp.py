"""The default transport, over aiohttp: the only module of the client that imports aiohttp.

Implements :class:`aioclarifai._transport.Transport`. Owns the
``aiohttp.ClientSession`` (created lazily inside the running loop that first
uses it), the connection budget, and the mapping of aiohttp's exceptions
onto :mod:`aioclarifai._errors`. The budget is our own FIFO of slots sized like
the connector, so time spent waiting for a free connection is measured here
and reported as ``APITimeoutError(kind="pool")`` rather than as a slow server,
and aiohttp's own pool never makes a request wait.

Cancellation is safe at every point: a slot handed to a waiter that is being
cancelled goes back to the budget, and every exit path of an exchange gives its
slot back after aiohttp released (or, when half-read, closed) the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ._caps import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DECOMPRESSED_BYTES
from ._config import Timeout
from ._deadlines import DeadlineSweep
from ._errors import APIConnectionError, APITimeoutError, ResponseTooLargeError
from ._loop_end import LoopEndWatch
from ._network import NetworkOptions, without_credentials
from ._transport import CLOSED_MESSAGE, BodyStream, ClientState, RawResponse

__all__ = ["AiohttpTransport", "ConnectionBudget", "StreamingResponse", "map_exception"]

_LOOP_ENDED_MESSAGE = (
    "this Client's event loop has ended and its connections were closed with it; "
    "create one Client per event loop"
)
_AIOHTTP = f"aiohttp/{'.'.join(aiohttp.__version__.split('.')[:2])}"
_JSON_HEADERS = {"Content-Type": "application/json"}
# aiohttp writes raw bytes above 1 MiB in one go and warns that this may block
# the loop; a BytesIO is written in chunks instead (and is fresh per attempt).
_LARGE_BODY = 1 << 20


class ConnectionBudget:
    """Counting slots with a FIFO of waiters and a per-wait time limit.

    Unlike ``asyncio.Semaphore`` + ``wait_for``, taking a free slot never
    awaits, a slot is handed straight to the oldest waiter, and a waiter that is
    cancelled after being handed a slot gives it back (so no slot leaks and the
    cancellation still propagates).
    """

    __slots__ = ("_closed", "_free", "_loop", "_size", "_waiters")

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self._size = size
        self._free = size
        self._loop = loop
        self._waiters: deque[asyncio.Future[bool]] = deque()
        self._closed = False

    @property
    def in_use(self) -> int:
        """Slots currently taken."""
        return self._size - self._free

    def try_take(self) -> bool:
        """Take a slot if one is free and nobody queues before us."""
        if self._free and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self, wait: float | None) -> bool:
        """Wait up to ``wait`` seconds for a slot: True when taken, False on timeout.

        Raises ``RuntimeError`` when the budget is closed meanwhile.
        """
        if self.try_take():
            return True
        if self._closed:
            raise RuntimeError(CLOSED_MESSAGE)
        waiter: asyncio.Future[bool] = self._loop.create_future()
        self._waiters.append(waiter)
        timer = self._loop.call_later(max(wait, 0.0), _expire, waiter) if wait is not None else None
        try:
            granted = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self.give()  # handed a slot just as we were cancelled: pass it on
            else:
                self._discard(waiter)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if not granted:
            self._discard(waiter)
            if self._closed:
                raise RuntimeError(CLOSED_MESSAGE)
        return granted

    def give(self) -> None:
        """Return a slot: to the oldest live waiter, else to the free count."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self._free += 1

    def close(self) -> None:
        """Fail every waiter; slots in use still come back through :meth:`give`."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(False)

    def _discard(self, waiter: asyncio.Future[bool]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class StreamingResponse:
    """An HTTP answer whose body is read incrementally; :meth:`close` always runs once.

    A stream has no total size cap (it may run for hours); its lines are
    capped by the reader. :meth:`read_all` (an error answer) has the unary caps.
    """

    __slots__ = ("_caps", "_release", "_response", "closed", "headers", "status")

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        release: Any,
        max_body: int = DEFAULT_MAX_BODY_BYTES,
        max_inflated: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
    ) -> None:
        self._response = response
        self._release = release
        self._caps = (max_body, max_inflated)
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers
        self.closed = False

    async def read_chunk(self, operation: str) -> bytes:
        """The next piece of the body as it arrives; ``b""`` at the end."""
        try:
            return await self._response.content.readany()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # The idle timeout (sock_read) maps to kind "read"; a bare TimeoutError
            # is aiohttp's total timer: the stream's total budget.
            raise map_exception(exc, operation) from _cause(exc)

    async def read_all(self, operation: str) -> bytes:
        """The rest of the body."""
        try:
            return await _read_capped(self._response, operation, *self._caps)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise map_exception(exc, operation) from _cause(exc)

    def close(self) -> None:
        """Drop the connection unless the body was read to the end; release the budget."""
        if self.closed:
            return
        self.closed = True
        try:
            if self._response.content.at_eof():
                self._response.release()
            else:
                # Never hand a half-read connection back to the pool.
                self._response.close()
        finally:
            self._release()


def map_exception(exc: BaseException, operation: str) -> APIConnectionError:
    """Our error for an aiohttp/OS failure (never for ``CancelledError``)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return APITimeoutError(
            f"{operation}: connect timed out", operation=operation, kind="connect"
        )
    if isinstance(exc, aiohttp.SocketTimeoutError | aiohttp.ServerTimeoutError):
        return APITimeoutError(
            f"{operation}: no data from the server within the read timeout",
            operation=operation,
            kind="read",
        )
    if isinstance(exc, asyncio.TimeoutError):
        # aiohttp's total timer (a stream's stream_total) ran out.
        return _total_exceeded(operation)
    if isinstance(exc, aiohttp.ClientConnectorError):
        why = exc.os_error.strerror or str(exc.os_error) or type(exc.os_error).__name__
        return APIConnectionError(
            f"{operation}: cannot connect to {exc.host}:{exc.port} ({why})",
            operation=operation,
            request_sent=False,
        )
    detail = str(exc)
    return APIConnectionError(
        f"{operation}: connection failed ({type(exc).__name__}{': ' + detail if detail else ''})",
        operation=operation,
    )


def _cause(exc: BaseException) -> BaseException:
    """``exc``, safe to chain: no request headers (the PAT) left in any repr along its chain.

    A ``ClientResponseError``'s repr shows its ``request_info`` headers, and
    ``raise … from None`` would still keep it in ``__context__``: chain a
    scrubbed copy of the headers instead of hiding (and keeping) the original.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, aiohttp.ClientResponseError):
            err.request_info = _without_credentials(err.request_info)
            err.history = ()
        todo += (err.__cause__, err.__context__)
    return exc


def _without_credentials(info: aiohttp.RequestInfo) -> aiohttp.RequestInfo:
    headers = CIMultiDict(info.headers)
    for name in _CREDENTIAL_HEADERS:
        if name in headers:
            headers[name] = "***"
    return aiohttp.RequestInfo(info.url, info.method, CIMultiDictProxy(headers), info.real_url)


_CREDENTIAL_HEADERS = ("Authorization", "X-Clarifai-Session-Token", "Proxy-Authorization")


class AiohttpTransport:
    """Connection pool and raw HTTP exchanges for one client, over aiohttp."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_keepalive: float = 30.0,
        network: NetworkOptions | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        self._max_body = max_body_bytes
        self._max_inflated = max_decompressed_bytes
        self._base_url = ""
        self._headers: dict[str, str] = {}
        self._network = network if network is not None else NetworkOptions()
        self._proxy: str | None = None
        self._proxy_source = ""
        self._max_connections = max_connections
        self._keepalive = max_keepalive
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._budget: ConnectionBudget | None = None
        self._sweep: DeadlineSweep | None = None
        self._timeouts: dict[tuple[Timeout, bool], aiohttp.ClientTimeout] = {}
        self._unary_timeout: Timeout | None = None
        self._unary_ct = aiohttp.ClientTimeout()
        self._urls: dict[str, URL] = {}
        self._loop_watch: LoopEndWatch | None = None
        self._loop_ended = False
        self.state = ClientState.UNOPENED

    def __repr__(self) -> str:
        state, in_use = self.state.value, self.connections_in_use
        proxy = f" proxy={without_credentials(self._proxy)}" if self._proxy else ""
        return f"<AiohttpTransport {state} {self._base_url}{proxy} in_use={in_use}>"

    # -- lifecycle --------------------------------------------------------------

    def bind(self, base_url: str, headers: Mapping[str, str]) -> None:
        """Set the base URL and the headers of every request (before the first exchange)."""
        if self._session is not None:
            raise RuntimeError("bind() must come before the first request")
        self._base_url = base_url
        self._headers = dict(headers)
        agent = self._headers.get("User-Agent")
        self._headers["User-Agent"] = f"{agent} {_AIOHTTP}" if agent else _AIOHTTP
        self._urls.clear()
        # The environment's proxy is looked up once, here: aiohttp's trust_env
        # would look it up in a worker thread on every request.
        self._proxy, self._proxy_source = self._network.proxy_for(base_url)

    def _open(self) -> tuple[aiohttp.ClientSession, ConnectionBudget, DeadlineSweep]:
        session = self._session
        if session is not None and self._budget is not None and self._sweep is not None:
            if asyncio.get_running_loop() is not self._loop:
                raise RuntimeError(
                    "this Client is bound to the event loop that first used it; "
                    "create one Client per event loop"
                )
            return session, self._budget, self._sweep
        if self.state is ClientState.CLOSED:
            raise RuntimeError(_LOOP_ENDED_MESSAGE if self._loop_ended else CLOSED_MESSAGE)
        loop = asyncio.get_running_loop()
        network = self._network
        connector_options: dict[str, Any] = {
            "enable_cleanup_closed": sys.version_info < (3, 12, 7),
            **network.connector_options,
        }
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive,
            ssl=network.ssl,
            **connector_options,
        )
        options: dict[str, Any] = {
            "connector": connector,
            "headers": self._headers,
            "auto_decompress": True,
            "trust_env": False,  # the proxy was resolved in bind()
        }
        if network.trace_configs:
            options["trace_configs"] = list(network.trace_configs)
        factory = network.session_factory or aiohttp.ClientSession
        session = factory(**options)
        if not isinstance(session, aiohttp.ClientSession):
            kind = type(session).__name__
            raise TypeError(f"session_factory must return an aiohttp.ClientSession, not {kind}")
        self._session = session
        # aiohttp resends GET/PUT/DELETE once by itself when a connection drops
        # (RFC 9112 9.3.1): unseen by our hooks and retry budget, and twice for
        # non-idempotent PUTs. Every attempt must be the core's own.
        session._retry_connection = False
        self._loop = loop
        self._budget = budget = ConnectionBudget(self._max_connections, loop)
        self._sweep = sweep = DeadlineSweep(loop)
        self.state = ClientState.OPEN
        # asyncio.run() ending with this pool open closes it in its own loop.
        self._loop_watch = LoopEndWatch(self._close_at_loop_end)
        return session, budget, sweep

    async def _close_at_loop_end(self) -> None:
        if self.state is ClientState.OPEN:
            self._loop_ended = True
            await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection; the transport cannot be used again.

        Calls still queued for a connection fail with ``RuntimeError``; calls in
        flight fail with ``APIConnectionError``. Closing from another event loop
        than the one the client is bound to is an error, unless that loop was
        closed (then its sockets are closed here). ``asyncio.run`` ending with
        the pool open closes it first, in its own loop.
        """
        if self.state is ClientState.CLOSED:
            return
        self.check_loop()
        self.state = ClientState.CLOSED
        watch, self._loop_watch = self._loop_watch, None
        if watch is not None:
            watch.cancel()
        if self._loop is not None and self._loop.is_closed():
            self._abandon()
            return
        session, self._session = self._session, None
        if self._budget is not None:
            self._budget.close()
        if self._sweep is not None:
            self._sweep.close()
        if session is not None:
            # In-flight exchanges fail anyway; a graceful close of their sockets
            # would wait for a peer that may never read (a stuck upload) forever.
            aborted = False
            for proto in list(getattr(session.connector, "_acquired", ())):
                if proto.transport is not None:
                    proto.transport.abort()
                    aborted = True
            if aborted:
                # abort() reports the lost connection on the next loop pass; closing
                # the session first would detach the payload readers from it, and a
                # reader would wait forever instead of getting APIConnectionError.
                await asyncio.sleep(0)
            await session.close()

    def _abandon(self) -> None:
        """Forget a pool whose event loop was closed without shutting it down properly.

        Nothing of it can run any more (its futures and sockets belong to the
        dead loop); what the loop left open, it left open.
        """
        session, self._session = self._session, None
        self._budget = None
        connector: Any = session.connector if session is not None else None
        if connector is None:
            return
        protocols = [p for conns in connector._conns.values() for p, _ in conns]
        for proto in [*protocols, *connector._acquired]:
            # No loop is left to run the transport's own close: close its socket here.
            transport = proto.transport
            sock = getattr(transport, "_sock", None)
            if sock is not None:
                sock.close()
                transport._sock = None
        connector._close()  # aiohttp's connector knows a closed loop: it only marks itself closed
        session._connector = None  # type: ignore[union-attr]

    def check_loop(self) -> None:
        """Raise ``RuntimeError`` unless called from the loop an open pool is bound to.

        A pool whose loop was closed may be closed from any loop.
        """
        loop = self._loop
        if (
            self.state is ClientState.OPEN
            and asyncio.get_running_loop() is not loop
            and not (loop is not None and loop.is_closed())
        ):
            raise RuntimeError(
                "this Client is bound to the event loop that first used it; close it from that loop"
            )

    @property
    def connections_in_use(self) -> int:
        """Connections currently held by calls or open streams."""
        return 0 if self._budget is None else self._budget.in_use

    @property
    def idle_connections(self) -> int:
        """Open keep-alive connections waiting in the pool."""
        session = self._session
        if session is None or session.connector is None:
            return 0
        conns: Any = getattr(session.connector, "_conns", {})
        return sum(len(v) for v in conns.values())

    # -- helpers ---------------------------------------------------------------

    def url(self, path_and_query: str) -> URL:
        """The absolute, already-encoded URL for a path (cached: URLs repeat)."""
        url = self._urls.get(path_and_query)
        if url is None:
            url = URL(self._base_url + path_and_query, encoded=True)
            if len(self._urls) > 2048:
                self._urls.clear()
            self._urls[path_and_query] = url
        return url

    def _client_timeout(self, timeout: Timeout, stream: bool) -> aiohttp.ClientTimeout:
        key = (timeout, stream)
        ct = self._timeouts.get(key)
        if ct is None:
            ct = aiohttp.ClientTimeout(
                # A unary call's total is enforced by the deadline sweep, not by aiohttp.
                total=timeout.stream_total if stream else None,
                connect=None,
                sock_connect=timeout.connect,
                sock_read=timeout.stream_idle if stream else timeout.read,
            )
            if len(self._timeouts) > 64:  # per-call Timeouts must not grow this forever
                self._timeouts.clear()
            self._timeouts[key] = ct
        return ct

    def _unary(self, timeout: Timeout) -> aiohttp.ClientTimeout:
        ct = self._client_timeout(timeout, False)
        self._unary_timeout, self._unary_ct = timeout, ct
        return ct

    async def _wait_for_slot(
        self, budget: ConnectionBudget, timeout: Timeout, deadline: float | None, operation: str
    ) -> None:
        """Queue for a connection, bounded by the pool budget and the call's deadline."""
        wait = timeout.pool
        if deadline is not None:
            left = deadline - time.monotonic()
            wait = left if wait is None else min(wait, left)
        if not await budget.take(wait):
            raise APITimeoutError(
                f"{operation}: no free connection within {wait:.3g}s "
                f"(all {self._max_connections} in use: the client is saturated, not the "
                "server; raise max_connections or lower concurrency)",
                operation=operation,
                kind="pool",
            )

    # -- exchanges ---------------------------------------------------------------

    async def send(
        self,
        method: str,
        path_and_query: str,
        body: bytes | None,
        timeout: Timeout,
        operation: str,
        *,
        deadline: float | None = None,
        stream: BodyStream | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> RawResponse:
        """One request, its answer read in full.

        ``deadline`` (``time.monotonic()`` based) bounds the attempt when the
        call already spent part of ``timeout.total``; without it the attempt
        gets all of ``timeout.total`` from now. ``stream``, when given, is sent
        as the body instead of ``body`` (which then only serves the logs).
        ``headers`` are added to this attempt's.
        """
        session, budget, sweep = self._session, self._budget, self._sweep
        if (
            session is None
            or budget is None
            or sweep is None
            or asyncio.get_running_loop() is not self._loop
        ):
            session, budget, sweep = self._open()
        if deadline is None and timeout.total is not None:
            deadline = time.monotonic() + timeout.total
        if not budget.try_take():
            await self._wait_for_slot(budget, timeout, deadline, operation)
        task: Any = None
        watched = None
        try:
            if deadline is not None:
                task = sweep.current_task()
                watched = sweep.watch(deadline, task)
                if watched is None:
                    raise _total_exceeded(operation)
            # One Timeout per client is the rule: remember its aiohttp twin.
            ct = self._unary_ct if timeout is self._unary_timeout else self._unary(timeout)
            if stream is not None:
                data: Any = stream.chunks()
                sent: Mapping[str, str] | None = stream.headers
            else:
                data, sent = _payload(body)
            if headers:
                sent = {**sent, **headers} if sent else headers
            async with session.request(
                method,
                self.url(path_and_query),
                data=data,
                headers=sent,
                timeout=ct,
                allow_redirects=False,
                proxy=self._proxy,
            ) as resp:
                if resp.status == 407 and self._proxy is not None:
                    raise self._proxy_refused(operation)
                data = await _read_capped(resp, operation, self._max_body, self._max_inflated)
                return RawResponse(resp.status, resp.headers, data)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            if isinstance(exc, aiohttp.ClientHttpProxyError) and exc.status == 407:
                raise self._proxy_refused(operation) from None
            raise map_exception(exc, operation) from _cause(exc)
        except asyncio.CancelledError:
            if watched is not None and watched.expired(task):
                raise _total_exceeded(operation) from None
            raise
        finally:
            if watched is not None:
                sweep.unwatch(watched, task)
            budget.give()

    async def open_stream(
        self,
        method: str,
        path_and_query: str,
        body: bytes | None,
        timeout: Timeout,
        operation: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> StreamingResponse:
        """Send a request and return once the answer's headers arrived (``headers`` added)."""
        session, budget, _ = self._open()
        if not budget.try_take():
            await self._wait_for_slot(budget, timeout, None, operation)
        try:
            data, sent = _payload(body)
            if headers:
                sent = {**sent, **headers} if sent else headers
            resp = await session.request(
                method,
                self.url(path_and_query),
                data=data,
                headers=sent,
                timeout=self._client_timeout(timeout, True),
                allow_redirects=False,
                proxy=self._proxy,
            )
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            budget.give()
            if isinstance(exc, aiohttp.ClientHttpProxyError) and exc.status == 407:
                raise self._proxy_refused(operation) from None
            raise map_exception(exc, operation) from _cause(exc)
        except BaseException:
            budget.give()
            raise
        if resp.status == 407 and self._proxy is not None:
            resp.close()
            budget.give()
            raise self._proxy_refused(operation)
        return StreamingResponse(resp, budget.give, self._max_body, self._max_inflated)

    def _proxy_refused(self, operation: str) -> APIConnectionError:
        """The error for a proxy's 407: the request never reached Clarifai."""
        proxy = without_credentials(self._proxy or "")
        return APIConnectionError(
            f"{operation}: the proxy {proxy} (from {self._proxy_source}) refused the request "
            "with 407 Proxy Authentication Required; put its user and password in the proxy "
            "URL (http://user:password@host:port)",
            operation=operation,
            request_sent=False,
        )


async def _read_capped(
    resp: aiohttp.ClientResponse, operation: str, max_body: int, max_inflated: int
) -> bytes:
    """The whole body, or :class:`ResponseTooLargeError` once it passes a cap.

    aiohttp inflates compressed bodies as they are read, a bounded piece at a
    time, so counting what is read bounds both the bytes on the wire
    (``total_raw_bytes``) and the inflated ones; a declared Content-Length over
    the cap is refused before any of the body is read.
    """
    declared = resp.content_length
    if declared is not None and declared > max_body:
        resp.close()
        raise ResponseTooLargeError("body", max_body, operation=operation, seen=declared)
    content = resp.content
    if content.is_eof():
        # The usual small answer arrived whole with its headers: take it without awaiting.
        data = content.read_nowait()
        if len(data) > max_inflated or content.total_raw_bytes > max_body:
            _check_caps(resp, operation, len(data), max_body, max_inflated)
        return data
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.readany():
        chunks.append(chunk)
        size += len(chunk)
        try:
            _check_caps(resp, operation, size, max_body, max_inflated)
        except ResponseTooLargeError:
            chunks.clear()  # free it before the error travels up
            raise
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _check_caps(
    resp: aiohttp.ClientResponse, operation: str, size: int, max_body: int, max_inflated: int
) -> None:
    """Raise :class:`ResponseTooLargeError` (closing ``resp``) once ``size`` read passes a cap."""
    if size > max_inflated:
        what, limit = "decompressed body", max_inflated
    elif resp.content.total_raw_bytes > max_body:
        what, limit = "body", max_body
    else:
        return
    resp.close()  # half read: never pooled
    raise ResponseTooLargeError(what, limit, operation=operation, seen=size)


def _payload(body: bytes | None) -> tuple[Any, Mapping[str, str] | None]:
    """aiohttp's ``data`` and ``headers`` for an encoded JSON body (or none)."""
    if body is None:
        return None, None
    return (body if len(body) <= _LARGE_BODY else io.BytesIO(body)), _JSON_HEADERS


def _total_exceeded(operation: str) -> APITimeoutError:
    return APITimeoutError(
        f"{operation}: the call exceeded its total timeout", operation=operation, kind="total"
    )
