"""Peak client memory against servers that try to exhaust it (issue 14 item 3).

``python -m benchmarks.limits [--line-mib 256] [--bomb-mib 1024] [--cap-mib 16] [--rounds 3]``

A raw-asyncio server in its own process plays four hostile answers, chosen by
the model id of the request:

- ``line-<MiB>``: a stream whose one line is that long and never ends in a newline;
- ``endless``: a stream that sends one line forever (until the client hangs up, at most 4 GiB);
- ``gzline-<MiB>``: a gzip-encoded stream inflating to one line of that size
  (a gzip bomb: about 1 KiB on the wire per MiB);
- ``gzbody-<MiB>``: a gzip-encoded unary answer inflating to that size;
- ``body-<MiB>``: a unary answer of that size, chunked (no Content-Length to refuse early).

Each case runs in a fresh client process (spawned), which reports its peak RSS
growth over a warmed-up baseline (``ru_maxrss``), the error it ended with and
what the server sent. The caps are the Client's ``max_line_bytes``,
``max_body_bytes`` and ``max_decompressed_bytes``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import resource
import statistics
import sys
import zlib
from multiprocessing.connection import Connection
from typing import Any

PAT = "limits-pat-0123456789abcdef"
MIB = 1 << 20
OK = b'{"status":{"code":10000,"description":"Ok"},"outputs":[]}'
STREAM_PREFIX = b'{"result":{"status":{"code":10000},"outputs":[{"data":{"text":{"raw":"'
_ENDLESS_LIMIT = 4 << 30


# -- the hostile server (its own process) ------------------------------------------------


def _gzip(prefix: bytes, filler: bytes, mib: int) -> bytes:
    """``prefix`` then ``mib`` MiB of ``filler`` bytes, gzip-compressed (level 9)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = filler * MIB
    out = [compressor.compress(prefix)]
    out += [compressor.compress(block) for _ in range(mib)]
    out.append(compressor.flush())
    return b"".join(out)


class HostileServer:
    """Answers by model id; counts the bytes it wrote."""

    def __init__(self) -> None:
        self.sent = 0
        self._gzip: dict[tuple[str, int], bytes] = {}

    def _bomb(self, kind: str, mib: int) -> bytes:
        key = (kind, mib)
        if key not in self._gzip:
            if kind == "gzline":
                self._gzip[key] = _gzip(STREAM_PREFIX, b"0", mib)
            else:
                self._gzip[key] = _gzip(b'{"status":{"code":10000},"outputs":[]}', b" ", mib)
        return self._gzip[key]

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        self.sent += len(data)
        await writer.drain()

    async def _chunk(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        await self._write(writer, b"%x\r\n%s\r\n" % (len(data), data))

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: read a request, answer it as its model id says."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                path = head.split(b" ", 2)[1].decode()
                parts = path.split("/")
                model = parts[parts.index("models") + 1] if "models" in parts else "ok"
                kind, _, size = model.partition("-")
                mib = int(size) if size.isdigit() else 0
                await self._answer(writer, kind, mib)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return
        finally:
            writer.transport.abort()

    async def _answer(self, writer: asyncio.StreamWriter, kind: str, mib: int) -> None:
        chunked = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        )
        if kind in ("line", "endless", "body"):
            await self._write(writer, chunked + b"\r\n")
            await self._chunk(writer, STREAM_PREFIX if kind != "body" else b'{"x":"')
            block = b"a" * MIB
            total = _ENDLESS_LIMIT if kind == "endless" else mib * MIB
            for _ in range(total // MIB):
                await self._chunk(writer, block)
            if kind == "body":
                await self._chunk(writer, b'","status":{"code":10000}}')
            await self._write(writer, b"0\r\n\r\n")
        elif kind == "gzline":
            body = self._bomb(kind, mib)
            await self._write(writer, chunked + b"Content-Encoding: gzip\r\n\r\n")
            for i in range(0, len(body), 16384):
                await self._chunk(writer, body[i : i + 16384])
            await self._write(writer, b"0\r\n\r\n")
        elif kind == "gzbody":
            body = self._bomb(kind, mib)
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)
            )
            await self._write(writer, head + body)
        else:
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            )
            await self._write(writer, head % len(OK) + OK)


def _server_process(conn: Connection) -> None:
    asyncio.run(_server_main(conn))


async def _server_main(conn: Connection) -> None:
    hostile = HostileServer()
    server = await asyncio.start_server(hostile.serve, "127.0.0.1", 0)
    conn.send(server.sockets[0].getsockname()[1])
    loop = asyncio.get_running_loop()
    while (command := await loop.run_in_executor(None, conn.recv)) != "quit":
        if command == "sent":
            conn.send(hostile.sent)
            hostile.sent = 0
        elif isinstance(command, tuple):  # ("prepare", kind, mib): build a bomb ahead of time
            hostile._bomb(command[1], command[2])
            conn.send("ready")
    server.close()


# -- the client side (a fresh process per case) ----------------------------------------------


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _case(url: str, model: str, limits: dict[str, Any]) -> dict[str, Any]:
    from aioclarifai import Client, Timeout, types

    timeout = Timeout(total=300, read=60, stream_idle=60, stream_total=300)
    text = [types.Input(data=types.Data(text=types.Text(raw="hi")))]
    async with Client(
        PAT, base_url=url, app_id="app", max_retries=0, timeout=timeout, **limits
    ) as client:
        await client.post_model_outputs(model_id="ok", inputs=text)  # warm: pool, decoders
        async with client.generate_model_outputs(model_id="ok", inputs=text) as warm:
            async for _ in warm:
                pass
        baseline = _maxrss_mib()
        error = ""
        try:
            if model.startswith(("gzbody", "body")):
                await client.post_model_outputs(model_id=model, inputs=text)
            else:
                async with client.generate_model_outputs(model_id=model, inputs=text) as stream:
                    async for _ in stream:
                        pass
        except Exception as exc:  # the point: which typed error, and at what memory cost
            # Without the byte count, which varies by where the network cut the chunks.
            error = f"{type(exc).__name__}: {str(exc).split(' (at least')[0][:110]}"
        peak = _maxrss_mib()
    return {"baseline_mib": baseline, "growth_mib": peak - baseline, "error": error}


def _client_process(conn: Connection, url: str, model: str, limits: dict[str, int]) -> None:
    conn.send(asyncio.run(_case(url, model, limits)))


def measure(url: str, model: str, limits: dict[str, int]) -> dict[str, Any]:
    """One case in a fresh client process: its peak RSS growth (MiB) and its error."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_client_process, args=(child, url, model, limits), daemon=True)
    proc.start()
    try:
        if not parent.poll(600):
            raise RuntimeError(f"{model}: the client process did not finish")
        result: dict[str, Any] = parent.recv()
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    return result


@contextlib.contextmanager
def hostile_server() -> Any:
    """``with hostile_server() as (url, conn)``: the server process and its control pipe."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_server_process, args=(child,), daemon=True)
    server.start()
    try:
        port = parent.recv()
        yield f"http://127.0.0.1:{port}", parent
        parent.send("quit")
    finally:
        server.join(10)
        if server.is_alive():
            server.kill()


def main(argv: list[str] | None = None) -> int:
    """Measure every case with and without caps; print one line per case."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.limits", description=__doc__)
    parser.add_argument("--line-mib", type=int, default=256)
    parser.add_argument("--bomb-mib", type=int, default=1024)
    parser.add_argument("--cap-mib", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--uncapped", action="store_true", help="also run without caps")
    args = parser.parse_args(argv)
    cap = args.cap_mib * MIB
    caps = {"max_line_bytes": cap, "max_body_bytes": cap, "max_decompressed_bytes": cap}
    cases = [
        f"line-{args.line_mib}",
        "endless",
        f"gzline-{args.bomb_mib * 800 // 1024}",
        f"gzbody-{args.bomb_mib}",
        f"body-{args.line_mib}",
    ]
    configs: list[tuple[str, dict[str, int]]] = [(f"caps {args.cap_mib} MiB", caps)]
    if args.uncapped:
        configs.append(("defaults", {}))
    ok = True
    with hostile_server() as (url, conn):
        for model in cases:
            kind, _, size = model.partition("-")
            if kind.startswith("gz"):
                conn.send(("prepare", kind, int(size)))
                conn.recv()
            for label, limits in configs:
                growths, sent, errors = [], [], set()
                for _ in range(args.rounds):
                    result = measure(url, model, limits)
                    conn.send("sent")
                    sent.append(conn.recv() / MIB)
                    growths.append(result["growth_mib"])
                    errors.add(result["error"] or "(no error)")
                line = (
                    f"{model:<14} {label:<13} peak growth median {statistics.median(growths):7.1f} "
                    f"MiB (min {min(growths):.1f}, max {max(growths):.1f}); "
                    f"server sent median {statistics.median(sent):8.1f} MiB; "
                    + " | ".join(sorted(errors))
                )
                print(line, flush=True)
                if limits and max(growths) > 4 * args.cap_mib + 32:
                    ok = False
    print(json.dumps({"bounded": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
