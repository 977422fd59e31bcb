"""Chunked uploads to FakeClarifai in its own process: speed, memory, cancel + resume.

The source is a file of random bytes, so the client never holds it whole;
each upload runs in a fresh child process whose peak RSS is reported against
``part_size x concurrency + 100 MB``. Byte-exactness is checked by comparing
the file's SHA-256 with the hash of the bytes the fake stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import time
from typing import Any

from ._harness import Ctx, fmt_int, peak_rss_mb, require, rss_mb, run_child

__all__ = ["bench_upload", "upload_run", "write_random_file"]

CONCURRENCY = 4


def write_random_file(path: str, size: int) -> str:
    """Write ``size`` random bytes to ``path``; their SHA-256."""
    digest = hashlib.sha256()
    block = 8 * 1024 * 1024
    with open(path, "wb") as f:
        left = size
        while left:
            data = os.urandom(min(block, left))
            digest.update(data)
            f.write(data)
            left -= len(data)
    return digest.hexdigest()


async def upload_run(
    *, url: str, pat: str, path: str, part_size: int, concurrency: int, interrupt: bool
) -> dict[str, Any]:
    """Upload ``path`` (or, with ``interrupt``, cancel it halfway and resume it)."""
    from aioclarifai import Client

    start = rss_mb()
    parts_sent = [0]

    def count(event: Any) -> None:
        if event.operation == "PutUploadContentParts":
            parts_sent[0] += 1

    async with Client(pat, base_url=url, app_id="app", on_request=count) as client:
        if not interrupt:
            t0 = time.perf_counter()
            upload = await client.upload(path, part_size=part_size, concurrency=concurrency)
            return {
                "upload_id": upload.id,
                "wall": time.perf_counter() - t0,
                "start_rss": start,
                "peak_rss": peak_rss_mb(),
            }

        created: list[str] = []
        sent = [0]
        half = asyncio.Event()

        def progress(done: int, total: int) -> None:
            sent[0] = done
            if done * 2 >= total:
                half.set()

        task = asyncio.create_task(
            client.upload(
                path,
                part_size=part_size,
                concurrency=concurrency,
                progress=progress,
                on_created=lambda u: created.append(u.id),
            )
        )
        waiter = asyncio.create_task(half.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        if task.done():
            raise RuntimeError("the upload finished before it could be interrupted")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        at_cancel = sent[0]
        parts_sent[0] = 0
        t0 = time.perf_counter()
        upload = await client.resume_upload(
            created[0], path, part_size=part_size, concurrency=concurrency
        )
        return {
            "upload_id": upload.id,
            "wall": time.perf_counter() - t0,
            "sent_before_cancel": at_cancel,
            "parts_resent": parts_sent[0],
            "start_rss": start,
            "peak_rss": peak_rss_mb(),
        }


def bench_upload(ctx: Ctx) -> None:
    """A 200 MB upload (quick: 20 MB) with concurrency 4, then cancel halfway + resume."""
    uploads = require("aioclarifai._uploads", "upload")
    require("aioclarifai._uploads", "resume_upload")
    server = ctx.server("fake")
    size = (20 if ctx.quick else 200) * 1_000_000
    # Quick mode uses smaller parts so the cancel lands halfway through several of them.
    part_size = 2 * 1024 * 1024 if ctx.quick else uploads.DEFAULT_PART_SIZE
    bound = (part_size * CONCURRENCY) / 1e6 + 100
    where = "fake, fresh client process"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "upload.bin")
        expected = write_random_file(path, size)
        params = {
            "url": server.url,
            "pat": server.pat,
            "path": path,
            "part_size": part_size,
            "concurrency": CONCURRENCY,
        }
        full = run_child("upload", {**params, "interrupt": False})
        exact = server.command(f"sha256 {full['upload_id']}") == expected
        ctx.line(
            "upload",
            f"{size / 1e6:.0f} MB, c={CONCURRENCY}, {part_size / 2**20:.0f} MiB parts",
            f"{size / 1e6 / full['wall']:7.1f} MB/s  {'byte-exact' if exact else 'HASH MISMATCH'}",
            f"peak RSS {full['peak_rss']:.0f} MB (bound {bound:.0f} MB: "
            f"{'ok' if full['peak_rss'] < bound else 'OVER'}; {full['start_rss']:.0f} at start)",
            where,
        )
        resumed = run_child("upload", {**params, "interrupt": True})
        exact = server.command(f"sha256 {resumed['upload_id']}") == expected
        ctx.line(
            "upload",
            "cancel halfway + resume",
            f"cancelled at {fmt_int(resumed['sent_before_cancel'] / 1e6)} MB, "
            f"resumed in {resumed['wall']:.2f} s ({resumed['parts_resent']} of "
            f"{-(-size // part_size)} parts sent again)",
            f"{'byte-exact' if exact else 'HASH MISMATCH'}, peak RSS {resumed['peak_rss']:.0f} MB",
            where,
        )
        if not exact:
            raise RuntimeError("the resumed upload is not byte-exact")
