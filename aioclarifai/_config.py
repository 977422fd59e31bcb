"""Client settings: credentials, base URL, user/app defaults, timeouts, retries.

Credentials come from the first place that has one, in the order the official
tools use: the arguments (``pat=`` or ``session_token=``), the environment
(``CLARIFAI_PAT``, else ``CLARIFAI_SESSION_TOKEN``), then the Clarifai CLI
config's current context (``CLARIFAI_CONTEXT`` picks another). The user, app
and base URL come from the arguments, then the environment
(``CLARIFAI_USER_ID``, ``CLARIFAI_APP_ID``, ``CLARIFAI_API_BASE``), then that
context when it supplied the credential, then the defaults. Bad settings are a
:class:`ConfigurationError` at ``Client()``, before any I/O.
"""

from __future__ import annotations

import os
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ._clarifai_config import CliContext, ConfigurationError, config_path, read_context

__all__ = [
    "DEFAULT_BASE_URL",
    "NOT_GIVEN",
    "ConfigurationError",
    "InsecureTransportWarning",
    "NotGiven",
    "RetryConfig",
    "Settings",
    "Timeout",
]

DEFAULT_BASE_URL = "https://api.clarifai.com"


class NotGiven:
    """The default of an option that was not passed, where ``None`` is a value of its own.

    ``with_options(timeout=None)`` asks for no time limit; leaving ``timeout``
    out keeps the client's.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN = NotGiven()


@dataclass(frozen=True, slots=True)
class Timeout:
    """Time budgets in seconds; ``None`` means unlimited.

    ``total``: a whole unary call — every attempt, the waits between them and
    any wait for a pooled connection; a retry that would not fit is not made.
    It never fires early and at most 1/64 s late (1/4 s for a deadline five
    seconds away or more): one timer per time slice serves every call of the
    client, instead of a timer per request (see ``aioclarifai._deadlines``).
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


class InsecureTransportWarning(UserWarning):
    """The client was configured so that its credential may be read on the network.

    Issued for a plain ``http://`` base URL to a host other than loopback, and
    for ``ssl=False`` (no certificate verification).
    """


_PAT_ENV = "CLARIFAI_PAT"
_TOKEN_ENV = "CLARIFAI_SESSION_TOKEN"
_NO_CREDENTIALS = (
    "no Clarifai credentials: pass pat=... to Client(), set the CLARIFAI_PAT environment "
    "variable (or CLARIFAI_SESSION_TOKEN), or log in with the Clarifai CLI, which keeps the "
    "PAT in {path}"
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved connection settings of a client.

    Exactly one of ``pat`` and ``session_token`` is set; ``credential_source``
    says where it came from (for reprs and the README's "which one won").
    """

    pat: str
    base_url: str
    user_id: str
    app_id: str
    session_token: str = ""
    credential_source: str = ""

    @classmethod
    def resolve(
        cls,
        pat: str | None,
        base_url: str | None,
        user_id: str | None,
        app_id: str | None,
        session_token: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        stacklevel: int = 3,
    ) -> Settings:
        """Apply arguments, then the environment, then the CLI config, then defaults.

        Raises :class:`ConfigurationError` when no credential is found, or the
        one found has characters no HTTP header may carry. Warns
        (:class:`InsecureTransportWarning`) about a plain ``http://`` base URL
        to a non-loopback host; ``stacklevel`` points the warning at the caller.
        """
        env = os.environ if env is None else env
        context: CliContext | None = None
        if pat or session_token:
            if pat and session_token:
                raise ConfigurationError("pass either pat= or session_token=, not both")
            source = "pat= argument" if pat else "session_token= argument"
            pat, token = _credential(pat, source), _credential(session_token, source)
        elif env.get(_PAT_ENV, "").strip() or env.get(_TOKEN_ENV, "").strip():
            # Both set: the PAT wins, as in the official SDK.
            source = _PAT_ENV if env.get(_PAT_ENV, "").strip() else _TOKEN_ENV
            pat = _credential(env.get(_PAT_ENV), _PAT_ENV)
            token = "" if pat else _credential(env.get(_TOKEN_ENV), _TOKEN_ENV)
        else:
            context = _cli_context(env)
            values = context.values
            where = f"the Clarifai CLI config {context.path}, context {context.name!r}"
            pat = _credential(values.get(_PAT_ENV), where)
            token = "" if pat else _credential(values.get(_TOKEN_ENV), where)
            source = f"Clarifai CLI config {context.path} (context {context.name!r})"
        fallback = context.values if context is not None else {}
        base = (
            base_url
            or env.get("CLARIFAI_API_BASE")
            or fallback.get("CLARIFAI_API_BASE")
            or DEFAULT_BASE_URL
        ).strip()
        if "://" not in base:
            base = "https://" + base
        base = base.rstrip("/")
        _check_base_url(base, stacklevel + 1)
        return cls(
            pat=pat,
            base_url=base,
            user_id=user_id or env.get("CLARIFAI_USER_ID") or fallback.get("CLARIFAI_USER_ID")
            or "me",
            app_id=app_id or env.get("CLARIFAI_APP_ID") or fallback.get("CLARIFAI_APP_ID") or "",
            session_token=token,
            credential_source=source,
        )  # fmt: skip

    @property
    def secrets(self) -> tuple[str, ...]:
        """The credential in use, for redaction from errors and logs."""
        return tuple(s for s in (self.pat, self.session_token) if s)

    def auth_headers(self) -> dict[str, str]:
        """The headers that authenticate every request."""
        if self.pat:
            return {"Authorization": f"Key {self.pat}"}
        return {"X-Clarifai-Session-Token": self.session_token}

    def __repr__(self) -> str:
        # The credential never appears in reprs: only where it came from.
        return (
            f"Settings(base_url={self.base_url!r}, user_id={self.user_id!r}, "
            f"app_id={self.app_id!r}, credentials={self.credential_source!r})"
        )


def _credential(value: str | None, source: str) -> str:
    """``value`` without surrounding whitespace; ``ConfigurationError`` for a bad character.

    A PAT read from a file keeps its trailing newline; aiohttp would refuse
    it on every call ("forbidden control character") instead of once, here.
    """
    value = (value or "").strip()
    for position, char in enumerate(value):
        if "!" <= char <= "~":
            continue
        if unicodedata.category(char) == "Cc":
            kind = "a control character"
        elif char.isspace():
            kind = "whitespace"
        else:
            kind = "a non-ASCII character"
        # Name the character by code point: never echo any part of the secret.
        raise ConfigurationError(
            f"the credential from {source} contains {kind} (U+{ord(char):04X}) at position "
            f"{position + 1} of {len(value)}; an HTTP header cannot carry it (a copy-paste or "
            "file-reading mistake?)"
        )
    return value


def _cli_context(env: Mapping[str, str]) -> CliContext:
    """The CLI config's chosen context, when it holds a credential; else ConfigurationError."""
    path = config_path()
    chosen = env.get("CLARIFAI_CONTEXT", "").strip() or None
    try:
        context = read_context(path, chosen, env)
    except FileNotFoundError:
        message = _NO_CREDENTIALS.format(path=path)
        if chosen:
            message += f" (CLARIFAI_CONTEXT={chosen!r} is set, but that file does not exist)"
        raise ConfigurationError(message) from None
    if _PAT_ENV in context.values or _TOKEN_ENV in context.values:
        return context
    message = _NO_CREDENTIALS.format(path=path)
    missing = [k for k in (_PAT_ENV, _TOKEN_ENV) if k in context.unset]
    if missing:
        message += (
            f"; its context {context.name!r} says {missing[0]}: ENVVAR (take it from the "
            f"environment), but {missing[0]} is not set"
        )
    else:
        message += f"; its context {context.name!r} has no {_PAT_ENV}"
    raise ConfigurationError(message)


def _check_base_url(base: str, stacklevel: int) -> None:
    """``ConfigurationError`` for a URL no request can use; a warning for clear-text HTTP."""
    try:
        parts = urlsplit(base)
        host = parts.hostname or ""
    except ValueError as exc:
        raise ConfigurationError(f"base_url {base!r} is not a valid URL ({exc})") from None
    if parts.scheme not in {"http", "https"} or not host:
        raise ConfigurationError(f"base_url {base!r} must be an http:// or https:// URL")
    if parts.scheme == "http" and not _is_loopback(host):
        warnings.warn(
            f"base_url {base!r} is plain http:// to a host other than loopback: the PAT "
            "would cross the network in clear text; use https://",
            InsecureTransportWarning,
            stacklevel=stacklevel,
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    import ipaddress  # only for plain-http base URLs: keeps ``import aioclarifai`` lean

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
