"""Fault injection for FakeClarifai: what can go wrong, and for which requests."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Drop", "Fault", "Latency"]

Drop = Literal["before_headers", "after_headers"]


@dataclass
class Fault:
    """One injected misbehaviour; see :meth:`FakeClarifai.inject` for the meaning of each field.

    ``hits`` counts the requests the fault was applied to.
    """

    operation: str | None = None
    code: int | None = None
    http_status: int | None = None
    rate: float = 1.0
    times: int | None = None
    retry_after: float | None = None
    drop: Drop | None = None
    truncate: bool = False
    malformed: bool = False
    stream_error_after: int | None = None
    hits: int = field(default=0, init=False)

    def exhausted(self) -> bool:
        """True once the fault was applied ``times`` times."""
        return self.times is not None and self.hits >= self.times

    def matches(self, operation: str, rng: random.Random) -> bool:
        """Whether this fault applies to one request of ``operation`` (rolls the rate)."""
        if self.operation is not None and self.operation != operation:
            return False
        if self.exhausted():
            return False
        return self.rate >= 1.0 or rng.random() < self.rate


@dataclass(frozen=True)
class Latency:
    """Added delay: ``low`` seconds, or uniformly between ``low`` and ``high``."""

    low: float
    high: float | None = None

    def draw(self, rng: random.Random) -> float:
        """One delay."""
        return self.low if self.high is None else rng.uniform(self.low, self.high)


# HTTP status the live API pairs with a Clarifai code, for faults given only a code.
def http_status_for(code: int) -> int:
    """The HTTP status the live API sends with ``code``."""
    if code in (11000, 11001, 11002, 11008, 11009, 11010):
        return 401
    if code == 11007:
        return 403
    if code in (11003, 11004, 11005, 11006):
        return 429
    if code in (11101, 21200, 22102, 25300, 30102, 54102):
        return 404
    if code in (10030, 40030, 40031, 21351, 21354, 21355):
        return 503
    if code == 40032:
        return 504
    if code >= 98000 or 40000 <= code < 50000:
        return 500
    return 400


def code_for(http_status: int) -> int:
    """The Clarifai code the live API sends with ``http_status``, for faults given only a status."""
    return {
        400: 11102,
        401: 11008,
        403: 11007,
        404: 11101,
        429: 11005,
        500: 98004,
        502: 40031,
        503: 10030,
        504: 40032,
    }.get(http_status, 99009 if http_status >= 500 else 11102)
