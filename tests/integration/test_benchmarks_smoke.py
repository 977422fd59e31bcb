"""The benchmarks run: tiny in-process variants, no timing assertions."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from benchmarks import batched, decode, icount, payloads, stream, unary, upload
from benchmarks.__main__ import OPTIONAL, main
from benchmarks._harness import ServerProcess, Skip, require, spread
from benchmarks.servers import BENCH_PAT, CannedState, make_canned_server


@pytest.fixture
async def canned() -> AsyncIterator[tuple[str, CannedState]]:
    state = CannedState()
    runner = web.ServerRunner(make_canned_server(state))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", state
    finally:
        await runner.cleanup()


async def test_unary_variants_run(canned: tuple[str, CannedState]) -> None:
    url, state = canned
    variants = [await unary.make_variant(name, url, BENCH_PAT, "canned")
                for name in ("raw", "aioclarifai")]  # fmt: skip
    try:
        samples = await unary.interleave(variants, n=16, rounds=1, concurrency=4, warm=0)
    finally:
        for v in variants:
            await v.close()
    assert {name: [s.ops for s in values] for name, values in samples.items()} == {
        "raw aiohttp+msgspec": [16],
        "aioclarifai": [16],
    }
    assert state.predict_requests == 2 * (8 + 16)  # warm-up (2 x concurrency) + one round


async def test_stream_variants_count_every_chunk(canned: tuple[str, CannedState]) -> None:
    url, _ = canned
    samples = await stream.stream_samples(url, BENCH_PAT, chunks=40, streams=2, rounds=1)
    assert {name: [s.ops for s in values] for name, values in samples.items()} == {
        "raw aiohttp+msgspec": [80],
        "aioclarifai async for": [80],
        "aioclarifai batches()": [80],
        "aioclarifai generate()": [80],
    }


@pytest.mark.parametrize("raw", [True, False])
async def test_many_streams_counts_every_chunk_as_it_arrives(
    canned: tuple[str, CannedState], raw: bool
) -> None:
    url, _ = canned
    r = await asyncio.wait_for(
        stream.many_streams(url=url, pat=BENCH_PAT, streams=8, chunks=300, raw=raw), 20
    )
    assert r["chunks"] == r["expected"] == 8 * 300
    assert len(r["rss_quartiles"]) == 4 and r["peak_rss"] > 0


async def test_batched_predicts_coalesce(canned: tuple[str, CannedState]) -> None:
    require("aioclarifai._batching", "Batcher")
    url, state = canned
    res = await asyncio.wait_for(
        batched.batched_samples(
            url, BENCH_PAT, lambda: state.predict_requests, n=128, rounds=1, model_id="echo-1ms"
        ),
        20,
    )
    ((alone, unbatched_requests),) = res["unbatched"]
    assert alone.ops == 128
    assert unbatched_requests == 128
    for temperature in ("cold", "warm"):
        ((together, batched_requests),) = res[f"coalesced {temperature}"]
        ((floor, floor_requests),) = res[f"hand-batched raw {temperature}"]
        assert together.ops == floor.ops == 128
        assert floor_requests == 1  # 128 inputs, 128 a request
        assert batched_requests < unbatched_requests
    ((unpaced, unpaced_requests),) = res["coalesced cold, no rate control"]
    assert unpaced.ops == 128 and unpaced_requests < unbatched_requests


async def test_predict_many_and_its_raw_floor_see_every_input(
    canned: tuple[str, CannedState],
) -> None:
    url, _ = canned
    res = await asyncio.wait_for(
        batched.predict_many_samples(url, BENCH_PAT, n=300, rounds=1, model_id="echo"), 20
    )
    assert {name: [s.ops for s in values] for name, values in res.items()} == {
        "predict_many": [300],
        "hand-batched raw": [300],
    }


async def test_gc_tracked_rounds_measure_every_variant(canned: tuple[str, CannedState]) -> None:
    url, _ = canned
    res = await asyncio.wait_for(batched.tracked_per_input(url, BENCH_PAT, n=256, rounds=1), 20)
    assert set(res) == {"coalesced predict", "hand-batched raw", "predict_many", "raw pipeline"}
    assert all(len(peaks) == len(kept) == 1 for peaks, kept in res.values())


async def test_instruction_count_child_runs_each_variant(
    canned: tuple[str, CannedState],
) -> None:
    # The same code cachegrind runs, here without valgrind.
    url, _ = canned
    for variant, (unit, _floor) in icount.VARIANTS.items():
        ops = 4 if unit == "call" else 600
        done = await asyncio.wait_for(icount._run(variant, ops, url, BENCH_PAT), 20)
        assert done >= ops, variant


def test_spread_is_median_min_max() -> None:
    assert spread([3.0, 1.0, 2.0, 10.0, 2.5]) == "2.5 [1.0..10.0]"


def test_instructions_run_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--only", "decode"]) == 0
    assert "instructions" not in capsys.readouterr().out
    assert "instructions" in OPTIONAL


def test_decode_variants_agree_on_the_body() -> None:
    # Timing decoders that read the body differently would compare nothing.
    data = payloads.multi_output_response(2, concepts=3)
    variants = decode.decoders()
    want = json.loads(data)
    concepts = [[(c["id"], c["value"]) for c in o["data"]["concepts"]] for o in want["outputs"]]
    assert variants["msgspec untyped"](data) == want
    typed = variants["aioclarifai typed"](data)
    assert [[(c.id, c.value) for c in o.data.concepts] for o in typed.outputs] == concepts
    if "protobuf json_format" in variants:
        parsed = variants["protobuf json_format"](data)
        got = [[(c.id, pytest.approx(c.value)) for c in o.data.concepts] for o in parsed.outputs]
        assert got == concepts
    timings = decode.decode_timings(outputs=2, rounds=1, budget=0.0001)
    assert set(timings) == set(variants)


def test_server_process_answers_and_counts() -> None:
    with ServerProcess("canned") as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.command("count") == "0"
        assert server.command("reset") == "ok"


def test_runner_prints_a_line_per_result(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--only", "decode"]) == 0
    out = capsys.readouterr().out
    assert "machine" in out
    assert "decode/1     aioclarifai typed" in out
    assert "decode/128   protobuf json_format" in out


def test_missing_module_skips() -> None:
    with pytest.raises(Skip, match="not available"):
        require("aioclarifai._no_such_module")


async def test_upload_cancel_and_resume_is_byte_exact(tmp_path: Path) -> None:
    require("aioclarifai._uploads", "resume_upload")
    from aioclarifai.testing import FakeClarifai

    path = str(tmp_path / "data.bin")
    expected = upload.write_random_file(path, 256 * 1024)
    async with FakeClarifai(BENCH_PAT) as fake:
        result = await upload.upload_run(
            url=fake.url,
            pat=fake.pat,
            path=path,
            part_size=16 * 1024,
            concurrency=4,
            interrupt=True,
        )
        stored = fake.upload_bytes(result["upload_id"])
    assert hashlib.sha256(stored).hexdigest() == expected
    assert 0 < result["sent_before_cancel"] < 256 * 1024
