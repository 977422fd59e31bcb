"""The generated Structs against the official descriptors of both pinned releases.

The types are the union of clarifai-grpc 12.6.0 and 10.9.11: every field of
either, the current release's definition where both have one.
"""

from __future__ import annotations

import datetime
import enum
import types as pytypes
import typing
from typing import Any

import msgspec
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from aioclarifai import types
from aioclarifai._generated import types as _generated
from aioclarifai.endpoints import ENDPOINTS
from tests.roundtrip._releases import CURRENT, RELEASES, release

WELL_KNOWN: dict[str, Any] = {
    "google.protobuf.Timestamp": datetime.datetime,
    "google.protobuf.Duration": str,
    "google.protobuf.Struct": dict[str, Any],
    "google.protobuf.BoolValue": bool,
    "google.protobuf.UInt64Value": int,
    "google.protobuf.Int32Value": int,
    "google.protobuf.Int64Value": int,
    "google.protobuf.UInt32Value": int,
    "google.protobuf.StringValue": str,
    "google.protobuf.DoubleValue": float,
    "google.protobuf.FloatValue": float,
    "google.protobuf.BytesValue": bytes,
    "google.protobuf.ListValue": list[Any],
}
SCALARS: dict[int, Any] = {
    FieldDescriptor.TYPE_STRING: str,
    FieldDescriptor.TYPE_BYTES: bytes,
    FieldDescriptor.TYPE_BOOL: bool,
    FieldDescriptor.TYPE_FLOAT: float,
    FieldDescriptor.TYPE_DOUBLE: float,
}


def _name(full_name: str) -> str:
    for prefix in ("clarifai.api.status.", "clarifai.api.utils.", "clarifai.api."):
        if full_name.startswith(prefix):
            return full_name[len(prefix) :].replace(".", "_")
    return full_name.replace(".", "_")  # a few messages have no package


def _reachable(version: str) -> list[Descriptor]:
    seen: dict[str, Descriptor] = {}

    def walk(d: Descriptor) -> None:
        if d.full_name in seen or d.full_name.startswith("google.protobuf."):
            return
        if d.GetOptions().map_entry:
            walk_fields(d)
            return
        seen[d.full_name] = d
        walk_fields(d)

    def walk_fields(d: Descriptor) -> None:
        for f in d.fields:
            if f.message_type is not None:
                walk(f.message_type)

    rel = release(version)
    for endpoint in ENDPOINTS.values():
        method = rel.method(endpoint.name)
        if method is not None:
            walk(method.input_type)
            walk(method.output_type)
    return list(seen.values())


#: (release, message) for every message the operations reach in each release.
MESSAGES = [(v, d) for v in RELEASES for d in _reachable(v)]


def _expected_value_type(f: FieldDescriptor) -> Any:
    if f.message_type is not None:
        full = f.message_type.full_name
        if full == "google.protobuf.Value":
            return Any
        return WELL_KNOWN.get(full) or getattr(types, _name(full))
    return SCALARS.get(f.type, int)  # ints of every width and enums are int


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, pytypes.UnionType):
        args = [a for a in typing.get_args(tp) if a not in (type(None), msgspec.UnsetType)]
        assert len(args) == 1, tp
        return args[0]
    return tp


def test_every_reachable_message_is_generated() -> None:
    assert len(MESSAGES) > 900
    missing = [d.full_name for _, d in MESSAGES if not hasattr(types, _name(d.full_name))]
    assert not missing


def _current_fields(full_name: str) -> set[str]:
    try:
        return {f.name for f in release(CURRENT).message(full_name).fields}
    except KeyError:
        return set()


@pytest.mark.parametrize(
    ("version", "descriptor"), MESSAGES, ids=[f"{v}-{d.full_name}" for v, d in MESSAGES]
)
def test_fields_match_the_official_definition(version: str, descriptor: Descriptor) -> None:
    cls = getattr(types, _name(descriptor.full_name))
    assert issubclass(cls, types.Message)
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    names = [f.name for f in descriptor.fields]
    if version == CURRENT:
        assert list(fields)[: len(names)] == names  # wire names, proto order
    else:
        assert set(names) <= set(fields)  # every field of the older release is kept
    current = _current_fields(descriptor.full_name)
    enums = _generated.ENUM_FIELDS.get(cls.__name__, {})
    for f in descriptor.fields:
        if version != CURRENT and f.name in current:
            continue  # both releases define it: the current definition is the one generated
        ours = fields[f.name]
        mt = f.message_type
        if mt is not None and mt.GetOptions().map_entry:
            key, value = mt.fields_by_name["key"], mt.fields_by_name["value"]
            assert typing.get_origin(ours.type) is dict
            assert typing.get_args(ours.type) == (
                _expected_value_type(key),
                _expected_value_type(value),
            )
            assert ours.default is types.EMPTY_DICT  # shared, read-only: nothing allocated
        elif f.is_repeated:
            assert typing.get_origin(ours.type) is list, f.name
            assert typing.get_args(ours.type) == (_expected_value_type(f),), f.name
            assert ours.default is types.EMPTY_LIST  # shared, read-only: nothing allocated
        elif mt is not None:
            # Absent is None (UNSET for Value, which can hold null): never an empty message.
            want_default = msgspec.UNSET if mt.full_name == "google.protobuf.Value" else None
            assert ours.default is want_default, f.name
            assert _strip_optional(ours.type) == _expected_value_type(f), f.name
        else:
            assert _strip_optional(ours.type) == _expected_value_type(f), f.name
        if f.enum_type is not None:
            assert enums[f.name].__name__ == _name(f.enum_type.full_name)


def test_enums_are_open_ints_with_named_constants() -> None:
    assert issubclass(types.StatusCode, enum.IntEnum)
    assert types.StatusCode(10000).name == "SUCCESS"
    status = types.Status(code=21354)  # newer than the schema: still a valid value
    assert msgspec.json.decode(msgspec.json.encode(status), type=types.Status) == status


def test_empty_message_is_not_absent_on_the_wire() -> None:
    assert msgspec.json.encode(types.Output()) == b"{}"
    assert msgspec.json.encode(types.Output(model=types.Model())) == b'{"model":{}}'


def test_value_null_is_not_absent_on_the_wire() -> None:
    assert msgspec.json.encode(types.ModelTypeField(path="p")) == b'{"path":"p"}'
    spec = types.ModelTypeField(path="p", default_value=None)
    assert msgspec.json.encode(spec) == b'{"path":"p","default_value":null}'
    decoded = msgspec.json.decode(b'{"default_value": null}', type=types.ModelTypeField)
    assert decoded.default_value is None
    absent = msgspec.json.decode(b"{}", type=types.ModelTypeField)
    assert absent.default_value is msgspec.UNSET


def test_messages_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        types.Status(10000)  # type: ignore[call-arg]


def test_unset_repeated_fields_share_one_read_only_default() -> None:
    data = types.Data()
    assert data.concepts == [] and data.concepts is types.EMPTY_LIST
    with pytest.raises(TypeError, match="assign a new one"):
        data.concepts.append(types.Concept(id="c"))
    with pytest.raises(TypeError, match="assign a new one"):
        types.Image().hosted_image_info.update({"a": types.ImageInfo()})  # a map field
    data.concepts = [types.Concept(id="c")]  # assigning a new list works
    assert msgspec.json.encode(data) == b'{"concepts":[{"id":"c"}]}'
    decoded = msgspec.json.decode(b"{}", type=types.Data)
    assert decoded.concepts is types.EMPTY_LIST  # decoding allocates no empty lists
