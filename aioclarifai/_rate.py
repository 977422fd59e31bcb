"""Client-side rate control: one controller per client (one account) in front of every attempt.

Clarifai limits requests per second per account (15 by default) and answers
beyond the limit with HTTP 429 / 11005, often without ``Retry-After``. A job
that ignores this spends its time being throttled; one that pauses every
throttled caller on its own sends a burst the moment the pauses end.

:class:`RateController` is the policy (no I/O, a clock passed in, so it is
tested with a fake clock); :class:`RateLimiter` puts it in front of the
attempts of one event loop (the core calls ``await gate.acquire()`` right
before sending and ``gate.record(throttled, retry_after)`` once the answer is
classified).

The policy, after botocore's ``adaptive`` retry mode (a token bucket switched
on by the first throttle whose rate then follows a CUBIC curve), with three
changes that matter for an account limit measured per second:

- **What the limit is, learned from the answers.** On a throttle the new
  ceiling is the number of requests the account *accepted* in the last
  second (capped by the rate in force), not botocore's sending rate: right
  after a burst the sending rate is far above the limit, the accepted count
  is the limit itself. The rate then drops to ``beta`` times that ceiling
  and climbs back along ``W(t) = C (t - K)^3 + W_max``: fast at first, flat
  near the ceiling (where throttling starts), probing slowly beyond it in
  case the limit was raised. It never exceeds twice what the client really
  sent in the last second (an idle client does not bank a burst).
- **One decrease per event.** The requests already on their way when the
  first throttle came back are throttled too; reacting to each would divide
  the rate again and again. Each grant carries a ticket (its time), and a
  throttle of a request granted before the last decrease is ignored.
- **Only a share of throttles is a limit.** Beyond an account's limit the
  bucket refuses everything over it, a large share of the requests at once;
  throttles under 2% of what was sent in the last second (one now and then
  among thousands of accepted answers: a proxy's, one busy server's) are
  retried like any other but do not lower the rate. Botocore's mode decreases
  on each: at one in a thousand, a client sending 10,000 requests/s would be
  brought down to a few hundred. (A slow client, with few requests a second,
  cannot tell the two apart and decreases.)
- **A short slow start.** Before the first throttle the rate is not off: a
  first burst of ``start_burst`` requests (15, Clarifai's default account
  limit) goes at once, however slowly it is used; the request after it waits
  ``1 / start_rate`` (about 7 ms, longer than a refusal takes to come back
  from a nearby server), and from there the rate doubles every ``doubling``
  (5 ms) until it is effectively unlimited, some 30 ms later. A batch job
  opens with dozens of concurrent requests: on an account at the default
  limit the first refusal is back before more than one or two others went
  out; on one with room to spare the pause costs the client's first burst a
  few milliseconds, once (a ramp measured in tenths of a second would cost a
  cold job more than its whole first round of requests takes). Over a long
  round trip more of the opening requests are refused, once, and the
  controller learns the limit from them as from any throttle.

``Retry-After`` pauses every caller at once (the end jittered by up to 10%)
and the bucket restarts empty, so requests resume one by one at the current
rate instead of all together (no thundering herd).

Why not aiolimiter (installed, well kept): its ``AsyncLimiter`` has a fixed
rate set at construction and no notion of a pause; the adaptive controller
changes its rate on every answer and stops everyone on a ``Retry-After``,
so the bucket is the twenty lines below it would otherwise have to wrap.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import random
import time
from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateController", "RateLimiter", "RateStats"]

_WINDOW = 1.0  # seconds: Clarifai states its limit per second
_PRUNE_EVERY = 255  # mask: the windows drop their old stamps every 256 grants
#: Throttles under this share of the requests sent in the last second do not lower
#: the rate. Over an account's limit the bucket refuses everything beyond it, a
#: large share at once; a refusal now and then among thousands of accepted answers
#: (a proxy's, one busy server's) says nothing about the limit, and decreasing on
#: each would bring a fast client down to a few hundred requests/s at one in a
#: thousand (each is still retried like any throttle).
_RARE = 0.02


@dataclass(frozen=True, slots=True)
class RateStats:
    """What a controller did so far (see :meth:`RateController.stats`)."""

    requests: int
    """Attempts granted."""
    throttled: int
    """Answers that were throttling (429 / 11005)."""
    pauses: int
    """``Retry-After`` pauses applied to every caller."""
    rate: float | None
    """Requests/s in force now (None: no limit)."""
    ceiling: float | None
    """The account limit as last learned from a throttle (None: never throttled)."""
    limit: float | None
    """The limit the user gave (``Client(rate_limit=...)``), if any."""


class RateController:
    """The rate policy for one account: a token bucket whose rate adapts to throttling.

    Args:
        rate_limit: requests/s the user knows the account allows (a hard
            ceiling); None: learn it.
        adaptive: lower the rate on throttling answers (on by default);
            with ``rate_limit=None`` and ``adaptive=False`` nothing is limited
            (a ``Retry-After`` still pauses every caller).
        clock: seconds, monotonic (tests pass a fake one).
        start_burst, start_rate, doubling: the slow start before the first throttle.
        beta: the share of the ceiling the rate drops to on a throttle.
        scale: ``C`` of the CUBIC curve, in requests/s per s³.
        min_rate: the rate never drops below this.
        seed: seeds the jitter of pauses (None: random).
    """

    __slots__ = (
        "_accepted", "_beta", "_cut_at", "_doubling", "_k", "_min_rate", "_paused_until",
        "_pauses", "_refused", "_requests", "_rng", "_scale", "_sent", "_slow_start",
        "_stamp", "_start_rate", "_started", "_throttled", "_tokens", "_w_max",
        "adaptive", "clock", "limit",
    )  # fmt: skip

    def __init__(
        self,
        rate_limit: float | None = None,
        *,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
        start_burst: float = 15.0,
        start_rate: float = 150.0,
        doubling: float = 0.005,
        beta: float = 0.85,
        scale: float = 0.4,
        min_rate: float = 0.5,
        seed: int | None = None,
    ) -> None:
        if rate_limit is not None and not rate_limit > 0:
            raise ValueError("rate_limit must be > 0 requests per second")
        for name, value in (("start_rate", start_rate), ("doubling", doubling),
                            ("scale", scale), ("min_rate", min_rate)):  # fmt: skip
            if not value > 0:
                raise ValueError(f"{name} must be > 0")
        if not 0 < beta < 1:
            raise ValueError("beta must be between 0 and 1")
        self.limit = float(rate_limit) if rate_limit is not None else None
        self.adaptive = adaptive
        self.clock = clock
        self._start_rate = start_rate
        self._doubling = doubling
        self._beta = beta
        self._scale = scale
        self._min_rate = min(min_rate, self.limit) if self.limit else min_rate
        self._rng = random.Random(seed)
        self._started: float | None = None  # the first burst ran out: the ramp counts from here
        self._slow_start = adaptive and self.limit is None
        self._cut_at = -math.inf  # time of the last decrease
        self._w_max: float | None = None  # the ceiling learned at the last decrease
        self._k = 0.0
        self._tokens = max(1.0, start_burst) if self._slow_start else 1.0
        self._stamp = -math.inf
        self._paused_until = -math.inf
        # Stamps in time order, as C doubles: a float object kept for a second per
        # request would be freed cold (a cache miss or two on every call).
        self._sent: array[float] = array("d")
        self._accepted: array[float] = array("d")
        self._refused: array[float] = array("d")
        self._requests = 0
        self._throttled = 0
        self._pauses = 0

    def __repr__(self) -> str:
        return f"<RateController limit={self.limit} adaptive={self.adaptive} rate={self.rate()}>"

    # -- the rate --------------------------------------------------------------------

    def rate(self, now: float | None = None) -> float | None:
        """Requests/s in force at ``now`` (None: unlimited)."""
        now = self.clock() if now is None else now
        if self._w_max is not None:
            t = now - self._cut_at - self._k
            rate = self._scale * t * t * t + self._w_max
            # Never bank more than twice what was really sent lately (nor below the ceiling).
            rate = min(rate, max(self._w_max, 2.0 * _count(self._sent, now)))
            if self.limit is not None:
                rate = min(rate, self.limit)
            return max(self._min_rate, rate)
        if self.limit is not None:
            return self.limit
        if self._slow_start:
            if self._started is None:
                return self._start_rate
            doublings = (now - self._started) / self._doubling
            rate = self._start_rate * math.pow(2.0, min(doublings, 64.0))
            if rate < 1e4:
                return rate
            self._slow_start = False  # effectively unlimited: stop pacing
        return None

    def _refill(self, now: float, rate: float | None) -> None:
        if rate is None:
            self._tokens = 1.0
        elif self._stamp == -math.inf or (self._slow_start and self._started is None):
            pass  # the first grant; in the slow start, the first burst stands until used up
        elif now > self._stamp:
            burst = max(1.0, rate * 0.02)  # at most 20 ms worth at once: smooth
            self._tokens = min(max(burst, self._tokens), self._tokens + (now - self._stamp) * rate)
        self._stamp = max(self._stamp, now)

    # -- grants ----------------------------------------------------------------------

    def wait_time(self, now: float) -> float:
        """Seconds until a request may be sent (0: now)."""
        if now < self._paused_until:
            return self._paused_until - now
        rate = self.rate(now)
        self._refill(now, rate)
        if rate is None or self._tokens >= 1.0 - 1e-9:  # float dust must not spin a timer
            return 0.0
        return (1.0 - self._tokens) / rate

    def try_take(self, now: float) -> float | None:
        """:meth:`wait_time` and, when it is 0, :meth:`take`: the grant's ticket, or None."""
        if self._w_max is None and self.limit is None and not self._slow_start:
            # Unpaced (rate() is None), the usual state: no bucket to refill (take's count
            # of tokens goes unread until a throttle refills it), only a pause to respect.
            return None if now < self._paused_until else self.take(now)
        return self.take(now) if self.wait_time(now) <= 0.0 else None

    def take(self, now: float) -> float:
        """Take a token at ``now`` (after :meth:`wait_time` said 0); returns the grant's ticket."""
        self._tokens -= 1.0
        if self._started is None and self._tokens < 1.0:
            self._started = now
        self._requests += 1
        if self.adaptive:
            self._sent.append(now)
            if not self._requests & _PRUNE_EVERY:
                self._prune_windows(now)
        return now

    def _prune_windows(self, now: float) -> None:
        # The windows are pruned where they are read; on grants only often enough to stay
        # small (each answer adds to _accepted, so both grow with the grants).
        _prune(self._sent, now)
        _prune(self._accepted, now)

    # -- answers ---------------------------------------------------------------------

    def record(
        self, now: float, throttled: bool, retry_after: float | None, ticket: float | None = None
    ) -> None:
        """Learn from one classified answer; ``ticket`` is what :meth:`take` returned for it."""
        if not throttled:
            if self.adaptive:
                self._accepted.append(now)  # pruned with _sent (see _prune_windows)
            return
        self._throttled += 1
        if retry_after is not None and retry_after > 0:
            end = now + retry_after * (1.0 + 0.1 * self._rng.random())
            if end > self._paused_until:
                self._paused_until = end
                self._pauses += 1
            # Restart empty after the pause: one request at a time, not everyone at once.
            self._tokens = 0.0
            self._stamp = max(self._stamp, end)
        if ticket is not None and ticket < self._cut_at:
            return  # sent before the last decrease: that one already accounted for it
        if not self.adaptive:
            return
        self._refused.append(now)
        if _count(self._refused, now) < _RARE * _count(self._sent, now):
            return  # rare among many accepted answers: not the account's limit (see _RARE)
        rate = self.rate(now)
        self._refill(now, rate)
        # What the account took in the last second: the answers it accepted; before any
        # came back (a slow model), what was sent before this request, less what was
        # refused (what was sent after it met the same refusal).
        edge = ticket if ticket is not None else now
        sent = bisect_right(self._sent, edge) - bisect_right(self._sent, edge - _WINDOW)
        accepted = _count(self._accepted, now)
        took = accepted if accepted > 0 else sent - _count(self._refused, now)
        ceiling = max(self._min_rate, took if rate is None else min(rate, took))
        if self.limit is not None:
            ceiling = min(ceiling, self.limit)
        self._w_max = ceiling
        self._k = (ceiling * (1.0 - self._beta) / self._scale) ** (1.0 / 3.0)
        self._cut_at = now
        self._slow_start = False
        self._tokens = min(self._tokens, 0.0)

    def stats(self) -> RateStats:
        """Counters and the rate in force now."""
        return RateStats(
            requests=self._requests,
            throttled=self._throttled,
            pauses=self._pauses,
            rate=self.rate(),
            ceiling=self._w_max,
            limit=self.limit,
        )


def _prune(stamps: array[float], now: float) -> None:
    # The stamps are in time order: cut the ones a window old in one step.
    cut = bisect_right(stamps, now - _WINDOW)
    if cut:
        del stamps[:cut]


def _count(stamps: array[float], now: float) -> float:
    _prune(stamps, now)
    return float(len(stamps))


_TICKET: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "aioclarifai_rate_ticket", default=None
)


class RateLimiter:
    """A :class:`RateController` in front of the attempts of one event loop.

    ``await gate.acquire()`` returns when the attempt may be sent; waiters are
    served first come, first served, one timer for all of them (no polling).
    ``gate.record(throttled, retry_after)`` is called in the same task once
    the answer is classified: the grant's ticket travels in a context
    variable, so the controller knows when that request was sent.
    """

    __slots__ = ("_timer", "_waiters", "controller")

    def __init__(self, controller: RateController | None = None) -> None:
        self.controller = controller if controller is not None else RateController()
        self._waiters: deque[asyncio.Future[float]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<RateLimiter {self.controller!r} waiting={len(self._waiters)}>"

    async def acquire(self) -> None:
        """Wait for a slot for one attempt."""
        _TICKET.set(await self.grant())

    def record(self, throttled: bool, retry_after: float | None) -> None:
        """Learn from the answer to the attempt this task acquired a slot for."""
        self.settle(throttled, retry_after, _TICKET.get())

    def grant_now(self) -> float | None:
        """A slot's ticket if one is free now and nobody waits before us, else None.

        The core's fast path: most attempts find a slot free, and taking it
        needs no coroutine (nor :meth:`acquire`'s context variable).
        """
        if self._waiters:
            return None
        ctl = self.controller
        return ctl.try_take(ctl.clock())

    async def grant(self) -> float:
        """Wait for a slot; returns its ticket (for :meth:`settle`, when the answer is known)."""
        ticket = self.grant_now()
        if ticket is not None:
            return ticket
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._schedule()
        return await future

    def settle(self, throttled: bool, retry_after: float | None, ticket: float | None) -> None:
        """Learn from the answer to the attempt that got ``ticket`` from :meth:`grant`."""
        ctl = self.controller
        ctl.record(ctl.clock(), throttled, retry_after, ticket)
        if throttled and self._waiters:
            self._schedule()  # the rate dropped or a pause began: re-time the next grant

    def stats(self) -> RateStats:
        """The controller's counters (see :class:`RateStats`)."""
        return self.controller.stats()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._dispatch()

    def _dispatch(self) -> None:
        self._timer = None
        ctl = self.controller
        waiters = self._waiters
        while waiters:
            if waiters[0].done():  # its caller was cancelled
                waiters.popleft()
                continue
            now = ctl.clock()
            wait = ctl.wait_time(now)
            if wait > 0.0:
                loop = waiters[0].get_loop()
                self._timer = loop.call_later(wait, self._dispatch)
                return
            waiters.popleft().set_result(ctl.take(now))
