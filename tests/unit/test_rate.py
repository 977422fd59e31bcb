"""The rate controller (fake clock, simulated account) and its asyncio gate."""

from __future__ import annotations

import asyncio
import heapq
import random
from dataclasses import dataclass, field

import pytest

from aioclarifai._rate import RateController, RateLimiter


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Run:
    """What one simulated job did."""

    done: int = 0
    requests: int = 0
    throttled: int = 0
    finished: float = 0.0
    accepted_at: list[float] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.throttled / self.requests


def simulate(
    limit: float,
    *,
    total: int,
    workers: int = 30,
    latency: float = 0.05,
    rtt: float = 0.004,
    retry_after: float | None = None,
    rate_limit: float | None = None,
    seed: int = 1,
) -> tuple[Run, RateController]:
    """``total`` requests through a controller against an account bucket of ``limit`` req/s.

    Event-driven on a fake clock: ``workers`` callers each send one request at a
    time; an accepted request is answered after ``latency``, a refused one after
    ``rtt``; a refused request is sent again.
    """
    rng = random.Random(seed)
    clock = FakeClock()
    ctl = RateController(rate_limit, clock=clock, seed=seed)
    tokens, stamp = limit, 0.0
    events: list[tuple[float, int, str, tuple[float, bool]]] = []
    seq = 0

    def push(at: float, kind: str, data: tuple[float, bool] = (0.0, False)) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, data))

    waiting = min(workers, total)
    left = total - waiting
    run = Run()
    push(0.0, "grant")
    while events:
        clock.now, _, kind, (ticket, refused) = heapq.heappop(events)
        now = clock.now
        if kind == "grant":
            while waiting:
                wait = ctl.wait_time(now)
                if wait > 0:
                    push(now + wait, "grant")
                    break
                waiting -= 1
                push(now + rtt / 2 + rng.uniform(0, 0.002), "arrive", (ctl.take(now), False))
        elif kind == "arrive":
            run.requests += 1
            tokens, stamp = min(limit, tokens + (now - stamp) * limit), now
            if tokens >= 1:
                tokens -= 1
                push(now + latency + rtt / 2, "answer", (ticket, False))
            else:
                run.throttled += 1
                push(now + rtt / 2, "answer", (ticket, True))
        else:
            ctl.record(now, refused, retry_after if refused else None, ticket)
            if refused:
                waiting += 1
            else:
                run.done += 1
                run.finished = now
                run.accepted_at.append(now)
                if left:
                    left -= 1
                    waiting += 1
            push(now, "grant")
    return run, ctl


def test_controller_converges_below_a_limit_it_was_not_told() -> None:
    run, ctl = simulate(15.0, total=900)  # a minute of traffic at 15 req/s
    assert run.done == 900
    assert run.share <= 0.05
    # Settled: the last 30 s ran at the account's limit, not above it (the bucket refuses).
    late = [t for t in run.accepted_at if t >= run.finished - 30]
    assert 0.9 * 15 <= len(late) / 30 <= 15.5
    stats = ctl.stats()
    assert stats.ceiling is not None and 12 <= stats.ceiling <= 18
    assert stats.throttled == run.throttled


@pytest.mark.parametrize("latency", [0.05, 1.0, 2.0])
def test_short_job_at_an_untold_limit_finishes_near_the_ideal_time(latency: float) -> None:
    run, _ = simulate(15.0, total=94, workers=64, latency=latency)  # 12,000 inputs / 128
    assert run.share <= 0.1
    assert run.finished <= 1.2 * (94 / 15 + latency)


def test_retry_after_answers_pause_and_still_converge() -> None:
    run, ctl = simulate(25.0, total=500, retry_after=1.0)
    assert run.done == 500
    assert run.share <= 0.05
    assert run.finished <= 1.2 * 500 / 25
    assert ctl.stats().pauses >= 1


@pytest.mark.parametrize("every", [1000, 200])
def test_rare_throttles_among_many_accepted_answers_do_not_lower_the_rate(every: int) -> None:
    # One refusal in every 1,000 (or 200) requests at 5,000 req/s: a proxy's, not the
    # account's limit. Each used to cut the rate again, down to a few hundred req/s.
    ctl = RateController()
    for i in range(100_000):  # 20 s of fake time
        now = i / 5000
        ticket = ctl.try_take(now)
        if ticket is not None:
            ctl.record(now, i % every == every - 1, None, ticket)
    stats = ctl.stats()
    assert stats.throttled >= 100_000 // every - 1
    assert stats.ceiling is None and stats.rate is None  # never paced


def test_a_share_of_throttles_lowers_the_rate() -> None:
    ctl = RateController()
    for i in range(10_000):  # 1 s at 5,000 req/s, then 1 s with one in 20 refused
        now = i / 5000
        ticket = ctl.try_take(now)
        if ticket is not None:
            ctl.record(now, i >= 5_000 and i % 20 == 0, None, ticket)
    stats = ctl.stats()
    assert stats.ceiling is not None and stats.rate is not None and stats.rate < 5000


def test_a_given_limit_is_never_exceeded() -> None:
    run, ctl = simulate(15.0, total=200, rate_limit=10.0)
    assert run.throttled == 0
    assert run.finished >= (200 - 1) / 10
    assert ctl.rate() == 10.0


def test_a_given_limit_above_the_account_limit_adapts_down() -> None:
    run, ctl = simulate(15.0, total=600, rate_limit=40.0)
    assert run.share <= 0.05
    stats = ctl.stats()
    assert stats.ceiling is not None and stats.ceiling <= 18
    assert stats.limit == 40.0


def test_retry_after_pauses_every_caller_and_restarts_one_by_one() -> None:
    clock = FakeClock()
    ctl = RateController(clock=clock, seed=0)
    ticket = ctl.take(0.0)
    clock.now = 0.01
    ctl.record(0.01, True, 2.0, ticket)
    assert ctl.wait_time(0.5) >= 1.5
    assert ctl.wait_time(2.0) > 0  # nobody goes before the pause ends
    end = 2.01 + ctl.wait_time(2.01)
    assert 2.01 <= end <= 2.01 + 0.2 + 1.0
    # After the pause: one at a time, spaced by the rate (no burst of everyone).
    ctl.take(end)
    assert ctl.wait_time(end) > 0


def test_one_decrease_per_throttling_event() -> None:
    clock = FakeClock()
    ctl = RateController(clock=clock)
    tickets = [ctl.take(i * 0.01) for i in range(30)]
    for i in range(20):
        ctl.record(0.3 + i * 0.001, False, None, tickets[i])
    ctl.record(0.33, True, None, tickets[20])
    first = ctl.rate(0.34)
    for i, t in enumerate(tickets[21:]):  # in flight when the first throttle came back
        ctl.record(0.34 + i * 0.001, True, None, t)
    assert ctl.rate(0.36) == pytest.approx(first, rel=0.05)
    assert first is not None and first < 30


def test_switched_off_and_unlimited_never_waits() -> None:
    ctl = RateController(adaptive=False)
    for i in range(1000):
        assert ctl.wait_time(i * 1e-5) == 0.0
        ctl.take(i * 1e-5)
    ctl.record(0.02, True, None, None)
    assert ctl.rate() is None


def test_slow_start_paces_the_first_burst_then_stops() -> None:
    ctl = RateController()
    for _ in range(15):  # Clarifai's default account limit goes at once
        assert ctl.wait_time(0.0) == 0.0
        ctl.take(0.0)
    assert ctl.wait_time(0.0) == pytest.approx(1 / 150)  # then 150 req/s at first
    assert ctl.rate(0.005) == pytest.approx(300.0)  # doubling every 5 ms
    assert ctl.rate(0.05) is None  # past any account's limit within some milliseconds


def test_the_slow_start_ramp_begins_where_the_first_burst_ran_out() -> None:
    # A client that used its burst over minutes still paces the request after it:
    # the ramp is what protects an account whose limit is not known yet.
    ctl = RateController()
    for i in range(15):
        now = 10.0 * i
        assert ctl.wait_time(now) == 0.0
        ctl.take(now)
    assert ctl.rate(140.0) == pytest.approx(150.0)
    assert ctl.wait_time(140.0) > 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        RateController(0)
    with pytest.raises(ValueError, match="beta"):
        RateController(beta=1.0)


async def test_gate_serves_waiters_in_order_and_skips_the_cancelled() -> None:
    gate = RateLimiter(RateController(20.0))
    order: list[int] = []

    async def one(i: int) -> None:
        await gate.acquire()
        order.append(i)
        gate.record(False, None)

    tasks = [asyncio.create_task(one(i)) for i in range(6)]
    await asyncio.sleep(0)
    tasks[3].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [0, 1, 2, 4, 5]
    assert gate.stats().requests == 5


async def test_gate_pause_holds_waiters() -> None:
    clock = FakeClock()
    gate = RateLimiter(RateController(1000.0, clock=clock))
    await gate.acquire()
    gate.record(True, 30.0)  # a long pause on the fake clock
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    clock.now = 40.0
    gate.record(False, None)  # anything that re-times the gate would do; the timer fires anyway
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


@pytest.mark.parametrize("adaptive", [True, False])
def test_try_take_is_wait_time_then_take(adaptive: bool) -> None:
    # The grant's short path (unpaced) must leave the controller exactly as the long one.
    fast, slow = RateController(adaptive=adaptive), RateController(adaptive=adaptive)
    for i in range(3000):  # through the slow start (paced), then unpaced
        now = i * 0.001
        wait = slow.wait_time(now)
        expected = slow.take(now) if wait <= 0.0 else None
        assert fast.try_take(now) == expected
        if i == 2000:  # throttles (3% of the last second): the learned ceiling paces both
            for _ in range(30):
                fast.record(now, True, None, expected)
                slow.record(now, True, None, expected)
    # An unpaced controller never reads its bucket, so the short path does not keep it;
    # the throttle above repaces the adaptive one, which then agrees in every field.
    unread = () if adaptive else ("_tokens", "_stamp")
    for name in RateController.__slots__:
        if name not in ("clock", "_rng", *unread):
            assert getattr(fast, name) == getattr(slow, name), name
    assert fast.stats() == slow.stats()


def test_the_windows_stay_about_a_second_long_when_nothing_reads_them() -> None:
    # Unpaced grants and accepted answers only append; the windows must still shed
    # what is a second old, or a long job's controller grows without bound.
    ctl = RateController()
    rate = 2000  # grants per second of fake time
    for i in range(100_000):  # 50 s
        now = i / rate
        ticket = ctl.try_take(now)  # None now and then in the slow start
        if ticket is not None:
            ctl.record(now, False, None, ticket)
    assert ctl.rate(now) is None  # the slow start is long over: unpaced throughout
    for window in (ctl._sent, ctl._accepted):
        assert rate <= len(window) <= rate + 256
        assert window[0] > now - 1.0 - 256 / rate
    # What a throttle reads is exactly the last second, however lazily it was pruned:
    # the 40th refusal (2% of the 2,000 sent) lowers the rate to what was accepted.
    for _ in range(39):
        ctl.record(now, True, None, now)
    assert ctl.stats().ceiling is None
    ctl.record(now, True, None, now)
    assert ctl.stats().ceiling == pytest.approx(rate, abs=1)
