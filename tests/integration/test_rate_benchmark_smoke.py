"""The rate benchmark's job runs end to end (tiny, in process; no timing assertions)."""

from __future__ import annotations

from pathlib import Path

from aioclarifai.testing import FakeClarifai
from benchmarks.rate import run_limited_job


async def test_limited_job_counts_requests_and_failures(tmp_path: Path) -> None:
    async with FakeClarifai("bench-pat", rate_limit=50, log_limit=0) as fake:
        result = await run_limited_job(fake.url, "bench-pat", 300, str(tmp_path))
    assert result.inputs == 300
    assert result.failed == 0
    assert result.requests >= 3
    assert fake.limits is not None
    assert result.throttled == fake.limits.throttled
    assert 0.0 <= result.throttled_share < 1.0
