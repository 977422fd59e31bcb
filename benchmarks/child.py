"""``python -m benchmarks.child NAME JSON``: one measurement in a fresh process.

Used where the client's peak RSS is part of the result, so nothing else the
runner did is counted. Prints one JSON line: the result, or ``{"skip": why}``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from typing import Any

from ._harness import Skip

#: name → (module, coroutine function taking the JSON parameters as keywords)
CHILDREN: dict[str, tuple[str, str]] = {
    "many_streams": ("stream", "many_streams"),
    "predict_many": ("batched", "predict_many_run"),
    "upload": ("upload", "upload_run"),
}


def main(argv: list[str]) -> int:
    """Run one child measurement and print its JSON result."""
    name, params = argv[0], json.loads(argv[1])
    module, func = CHILDREN[name]
    try:
        fn: Any = getattr(importlib.import_module(f"benchmarks.{module}"), func)
        result = asyncio.run(fn(**params))
    except Skip as exc:
        result = {"skip": str(exc)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
