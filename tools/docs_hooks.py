"""mkdocs hooks for the docs site: the command line reference is the CLI's own ``--help``.

A page line ``<!-- aioclarifai-help batch -->`` becomes the output of
``aioclarifai batch --help``, so the reference cannot drift from the parser.
mkdocs.yml loads this module through its ``hooks`` setting.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from typing import Any

_HELP = re.compile(r"^<!-- aioclarifai-help ?([\w -]*?) ?-->$", re.M)
_WIDTH = "88"  # argparse wraps to $COLUMNS; fixed, so the page is the same on every machine


def _help(command: str) -> str:
    from aioclarifai.cli import main

    out = io.StringIO()
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = _WIDTH
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main([*command.split(), "--help"])
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    text = out.getvalue().strip()
    if not text.startswith("usage:"):
        raise ValueError(f"`aioclarifai {command} --help` printed no usage: {text[:200]!r}")
    return f"```text\n{text}\n```"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace each ``aioclarifai-help`` marker with that command's help."""
    return _HELP.sub(lambda m: _help(m.group(1)), markdown)


def on_page_content(html: str, *, page: Any, **kwargs: Any) -> str:
    """Cut the page's table of contents below its ``toc_depth`` (front matter), if any.

    The types reference has a heading per field: thousands of entries that
    would bury the messages in the sidebar.
    """
    depth = page.meta.get("toc_depth")
    if depth is not None:
        stack = list(page.toc.items)
        while stack:
            item = stack.pop()
            if item.level >= depth:
                item.children = []
            stack.extend(item.children)
    return html
