"""Every one of the 50 seed operations is exercised against FakeClarifai by some test_fake_* file.

(The fake serving all 283 generated operations is issue 16 item 4; until then
this covers the seed operations.)
"""

from __future__ import annotations

import re
from pathlib import Path

from aioclarifai.endpoints import ENDPOINTS
from tests.roundtrip._cases import SEED


def test_every_operation_has_a_fake_test() -> None:
    here = Path(__file__).parent
    source = "\n".join(p.read_text() for p in here.glob("test_fake_*.py"))
    called = set(re.findall(r"\.(\w+)\(", source))
    seed = [name for name, ep in ENDPOINTS.items() if ep.name in SEED]
    missing = sorted(name for name in seed if name not in called)
    assert missing == []
    assert len(seed) == 50
