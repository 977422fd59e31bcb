"""Account rate limits for FakeClarifai: a token bucket per PAT, refusing as the live API does.

Clarifai limits each account to N requests per second (15 by default) and
answers beyond it with HTTP 429, status 11005 ``CONN_THROTTLED``, the details
reading "Making too many requests, error_details: exceeded limit of N
requests per second", and not always a ``Retry-After``. The bucket holds one
second's worth of requests (N tokens) and refills continuously, so N requests
in any one second pass and a steady rate above N is refused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["AccountLimits", "Refusal"]

THROTTLED = 11005


@dataclass(frozen=True, slots=True)
class Refusal:
    """The answer to a request over the account's limit."""

    http_status: int
    code: int
    description: str
    details: str
    headers: dict[str, str] | None


class AccountLimits:
    """One token bucket per key (the ``Authorization`` header: one PAT, one account).

    Args:
        rate_limit: requests per second each account may send.
        retry_after: send ``Retry-After`` (whole seconds until a token is
            back, as HTTP writes it) with each refusal.
        clock: seconds, monotonic.
    """

    def __init__(
        self,
        rate_limit: float,
        *,
        retry_after: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not rate_limit > 0:
            raise ValueError("rate_limit must be > 0 requests per second")
        self.rate_limit = float(rate_limit)
        self.retry_after = retry_after
        self.clock = clock
        self.capacity = max(1.0, self.rate_limit)
        self.accepted = 0
        """Requests let through."""
        self.throttled = 0
        """Requests refused with 429 / 11005."""
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, stamp)
        limit = f"{self.rate_limit:g}"
        self._details = (
            "Making too many requests, error_details: "
            f"exceeded limit of {limit} requests per second"
        )

    def __repr__(self) -> str:
        return (
            f"AccountLimits(rate_limit={self.rate_limit:g}, retry_after={self.retry_after}, "
            f"accepted={self.accepted}, throttled={self.throttled})"
        )

    def check(self, key: str) -> Refusal | None:
        """Take a token for one request of ``key``; the refusal when there is none."""
        now = self.clock()
        tokens, stamp = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - stamp) * self.rate_limit)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            self.accepted += 1
            return None
        self._buckets[key] = (tokens, now)
        self.throttled += 1
        headers = None
        if self.retry_after:
            wait = (1.0 - tokens) / self.rate_limit
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
        return Refusal(429, THROTTLED, "Making too many requests", self._details, headers)
