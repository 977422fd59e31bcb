"""Credentials from each source reach the server in the right header (real loopback HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aioclarifai import Client, types

from ._recording_server import recording_server

ENV_NAMES = (
    "CLARIFAI_PAT",
    "CLARIFAI_SESSION_TOKEN",
    "CLARIFAI_USER_ID",
    "CLARIFAI_APP_ID",
    "CLARIFAI_API_BASE",
    "CLARIFAI_CONTEXT",
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


async def test_pat_and_settings_from_the_cli_config_in_a_temporary_home(home: Path) -> None:
    async with recording_server() as server:
        config = home / ".config" / "clarifai" / "config"
        config.parent.mkdir(parents=True)
        config.write_text(
            "contexts:\n"
            "  default:\n"
            f"    CLARIFAI_API_BASE: {server.url}\n"
            "    CLARIFAI_PAT: config-file-pat-0001\n"
            "    CLARIFAI_USER_ID: carol\n"
            "    CLARIFAI_APP_ID: carols-app\n"
            "current_context: default\n"
        )
        async with Client() as client:
            assert "Clarifai CLI config" in repr(client)
            await client.list_workflows(types.ListWorkflowsRequest())
        seen = server.last
        assert seen.headers["Authorization"] == "Key config-file-pat-0001"
        assert "X-Clarifai-Session-Token" not in seen.headers
        assert seen.path == "/v2/users/carol/apps/carols-app/workflows"


async def test_session_token_is_sent_as_its_own_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_SESSION_TOKEN", "session-token-0001\n")
    async with recording_server() as server, Client(base_url=server.url, app_id="a") as client:
        await client.list_workflows(types.ListWorkflowsRequest())
        assert server.last.headers["X-Clarifai-Session-Token"] == "session-token-0001"
        assert "Authorization" not in server.last.headers
