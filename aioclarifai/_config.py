"""Client settings: credentials, base URL, user/app defaults, timeouts, retries.

Arguments win, then the environment (``CLARIFAI_PAT``, ``CLARIFAI_API_BASE``,
``CLARIFAI_USER_ID``, ``CLARIFAI_APP_ID``), then the defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["DEFAULT_BASE_URL", "RetryConfig", "Settings", "Timeout"]

DEFAULT_BASE_URL = "https://api.clarifai.com"


@dataclass(frozen=True, slots=True)
class Timeout:
    """Time budgets in seconds; ``None`` means unlimited.

    ``total``: a whole unary call — every attempt, the waits between them and
    any wait for a pooled connection; a retry that would not fit is not made.
    ``connect``: opening a TCP/TLS connection. ``read``: the longest silence
    while waiting for or reading an answer (an idle timeout, not a deadline);
    off by default for unary calls, which ``total`` already bounds, because
    aiohttp re-arms the idle timer on every chunk received (about 7% of the
    client CPU of a small call). Streams use ``stream_idle`` instead.
    ``pool``: waiting for a free pooled connection, reported as
    ``APITimeoutError(kind="pool")`` so a saturated client is told apart from a
    slow server. ``stream_idle``: the longest silence between chunks of a
    stream; ``stream_total``: one stream attempt, end to end.

    Set per client (``Client(timeout=...)``) or per call
    (``client.with_options(timeout=...)``); a number is the total.
    """

    total: float | None = 60.0
    connect: float | None = 10.0
    read: float | None = None
    pool: float | None = 30.0
    stream_idle: float | None = 60.0
    stream_total: float | None = None

    def __post_init__(self) -> None:
        for name in ("total", "connect", "read", "pool", "stream_idle", "stream_total"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"Timeout.{name} must be a positive number or None, not {value!r}")

    @classmethod
    def of(cls, value: Timeout | float | None) -> Timeout:
        """A ``Timeout`` from a number (the total, with the other budgets capped by it)."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(total=None, connect=None, read=None, pool=None, stream_idle=None)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"timeout must be a positive number or a Timeout, not {value!r}")
        t = float(value)
        return cls(total=t, connect=min(10.0, t), read=None, pool=t, stream_idle=max(t, 60.0))


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """How failed attempts are retried (see :mod:`aioclarifai._retry`).

    Backoff is exponential with full jitter: attempt *n* sleeps a random time
    in ``[0, min(max_backoff, initial_backoff * 2**n))``; "model not ready"
    answers use ``model_not_ready_backoff`` as the initial step. A
    ``Retry-After`` header is honoured up to ``max_retry_after``; beyond it the
    error is raised at once.
    """

    max_retries: int = 2
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    model_not_ready_backoff: float = 2.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        backoffs = ("initial_backoff", "max_backoff", "model_not_ready_backoff", "max_retry_after")
        for name in backoffs:
            if not getattr(self, name) >= 0:
                raise ValueError(f"RetryConfig.{name} must be >= 0")


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved connection settings of a client."""

    pat: str
    base_url: str
    user_id: str
    app_id: str

    @classmethod
    def resolve(
        cls,
        pat: str | None,
        base_url: str | None,
        user_id: str | None,
        app_id: str | None,
    ) -> Settings:
        """Apply arguments, then the environment, then defaults."""
        env = os.environ
        pat = pat if pat is not None else env.get("CLARIFAI_PAT", "")
        base = base_url or env.get("CLARIFAI_API_BASE") or DEFAULT_BASE_URL
        if "://" not in base:
            base = "https://" + base
        return cls(
            pat=pat,
            base_url=base.rstrip("/"),
            user_id=user_id or env.get("CLARIFAI_USER_ID") or "me",
            app_id=app_id or env.get("CLARIFAI_APP_ID") or "",
        )

    def __repr__(self) -> str:
        # The PAT never appears in reprs.
        return (
            f"Settings(base_url={self.base_url!r}, user_id={self.user_id!r}, "
            f"app_id={self.app_id!r}, pat={'***' if self.pat else ''!r})"
        )
