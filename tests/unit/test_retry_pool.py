"""The connection budget that pool timeouts and cancellation safety rest on (no sockets)."""

from __future__ import annotations

import asyncio

import pytest

from aioclarifai._aiohttp import ConnectionBudget


async def test_free_slots_are_taken_without_waiting() -> None:
    budget = ConnectionBudget(2, asyncio.get_running_loop())
    assert budget.try_take() and budget.try_take()
    assert not budget.try_take()
    assert budget.in_use == 2
    budget.give()
    budget.give()
    assert budget.in_use == 0


async def test_slots_go_to_waiters_in_order() -> None:
    budget = ConnectionBudget(1, asyncio.get_running_loop())
    assert budget.try_take()
    order: list[int] = []

    async def waiter(n: int) -> None:
        assert await budget.take(None)
        order.append(n)
        budget.give()

    tasks = [asyncio.create_task(waiter(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert not budget.try_take()  # nobody jumps the queue
    budget.give()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    assert budget.in_use == 0


async def test_wait_times_out() -> None:
    budget = ConnectionBudget(1, asyncio.get_running_loop())
    assert budget.try_take()
    assert not await budget.take(0.01)
    budget.give()
    assert budget.in_use == 0
    assert budget.try_take()  # the timed-out waiter left the queue


async def test_cancelled_waiter_leaves_the_queue() -> None:
    budget = ConnectionBudget(1, asyncio.get_running_loop())
    assert budget.try_take()
    task = asyncio.create_task(budget.take(None))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    budget.give()
    assert budget.in_use == 0


async def test_slot_handed_to_a_cancelled_waiter_is_passed_on() -> None:
    # The race asyncio.wait_for(sem.acquire()) loses on 3.11: the slot is granted,
    # then the waiter is cancelled before it runs. The slot must not leak and the
    # cancellation must not be swallowed.
    budget = ConnectionBudget(1, asyncio.get_running_loop())
    assert budget.try_take()
    first = asyncio.create_task(budget.take(None))
    second = asyncio.create_task(budget.take(None))
    await asyncio.sleep(0)
    budget.give()  # granted to `first`...
    first.cancel()  # ...which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await first
    assert first.cancelled()
    assert await second  # the slot moved on
    assert budget.in_use == 1
    budget.give()
    assert budget.in_use == 0


async def test_close_fails_waiters() -> None:
    budget = ConnectionBudget(1, asyncio.get_running_loop())
    assert budget.try_take()
    task = asyncio.create_task(budget.take(None))
    await asyncio.sleep(0)
    budget.close()
    with pytest.raises(RuntimeError, match="closed"):
        await task
    budget.give()
    assert budget.in_use == 0
