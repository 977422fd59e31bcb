"""FakeClarifai's wire layer and helpers, without sockets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aioclarifai import types
from aioclarifai.endpoints import ENDPOINTS
from aioclarifai.testing._server import _Router, generated_text, split_text
from aioclarifai.testing._state import patch_message
from aioclarifai.testing._wire import INT64_FIELDS, WireError, decode_body, decode_query

DESCRIPTORS = Path(__file__).resolve().parents[2] / "tools" / "descriptors"


def test_int64_table_matches_the_official_descriptors() -> None:
    """The table is the union of both pinned releases' 64-bit integer fields."""
    from google.protobuf import descriptor_pb2, descriptor_pool
    from google.protobuf.descriptor import FieldDescriptor as F

    wide = {F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_SINT64, F.TYPE_FIXED64, F.TYPE_SFIXED64}
    found: dict[str, frozenset[str]] = {}

    def walk(d: Any, prefix: str) -> None:
        name = prefix + d.name
        fields = frozenset(f.name for f in d.fields if f.type in wide)
        if fields and hasattr(types, name):
            found[name] = found.get(name, frozenset()) | fields
        for nested in d.nested_types:
            walk(nested, name + "_")

    for path in sorted(DESCRIPTORS.glob("clarifai-grpc-*.binpb")):
        files = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes()).file
        pool = descriptor_pool.DescriptorPool()
        for f in files:
            pool.Add(f)
        for f in files:
            if f.package.startswith("clarifai.api"):
                for d in pool.FindFileByName(f.name).message_types_by_name.values():
                    walk(d, "")
    assert found == INT64_FIELDS


def test_router_keeps_encoded_slashes_inside_values() -> None:
    router = _Router(ENDPOINTS.values())
    found = router.match("GET", "/v2/users/me/apps/a%2Fb/modules/x%2Fy/versions/%2E%2E")
    assert found is not None
    endpoint, values = found
    assert endpoint.name == "GetModuleVersion"
    assert values == {
        "user_app_id.user_id": "me", "user_app_id.app_id": "a/b",
        "module_id": "x/y", "module_version_id": "..",
    }  # fmt: skip
    generate = router.match("POST", "/v2/users/u/apps/a/models/m/outputs/generate")
    assert generate is not None and generate[0].name == "GenerateModelOutputs"
    assert router.match("GET", "/v2/users/u/apps/a/modules//versions") is None


def test_strict_decoding() -> None:
    req = decode_body(
        types.PostWorkflowsRequest, b'{"workflows":[{"id":"w"}]}', {"user_app_id.app_id": "a"}
    )
    assert req.workflows[0].id == "w" and req.user_app_id.app_id == "a"
    with pytest.raises(WireError) as info:
        decode_body(types.PostWorkflowsRequest, b'{"workflows":[{"idd":"w"}]}', {})
    assert (info.value.code, info.value.http_status) == (11100, 400)
    q = decode_query(
        types.ListTasksRequest, "ids=a&ids=b&per_page=2&including_label_order_tasks=true", {}
    )
    assert (q.ids, q.per_page, q.including_label_order_tasks) == (["a", "b"], 2, True)
    with pytest.raises(WireError):
        decode_query(types.GetModelVersionMetricsRequest, "fields.confusion_matrx=true", {})
    assert decode_query(
        types.GetModelVersionMetricsRequest, "fields.confusion_matrix=true", {}
    ).fields.confusion_matrix


def test_patch_actions() -> None:
    old = types.Workflow(
        id="w", description="d", metadata={"a": 1, "b": {"c": 2}}, use_cases=["x", "y"]
    )
    merged = patch_message(old, types.Workflow(id="w", metadata={"b": {"d": 3}}), "merge")
    assert merged.metadata == {"a": 1, "b": {"c": 2, "d": 3}} and merged.description == "d"
    removed = patch_message(
        old, types.Workflow(id="w", metadata={"a": 0}, use_cases=["x"]), "remove"
    )
    assert removed.metadata == {"b": {"c": 2}} and removed.use_cases == ["y"]
    with pytest.raises(WireError):
        patch_message(old, old, "replace")


def test_generated_text_splits_into_deltas() -> None:
    text = generated_text(b"prompt")
    assert text == generated_text(b"prompt") != generated_text(b"other")
    for chunks in (1, 3, 7, 500):
        pieces = split_text(text, chunks)
        assert len(pieces) == chunks and "".join(pieces) == text
