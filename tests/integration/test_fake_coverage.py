"""Every one of the 50 operations is exercised against FakeClarifai by some test_fake_* file."""

from __future__ import annotations

import re
from pathlib import Path

from aioclarifai.endpoints import ENDPOINTS


def test_every_operation_has_a_fake_test() -> None:
    here = Path(__file__).parent
    source = "\n".join(p.read_text() for p in here.glob("test_fake_*.py"))
    called = set(re.findall(r"\.(\w+)\(", source))
    missing = sorted(name for name in ENDPOINTS if name not in called)
    assert missing == []
    assert len(ENDPOINTS) == 50
