"""Shared helpers of the round-trip modules: operations, conversions, comparisons."""

from __future__ import annotations

from typing import Any

import msgspec
from google.protobuf import json_format
from google.protobuf.message import Message

from aioclarifai._endpoint_spec import Endpoint
from aioclarifai.endpoints import ENDPOINTS

from ._official import HttpRule, rules_of
from ._releases import CURRENT, RELEASES, Release, release

__all__ = [
    "SEED_OPERATIONS",
    "assert_same",
    "client_rules",
    "differences",
    "methods",
    "minimal_request",
    "ok_answer",
    "renamed_enum_values",
    "oneof_span",
    "request_class",
    "response_class",
    "to_official",
]

#: The 50 operations the client first covered (all in clarifai-grpc 10.9.11).
SEED_OPERATIONS = frozenset(
    {
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
    }
)  # fmt: skip


def client_rules(endpoint: Endpoint[Any, Any], rel: Release) -> list[HttpRule]:
    """The release's bindings of ``endpoint`` that the client sends to (its paths)."""
    method = rel.method(endpoint.name)
    if method is None:
        return []
    return [r for r in rules_of(method) if r.template in endpoint.paths]


def methods(version: str) -> list[str]:
    """Method names of the operations to round-trip against ``version``, stable order.

    Every operation of the client that the release has, under the paths the
    client sends to (all 268 of 12.6.0; 221 of 10.9.11, the 15 seed operations
    12.6.0 dropped among them).
    """
    rel = release(version)
    return [name for name, ep in sorted(ENDPOINTS.items()) if client_rules(ep, rel)]


def renamed_enum_values(version: str, method: str) -> bool:
    """True when an enum of the operation's messages gives one name another number now.

    The union schema follows the current release, so an enum *name* from an older
    release's server decodes to the current number: exact round trips against that
    release hold for enum numbers only (as the live API sends them).
    """
    if version == CURRENT:
        return False
    old, new = release(version), release(CURRENT)
    op = old.method(ENDPOINTS[method].name)
    assert op is not None
    seen: set[str] = set()
    todo = [op.input_type, op.output_type]
    while todo:
        d = todo.pop()
        if d.full_name in seen:
            continue
        seen.add(d.full_name)
        for f in d.fields:
            if f.message_type is not None:
                todo.append(f.message_type)
            if f.enum_type is not None:
                try:
                    now = new.pool.FindEnumTypeByName(f.enum_type.full_name)
                except KeyError:
                    continue
                for v in f.enum_type.values:
                    moved = now.values_by_name.get(v.name)
                    if moved is not None and moved.number != v.number:
                        return True
    return False


def request_class(endpoint: Endpoint[Any, Any], rel: Release) -> type[Message]:
    """The official request class of ``endpoint`` in ``rel``."""
    method = rel.method(endpoint.name)
    assert method is not None
    return rel.message_class(method.input_type)


def response_class(endpoint: Endpoint[Any, Any], rel: Release) -> type[Message]:
    """The official response class of ``endpoint`` in ``rel``."""
    method = rel.method(endpoint.name)
    assert method is not None
    return rel.message_class(method.output_type)


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
    fields: dict[str, Any] = {}
    for path in endpoint.templates[0].fields:
        if path[0] == "user_app_id":
            continue
        target = fields
        for name in path[:-1]:
            target = target.setdefault(name, {})
        target[path[-1]] = "an-id"
    return msgspec.convert(fields, endpoint.request_type)


def ok_answer(endpoint: Endpoint[Any, Any]) -> bytes | list[bytes]:
    """A bare success answer (NDJSON lines for a stream)."""
    body = b'{"status": {"code": 10000, "description": "Ok"}}'
    return [b'{"result": ' + body + b"}"] if endpoint.streaming else body


#: Every release the suite runs against, oldest first.
VERSIONS = RELEASES


def oneof_span(descriptor: Any) -> int:
    """The most members of one oneof among the messages reachable from ``descriptor``.

    The generator takes oneof members in turn, so an operation needs at least
    this many cases for every member of its messages to be exercised.
    """
    seen: set[str] = set()
    span = 1
    todo = [descriptor]
    while todo:
        d = todo.pop()
        if d.full_name in seen or d.full_name.startswith("google.protobuf."):
            continue
        seen.add(d.full_name)
        span = max([span, *(len(o.fields) for o in d.oneofs)])
        todo += [f.message_type for f in d.fields if f.message_type is not None]
    return span
