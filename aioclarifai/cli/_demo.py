"""``aioclarifai demo``: the main job end to end, with no account and no network.

Starts FakeClarifai in this process, writes a file of inputs, runs the same
batch job as ``aioclarifai batch`` through the real client, runs a shorter one
against an account limited to 15 requests/s (Clarifai's default), then streams
a generation, printing what happened and how fast.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

if TYPE_CHECKING:
    from ._batch import BatchStats

__all__ = ["run_demo", "write_demo_inputs"]

MODEL_ID = "demo-classifier"
LLM_ID = "demo-llm"
PROMPT = "Write a haiku about fast batch inference"
FAIL_EVERY = 200
LIMITED_RATE = 15  # requests/s: Clarifai's documented default account limit
LIMITED_SIZE = 7_680  # 60 full requests: about four seconds at that limit


def write_demo_inputs(path: str, size: int) -> int:
    """Write ``size`` JSONL inputs, a mix of texts and image URLs; returns how many will fail.

    One URL in ``FAIL_EVERY`` contains ``fail``, which FakeClarifai answers with
    a per-input download error, to show how failed inputs are recorded.
    """
    failing = 0
    encoder = msgspec.json.Encoder()
    with open(path, "wb") as f:
        for i in range(1, size + 1):
            item: dict[str, str] = {"id": f"demo-{i:05d}"}
            if i % FAIL_EVERY == 0:
                item["url"] = f"https://images.example/fail/{i}.jpg"
                failing += 1
            elif i % 2:
                item["url"] = f"https://images.example/photos/{i}.jpg"
            else:
                item["text"] = f"Customer review #{i}: the delivery was quick and the box intact."
            f.write(encoder.encode(item) + b"\n")
    return failing


async def run_demo(
    *, size: int = 20_000, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Run the demo, writing its story to ``out`` and the progress bar to ``err``."""
    from .._client import Client
    from ..testing import FakeClarifai
    from ._batch import run_batch

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    say("aioclarifai demo: a batch job and a streamed generation through the real client,")
    say("against FakeClarifai, the in-memory Clarifai bundled with aioclarifai.")
    say("No account, no network, nothing to configure.")
    say()
    with tempfile.TemporaryDirectory(prefix="aioclarifai-demo-") as tmp:
        inputs = os.path.join(tmp, "inputs.jsonl")
        output = os.path.join(tmp, "predictions.jsonl")
        failing = write_demo_inputs(inputs, size)
        # A paced generation, so that tokens visibly arrive one chunk at a time.
        async with FakeClarifai(generate_chunks=16, generate_pace=0.05, log_limit=0) as fake:
            say(f"▸ FakeClarifai is serving the Clarifai API at {fake.url}")
            say()
            async with Client(pat=fake.pat, base_url=fake.url, app_id="demo-app") as client:
                say(f"▸ Batch job: {size:,} inputs (texts and image URLs) → one JSON line each")
                say(
                    f"  the same as: aioclarifai batch {MODEL_ID} inputs.jsonl -o predictions.jsonl"
                )
                before = fake.request_count
                stats = await run_batch(
                    client,
                    MODEL_ID,
                    inputs,
                    output,
                    progress_stream=err,
                    progress_interval=1.0,
                )
                _report_batch(say, stats, fake.request_count - before, failing, output)
                say()
        await _limited_demo(say, tmp, err)
        say()
        async with (
            FakeClarifai(generate_chunks=16, generate_pace=0.05, log_limit=0) as fake,
            Client(pat=fake.pat, base_url=fake.url, app_id="demo-app") as client,
        ):
            say("▸ Streamed generation: tokens are printed as they arrive")
            say(f'  prompt: "{PROMPT}"')
            say()
            await _stream_demo(client, say, out)
    say()
    say("Next steps:")
    say("  aioclarifai fake-server --port 8080       # FakeClarifai in its own process")
    say("  aioclarifai batch --help                  # your own file of inputs")
    say("  export CLARIFAI_PAT=… CLARIFAI_APP_ID=…   # then the same commands run on Clarifai")
    return 0


async def _limited_demo(say: Any, tmp: str, err: TextIO) -> None:
    """The same job against an account limit the client is not told: it learns it."""
    from .._client import Client
    from ..testing import FakeClarifai
    from ._batch import run_batch

    inputs = os.path.join(tmp, "limited-inputs.jsonl")
    output = os.path.join(tmp, "limited-predictions.jsonl")
    _write_limited_inputs(inputs)
    say(f"▸ Account limit: {LIMITED_SIZE:,} inputs against an account that allows")
    say(f"  {LIMITED_RATE} requests/s and answers 429 without Retry-After beyond it")
    async with (
        FakeClarifai(rate_limit=LIMITED_RATE, retry_after=False, log_limit=0) as fake,
        Client(pat=fake.pat, base_url=fake.url, app_id="demo-app") as client,
    ):
        stats = await run_batch(
            client, MODEL_ID, inputs, output, progress_stream=err, progress_interval=1.0
        )
    allowed = LIMITED_RATE * stats.inputs_per_request
    share = stats.throttled / stats.requests if stats.requests else 0.0
    say(
        f"  {stats.done:,} inputs in {stats.elapsed:.2f} s, {stats.errors:,} failed: "
        f"{stats.rate:,.0f} inputs/s where the limit allows {allowed:,} "
        f"({LIMITED_RATE} req/s x {stats.inputs_per_request} inputs, plus the account's "
        "first second of burst)"
    )
    say(
        f"  {stats.requests:,} requests, {stats.throttled:,} throttled ({share:.0%}) and retried: "
        "the client learned the limit from the 429s"
    )


def _write_limited_inputs(path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(1, LIMITED_SIZE + 1):
            f.write(f'{{"id": "limited-{i:05d}", "text": "Support ticket #{i}"}}\n')


def _report_batch(say: Any, stats: BatchStats, requests: int, failing: int, output: str) -> None:
    ok = stats.done - stats.errors
    per_request = stats.done / requests if requests else 0.0
    say(
        f"  {stats.done:,} inputs in {stats.elapsed:.2f} s: {stats.rate:,.0f} inputs/s "
        f"in {requests:,} HTTP requests (~{per_request:.0f} inputs per request)"
    )
    say(
        f"  {ok:,} predicted; {stats.errors:,} failed, as planned ({failing:,} URLs contain "
        '"fail"), each recorded with its error'
    )
    first_ok, first_error = _sample_records(output)
    say("  the output has one JSON line per input, for example:")
    for record in (first_ok, first_error):
        if record is not None:
            say(f"    {record[:72] + ' …' if len(record) > 72 else record}")


def _sample_records(path: str) -> tuple[str | None, str | None]:
    ok = error = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if ok is None and '"output"' in line:
                ok = line.strip()
            elif error is None and '"error"' in line:
                error = line.strip()
            if ok is not None and error is not None:
                break
    return ok, error


class _Wrapped:
    """Writes streamed text word-wrapped and indented, as it arrives.

    A word cut between two deltas is held back until its end arrives, so it is
    never split across lines.
    """

    def __init__(self, out: TextIO, width: int = 78, indent: str = "  ") -> None:
        self._out = out
        self._width = width
        self._indent = indent
        self._col = 0
        self._space = False
        self._pending = ""

    def write(self, text: str) -> None:
        """Write ``text``, holding back a trailing partial word."""
        words = re.split(r"(\s+)", self._pending + text)
        self._pending = words.pop() if words and words[-1] and not words[-1].isspace() else ""
        self._emit(words)

    def close(self) -> None:
        """Write what was held back and end the line."""
        self._emit([self._pending])
        self._pending = ""
        self._out.write("\n")
        self._out.flush()

    def _emit(self, words: list[str]) -> None:
        for word in words:
            if not word:
                continue
            if word.isspace():
                self._space = self._col > 0
                if "\n" in word:
                    self._out.write("\n")
                    self._col, self._space = 0, False
                continue
            gap = 1 if self._space else 0
            if self._col and self._col + gap + len(word) > self._width:
                self._out.write("\n")
                self._col, gap = 0, 0
            if self._col == 0:
                self._out.write(self._indent)
                self._col = len(self._indent)
            self._out.write(" " * gap + word)
            self._col += gap + len(word)
            self._space = False
        self._out.flush()


async def _stream_demo(client: Any, say: Any, out: TextIO) -> None:
    started = time.monotonic()
    first_at: float | None = None
    deltas = 0
    text = _Wrapped(out)
    async with client.generate(LLM_ID, PROMPT) as stream:
        async for delta in stream:
            if first_at is None:
                first_at = time.monotonic()
            deltas += 1
            text.write(delta)
        tokens = stream.completion_tokens
    elapsed = time.monotonic() - started
    text.close()
    say()
    first_ms = (first_at - started) * 1000 if first_at is not None else 0.0
    counted = f", {tokens} completion tokens" if tokens else ""
    say(
        f"  {deltas} chunks in {elapsed:.2f} s ({deltas / elapsed:,.0f} chunks/s), "
        f"first chunk after {first_ms:.0f} ms{counted}"
    )
