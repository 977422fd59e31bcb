"""How a request Struct becomes a path, a query string and a JSON body (no sockets)."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import unquote

import msgspec
import pytest

from aioclarifai import Client, types
from aioclarifai._requests import build_request, encode_query, quote_segment
from aioclarifai._transport import ClientState
from aioclarifai.endpoints import ENDPOINTS

APP = types.UserAppIDSet(user_id="me", app_id="app")
PREFIX = "/v2/users/me/apps/app"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (".", "%2E"),
        ("..", "%2E%2E"),
        ("/", "%2F"),
        ("?", "%3F"),
        ("#", "%23"),
        ("%", "%25"),
        ("%2F", "%252F"),
        (" ", "%20"),
        ("+", "%2B"),
        ("ü", "%C3%BC"),
        ("日本", "%E6%97%A5%E6%9C%AC"),
        ("plain-id_1~", "plain-id_1~"),
    ],
)
def test_quote_segment(value: str, encoded: str) -> None:
    assert quote_segment(value) == encoded
    assert unquote(encoded) == value  # one decoding gives the value back


def test_path_values_are_whole_encoded_segments() -> None:
    req = types.GetModuleRequest(user_app_id=APP, module_id="a/b?c#d %.")
    built = build_request(ENDPOINTS["get_module"], req)
    assert built.path_and_query == f"{PREFIX}/modules/a%2Fb%3Fc%23d%20%25%2E"
    assert built.method == "GET" and built.body is None


def test_dot_segments_are_not_left_for_normalisation() -> None:
    req = types.GetSearchRequest(user_app_id=types.UserAppIDSet(user_id="..", app_id="."), id="..")
    built = build_request(ENDPOINTS["get_search"], req)
    assert built.path_and_query == "/v2/users/%2E%2E/apps/%2E/searches/%2E%2E"


def test_versioned_path_when_version_set_else_shorter_one() -> None:
    endpoint = ENDPOINTS["post_model_outputs"]
    with_version = build_request(
        endpoint, types.PostModelOutputsRequest(user_app_id=APP, model_id="m", version_id="v")
    )
    without = build_request(endpoint, types.PostModelOutputsRequest(user_app_id=APP, model_id="m"))
    assert with_version.path_and_query == f"{PREFIX}/models/m/versions/v/outputs"
    assert without.path_and_query == f"{PREFIX}/models/m/outputs"


def test_path_fields_leave_the_body() -> None:
    req = types.PostModelOutputsRequest(
        user_app_id=APP,
        model_id="m",
        version_id="v",
        inputs=[types.Input(id="i", data=types.Data(text=types.Text(raw="hi")))],
    )
    built = build_request(ENDPOINTS["post_model_outputs"], req)
    assert built.body is not None
    assert msgspec.json.decode(built.body) == {
        "inputs": [{"id": "i", "data": {"text": {"raw": "hi"}}}]
    }


def test_body_scalars_keep_their_wire_forms() -> None:
    big = 2**63 - 1
    part = types.UploadContentPart(range_start=big, part_number=2**53 + 1, data=b"\x00\xff")
    req = types.PutUploadContentPartsRequest(user_app_id=APP, upload_id="u", content_parts=[part])
    built = build_request(ENDPOINTS["put_upload_content_parts"], req)
    assert built.body == (
        b'{"content_parts":[{"range_start":9223372036854775807,'
        b'"part_number":9007199254740993,"data":"AP8="}]}'
    )
    when = datetime.datetime(2025, 2, 28, 9, 41, 55, 568083, tzinfo=datetime.timezone.utc)
    search = types.PostSearchesRequest(
        user_app_id=APP,
        searches=[types.Search(id="s", created_at=when, query=types.Query())],
    )
    body = build_request(ENDPOINTS["post_searches"], search).body
    assert body is not None
    assert msgspec.json.decode(body) == {
        "searches": [{"id": "s", "created_at": "2025-02-28T09:41:55.568083Z", "query": {}}]
    }


def test_query_flattening() -> None:
    req = types.ListModulesRequest(
        user_app_id=APP,
        page=2,
        per_page=1000,
        additional_fields=["stars", "a&b=c d"],
        sort_ascending=True,
        sort_by_created_at=False,  # a oneof member: false is still sent
        search="100% +sure?",
    )
    built = build_request(ENDPOINTS["list_modules"], req)
    path, _, query = built.path_and_query.partition("?")
    assert path == f"{PREFIX}/modules"
    assert query.split("&") == [
        "page=2",
        "per_page=1000",
        "additional_fields=stars",
        "additional_fields=a%26b%3Dc%20d",
        "sort_ascending=true",
        "sort_by_created_at=false",
        "search=100%25%20%2Bsure%3F",
    ]


def test_query_nested_fields_are_dotted() -> None:
    req = types.GetModelVersionMetricsRequest(
        user_app_id=APP,
        model_id="m",
        version_id="v",
        fields=types.FieldsValue(confusion_matrix=True, label_counts=True),
    )
    built = build_request(ENDPOINTS["get_model_version_metrics"], req)
    assert built.path_and_query == (
        f"{PREFIX}/models/m/versions/v/metrics?fields.confusion_matrix=true&fields.label_counts=true"
    )


def test_query_without_fields_has_no_question_mark() -> None:
    built = build_request(ENDPOINTS["my_scopes"], types.MyScopesRequest(user_app_id=APP))
    assert built.path_and_query == f"{PREFIX}/myscopes"


def test_query_cannot_carry_lists_of_messages() -> None:
    with pytest.raises(ValueError, match=r"ListThings: field 'items' holds messages"):
        encode_query({"items": [{"id": "a"}]}, "ListThings")
    assert encode_query({"ids": ["a", "b"], "nested": {"flag": False}}) == (
        "ids=a&ids=b&nested.flag=false"
    )


def test_missing_app_id_names_the_field() -> None:
    req = types.ListWorkflowsRequest(user_app_id=types.UserAppIDSet(user_id="me"))
    with pytest.raises(ValueError, match=r"ListWorkflows: user_app_id\.app_id must be set"):
        build_request(ENDPOINTS["list_workflows"], req)


def test_empty_path_field_names_the_field() -> None:
    with pytest.raises(ValueError, match="GetTask: task_id must be set"):
        build_request(ENDPOINTS["get_task"], types.GetTaskRequest(user_app_id=APP))


def test_wrong_request_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="GetTask takes a GetTaskRequest, not ListTasksRequest"):
        build_request(ENDPOINTS["get_task"], types.ListTasksRequest(user_app_id=APP))


async def test_value_errors_come_before_any_io() -> None:
    client = Client("pat", base_url="http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(ValueError, match=r"user_app_id\.app_id"):
        await client.list_workflows()
    with pytest.raises(ValueError, match="module_id"):
        await client.get_module(module_id="", user_app_id=APP)
    assert client.state is ClientState.UNOPENED  # no session was even created
    await client.aclose()


def test_user_app_id_defaults() -> None:
    endpoint = ENDPOINTS["list_tasks"]
    unset = build_request(endpoint, types.ListTasksRequest(), "me", "app")
    assert unset.path_and_query == "/v2/users/me/apps/app/tasks"
    partial = types.ListTasksRequest(user_app_id=types.UserAppIDSet(app_id="other"))
    built = build_request(endpoint, partial, "me", "app")
    assert built.path_and_query == "/v2/users/me/apps/other/tasks"
    full = types.ListTasksRequest(user_app_id=types.UserAppIDSet(user_id="u", app_id="a"))
    assert build_request(endpoint, full, "me", "app").path_and_query == "/v2/users/u/apps/a/tasks"
    assert partial.user_app_id == types.UserAppIDSet(app_id="other")  # the input is untouched


def test_user_scoped_path_keeps_the_rest_of_user_app_id() -> None:
    # ListApps is bound to /v2/users/{user_app_id.user_id}/apps only: no app needed,
    # and an app_id given anyway still reaches the server, in the query string.
    assert build_request(
        ENDPOINTS["list_apps"], types.ListAppsRequest(), "me", ""
    ).path_and_query == ("/v2/users/me/apps")
    both = types.ListAppsRequest(user_app_id=types.UserAppIDSet(user_id="u", app_id="x"))
    built = build_request(ENDPOINTS["list_apps"], both, "me", "app")
    assert built.path_and_query == "/v2/users/u/apps?user_app_id.app_id=x"


def test_root_path_with_a_nested_path_field() -> None:
    req = types.ListCloudRegionsRequest(cloud_provider=types.CloudProvider(id="a/b", name="A"))
    built = build_request(ENDPOINTS["list_cloud_regions"], req)
    assert built.path_and_query == "/v2/cloud_providers/a%2Fb/regions?cloud_provider.name=A"
    only_id = types.ListCloudRegionsRequest(cloud_provider=types.CloudProvider(id="aws"))
    assert build_request(ENDPOINTS["list_cloud_regions"], only_id).path_and_query == (
        "/v2/cloud_providers/aws/regions"
    )


def test_paths_are_remembered_per_values_and_the_memo_stays_bounded() -> None:
    from aioclarifai import _requests

    endpoint = ENDPOINTS["get_model"]
    for i in range(3 * _requests._MAX_PATHS):
        built = build_request(endpoint, types.GetModelRequest(model_id=f"m/{i}"), "me", "app")
        assert built.path_and_query == f"{PREFIX}/models/m%2F{i}"
    plans = _requests._route(endpoint).plans
    assert all(len(plan.paths) <= _requests._MAX_PATHS for plan in plans)
    # The same values give the very same string (remembered, not rebuilt).
    first = build_request(endpoint, types.GetModelRequest(model_id="same"), "me", "app")
    again = build_request(endpoint, types.GetModelRequest(model_id="same"), "me", "app")
    assert first.path_and_query is again.path_and_query


def test_remembered_paths_follow_the_client_defaults() -> None:
    endpoint = ENDPOINTS["get_model"]
    req = types.GetModelRequest(model_id="m")
    assert (
        build_request(endpoint, req, "me", "a1").path_and_query == "/v2/users/me/apps/a1/models/m"
    )
    assert (
        build_request(endpoint, req, "me", "a2").path_and_query == "/v2/users/me/apps/a2/models/m"
    )
    assert build_request(endpoint, req, "u", "a1").path_and_query == "/v2/users/u/apps/a1/models/m"
    scoped = types.GetModelRequest(model_id="m", user_app_id=types.UserAppIDSet(app_id="x"))
    assert build_request(endpoint, scoped, "me", "a1").path_and_query == (
        "/v2/users/me/apps/x/models/m"
    )
    with pytest.raises(ValueError, match="app_id"):
        build_request(endpoint, req, "me", "")


def _reference_route(endpoint: Any, request: Any) -> tuple[int, tuple[str, ...]] | None:
    """The template choice, the slow obvious way: the first whose fields are all set."""
    for index, template in enumerate(endpoint.templates):
        values = []
        for path in template.fields:
            value: Any = request
            for name in path:
                value = getattr(value, name, None)
                if value is None:
                    break
            if path[0] == "user_app_id" and not value:
                value = "me" if path[1] == "user_id" else "app"
            if not value:
                break
            values.append(value)
        else:
            return index, tuple(values)
    return None


def _with_fields(endpoint: Any, paths: set[tuple[str, ...]], value: str) -> Any:
    """A request of ``endpoint`` whose fields at ``paths`` are set to ``value``."""
    fields: dict[str, Any] = {}
    for path in paths:
        if len(path) == 1:
            fields[path[0]] = value
        else:
            fields.setdefault(path[0], {})[path[1]] = value
    return msgspec.convert(fields, endpoint.request_type)


def test_every_endpoints_compiled_router_agrees_with_the_reference() -> None:
    from aioclarifai import _requests

    for name in ENDPOINTS:
        endpoint = ENDPOINTS[name]
        every = {path for t in endpoint.templates for path in t.fields}
        route = _requests._route(endpoint)
        # All set, none set, and each one field left out in turn.
        for paths in [every, set(), *({p for p in every if p != gone} for gone in every)]:
            request = _with_fields(endpoint, paths, "x/y")
            assert route.choose(request, "me", "app") == _reference_route(endpoint, request), name
