"""``with_options``: not given keeps, ``None`` means unlimited, the subclass stays; error names."""

from __future__ import annotations

import asyncio
import pickle
import traceback

import pytest

import aioclarifai
from aioclarifai import APITimeoutError, Client, NotFoundError, Timeout, UploadError
from aioclarifai.testing import MockRequest, MockResponse, MockTransport
from tests.helpers import PAT


async def slow(request: MockRequest) -> MockResponse:
    await asyncio.sleep(0.2)
    return MockResponse(200, json={"status": {"code": 10000}})


def quick_client() -> Client:
    return Client(PAT, app_id="app", timeout=0.05, max_retries=0, transport=MockTransport(slow))


async def test_timeout_none_in_with_options_means_no_limit() -> None:
    async with quick_client() as client:
        with pytest.raises(APITimeoutError):
            await client.list_workflows()
        resp = await client.with_options(timeout=None).list_workflows()  # unlimited, not "keep"
    assert resp.status is not None and resp.status.code == 10000


async def test_options_not_given_keep_the_clients() -> None:
    async with quick_client() as client:
        view = client.with_options(max_retries=0)
        with pytest.raises(APITimeoutError):  # still the client's 0.05 s
            await view.list_workflows()
        assert client.with_options().with_options(timeout=Timeout(total=9))._core.timeout.total == 9


async def test_with_options_keeps_the_subclass_and_its_attributes() -> None:
    class Mine(Client):
        __slots__ = ("tenant",)

        def __init__(self, tenant: str) -> None:
            super().__init__(PAT, app_id="app", transport=MockTransport(slow))
            self.tenant = tenant

    async with Mine("acme") as client:
        view = client.with_options(timeout=1)
        assert type(view) is Mine and view.tenant == "acme"
        assert view.with_options(max_retries=1).tenant == "acme"


def test_errors_are_named_as_imported() -> None:
    error = NotFoundError(code=21200, http_status=404, operation="GetModel")
    assert repr(error).startswith("aioclarifai.NotFoundError('GetModel: 21200")
    line = traceback.format_exception_only(error)[0]
    assert line.startswith("aioclarifai.NotFoundError: GetModel: 21200")
    upload = UploadError("upload u1 ended", upload_id="u1", state=68002)
    assert repr(upload) == "aioclarifai.UploadError('upload u1 ended')"
    for name in aioclarifai.__all__:
        obj = getattr(aioclarifai, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert obj.__module__ == "aioclarifai", name
    # Still importable under that name (pickling looks the class up there).
    assert (
        type(pickle.loads(pickle.dumps(aioclarifai.ClarifaiError("x"))))
        is aioclarifai.ClarifaiError
    )
