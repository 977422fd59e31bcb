"""Inputs, searches and workflow runs on FakeClarifai, through the real Client."""

from __future__ import annotations

import pytest

from aioclarifai import BadRequestError, Client, NotFoundError, types
from aioclarifai.testing import FakeClarifai, concepts_for
from aioclarifai.testing._server import generated_text

Code = types.StatusCode
APP = "test-app"


def _text(raw: str, input_id: str = "", **data: object) -> types.Input:
    return types.Input(id=input_id, data=types.Data(text=types.Text(raw=raw), **data))  # type: ignore[arg-type]


def _concept(name: str, value: float = 1.0) -> types.Concept:
    return types.Concept(id=name, name=name, value=value)


def _by_concept(name: str, value: float = 1.0) -> types.Search:
    data = types.Data(concepts=[_concept(name, value)])
    return types.Search(
        query=types.Query(filters=[types.Filter(annotation=types.Annotation(data=data))])
    )


async def _hit_ids(client: Client, search: types.Search) -> list[str]:
    resp = await client.post_inputs_searches(searches=[search])
    return [h.input.id for h in resp.hits if h.input is not None]


async def test_add_search_predict_delete(clarifai_client: Client) -> None:
    """The deep path: add inputs → search finds them → workflow predicts them → delete."""
    c = clarifai_client
    added = await c.post_inputs(
        inputs=[
            _text("a dog in the park", "dog-1", concepts=[_concept("dog")], metadata={"k": "a"}),
            _text("a cat on a mat", "cat-1", concepts=[_concept("cat")], metadata={"k": "b"}),
            _text("another dog", "dog-2", concepts=[_concept("dog")]),
        ]
    )
    assert [i.id for i in added.inputs] == ["dog-1", "cat-1", "dog-2"]
    assert all(
        i.status is not None and i.status.code == Code.INPUT_DOWNLOAD_SUCCESS for i in added.inputs
    )

    assert sorted(await _hit_ids(c, _by_concept("dog"))) == ["dog-1", "dog-2"]
    assert await _hit_ids(c, _by_concept("dog", 0)) == ["cat-1"]  # value 0: without the concept
    by_meta = types.Filter(input=types.Input(data=types.Data(metadata={"k": "b"})))
    assert await _hit_ids(c, types.Search(query=types.Query(filters=[by_meta]))) == ["cat-1"]
    legacy = await c.post_searches(query=_by_concept("dog").query)  # the same query semantics
    assert sorted(h.input.id for h in legacy.hits) == ["dog-1", "dog-2"]  # type: ignore[union-attr]
    by_id = types.Filter(input=types.Input(id="dog-2"))
    assert await _hit_ids(c, types.Search(query=types.Query(filters=[by_id]))) == ["dog-2"]

    await c.post_workflows(
        workflows=[
            types.Workflow(
                id="wf",
                nodes=[
                    types.WorkflowNode(id="classify", model=types.Model(id="general")),
                    types.WorkflowNode(id="caption", model=types.Model(id="captioner")),
                ],
            )
        ]
    )
    ran = await c.post_workflow_results(
        workflow_id="wf", inputs=[types.Input(id="dog-1"), types.Input(id="cat-1")]
    )
    assert ran.workflow is not None and ran.workflow.id == "wf"
    assert [r.input.id for r in ran.results] == ["dog-1", "cat-1"]  # type: ignore[union-attr]
    first = ran.results[0]
    assert [o.model.id for o in first.outputs] == ["general", "captioner"]  # type: ignore[union-attr]
    assert first.outputs[0].data.concepts == concepts_for(b"a dog in the park")  # type: ignore[union-attr]

    await c.delete_inputs(ids=["dog-1"])
    assert await _hit_ids(c, _by_concept("dog")) == ["dog-2"]
    with pytest.raises(NotFoundError) as gone:
        await c.get_input(input_id="dog-1")
    assert gone.value.code == Code.INPUT_DOES_NOT_EXIST
    await c.delete_input(input_id="dog-2")
    assert await _hit_ids(c, _by_concept("dog")) == []


async def test_ranks_score_deterministically(clarifai_client: Client) -> None:
    c = clarifai_client
    await c.post_inputs(
        inputs=[
            _text("red car on the road", "car"),
            _text("green tree", "tree"),
            _text("red apple", "apple"),
        ]
    )
    rank = types.Rank(annotation=types.Annotation(data=types.Data(text=types.Text(raw="red car"))))
    resp = await c.post_inputs_searches(searches=[types.Search(query=types.Query(ranks=[rank]))])
    ids = [h.input.id for h in resp.hits]  # type: ignore[union-attr]
    assert ids[0] == "car" and ids[1] == "apple"  # both words, then one of two
    scores = [h.score for h in resp.hits]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    again = await c.post_inputs_searches(searches=[types.Search(query=types.Query(ranks=[rank]))])
    assert [h.score for h in again.hits] == scores

    by_input = types.Rank(annotation=types.Annotation(input_id="tree"))
    resp = await c.post_inputs_searches(
        searches=[types.Search(query=types.Query(ranks=[by_input]))]
    )
    assert resp.hits[0].input.id == "tree" and resp.hits[0].score == 1.0  # type: ignore[union-attr]
    page = await c.post_inputs_searches(
        searches=[types.Search(query=types.Query(ranks=[by_input]))],
        pagination=types.Pagination(page=2, per_page=2),
    )
    assert len(page.hits) == 1 and page.hit_counts[0].estimated_total == 3

    with pytest.raises(BadRequestError):
        await c.post_inputs_searches(searches=[])


async def test_inputs_list_stream_count_patch(clarifai_client: Client) -> None:
    c = clarifai_client
    await c.post_inputs(inputs=[_text(f"item {i}", f"in-{i}") for i in range(5)])
    await c.post_inputs(
        inputs=[
            types.Input(id="broken", data=types.Data(image=types.Image(url="https://x/fail.jpg")))
        ]
    )
    listed = await c.list_inputs(per_page=2)
    assert [i.id for i in listed.inputs] == ["broken", "in-4"]  # newest first
    failed = await c.list_inputs(status=types.Status(code=Code.INPUT_DOWNLOAD_FAILED))
    assert [i.id for i in failed.inputs] == ["broken"]
    counts = (await c.get_input_count()).counts
    assert counts is not None and (counts.processed, counts.errors) == (5, 1)

    streamed = await c.stream_inputs(per_page=2, last_id="in-1")
    assert [i.id for i in streamed.inputs] == ["in-2", "in-3"]

    patched = await c.patch_inputs(
        inputs=[types.Input(id="in-0", data=types.Data(metadata={"tag": "x"}))], action="merge"
    )
    assert patched.inputs[0].data.metadata == {"tag": "x"}  # type: ignore[union-attr]
    assert patched.inputs[0].data.text.raw == "item 0"  # type: ignore[union-attr]
    got = await c.get_input(input_id="in-0")
    assert got.input is not None and got.input.data.metadata == {"tag": "x"}  # type: ignore[union-attr]


async def test_input_limits_and_duplicates(clarifai_client: Client) -> None:
    c = clarifai_client
    with pytest.raises(BadRequestError) as too_many:
        await c.post_inputs(inputs=[_text(str(i)) for i in range(129)])
    assert "maximum is 128" in too_many.value.details
    made = await c.post_inputs(inputs=[_text(str(i)) for i in range(128)])
    assert len({i.id for i in made.inputs}) == 128
    await c.post_inputs(inputs=[_text("x", "same")])
    with pytest.raises(BadRequestError) as dup:
        await c.post_inputs(inputs=[_text("x", "same")])
    assert dup.value.code == Code.INPUT_DUPLICATE
    R = types.InputIDConflictResolution
    skipped = await c.post_inputs(
        inputs=[_text("x", "same"), _text("y", "new")], input_id_conflict_resolution=R.SKIP
    )
    assert [i.id for i in skipped.inputs] == ["new"]
    suffixed = await c.post_inputs(
        inputs=[_text("x", "same"), _text("x", "same")], input_id_conflict_resolution=R.SUFFIX
    )
    assert [i.id for i in suffixed.inputs] == ["same-1", "same-2"]


async def test_annotations_and_annotation_search(clarifai_client: Client) -> None:
    c = clarifai_client
    await c.post_inputs(inputs=[_text("one", "a"), _text("two", "b")])
    with pytest.raises(NotFoundError):
        await c.post_annotations(annotations=[types.Annotation(input_id="nope")])
    made = await c.post_annotations(
        annotations=[
            types.Annotation(input_id="a", data=types.Data(concepts=[_concept("bird")])),
            types.Annotation(input_id="b", data=types.Data(concepts=[_concept("fish")])),
        ]
    )
    assert [a.input_id for a in made.annotations] == ["a", "b"]
    assert made.annotations[0].status.code == Code.ANNOTATION_SUCCESS  # type: ignore[union-attr]
    listed = await c.list_annotations(input_ids=["b"])
    assert [a.input_id for a in listed.annotations] == ["b"]

    found = await c.post_annotations_searches(searches=[_by_concept("bird")])
    assert [(h.annotation.input_id, h.input.id) for h in found.hits] == [("a", "a")]  # type: ignore[union-attr]
    assert await _hit_ids(c, _by_concept("fish")) == ["b"]  # inputs searches see annotations too

    async with c.stream_annotations(input_id="a") as stream:
        streamed = [m async for m in stream]
    assert [m.annotation.id for m in streamed] == [made.annotations[0].id]  # type: ignore[union-attr]
    assert streamed[-1].frame_fully_processed

    await c.delete_inputs(ids=["a"])
    assert [a.input_id for a in (await c.list_annotations()).annotations] == ["b"]


async def test_workflow_runs_models_of_every_output_kind(
    clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    fake_clarifai.add_model("llm", app_id=APP, output="string")
    await clarifai_client.post_workflows(
        workflows=[
            types.Workflow(
                id="gen", nodes=[types.WorkflowNode(id="n", model=types.Model(id="llm"))]
            )
        ]
    )
    ran = await clarifai_client.post_workflow_results(workflow_id="gen", inputs=[_text("hello")])
    out = ran.results[0].outputs[0]
    assert out.data is not None and out.data.string_value == generated_text(b"hello")
    with pytest.raises(NotFoundError) as missing:
        await clarifai_client.post_workflow_results(workflow_id="nope", inputs=[_text("x")])
    assert missing.value.code == Code.WORKFLOW_DOES_NOT_EXIST
