"""When to retry a failed attempt, and how long to wait first.

Retryable: connection failures and connect/pool timeouts, HTTP 408/429/502/503/504,
Clarifai codes 10030 (try again), 11005 (throttled), 40030–40032 (queue full,
unavailable, timeout), and 21351/21354/21355 (model deploying/busy/loading) for
predict and generate. Never: authentication, permission, bad request, not found.

Operations that create or append (``Endpoint.idempotent`` is False) are retried
only when the request surely was not processed: it failed while connecting, or
the server answered 429/throttled. Never after a read timeout or a 5xx that
followed a sent body.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

from ._config import RetryConfig
from ._errors import (
    APIConnectionError,
    APIStatusError,
    ClarifaiError,
    ModelNotReadyError,
)

__all__ = ["parse_retry_after", "retry_delay"]

RETRYABLE_HTTP = frozenset({408, 429, 502, 503, 504})
RETRYABLE_CODES = frozenset({10030, 11005, 40030, 40031, 40032})
MODEL_NOT_READY_CODES = frozenset({21351, 21354, 21355})
# Answers that prove the server did not act on the request.
NOT_PROCESSED_HTTP = frozenset({429})
NOT_PROCESSED_CODES = frozenset({11005})
_MODEL_OPERATIONS = frozenset({"PostModelOutputs", "GenerateModelOutputs"})


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds asked by ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _retryable(error: ClarifaiError, operation: str, idempotent: bool) -> bool:
    if isinstance(error, APIConnectionError):
        return idempotent or not error.request_sent
    if not isinstance(error, APIStatusError):
        return False
    not_processed = (
        error.http_status in NOT_PROCESSED_HTTP or error.code in NOT_PROCESSED_CODES
    )
    if not idempotent and not not_processed:
        return False
    if error.code in RETRYABLE_CODES or not_processed:
        return True
    if error.code in MODEL_NOT_READY_CODES:
        return operation in _MODEL_OPERATIONS
    if error.code == 0 or error.code >= 98000:
        # No Clarifai status (a proxy answered), or an internal error: judge by HTTP.
        return error.http_status in RETRYABLE_HTTP
    return error.http_status in RETRYABLE_HTTP and error.code in RETRYABLE_CODES


def retry_delay(
    error: ClarifaiError,
    *,
    attempt: int,
    operation: str,
    idempotent: bool,
    config: RetryConfig,
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None to raise ``error`` now."""
    if attempt >= config.max_retries or not _retryable(error, operation, idempotent):
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
