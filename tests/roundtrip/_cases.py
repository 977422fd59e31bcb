"""Shared helpers of the round-trip modules: operations, conversions, comparisons."""

from __future__ import annotations

from typing import Any

import msgspec
from google.protobuf import json_format
from google.protobuf.message import Message

from aioclarifai._endpoint_spec import Endpoint
from aioclarifai.endpoints import ENDPOINTS

from ._official import V2, HttpRule, message_class, rules_of

__all__ = [
    "METHODS",
    "assert_same",
    "differences",
    "minimal_request",
    "ok_answer",
    "request_class",
    "response_class",
    "to_official",
    "user_rules",
]

#: The 50 seed operations (clarifai-grpc 10.9.11) by method name, in a stable order.
SEED = (
    "PutModelVersionExports", "ListModelInputs", "GetModelVersionMetrics",
    "PostModelVersionMetrics", "GetModelOutputInfo", "PostModelOutputs",
    "GenerateModelOutputs", "DeleteModules", "ListModules", "PatchModules",
    "PostModules", "GetModule", "DeleteModuleVersions", "ListModuleVersions",
    "PatchModuleVersions", "PostModuleVersions", "GetModuleVersion",
    "GetModuleVersionUsageCount", "MyScopes", "GetResourceCounts",
    "ListSearches", "PatchSearches", "PostSearches", "DeleteSearch", "GetSearch",
    "PostSearchesByID", "PostStatValues", "PostStatValuesAggregate",
    "PatchAnnotationsStatus", "DeleteTasks", "ListTasks", "PatchTasks",
    "PostTasks", "GetTask", "GetTaskAnnotationCount", "ListNextTaskAssignments",
    "PutTaskAssignments", "GetTaskInputCount", "GetInputSamples",
    "ListTrendingMetricsViews", "PostTrendingMetricsView", "DeleteUploads",
    "ListUploads", "PostUploads", "GetUpload", "PutUploadContentParts",
    "DeleteWorkflows", "ListWorkflows", "PatchWorkflows", "PostWorkflows",
)  # fmt: skip
METHODS = sorted(m for m, ep in ENDPOINTS.items() if ep.name in SEED)
_USER_PREFIX = "/v2/users/{user_app_id.user_id}/apps/{user_app_id.app_id}/"


def user_rules(endpoint: Endpoint[Any, Any]) -> list[HttpRule]:
    """The official bindings scoped to a user's app (what the client sends to)."""
    return [r for r in rules_of(endpoint.name) if r.template.startswith(_USER_PREFIX)]


def request_class(endpoint: Endpoint[Any, Any]) -> type[Message]:
    """The official request class of ``endpoint``."""
    return message_class(V2.methods_by_name[endpoint.name].input_type)


def response_class(endpoint: Endpoint[Any, Any]) -> type[Message]:
    """The official response class of ``endpoint``."""
    return message_class(V2.methods_by_name[endpoint.name].output_type)


def to_official(decoded: Any, cls: type[Message]) -> Message:
    """An aioclarifai Struct back into the official type, rejecting unknown fields."""
    return json_format.Parse(msgspec.json.encode(decoded), cls(), ignore_unknown_fields=False)


def assert_same(got: Message, want: Message) -> None:
    """Equal official messages; on a difference, name the field paths that differ."""
    if got != want:
        diffs = differences(got, want)
        raise AssertionError(f"{len(diffs)} differences: " + "; ".join(diffs[:10]))


def differences(got: Any, want: Any, path: str = "") -> list[str]:
    """Where two official values differ (presence, length, or value), as field paths."""
    if isinstance(got, Message) and isinstance(want, Message):
        a = {f.name: v for f, v in got.ListFields()}
        b = {f.name: v for f, v in want.ListFields()}
        out: list[str] = []
        for name in sorted(a.keys() | b.keys()):
            if name not in a or name not in b:
                out.append(f"{path}.{name}: present {name in a}, expected {name in b}")
            elif a[name] != b[name]:
                out += differences(a[name], b[name], f"{path}.{name}")
        return out
    if hasattr(got, "keys") and hasattr(want, "keys"):
        keys = set(got.keys()) | set(want.keys())
        return [
            d
            for k in sorted(keys, key=repr)
            for d in (
                differences(got[k], want[k], f"{path}[{k!r}]")
                if k in got and k in want
                else [f"{path}[{k!r}]: present {k in got}, expected {k in want}"]
            )
        ]
    if not isinstance(got, str | bytes) and hasattr(got, "__len__"):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items, expected {len(want)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(got, want, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    return [] if got == want else [f"{path}: {got!r}, expected {want!r}"]


def minimal_request(endpoint: Endpoint[Any, Any]) -> Any:
    """The smallest request the client will send: path ids set, defaults for the app."""
    fields = {f[0]: "an-id" for f in endpoint.templates[0].fields if f[0] != "user_app_id"}
    return endpoint.request_type(**fields)


def ok_answer(endpoint: Endpoint[Any, Any]) -> bytes | list[bytes]:
    """A bare success answer (NDJSON lines for a stream)."""
    body = b'{"status": {"code": 10000, "description": "Ok"}}'
    return [b'{"result": ' + body + b"}"] if endpoint.streaming else body
