"""HTTP transport: the only module that imports aiohttp.

Owns the ``aiohttp.ClientSession`` (created lazily inside the running loop that
first uses it), the connection budget, and the mapping of aiohttp's exceptions
onto :mod:`aioclarifai._errors`. The budget is our own semaphore sized like
the connector, so time spent waiting for a free connection is measured here
and reported as ``APITimeoutError(kind="pool")`` rather than as a slow server.
"""

from __future__ import annotations

import asyncio
import enum
import sys
from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

from ._config import Timeout
from ._errors import APIConnectionError, APITimeoutError
from ._version import __version__

__all__ = ["ClientState", "RawResponse", "StreamingResponse", "Transport"]

USER_AGENT = (
    f"aioclarifai/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]} "
    f"aiohttp/{'.'.join(aiohttp.__version__.split('.')[:2])}"
)
_JSON_HEADERS = {"Content-Type": "application/json"}


class ClientState(enum.Enum):
    """Lifecycle of a client: unopened → open → closed (closed is final)."""

    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class RawResponse:
    """A fully read HTTP answer."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class StreamingResponse:
    """An HTTP answer whose body is read incrementally; :meth:`close` always runs once."""

    __slots__ = ("_release", "_response", "closed", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse, release: Any) -> None:
        self._response = response
        self._release = release
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers
        self.closed = False

    async def read_chunk(self, operation: str) -> bytes:
        """The next piece of the body as it arrives; ``b""`` at the end."""
        try:
            return await self._response.content.readany()
        except aiohttp.ClientError as exc:
            raise map_exception(exc, operation) from exc
        except asyncio.TimeoutError as exc:
            raise APITimeoutError(
                f"{operation}: no data for the stream's idle timeout", operation=operation,
                kind="read",
            ) from exc

    async def read_all(self, operation: str) -> bytes:
        """The rest of the body."""
        try:
            return await self._response.read()
        except aiohttp.ClientError as exc:
            raise map_exception(exc, operation) from exc
        except asyncio.TimeoutError as exc:
            raise APITimeoutError(
                f"{operation}: timed out reading the answer", operation=operation, kind="read"
            ) from exc

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
        return APITimeoutError(f"{operation}: connect timed out", operation=operation, kind="connect")
    if isinstance(exc, aiohttp.SocketTimeoutError | aiohttp.ServerTimeoutError):
        return APITimeoutError(
            f"{operation}: no answer within the read timeout", operation=operation, kind="read"
        )
    if isinstance(exc, asyncio.TimeoutError):
        return APITimeoutError(
            f"{operation}: the attempt exceeded its total timeout", operation=operation,
            kind="total",
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return APIConnectionError(
            f"{operation}: cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc})",
            operation=operation,
            request_sent=False,
        )
    reason = type(exc).__name__
    detail = str(exc)
    return APIConnectionError(
        f"{operation}: connection failed ({reason}{': ' + detail if detail else ''})",
        operation=operation,
    )


class Transport:
    """Connection pool and raw HTTP exchanges for one client."""

    def __init__(
        self,
        *,
        base_url: str,
        pat: str,
        max_connections: int,
        max_keepalive: float,
        trust_env: bool = False,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        self._base_url = base_url
        self._pat = pat
        self._max_connections = max_connections
        self._keepalive = max_keepalive
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._budget: asyncio.Semaphore | None = None
        self._timeouts: dict[tuple[Timeout, bool], aiohttp.ClientTimeout] = {}
        self._urls: dict[str, URL] = {}
        self.state = ClientState.UNOPENED

    # -- lifecycle --------------------------------------------------------------

    def _open(self) -> aiohttp.ClientSession:
        if self.state is ClientState.CLOSED:
            raise RuntimeError("this Client is closed; create a new one")
        loop = asyncio.get_running_loop()
        if self._session is not None:
            if loop is not self._loop:
                raise RuntimeError(
                    "this Client is bound to the event loop that first used it; "
                    "create one Client per event loop"
                )
            return self._session
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive,
            enable_cleanup_closed=sys.version_info < (3, 12, 7),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"Authorization": f"Key {self._pat}", "User-Agent": USER_AGENT},
            skip_auto_headers=("Content-Type",),
            trust_env=self._trust_env,
            auto_decompress=True,
        )
        self._loop = loop
        self._budget = asyncio.Semaphore(self._max_connections)
        self.state = ClientState.OPEN
        return self._session

    async def aclose(self) -> None:
        """Close every pooled connection; the transport cannot be used again."""
        if self.state is ClientState.CLOSED:
            return
        self.state = ClientState.CLOSED
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def connections_in_use(self) -> int:
        """Connections currently held by calls or open streams."""
        if self._budget is None:
            return 0
        return self._max_connections - self._budget._value

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
                total=timeout.stream_total if stream else timeout.total,
                connect=None,
                sock_connect=timeout.connect,
                sock_read=timeout.stream_idle if stream else timeout.read,
            )
            self._timeouts[key] = ct
        return ct

    async def _acquire(self, timeout: Timeout, operation: str) -> asyncio.Semaphore:
        budget = self._budget
        assert budget is not None
        if not budget.locked():
            await budget.acquire()
            return budget
        try:
            if timeout.pool is None:
                await budget.acquire()
            else:
                await asyncio.wait_for(budget.acquire(), timeout.pool)
        except asyncio.TimeoutError:
            raise APITimeoutError(
                f"{operation}: no free connection within {timeout.pool}s "
                f"(all {self._max_connections} in use; raise max_connections?)",
                operation=operation,
                kind="pool",
            ) from None
        return budget

    # -- exchanges ---------------------------------------------------------------

    async def send(
        self, method: str, path_and_query: str, body: bytes | None, timeout: Timeout, operation: str
    ) -> RawResponse:
        """One request, its answer read in full."""
        session = self._open()
        budget = await self._acquire(timeout, operation)
        try:
            async with session.request(
                method,
                self.url(path_and_query),
                data=body,
                headers=_JSON_HEADERS if body is not None else None,
                timeout=self._client_timeout(timeout, False),
                allow_redirects=False,
            ) as resp:
                data = await resp.read()
                return RawResponse(resp.status, resp.headers, data)
        except aiohttp.ClientError as exc:
            raise map_exception(exc, operation) from exc
        except asyncio.TimeoutError as exc:
            raise map_exception(exc, operation) from exc
        finally:
            budget.release()

    async def open_stream(
        self, method: str, path_and_query: str, body: bytes | None, timeout: Timeout, operation: str
    ) -> StreamingResponse:
        """Send a request and return once the answer's headers arrived."""
        session = self._open()
        budget = await self._acquire(timeout, operation)
        try:
            resp = await session.request(
                method,
                self.url(path_and_query),
                data=body,
                headers=_JSON_HEADERS if body is not None else None,
                timeout=self._client_timeout(timeout, True),
                allow_redirects=False,
            )
        except aiohttp.ClientError as exc:
            budget.release()
            raise map_exception(exc, operation) from exc
        except asyncio.TimeoutError as exc:
            budget.release()
            raise map_exception(exc, operation) from exc
        except BaseException:
            budget.release()
            raise
        return StreamingResponse(resp, budget.release)
