"""A griffe extension for the docs site: our reST-flavoured docstrings read as Markdown.

The docstrings are written for ``help()`` and editors, with Sphinx roles
(``:class:`Timeout```) and ``::`` before literal blocks; the generated types
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
_MARKDOWN_SPECIAL = str.maketrans({"[": r"\[", "]": r"\]", "<": "&lt;", ">": "&gt;"})
_HEADING = re.compile(r"^(\s*)#", re.M)


def _role(match: re.Match[str]) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def to_markdown(text: str, *, verbatim: bool) -> str:
    """The Markdown for one docstring; ``verbatim`` text (proto comments) is escaped whole."""
    if verbatim:
        return _HEADING.sub(r"\1\\#", text.translate(_MARKDOWN_SPECIAL))
    return _LITERAL_BLOCK.sub(":", _ROLE.sub(_role, text))


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
                obj.docstring.value = to_markdown(obj.docstring.value, verbatim=verbatim)
            if isinstance(obj, griffe.Class) and any(str(b).endswith("Enum") for b in obj.bases):
                table = _enum_table(obj)
                if obj.docstring is None:
                    obj.docstring = griffe.Docstring(table, parent=obj)
                else:
                    obj.docstring.value += "\n\n" + table
            stack.extend(m for m in obj.members.values() if isinstance(m, griffe.Object))
