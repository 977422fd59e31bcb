"""Retry policy: what is retried, for which operations, and how long to wait (no sockets)."""

from __future__ import annotations

import email.utils
import random
import time

import pytest

from aioclarifai import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ClarifaiError,
    RetryConfig,
    StreamError,
    Timeout,
)
from aioclarifai._errors import status_error_class
from aioclarifai._retry import is_retryable, parse_retry_after, retry_delay

PREDICT = "PostModelOutputs"


def status_error(code: int, http_status: int, retry_after: float | None = None) -> APIStatusError:
    """The error ``interpret`` would raise for this answer."""
    cls = status_error_class(code, http_status)
    return cls(code=code, http_status=http_status, operation="Op", retry_after=retry_after)


# -- Retry-After ---------------------------------------------------------------------------


def test_retry_after_seconds() -> None:
    assert parse_retry_after({"Retry-After": "1"}) == 1.0
    assert parse_retry_after({"Retry-After": "0.25"}) == 0.25
    assert parse_retry_after({"Retry-After": "-3"}) == 0.0
    assert parse_retry_after({}) is None
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "nan"}) is None


def test_retry_after_http_date() -> None:
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = parse_retry_after({"Retry-After": future})
    assert wait is not None and 28 <= wait <= 30
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert parse_retry_after({"Retry-After": past}) == 0.0


def test_retry_after_ms_wins() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "junk", "Retry-After": "9"}) == 9.0


# -- what is retryable -----------------------------------------------------------------------


@pytest.mark.parametrize("idempotent", [True, False])
def test_connect_failures_are_always_retryable(idempotent: bool) -> None:
    refused = APIConnectionError("refused", request_sent=False)
    assert is_retryable(refused, "PostWorkflows", idempotent)
    assert is_retryable(APITimeoutError("t", kind="connect"), "PostWorkflows", idempotent)


def test_failures_after_sending_only_for_idempotent() -> None:
    for error in (APIConnectionError("reset"), APITimeoutError("t", kind="read")):
        assert is_retryable(error, "ListWorkflows", True)
        assert not is_retryable(error, "PostWorkflows", False)


def test_pool_timeouts_are_not_retried() -> None:
    assert not is_retryable(APITimeoutError("t", kind="pool"), "ListWorkflows", True)


@pytest.mark.parametrize("http_status", [408, 502, 503, 504])
def test_retryable_http_statuses(http_status: int) -> None:
    assert is_retryable(status_error(0, http_status), "ListWorkflows", True)
    assert not is_retryable(status_error(0, http_status), "PostWorkflows", False)


def test_throttling_is_retried_even_for_non_idempotent() -> None:
    assert is_retryable(status_error(0, 429), "PostWorkflows", False)
    assert is_retryable(status_error(11005, 429), "PostWorkflows", False)
    assert is_retryable(status_error(11005, 200), "PostWorkflows", False)


@pytest.mark.parametrize("code", [10030, 40030, 40031, 40032])
def test_try_again_codes(code: int) -> None:
    assert is_retryable(status_error(code, 503), "ListWorkflows", True)
    assert is_retryable(status_error(code, 200), "ListWorkflows", True)
    assert not is_retryable(status_error(code, 503), "PostWorkflows", False)


@pytest.mark.parametrize("code", [21351, 21354, 21355])
def test_model_not_ready_only_for_predict_and_generate(code: int) -> None:
    assert is_retryable(status_error(code, 503), PREDICT, True)
    assert is_retryable(status_error(code, 200), "GenerateModelOutputs", True)
    assert not is_retryable(status_error(code, 503), "ListWorkflows", True)


@pytest.mark.parametrize(
    ("code", "http_status"),
    [
        (11008, 401),
        (11009, 401),
        (11007, 403),
        (11100, 400),
        (21200, 404),
        (21200, 503),  # the code wins: not found is final whatever the HTTP status
        (0, 400),
        (0, 401),
        (0, 404),
        (0, 500),
        (98004, 500),
        (11004, 429),  # monthly limit: waiting will not help
        (11003, 429),  # hourly limit without a Retry-After
        (10020, 200),
    ],
)
def test_never_retried(code: int, http_status: int) -> None:
    assert not is_retryable(status_error(code, http_status), "ListWorkflows", True)


def test_hourly_limit_with_retry_after() -> None:
    assert is_retryable(status_error(11003, 429, retry_after=5.0), "ListWorkflows", True)


def test_other_errors_are_not_retried() -> None:
    assert not is_retryable(StreamError("boom"), "GenerateModelOutputs", True)
    assert not is_retryable(ClarifaiError("?"), "ListWorkflows", True)


# -- how long to wait ----------------------------------------------------------------------------


def _delay(error: ClarifaiError, attempt: int, config: RetryConfig, op: str = "Op") -> float | None:
    return retry_delay(error, attempt=attempt, operation=op, idempotent=True, config=config)


def test_attempt_budget() -> None:
    config = RetryConfig(max_retries=2)
    err = status_error(0, 503)
    assert _delay(err, 0, config) is not None
    assert _delay(err, 1, config) is not None
    assert _delay(err, 2, config) is None
    assert _delay(err, 0, RetryConfig(max_retries=0)) is None


def test_full_jitter_exponential_backoff() -> None:
    config = RetryConfig(max_retries=10, initial_backoff=0.5, max_backoff=8.0)
    err = APIConnectionError("reset")
    random.seed(1)
    for attempt, cap in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)]:
        waits = [_delay(err, attempt, config) for _ in range(200)]
        assert all(w is not None and 0.0 <= w <= cap for w in waits)
        assert max(w for w in waits if w is not None) > cap * 0.8  # full jitter spans the range


def test_model_not_ready_waits_longer() -> None:
    config = RetryConfig(initial_backoff=0.01, model_not_ready_backoff=2.0)
    random.seed(2)
    waits = [_delay(status_error(21355, 200), 0, config, PREDICT) for _ in range(200)]
    assert max(w for w in waits if w is not None) > 1.0


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    config = RetryConfig(max_retry_after=60.0)
    assert _delay(status_error(0, 429, retry_after=1.0), 0, config) == 1.0
    assert _delay(status_error(0, 503, retry_after=60.0), 0, config) == 60.0
    assert _delay(status_error(0, 429, retry_after=61.0), 0, config) is None


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryConfig(max_retries=-1)
    with pytest.raises(ValueError, match="initial_backoff"):
        RetryConfig(initial_backoff=-0.1)
    with pytest.raises(ValueError, match=r"Timeout\.read"):
        Timeout(read=0)
    with pytest.raises(ValueError, match="timeout"):
        Timeout.of(-1)
    assert Timeout.of(5).total == 5.0
    assert Timeout.of(None).total is None
