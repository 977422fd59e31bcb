"""Fixtures shared by the test modules (servers and helpers live in tests/helpers*.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aioclarifai import Client, RetryConfig
from tests.helpers_loopback import StreamServer


@pytest.fixture
async def server() -> AsyncIterator[StreamServer]:
    """A loopback generate endpoint; each test sets ``server.handler``."""
    srv = StreamServer()
    await srv.start()
    yield srv
    await srv.close()


@pytest.fixture
async def client(server: StreamServer) -> AsyncIterator[Client]:
    """A client of ``server`` with fast retries."""
    retry = RetryConfig(max_retries=2, initial_backoff=0.01, model_not_ready_backoff=0.01)
    async with Client("test-pat", base_url=server.url, app_id="app", retry=retry) as c:
        yield c
