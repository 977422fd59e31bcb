"""When to retry a failed attempt, and how long to wait first.

Retryable: connection failures and connect timeouts, HTTP 408/429/502/503/504,
Clarifai codes 10030 (try again), 11005 (throttled), 40030-40032 (queue full,
unavailable, timeout), and 21351/21354/21355 (model deploying/busy/loading) for
predict and generate, with a longer backoff. Never: authentication, permission,
bad request, not found, the monthly usage limit, or a pool timeout (the client
itself is saturated; another wait would only add to the queue).

Operations that create or append (``Endpoint.idempotent`` is False) are retried
only when the request surely was not processed: it failed while connecting, or
the server answered 429/throttled. Never after a read timeout or a 5xx that
followed a sent body.

A generation (``GenerateModelOutputs``) is billed once the server has read
it, so it too is never sent again after the connection dropped or went
silent once the request was out: the caller gets the ``APIConnectionError``
and decides. An answer that says the model did not run (429, 503, model
loading, ...) is still retried.

The wait is exponential backoff with full jitter, unless the server said how
long (``retry-after-ms``, or ``Retry-After`` in seconds or as an HTTP date); a
wait above ``RetryConfig.max_retry_after`` raises the error instead.

Throttling (429 / 11005, see :func:`is_throttled`) is not failure: the
request surely was not processed, so it is retried for any operation until
the call's deadline, outside the ``max_retries`` budget (:func:`throttle_delay`:
the server's ``Retry-After`` plus up to 10% jitter, else full-jitter backoff).
Quota answers (11003 hourly, 11004 monthly, 11006) are not throttling.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping
from datetime import timezone

from ._config import RetryConfig
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClarifaiError,
    ModelNotReadyError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
)

__all__ = ["is_retryable", "is_throttled", "parse_retry_after", "retry_delay", "throttle_delay"]

RETRYABLE_HTTP = frozenset({408, 429, 502, 503, 504})
RETRYABLE_CODES = frozenset({10030, 11005, 40030, 40031, 40032})
MODEL_NOT_READY_CODES = frozenset({21351, 21354, 21355})
THROTTLED = 11005
HOURLY_LIMIT = 11003
HARD_LIMITS = frozenset({11004, 11006})  # monthly / account limits: waiting will not help
_MODEL_OPERATIONS = frozenset({"PostModelOutputs", "GenerateModelOutputs"})
# Billed once read, with no answer to tell whether it ran: never resent blindly.
_NOT_RESENT = frozenset({"GenerateModelOutputs"})
_FINAL = (AuthenticationError, PermissionDeniedError, BadRequestError, NotFoundError)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds asked by ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            pass
        else:
            if not math.isnan(value):
                return max(0.0, value)
    text = headers.get("Retry-After")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return None if math.isnan(value) else max(0.0, value)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no zone given
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - time.time())


def is_throttled(error: ClarifaiError) -> bool:
    """Whether the server throttled the attempt (11005, or HTTP 429 without a quota code)."""
    if not isinstance(error, APIStatusError):
        return False
    code = error.code
    return code == THROTTLED or (
        error.http_status == 429 and code != HOURLY_LIMIT and code not in HARD_LIMITS
    )


def is_retryable(error: ClarifaiError, operation: str, idempotent: bool) -> bool:
    """Whether another attempt may be made after ``error`` (ignoring the attempt budget)."""
    if isinstance(error, APIConnectionError):
        if isinstance(error, APITimeoutError) and error.kind == "pool":
            return False
        if not error.request_sent:
            return True
        return idempotent and operation not in _NOT_RESENT
    if not isinstance(error, APIStatusError) or isinstance(error, _FINAL):
        return False
    code = error.code
    if code in HARD_LIMITS:
        return False
    if code == HOURLY_LIMIT:
        # The limit resets within the hour: only worth waiting when told how long.
        return error.retry_after is not None
    if code == THROTTLED or error.http_status == 429:
        return True  # a throttled request was not processed: safe for any operation
    if not idempotent:
        return False
    if code in RETRYABLE_CODES:
        return True
    if isinstance(error, ModelNotReadyError):
        return code in MODEL_NOT_READY_CODES and operation in _MODEL_OPERATIONS
    if isinstance(error, ServerError):
        return error.http_status in RETRYABLE_HTTP
    return False


def retry_delay(
    error: ClarifaiError,
    *,
    attempt: int,
    operation: str,
    idempotent: bool,
    config: RetryConfig,
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1`` (0-based), or None to raise ``error``."""
    if attempt >= config.max_retries or not is_retryable(error, operation, idempotent):
        return None
    asked = error.retry_after if isinstance(error, APIStatusError) else None
    if asked is not None:
        return asked if asked <= config.max_retry_after else None
    base = (
        config.model_not_ready_backoff
        if isinstance(error, ModelNotReadyError)
        else config.initial_backoff
    )
    return random.uniform(0.0, min(config.max_backoff, base * (2**attempt)))


def throttle_delay(error: APIStatusError, *, throttles: int, config: RetryConfig) -> float | None:
    """Seconds to wait before retrying a throttled attempt (``throttles``: earlier ones).

    ``Retry-After`` is honoured with up to 10% jitter, so that callers paused
    together do not all come back in the same instant (the client's rate
    controller also pauses everyone and restarts them one by one); a wait
    above ``max_retry_after`` gives up. Without it: full-jitter exponential
    backoff. The call's deadline, not ``max_retries``, ends the retries.
    """
    asked = error.retry_after
    if asked is not None:
        return asked * (1.0 + 0.1 * random.random()) if asked <= config.max_retry_after else None
    return random.uniform(
        0.0, min(config.max_backoff, config.initial_backoff * 2 ** min(throttles, 16))
    )
