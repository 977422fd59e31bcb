"""Response direction: the strict server answers a random, fully populated official
response; the client's typed result, converted back, equals what was sent."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from aioclarifai import Client
from aioclarifai.endpoints import ENDPOINTS

from ._cases import METHODS, assert_same, minimal_request, response_class, to_official
from ._official import STATUS_CODE_ENUM, UNKNOWN_STATUS_CODES, Generator, all_fields, unknown_enums
from ._server import StrictServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Enums as numbers or names, with or without status codes newer than the schema.
VARIANTS = [(ints, unknown) for ints in (True, False) for unknown in (False, True)]
CASES = [(method, *variant) for method in METHODS for variant in VARIANTS]
STREAM_CHUNKS = 3
COVERED: set[tuple[str, str]] = set()
#: Enum numbers unknown to the schema that went through a response, with how often.
UNKNOWN: Counter[tuple[str, int]] = Counter()


def _encode(message: Message, ints: bool) -> bytes:
    text: str = json_format.MessageToJson(
        message, preserving_proto_field_name=True, use_integers_for_enums=ints, indent=None
    )
    return text.encode()


@pytest.mark.parametrize(
    ("method", "ints", "unknown"),
    CASES,
    ids=[f"{m}-{'numbers' if i else 'names'}{'-unknown' if u else ''}" for m, i, u in CASES],
)
async def test_response_round_trip(
    server: StrictServer, client: Client, method: str, ints: bool, unknown: bool
) -> None:
    endpoint = ENDPOINTS[method]
    cls = response_class(endpoint)
    gen = Generator(random.Random(f"response/{method}/{ints}/{unknown}"), unknown_enums=unknown)
    sent = [gen.message(cls) for _ in range(STREAM_CHUNKS if endpoint.streaming else 1)]
    COVERED.update(gen.covered)
    for message in sent:
        message.status.code = 10000  # success; nested statuses keep their random codes
        UNKNOWN.update(unknown_enums(message))

    lines = [_encode(m, ints) for m in sent]
    if endpoint.streaming:
        server.expect(endpoint.name, lambda _msg: [b'{"result": ' + ln + b"}" for ln in lines])
        async with client.generate_model_outputs(minimal_request(endpoint)) as stream:
            decoded = [chunk async for chunk in stream]
    else:
        server.expect(endpoint.name, lambda _msg: lines[0])
        decoded = [await getattr(client, method)(minimal_request(endpoint))]
    server.take()
    assert len(decoded) == len(sent)
    for got, want in zip(decoded, sent, strict=True):
        assert isinstance(got, endpoint.response_type)
        assert_same(to_official(got, cls), want)


async def test_every_response_field_was_exercised() -> None:
    """The generator set every field of every response message."""
    if not COVERED:
        pytest.skip("round trips did not run")
    wanted = all_fields([response_class(ENDPOINTS[m]).DESCRIPTOR for m in METHODS])
    missing = sorted(wanted - COVERED)
    assert not missing, f"{len(missing)} of {len(wanted)} fields never set: {missing[:20]}"


async def test_unknown_enum_numbers_went_through() -> None:
    """Status codes newer than the schema (and other unknown enum numbers) were round-tripped."""
    if not UNKNOWN:
        pytest.skip("round trips did not run")
    codes = {n for (enum, n) in UNKNOWN if enum == STATUS_CODE_ENUM}
    assert codes == set(UNKNOWN_STATUS_CODES)
    assert len({enum for enum, _ in UNKNOWN}) > 10
