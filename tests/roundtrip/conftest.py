"""One strict server and one client per release and test module (module-scoped event loop)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from aioclarifai import Client

from ._releases import RELEASES, SEED, release
from ._server import PAT, Rig, StrictServer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rigs() -> AsyncIterator[dict[str, Rig]]:
    """Per release: its strict server, and a client with no retries and app ``default-app``."""
    out: dict[str, Rig] = {}
    try:
        for version in RELEASES:
            srv = StrictServer(release(version))
            await srv.start()
            client = Client(PAT, base_url=srv.url, app_id="default-app", max_retries=0)
            out[version] = Rig(srv, client)
        yield out
    finally:
        for rig in out.values():
            await rig.client.aclose()
            await rig.server.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(rigs: dict[str, Rig]) -> StrictServer:
    """The strict server of the seed release (10.9.11), for the edge cases."""
    return rigs[SEED].server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(rigs: dict[str, Rig]) -> Client:
    """The client of :func:`server`."""
    return rigs[SEED].client
