"""Apps, models, concepts, datasets, collaborators and keys on FakeClarifai, via the real Client."""

from __future__ import annotations

import pytest

from aioclarifai import APIStatusError, BadRequestError, Client, NotFoundError, types
from aioclarifai.testing import FakeClarifai

Code = types.StatusCode
APP = "test-app"


def _text(raw: str, input_id: str) -> types.Input:
    return types.Input(id=input_id, data=types.Data(text=types.Text(raw=raw)))


async def test_apps_live_under_their_user(clarifai_client: Client) -> None:
    c = clarifai_client
    made = await c.post_apps(apps=[types.App(id="a1", description="first"), types.App(id="a2")])
    assert [a.id for a in made.apps] == ["a1", "a2"] and made.apps[0].created_at is not None
    assert sorted(a.id for a in (await c.list_apps()).apps) == ["a1", "a2"]
    got = await c.get_app(user_app_id=types.UserAppIDSet(app_id="a1"))
    assert got.app is not None and got.app.description == "first"
    patched = await c.patch_app(
        user_app_id=types.UserAppIDSet(app_id="a1"),
        app=types.App(metadata={"team": "vision"}),
        action="merge",
    )
    assert patched.app is not None and patched.app.metadata == {"team": "vision"}
    assert patched.app.description == "first"
    await c.delete_app(user_app_id=types.UserAppIDSet(app_id="a1"))
    with pytest.raises(NotFoundError) as gone:
        await c.get_app(user_app_id=types.UserAppIDSet(app_id="a1"))
    assert gone.value.code == Code.CONN_DOES_NOT_EXIST
    assert [a.id for a in (await c.list_apps()).apps] == ["a2"]


async def test_models_versions_types_and_concepts(
    clarifai_client: Client, fake_clarifai: FakeClarifai
) -> None:
    c = clarifai_client
    public = await c.get_model(model_id="general-image-recognition")
    assert public.model is not None and public.model.model_type_id == "visual-classifier"

    made = await c.post_models(model=types.Model(id="mine", model_type_id="text-to-text"))
    assert made.model is not None and made.model.name == "mine"
    assert made.model.user_id == "test-user" and made.model.model_type_id == "text-to-text"
    with pytest.raises(BadRequestError) as dup:
        await c.post_models(model=types.Model(id="mine"))
    assert dup.value.code == Code.MODEL_INVALID_ARGUMENT
    assert [m.id for m in (await c.list_models()).models] == ["mine"]

    await c.post_model_versions(model_id="mine", model_versions=[types.ModelVersion(id="v1")])
    version = await c.get_model_version(model_id="mine", version_id="v1")
    assert version.model_version is not None and version.model_version.id == "v1"
    with pytest.raises(NotFoundError) as no_version:
        await c.get_model_version(model_id="mine", version_id="v9")
    assert no_version.value.code == Code.MODEL_DOES_NOT_EXIST

    types_page = await c.list_model_types()
    ids = [mt.id for mt in types_page.model_types]
    assert "visual-classifier" in ids and "text-to-text" in ids
    one = await c.get_model_type(model_type_id="text-to-text")
    assert one.model_type is not None and one.model_type.output_fields == ["text"]
    with pytest.raises(NotFoundError):
        await c.get_model_type(model_type_id="nope")

    concepts = await c.list_model_concepts(model_id="general", search="dog")
    assert [x.name for x in concepts.concepts] == ["dog"]

    await c.post_models(model=types.Model(id="other"))
    await c.delete_model(model_id="mine")
    with pytest.raises(NotFoundError) as deleted:
        await c.get_model(model_id="mine")
    assert deleted.value.code == Code.MODEL_DOES_NOT_EXIST
    with pytest.raises(NotFoundError):  # a deleted model predicts nothing either
        await c.post_model_outputs(model_id="mine", inputs=[_text("x", "")])
    await c.post_models(model=types.Model(id="mine"))  # created again: it exists
    assert (await c.get_model(model_id="mine")).model is not None
    await c.delete_models(delete_all=True)
    assert (await c.list_models()).models == []
    assert {"mine", "other"} <= fake_clarifai.missing_models


async def test_concepts_crud(clarifai_client: Client) -> None:
    c = clarifai_client
    await c.post_concepts(concepts=[types.Concept(id="dog", name="Dog")])
    got = await c.get_concept(concept_id="dog")
    assert got.concept is not None and got.concept.name == "Dog"
    await c.patch_concepts(concepts=[types.Concept(id="dog", name="Hound")], action="overwrite")
    assert [x.name for x in (await c.list_concepts()).concepts] == ["Hound"]
    with pytest.raises(NotFoundError):
        await c.get_concept(concept_id="cat")


async def test_datasets_versions_and_inputs(clarifai_client: Client) -> None:
    c = clarifai_client
    await c.post_datasets(datasets=[types.Dataset(id="ds")])
    await c.post_inputs(inputs=[_text("one", "i1"), _text("two", "i2"), _text("three", "i3")])
    with pytest.raises(NotFoundError):
        await c.post_dataset_inputs(
            dataset_id="nope", dataset_inputs=[types.DatasetInput(input=types.Input(id="i1"))]
        )
    added = await c.post_dataset_inputs(
        dataset_id="ds",
        dataset_inputs=[
            types.DatasetInput(input=types.Input(id="i1")),
            types.DatasetInput(input=types.Input(id="i2")),
        ],
    )
    assert [d.input.id for d in added.dataset_inputs] == ["i1", "i2"]  # type: ignore[union-attr]
    with pytest.raises(APIStatusError) as twice:
        await c.post_dataset_inputs(
            dataset_id="ds", dataset_inputs=[types.DatasetInput(input=types.Input(id="i1"))]
        )
    assert twice.value.code == Code.DATASET_INPUT_DUPLICATE
    listed = await c.list_dataset_inputs(dataset_id="ds")
    assert [d.input.id for d in listed.dataset_inputs] == ["i2", "i1"]  # type: ignore[union-attr]
    one = await c.get_dataset_input(dataset_id="ds", input_id="i1")
    assert one.dataset_input is not None and one.dataset_input.input.dataset_ids == ["ds"]  # type: ignore[union-attr]
    in_ds = types.Filter(input=types.Input(dataset_ids=["ds"]))
    found = await c.post_inputs_searches(
        searches=[types.Search(query=types.Query(filters=[in_ds]))]
    )
    assert sorted(h.input.id for h in found.hits) == ["i1", "i2"]  # type: ignore[union-attr]

    await c.delete_dataset_inputs(dataset_id="ds", input_ids=["i1"])
    with pytest.raises(NotFoundError):
        await c.get_dataset_input(dataset_id="ds", input_id="i1")
    await c.delete_inputs(ids=["i2"])  # a deleted input leaves its datasets
    assert (await c.list_dataset_inputs(dataset_id="ds")).dataset_inputs == []

    await c.post_dataset_versions(
        dataset_id="ds", dataset_versions=[types.DatasetVersion(id="dv1")]
    )
    got = await c.get_dataset_version(dataset_id="ds", dataset_version_id="dv1")
    assert got.dataset_version is not None and got.dataset_version.id == "dv1"
    await c.delete_datasets(dataset_ids=["ds"])
    with pytest.raises(NotFoundError):
        await c.get_dataset(dataset_id="ds")
    with pytest.raises(NotFoundError):
        await c.get_dataset_version(dataset_id="ds", dataset_version_id="dv1")


async def test_collaborators_and_keys(clarifai_client: Client) -> None:
    c = clarifai_client
    await c.post_collaborators(
        collaborators=[types.Collaborator(id="co1", user=types.User(id="friend"))]
    )
    listed = await c.list_collaborators()
    assert [(x.id, x.user.id) for x in listed.collaborators] == [("co1", "friend")]  # type: ignore[union-attr]
    await c.delete_collaborators(collaborator_ids=["co1"])
    assert (await c.list_collaborators()).collaborators == []

    made = await c.post_keys(keys=[types.Key(description="ci", scopes=["All"])])
    key_id = made.keys[0].id
    assert key_id and made.keys[0].created_at is not None
    assert (await c.get_key(key_id=key_id)).key.description == "ci"  # type: ignore[union-attr]
    await c.delete_key(key_id=key_id)
    with pytest.raises(NotFoundError):
        await c.get_key(key_id=key_id)


async def test_engine_lists_filter_and_sort(clarifai_client: Client) -> None:
    c = clarifai_client
    for ident, desc in (("b-set", "birds"), ("a-set", "cats"), ("c-set", "more birds")):
        await c.post_datasets(datasets=[types.Dataset(id=ident, description=desc)])
    newest_first = [d.id for d in (await c.list_datasets()).datasets]
    assert newest_first == ["c-set", "a-set", "b-set"]
    by_id = await c.list_datasets(sort_by_id=True, sort_ascending=True)
    assert [d.id for d in by_id.datasets] == ["a-set", "b-set", "c-set"]
    found = await c.list_datasets(search="BIRDS")
    assert [d.id for d in found.datasets] == ["c-set", "b-set"]
    assert [d.id for d in (await c.list_datasets(id="a-set")).datasets] == ["a-set"]

    await c.post_models(model=types.Model(id="llm", model_type_id="text-to-text"))
    await c.post_models(model=types.Model(id="tagger"))
    typed = await c.list_models(model_type_id="text-to-text")
    assert [m.id for m in typed.models] == ["llm"]
    by_name = await c.list_models(sort_by_name=True, sort_ascending=True)
    assert [m.id for m in by_name.models] == ["llm", "tagger"]
    counts = await c.get_resource_counts()
    assert (counts.datasets, counts.models) == (3, 2)
