"""FakeClarifai's stateful operations, each through the real Client, in multi-step flows."""

from __future__ import annotations

import asyncio
import datetime

import pytest

from aioclarifai import Client, NotFoundError, types
from aioclarifai.testing import FakeClarifai

APP = "test-app"
Code = types.StatusCode
UTC = datetime.timezone.utc


# -- modules and module versions -------------------------------------------------------------------


async def test_module_flow(clarifai_client: Client) -> None:
    c = clarifai_client
    created = await c.post_modules(
        modules=[
            types.Module(id="m-1", description="first", metadata={"a": {"b": 1, "c": 2}}),
            types.Module(id="m-2", description="second"),
        ]
    )
    assert [m.id for m in created.modules] == ["m-1", "m-2"]
    assert created.modules[0].user_id == "test-user" and created.modules[0].app_id == APP

    listed = await c.list_modules(sort_by_id=True, sort_ascending=True)
    assert [m.id for m in listed.modules] == ["m-1", "m-2"]
    assert [m.id for m in (await c.list_modules(search="second")).modules] == ["m-2"]
    assert (await c.list_modules(page=2, per_page=2)).modules == []

    merged = await c.patch_modules(
        modules=[types.Module(id="m-1", metadata={"a": {"b": 5}})], action="merge"
    )
    assert merged.modules[0].metadata == {"a": {"b": 5, "c": 2}}
    assert merged.modules[0].description == "first"
    removed = await c.patch_modules(
        modules=[types.Module(id="m-1", metadata={"a": {"c": None}})], action="remove"
    )
    assert removed.modules[0].metadata == {"a": {"b": 5}}
    overwritten = await c.patch_modules(
        modules=[types.Module(id="m-1", description="new")], action="overwrite"
    )
    assert overwritten.modules[0].description == "new"
    assert overwritten.modules[0].metadata is None
    assert (await c.get_module(module_id="m-1")).module.description == "new"  # type: ignore[union-attr]

    await c.delete_modules(ids=["m-1"])
    with pytest.raises(NotFoundError) as info:
        await c.get_module(module_id="m-1")
    assert info.value.code == Code.MODULE_DOES_NOT_EXIST and info.value.http_status == 404
    assert [m.id for m in (await c.list_modules()).modules] == ["m-2"]


async def test_module_version_flow(clarifai_client: Client) -> None:
    c = clarifai_client
    await c.post_modules(modules=[types.Module(id="mod")])
    made = await c.post_module_versions(
        module_id="mod",
        module_versions=[types.ModuleVersion(id="v1", description="one"), types.ModuleVersion()],
    )
    v1, v2 = made.module_versions
    assert v1.id == "v1" and v2.id and v2.module_id == "mod"
    listed = await c.list_module_versions(module_id="mod")
    assert {v.id for v in listed.module_versions} == {"v1", v2.id}
    assert (await c.list_module_versions(module_id="mod", page=3, per_page=1)).module_versions == []

    patched = await c.patch_module_versions(
        module_id="mod",
        module_versions=[types.ModuleVersion(id="v1", notes="n")],
        action="merge",
    )
    assert patched.module_versions[0].notes == "n"
    assert patched.module_versions[0].description == "one"

    assert (
        await c.get_module_version_usage_count(module_id="mod", module_version_id="v1")
    ).usage_count == 0
    got = await c.get_module_version(module_id="mod", module_version_id="v1")
    assert got.module_version is not None and got.module_version.notes == "n"
    await c.get_module_version(module_id="mod", module_version_id="v1")
    usage = await c.get_module_version_usage_count(module_id="mod", module_version_id="v1")
    assert usage.usage_count == 2

    await c.delete_module_versions(module_id="mod", ids=["v1"])
    with pytest.raises(NotFoundError):
        await c.get_module_version(module_id="mod", module_version_id="v1")
    with pytest.raises(NotFoundError) as info:
        await c.list_module_versions(module_id="no-such-module")
    assert info.value.code == Code.MODULE_DOES_NOT_EXIST


# -- saved searches --------------------------------------------------------------------------------


async def test_search_flow(clarifai_client: Client, fake_clarifai: FakeClarifai) -> None:
    c = clarifai_client
    fake_clarifai.add_inputs([types.Input(id=f"in-{i}") for i in range(5)], app_id=APP)
    query = types.Query(ranks=[types.Rank(annotation=types.Annotation(data=types.Data(
        concepts=[types.Concept(id="ai_dog", value=1.0)])))])  # fmt: skip
    ran = await c.post_searches(
        searches=[types.Search(id="dogs", name="Dogs", query=query, save=True)],
        pagination=types.Pagination(page=1, per_page=3),
    )
    assert [s.id for s in ran.searches] == ["dogs"]
    assert len(ran.hits) == 3
    scores = [h.score for h in ran.hits]
    assert scores == sorted(scores, reverse=True)

    unsaved = await c.post_searches(query=query, pagination=types.Pagination(per_page=10))
    assert unsaved.searches == [] and len(unsaved.hits) == 5

    assert [s.id for s in (await c.list_searches()).searches] == ["dogs"]
    assert (await c.list_searches(page=2)).searches == []
    got = await c.get_search(id="dogs")
    assert got.search is not None and got.search.name == "Dogs" and got.search.query == query

    by_id = await c.post_searches_by_id(id="dogs", pagination=types.Pagination(page=2, per_page=3))
    assert [h.input.id for h in by_id.hits] == [h.input.id for h in unsaved.hits][3:]  # type: ignore[union-attr]

    patched = await c.patch_searches(
        searches=[types.Search(id="dogs", name="Hounds")], action="overwrite"
    )
    assert patched.searches[0].name == "Hounds" and patched.searches[0].query is None

    await c.delete_search(id="dogs")
    with pytest.raises(NotFoundError) as info:
        await c.post_searches_by_id(id="dogs")
    assert info.value.code == Code.CONN_DOES_NOT_EXIST


# -- tasks -----------------------------------------------------------------------------------------


async def test_task_flow(clarifai_client: Client, fake_clarifai: FakeClarifai) -> None:
    c = clarifai_client
    fake_clarifai.add_inputs([types.Input(id=f"in-{i}") for i in range(3)], app_id=APP)
    review = types.TaskReview(
        strategy=types.TaskReview_TaskReviewStrategy.MANUAL, user_ids=["boss"]
    )
    made = await c.post_tasks(
        tasks=[
            types.Task(id="t1", description="label", review=review,
                       worker=types.TaskWorker(user_ids=["test-user"])),
            types.Task(id="t2", worker=types.TaskWorker(user_ids=["other"])),
        ]
    )  # fmt: skip
    assert [t.id for t in made.tasks] == ["t1", "t2"]
    assert made.tasks[0].status is not None and made.tasks[0].status.code == Code.TASK_IN_PROGRESS

    assert [t.id for t in (await c.list_tasks(worker_user_ids=["other"])).tasks] == ["t2"]
    assert [t.id for t in (await c.list_tasks(review_user_ids=["boss"])).tasks] == ["t1"]
    assert [t.id for t in (await c.list_tasks(ids=["t2", "t1"])).tasks] == ["t2", "t1"]
    assert (await c.list_tasks(page=2)).tasks == []

    patched = await c.patch_tasks(tasks=[types.Task(id="t1", name="renamed")], action="merge")
    assert patched.tasks[0].name == "renamed" and patched.tasks[0].description == "label"
    assert (await c.get_task(task_id="t1")).task.name == "renamed"  # type: ignore[union-attr]

    nxt = await c.list_next_task_assignments(task_id="t1")
    assert [i.id for i in nxt.inputs] == ["in-0", "in-1", "in-2"]
    Action = types.PutTaskAssignmentsRequestAction
    done = await c.put_task_assignments(task_id="t1", input_id="in-0", action=Action.LABEL_SUBMIT)
    assert done.task_assignments[0].status.code == Code.TASK_ASSIGNMENT_AWAITING_REVIEW  # type: ignore[union-attr]
    await c.put_task_assignments(task_id="t1", input_id="in-1", action=Action.LABEL_SUBMIT)
    reviewing = await c.put_task_assignments(task_id="t1", action=Action.REVIEW_START)
    assert {a.input.id for a in reviewing.task_assignments} == {"in-0", "in-1"}  # type: ignore[union-attr]
    await c.put_task_assignments(task_id="t1", input_id="in-0", action=Action.REVIEW_APPROVE)
    await c.put_task_assignments(task_id="t1", input_id="in-1", action=Action.REVIEW_REJECT)

    inputs = await c.get_task_input_count(task_id="t1")
    (mine,) = inputs.counts
    assert (mine.user_id, mine.pending, mine.success, mine.review_denied) == ("test-user", 1, 1, 1)
    annotations = await c.get_task_annotation_count(task_id="t1", user_ids=["test-user"])
    assert (annotations.counts[0].success, annotations.counts[0].review_denied) == (1, 1)

    samples = await c.get_input_samples(task_id="t1")
    assert sorted(h.input.id for h in samples.hits) == ["in-0", "in-1"]  # type: ignore[union-attr]

    patched_status = await c.patch_annotations_status(
        task_id="t1", user_ids=["test-user"], status_codes=[Code.ANNOTATION_REVIEW_DENIED],
        status_code=Code.ANNOTATION_AWAITING_REVIEW, action="overwrite",
    )  # fmt: skip
    assert patched_status.updated_count == 1 and patched_status.user_ids == ["test-user"]
    after = await c.get_task_annotation_count(task_id="t1")
    assert (after.counts[0].awaiting_review, after.counts[0].review_denied) == (1, 0)

    with pytest.raises(NotFoundError):
        await c.put_task_assignments(task_id="t1", input_id="nope", action=Action.LABEL_START)
    await c.delete_tasks(ids=["t1"])
    with pytest.raises(NotFoundError) as info:
        await c.get_task(task_id="t1")
    assert info.value.http_status == 404
    assert [t.id for t in (await c.list_tasks()).tasks] == ["t2"]


# -- uploads ---------------------------------------------------------------------------------------


async def test_upload_in_parts(clarifai_client: Client, fake_clarifai: FakeClarifai) -> None:
    c = clarifai_client
    payload = bytes(range(256)) * 40  # 10240 bytes
    made = await c.post_uploads(
        uploads=[types.Upload(content_name="f.bin", content_length=len(payload))]
    )
    (upload,) = made.uploads
    assert upload.status is not None and upload.status.code == Code.UPLOAD_IN_PROGRESS
    assert upload.content_length == len(payload)

    size = 4096
    parts = [
        (n + 1, off, payload[off : off + size])
        for n, off in enumerate(range(0, len(payload), size))
    ]
    # Out of order and concurrently, as a parallel uploader sends them.
    first = await c.put_upload_content_parts(
        upload_id=upload.id,
        content_parts=[
            types.UploadContentPart(
                part_number=parts[2][0], range_start=parts[2][1], data=parts[2][2]
            )
        ],
    )
    assert first.status is not None and first.status.percent_completed == 20
    assert first.upload.status.code == Code.UPLOAD_IN_PROGRESS  # type: ignore[union-attr]
    await asyncio.gather(*(
        c.put_upload_content_parts(
            upload_id=upload.id,
            content_parts=[types.UploadContentPart(part_number=n, range_start=off, data=data)],
        )
        for n, off, data in parts[:2]
    ))  # fmt: skip
    got = await c.get_upload(upload_id=upload.id)
    assert got.upload.status.code == Code.UPLOAD_DONE  # type: ignore[union-attr]
    assert got.upload.status.percent_completed == 100  # type: ignore[union-attr]
    assert fake_clarifai.upload_bytes(upload.id) == payload

    # Re-sending a part is idempotent.
    again = await c.put_upload_content_parts(
        upload_id=upload.id,
        content_parts=[types.UploadContentPart(part_number=1, range_start=0, data=payload[:size])],
    )
    assert again.upload.status.code == Code.UPLOAD_DONE  # type: ignore[union-attr]

    other = (await c.post_uploads(uploads=[types.Upload(content_length=3)])).uploads[0]
    assert [u.id for u in (await c.list_uploads()).uploads] == [other.id, upload.id]
    assert [u.id for u in (await c.list_uploads(page=2, per_page=1)).uploads] == [upload.id]
    assert (await c.list_uploads(page=3, per_page=1)).uploads == []
    await c.delete_uploads(ids=[upload.id])
    with pytest.raises(NotFoundError):
        await c.get_upload(upload_id=upload.id)


async def test_upload_part_beyond_length_is_refused(clarifai_client: Client) -> None:
    from aioclarifai import BadRequestError

    upload = (await c_post(clarifai_client, 4)).uploads[0]
    with pytest.raises(BadRequestError):
        await clarifai_client.put_upload_content_parts(
            upload_id=upload.id,
            content_parts=[types.UploadContentPart(part_number=1, range_start=2, data=b"abc")],
        )


async def test_upload_forced_failure_state(
    clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    upload = (await c_post(clarifai_client, 4)).uploads[0]
    fake_clarifai.set_upload_state(upload.id, Code.UPLOAD_EXPIRED)
    got = await clarifai_client.get_upload(upload_id=upload.id)
    assert got.upload.status.code == Code.UPLOAD_EXPIRED  # type: ignore[union-attr]


async def c_post(client: Client, length: int) -> types.MultiUploadResponse:
    return await client.post_uploads(
        uploads=[types.Upload(content_name="x", content_length=length)]
    )


# -- workflows -------------------------------------------------------------------------------------


async def test_workflow_flow(clarifai_client: Client) -> None:
    c = clarifai_client
    made = await c.post_workflows(
        workflows=[
            types.Workflow(id=f"wf-{i}", description="cats" if i % 2 else "dogs") for i in range(5)
        ]
    )
    assert len(made.workflows) == 5
    newest_first = await c.list_workflows()
    assert [w.id for w in newest_first.workflows] == ["wf-4", "wf-3", "wf-2", "wf-1", "wf-0"]
    by_id = await c.list_workflows(sort_by_id=True, sort_ascending=True, per_page=2, page=2)
    assert [w.id for w in by_id.workflows] == ["wf-2", "wf-3"]
    assert (await c.list_workflows(per_page=2, page=4)).workflows == []
    assert [
        w.id
        for w in (
            await c.list_workflows(search="cats", sort_by_id=True, sort_ascending=True)
        ).workflows
    ] == ["wf-1", "wf-3"]
    assert [w.id for w in (await c.list_workflows(id="wf-2")).workflows] == ["wf-2"]

    patched = await c.patch_workflows(
        workflows=[types.Workflow(id="wf-0", notes="hi")], action="merge"
    )
    assert patched.workflows[0].notes == "hi" and patched.workflows[0].description == "dogs"
    with pytest.raises(NotFoundError) as info:
        await c.patch_workflows(workflows=[types.Workflow(id="missing")], action="merge")
    assert info.value.code == Code.WORKFLOW_DOES_NOT_EXIST

    with pytest.raises(NotFoundError):  # all or nothing: wf-0 stays
        await c.delete_workflows(ids=["wf-0", "missing"])
    await c.delete_workflows(ids=["wf-0", "wf-1", "wf-0"])  # a repeated id is no 500
    assert len((await c.list_workflows()).workflows) == 3
    await c.post_modules(modules=[types.Module(id="mod")])
    await c.delete_modules(ids=["mod", "mod"])
    assert (await c.list_modules()).modules == []
    await c.delete_workflows(delete_all=True)
    assert (await c.list_workflows()).workflows == []


async def test_workflow_paging_covers_every_item_once(
    clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    fake_clarifai.add_workflows([types.Workflow(id=f"w{i:04d}") for i in range(2500)], app_id=APP)
    seen: list[str] = []
    page = 1
    while True:
        got = (await clarifai_client.list_workflows(page=page, per_page=1000)).workflows
        if not got:
            break
        seen.extend(w.id for w in got)
        page += 1
    assert page == 4 and len(seen) == 2500 and len(set(seen)) == 2500


# -- stats and trending ----------------------------------------------------------------------------


async def test_stats_aggregate(clarifai_client: Client) -> None:
    c = clarifai_client
    t0 = datetime.datetime(2026, 3, 2, 10, 15, tzinfo=UTC)  # a Monday
    values = [
        types.StatValue(time=t0, value=1.0, tags=["env:prod", "model:a"]),
        types.StatValue(
            time=t0 + datetime.timedelta(minutes=30), value=3.0, tags=["env:prod", "model:a"]
        ),
        types.StatValue(
            time=t0 + datetime.timedelta(hours=2), value=5.0, tags=["env:prod", "model:b"]
        ),
        types.StatValue(
            time=t0 + datetime.timedelta(days=1), value=7.0, tags=["env:dev", "model:b"]
        ),
    ]
    stored = await c.post_stat_values(stat_values=values)
    assert [v.value for v in stored.stat_values] == [1.0, 3.0, 5.0, 7.0]

    Agg, Time = types.StatValueAggType, types.StatTimeAggType
    queries = [
        types.StatValueAggregateQuery(tags=["env:prod"], stat_value_agg_type=Agg.SUM),
        types.StatValueAggregateQuery(tag_groups=["model"], stat_value_agg_type=Agg.AVG),
        types.StatValueAggregateQuery(tags=["env:prod"], stat_value_agg_type=Agg.SUM,
                                      stat_time_agg_type=Time.HOUR),
        types.StatValueAggregateQuery(stat_value_agg_type=Agg.SUM, stat_time_agg_type=Time.WEEK,
                                      start_time=t0 + datetime.timedelta(hours=1)),
    ]  # fmt: skip
    res = (
        await c.post_stat_values_aggregate(stat_value_aggregate_queries=queries)
    ).stat_value_aggregate_results
    total, by_model, hourly, weekly = (r.stat_value_aggregates for r in res)
    assert [(a.aggregate_value, a.count, a.tags) for a in total] == [(9.0, 3, ["env:prod"])]
    assert [(a.aggregate_value, a.count, a.tags) for a in by_model] == [
        (2.0, 2, ["model:a"]),
        (6.0, 2, ["model:b"]),
    ]
    assert [(a.time, a.aggregate_value, a.count) for a in hourly] == [
        (t0.replace(minute=0), 4.0, 2),
        (t0.replace(minute=0) + datetime.timedelta(hours=2), 5.0, 1),
    ]
    assert [(a.time, a.aggregate_value) for a in weekly] == [(t0.replace(hour=0, minute=0), 12.0)]
    assert res[0].stat_value_aggregate_query == queries[0]


async def test_trending_views(clarifai_client: Client) -> None:
    c = clarifai_client
    for obj in ["a", "b", "b", "c", "c", "c"]:
        await c.post_trending_metrics_view(view_type="models", object_id=obj)
    await c.post_trending_metrics_view(view_type="workflows", object_id="z")
    got = await c.list_trending_metrics_views(view_type="models")
    assert [(m.object_id, m.view_count) for m in got.metrics] == [("c", 3), ("b", 2), ("a", 1)]
    assert got.metrics[0].app_id == APP
    assert [
        m.object_id
        for m in (
            await c.list_trending_metrics_views(view_type="models", page=2, per_page=2)
        ).metrics
    ] == ["a"]
    assert (await c.list_trending_metrics_views(view_type="nothing")).metrics == []


# -- models, scopes, counts ------------------------------------------------------------------------


async def test_model_version_export_completes(
    fake_clarifai: FakeClarifai, clarifai_client: Client
) -> None:
    fake_clarifai.state.export_delay = 0.05
    first = await clarifai_client.put_model_version_exports(model_id="m", version_id="v")
    assert first.export.status.code == Code.MODEL_EXPORTING  # type: ignore[union-attr]
    await asyncio.sleep(0.1)
    done = await clarifai_client.put_model_version_exports(model_id="m", version_id="v")
    assert done.export.status.code == Code.MODEL_EXPORTED  # type: ignore[union-attr]
    assert done.export.url.endswith("/m/v.tar") and done.export.size > 0  # type: ignore[union-attr]


async def test_model_metrics(clarifai_client: Client) -> None:
    c = clarifai_client
    before = await c.get_model_version_metrics(model_id="m", version_id="v")
    assert before.model_version.metrics.status.code == Code.MODEL_NOT_EVALUATED  # type: ignore[union-attr]
    posted = await c.post_model_version_metrics(
        model_id="m", version_id="v", eval_info=types.EvalInfo(params={"k": 1})
    )
    metrics = posted.model_version.metrics  # type: ignore[union-attr]
    assert metrics.status.code == Code.MODEL_EVALUATED  # type: ignore[union-attr]
    got = await c.get_model_version_metrics(model_id="m", version_id="v")
    assert got.model_version.metrics.summary == metrics.summary  # type: ignore[union-attr]
    assert got.model_version.metrics.confusion_matrix is None  # type: ignore[union-attr]
    with_matrix = await c.get_model_version_metrics(
        model_id="m", version_id="v", fields=types.FieldsValue(confusion_matrix=True)
    )
    assert with_matrix.model_version.metrics.confusion_matrix is not None  # type: ignore[union-attr]


async def test_output_info_and_model_inputs(
    clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    c = clarifai_client
    info = await c.get_model_output_info(model_id="general")
    concepts = info.model.output_info.data.concepts  # type: ignore[union-attr]
    assert len(concepts) > 10 and info.model.id == "general"  # type: ignore[union-attr]
    versioned = await c.get_model_output_info(model_id="general", version_id="v9")
    assert versioned.model.model_version.id == "v9"  # type: ignore[union-attr]

    fake_clarifai.add_model_inputs(
        "general", [types.Input(id=f"i{n}") for n in range(5)], app_id=APP
    )
    page = await c.list_model_inputs(model_id="general", per_page=2, page=3)
    assert [i.id for i in page.inputs] == ["i4"]
    assert (await c.list_model_inputs(model_id="general", version_id="v", page=9)).inputs == []

    fake_clarifai.missing_models.add("gone")
    with pytest.raises(NotFoundError) as info_err:
        await c.get_model_output_info(model_id="gone")
    assert info_err.value.code == Code.MODEL_DOES_NOT_EXIST


async def test_my_scopes_and_resource_counts(
    clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    c = clarifai_client
    scopes = await c.my_scopes()
    assert "/clarifai.api.V2/PostModelOutputs" in scopes.endpoints
    assert scopes.app is not None and scopes.app.id == APP

    await c.post_workflows(workflows=[types.Workflow(id="w")])
    await c.post_modules(modules=[types.Module(id="m1"), types.Module(id="m2")])
    fake_clarifai.add_inputs(
        [types.Input(id="x"), types.Input(id="y"), types.Input(id="z")], app_id=APP
    )
    counts = await c.get_resource_counts()
    assert (counts.workflows, counts.modules, counts.inputs) == (1, 2, 3)


async def test_apps_are_separate(clarifai_client: Client) -> None:
    await clarifai_client.post_workflows(workflows=[types.Workflow(id="w")])
    other = await clarifai_client.list_workflows(user_app_id=types.UserAppIDSet(app_id="other"))
    assert other.workflows == []
