"""A loopback aiohttp.web server that records every request and answers Clarifai-style.

No tests live here. Used by the credential, network-option, raw-access and
tracing tests: they need to see exactly which headers, query and body
arrived, over HTTP or HTTPS.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@dataclass
class Recorder:
    """What the server received, and what it answers next."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    #: (HTTP status, JSON body, extra headers) answers, used in order; then the default.
    script: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)

    @property
    def last(self) -> Received:
        """The most recent request."""
        return self.received[-1]


def ok_body(req_id: str = "req-1", **fields: Any) -> dict[str, Any]:
    """A successful Clarifai answer."""
    return {"status": {"code": 10000, "description": "Ok", "req_id": req_id}, **fields}


@asynccontextmanager
async def recording_server(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[Recorder]:
    """Serve on 127.0.0.1 (HTTPS when ``ssl_context`` is given) until the block ends."""
    recorder = Recorder()

    async def handle(request: web.Request) -> web.Response:
        n = len(recorder.received)
        recorder.received.append(
            Received(
                request.method,
                request.path,
                list(request.query.items()),
                dict(request.headers),
                await request.read(),
            )
        )
        if recorder.script:
            status, body, headers = recorder.script.pop(0)
        else:
            status, body, headers = 200, ok_body(f"req-{n + 1}", workflows=[]), {}
        return web.json_response(
            body, status=status, headers={"X-Served-By": "recorder", **headers}
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    recorder.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    try:
        yield recorder
    finally:
        await runner.cleanup()
