"""Credentials: arguments, then the environment, then the Clarifai CLI config; bad ones early."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from aioclarifai import Client, ConfigurationError, InsecureTransportWarning
from aioclarifai._clarifai_config import _Unsupported, parse_yaml_subset
from aioclarifai._config import Settings

SECRET = "0123456789abcdef0123456789abcdef"
ENV_NAMES = (
    "CLARIFAI_PAT",
    "CLARIFAI_SESSION_TOKEN",
    "CLARIFAI_USER_ID",
    "CLARIFAI_APP_ID",
    "CLARIFAI_API_BASE",
    "CLARIFAI_CONTEXT",
)

CLI_CONFIG = """\
contexts:
  default:
    CLARIFAI_API_BASE: https://api.clarifai.com
    CLARIFAI_PAT: cfg-default-pat-0001
    CLARIFAI_USER_ID: alice
  staging:
    env:
      CLARIFAI_API_BASE: 'https://api-staging.example.com'
      CLARIFAI_PAT: "cfg-staging-pat-0002"
      CLARIFAI_APP_ID: staging-app   # a comment
  fromenv:
    CLARIFAI_PAT: ENVVAR
current_context: default
"""


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty temporary HOME and no Clarifai variables: nothing leaks in from the machine."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def write_config(home: Path, text: str = CLI_CONFIG) -> Path:
    path = home / ".config" / "clarifai" / "config"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- the order of sources ------------------------------------------------------------


def test_argument_wins_over_environment_and_config(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(home)
    monkeypatch.setenv("CLARIFAI_PAT", "env-pat-0000")
    s = Settings.resolve(SECRET, None, None, None)
    assert s.pat == SECRET
    assert s.credential_source == "pat= argument"
    assert s.user_id == "me"  # the config is not consulted when the credential came elsewhere


def test_environment_wins_over_config(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(home)
    monkeypatch.setenv("CLARIFAI_PAT", "env-pat-0000")
    s = Settings.resolve(None, None, None, None)
    assert (s.pat, s.credential_source, s.user_id) == ("env-pat-0000", "CLARIFAI_PAT", "me")


def test_pat_wins_over_session_token_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", "env-pat-0000")
    monkeypatch.setenv("CLARIFAI_SESSION_TOKEN", "env-token-0000")
    s = Settings.resolve(None, None, None, None)
    assert (s.pat, s.session_token) == ("env-pat-0000", "")
    assert s.auth_headers() == {"Authorization": "Key env-pat-0000"}


def test_session_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_SESSION_TOKEN", "env-token-0000")
    s = Settings.resolve(None, None, None, None)
    assert s.credential_source == "CLARIFAI_SESSION_TOKEN"
    assert s.auth_headers() == {"X-Clarifai-Session-Token": "env-token-0000"}
    assert s.secrets == ("env-token-0000",)


def test_session_token_argument() -> None:
    s = Settings.resolve(None, None, None, None, "tok-0000")
    assert s.auth_headers() == {"X-Clarifai-Session-Token": "tok-0000"}
    assert s.credential_source == "session_token= argument"
    with pytest.raises(ConfigurationError, match="either pat= or session_token="):
        Settings.resolve("pat-0000", None, None, None, "tok-0000")


def test_current_context_of_the_cli_config(home: Path) -> None:
    path = write_config(home)
    s = Settings.resolve(None, None, None, None)
    assert s.pat == "cfg-default-pat-0001"
    assert s.user_id == "alice"
    assert s.base_url == "https://api.clarifai.com"
    assert s.credential_source == f"Clarifai CLI config {path} (context 'default')"


def test_clarifai_context_chooses_another_and_env_submap_is_read(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(home)
    monkeypatch.setenv("CLARIFAI_CONTEXT", "staging")
    monkeypatch.setenv("CLARIFAI_USER_ID", "bob")  # the environment still wins per setting
    s = Settings.resolve(None, None, None, None)
    assert s.pat == "cfg-staging-pat-0002"
    assert s.base_url == "https://api-staging.example.com"
    assert s.app_id == "staging-app"
    assert s.user_id == "bob"
    assert "context 'staging'" in s.credential_source


def test_envvar_value_without_the_variable_is_explained(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(home)
    monkeypatch.setenv("CLARIFAI_CONTEXT", "fromenv")
    with pytest.raises(ConfigurationError, match=r"CLARIFAI_PAT: ENVVAR .* is not set"):
        Settings.resolve(None, None, None, None)


def test_unknown_context_names_the_known_ones(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(home)
    monkeypatch.setenv("CLARIFAI_CONTEXT", "prod")
    with pytest.raises(ConfigurationError, match=r"'prod'.*'default', 'staging', 'fromenv'"):
        Settings.resolve(None, None, None, None)


def test_config_without_pat_in_its_context(home: Path) -> None:
    write_config(home, "current_context: a\ncontexts:\n  a:\n    CLARIFAI_USER_ID: me\n")
    with pytest.raises(ConfigurationError, match="context 'a' has no CLARIFAI_PAT"):
        Settings.resolve(None, None, None, None)


def test_yaml_outside_the_subset_is_read_with_pyyaml(home: Path) -> None:
    pytest.importorskip("yaml", reason="with PyYAML the fallback reads the file")
    write_config(home, "contexts: {a: {CLARIFAI_PAT: x}}\ncurrent_context: a\n")
    # PyYAML installed: the flow mapping is read by it.
    assert Settings.resolve(None, None, None, None).pat == "x"


def test_unsupported_yaml_without_pyyaml_names_the_line(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "yaml", None)  # as if PyYAML were not installed
    path = write_config(home, "current_context: a\ncontexts:\n  - a\n")
    with pytest.raises(ConfigurationError, match=rf"{path}:3: a list item .*pip install pyyaml"):
        Settings.resolve(None, None, None, None)


# -- issue 14 item 10: bad configuration surfaces at Client() -------------------------


def test_no_credential_anywhere_fails_at_client_naming_both_ways() -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(app_id="a")
    message = str(info.value)
    assert "pat=" in message
    assert "CLARIFAI_PAT" in message
    assert ".config/clarifai/config" in message


def test_empty_environment_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", "  \n")
    with pytest.raises(ConfigurationError, match="pat="):
        Client(app_id="a")


def test_surrounding_whitespace_is_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", f"{SECRET}\n")  # as read from a file
    assert Settings.resolve(None, None, None, None).pat == SECRET
    assert Settings.resolve(f"  {SECRET}\r\n", None, None, None).pat == SECRET


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        (f"{SECRET[:8]}\n{SECRET[8:]}", "a control character \\(U\\+000A\\) at position 9"),
        (f"{SECRET[:8]}\x00{SECRET[8:]}", "a control character \\(U\\+0000\\)"),
        (f"{SECRET[:8]} {SECRET[8:]}", "whitespace \\(U\\+0020\\)"),
        (f"{SECRET[:8]}é{SECRET[8:]}", "a non-ASCII character \\(U\\+00E9\\)"),
    ],
)
def test_inner_bad_characters_are_rejected_without_echoing_the_secret(bad: str, kind: str) -> None:
    with pytest.raises(ConfigurationError, match=kind) as info:
        Client(bad, app_id="a")
    assert SECRET[:8] not in str(info.value)
    assert "pat= argument" in str(info.value)


def test_bad_character_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", "abc\x7fdef")
    with pytest.raises(ConfigurationError, match="from CLARIFAI_PAT contains a control character"):
        Client(app_id="a")


@pytest.mark.parametrize(
    "url",
    ["http://api.example.com", "http://10.0.0.5:8080", "http://[2001:db8::1]/"],
)
def test_plain_http_to_a_remote_host_warns(url: str) -> None:
    with pytest.warns(InsecureTransportWarning, match="clear text") as record:
        Client(SECRET, base_url=url, app_id="a")
    assert record[0].filename == __file__  # pointed at the caller
    assert SECRET not in str(record[0].message)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.8.9.10",
        "http://localhost:1",
        "http://[::1]:80",
        "https://api.example.com",
        "api.example.com",
    ],
)
def test_loopback_or_https_does_not_warn(url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Client(SECRET, base_url=url, app_id="a")


@pytest.mark.parametrize("url", ["ftp://host", "https://", "http://[::1"])
def test_unusable_base_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        Client(SECRET, base_url=url, app_id="a")


def test_repr_shows_the_source_never_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", SECRET)
    client = Client(app_id="a")
    assert "credentials='CLARIFAI_PAT'" in repr(client)
    assert SECRET not in repr(client)
    assert SECRET not in repr(client._core.settings)
    assert SECRET not in repr(client._core)


# -- the YAML subset ------------------------------------------------------------------


def test_yaml_subset_scalars_and_nesting() -> None:
    text = (
        "# comment\n"
        "---\n"
        "a:\n"
        "  b: plain value # trailing comment\n"
        "  c: 'it''s'\n"
        '  d: "tab\\there \\u00e9 \\"q\\""\n'
        "  e: ~\n"
        "  f:\n"
        "  g: url#fragment\n"
        "top: https://x.example.com:443/p\n"
        "'quoted key': 1\n"
    )
    assert parse_yaml_subset(text) == {
        "a": {
            "b": "plain value",
            "c": "it's",
            "d": 'tab\there é "q"',
            "e": None,
            "f": None,
            "g": "url#fragment",
        },
        "top": "https://x.example.com:443/p",
        "quoted key": "1",
    }


def test_yaml_subset_reads_what_pyyaml_safe_dump_writes() -> None:
    yaml = pytest.importorskip("yaml")
    data = {
        "contexts": {
            "default": {
                "CLARIFAI_PAT": SECRET,
                "CLARIFAI_USER_ID": "12345",
                "CLARIFAI_APP_ID": "yes",
                "odd": "a: b # c 'd' \"e\" \\ é",
                "empty": "",
            },
            "other name": {"env": {"CLARIFAI_PAT": "null"}},
        },
        "current_context": "default",
    }
    assert parse_yaml_subset(yaml.safe_dump(data)) == data
    assert parse_yaml_subset(yaml.safe_dump(data, allow_unicode=True)) == data


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: [1, 2]\n", 1),
        ("a: {b: c}\n", 1),
        ("a:\n  - b\n", 2),
        ("a: &x b\n", 1),
        ("a: |\n  text\n", 1),
        ("a: b\n  continued\n", 2),
        ("a:\n    b: 1\n  c: 2\n", 3),
        ("a: 'open\n", 1),
        ("a: x\n---\nb: y\n", 2),
        ("\ta: x\n", 1),
        ('a: "\\q"\n', 1),
    ],
)
def test_yaml_outside_the_subset_is_reported_with_its_line(text: str, line: int) -> None:
    with pytest.raises(_Unsupported) as info:
        parse_yaml_subset(text)
    assert info.value.line == line
