"""The exception tree, status-code classification, and answer interpretation (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import aioclarifai
from aioclarifai import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClarifaiError,
    ModelNotReadyError,
    NotFoundError,
    OutputError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamError,
    endpoints,
    types,
)
from aioclarifai._core import interpret, snippet
from aioclarifai._errors import code_name, redact, status_error_class
from aioclarifai._transport import RawResponse

SECRET = "pat-0123456789abcdef-SECRET"
FAMILIES = (
    BadRequestError,
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    RateLimitError,
    ModelNotReadyError,
    ServerError,
)


def test_tree_matches_the_docstring() -> None:
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APIConnectionError, ClarifaiError)
    for family in FAMILIES:
        assert issubclass(family, APIStatusError)
        assert family.__doc__
    assert issubclass(APIStatusError, ClarifaiError)
    assert issubclass(StreamError, ClarifaiError)
    assert issubclass(OutputError, ClarifaiError)
    doc = aioclarifai._errors.__doc__ or ""
    for cls in (APIConnectionError, APITimeoutError, StreamError, OutputError, *FAMILIES):
        assert cls.__name__ in doc
        assert getattr(aioclarifai, cls.__name__) is cls


def test_drawn_tree_is_the_real_tree() -> None:
    # Every exported error is drawn, under its real base class.
    doc = aioclarifai._errors.__doc__ or ""
    drawn: dict[str, str] = {}
    parents: list[tuple[int, str]] = []
    for line in doc.split("The tree::", 1)[1].split("\n\n", 2)[1].splitlines():
        name = line.lstrip(" │├└─").split()[0]
        column = line.index(name)
        while parents and parents[-1][0] >= column:
            parents.pop()
        drawn[name] = parents[-1][1] if parents else ""
        parents.append((column, name))
    exported = {
        name: value
        for name in aioclarifai.__all__
        if isinstance(value := getattr(aioclarifai, name), type)
        and issubclass(value, ClarifaiError)
    }
    assert set(drawn) == set(exported)
    for name, parent in drawn.items():
        base = exported[name].__bases__[0]
        assert (base.__name__ if base is not Exception else "") == parent, name


@pytest.mark.parametrize("code", [int(c) for c in types.StatusCode])
def test_every_status_code_lands_in_a_family(code: int) -> None:
    for http_status in (200, 400, 500):
        assert status_error_class(code, http_status) in FAMILIES


@pytest.mark.parametrize(
    ("code", "family"),
    [
        (10020, ServerError),
        (10030, ServerError),
        (11001, AuthenticationError),
        (11002, AuthenticationError),
        (11008, AuthenticationError),
        (11009, AuthenticationError),
        (11007, PermissionDeniedError),
        (11003, RateLimitError),
        (11004, RateLimitError),
        (11005, RateLimitError),
        (11100, BadRequestError),
        (11102, BadRequestError),
        (11101, NotFoundError),
        (21200, NotFoundError),
        (22102, NotFoundError),
        (25300, NotFoundError),
        (30102, NotFoundError),
        (21201, PermissionDeniedError),
        (21351, ModelNotReadyError),
        (21354, ModelNotReadyError),
        (21355, ModelNotReadyError),
        (21202, BadRequestError),
        (40030, ServerError),
        (40031, ServerError),
        (40032, ServerError),
        (98004, ServerError),
        (99009, ServerError),
    ],
)
def test_wire_table_families(code: int, family: type[APIStatusError]) -> None:
    # The body's code wins over whatever the HTTP status says.
    assert status_error_class(code, 200) is family
    assert status_error_class(code, 503) is family


@pytest.mark.parametrize(
    ("http_status", "family"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (408, ServerError),
        (409, BadRequestError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (200, ServerError),  # a 200 we could not read is the server's fault
    ],
)
def test_http_status_decides_without_a_code(http_status: int, family: type) -> None:
    assert status_error_class(0, http_status) is family


def test_codes_newer_than_the_schema() -> None:
    assert code_name(21354) == "MODEL_BUSY_PLEASE_RETRY"
    assert code_name(21355) == "MODEL_LOADING"
    assert code_name(12345) == "UNKNOWN_12345"
    assert status_error_class(12345, 404) is NotFoundError
    assert status_error_class(12345, 502) is ServerError
    assert status_error_class(12345, 200) is BadRequestError
    assert status_error_class(45678, 200) is ServerError  # 4xxxx: internal failures


def test_status_error_carries_everything() -> None:
    status = types.Status(code=21200, description="Model does not exist", details="m1", req_id="r1")
    response = types.MultiOutputResponse(status=status)
    err = APIStatusError.from_status(
        status, http_status=404, operation="PostModelOutputs", response=response
    )
    assert type(err) is NotFoundError
    assert (err.code, err.code_name, err.description, err.details) == (
        21200,
        "MODEL_DOES_NOT_EXIST",
        "Model does not exist",
        "m1",
    )
    assert (err.req_id, err.http_status, err.operation) == ("r1", 404, "PostModelOutputs")
    assert err.response is response
    assert str(err) == (
        "PostModelOutputs: 21200 MODEL_DOES_NOT_EXIST Model does not exist (m1) [HTTP 404] "
        "req_id=r1"
    )


def test_failure_takes_the_family_of_the_outputs() -> None:
    failed = types.Status(code=30002, description="Download failed")
    response = types.MultiOutputResponse(
        status=types.Status(code=10020, description="Failure"),
        outputs=[types.Output(status=failed)],
    )
    assert response.status is not None
    err = APIStatusError.from_status(
        response.status, http_status=200, operation="PostModelOutputs", response=response
    )
    assert type(err) is BadRequestError
    assert err.code == 10020
    bare = APIStatusError.from_status(
        types.Status(code=10020), http_status=200, operation="PostModelOutputs"
    )
    assert type(bare) is ServerError


def test_output_error() -> None:
    status = types.Status(code=30002, description="Download failed", req_id="r")
    err = OutputError(types.Output(status=status), status)
    assert (err.code, err.code_name, err.req_id) == (30002, "INPUT_FAILED", "r")  # 12.6.0 name
    assert "30002" in str(err)


def test_redact_scrubs_message_args_and_attributes() -> None:
    err = ServerError(code=0, http_status=502, description=f"Key {SECRET}", details=f"x {SECRET} y")
    redact(err, SECRET)
    for text in (str(err), repr(err), err.description, err.details, err.message):
        assert SECRET not in text
    assert "***" in str(err)
    conn = APIConnectionError(f"failed: {SECRET}")
    assert SECRET not in repr(redact(conn, SECRET))


# -- interpret: an HTTP answer → typed response or typed error ----------------------------

WORKFLOWS = endpoints.ENDPOINTS["list_workflows"]
PREDICT = endpoints.ENDPOINTS["post_model_outputs"]


def _raw(status: int, body: Any, headers: dict[str, str] | None = None) -> RawResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawResponse(status, headers or {"Content-Type": "application/json"}, data)


def test_success_is_returned() -> None:
    resp = interpret(WORKFLOWS, _raw(200, {"status": {"code": 10000}, "workflows": [{"id": "w"}]}))
    assert isinstance(resp, types.MultiWorkflowResponse)
    assert resp.workflows[0].id == "w"


def test_mixed_status_is_data() -> None:
    body = {
        "status": {"code": 10010, "description": "Mixed Success"},
        "outputs": [
            {"id": "a", "status": {"code": 10000}},
            {"id": "b", "status": {"code": 30002, "description": "Download failed"}},
        ],
    }
    resp = interpret(PREDICT, _raw(200, body))
    assert resp.status is not None and resp.status.code == 10010
    assert [o.status.code for o in resp.outputs if o.status] == [10000, 30002]


def test_non_success_in_a_200_raises() -> None:
    with pytest.raises(ServerError) as info:
        interpret(PREDICT, _raw(200, {"status": {"code": 10020}, "outputs": []}))
    assert info.value.http_status == 200
    with pytest.raises(ModelNotReadyError):
        interpret(PREDICT, _raw(200, {"status": {"code": 21355, "description": "loading"}}))


@pytest.mark.parametrize(
    ("status", "body", "family"),
    [
        (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", ServerError),
        (200, b'{"status": {"code": 10000', ServerError),  # truncated
        (200, b"not json at all", ServerError),
        (200, b"", ServerError),
        (200, b'{"status": "oops"}', ServerError),  # valid JSON, wrong shape
        (401, b"Unauthorized", AuthenticationError),
        (429, b"<html>slow down</html>", RateLimitError),
    ],
)
def test_unreadable_bodies_become_typed_errors(status: int, body: bytes, family: type) -> None:
    with pytest.raises(family) as info:
        interpret(WORKFLOWS, RawResponse(status, {"Content-Type": "text/html"}, body))
    err = info.value
    assert isinstance(err, APIStatusError)
    assert (err.code, err.http_status, err.operation) == (0, status, "ListWorkflows")
    assert err.details == (snippet(body) or "(empty body)")
    assert f"HTTP {status}" in str(err)
    assert err.__cause__ is None and err.__context__ is None  # no decode traceback


def test_answer_without_status_uses_http() -> None:
    with pytest.raises(NotFoundError) as info:
        interpret(WORKFLOWS, _raw(404, {"message": "no route"}))
    assert info.value.response is not None


def test_retry_after_is_read_from_error_answers() -> None:
    with pytest.raises(RateLimitError) as info:
        interpret(WORKFLOWS, _raw(429, {"status": {"code": 11005}}, {"Retry-After": "3"}))
    assert info.value.retry_after == 3.0


def test_echoed_pat_is_blanked_before_decoding() -> None:
    body = {"status": {"code": 11008, "description": f"bad key {SECRET}", "details": SECRET}}
    with pytest.raises(AuthenticationError) as info:
        interpret(WORKFLOWS, _raw(401, body), SECRET.encode())
    err = info.value
    assert SECRET not in str(err) + repr(err) + repr(err.response)
    html = f"<html>Authorization: Key {SECRET}</html>".encode()
    with pytest.raises(ServerError) as info2:
        interpret(WORKFLOWS, RawResponse(502, {}, html), SECRET.encode())
    assert SECRET not in str(info2.value)


def test_snippet_is_short_and_printable() -> None:
    text = snippet(b"a\x00b\n\n  c" + b"x" * 500, limit=20)
    assert text.startswith("a?b c")
    assert text.endswith("…")
    assert len(text) <= 21
