"""Every operation is exercised against FakeClarifai through the real Client.

Operations with a hand-written handler are called by name in some
test_fake_* file; the others, which the table-driven engine serves, are each
driven by the parametrized test in test_fake_operations.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from aioclarifai.endpoints import ENDPOINTS
from aioclarifai.testing._state import FakeState

# Predictions are answered by the server from raw bytes, beside the state's handlers.
_SERVED_RAW = {"PostModelOutputs", "GenerateModelOutputs"}


def test_every_hand_written_operation_has_a_fake_test() -> None:
    here = Path(__file__).parent
    source = "\n".join(p.read_text() for p in here.glob("test_fake_*.py"))
    called = set(re.findall(r"\.(\w+)\(", source))
    own = [
        name
        for name, ep in ENDPOINTS.items()
        if hasattr(FakeState, ep.name) or ep.name in _SERVED_RAW
    ]
    assert [name for name in own if name not in called] == []
    assert len(ENDPOINTS) == 283
