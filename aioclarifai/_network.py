"""Network options of the default transport: proxies, TLS, connector tuning, session factory.

Resolved once at ``Client()`` (bad values fail there, before any I/O) and
handed to the aiohttp transport, the only module that imports aiohttp.

- ``trust_env`` (default True): ``HTTPS_PROXY`` / ``HTTP_PROXY`` (for the base
  URL's scheme, lower case first), else ``ALL_PROXY``, unless ``NO_PROXY``
  exempts the host — as the official JSON channel's requests session does.
  Read once, when the client is created: aiohttp's own ``trust_env`` looks
  the environment up in a worker thread on every request.
- ``proxy``: one proxy URL for every request (wins over the environment);
  ``http://user:password@host:port`` sends Basic proxy auth.
- ``ssl``: an ``ssl.SSLContext``; a CA bundle path (file or directory) to
  verify the server against instead of the system's; ``False`` turns
  verification off, with an :class:`InsecureTransportWarning`; ``None``/``True``
  verify against ``CLARIFAI_ROOT_CERTIFICATES_PATH`` when set (as the official
  SDK does), else the system's CAs.
- ``connector_options``: extra keyword arguments of ``aiohttp.TCPConnector``
  (``ttl_dns_cache``, ``family``, ``local_addr``, ``resolver``, ...).
- ``session_factory``: called with the keyword arguments the client would pass
  to ``aiohttp.ClientSession`` (the connector already built); returns the
  session. For what the other options do not cover (a cookie jar, say).
- ``trace_configs``: ``aiohttp.TraceConfig`` objects, passed to the session.
"""

from __future__ import annotations

import os
import ssl as _ssl
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ._clarifai_config import ConfigurationError
from ._config import InsecureTransportWarning

__all__ = ["ROOT_CERTIFICATES_ENV", "NetworkOptions", "SSLOption", "without_credentials"]

ROOT_CERTIFICATES_ENV = "CLARIFAI_ROOT_CERTIFICATES_PATH"

SSLOption = _ssl.SSLContext | bool | str | os.PathLike[str] | None
"""What ``Client(ssl=...)`` accepts."""

# The transport sets these itself; a caller changing them would break its promises.
_RESERVED_CONNECTOR_OPTIONS = frozenset({"limit", "limit_per_host", "ssl", "keepalive_timeout"})


@dataclass(frozen=True, slots=True)
class NetworkOptions:
    """Resolved network options (see the module docstring)."""

    trust_env: bool = True
    #: The proxy given as ``proxy=`` (the environment's is looked up by :meth:`proxy_for`).
    proxy: str | None = None
    #: An SSLContext, or True for aiohttp's default verification, False for none.
    ssl: _ssl.SSLContext | bool = True
    #: Where the CA bundle came from (for reprs), "" for the system's.
    ca_source: str = ""
    connector_options: Mapping[str, Any] = field(default_factory=dict)
    session_factory: Callable[..., Any] | None = None
    trace_configs: tuple[Any, ...] = ()

    @classmethod
    def resolve(
        cls,
        *,
        trust_env: bool = True,
        proxy: str | None = None,
        ssl: SSLOption = None,
        connector_options: Mapping[str, Any] | None = None,
        session_factory: Callable[..., Any] | None = None,
        trace_configs: Sequence[Any] = (),
        env: Mapping[str, str] | None = None,
        stacklevel: int = 3,
    ) -> NetworkOptions:
        """Check and resolve the options; :class:`ConfigurationError` for a bad one."""
        env = os.environ if env is None else env
        if proxy:
            _check_proxy(proxy, "proxy=")
        context, ca_source = _ssl_context(ssl, env, stacklevel + 1)
        options = dict(connector_options or {})
        reserved = sorted(_RESERVED_CONNECTOR_OPTIONS & options.keys())
        if reserved:
            raise ConfigurationError(
                f"connector_options may not set {', '.join(reserved)}: use max_connections=, "
                "keepalive_expiry= and ssl= of Client instead"
            )
        if session_factory is not None and not callable(session_factory):
            raise ConfigurationError("session_factory must be callable")
        return cls(
            trust_env=bool(trust_env),
            proxy=proxy or None,
            ssl=context,
            ca_source=ca_source,
            connector_options=options,
            session_factory=session_factory,
            trace_configs=tuple(trace_configs),
        )

    @property
    def given(self) -> bool:
        """True when any option differs from the defaults."""
        return self != NetworkOptions()

    def proxy_for(self, base_url: str) -> tuple[str | None, str]:
        """(the proxy requests to ``base_url`` go through or None, where it came from).

        ``proxy=`` wins; else, with ``trust_env``, the environment's proxy for
        the URL's scheme unless ``NO_PROXY`` exempts its host. A bad proxy URL
        in the environment is a :class:`ConfigurationError`.
        """
        if self.proxy:
            return self.proxy, "proxy="
        if not self.trust_env:
            return None, ""
        proxy, source = _proxy_from_environment(base_url)
        if proxy:
            _check_proxy(proxy, source)
        return proxy, source

    def __repr__(self) -> str:
        # Proxy credentials never appear in reprs.
        proxy = without_credentials(self.proxy) if self.proxy else None
        verify = "off" if self.ssl is False else (self.ca_source or "system CAs")
        return f"NetworkOptions(trust_env={self.trust_env}, proxy={proxy!r}, verify={verify!r})"


def _proxy_from_environment(base_url: str) -> tuple[str | None, str]:
    """The proxy the environment gives for ``base_url``'s scheme and host (or none)."""
    import urllib.request

    proxies = urllib.request.getproxies_environment()
    parts = urlsplit(base_url)
    host = parts.netloc.rpartition("@")[2]
    if urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
        return None, ""
    for key in (parts.scheme, "all"):
        if proxies.get(key):
            return proxies[key], f"{key.upper()}_PROXY"
    return None, ""


def _check_proxy(proxy: str, source: str) -> None:
    try:
        parts = urlsplit(proxy)
        host = parts.hostname
    except ValueError as exc:
        raise ConfigurationError(f"the proxy from {source} is not a valid URL ({exc})") from None
    if parts.scheme not in {"http", "https"} or not host:
        raise ConfigurationError(
            f"the proxy from {source} must be an http:// (or https://) URL such as "
            f"http://user:pass@host:3128, not {without_credentials(proxy)!r}"
        )


def without_credentials(url: str) -> str:
    """``url`` with its user and password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if parts.password is None and parts.username is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"***@{netloc}").geturl()


def _ssl_context(
    option: SSLOption, env: Mapping[str, str], stacklevel: int
) -> tuple[_ssl.SSLContext | bool, str]:
    """(the ``ssl`` value for aiohttp, where its CAs came from)."""
    if isinstance(option, _ssl.SSLContext):
        return option, "the given SSLContext"
    if option is False:
        warnings.warn(
            "ssl=False: server certificates are NOT verified; anyone on the network path can "
            "read and change the traffic, the PAT included. Pass a CA bundle path or an "
            "SSLContext instead.",
            InsecureTransportWarning,
            stacklevel=stacklevel,
        )
        return False, ""
    if option is None or option is True:
        path = env.get(ROOT_CERTIFICATES_ENV, "").strip()
        if not path:
            return True, ""
        return _context_from_bundle(path, ROOT_CERTIFICATES_ENV), path
    if isinstance(option, str | os.PathLike):
        path = os.fspath(option)
        return _context_from_bundle(path, "ssl="), path
    raise ConfigurationError(
        f"ssl must be an SSLContext, a CA bundle path, True or False, not {type(option).__name__}"
    )


def _context_from_bundle(path: str, source: str) -> _ssl.SSLContext:
    """A verifying context trusting the CAs at ``path`` (a PEM file or a hashed directory)."""
    try:
        if os.path.isdir(path):
            return _ssl.create_default_context(capath=path)
        return _ssl.create_default_context(cafile=path)
    except (OSError, _ssl.SSLError) as exc:
        raise ConfigurationError(
            f"cannot load the CA bundle {path!r} from {source}: {exc}"
        ) from None
