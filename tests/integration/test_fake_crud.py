"""The table-driven CRUD engine: operations read off the endpoint table, served as collections."""

from __future__ import annotations

from typing import Any

import pytest

from aioclarifai import APIStatusError, Client, types
from aioclarifai.endpoints import ENDPOINTS
from aioclarifai.testing import FakeClarifai
from aioclarifai.testing._state import FakeState, handlers
from aioclarifai.testing._state.crud import plan_for, serve
from aioclarifai.testing._wire import WireError

Code = types.StatusCode
APP = types.UserAppIDSet(user_id="me", app_id="app")


def _engine(state: FakeState, name: str) -> Any:
    """The engine's own handler for ``name`` (hand-written handlers left aside)."""
    ep = ENDPOINTS[name]
    plan = plan_for(ep)
    assert plan is not None, name
    return serve(state, plan, ep.response_type)


def test_plans_read_verb_item_and_scope_off_the_table() -> None:
    plans = {name: plan_for(ep) for name, ep in ENDPOINTS.items()}
    post = plans["post_module_versions"]
    assert post is not None
    assert (post.verb, post.collection, post.request_items, post.response_items) == (
        "create", "ModuleVersion", "module_versions", "module_versions",
    )  # fmt: skip
    assert post.parents == ("module_id",)
    get = plans["get_module_version"]
    assert get is not None and get.verb == "get"
    assert (get.id_field, get.parents) == ("module_version_id", ("module_id",))
    assert get.missing_code == Code.MODULE_DOES_NOT_EXIST  # no MODULE_VERSION_* code
    workflows = plans["delete_workflows"]
    assert workflows is not None and workflows.id_field is None  # by ids / delete_all
    assert workflows.missing_code == Code.WORKFLOW_DOES_NOT_EXIST
    assert workflows.duplicate_code == Code.WORKFLOW_DUPLICATE
    single = plans["delete_search"]
    assert single is not None and single.id_field == "id"
    assert plans["get_task"] is not None and plans["get_task"].id_field == "task_id"
    # Not collection operations: predictions, searches by id, counts.
    assert plans["post_model_outputs"] is None
    assert plans["generate_model_outputs"] is None
    assert plans["get_task_input_count"] is None


def test_engine_serves_a_collection_through_its_life() -> None:
    state = FakeState("u")
    post, get = _engine(state, "post_workflows"), _engine(state, "get_task")
    listed = _engine(state, "list_workflows")
    patch, delete = _engine(state, "patch_workflows"), _engine(state, "delete_workflows")
    made = post(
        types.PostWorkflowsRequest(
            user_app_id=APP,
            workflows=[types.Workflow(id="w1", description="one"), types.Workflow(id="w2")],
        )
    )
    assert [w.id for w in made.workflows] == ["w1", "w2"]
    assert made.workflows[0].user_id == "u" and made.workflows[0].app_id == "app"
    assert made.workflows[0].created_at is not None
    with pytest.raises(WireError) as dup:
        post(types.PostWorkflowsRequest(user_app_id=APP, workflows=[types.Workflow(id="w1")]))
    assert dup.value.code == Code.WORKFLOW_DUPLICATE

    page = listed(types.ListWorkflowsRequest(user_app_id=APP, per_page=1))
    assert [w.id for w in page.workflows] == ["w2"]  # newest first
    page2 = listed(types.ListWorkflowsRequest(user_app_id=APP, per_page=1, page=2))
    assert [w.id for w in page2.workflows] == ["w1"]

    merged = patch(
        types.PatchWorkflowsRequest(
            user_app_id=APP,
            workflows=[types.Workflow(id="w1", metadata={"k": 1})],
            action="merge",
        )
    )
    assert merged.workflows[0].description == "one" and merged.workflows[0].metadata == {"k": 1}
    over = patch(
        types.PatchWorkflowsRequest(
            user_app_id=APP, workflows=[types.Workflow(id="w1", notes="n")], action="overwrite"
        )
    )
    assert over.workflows[0].description == "" and over.workflows[0].notes == "n"
    with pytest.raises(WireError) as missing:
        patch(types.PatchWorkflowsRequest(user_app_id=APP, workflows=[types.Workflow(id="nope")]))
    assert (missing.value.code, missing.value.http_status) == (Code.WORKFLOW_DOES_NOT_EXIST, 404)

    delete(types.DeleteWorkflowsRequest(user_app_id=APP, ids=["w1"]))
    assert [w.id for w in listed(types.ListWorkflowsRequest(user_app_id=APP)).workflows] == ["w2"]
    delete(types.DeleteWorkflowsRequest(user_app_id=APP, delete_all=True))
    assert listed(types.ListWorkflowsRequest(user_app_id=APP)).workflows == []

    with pytest.raises(WireError) as no_task:
        get(types.GetTaskRequest(user_app_id=APP, task_id="t"))
    assert no_task.value.code == Code.CONN_DOES_NOT_EXIST  # no TASK_DOES_NOT_EXIST code


def test_scoped_collections_are_separate_per_parent() -> None:
    state = FakeState("u")
    post, get = _engine(state, "post_module_versions"), _engine(state, "get_module_version")
    post(
        types.PostModuleVersionsRequest(
            user_app_id=APP, module_id="a", module_versions=[types.ModuleVersion(id="v1")]
        )
    )
    found = get(
        types.GetModuleVersionRequest(user_app_id=APP, module_id="a", module_version_id="v1")
    )
    assert found.module_version.id == "v1"
    with pytest.raises(WireError):
        get(types.GetModuleVersionRequest(user_app_id=APP, module_id="b", module_version_id="v1"))


def test_every_operation_of_the_table_has_a_handler() -> None:
    table = handlers(FakeState("u"), ENDPOINTS.values())
    assert set(table) == {ep.name for ep in ENDPOINTS.values()}


async def test_admit_hook_refuses_before_any_handler_runs(
    clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    seen: list[str] = []

    def admit(operation: str) -> tuple[int, int, float | None] | None:
        seen.append(operation)
        return (Code.CONN_INSUFFICIENT_SCOPES, 403, None) if operation == "PostWorkflows" else None

    fake_clarifai.admit = admit
    with pytest.raises(APIStatusError) as info:
        await clarifai_client.post_workflows(workflows=[types.Workflow(id="w")])
    assert (info.value.code, info.value.http_status) == (Code.CONN_INSUFFICIENT_SCOPES, 403)
    assert (await clarifai_client.list_workflows()).workflows == []  # nothing was created
    assert seen == ["PostWorkflows", "ListWorkflows"]
