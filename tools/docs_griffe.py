"""A griffe extension for the docs site: our reST-flavoured docstrings read as Markdown.

The docstrings are written for ``help()`` and editors, with Sphinx roles
(``:class:`Timeout```), ``::`` before literal blocks and ``>>>`` sessions; the generated types
carry Clarifai's proto comments verbatim, where ``matrix[0][1]`` would be read
as a Markdown reference link (and fail the strict build), ``<id>`` as HTML and
``#### Supported fields`` as a heading.
An enum's members become one table in its docstring rather than a heading
each (thousands of them in the types reference).
mkdocs.yml loads this module through mkdocstrings' ``extensions`` option.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")
_LITERAL_BLOCK = re.compile(r"(?<=\S)::$", re.M)
_DOCTEST = re.compile(r"^(?P<indent>[ \t]*)>>> .*(?:\n(?P=indent)(?:>>>|\.\.\.)(?: .*)?)*", re.M)
_MARKDOWN_SPECIAL = str.maketrans({"[": r"\[", "]": r"\]", "<": "&lt;", ">": "&gt;"})
_HEADING = re.compile(r"^(\s*)#", re.M)


def _resolve(scope: griffe.Object | None, target: str) -> str | None:
    """The full path ``target`` names from ``scope`` (its first part looked up there)."""
    if scope is None:
        return None
    head, _, rest = target.partition(".")
    try:
        path = scope.resolve(head)
    except (griffe.NameResolutionError, griffe.AliasResolutionError):
        return None
    return f"{path}.{rest}" if rest else path


def _role(match: re.Match[str], scope: griffe.Object | None) -> str:
    target = match.group(2)
    title = f"<code>{target.rsplit('.', 1)[-1] if match.group(1) else target}</code>"
    path = _resolve(scope, target)
    if path is None:
        return title
    # An optional autoref is a link when the target is documented, plain code otherwise:
    # a docstring can never break the strict build.
    return f'<autoref identifier="{path}" optional>{title}</autoref>'


def to_markdown(text: str, *, verbatim: bool, scope: griffe.Object | None = None) -> str:
    """The Markdown for one docstring; ``verbatim`` text (proto comments) is escaped whole.

    Sphinx roles link to what they name, resolved from ``scope`` (the object
    the docstring belongs to).
    """
    if verbatim:
        return _HEADING.sub(r"\1\\#", text.translate(_MARKDOWN_SPECIAL))
    text = _DOCTEST.sub(_fence, text)
    return _LITERAL_BLOCK.sub(":", _ROLE.sub(lambda m: _role(m, scope), text))


def _fence(match: re.Match[str]) -> str:
    """A doctest session as a code block (Markdown would read ``>>>`` as nested quotes)."""
    indent = match.group("indent")
    return f"\n{indent}```pycon\n{match.group(0)}\n{indent}```\n"


def _enum_table(cls: griffe.Class) -> str:
    """The members of an enum class as a Markdown table; removes them as members."""
    rows = []
    for name, member in list(cls.members.items()):
        if isinstance(member, griffe.Attribute) and member.value is not None:
            rows.append(f"| `{name}` | `{member.value}` |")
            del cls.members[name]
    return "\n".join(["| name | value |", "|---|---|", *rows])


class ReSTToMarkdown(griffe.Extension):
    """Rewrites every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Visit every object defined in the package (aliases are visited where defined)."""
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if obj.docstring is not None:
                verbatim = obj.path.startswith("aioclarifai._generated.types.")
                obj.docstring.value = to_markdown(obj.docstring.value, verbatim=verbatim, scope=obj)
            if isinstance(obj, griffe.Class) and any(str(b).endswith("Enum") for b in obj.bases):
                table = _enum_table(obj)
                if obj.docstring is None:
                    obj.docstring = griffe.Docstring(table, parent=obj)
                else:
                    obj.docstring.value += "\n\n" + table
            stack.extend(m for m in obj.members.values() if isinstance(m, griffe.Object))
