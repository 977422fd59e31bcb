"""Round-trip edge cases the random suites do not pin down one by one."""

from __future__ import annotations

import datetime
import math
from typing import Any

import pytest
from google.protobuf import json_format

from aioclarifai import APIStatusError, Client, types
from aioclarifai.endpoints import ENDPOINTS

from ._cases import methods, minimal_request, ok_answer, to_official
from ._releases import CURRENT, SEED, release
from ._server import PAT, Rig, StrictServer

#: The edge cases run against the seed release (10.9.11), as they always have.
OFFICIAL = release(SEED)
#: The operations whose every path needs an app.
APP_SCOPED = [
    m for m in methods(SEED) if all("{user_app_id.app_id}" in p for p in ENDPOINTS[m].paths)
]

pytestmark = pytest.mark.asyncio(loop_scope="module")

UTC = datetime.timezone.utc


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("2025-02-28T09:41:55.568082659Z", datetime.datetime(2025, 2, 28, 9, 41, 55, 568083, UTC)),
        ("2025-02-28T09:41:55.000000001Z", datetime.datetime(2025, 2, 28, 9, 41, 55, 0, UTC)),
        ("2025-02-28T09:41:55.999999999Z", datetime.datetime(2025, 2, 28, 9, 41, 56, 0, UTC)),
        ("2025-02-28T09:41:55.5Z", datetime.datetime(2025, 2, 28, 9, 41, 55, 500000, UTC)),
        (
            "2025-02-28T11:41:55.123456789+02:00",
            datetime.datetime(2025, 2, 28, 9, 41, 55, 123457, UTC),
        ),
    ],
)
async def test_nanosecond_timestamps_decode(
    server: StrictServer, client: Client, wire: str, expected: datetime.datetime
) -> None:
    """Up to 9 fractional digits decode, rounded to datetime's microseconds."""
    body = f'{{"status": {{"code": 10000}}, "task": {{"id": "t", "created_at": "{wire}"}}}}'
    server.expect("GetTask", lambda _msg: body.encode())
    response = await client.get_task(task_id="t")
    server.take()
    assert response.task is not None
    assert response.task.created_at == expected  # the same instant, an aware datetime
    assert response.task.created_at.utcoffset() is not None


@pytest.mark.parametrize("code", [21354, 21355, 99999])
async def test_unknown_top_level_code_is_an_error_not_a_validation_failure(
    server: StrictServer, client: Client, code: int
) -> None:
    """A status code newer than the schema reaches the error with its number."""
    body = f'{{"status": {{"code": {code}, "description": "new", "req_id": "r1"}}}}'
    server.expect("ListWorkflows", lambda _msg: body.encode())
    with pytest.raises(APIStatusError) as info:
        await client.list_workflows()
    assert info.value.code == code
    assert info.value.req_id == "r1"


async def test_unknown_nested_code_and_enum_names_decode(
    server: StrictServer, client: Client
) -> None:
    """Enums by name and unknown numbers side by side, re-encoded unchanged."""
    body = (
        b'{"status": {"code": "SUCCESS"}, "outputs": ['
        b'{"id": "a", "status": {"code": 21355}},'
        b'{"id": "b", "status": {"code": "CONN_THROTTLED"}},'
        b'{"id": "c", "status": {"code": 99999}, "model": {"visibility": {"gettable": "PUBLIC"}}}]}'
    )
    server.expect("PostModelOutputs", lambda _msg: body)
    response = await client.post_model_outputs(model_id="m")
    server.take()
    codes = [o.status.code for o in response.outputs if o.status is not None]
    assert codes == [21355, 11005, 99999]
    assert response.outputs[2].model is not None
    assert response.outputs[2].model.visibility is not None
    assert response.outputs[2].model.visibility.gettable == 50
    back = to_official(response, OFFICIAL.cls("MultiOutputResponse"))
    assert [o.status.code for o in back.outputs] == [21355, 11005, 99999]


async def test_empty_and_absent_messages_stay_distinct(
    server: StrictServer, client: Client
) -> None:
    """An empty message goes out as ``{}`` and comes back as an empty Struct, not None."""
    body = b'{"status": {"code": 10000}, "outputs": [{"id": "a", "model": {}, "data": {}}]}'
    server.expect("PostModelOutputs", lambda _msg: body)
    request = types.PostModelOutputsRequest(model_id="m", model=types.Model(), inputs=[])
    response = await client.post_model_outputs(request)
    got = server.take().message
    assert got is not None and got.DESCRIPTOR.full_name == "clarifai.api.PostModelOutputsRequest"
    assert got.HasField("model") and got.model == OFFICIAL.cls("Model")()
    assert not got.HasField("runner_selector")
    output = response.outputs[0]
    assert output.model == types.Model() and output.data == types.Data()
    assert output.input is None and output.created_at is None


async def test_value_null_is_not_absent(server: StrictServer, client: Client) -> None:
    """A google.protobuf.Value holding null is present; an absent one is UNSET."""
    specs = '[{"path": "p", "default_value": null}, {"path": "q"}]'
    body = (
        f'{{"status": {{"code": 10000}}, "model": {{"output_info": {{"params_specs": {specs}}}}}}}'
    )
    server.expect("GetModelOutputInfo", lambda _msg: body.encode())
    response = await client.get_model_output_info(model_id="m")
    server.take()
    back = to_official(response, OFFICIAL.cls("SingleModelResponse"))
    specs = back.model.output_info.params_specs
    assert specs[0].HasField("default_value") and specs[0].default_value.WhichOneof("kind")
    assert not specs[1].HasField("default_value")


async def test_missing_user_app_id_gets_client_defaults(
    server: StrictServer, client: Client
) -> None:
    """user_id "me" and the client's app; a partial user_app_id keeps what it has."""
    server.expect("GetUpload", lambda _msg: ok_answer(ENDPOINTS["get_upload"]))
    await client.get_upload(upload_id="u")
    got = server.take().message
    assert got is not None and got.DESCRIPTOR.full_name == "clarifai.api.GetUploadRequest"
    assert (got.user_app_id.user_id, got.user_app_id.app_id) == ("me", "default-app")

    server.expect("GetUpload", lambda _msg: ok_answer(ENDPOINTS["get_upload"]))
    await client.get_upload(upload_id="u", user_app_id=types.UserAppIDSet(user_id="someone"))
    got = server.take().message
    assert got is not None and got.DESCRIPTOR.full_name == "clarifai.api.GetUploadRequest"
    assert (got.user_app_id.user_id, got.user_app_id.app_id) == ("someone", "default-app")


@pytest.mark.parametrize("method", APP_SCOPED)
async def test_missing_app_id_fails_before_any_io(server: StrictServer, method: str) -> None:
    """No app anywhere: ValueError naming user_app_id.app_id, and nothing is sent."""
    server.expect(ENDPOINTS[method].name, lambda _msg: b"{}")
    async with Client(PAT, base_url=server.url, app_id="", max_retries=0) as bare:
        with pytest.raises(ValueError, match=r"user_app_id\.app_id"):
            result = getattr(bare, method)(minimal_request(ENDPOINTS[method]))
            if ENDPOINTS[method].streaming:
                async with result:
                    pass
            else:
                await result
    assert server.received == []


async def test_empty_path_field_fails_before_any_io(server: StrictServer, client: Client) -> None:
    """An empty id in the path is a ValueError naming it, not a request to the list URL."""
    server.expect("GetModule", lambda _msg: b"{}")
    with pytest.raises(ValueError, match="module_id"):
        await client.get_module(module_id="")
    assert server.received == []


async def test_int64_beyond_double_precision_in_both_directions(
    server: StrictServer, client: Client
) -> None:
    """64-bit values above 2**53 are exact as JSON numbers out and as strings in."""
    big = 2**63 - 1
    body = json_format.MessageToJson(
        OFFICIAL.cls("SingleUploadResponse")(
            status={"code": 10000}, upload={"id": "u", "content_length": 2**64 - 1}
        ),
        preserving_proto_field_name=True,
    )
    assert f'"{2**64 - 1}"' in body  # the official encoder writes a string
    server.expect("PutUploadContentParts", lambda _msg: body.encode())
    part = types.UploadContentPart(range_start=big, part_number=2**53 + 1, data=b"\x00\xff")
    response = await client.put_upload_content_parts(upload_id="u", content_parts=[part])
    got = server.take().message
    assert (
        got is not None and got.DESCRIPTOR.full_name == "clarifai.api.PutUploadContentPartsRequest"
    )
    assert got.content_parts[0].range_start == big
    assert got.content_parts[0].part_number == 2**53 + 1
    assert got.content_parts[0].data == b"\x00\xff"
    assert response.upload is not None and response.upload.content_length == 2**64 - 1


async def test_non_finite_floats_decode(server: StrictServer, client: Client) -> None:
    """The official JSON writes NaN and infinities as strings; they decode to floats."""
    sent = OFFICIAL.cls("MultiOutputResponse")(status={"code": 10000})
    concepts = sent.outputs.add().data.concepts
    for value in (math.nan, math.inf, -math.inf):
        concepts.add(id="c", value=value)
    body = json_format.MessageToJson(sent, preserving_proto_field_name=True)
    assert '"NaN"' in body and '"Infinity"' in body and '"-Infinity"' in body
    server.expect("PostModelOutputs", lambda _msg: body.encode())
    response = await client.post_model_outputs(model_id="m")
    server.take()
    assert response.outputs[0].data is not None
    nan, inf, neg = (c.value for c in response.outputs[0].data.concepts)
    assert math.isnan(nan) and inf == math.inf and neg == -math.inf


async def test_modern_model_outputs_round_trip(rigs: dict[str, Rig]) -> None:
    """Data.string_value / int_value / bytes_value / parts, as current models answer.

    Against 12.6.0: ``{"data": {"string_value": "Hello"}}`` is no longer an empty
    ``Data()``, and the same fields go out in a request unchanged.
    """
    rig, rel = rigs[CURRENT], release(CURRENT)
    body = (
        b'{"status": {"code": 10000}, "outputs": [{"id": "o", "data": {'
        b'"string_value": "Hello", "int_value": "9007199254740993", "bytes_value": "AP8=",'
        b' "parts": [{"id": "p", "data": {"string_value": "part", "float_value": 0.5}}]}}]}'
    )
    rig.server.expect("PostModelOutputs", lambda _msg: body)
    response = await rig.client.post_model_outputs(model_id="m")
    rig.server.take()
    data = response.outputs[0].data
    assert data is not None
    assert (data.string_value, data.int_value, data.bytes_value) == (
        "Hello",
        2**53 + 1,
        b"\x00\xff",
    )
    assert data.parts[0].data is not None and data.parts[0].data.string_value == "part"
    want = json_format.Parse(body, rel.cls("MultiOutputResponse")())
    assert to_official(response, rel.cls("MultiOutputResponse")) == want

    request = types.PostModelOutputsRequest(
        model_id="m",
        inputs=[
            types.Input(data=types.Data(string_value="Hi", int_value=-(2**63), bytes_value=b"\x01"))
        ],
    )
    rig.server.expect("PostModelOutputs", lambda _msg: ok_answer(ENDPOINTS["post_model_outputs"]))
    await rig.client.post_model_outputs(request)
    got = rig.server.take().message
    assert got is not None
    sent = got.inputs[0].data
    assert (sent.string_value, sent.int_value, sent.bytes_value) == ("Hi", -(2**63), b"\x01")


async def test_paginate_a_current_list_operation(rigs: dict[str, Rig]) -> None:
    """paginate() walks ListModels (12.6.0) page by page, strictly parsed each time."""
    rig = rigs[CURRENT]
    pages: list[tuple[int, int]] = []

    def answer(msg: Any) -> bytes:
        pages.append((msg.page, msg.per_page))
        count = 2 if msg.page == 1 else 1  # a short page ends the walk
        models = ",".join(f'{{"id": "m{msg.page}-{i}"}}' for i in range(count))
        return f'{{"status": {{"code": 10000}}, "models": [{models}]}}'.encode()

    rig.server.expect("ListModels", answer)
    seen = [
        m.id async for m in rig.client.paginate(rig.client.list_models, per_page=2, prefetch=False)
    ]
    assert seen == ["m1-0", "m1-1", "m2-0"]
    assert pages == [(1, 2), (2, 2)]
    assert all(r.error is None for r in rig.server.received)
