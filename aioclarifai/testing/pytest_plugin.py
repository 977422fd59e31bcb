"""Pytest plugin (registered through the ``pytest11`` entry point): FakeClarifai fixtures.

``fake_clarifai`` is a running :class:`~aioclarifai.testing.FakeClarifai`;
``clarifai_client`` is a :class:`~aioclarifai.Client` pointed at it (app
``"test-app"``). Both are async fixtures run by pytest-asyncio. Nothing is
imported until a test asks for a fixture, so loading the plugin costs nothing,
and a project without pytest-asyncio only fails when it uses these fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

if TYPE_CHECKING:
    from aioclarifai import Client
    from aioclarifai.testing import FakeClarifai

__all__ = ["TEST_APP_ID", "clarifai_client", "fake_clarifai"]

TEST_APP_ID = "test-app"
"""The app id ``clarifai_client`` uses by default."""

F = TypeVar("F", bound=Callable[..., Any])


def _async_fixture(func: F) -> F:
    fixture: Any
    try:
        from pytest_asyncio import fixture
    except ImportError:  # pragma: no cover - without pytest-asyncio
        fixture = pytest.fixture
    return cast(F, fixture(func))


@_async_fixture
async def fake_clarifai() -> AsyncIterator[FakeClarifai]:
    """A running FakeClarifai on a free loopback port, closed after the test."""
    from aioclarifai.testing import FakeClarifai

    async with FakeClarifai() as fake:
        yield fake


@_async_fixture
async def clarifai_client(fake_clarifai: FakeClarifai) -> AsyncIterator[Client]:
    """A Client for ``fake_clarifai`` (app ``"test-app"``), closed after the test."""
    from aioclarifai import Client

    async with Client(
        base_url=fake_clarifai.url, pat=fake_clarifai.pat, app_id=TEST_APP_ID
    ) as client:
        yield client
