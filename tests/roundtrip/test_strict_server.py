"""The strict server's own rules, checked against official messages (no sockets)."""

from __future__ import annotations

import pytest

from aioclarifai.endpoints import ENDPOINTS

from ._cases import client_rules
from ._official import QueryError, parse_query, rules_of
from ._releases import CURRENT, RELEASES, SEED, release
from ._server import shared_bindings

OFFICIAL = release(SEED)


def test_query_follows_grpc_gateway_rules() -> None:
    msg = OFFICIAL.cls("ListModulesRequest")()
    parse_query(
        "page=2&additional_fields=a%20b&additional_fields=c%2Bd+e&sort_by_id=false"
        "&starredOnly=TRUE&user_app_id.app_id=x",
        msg,
        ["user_app_id.user_id"],
    )
    assert msg.page == 2
    assert list(msg.additional_fields) == ["a b", "c+d e"]  # "+" is a space, "%2B" a plus
    assert msg.HasField("sort_by_id") and not msg.sort_by_id
    assert msg.starred_only  # JSON names and Go's bool spellings are accepted
    assert msg.user_app_id.app_id == "x"


def test_query_well_known_and_special_scalars() -> None:
    status = OFFICIAL.message_class(OFFICIAL.message("clarifai.api.status.Status"))()
    parse_query("code=CONN_THROTTLED&percent_completed=4294967295", status, [])
    assert status.code == 11005 and status.percent_completed == 2**32 - 1
    upload = OFFICIAL.cls("Upload")()
    parse_query("created_at=2025-02-28T09%3A41%3A55.568082659Z&content_length=18446744073709551615",
                upload, [])  # fmt: skip
    assert upload.created_at.nanos == 568082659 and upload.content_length == 2**64 - 1
    part = OFFICIAL.cls("UploadContentPart")()
    parse_query("data=AP8%3D", part, [])
    assert part.data == b"\x00\xff"
    metrics = OFFICIAL.cls("DatasetVersionMetrics")()
    parse_query("inputs_count=7", metrics, [])
    assert metrics.inputs_count.value == 7


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("nope=1", "unknown field"),
        ("page=1&page=2", "given twice"),
        ("sort_by_id=true&sort_by_star_count=true", "already has"),
        ("user_app_id.user_id=u", "path field"),
        ("starred_only=yes", "bad bool"),
        ("page=1.5", "bad integer"),
        ("page=99999999999", "out of range"),
        ("page", "without '='"),
        ("user_app_id=x", "cannot come in a query"),
        ("page.x=1", "not a singular message"),
    ],
)
def test_query_rejects(query: str, problem: str) -> None:
    with pytest.raises(QueryError, match=problem):
        parse_query(query, OFFICIAL.cls("ListModulesRequest")(), ["user_app_id.user_id"])


def test_query_rejects_unknown_enum_numbers_and_bad_bytes() -> None:
    with pytest.raises(QueryError, match="not a valid"):
        parse_query(
            "code=21354",
            OFFICIAL.message_class(OFFICIAL.message("clarifai.api.status.Status"))(),
            [],
        )
    with pytest.raises(QueryError, match="bad base64"):
        parse_query("data=%%%", OFFICIAL.cls("UploadContentPart")(), [])


def test_paths_match_raw_segments_only() -> None:
    rule = next(
        r
        for r in rules_of(OFFICIAL.v2.methods_by_name["GetModule"])
        if r.template.startswith("/v2/users/")
    )
    prefix = "/v2/users/me/apps/app/modules/"
    assert rule.match("GET", prefix + "a%2Fb") == {
        "user_app_id.user_id": "me",
        "user_app_id.app_id": "app",
        "module_id": "a/b",
    }
    assert rule.match("GET", prefix + "%252F") is not None
    assert rule.match("GET", prefix + "%252F")["module_id"] == "%2F"  # type: ignore[index]
    for bad in ("a/b", "..", ".", "", "a b", "ü"):
        assert rule.match("GET", prefix + bad) is None, bad
    assert rule.match("POST", prefix + "x") is None


@pytest.mark.parametrize("version", RELEASES)
def test_only_known_operations_share_a_binding(version: str) -> None:
    """Where the official definitions bind two operations to one path, the client's paths.

    In 12.6.0 PatchRunners is bound to PostRunners' ``POST …/runners``: over REST
    the server decides which runs (the README says so). No other operation the
    client calls shares the path it is sent to.
    """
    rel = release(version)
    sent = [r for ep in ENDPOINTS.values() for r in client_rules(ep, rel)]
    every = [r for ep in ENDPOINTS.values() if (m := rel.method(ep.name)) for r in rules_of(m)]
    shared = shared_bindings(every)
    clashes = {op for r in sent for op in shared.get((r.verb, r.template), ())}
    assert clashes == ({"PatchRunners", "PostRunners"} if version == CURRENT else set())
