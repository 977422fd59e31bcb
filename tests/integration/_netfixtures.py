"""A private certificate authority and a loopback HTTP proxy, for the network-option tests.

No tests live here. The CA is made with the ``openssl`` command line (the
``cryptography`` package is not in the environment); the proxy is a small
raw-asyncio forward proxy: ``CONNECT`` tunnels for https:// targets and
absolute-form requests for http:// ones, with optional Basic auth. It records
what it saw so a test can prove the request went through it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["PrivateCA", "ProxyLog", "loopback_proxy", "make_private_ca"]


@dataclass(frozen=True)
class PrivateCA:
    """A CA certificate and a server certificate it signed for 127.0.0.1 / localhost."""

    ca_pem: Path
    cert_pem: Path
    key_pem: Path

    def server_context(self) -> ssl.SSLContext:
        """The TLS context of a server presenting the signed certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_pem, self.key_pem)
        return ctx


def make_private_ca(directory: Path) -> PrivateCA:
    """Create the CA and the server certificate in ``directory`` (needs ``openssl``)."""
    openssl = shutil.which("openssl")
    if openssl is None:  # pragma: no cover - the test environment has it
        raise RuntimeError("the TLS tests need the openssl command line")
    ca_key, ca_pem = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "server.ext"
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = [
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_pem, "-days", "2",
         "-subj", "/CN=aioclarifai test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        [openssl, "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
         "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext],
    ]  # fmt: skip
    for argv in run:
        subprocess.run(
            [str(a) for a in argv], check=True, capture_output=True, timeout=30, cwd=directory
        )
    return PrivateCA(ca_pem, cert, key)


@dataclass
class ProxyLog:
    """What the proxy was asked: request lines and ``Proxy-Authorization`` values."""

    url: str = ""
    requests: list[str] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)


@asynccontextmanager
async def loopback_proxy(
    *, user: str | None = None, password: str | None = None
) -> AsyncIterator[ProxyLog]:
    """A forward proxy on 127.0.0.1; with ``user``, requests without that Basic auth get 407."""
    log = ProxyLog()
    expected = (
        "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        if user is not None
        else None
    )
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            log.requests.append(f"{method} {target}")
            log.auth.append(headers.get("Proxy-Authorization"))
            if expected is not None and headers.get("Proxy-Authorization") != expected:
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n'
                    b"Connection: close\r\n\r\n"
                )
                await writer.drain()
                return
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                up_reader, upstream = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                rest = b""
            else:
                # Absolute form: forward as origin form, one request per connection.
                url = urlsplit(target)
                up_reader, upstream = await asyncio.open_connection(url.hostname, url.port or 80)
                kept = [
                    line
                    for line in lines[1:]
                    if line and not line.lower().startswith(("proxy-", "connection:"))
                ]
                path = url.path + (f"?{url.query}" if url.query else "")
                rest = (f"{method} {path} HTTP/1.1\r\n" + "".join(f"{h}\r\n" for h in kept)).encode(
                    "latin-1"
                ) + b"Connection: close\r\n\r\n"
            upstream.write(rest)
            await asyncio.gather(pipe(reader, upstream), pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    with contextlib.suppress(OSError):
                        w.close()

    def start(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(serve(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(start, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    log.url = f"http://127.0.0.1:{port}"
    try:
        yield log
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
