"""Typed decoding of Clarifai JSON: 64-bit strings, enum names, open enums, timestamps."""

from __future__ import annotations

import datetime

import msgspec
import pytest

from aioclarifai import types
from aioclarifai._decode import convert, decode, decoder_for

UTC = datetime.timezone.utc


def test_int64_from_strings_and_numbers_is_exact() -> None:
    top = 2**64 - 1
    got = decode(types.Upload, f'{{"content_length": "{top}"}}')
    assert got.content_length == top
    assert decode(types.Upload, f'{{"content_length": {top}}}').content_length == top
    part = decode(types.UploadContentPart, '{"range_start": "9007199254740993"}')
    assert part.range_start == 2**53 + 1


def test_bytes_from_base64() -> None:
    assert decode(types.UploadContentPart, '{"data": "AP8="}').data == b"\x00\xff"


def test_enum_names_become_numbers_at_any_depth() -> None:
    body = (
        '{"status": {"code": "CONN_THROTTLED"}, "outputs": [{"status": {"code": "SUCCESS"},'
        ' "model": {"visibility": {"gettable": "PUBLIC"}}}]}'
    )
    got = decode(types.MultiOutputResponse, body)
    assert got.status is not None and got.status.code == types.StatusCode.CONN_THROTTLED
    out = got.outputs[0]
    assert out.status is not None and out.status.code == 10000
    assert out.model is not None and out.model.visibility is not None
    assert out.model.visibility.gettable == types.Visibility_Gettable.PUBLIC


def test_convert_accepts_enum_names_too() -> None:
    got = convert(types.Status, {"code": "MODEL_DEPLOYING"})
    assert got.code == types.StatusCode.MODEL_DEPLOYING


@pytest.mark.parametrize("code", [21354, 21355, 99999, -1])
def test_unknown_enum_numbers_are_kept(code: int) -> None:
    got = decode(types.Status, f'{{"code": {code}}}')
    assert got.code == code
    assert msgspec.json.encode(got) == f'{{"code":{code}}}'.encode()


def test_unknown_enum_name_is_a_validation_error() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode(types.Status, '{"code": "NO_SUCH_CODE"}')


@pytest.mark.parametrize("name", ["mro", "__class__", "__members__", "name"])
def test_enum_class_attributes_are_not_member_names(name: str) -> None:
    # Attributes of the enum class that are not members must fail validation like
    # any unknown name, never leak a TypeError from int(<method>).
    with pytest.raises(msgspec.ValidationError):
        decode(types.Status, f'{{"code": "{name}"}}')
    with pytest.raises(msgspec.ValidationError):
        convert(types.Status, {"code": name})


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("2025-02-28T09:41:55Z", datetime.datetime(2025, 2, 28, 9, 41, 55, tzinfo=UTC)),
        ("2025-02-28T09:41:55.568Z", datetime.datetime(2025, 2, 28, 9, 41, 55, 568000, UTC)),
        ("2025-02-28T09:41:55.568082659Z", datetime.datetime(2025, 2, 28, 9, 41, 55, 568083, UTC)),
        ("2025-02-28T09:41:55.999999999Z", datetime.datetime(2025, 2, 28, 9, 41, 56, tzinfo=UTC)),
    ],
)
def test_timestamps_with_up_to_nine_fraction_digits(wire: str, expected: datetime.datetime) -> None:
    got = decode(types.Upload, f'{{"created_at": "{wire}"}}').created_at
    assert got == expected and got.tzinfo is not None


def test_struct_metadata_is_plain_json_with_nulls() -> None:
    raw = {"a": {"b": [1.5, None, {"c": None}], "d": True}, "e": None, "f": "x"}
    got = decode(types.Data, msgspec.json.encode({"metadata": raw}))
    assert got.metadata == raw
    assert msgspec.json.decode(msgspec.json.encode(got))["metadata"] == raw


def test_empty_and_absent_messages_differ() -> None:
    got = decode(types.Output, '{"model": {}, "data": null}')
    assert got.model == types.Model()
    assert got.data is None and got.input is None


def test_unknown_fields_are_ignored() -> None:
    got = decode(types.Status, '{"code": 10000, "brand_new_field": {"x": [1]}}')
    assert got == types.Status(code=10000)


def test_decoders_are_cached_per_type() -> None:
    assert decoder_for(types.MultiOutputResponse) is decoder_for(types.MultiOutputResponse)
