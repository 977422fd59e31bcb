"""Proxies, TLS with a private CA, connector tuning, session factory, trace_configs (loopback)."""

from __future__ import annotations

import base64
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from aioclarifai import APIConnectionError, Client, InsecureTransportWarning, types

from ._netfixtures import PrivateCA, loopback_proxy, make_private_ca
from ._recording_server import recording_server

PAT = "pat-network-0123456789"
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXY_VARS, "NO_PROXY", "no_proxy", "CLARIFAI_ROOT_CERTIFICATES_PATH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateCA]:
    yield make_private_ca(tmp_path_factory.mktemp("ca"))


async def list_workflows(client: Client) -> types.MultiWorkflowResponse:
    return await client.list_workflows(types.ListWorkflowsRequest())


# -- proxies --------------------------------------------------------------------------


async def test_http_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with recording_server() as server, loopback_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with Client(PAT, base_url=server.url, app_id="a", max_retries=0) as client:
            await list_workflows(client)
        assert proxy.requests == [f"GET {server.url}/v2/users/me/apps/a/workflows"]
        assert server.last.headers["Authorization"] == f"Key {PAT}"


async def test_no_proxy_exempts_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    async with recording_server() as server, loopback_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with Client(PAT, base_url=server.url, app_id="a") as client:
            await list_workflows(client)
        assert proxy.requests == []
        assert len(server.received) == 1


async def test_trust_env_false_ignores_the_proxy_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with recording_server() as server, loopback_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with Client(PAT, base_url=server.url, app_id="a", trust_env=False) as client:
            await list_workflows(client)
        assert proxy.requests == []


async def test_https_proxy_from_the_environment_tunnels_tls(
    ca: PrivateCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with recording_server(ca.server_context()) as server, loopback_proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        async with Client(PAT, base_url=server.url, app_id="a", ssl=str(ca.ca_pem)) as client:
            await list_workflows(client)
        assert proxy.requests == [f"CONNECT {server.url.removeprefix('https://')}"]
        assert server.last.headers["Authorization"] == f"Key {PAT}"  # inside the tunnel


async def test_explicit_proxy_with_basic_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # ignored: proxy= wins
    async with (
        recording_server() as server,
        loopback_proxy(user="svc", password="s3cret") as proxy,
    ):
        url = proxy.url.replace("http://", "http://svc:s3cret@")
        async with Client(PAT, base_url=server.url, app_id="a", proxy=url) as client:
            assert "s3cret" not in repr(client)
            await list_workflows(client)
        assert proxy.requests == [f"GET {server.url}/v2/users/me/apps/a/workflows"]
        assert proxy.auth == ["Basic " + base64.b64encode(b"svc:s3cret").decode()]
        assert "Proxy-Authorization" not in server.last.headers


@pytest.mark.parametrize("tls", [False, True])
async def test_proxy_refusing_the_credentials_is_a_clear_error(ca: PrivateCA, tls: bool) -> None:
    context = ca.server_context() if tls else None
    async with (
        recording_server(context) as server,
        loopback_proxy(user="svc", password="s3cret") as proxy,
    ):
        url = proxy.url.replace("http://", "http://svc:wrong@")
        async with Client(
            PAT, base_url=server.url, app_id="a", proxy=url, ssl=str(ca.ca_pem), max_retries=0
        ) as client:
            with pytest.raises(APIConnectionError, match="407 Proxy Authentication") as info:
                await list_workflows(client)
        assert "wrong" not in str(info.value)
        assert info.value.request_sent is False
        assert server.received == []


async def test_explicit_proxy_for_https(ca: PrivateCA) -> None:
    async with recording_server(ca.server_context()) as server, loopback_proxy() as proxy:
        async with Client(
            PAT, base_url=server.url, app_id="a", proxy=proxy.url, ssl=str(ca.ca_pem)
        ) as client:
            await list_workflows(client)
        assert proxy.requests[0].startswith("CONNECT 127.0.0.1:")


# -- TLS with a private CA -------------------------------------------------------------


async def test_private_ca_refused_without_being_trusted(ca: PrivateCA) -> None:
    async with recording_server(ca.server_context()) as server:
        async with Client(PAT, base_url=server.url, app_id="a", max_retries=0) as client:
            with pytest.raises(APIConnectionError, match=r"(?i)certificate"):
                await list_workflows(client)
        assert server.received == []


@pytest.mark.parametrize("how", ["path", "context"])
async def test_private_ca_accepted_through_ssl(ca: PrivateCA, how: str) -> None:
    option: Any = str(ca.ca_pem) if how == "path" else ssl.create_default_context(cafile=ca.ca_pem)
    async with (
        recording_server(ca.server_context()) as server,
        Client(PAT, base_url=server.url, app_id="a", ssl=option) as client,
    ):
        await list_workflows(client)
        assert len(server.received) == 1


async def test_private_ca_accepted_through_the_ca_bundle_variable(
    ca: PrivateCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLARIFAI_ROOT_CERTIFICATES_PATH", str(ca.ca_pem))
    async with (
        recording_server(ca.server_context()) as server,
        Client(PAT, base_url=server.url, app_id="a") as client,
    ):
        await list_workflows(client)
        assert len(server.received) == 1


async def test_ssl_false_connects_with_a_loud_warning(ca: PrivateCA) -> None:
    async with recording_server(ca.server_context()) as server:
        with pytest.warns(InsecureTransportWarning, match="NOT verified") as record:
            client = Client(PAT, base_url=server.url, app_id="a", ssl=False)
        assert record[0].filename == __file__
        async with client:
            await list_workflows(client)
        assert len(server.received) == 1


# -- connector tuning, session factory, trace_configs ---------------------------------


async def test_connector_options_session_factory_and_trace_configs() -> None:
    made: list[dict[str, Any]] = []
    starts: list[str] = []

    def factory(**kwargs: Any) -> aiohttp.ClientSession:
        made.append(kwargs)
        return aiohttp.ClientSession(**kwargs, cookie_jar=aiohttp.DummyCookieJar())

    async def on_start(
        session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        starts.append(f"{params.method} {params.url.path}")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with recording_server() as server:
        async with Client(
            PAT,
            base_url=server.url,
            app_id="a",
            connector_options={"family": socket.AF_INET, "ttl_dns_cache": 600},
            session_factory=factory,
            trace_configs=[trace],
        ) as client:
            await list_workflows(client)
        assert len(made) == 1
        connector = made[0]["connector"]
        assert isinstance(connector, aiohttp.TCPConnector)
        assert connector.family == socket.AF_INET  # the option reached the connector
        assert made[0]["trace_configs"] == [trace]
        assert starts == ["GET /v2/users/me/apps/a/workflows"]


def test_the_ca_fixture_is_really_private(ca: PrivateCA, tmp_path: Path) -> None:
    # The system trust store does not know this CA (the refusal test depends on it).
    ctx = ssl.create_default_context()
    assert all("aioclarifai test CA" not in str(c.get("subject")) for c in ctx.get_ca_certs())
    assert ca.ca_pem.read_text().startswith("-----BEGIN CERTIFICATE-----")
