"""FakeClarifai in its own process (as benchmarks and the demo run it)."""

from __future__ import annotations

import re

from aioclarifai import Client, types
from aioclarifai.testing import run_in_subprocess


async def test_run_in_subprocess_serves_the_api() -> None:
    with run_in_subprocess(pat="proc-pat") as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        async with Client(base_url=url, pat="proc-pat", app_id="a") as client:
            made = await client.post_workflows(workflows=[types.Workflow(id="w")])
            assert made.workflows[0].id == "w"
            listed = await client.list_workflows()
            assert [w.id for w in listed.workflows] == ["w"]
