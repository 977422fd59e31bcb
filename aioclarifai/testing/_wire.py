"""How FakeClarifai reads requests and writes answers, as the live API does.

Reading is strict: every generated message gets a twin Struct with
``forbid_unknown_fields=True`` (built once, at import), so an unknown field
anywhere in a body or query string is rejected in the same C pass that parses
it. Writing follows the live API's JSON mapping: snake_case names, enums as
numbers, 64-bit integers as strings, ``[]`` for empty list fields of
``Multi*`` responses, ``req_id`` in every status.
"""

from __future__ import annotations

import datetime
import functools
import sys
import types as _pytypes
import typing
from typing import Any
from urllib.parse import unquote_plus

import msgspec

from .. import _decode
from .._generated import types as g

__all__ = [
    "INT64_FIELDS",
    "WireError",
    "decode_body",
    "decode_query",
    "decode_twin",
    "encode_response",
]


class WireError(Exception):
    """A request the fake refuses: answered with ``http_status`` and a Clarifai ``code``."""

    def __init__(self, code: int, http_status: int, description: str, details: str = "") -> None:
        super().__init__(description)
        self.code = code
        self.http_status = http_status
        self.description = description
        self.details = details


# 64-bit integer fields (int64/uint64 in Clarifai's protos), which the live API
# sends as JSON strings: the union over both pinned releases. The generated
# types do not record the proto width, so the table lives here;
# tests/unit/test_fake_wire.py checks it against the official descriptors.
INT64_FIELDS: dict[str, frozenset[str]] = {
    "AppResourceCounts": frozenset(
        {"datasets", "models", "workflows", "modules", "inputs", "pipelines"}
    ),
    "CpuMetrics": frozenset({"memory_bytes", "millicores"}),
    "Data": frozenset({"int_value"}),
    "DatasetVersionExport": frozenset({"size"}),
    "FrameInfo": frozenset({"time"}),
    "GetResourceCountsResponse": frozenset(
        {"datasets", "models", "workflows", "modules", "inputs", "pipelines"}
    ),
    "HitCount": frozenset({"estimated_total"}),
    "InputsAddJobProgress": frozenset(
        {"pending_count", "in_progress_count", "success_count", "failed_count"}
    ),
    "InputsExtractionJobProgress": frozenset(
        {
            "audio_inputs_count",
            "image_inputs_count",
            "video_inputs_count",
            "text_inputs_count",
            "pending_archives_count",
            "in_progress_archives_count",
            "completed_archives_count",
            "failed_archives_count",
        }
    ),
    "ModelTypeEnumOptionAlias": frozenset({"id_int"}),
    "ModelVersionExport": frozenset({"size"}),
    "PipelineTemplateParameter": frozenset({"default_int"}),
    "PipelineTemplateParameter_Constraints_IntConstraints": frozenset({"min", "max"}),
    "PostArtifactVersionsUploadConfig": frozenset({"total_size", "storage_request_size"}),
    "PostArtifactVersionsUploadResponse": frozenset({"bytes_remaining"}),
    "PostModelVersionsTrainingTimeEstimateRequest": frozenset({"estimated_input_count"}),
    "PostModelVersionsUploadConfig": frozenset({"total_size", "storage_request_size"}),
    "PostModelVersionsUploadResponse": frozenset({"bytes_remaining"}),
    "PostPipelineStepVersionsUploadConfig": frozenset({"total_size", "storage_request_size"}),
    "PostPipelineStepVersionsUploadResponse": frozenset({"bytes_remaining"}),
    "PostTrackAnnotationsSearchesRequest": frozenset({"frame_time_start", "max_duration"}),
    "RunnerItemMetadata": frozenset({"block_hashes"}),
    "StatValueAggregate": frozenset({"count"}),
    "StreamAnnotationsRequest": frozenset({"frame_time_start", "max_duration"}),
    "TaskInputSourceMetrics": frozenset({"inputs_count_estimated"}),
    "TaskReviewMetrics": frozenset(
        {
            "inputs_count_estimated",
            "inputs_count_estimated_per_reviewer",
            "inputs_reviewable_count_estimated_per_reviewer",
        }
    ),
    "TaskWorkMetrics": frozenset({"inputs_count_estimated"}),
    "TrendingMetric": frozenset({"view_count"}),
    "Upload": frozenset({"content_length"}),
    "UploadContentPart": frozenset({"range_start", "part_number"}),
}

# -- strict twins -----------------------------------------------------------------

_STRICT_MODULE = "aioclarifai.testing._strict_types"


def _message_classes() -> dict[str, type[msgspec.Struct]]:
    out: dict[str, type[msgspec.Struct]] = {}
    for name in g.__all__:
        obj = getattr(g, name)
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct):
            out[name] = obj
    return out


def _annotation(tp: Any) -> str:
    """``tp`` written as source text in which message names refer to the strict twins."""
    if tp is type(None):
        return "None"
    if tp is Any:
        return "typing.Any"
    if tp is datetime.datetime:
        return "datetime.datetime"
    if tp is msgspec.UnsetType:
        return "msgspec.UnsetType"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, _pytypes.UnionType):
        return " | ".join(_annotation(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list[{_annotation(typing.get_args(tp)[0])}]"
    if origin is dict:
        key, value = typing.get_args(tp)
        return f"dict[{_annotation(key)}, {_annotation(value)}]"
    if isinstance(tp, type):
        return tp.__name__
    raise TypeError(f"unexpected field type {tp!r}")  # pragma: no cover


def _build_strict_types() -> dict[type, type]:
    module = _pytypes.ModuleType(_STRICT_MODULE)
    module.__dict__.update(datetime=datetime, typing=typing, msgspec=msgspec)
    sys.modules[_STRICT_MODULE] = module
    twins: dict[type, type] = {}
    for name, cls in _message_classes().items():
        fields: list[tuple[str, Any, Any]] = []
        for f in msgspec.structs.fields(cls):
            if f.default_factory is not msgspec.NODEFAULT:
                default: Any = msgspec.field(default_factory=f.default_factory)
            else:
                default = f.default
            fields.append((f.name, _annotation(f.type), default))
        twin = msgspec.defstruct(
            name,
            fields,
            kw_only=True,
            omit_defaults=True,
            forbid_unknown_fields=True,
            gc=False,
            module=_STRICT_MODULE,
        )
        setattr(module, name, twin)
        twins[cls] = twin
    return twins


_STRICT: dict[type, type] = _build_strict_types()


@functools.cache
def _strict_decoder(cls: type) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(_STRICT[cls], strict=False)


def _bad_request(error: Exception) -> WireError:
    return WireError(11100, 400, "Bad request format", str(error))


def decode_body(cls: type, body: bytes, path_values: dict[str, Any]) -> Any:
    """Decode ``body`` strictly as ``cls`` and fold in the values taken from the path.

    Unknown fields or wrongly typed values are a :class:`WireError` (400,
    11100). Enum names are accepted as well as numbers, as the live API does.
    """
    # Converting the strict twin copies references only: large base64 payloads
    # (upload parts) are decoded once.
    message: Any = msgspec.convert(decode_twin(cls, body), cls, from_attributes=True)
    if path_values:
        message = _with_path_values(message, path_values)
    return message


def decode_twin(cls: type, body: bytes) -> Any:
    """Decode ``body`` strictly into the strict twin of ``cls``, in one pass.

    For hot paths that only read the message and echo parts of it back: the
    twin encodes exactly as ``cls`` would.
    """
    if not body.strip():
        body = b"{}"
    try:
        return _strict_decoder(cls).decode(body)
    except msgspec.ValidationError:
        try:
            raw = _decode._enum_names_to_numbers(cls, msgspec.json.decode(body))
            return msgspec.convert(raw, _STRICT[cls], strict=False)
        except msgspec.DecodeError as exc:  # ValidationError included
            raise _bad_request(exc) from None
    except msgspec.DecodeError as exc:
        raise _bad_request(exc) from None


def _with_path_values(message: Any, path_values: dict[str, Any]) -> Any:
    changes: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for dotted, value in path_values.items():
        head, _, rest = dotted.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            changes[head] = value
    for head, sub in nested.items():
        child = getattr(message, head)
        if child is None:
            child_type = _field_message_type(type(message), head)
            child = child_type()
        changes[head] = _with_path_values(child, sub)
    return msgspec.structs.replace(message, **changes)


@functools.cache
def _field_info(cls: type) -> dict[str, tuple[bool, type | None]]:
    """Per field: (is repeated, message type or None)."""
    out: dict[str, tuple[bool, type | None]] = {}
    for f in msgspec.structs.fields(cls):
        tp = f.type
        repeated = False
        origin = typing.get_origin(tp)
        if origin in (typing.Union, _pytypes.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
        elif origin is list:
            repeated = True
            tp = typing.get_args(tp)[0]
        msg = tp if isinstance(tp, type) and issubclass(tp, msgspec.Struct) else None
        out[f.name] = (repeated, msg)
    return out


def _field_message_type(cls: type, name: str) -> type:
    msg = _field_info(cls)[name][1]
    assert msg is not None
    return msg


def decode_query(cls: type, query: str, path_values: dict[str, Any]) -> Any:
    """Decode a grpc-gateway query string (dotted nesting, repeated keys) strictly as ``cls``."""
    raw: dict[str, Any] = {}
    if query:
        for pair in query.split("&"):
            if not pair:
                continue
            key, _, value = pair.partition("=")
            # As Go's url.ParseQuery (grpc-gateway) reads it: "+" is a space.
            _assign(cls, raw, unquote_plus(key).split("."), unquote_plus(value))
    for dotted, value in path_values.items():
        _assign(cls, raw, dotted.split("."), value)
    try:
        raw = _decode._enum_names_to_numbers(cls, raw)
        msgspec.convert(raw, _STRICT[cls], strict=False)
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise _bad_request(exc) from None


def _assign(cls: type | None, target: dict[str, Any], keys: list[str], value: str) -> None:
    info = _field_info(cls) if cls is not None else {}
    head = keys[0]
    repeated, msg = info.get(head, (False, None))
    if len(keys) > 1:
        # Unknown heads still nest, so the strict check names the unknown field.
        child = target.setdefault(head, {})
        if not isinstance(child, dict):
            raise WireError(11100, 400, "Bad request format", f"field {head!r} is not a message")
        _assign(msg, child, keys[1:], value)
    elif repeated:
        target.setdefault(head, []).append(value)
    else:
        target[head] = value


# -- answers --------------------------------------------------------------------------


@functools.cache
def _reaching_int64() -> frozenset[type]:
    """Message types from which some 64-bit integer field can be reached."""
    classes = list(_message_classes().values())
    found = {c for c in classes if c.__name__ in INT64_FIELDS}
    grew = True
    while grew:
        grew = False
        for cls in classes:
            if cls not in found and any(m in found for _, m in _field_info(cls).values()):
                found.add(cls)
                grew = True
    return frozenset(found)


@functools.cache
def _int64_plan(cls: type) -> dict[str, tuple[bool, type | None]]:
    """Fields of ``cls`` to visit when turning 64-bit integers into strings.

    Maps a field to (is a 64-bit integer, message type to descend into). Empty
    when no 64-bit integer can be reached from ``cls``.
    """
    reaching = _reaching_int64()
    own = INT64_FIELDS.get(cls.__name__, frozenset())
    plan: dict[str, tuple[bool, type | None]] = {}
    for name, (_repeated, msg) in _field_info(cls).items():
        if name in own:
            plan[name] = (True, None)
        elif msg is not None and msg in reaching:
            plan[name] = (False, msg)
    return plan


def _stringify(value: Any, cls: type) -> None:
    plan = _int64_plan(cls)
    if not plan or not isinstance(value, dict):
        return
    for name, (is_int64, msg) in plan.items():
        sub = value.get(name)
        if sub is None:
            continue
        if is_int64:
            if isinstance(sub, list):
                value[name] = [str(v) for v in sub]
            else:
                value[name] = str(sub)
        elif msg is not None:
            if isinstance(sub, list):
                for item in sub:
                    _stringify(item, msg)
            else:
                _stringify(sub, msg)


@functools.cache
def _list_fields(cls: type) -> tuple[str, ...]:
    """List fields a ``Multi*`` response always carries, as ``[]`` when empty."""
    if not cls.__name__.startswith("Multi"):
        return ()
    return tuple(f.name for f in msgspec.structs.fields(cls) if typing.get_origin(f.type) is list)


_encoder = msgspec.json.Encoder()


def encode_response(response: Any) -> bytes:
    """``response`` as the live API writes it (see the module docstring)."""
    cls: Any = type(response)
    lists = _list_fields(cls)
    plan = _int64_plan(cls)
    if not lists and not plan:
        return _encoder.encode(response)
    raw = msgspec.to_builtins(response)
    for name in lists:
        raw.setdefault(name, [])
    if plan:
        _stringify(raw, cls)
    return _encoder.encode(raw)
