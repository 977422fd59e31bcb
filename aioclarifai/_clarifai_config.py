"""Reading the Clarifai CLI's config file (``~/.config/clarifai/config``).

The CLI writes it with PyYAML's ``safe_dump``::

    contexts:
      default:
        CLARIFAI_API_BASE: https://api.clarifai.com
        CLARIFAI_PAT: 0123abcd...
        CLARIFAI_USER_ID: me
    current_context: default

Keys sit flat under the context, or in an ``env:`` sub-map (both are read;
flat keys win); the value ``ENVVAR`` means "take it from the environment".

PyYAML is not a dependency of aioclarifai, so this module parses the block
subset such a file uses itself: nested ``key: value`` mappings by indentation,
plain, single- and double-quoted scalars, comments, ``~``/``null``. A file
with anything else (flow collections, lists, anchors, block scalars) is read
with PyYAML when it is installed, and is otherwise a :class:`ConfigurationError`
naming the line. Values are read as text (``user_id: 123`` is ``"123"``).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ClarifaiError

__all__ = ["CliContext", "ConfigurationError", "config_path", "parse_yaml_subset", "read_context"]

#: Settings a context may hold, each under its ``CLARIFAI_`` name or a short alias.
KEYS: dict[str, tuple[str, ...]] = {
    "CLARIFAI_PAT": ("CLARIFAI_PAT", "pat"),
    "CLARIFAI_SESSION_TOKEN": ("CLARIFAI_SESSION_TOKEN", "session_token"),
    "CLARIFAI_USER_ID": ("CLARIFAI_USER_ID", "user_id"),
    "CLARIFAI_APP_ID": ("CLARIFAI_APP_ID", "app_id"),
    "CLARIFAI_API_BASE": ("CLARIFAI_API_BASE", "api_base", "base_url"),
}
FROM_ENVIRONMENT = "ENVVAR"


class ConfigurationError(ClarifaiError, ValueError):
    """The client's configuration is unusable; raised by ``Client()`` before any I/O.

    Raised for a missing credential, a PAT with control characters inside, an
    unreadable Clarifai CLI config file or a context it does not define.
    """


@dataclass(frozen=True, slots=True)
class CliContext:
    """One context of the CLI config: its name, the file, and its ``CLARIFAI_*`` values."""

    name: str
    path: str
    values: dict[str, str]
    #: Keys whose value is ``ENVVAR`` while the environment variable is unset.
    unset: tuple[str, ...] = ()


def config_path() -> str:
    """Where the Clarifai CLI keeps its config (``$HOME/.config/clarifai/config``)."""
    return os.path.join(os.path.expanduser("~"), ".config", "clarifai", "config")


def read_context(path: str, name: str | None, env: Mapping[str, str]) -> CliContext:
    """The context ``name`` (default: the file's ``current_context``) of the config at ``path``.

    ``ConfigurationError`` when the file cannot be read or parsed, or lacks
    the context. ``FileNotFoundError`` passes through (no file is no config).
    """
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the Clarifai CLI config {path}: {exc}") from None
    data = _load(text, path)
    contexts = data.get("contexts")
    if not isinstance(contexts, dict):
        raise ConfigurationError(f"{path}: no 'contexts' mapping")
    chosen = name or data.get("current_context")
    if not isinstance(chosen, str) or not chosen:
        raise ConfigurationError(
            f"{path}: no current_context (set CLARIFAI_CONTEXT to one of: {_names(contexts)})"
        )
    context = contexts.get(chosen)
    if not isinstance(context, dict):
        how = "CLARIFAI_CONTEXT" if name else "current_context"
        raise ConfigurationError(
            f"{path}: {how} names context {chosen!r}, which the file does not define "
            f"(contexts: {_names(contexts)})"
        )
    values: dict[str, str] = {}
    unset: list[str] = []
    sub = context.get("env")
    for source in (context, sub if isinstance(sub, dict) else {}):
        for key, aliases in KEYS.items():
            if key in values or key in unset:
                continue
            raw = next((source[a] for a in aliases if source.get(a) is not None), None)
            if raw is None or isinstance(raw, dict | list):
                continue
            value = str(raw)
            if value == FROM_ENVIRONMENT:
                if env.get(key):
                    values[key] = env[key]
                else:
                    unset.append(key)
            elif value:
                values[key] = value
    return CliContext(chosen, path, values, tuple(unset))


def _names(contexts: dict[str, Any]) -> str:
    return ", ".join(repr(str(n)) for n in contexts) or "none"


def _load(text: str, path: str) -> dict[str, Any]:
    """The file's top-level mapping: the subset parser, else PyYAML, else an error."""
    try:
        return parse_yaml_subset(text)
    except _Unsupported as exc:
        unsupported = exc
    try:
        import yaml  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise ConfigurationError(
            f"{path}:{unsupported.line}: {unsupported.reason}, which aioclarifai reads only "
            "with PyYAML installed (pip install pyyaml)"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: the top level is not a mapping")
    return data


class _Unsupported(Exception):
    """A construct outside the subset (or malformed), at a 1-based line."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_INDICATORS = frozenset("[]{}&*!|>%@`,")
_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85",
    "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


@functools.cache
def _key_pattern() -> re.Pattern[str]:
    # key: plain (no ':' '#' or leading quote/indicator), or quoted; then ':' and a space or
    # the end. Compiled on first use: most clients never read the config file.
    return re.compile(
        r"""(?P<key>'(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|[^\s'"#\-?:,\[\]{}&*!|>%@`][^:]*?)"""
        r"""\s*:(?:[ \t]+(?P<value>.*))?$"""
    )


def parse_yaml_subset(text: str) -> dict[str, Any]:
    """Parse block mappings of scalars (see the module docstring); ``_Unsupported`` otherwise."""
    key_pattern = _key_pattern()
    root: dict[str, Any] = {}
    # (indent of the mapping's keys, the mapping); the innermost last.
    stack: list[tuple[int, dict[str, Any]]] = [(0, root)]
    pending: tuple[dict[str, Any], str] | None = None  # a "key:" whose block may follow
    started = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line.startswith(("---", "...")) and stripped in {"---", "..."}:
            if started and stripped == "---":
                raise _Unsupported(number, "a second YAML document")
            continue
        started = True
        body = line.lstrip(" ")
        if body.startswith("\t"):
            raise _Unsupported(number, "a tab in the indentation")
        indent = len(line) - len(body)
        if pending is not None:
            parent, key = pending
            pending = None
            if indent > stack[-1][0]:
                child: dict[str, Any] = {}
                parent[key] = child
                stack.append((indent, child))
        while indent < stack[-1][0]:
            stack.pop()
        if indent != stack[-1][0]:
            raise _Unsupported(number, "an indentation that matches no enclosing mapping")
        match = key_pattern.match(body)
        if match is None:
            what = "a list item" if body.startswith("- ") or body == "-" else "a line"
            raise _Unsupported(number, f"{what} that is not 'key: value'")
        key = _scalar(match.group("key"), number, is_key=True)
        raw_value = match.group("value")
        mapping = stack[-1][1]
        if raw_value is None or not _strip_comment(raw_value):
            pending = (mapping, key)  # a nested block may follow; else the value is null
            mapping[key] = None
        else:
            mapping[key] = _scalar(raw_value, number)
    return root


def _scalar(text: str | None, line: int, *, is_key: bool = False) -> Any:
    """A scalar's value: quoted strings unquoted, ``~``/``null``/empty as None, else the text."""
    text = (text or "").strip()
    if text[:1] in {"'", '"'}:
        quote = text[0]
        end = _closing_quote(text, quote)
        if end < 0:
            raise _Unsupported(line, "a quoted string that continues on the next line")
        rest = text[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise _Unsupported(line, "text after a quoted string")
        inner = text[1:end]
        return inner.replace("''", "'") if quote == "'" else _unescape(inner, line)
    if not is_key:
        text = _strip_comment(text)
        if text[:1] in _INDICATORS or text.startswith(("- ", "? ")):
            raise _Unsupported(line, f"the YAML construct {text[:1]!r}")
        if text in _NULLS:
            return None
    return text


def _closing_quote(text: str, quote: str) -> int:
    """Index of the quote closing ``text[0]``, or -1."""
    i = 1
    while i < len(text):
        c = text[i]
        if quote == '"' and c == "\\":
            i += 2
            continue
        if c == quote:
            if quote == "'" and text[i + 1 : i + 2] == "'":
                i += 2
                continue
            return i
        i += 1
    return -1


def _strip_comment(text: str) -> str:
    # In a plain scalar, " #" starts a comment; a '#' inside a word does not.
    if text.startswith("#"):
        return ""
    at = text.find(" #")
    tab = text.find("\t#")
    cut = min((i for i in (at, tab) if i >= 0), default=-1)
    return (text[:cut] if cut >= 0 else text).strip()


def _unescape(inner: str, line: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(inner):
        c = inner[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        code = inner[i + 1 : i + 2]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif code in _HEX_ESCAPES:
            width = _HEX_ESCAPES[code]
            digits = inner[i + 2 : i + 2 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise _Unsupported(line, f"a bad escape \\{code}{digits}")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        else:
            raise _Unsupported(line, f"an unknown escape \\{code}")
    return "".join(out)
