"""A strict loopback Clarifai server that reads requests by one release's official rules.

The test tells it which operation comes next and what to answer. For every
request it matches the raw, still percent-encoded path against that
operation's google.api.http templates (and checks that no other operation
would claim it: among the bindings that match, the one with the most literal
segments wins, as ``/models/types`` beats ``/models/{model_id}``), decodes
each path value once, and builds the official request message from the JSON
body (``json_format.Parse``, unknown fields rejected) or from the query string
(grpc-gateway rules, strictly). The parsed message, or what was wrong, is kept
for the test to compare.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from aioclarifai import Client
from aioclarifai.endpoints import ENDPOINTS

from ._official import HttpRule, QueryError, get_path, parse_query, rules_of, set_path
from ._releases import Release

__all__ = ["PAT", "Received", "Rig", "StrictServer", "shared_bindings"]

PAT = "roundtrip-pat"

#: What the server answers: one body, or (streaming) the lines of an NDJSON body.
Responder = Callable[[Message], "bytes | list[bytes]"]


@dataclasses.dataclass
class Received:
    """One request as the server understood it."""

    operation: str
    rule: HttpRule | None
    message: Message | None
    error: str | None
    raw_path: str
    body: bytes
    headers: dict[str, str]


class StrictServer:
    """Start with ``await server.start()``; ``expect()`` before each call; ``close()``."""

    def __init__(self, release: Release) -> None:
        self.release = release
        #: Every binding of every operation the client has and the release serves,
        #: to prove a path belongs to one operation only.
        self.rules = [
            r
            for ep in ENDPOINTS.values()
            if (m := release.method(ep.name)) is not None
            for r in rules_of(m)
        ]
        self._runner: web.ServerRunner | None = None
        self._expected: tuple[str, Responder] | None = None
        self.received: list[Received] = []
        self.url = ""

    async def start(self) -> None:
        """Listen on a free loopback port."""
        # A bare low-level server: no router to normalise or reject odd paths.
        self._runner = web.ServerRunner(web.Server(self._handle, access_log=None))
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        sockets = self._runner.addresses
        host, port = sockets[0][:2]
        self.url = f"http://{host}:{port}"

    async def close(self) -> None:
        """Stop listening and drop connections."""
        if self._runner is not None:
            await self._runner.cleanup()

    def expect(self, operation: str, responder: Responder) -> None:
        """The next request must be ``operation``; answer it with ``responder``."""
        self._expected = (operation, responder)
        self.received.clear()

    def take(self) -> Received:
        """The single request received since ``expect``; fails on a parse error."""
        assert len(self.received) == 1, f"expected one request, got {len(self.received)}"
        got = self.received[0]
        assert got.error is None, f"{got.operation}: server rejected the request: {got.error}"
        return got

    # -- handling -------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        assert self._expected is not None, "request without expectation"
        operation, responder = self._expected
        body = await request.read()
        raw_path = request.raw_path
        got = Received(operation, None, None, None, raw_path, body, dict(request.headers))
        self.received.append(got)
        try:
            got.rule, got.message = self._parse(operation, request, body)
        except (AssertionError, QueryError, json_format.ParseError, ValueError) as exc:
            got.error = f"{type(exc).__name__}: {exc}"
            status = {"code": 11102, "description": "Invalid request", "details": got.error}
            return web.json_response({"status": status}, status=400)
        answer = responder(got.message)
        if isinstance(answer, bytes):
            return web.Response(body=answer, content_type="application/json")
        stream = web.StreamResponse(headers={"Content-Type": "application/json"})
        await stream.prepare(request)
        for line in answer:
            await stream.write(line + b"\n")
        await stream.write_eof()
        return stream

    def _parse(
        self, operation: str, request: web.BaseRequest, body: bytes
    ) -> tuple[HttpRule, Message]:
        path, _, query = request.raw_path.partition("?")
        matching = [r for r in self.rules if r.match(request.method, path) is not None]
        best = max((r.literals for r in matching), default=0)
        winners = [r for r in matching if r.literals == best]
        owners = {r.operation for r in winners}
        # Operations bound to one and the same (verb, template) cannot be told apart
        # by anyone (see shared_bindings); any other overlap is the client's fault.
        shared = len({(r.verb, r.template) for r in winners}) == 1
        assert owners == {operation} or (shared and operation in owners), (
            f"{request.method} {path} matches {sorted(owners) or 'nothing'}"
        )
        method = self.release.method(operation)
        assert method is not None
        rule, values = next(
            (r, v) for r in rules_of(method) if (v := r.match(request.method, path)) is not None
        )
        assert request.headers.get("Authorization") == f"Key {PAT}", "bad Authorization"
        assert request.headers.get("User-Agent", "").startswith("aioclarifai/"), "bad User-Agent"
        message = self.release.message_class(method.input_type)()
        if rule.body == "*":
            assert request.headers.get("Content-Type", "").startswith("application/json"), (
                "body without Content-Type: application/json"
            )
            assert not query, f"query string {query!r} on a body operation"
            text = body.decode("utf-8")
            raw = json.loads(text)
            for field in values:
                assert not _has_path(raw, field), f"path field {field} also in the body"
            json_format.Parse(text, message, ignore_unknown_fields=False)
        else:
            assert rule.body == "", f"unsupported body rule {rule.body!r}"
            assert not body, f"body {body[:80]!r} on a query operation"
            parse_query(query, message, list(values))
        for field, value in values.items():
            assert not get_path(message, field), f"path field {field} set twice"
            set_path(message, field, value)
        return rule, message


def _has_path(raw: Any, dotted: str) -> bool:
    for name in dotted.split("."):
        if not isinstance(raw, dict) or name not in raw:
            return False
        raw = raw[name]
    return True


@dataclasses.dataclass
class Rig:
    """A release's strict server and a client of it."""

    server: StrictServer
    client: Client


def shared_bindings(rules: list[HttpRule]) -> dict[tuple[str, str], set[str]]:
    """(verb, template) bound by more than one operation, and those operations."""
    owners: dict[tuple[str, str], set[str]] = {}
    for r in rules:
        owners.setdefault((r.verb, r.template), set()).add(r.operation)
    return {k: v for k, v in owners.items() if len(v) > 1}
