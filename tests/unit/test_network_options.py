"""Network options are checked and resolved at Client(), before any I/O."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from aioclarifai import ConfigurationError, InsecureTransportWarning
from aioclarifai._network import NetworkOptions

BASE = "https://api.clarifai.com"
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXY_VARS, "NO_PROXY", "no_proxy", "CLARIFAI_ROOT_CERTIFICATES_PATH"):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    net = NetworkOptions.resolve()
    assert (net.trust_env, net.proxy, net.ssl, net.given) == (True, None, True, False)
    assert net.proxy_for(BASE) == (None, "")


def test_proxy_from_the_environment_for_the_base_url_scheme(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://secure-proxy:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://plain-proxy:3128")
    net = NetworkOptions.resolve()
    assert net.proxy_for(BASE) == ("http://secure-proxy:3128", "HTTPS_PROXY")
    assert net.proxy_for("http://api.example.com") == ("http://plain-proxy:3128", "HTTP_PROXY")


def test_all_proxy_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALL_PROXY", "http://any-proxy:1")
    assert NetworkOptions.resolve().proxy_for(BASE)[0] == "http://any-proxy:1"


def test_no_proxy_exempts_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://secure-proxy:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.clarifai.com")
    net = NetworkOptions.resolve()
    assert net.proxy_for(BASE)[0] is None
    assert net.proxy_for("https://other.example.com")[0] == "http://secure-proxy:3128"


def test_trust_env_false_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://secure-proxy:3128")
    assert NetworkOptions.resolve(trust_env=False).proxy_for(BASE) == (None, "")


def test_bad_proxy_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://p:1080")
    with pytest.raises(ConfigurationError, match="the proxy from HTTPS_PROXY"):
        NetworkOptions.resolve().proxy_for(BASE)


def test_explicit_proxy_wins_and_its_password_stays_out_of_reprs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:3128")
    net = NetworkOptions.resolve(proxy="http://user:hunter2@corp-proxy:8080")
    assert net.proxy_for(BASE) == ("http://user:hunter2@corp-proxy:8080", "proxy=")
    assert "hunter2" not in repr(net)
    assert "***@corp-proxy:8080" in repr(net)


@pytest.mark.parametrize("bad", ["socks5://p:1080", "corp-proxy:8080", "http://"])
def test_bad_proxy_is_a_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="proxy"):
        NetworkOptions.resolve(proxy=bad)


def test_ssl_false_warns_loudly() -> None:
    with pytest.warns(InsecureTransportWarning, match="NOT verified") as record:
        net = NetworkOptions.resolve(ssl=False, stacklevel=2)
    assert net.ssl is False
    assert record[0].filename == __file__


def test_ssl_context_is_used_as_given() -> None:
    ctx = ssl.create_default_context()
    assert NetworkOptions.resolve(ssl=ctx).ssl is ctx


def test_missing_ca_bundle_fails_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot load the CA bundle .* from ssl="):
        NetworkOptions.resolve(ssl=tmp_path / "missing.pem")
    monkeypatch.setenv("CLARIFAI_ROOT_CERTIFICATES_PATH", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigurationError, match="from CLARIFAI_ROOT_CERTIFICATES_PATH"):
        NetworkOptions.resolve()


def test_bad_ssl_type_and_reserved_connector_options() -> None:
    with pytest.raises(ConfigurationError, match="ssl must be"):
        NetworkOptions.resolve(ssl=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="may not set limit"):
        NetworkOptions.resolve(connector_options={"limit": 5})
    with pytest.raises(ConfigurationError, match="callable"):
        NetworkOptions.resolve(session_factory="x")  # type: ignore[arg-type]
