"""Clarifai's official definitions, read the official way (tests only).

Everything here comes from the committed descriptor sets of the pinned
clarifai-grpc releases (:mod:`._releases`) and ``google.protobuf``, never from
aioclarifai: the HTTP rules of the V2 service, a path-template matcher working
on the raw percent-encoded path, a grpc-gateway style query string parser, and
a random generator of fully populated official messages.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import re
import struct
from typing import Any
from urllib.parse import unquote, unquote_plus

from google.api import annotations_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

__all__ = [
    "NASTY_IDS",
    "STATUS_CODE_ENUM",
    "UNKNOWN_STATUS_CODES",
    "Generator",
    "HttpRule",
    "QueryError",
    "all_fields",
    "get_path",
    "message_class",
    "parse_query",
    "rules_of",
    "set_path",
    "unknown_enums",
    "unknown_status_codes",
]

#: Ids that must survive a trip through a path segment unchanged.
NASTY_IDS = (
    ".", "..", "/", "?", "#", "%", " ", "a/b", "%2F", "a?b=c&d#e", "..%2e", "ü日本語",
    "emoji 🦄", "+plus+", "semi;colon", "tab\tnew\nline", "%25", "~tilde'quote\"",
)  # fmt: skip

#: Status codes newer than clarifai-grpc 10.9.11 (and one nobody knows).
UNKNOWN_STATUS_CODES = (21354, 21355, 99999)
#: Status codes no pinned release knows (12.6.0 knows the first two above).
_LATER_CODES = (21990, 21991, 99999)


def unknown_status_codes(status_code: EnumDescriptor) -> tuple[int, ...]:
    """Three status codes ``status_code`` (a release's StatusCode enum) does not know."""
    for codes in (UNKNOWN_STATUS_CODES, _LATER_CODES):
        if not any(c in status_code.values_by_number for c in codes):
            return codes
    raise AssertionError("every candidate code is known")  # pragma: no cover


STATUS_CODE_ENUM = "clarifai.api.status.StatusCode"


def message_class(descriptor: Descriptor) -> type[Message]:
    """The official generated class of ``descriptor``."""
    cls: type[Message] = GetMessageClass(descriptor)
    return cls


# -- HTTP rules ------------------------------------------------------------------

_VAR = re.compile(r"^\{([a-z0-9_.]+)\}$")
#: RFC 3986 ``segment``: unreserved, percent-encoded, sub-delims, ``:`` and ``@``.
_PCHARS = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*$")


@dataclasses.dataclass(frozen=True)
class HttpRule:
    """One binding of a google.api.http annotation."""

    operation: str
    verb: str
    template: str
    body: str

    @property
    def segments(self) -> list[str]:
        """The template's segments after the leading ``/``."""
        return self.template.lstrip("/").split("/")

    @property
    def literals(self) -> int:
        """How many segments are literal: the more, the more specific (they win a tie)."""
        return sum(1 for s in self.segments if not _VAR.match(s))

    @property
    def path_fields(self) -> list[str]:
        """Dotted names of the fields bound in the path."""
        return [m.group(1) for s in self.segments if (m := _VAR.match(s))]

    def match(self, verb: str, raw_path: str) -> dict[str, str] | None:
        """Path values when ``raw_path`` (still percent-encoded) fits this rule.

        Each variable matches exactly one raw segment and is percent-decoded
        once, as grpc-gateway does; a ``/`` inside a value must come encoded.
        """
        if verb != self.verb:
            return None
        raw = raw_path.lstrip("/").split("/")
        segs = self.segments
        if len(raw) != len(segs):
            return None
        if any(got in (".", "..") or not _PCHARS.match(got) for got in raw):
            # Any HTTP stack would normalise these away, or they are not a valid path.
            return None
        values: dict[str, str] = {}
        for seg, got in zip(segs, raw, strict=True):
            var = _VAR.match(seg)
            if var is None:
                if seg != got:
                    return None
            else:
                if not got:
                    return None
                values[var.group(1)] = unquote(got, errors="strict")
        return values


def rules_of(method: MethodDescriptor) -> list[HttpRule]:
    """All HTTP bindings of a V2 method, in declaration order."""
    rule = method.GetOptions().Extensions[annotations_pb2.http]
    out = []
    for r in [rule, *rule.additional_bindings]:
        verb = r.WhichOneof("pattern")
        assert verb is not None
        out.append(HttpRule(method.name, verb.upper(), getattr(r, verb), r.body))
    return out


def set_path(message: Message, dotted: str, value: str) -> None:
    """Set the string field at ``dotted`` (``user_app_id.app_id``)."""
    *parents, last = dotted.split(".")
    for name in parents:
        message = getattr(message, name)
    setattr(message, last, value)


def get_path(message: Message, dotted: str) -> Any:
    """The value at ``dotted``."""
    value: Any = message
    for name in dotted.split("."):
        value = getattr(value, name)
    return value


# -- grpc-gateway query strings ----------------------------------------------------


class QueryError(ValueError):
    """The query string breaks grpc-gateway's rules."""


_WRAPPERS = {
    "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
    "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int32Value",
    "google.protobuf.Int64Value", "google.protobuf.UInt32Value", "google.protobuf.UInt64Value",
}  # fmt: skip
_INT_BITS = {
    FieldDescriptor.TYPE_INT32: (True, 32), FieldDescriptor.TYPE_SINT32: (True, 32),
    FieldDescriptor.TYPE_SFIXED32: (True, 32), FieldDescriptor.TYPE_INT64: (True, 64),
    FieldDescriptor.TYPE_SINT64: (True, 64), FieldDescriptor.TYPE_SFIXED64: (True, 64),
    FieldDescriptor.TYPE_UINT32: (False, 32), FieldDescriptor.TYPE_FIXED32: (False, 32),
    FieldDescriptor.TYPE_UINT64: (False, 64), FieldDescriptor.TYPE_FIXED64: (False, 64),
}  # fmt: skip
# Go's strconv.ParseBool, which grpc-gateway uses.
_GO_BOOL = {**dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
            **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False)}  # fmt: skip
_DECIMAL = re.compile(r"^[+-]?[0-9]+$")
#: Well-known messages a query string carries in their JSON string form.
_QUERY_WELL_KNOWN = {"google.protobuf.Timestamp", "google.protobuf.Duration"}


def _field(descriptor: Descriptor, name: str) -> FieldDescriptor:
    """A field by proto name or JSON name (grpc-gateway accepts both)."""
    f = descriptor.fields_by_name.get(name)
    if f is None:
        f = next((x for x in descriptor.fields if x.json_name == name), None)
    if f is None:
        raise QueryError(f"unknown field {name!r} in {descriptor.full_name}")
    return f


def _scalar(f: FieldDescriptor, text: str) -> Any:
    if f.type == FieldDescriptor.TYPE_STRING:
        return text
    if f.type == FieldDescriptor.TYPE_BOOL:
        if text not in _GO_BOOL:
            raise QueryError(f"{f.name}: bad bool {text!r}")
        return _GO_BOOL[text]
    if f.type in _INT_BITS:
        signed, bits = _INT_BITS[f.type]
        if not _DECIMAL.match(text):
            raise QueryError(f"{f.name}: bad integer {text!r}")
        n = int(text)
        lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        if not lo <= n <= hi:
            raise QueryError(f"{f.name}: {n} out of range")
        return n
    if f.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        try:
            return float(text)
        except ValueError:
            raise QueryError(f"{f.name}: bad number {text!r}") from None
    if f.type == FieldDescriptor.TYPE_BYTES:
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            try:  # then the URL alphabet, as strictly
                url = text.replace("-", "+").replace("_", "/")
                return base64.b64decode(url, validate=True)
            except ValueError:
                raise QueryError(f"{f.name}: bad base64 {text!r}") from None
    if f.type == FieldDescriptor.TYPE_ENUM:
        value = f.enum_type.values_by_name.get(text)
        if value is not None:
            return value.number
        if not _DECIMAL.match(text) or int(text) not in f.enum_type.values_by_number:
            raise QueryError(f"{f.name}: {text!r} is not a valid {f.enum_type.full_name}")
        return int(text)
    raise QueryError(f"{f.name}: type {f.type} cannot come in a query")  # pragma: no cover


def parse_query(raw_query: str, message: Message, path_fields: list[str]) -> None:
    """Fill ``message`` from a raw query string the way grpc-gateway does, strictly.

    Keys are dotted field paths into singular messages; a repeated scalar field
    repeats its key; enums come by name or by known number; bools as Go's
    ``strconv.ParseBool``; well-known types from their JSON string forms.
    Unknown fields, path fields, a second value for a singular field and a
    second member of a oneof are errors rather than silently ignored.
    """
    seen: set[str] = set()
    for pair in raw_query.split("&"):
        if not pair:
            continue
        raw_key, sep, raw_value = pair.partition("=")
        if not sep:
            raise QueryError(f"parameter without '=': {pair!r}")
        key = unquote_plus(raw_key, errors="strict")
        value = unquote_plus(raw_value, errors="strict")
        if key in path_fields:
            raise QueryError(f"path field {key!r} repeated in the query")
        target: Message = message
        names = key.split(".")
        for name in names[:-1]:
            f = _field(target.DESCRIPTOR, name)
            if f.message_type is None or f.is_repeated:
                raise QueryError(f"{key}: {name!r} is not a singular message")
            target = getattr(target, f.name)
        f = _field(target.DESCRIPTOR, names[-1])
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            raise QueryError(f"{key}: map fields are not supported here")
        if not f.is_repeated:
            if key in seen:
                raise QueryError(f"{key}: singular field given twice")
            oneof = f.containing_oneof
            if oneof is not None:
                other = target.WhichOneof(oneof.name)
                if other is not None and other != f.name:
                    raise QueryError(f"{key}: oneof {oneof.name} already has {other}")
        seen.add(key)
        if f.message_type is not None:
            full = f.message_type.full_name
            if f.is_repeated or (full not in _WRAPPERS and full not in _QUERY_WELL_KNOWN):
                raise QueryError(f"{key}: message field {full} cannot come in a query")
            # Well-known types take their JSON form, as a string.
            sub = f.message_type
            if full in _WRAPPERS:
                inner = _scalar(sub.fields_by_name["value"], value)
                getattr(target, f.name).value = inner
            else:
                json_format.Parse(json.dumps(value), getattr(target, f.name))
            continue
        parsed = _scalar(f, value)
        if f.is_repeated:
            getattr(target, f.name).append(parsed)
        else:
            setattr(target, f.name, parsed)


# -- random, fully populated official messages ---------------------------------------

_TS_MIN = -62135596800  # 0001-01-01T00:00:00Z
_TS_MAX = 253402300799  # 9999-12-31T23:59:59Z
_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
#: Next member per oneof (shared by all generators: coverage over the session).
#: Keyed by pool and name: each release has its own turns.
_ONEOF_TURNS: dict[tuple[int, str], int] = {}
_ALPHABET = "abcXYZ019 ._-/?#%&=+;:,@!$'()*[]{}<>|\\\"\t\n\r\x00\x7fé日本語ß🦄𝄞\u200b\u2028"


@dataclasses.dataclass
class Generator:
    """Random official messages with every field set.

    Each message type is expanded in full at most ``expansions`` times per
    tree (and never inside itself), which bounds the size while still
    reaching every type. Beyond that, message fields are left absent or set to
    an *empty* message, so both shapes are exercised. ``query_safe`` keeps to
    what a query string can carry (no empty messages). ``unknown_enums``
    puts numbers the schema does not know into every enum field (status codes
    the release does not know into status-code fields); never in a query
    string, where grpc-gateway refuses them.
    """

    rng: random.Random
    query_safe: bool = False
    unknown_enums: bool = False
    expansions: int = 2
    max_depth: int = 9
    covered: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    _used: dict[str, int] = dataclasses.field(default_factory=dict)

    def message(self, cls: type[Message]) -> Message:
        """A new, fully populated ``cls``."""
        msg = cls()
        self._used.clear()
        self._fill(msg, (), 0)
        return msg

    # -- messages --------------------------------------------------------------

    def _member(self, oneof: Any) -> FieldDescriptor:
        """Oneof members in turn across the whole session, so each one is exercised."""
        key = (id(oneof.containing_type.file.pool), oneof.full_name)
        turn = _ONEOF_TURNS.get(key, self.rng.randrange(len(oneof.fields)))
        _ONEOF_TURNS[key] = turn + 1
        member: FieldDescriptor = oneof.fields[turn % len(oneof.fields)]
        return member

    def _expandable(self, d: Descriptor, stack: tuple[str, ...], depth: int) -> bool:
        return (
            depth < self.max_depth
            and d.full_name not in stack
            and self._used.get(d.full_name, 0) < self.expansions
        )

    def _fill(self, msg: Message, stack: tuple[str, ...], depth: int) -> None:
        d = msg.DESCRIPTOR
        self._used[d.full_name] = self._used.get(d.full_name, 0) + 1
        stack = (*stack, d.full_name)
        chosen = {o.name: self._member(o) for o in d.oneofs if not _synthetic(o)}
        for f in d.fields:
            o = f.containing_oneof
            if o is not None and not _synthetic(o) and chosen[o.name] is not f:
                continue
            if self._set_field(msg, f, stack, depth):
                self.covered.add((d.full_name, f.name))

    def _set_field(
        self, msg: Message, f: FieldDescriptor, stack: tuple[str, ...], depth: int
    ) -> bool:
        mt = f.message_type
        if mt is not None and mt.GetOptions().map_entry:
            if self.query_safe:
                return False
            key_f, val_f = mt.fields_by_name["key"], mt.fields_by_name["value"]
            target = getattr(msg, f.name)
            for _ in range(self.rng.randint(1, 2)):
                key = self._scalar(key_f)
                if val_f.message_type is not None:
                    self._sub(target[key], val_f.message_type, stack, depth)
                else:
                    target[key] = self._scalar(val_f)
            return True
        if f.is_repeated:
            items = getattr(msg, f.name)
            if mt is None:
                items.extend(self._scalar(f) for _ in range(self.rng.randint(1, 3)))
                return True
            if self.query_safe:
                return False
            for _ in range(self.rng.randint(1, 2)):
                self._sub(items.add(), mt, stack, depth)
            return True
        if mt is None:
            value = self._scalar(f)
            if not f.has_presence and not value:
                return False
            setattr(msg, f.name, value)
            return True
        return self._sub_field(msg, f, stack, depth)

    def _sub_field(
        self, msg: Message, f: FieldDescriptor, stack: tuple[str, ...], depth: int
    ) -> bool:
        mt = f.message_type
        special = self._well_known(mt)
        if special is not None:
            if self.query_safe and mt.full_name not in _QUERY_WELL_KNOWN:
                return False
            special(getattr(msg, f.name))
            return True
        if not self._expandable(mt, stack, depth):
            if self.query_safe or self.rng.random() < 0.5:
                return False
            getattr(msg, f.name).SetInParent()  # present but empty
            return True
        self._fill(getattr(msg, f.name), stack, depth + 1)
        if self.query_safe and not getattr(msg, f.name).ListFields():
            msg.ClearField(f.name)
            return False
        return True

    def _sub(self, target: Message, mt: Descriptor, stack: tuple[str, ...], depth: int) -> None:
        special = self._well_known(mt)
        if special is not None:
            special(target)
        elif self._expandable(mt, stack, depth):
            self._fill(target, stack, depth + 1)

    # -- well-known types ----------------------------------------------------------

    def _well_known(self, mt: Descriptor) -> Any:
        name = mt.full_name
        if name == "google.protobuf.Timestamp":
            return self.timestamp
        if name == "google.protobuf.Duration":
            return self.duration
        if name == "google.protobuf.Struct":
            return lambda m: m.update(self.json_object(3))
        if name == "google.protobuf.Value":
            return lambda m: json_format.ParseDict(self.json_value(3), m)
        if name == "google.protobuf.ListValue":
            return lambda m: m.extend(self.json_list(3))
        if name in _WRAPPERS:
            return lambda m: setattr(m, "value", self._scalar(mt.fields_by_name["value"]))
        return None

    def timestamp(self, m: Message) -> None:
        """A timestamp with microsecond precision (datetime keeps no more)."""
        m.seconds = self.rng.choice(
            [self.rng.randint(_TS_MIN, _TS_MAX), self.rng.randint(0, 4_102_444_800)]
        )
        m.nanos = self.rng.choice([0, 1000 * self.rng.randint(0, 999_999), 123_000_000])

    def duration(self, m: Message) -> None:
        """A duration within protobuf's JSON range, nanos of the same sign."""
        m.seconds = self.rng.choice([0, 1, 315_576_000_000, self.rng.randint(-(10**9), 10**9)])
        sign = -1 if m.seconds < 0 else 1
        m.nanos = sign * self.rng.choice([0, 1, 500_000_000, self.rng.randint(0, 999_999_999)])

    def json_value(self, depth: int) -> Any:
        """A random JSON value (objects, lists, nulls, numbers, strings, bools)."""
        kinds = ["null", "bool", "num", "str"] + (["obj", "list"] if depth > 0 else [])
        kind = self.rng.choice(kinds)
        if kind == "null":
            return None
        if kind == "bool":
            return self.rng.random() < 0.5
        if kind == "num":
            return self.rng.choice(
                [self.rng.uniform(-1e6, 1e6), float(self.rng.randint(-(2**53), 2**53)), 0.0,
                 1e300, -2.5e-300, 1e20]
            )  # fmt: skip
        if kind == "str":
            return self.string()
        if kind == "obj":
            return self.json_object(depth - 1)
        return self.json_list(depth - 1)

    def json_object(self, depth: int) -> dict[str, Any]:
        """A random JSON object that always holds a null, a list and a nested object."""
        out: dict[str, Any] = {self.string(): self.json_value(depth) for _ in range(2)}
        out["null"] = None
        if depth > 0:
            out["nested"] = {"deeper": self.json_value(depth - 1), "none": None}
            out["list"] = self.json_list(depth - 1)
        return out

    def json_list(self, depth: int) -> list[Any]:
        """A random JSON list with a null in it."""
        return [self.json_value(depth) for _ in range(2)] + [None]

    # -- scalars -------------------------------------------------------------------

    def string(self) -> str:
        """A random string of awkward characters."""
        n = self.rng.randint(1, 12)
        return "".join(self.rng.choice(_ALPHABET) for _ in range(n))

    def _scalar(self, f: FieldDescriptor) -> Any:
        t = f.type
        rng = self.rng
        if t == FieldDescriptor.TYPE_STRING:
            return self.string()
        if t == FieldDescriptor.TYPE_BOOL:
            return True if not f.has_presence else rng.random() < 0.5
        if t == FieldDescriptor.TYPE_BYTES:
            return rng.randbytes(rng.randint(1, 40))
        if t == FieldDescriptor.TYPE_ENUM:
            if self.unknown_enums and not self.query_safe and not f.enum_type.is_closed:
                # Open enums: numbers newer than the schema must pass through (a JSON
                # body only: grpc-gateway refuses an unknown number in a query string).
                if f.enum_type.full_name == STATUS_CODE_ENUM:
                    return rng.choice(unknown_status_codes(f.enum_type))
                return max(f.enum_type.values_by_number) + rng.randint(1, 1000)
            values = [v.number for v in f.enum_type.values if v.number != 0 or f.has_presence]
            return rng.choice(values or [0])
        if t in _INT_RANGES:
            lo, hi = _INT_RANGES[t]
            if hi > 2**53:
                # Beyond a double's exact range, and the extremes.
                picks = [2**53 + 1, hi, hi - 1, rng.randint(2**53, hi)]
                if lo < 0:
                    picks += [lo, -(2**53) - 1]
                return rng.choice(picks)
            return rng.choice([lo or 1, hi, rng.randint(lo, hi)]) or 1
        if t == FieldDescriptor.TYPE_FLOAT:
            x = rng.choice([rng.uniform(-1e6, 1e6), rng.uniform(0, 1), 3.4e38, 1e-30])
            return struct.unpack("<f", struct.pack("<f", x))[0] or 0.5
        if t == FieldDescriptor.TYPE_DOUBLE:
            return rng.choice([rng.uniform(-1e9, 1e9), rng.random(), 1e308, 5e-324, 0.1])
        raise AssertionError(f"unhandled type {t}")  # pragma: no cover


def unknown_enums(message: Message) -> list[tuple[str, int]]:
    """(enum name, number) of every enum value in ``message`` its schema does not know."""
    out: list[tuple[str, int]] = []
    for f, value in message.ListFields():
        mt = f.message_type
        if mt is not None and mt.GetOptions().map_entry:
            val_f = mt.fields_by_name["value"]
            items = list(value.values()) if val_f.message_type is not None else []
        elif mt is not None:
            items = list(value) if f.is_repeated else [value]
        else:
            items = []
        for item in items:
            if not item.DESCRIPTOR.full_name.startswith("google.protobuf."):
                out += unknown_enums(item)
        if f.enum_type is not None:
            numbers = list(value) if f.is_repeated else [value]
            known = f.enum_type.values_by_number
            out += [(f.enum_type.full_name, n) for n in numbers if n not in known]
    return out


def _synthetic(oneof: Any) -> bool:
    """proto3 ``optional`` fields sit in a oneof of their own."""
    return len(oneof.fields) == 1 and oneof.name == f"_{oneof.fields[0].name}"


def all_fields(descriptors: list[Descriptor], query_safe: bool = False) -> set[tuple[str, str]]:
    """Every (message, field) pair reachable from ``descriptors``.

    ``query_safe``: only what a query string can carry, as :class:`Generator`
    sets it (no maps, no lists of messages, no well-known messages but
    timestamps and durations).
    """
    out: set[tuple[str, str]] = set()
    seen: set[str] = set()

    def walk(d: Descriptor) -> None:
        if d.full_name in seen or d.full_name.startswith("google.protobuf."):
            return
        seen.add(d.full_name)
        for f in d.fields:
            mt = f.message_type
            if mt is not None and mt.GetOptions().map_entry:
                if query_safe:
                    continue
                out.add((d.full_name, f.name))
                if mt.fields_by_name["value"].message_type is not None:
                    walk(mt.fields_by_name["value"].message_type)
                continue
            if (
                query_safe
                and mt is not None
                and (
                    f.is_repeated
                    or (
                        mt.full_name.startswith("google.protobuf.")
                        and mt.full_name not in _QUERY_WELL_KNOWN
                    )
                )
            ):
                continue
            out.add((d.full_name, f.name))
            if mt is not None:
                walk(mt)

    for d in descriptors:
        walk(d)
    return out
