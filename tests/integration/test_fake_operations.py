"""Every operation the engine serves, through the real Client against FakeClarifai.

Operations with a hand-written handler have behaviour tests of their own
(``test_fake_coverage`` checks that each is called by some test_fake_* file);
here each operation the CRUD engine serves is driven through its verb, and
each remaining one is answered with success and its response type.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

from aioclarifai import APIStatusError, Client, NotFoundError, types
from aioclarifai.endpoints import ENDPOINTS
from aioclarifai.testing import FakeClarifai
from aioclarifai.testing._state import FakeState
from aioclarifai.testing._state.crud import CrudPlan, plan_table

_PLANS = plan_table(ENDPOINTS.values())
# Hand-written handlers, and predictions, which the server answers from raw bytes.
_OWN = {ep.name for ep in ENDPOINTS.values() if hasattr(FakeState, ep.name)} | {
    "PostModelOutputs",
    "GenerateModelOutputs",
}
ENGINE = sorted(n for n, ep in ENDPOINTS.items() if ep.name not in _OWN)
"""Method names of the operations the engine serves (CRUD, or the default answer)."""


_SHADOWED = {"patch_runners": "PostRunners"}
"""Operations whose REST binding is another's (clarifai-grpc 12.6.0 binds PatchRunners to
``POST …/runners``, as PostRunners)."""


def _path_kwargs(name: str) -> dict[str, Any]:
    """A value for every path field of the operation's first template (app fields aside)."""
    out: dict[str, Any] = {}
    for f in ENDPOINTS[name].templates[0].fields:
        if f[0] == "user_app_id":
            continue
        if len(f) == 1:
            out[f[0]] = f"p-{f[0]}"
        else:  # {cloud_provider.id}
            out[f[0]] = types.CloudProvider(id=f"p-{f[0]}")
    return out


def _store(fake: FakeClarifai, plan: CrudPlan, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The collection the last request addressed (its app read off the request path)."""
    path = fake.requests[-1].path
    m = re.search(r"/users/([^/]+)/apps/([^/]+)", path)
    app = fake.app_state(m.group(2) if m else "")
    scope = tuple((f, kwargs.get(f, "")) for f in plan.parents)
    return app.collection(plan.collection, scope)


async def _call(client: Client, name: str, **kwargs: Any) -> Any:
    method = getattr(client, name)
    if not ENDPOINTS[name].streaming:
        return await method(**kwargs)
    async with method(**kwargs) as stream:
        return [message async for message in stream]


@pytest.mark.parametrize("name", ENGINE)
async def test_operation_is_served(
    name: str, clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    ep = ENDPOINTS[name]
    plan = _PLANS[ep.name]
    kwargs = _path_kwargs(name)
    if plan is None:
        answer = await _call(clarifai_client, name, **kwargs)
        messages = answer if ep.streaming else [answer]
        assert messages and all(isinstance(m, ep.response_type) for m in messages)
        assert all(m.status.code == types.StatusCode.SUCCESS for m in messages)
        return
    item: Any = plan.item_type(id="it-1")
    if name in _SHADOWED:
        # Same method and path as another operation: over REST the request *is* that one.
        await _call(clarifai_client, name, **kwargs, **{plan.request_items or "": [item]})
        assert fake_clarifai.requests[-1].operation == _SHADOWED[name]
        return
    if plan.verb == "create":
        answer = await _call(clarifai_client, name, **kwargs, **{plan.request_items or "": [item]})
        store = _store(fake_clarifai, plan, kwargs)
        assert list(store) == ["it-1"]
        if plan.response_items:
            assert [x.id for x in getattr(answer, plan.response_items)] == ["it-1"]
        with pytest.raises(APIStatusError) as dup:
            await _call(clarifai_client, name, **kwargs, **{plan.request_items or "": [item]})
        assert (dup.value.code, dup.value.http_status) == (plan.duplicate_code, 400)
        return
    # Find the collection (the first call tells which app), then seed it directly.
    if plan.verb == "list":
        first = await _call(clarifai_client, name, **kwargs)
        assert getattr(first, plan.response_items or "") == []
        _store(fake_clarifai, plan, kwargs)["it-1"] = item
        again = await _call(clarifai_client, name, **kwargs)
        assert [x.id for x in getattr(again, plan.response_items or "")] == ["it-1"]
        return
    ident: dict[str, Any] = {plan.id_field: "it-1"} if plan.id_field else {}
    if plan.verb == "patch":
        ident = {plan.request_items or "": [item]}
    if plan.verb == "delete" and plan.ids_field:
        ident = {plan.ids_field: ["it-1"]}
    with pytest.raises(NotFoundError) as missing:
        await _call(clarifai_client, name, **{**kwargs, **ident})
    assert missing.value.code == plan.missing_code
    _store(fake_clarifai, plan, kwargs)["it-1"] = item
    answer = await _call(clarifai_client, name, **{**kwargs, **ident})
    if plan.verb == "get":
        assert getattr(answer, plan.response_items or "").id == "it-1"
    elif plan.verb == "patch":
        assert [x.id for x in getattr(answer, plan.response_items or "")] == ["it-1"]
    else:
        assert "it-1" not in _store(fake_clarifai, plan, kwargs)


def _url(fake: FakeClarifai, name: str) -> str:
    template = ENDPOINTS[name].templates[0]
    values: dict[tuple[str, ...], str] = {
        ("user_app_id", "user_id"): "me",
        ("user_app_id", "app_id"): "app",
    }
    path = template.literals[0]
    for f, literal in zip(template.fields, template.literals[1:], strict=True):
        path += values.get(f, "x") + literal
    return fake.url + path


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
async def test_unknown_fields_are_refused(name: str, fake_clarifai: FakeClarifai) -> None:
    """Strict everywhere: an unknown field is 400 / 11100 before any handler runs."""
    ep = ENDPOINTS[name]
    headers = {"Authorization": f"Key {fake_clarifai.pat}"}
    async with aiohttp.ClientSession() as session:
        if ep.body:
            sent = session.request(
                ep.http_method, _url(fake_clarifai, name), json={"bogus": 1}, headers=headers
            )
        else:
            sent = session.request(
                ep.http_method, _url(fake_clarifai, name) + "?bogus=1", headers=headers
            )
        async with sent as resp:
            assert resp.status == 400
            answer = await resp.json()
    assert answer["status"]["code"] == types.StatusCode.CONN_BAD_REQUEST_FORMAT
    assert "bogus" in answer["status"]["details"]
