"""The strict server's own rules, checked against official messages (no sockets)."""

from __future__ import annotations

import pytest
from clarifai_grpc.grpc.api import resources_pb2, service_pb2
from clarifai_grpc.grpc.api.status import status_pb2

from ._official import QueryError, parse_query, rules_of


def test_query_follows_grpc_gateway_rules() -> None:
    msg = service_pb2.ListModulesRequest()
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
    status = status_pb2.Status()
    parse_query("code=CONN_THROTTLED&percent_completed=4294967295", status, [])
    assert status.code == 11005 and status.percent_completed == 2**32 - 1
    upload = resources_pb2.Upload()
    parse_query("created_at=2025-02-28T09%3A41%3A55.568082659Z&content_length=18446744073709551615",
                upload, [])  # fmt: skip
    assert upload.created_at.nanos == 568082659 and upload.content_length == 2**64 - 1
    part = resources_pb2.UploadContentPart()
    parse_query("data=AP8%3D", part, [])
    assert part.data == b"\x00\xff"
    metrics = resources_pb2.DatasetVersionMetrics()
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
        parse_query(query, service_pb2.ListModulesRequest(), ["user_app_id.user_id"])


def test_query_rejects_unknown_enum_numbers_and_bad_bytes() -> None:
    with pytest.raises(QueryError, match="not a valid"):
        parse_query("code=21354", status_pb2.Status(), [])
    with pytest.raises(QueryError, match="bad base64"):
        parse_query("data=%%%", resources_pb2.UploadContentPart(), [])


def test_paths_match_raw_segments_only() -> None:
    rule = next(r for r in rules_of("GetModule") if r.template.startswith("/v2/users/"))
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
