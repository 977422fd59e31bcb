"""Throttling is not failure: retried for any operation until the deadline (MockTransport)."""

from __future__ import annotations

import time

import pytest

from aioclarifai import Client, RateLimitError, types
from aioclarifai._config import RetryConfig, Timeout
from aioclarifai._rate import RateController, RateLimiter
from aioclarifai.testing import MockRequest, MockResponse, MockTransport

_THROTTLED = {
    "status": {
        "code": 11005,
        "description": "Making too many requests",
        "details": "Making too many requests, error_details: "
        "exceeded limit of 15 requests per second",
    }
}
_OK = {"status": {"code": 10000}, "inputs": []}
_RETRY = RetryConfig(max_retries=0, initial_backoff=0.001, max_backoff=0.01)


class Throttler:
    """Answers 429 / 11005 the first ``times`` attempts (forever when None), then success."""

    def __init__(self, times: int | None, retry_after: str | None = None) -> None:
        self.times = times
        self.retry_after = retry_after
        self.seen: list[str] = []

    def __call__(self, request: MockRequest) -> MockResponse:
        self.seen.append(request.operation)
        if self.times is None or len(self.seen) <= self.times:
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return MockResponse(429, json=_THROTTLED, headers=headers)
        return MockResponse(200, json=_OK)


def _client(handler: Throttler, **options: object) -> Client:
    return Client(
        "pat", app_id="a", transport=MockTransport(handler), retry=_RETRY,
        **options,  # type: ignore[arg-type]
    )  # fmt: skip


def _fast_gate() -> RateLimiter:
    # Consecutive throttles with nothing accepted drop the rate to its floor: keep it high.
    return RateLimiter(RateController(min_rate=200.0))


@pytest.mark.parametrize("adaptive", [True, False])
async def test_throttled_non_idempotent_call_is_retried_beyond_max_retries(adaptive: bool) -> None:
    handler = Throttler(times=6)
    options = {"rate_gate": _fast_gate()} if adaptive else {"adaptive_rate": False}
    async with _client(handler, **options) as client:
        # PostInputs creates inputs (not idempotent) and max_retries is 0: still retried.
        resp = await client.post_inputs(types.PostInputsRequest(inputs=[types.Input(id="x")]))
    assert resp.status is not None and resp.status.code == 10000
    assert handler.seen == ["PostInputs"] * 7
    if adaptive:
        stats = client.rate_stats()
        assert stats is not None and stats.throttled == 6 and stats.requests == 7


async def test_throttled_call_gives_up_at_the_deadline() -> None:
    handler = Throttler(times=None)
    async with _client(handler, timeout=Timeout(total=0.5), rate_gate=_fast_gate()) as client:
        started = time.monotonic()
        with pytest.raises(RateLimitError) as info:
            await client.post_inputs(types.PostInputsRequest(inputs=[types.Input(id="x")]))
        elapsed = time.monotonic() - started
    assert info.value.code == 11005
    assert len(handler.seen) > 3  # far beyond max_retries=0
    assert elapsed < 0.5 + 5.0  # the deadline, not a loop without end (generous: loaded CI)


async def test_waiting_for_the_gate_ends_at_the_deadline() -> None:
    handler = Throttler(times=None)
    # The default floor (0.5 req/s) makes the second attempt wait 2 s: past the deadline.
    async with _client(handler, timeout=Timeout(total=0.3)) as client:
        started = time.monotonic()
        with pytest.raises(RateLimitError):
            await client.post_inputs(types.PostInputsRequest(inputs=[types.Input(id="x")]))
        assert time.monotonic() - started < 1.9


async def test_retry_after_is_honoured_and_pauses_the_gate() -> None:
    handler = Throttler(times=1, retry_after="0.2")
    async with _client(handler, rate_gate=_fast_gate()) as client:
        started = time.monotonic()
        await client.post_inputs(types.PostInputsRequest(inputs=[types.Input(id="x")]))
        assert time.monotonic() - started >= 0.2
        stats = client.rate_stats()
    assert stats is not None and stats.pauses == 1 and stats.throttled == 1


@pytest.mark.parametrize("code", [11003, 11004, 11006])
async def test_quota_codes_are_not_throttling(code: int) -> None:
    seen: list[int] = []

    def handler(request: MockRequest) -> MockResponse:
        seen.append(1)
        return MockResponse(429, json={"status": {"code": code, "description": "quota"}})

    async with Client("pat", app_id="a", transport=MockTransport(handler), retry=_RETRY) as c:
        with pytest.raises(RateLimitError) as info:
            await c.post_inputs(types.PostInputsRequest(inputs=[types.Input(id="x")]))
    assert info.value.code == code
    assert len(seen) == 1  # max_retries=0: no loop


async def test_a_shared_gate_and_an_explicit_limit() -> None:
    gate = RateLimiter(RateController(1000.0))
    handler = Throttler(times=0)
    async with _client(handler, rate_gate=gate) as a, _client(handler, rate_gate=gate) as b:
        await a.list_inputs()
        await b.list_inputs()
    assert gate.stats().requests == 2
    async with _client(handler, rate_limit=20.0) as c:
        stats = c.rate_stats()
        assert stats is not None and stats.limit == 20.0
    async with _client(handler, adaptive_rate=False) as d:
        assert d.rate_stats() is None  # no controller at all


class _TicketLog(RateController):
    """A controller that keeps the ticket each answer was recorded with."""

    def __init__(self) -> None:
        super().__init__(min_rate=200.0)
        self.granted: list[float] = []
        self.recorded: list[tuple[float | None, bool]] = []

    def take(self, now: float) -> float:
        ticket = super().take(now)
        self.granted.append(ticket)
        return ticket

    def record(
        self, now: float, throttled: bool, retry_after: float | None, ticket: float | None = None
    ) -> None:
        self.recorded.append((ticket, throttled))
        super().record(now, throttled, retry_after, ticket)


async def test_every_answer_is_recorded_with_the_ticket_of_its_own_attempt() -> None:
    # The one-decrease-per-event rule needs each answer's own grant time: the short
    # success path and the retries hand the limiter's tickets over directly.
    log = _TicketLog()
    handler = Throttler(times=2)
    async with _client(handler, rate_gate=RateLimiter(log)) as client:
        await client.list_inputs()
        await client.list_inputs()
    assert [throttled for _, throttled in log.recorded] == [True, True, False, False]
    assert [ticket for ticket, _ in log.recorded] == log.granted
