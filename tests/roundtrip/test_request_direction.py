"""Request direction: official message → aioclarifai Struct → real Client call →
strict server parses it by the official rules → equal to the original.

Every operation, against each release that has it: 12.6.0 for all current
operations, 10.9.11 for those it has (the 15 seed operations 12.6.0 dropped
among them)."""

from __future__ import annotations

import random
from typing import Any

import msgspec
import pytest
from google.protobuf import json_format

from aioclarifai import _decode
from aioclarifai.endpoints import ENDPOINTS

from ._cases import (
    SEED_OPERATIONS,
    VERSIONS,
    assert_same,
    client_rules,
    methods,
    ok_answer,
    oneof_span,
    renamed_enum_values,
    request_class,
)
from ._official import NASTY_IDS, Generator, all_fields, set_path
from ._releases import release
from ._server import Rig

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Per operation and binding the client sends to (both paths of the versioned
#: operations): even variants go through the JSON decoder with enum names, odd
#: ones through msgspec.convert with enum numbers; every third carries enum
#: numbers unknown to the schema (in a JSON body); each variant uses other
#: reserved-character ids in the path. The 50 seed operations run all six, the
#: others the four that cover each combination once; operations whose messages
#: have a oneof with more members run more, so that each member is exercised.
SEED_VARIANTS = (0, 1, 2, 3, 4, 5)
VARIANTS = (0, 1, 2, 5)


def _variants(version: str, method: str) -> tuple[int, ...]:
    endpoint = ENDPOINTS[method]
    base = SEED_VARIANTS if endpoint.name in SEED_OPERATIONS else VARIANTS
    span = oneof_span(request_class(endpoint, release(version)).DESCRIPTOR)
    variants = base + tuple(range(6, 6 + span - len(base)))
    if renamed_enum_values(version, method):
        return tuple(v for v in variants if v % 2)  # enum numbers only
    return variants


CASES = [
    (version, method, rule.template, variant)
    for version in VERSIONS
    for method in methods(version)
    for rule in client_rules(ENDPOINTS[method], release(version))
    for variant in _variants(version, method)
]
COVERED: dict[str, set[tuple[str, str]]] = {v: set() for v in VERSIONS}


def _case_id(version: str, method: str, template: str, variant: int) -> str:
    endpoint = ENDPOINTS[method]
    alt = f"+{endpoint.paths.index(template)}" if endpoint.paths.index(template) else ""
    return f"{version}-{method}{alt}-{variant}"


def _to_struct(original: Any, cls: type[Any], variant: int) -> Any:
    if variant % 2 == 0:
        text = json_format.MessageToJson(original, preserving_proto_field_name=True)
        return _decode.decode(cls, text)
    raw = json_format.MessageToDict(
        original, preserving_proto_field_name=True, use_integers_for_enums=True
    )
    return msgspec.convert(raw, cls, strict=False)


@pytest.mark.parametrize(
    ("version", "method", "template", "variant"), CASES, ids=[_case_id(*c) for c in CASES]
)
async def test_request_round_trip(
    rigs: dict[str, Rig], version: str, method: str, template: str, variant: int
) -> None:
    rig, rel, endpoint = rigs[version], release(version), ENDPOINTS[method]
    rules = client_rules(endpoint, rel)
    rule = next(r for r in rules if r.template == template)
    rng = random.Random(f"request/{version}/{method}/{template}/{variant}")
    gen = Generator(rng, query_safe=rule.body == "", unknown_enums=variant % 3 == 2)
    original = gen.message(request_class(endpoint, rel))
    COVERED[version].update(gen.covered)
    # Path values: reserved characters; fields of the longer paths left empty.
    for i, field in enumerate(rule.path_fields):
        set_path(original, field, NASTY_IDS[(variant * 5 + i + len(method)) % len(NASTY_IDS)])
    for other in rules:
        for field in set(other.path_fields) - set(rule.path_fields):
            set_path(original, field, "")

    request = _to_struct(original, endpoint.request_type, variant)
    rig.server.expect(endpoint.name, lambda _msg: ok_answer(endpoint))
    call = getattr(rig.client, method)
    if endpoint.streaming:
        async with call(request) as stream:
            chunks = [chunk async for chunk in stream]
        assert len(chunks) == 1
    else:
        await call(request)
    got = rig.server.take()
    assert got.rule is not None and got.rule.template == template
    assert got.message is not None
    assert_same(got.message, original)


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_request_field_was_exercised(version: str) -> None:
    """The generator set every field of every request message (maps and lists included)."""
    if not COVERED[version]:
        pytest.skip("round trips did not run")
    rel = release(version)
    wanted: set[tuple[str, str]] = set()
    for method in methods(version):
        endpoint = ENDPOINTS[method]
        descriptor = request_class(endpoint, rel).DESCRIPTOR
        wanted |= all_fields([descriptor], query_safe=not endpoint.body)
    missing = sorted(wanted - COVERED[version])
    assert not missing, f"{len(missing)} of {len(wanted)} fields never set: {missing[:20]}"
