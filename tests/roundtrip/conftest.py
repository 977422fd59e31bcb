"""One strict server and one client per test module (module-scoped event loop)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from aioclarifai import Client

from ._server import PAT, StrictServer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[StrictServer]:
    """The module's strict server."""
    srv = StrictServer()
    await srv.start()
    yield srv
    await srv.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(server: StrictServer) -> AsyncIterator[Client]:
    """A client of the module's server: no retries, default app ``default-app``."""
    async with Client(PAT, base_url=server.url, app_id="default-app", max_retries=0) as c:
        yield c
