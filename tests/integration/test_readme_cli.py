"""The README's command-line examples run as written (issue 17), against FakeClarifai.

Each line of the "Command line" block runs in bash, in a directory holding the
files it names, with ``CLARIFAI_*`` pointing at a FakeClarifai. The only lines
left out are those that need a network this test does not have (an
``https://example.com`` input, an ``s3://`` bucket); they are listed here so a
new example cannot be skipped by accident.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
from pathlib import Path

import pytest

from aioclarifai import types
from aioclarifai.testing import FakeClarifai

README = Path(__file__).resolve().parents[2] / "README.md"
NEEDS_NETWORK = {
    "aioclarifai batch general-image-recognition https://example.com/inputs.csv "
    "-o s3://bucket/results.csv",
}


def _cli_lines() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Command line") :]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match is not None
    lines = []
    for raw in match.group(1).splitlines():
        line = raw.split("  #", 1)[0].strip()  # a trailing comment
        if line and not line.startswith("export "):
            lines.append(line)
    return lines


def test_the_readme_has_cli_examples_and_skips_only_network_ones() -> None:
    lines = _cli_lines()
    assert len(lines) >= 8
    assert set(lines) >= NEEDS_NETWORK


@pytest.mark.parametrize("line", [x for x in _cli_lines() if x not in NEEDS_NETWORK])
async def test_readme_cli_line_runs(tmp_path: Path, line: str) -> None:
    (tmp_path / "inputs.jsonl").write_text(
        "".join(
            json.dumps({"id": f"i{i}", "url": f"https://samples.clarifai.com/{i}.jpg"}) + "\n"
            for i in range(50)
        )
    )
    (tmp_path / "urls.txt").write_text("https://samples.clarifai.com/a.jpg\na sentence\n")
    async with FakeClarifai(generate_pace=0.0) as fake:
        node = types.WorkflowNode(id="tags", model=types.Model(id="general-image-recognition"))
        fake.add_workflows([types.Workflow(id="my-workflow", nodes=[node])], app_id="my-app")
        env = {
            **os.environ,
            "CLARIFAI_PAT": fake.pat,
            "CLARIFAI_APP_ID": "my-app",
            "CLARIFAI_API_BASE": fake.url,
        }
        script = f'aioclarifai() {{ {shlex.quote(sys.executable)} -m aioclarifai "$@"; }}\n'
        script += "set -o pipefail\n" + line
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", script, cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 50)
    assert proc.returncode == 0, (line, err.decode())
    assert b"Traceback" not in err
    if "-o results." in line and "--dry-run" not in line:
        assert any(name.startswith("results.") for name in os.listdir(tmp_path))
    if "> results.jsonl" in line:
        records = (tmp_path / "results.jsonl").read_text().splitlines()
        assert len(records) == 2
