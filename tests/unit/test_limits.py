"""ConcurrencyGate: a few requests run, a bounded queue waits, the rest are refused."""

from __future__ import annotations

import asyncio

import pytest

from proxy_core.errors import OverloadedError, QueueFullError, RateLimitError
from proxy_core.limits import ConcurrencyGate


async def settle() -> None:
    """Let every ready task run until it blocks."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_acquires_up_to_the_limit_without_waiting() -> None:
    gate = ConcurrencyGate(limit=3, max_queue=0, queue_timeout_s=1)
    for expected in (1, 2, 3):
        await asyncio.wait_for(gate.acquire(), timeout=0.1)
        assert gate.active == expected
    assert gate.queued == 0


async def test_limit_is_respected_and_release_admits_a_waiter() -> None:
    gate = ConcurrencyGate(limit=2, max_queue=5, queue_timeout_s=5)
    await gate.acquire()
    await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await settle()
    assert not waiter.done()
    assert gate.active == 2
    assert gate.queued == 1

    gate.release()
    await asyncio.wait_for(waiter, timeout=0.2)
    assert gate.active == 2
    assert gate.queued == 0


async def test_waiters_are_admitted_in_arrival_order() -> None:
    gate = ConcurrencyGate(limit=1, max_queue=5, queue_timeout_s=5)
    await gate.acquire()
    admitted: list[int] = []

    async def wait(number: int) -> None:
        await gate.acquire()
        admitted.append(number)

    waiters = [asyncio.create_task(wait(number)) for number in range(3)]
    await settle()
    assert gate.queued == 3
    for _ in range(3):
        gate.release()
        await settle()
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=0.2)
    assert admitted == [0, 1, 2]
    assert gate.active == 1


async def test_never_more_than_limit_run_at_once() -> None:
    gate = ConcurrencyGate(limit=2, max_queue=10, queue_timeout_s=5)
    running = 0
    peak = 0

    async def work() -> None:
        nonlocal running, peak
        await gate.acquire()
        try:
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.005)
        finally:
            running -= 1
            gate.release()

    await asyncio.wait_for(asyncio.gather(*(work() for _ in range(8))), timeout=1)
    assert peak == 2
    assert gate.active == 0
    assert gate.queued == 0


async def test_full_queue_is_refused_at_once_with_retry_after() -> None:
    gate = ConcurrencyGate(limit=1, max_queue=1, queue_timeout_s=5)
    await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await settle()
    assert gate.queued == 1

    with pytest.raises(QueueFullError) as info:
        await asyncio.wait_for(gate.acquire(), timeout=0.1)
    error = info.value
    assert isinstance(error, RateLimitError)
    assert error.status == 429
    assert error.kind == "rate_limit_error"
    assert error.retry_after == 5
    assert "1 requests running and 1 waiting" in error.message
    assert "CLAUDE_PROXY_MAX_CONCURRENT=1" in error.message
    # The refusal changed nothing.
    assert gate.active == 1
    assert gate.queued == 1

    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_no_queue_means_refusal_as_soon_as_the_limit_is_reached() -> None:
    gate = ConcurrencyGate(limit=1, max_queue=0, queue_timeout_s=5)
    await gate.acquire()
    with pytest.raises(QueueFullError):
        await gate.acquire()
    gate.release()
    await asyncio.wait_for(gate.acquire(), timeout=0.1)
    assert gate.active == 1


async def test_queue_timeout_is_overloaded() -> None:
    gate = ConcurrencyGate(limit=1, max_queue=1, queue_timeout_s=0.05)
    await gate.acquire()
    with pytest.raises(OverloadedError) as info:
        await asyncio.wait_for(gate.acquire(), timeout=1)
    error = info.value
    assert error.status == 529
    assert error.kind == "overloaded_error"
    assert "0.05 s" in error.message
    assert error.retry_after is not None and error.retry_after > 0
    assert error.should_retry is True
    assert gate.active == 1
    assert gate.queued == 0


async def test_a_timed_out_waiter_does_not_take_the_slot() -> None:
    gate = ConcurrencyGate(limit=1, max_queue=1, queue_timeout_s=0.05)
    await gate.acquire()
    with pytest.raises(OverloadedError):
        await gate.acquire()
    gate.release()
    assert gate.active == 0
    await asyncio.wait_for(gate.acquire(), timeout=0.1)
    assert gate.active == 1
    # The slot is really held: the next caller has to wait (and times out).
    with pytest.raises(OverloadedError):
        await gate.acquire()


async def test_cancelled_waiter_leaves_the_queue() -> None:
    gate = ConcurrencyGate(limit=1, max_queue=1, queue_timeout_s=5)
    await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await settle()
    assert gate.queued == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert gate.queued == 0
    assert gate.active == 1
    # Its place in the queue is free again.
    second = asyncio.create_task(gate.acquire())
    await settle()
    assert gate.queued == 1
    gate.release()
    await asyncio.wait_for(second, timeout=0.2)
    assert gate.active == 1
