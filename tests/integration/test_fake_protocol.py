"""FakeClarifai's wire behaviour, checked with raw HTTP: strictness, auth, JSON mapping, routing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest
import pytest_asyncio

from aioclarifai import AuthenticationError, Client, types
from aioclarifai.testing import FakeClarifai

BASE = "/v2/users/me/apps/test-app"


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    fake: FakeClarifai,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    key: str | None = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Key {fake.pat if key is None else key}"}
    async with http.request(method, f"{fake.url}{path}", data=body, headers=headers) as resp:
        return resp.status, msgspec.json.decode(await resp.read())


async def test_unknown_body_field_is_bad_request(
    http: aiohttp.ClientSession, fake_clarifai: FakeClarifai
) -> None:
    body = b'{"inputs":[{"data":{"image":{"url":"u","colour":"red"}}}]}'
    status, answer = await call(http, fake_clarifai, "POST", f"{BASE}/models/m/outputs", body)
    assert status == 400
    assert answer["status"]["code"] == 11100
    assert "colour" in answer["status"]["details"] and answer["status"]["req_id"]


async def test_unknown_query_field_is_bad_request(
    http: aiohttp.ClientSession, fake_clarifai: FakeClarifai
) -> None:
    status, answer = await call(http, fake_clarifai, "GET", f"{BASE}/workflows?per_pag=3")
    assert (status, answer["status"]["code"]) == (400, 11100)
    status, answer = await call(http, fake_clarifai, "GET", f"{BASE}/workflows?per_page=x")
    assert (status, answer["status"]["code"]) == (400, 11100)


async def test_wrong_type_and_bad_json_are_bad_requests(
    http: aiohttp.ClientSession, fake_clarifai: FakeClarifai
) -> None:
    for body in (b'{"workflows": {"id": 1}}', b"{not json"):
        status, answer = await call(http, fake_clarifai, "POST", f"{BASE}/workflows", body)
        assert (status, answer["status"]["code"]) == (400, 11100)


async def test_enum_names_and_64bit_strings_are_read(
    http: aiohttp.ClientSession, fake_clarifai: FakeClarifai
) -> None:
    body = b'{"uploads":[{"content_length":"3"}]}'
    status, answer = await call(http, fake_clarifai, "POST", f"{BASE}/uploads", body)
    assert status == 200
    assert answer["uploads"][0]["content_length"] == "3"  # 64-bit integers as strings
    assert answer["uploads"][0]["status"]["code"] == 68000  # enums as numbers

    body = b'{"stat_value_aggregate_queries":[{"stat_value_agg_type":"AVG"}]}'
    status, answer = await call(http, fake_clarifai, "POST", f"{BASE}/stats/values/aggregate", body)
    assert status == 200
    query = answer["stat_value_aggregate_results"][0]["stat_value_aggregate_query"]
    assert query["stat_value_agg_type"] == 1  # the name AVG, answered as its number


async def test_json_mapping_of_answers(
    http: aiohttp.ClientSession, fake_clarifai: FakeClarifai
) -> None:
    status, answer = await call(http, fake_clarifai, "GET", f"{BASE}/workflows")
    assert status == 200
    rid = answer["status"]["req_id"]
    assert answer == {
        "status": {"code": 10000, "description": "Ok", "req_id": rid},
        "workflows": [],
    }
    status, answer = await call(http, fake_clarifai, "GET", f"{BASE}/resource_counts")
    assert "workflows" not in answer  # zero values are omitted
    await call(http, fake_clarifai, "POST", f"{BASE}/workflows", b'{"workflows":[{"id":"w"}]}')
    status, answer = await call(http, fake_clarifai, "GET", f"{BASE}/resource_counts")
    assert answer["workflows"] == "1"
    for _ in range(2):
        await call(http, fake_clarifai, "POST", f"{BASE}/trending_metrics/views/models/m1", b"{}")
    status, answer = await call(http, fake_clarifai, "GET", f"{BASE}/trending_metrics/views/models")
    assert answer["metrics"][0]["view_count"] == "2"


async def test_auth(http: aiohttp.ClientSession, fake_clarifai: FakeClarifai) -> None:
    status, answer = await call(http, fake_clarifai, "GET", f"{BASE}/workflows", key="wrong")
    assert (status, answer["status"]["code"]) == (401, 11008)
    async with http.get(f"{fake_clarifai.url}{BASE}/workflows") as resp:
        assert resp.status == 401
    async with Client(base_url=fake_clarifai.url, pat="nope", app_id="a") as client:
        with pytest.raises(AuthenticationError) as info:
            await client.list_workflows()
    assert info.value.code == 11008
    assert "nope" not in repr(fake_clarifai.requests[-1])


async def test_unknown_route(http: aiohttp.ClientSession, fake_clarifai: FakeClarifai) -> None:
    status, answer = await call(http, fake_clarifai, "GET", f"{BASE}/no-such-thing")
    assert (status, answer["status"]["code"]) == (404, 11101)


async def test_percent_encoded_ids(clarifai_client: Client, fake_clarifai: FakeClarifai) -> None:
    odd = ["a/b", "..", "x?y#z", "50% off", "ünï"]
    await clarifai_client.post_modules(modules=[types.Module(id=i) for i in odd])
    for module_id in odd:
        got = await clarifai_client.get_module(module_id=module_id)
        assert got.module is not None and got.module.id == module_id
    assert "/modules/a%2Fb" in fake_clarifai.requests_for("get_module")[0].path


async def test_request_log(clarifai_client: Client, fake_clarifai: FakeClarifai) -> None:
    await clarifai_client.list_workflows(page=2, per_page=5)
    await clarifai_client.post_workflows(workflows=[types.Workflow(id="w")])
    listed, posted = fake_clarifai.requests
    assert (listed.operation, listed.method) == ("ListWorkflows", "GET")
    assert listed.path == f"{BASE}/workflows" and "per_page=5" in listed.query
    assert listed.body in (b"", None) or listed.body_size == 0
    assert posted.json() == {"workflows": [{"id": "w"}]}
    assert "Authorization" not in posted.headers and "authorization" not in posted.headers
    assert posted.headers["Content-Type"].startswith("application/json")
    assert [r.operation for r in fake_clarifai.requests_for("post_workflows")] == ["PostWorkflows"]
    assert fake_clarifai.request_count == 2


async def test_log_limits() -> None:
    async with FakeClarifai(log_limit=2, log_body_limit=10) as fake, Client(
        base_url=fake.url, pat=fake.pat, app_id="a"
    ) as client:  # fmt: skip
        for i in range(3):
            await client.post_workflows(workflows=[types.Workflow(id=f"w{i}")])
        assert len(fake.requests) == 2 and fake.request_count == 3
        assert fake.requests[-1].body is None and fake.requests[-1].body_size > 10


async def test_requests_per_second(clarifai_client: Client, fake_clarifai: FakeClarifai) -> None:
    for _ in range(3):
        await clarifai_client.list_workflows()
    fake_clarifai._per_second = {k - 5: v for k, v in fake_clarifai._per_second.items()}
    rates = fake_clarifai.requests_per_second()
    assert sum(rates) == 3 and len(rates) >= 5


async def test_body_size_limit() -> None:
    from aioclarifai import BadRequestError

    async with FakeClarifai(max_body_size=1000) as fake, Client(
        base_url=fake.url, pat=fake.pat, app_id="a", max_retries=0
    ) as client:  # fmt: skip
        small = await client.post_uploads(uploads=[types.Upload(content_length=5000)])
        upload_id = small.uploads[0].id
        with pytest.raises(BadRequestError) as info:
            await client.put_upload_content_parts(
                upload_id=upload_id,
                content_parts=[types.UploadContentPart(part_number=1, data=b"x" * 2000)],
            )
        assert (info.value.http_status, info.value.code) == (413, 11102)
        assert fake.requests[-1].body is None and fake.requests[-1].body_size > 2000
