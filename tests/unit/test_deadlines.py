"""The deadline sweep: one timer per time slice enforces many calls' total timeouts."""

from __future__ import annotations

import asyncio
import math
import sys
import time

import pytest

from aioclarifai._deadlines import COARSE_SLICE, SLICE, DeadlineSweep, Slice


def _cancelling(task: asyncio.Task[object]) -> int:
    return int(task.cancelling())  # type: ignore[attr-defined,unused-ignore]  # 3.11+


async def _guarded(sweep: DeadlineSweep, deadline: float, work: float) -> str:
    """Sleep ``work`` seconds under ``deadline``: "done", or "expired" when the sweep cut it."""
    task = asyncio.current_task()
    assert task is not None
    watched = sweep.watch(deadline, task)
    assert watched is not None
    try:
        await asyncio.sleep(work)
        return "done"
    except asyncio.CancelledError:
        if watched.expired(task):
            return "expired"
        raise
    finally:
        sweep.unwatch(watched, task)


async def test_a_call_past_its_deadline_is_cut_within_one_slice() -> None:
    sweep = DeadlineSweep(asyncio.get_running_loop())
    started = time.monotonic()
    assert await _guarded(sweep, started + 0.1, 10) == "expired"
    elapsed = time.monotonic() - started
    assert 0.1 <= elapsed < 0.1 + SLICE + 0.1  # never early; late by at most a slice (+ slack)
    assert sweep.watched == 0


async def test_a_call_that_finishes_in_time_is_untouched_and_forgotten() -> None:
    sweep = DeadlineSweep(asyncio.get_running_loop())
    assert await _guarded(sweep, time.monotonic() + 5, 0.01) == "done"
    assert sweep.watched == 0
    task = asyncio.current_task()
    assert task is not None and _cancelling(task) == 0
    sweep.close()
    assert sweep.pending == 0


async def test_calls_with_nearby_deadlines_share_one_timer() -> None:
    sweep = DeadlineSweep(asyncio.get_running_loop())
    # Aligned to the start of a slice, so all 100 deadlines fall in the same one.
    base = (int(time.monotonic() / SLICE) + 20) * SLICE + SLICE / 1000
    calls = [asyncio.create_task(_guarded(sweep, base + i * SLICE / 1000, 10)) for i in range(100)]
    await asyncio.sleep(0)
    assert sweep.pending == 1
    assert sweep.watched == 100
    assert await asyncio.gather(*calls) == ["expired"] * 100
    assert sweep.pending == 0 and sweep.watched == 0


async def test_someone_elses_cancellation_is_not_a_timeout() -> None:
    sweep = DeadlineSweep(asyncio.get_running_loop())
    call = asyncio.create_task(_guarded(sweep, time.monotonic() + 5, 10))
    await asyncio.sleep(0.01)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert sweep.watched == 0
    sweep.close()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 counts no cancellations")
async def test_an_owner_cancelling_as_the_deadline_passes_still_cancels() -> None:
    sleeper = asyncio.create_task(asyncio.sleep(10))
    await asyncio.sleep(0)
    fired = Slice()
    fired.fired = True
    sleeper.cancel()  # the sweep's
    sleeper.cancel()  # and the owner's, in the same loop pass
    assert not fired.expired(sleeper)  # one cancellation is left: it is not a timeout
    assert _cancelling(sleeper) == 1
    with pytest.raises(asyncio.CancelledError):
        await sleeper
    alone = asyncio.create_task(asyncio.sleep(10))
    await asyncio.sleep(0)
    alone.cancel()  # the sweep's only
    assert fired.expired(alone)
    assert _cancelling(alone) == 0
    with pytest.raises(asyncio.CancelledError):
        await alone  # (its sleep was cancelled all the same)
    assert not Slice().expired(alone)  # a slice that never fired cut nobody


async def test_close_cancels_the_pending_timers() -> None:
    loop = asyncio.get_running_loop()
    sweep = DeadlineSweep(loop)
    task = asyncio.current_task()
    assert task is not None
    watched = sweep.watch(time.monotonic() + 60, task)
    assert watched is not None
    sweep.unwatch(watched, task)
    assert sweep.pending == 1
    sweep.close()
    assert sweep.pending == 0
    assert watched.handle is not None and watched.handle.cancelled()


async def test_a_deadline_already_passed_is_not_watched() -> None:
    sweep = DeadlineSweep(asyncio.get_running_loop())
    task = asyncio.current_task()
    assert task is not None
    assert sweep.watch(time.monotonic() - 0.001, task) is None
    assert sweep.pending == 0 and sweep.watched == 0


async def test_far_deadlines_share_coarser_slices() -> None:
    sweep = DeadlineSweep(asyncio.get_running_loop())
    task = asyncio.current_task()
    assert task is not None
    now = time.monotonic()
    start = (int((now + 60) / COARSE_SLICE) + 1) * COARSE_SLICE  # a quarter-second boundary
    for i in range(50):  # 50 deadlines spread over 0.2 s, a minute away: one timer
        watched = sweep.watch(start + 0.001 + i * 0.004, task)
        assert watched is not None
        sweep.unwatch(watched, task)
    assert sweep.pending == 1
    near = sweep.watch(time.monotonic() + 1.0, task)  # under FAR: the fine slices
    assert near is not None and near.handle is not None
    assert near.handle.when() - asyncio.get_running_loop().time() < 1.0 + SLICE + 0.05
    sweep.unwatch(near, task)
    sweep.close()


async def test_the_sweeps_task_getter_is_the_running_task() -> None:
    sweep = DeadlineSweep(asyncio.get_running_loop())
    assert sweep.current_task() is asyncio.current_task()

    async def inner() -> bool:
        return sweep.current_task() is asyncio.current_task()

    assert await asyncio.create_task(inner())


def test_under_uvloop_no_call_is_cut_before_its_deadline() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> list[float]:
        sweep = DeadlineSweep(asyncio.get_running_loop())
        late: list[float] = []
        for _ in range(20):
            # On a slice boundary: the timer is due at the deadline itself.
            deadline = math.ceil((time.monotonic() + 0.02) / SLICE) * SLICE
            time.sleep(0.005)  # noqa: ASYNC251 - on purpose: the loop's clock reading goes stale
            assert await _guarded(sweep, deadline, 10) == "expired"
            late.append(time.monotonic() - deadline)
        return late

    late = uvloop.run(main())
    assert min(late) >= 0.0  # never early, whatever the loop's clock
