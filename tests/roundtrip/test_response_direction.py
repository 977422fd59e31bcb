"""Response direction: the strict server answers a random, fully populated official
response; the client's typed result, converted back, equals what was sent.

Every operation, against each release that has it (see test_request_direction)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from aioclarifai.endpoints import ENDPOINTS

from ._cases import (
    VERSIONS,
    assert_same,
    methods,
    minimal_request,
    oneof_span,
    renamed_enum_values,
    response_class,
    to_official,
)
from ._official import STATUS_CODE_ENUM, Generator, all_fields, unknown_enums, unknown_status_codes
from ._releases import release
from ._server import Rig

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Enums as numbers or names, with or without status codes newer than the schema;
#: repeated (a new random answer each time) for operations whose messages have a
#: oneof of more than four members, so that each member is exercised.
VARIANTS = [(ints, unknown) for ints in (True, False) for unknown in (False, True)]


def _rounds(version: str, method: str) -> int:
    span = oneof_span(response_class(ENDPOINTS[method], release(version)).DESCRIPTOR)
    return -(-span // len(VARIANTS))


CASES = [
    (v, method, (*variant, r))
    for v in VERSIONS
    for method in methods(v)
    for r in range(_rounds(v, method))
    for variant in VARIANTS
    if variant[0]
    or not renamed_enum_values(v, method)  # names only where they still mean one number
]
STREAM_CHUNKS = 3
COVERED: dict[str, set[tuple[str, str]]] = {v: set() for v in VERSIONS}
#: Enum numbers unknown to the schema that went through a response, with how often.
UNKNOWN: dict[str, Counter[tuple[str, int]]] = {v: Counter() for v in VERSIONS}


def _encode(message: Message, ints: bool) -> bytes:
    text: str = json_format.MessageToJson(
        message, preserving_proto_field_name=True, use_integers_for_enums=ints, indent=None
    )
    return text.encode()


def _case_id(version: str, method: str, variant: tuple[bool, bool, int]) -> str:
    ints, unknown, r = variant
    again = f"-{r}" if r else ""
    return (
        f"{version}-{method}-{'numbers' if ints else 'names'}{'-unknown' if unknown else ''}{again}"
    )


@pytest.mark.parametrize(("version", "method", "variant"), CASES, ids=[_case_id(*c) for c in CASES])
async def test_response_round_trip(
    rigs: dict[str, Rig], version: str, method: str, variant: tuple[bool, bool, int]
) -> None:
    ints, unknown, r = variant
    rig, rel, endpoint = rigs[version], release(version), ENDPOINTS[method]
    cls = response_class(endpoint, rel)
    rng = random.Random(f"response/{version}/{method}/{ints}/{unknown}/{r}")
    gen = Generator(rng, unknown_enums=unknown)
    sent = [gen.message(cls) for _ in range(STREAM_CHUNKS if endpoint.streaming else 1)]
    COVERED[version].update(gen.covered)
    for message in sent:
        message.status.code = 10000  # success; nested statuses keep their random codes
        UNKNOWN[version].update(unknown_enums(message))

    lines = [_encode(m, ints) for m in sent]
    call = getattr(rig.client, method)
    if endpoint.streaming:
        rig.server.expect(endpoint.name, lambda _msg: [b'{"result": ' + ln + b"}" for ln in lines])
        async with call(minimal_request(endpoint)) as stream:
            decoded = [chunk async for chunk in stream]
    else:
        rig.server.expect(endpoint.name, lambda _msg: lines[0])
        decoded = [await call(minimal_request(endpoint))]
    rig.server.take()
    assert len(decoded) == len(sent)
    for got, want in zip(decoded, sent, strict=True):
        assert isinstance(got, endpoint.response_type)
        assert_same(to_official(got, cls), want)


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_response_field_was_exercised(version: str) -> None:
    """The generator set every field of every response message."""
    if not COVERED[version]:
        pytest.skip("round trips did not run")
    rel = release(version)
    wanted = all_fields([response_class(ENDPOINTS[m], rel).DESCRIPTOR for m in methods(version)])
    missing = sorted(wanted - COVERED[version])
    assert not missing, f"{len(missing)} of {len(wanted)} fields never set: {missing[:20]}"


@pytest.mark.parametrize("version", VERSIONS)
async def test_unknown_enum_numbers_went_through(version: str) -> None:
    """Status codes newer than the schema (and other unknown enum numbers) were round-tripped."""
    if not UNKNOWN[version]:
        pytest.skip("round trips did not run")
    status_code = release(version).pool.FindEnumTypeByName(STATUS_CODE_ENUM)
    codes = {n for (enum, n) in UNKNOWN[version] if enum == STATUS_CODE_ENUM}
    assert codes == set(unknown_status_codes(status_code))
    assert len({enum for enum, _ in UNKNOWN[version]}) > 10
