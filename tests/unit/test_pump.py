"""EventPump: a backend stream in a task of its own, read with optional timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from proxy_core.errors import BackendError, ProxyError, RateLimitError
from proxy_core.http.pump import END, SILENCE, EventPump

Event = dict[str, Any]
MESSAGE_STOP: Event = {"type": "message_stop"}


class Producer:
    """A fake backend stream that records how it ended."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = False
        self.finally_ran = False
        self.cancelled = False
        self.completed = False

    async def stream(
        self,
        before: list[Event],
        after: list[Event] | None = None,
        error: BaseException | None = None,
        wait: bool = False,
    ) -> AsyncIterator[Event]:
        self.started = True
        try:
            for event in before:
                yield event
            if wait:
                await self.release.wait()
            for event in after or []:
                yield event
            if error is not None:
                raise error
            self.completed = True
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            self.finally_ran = True


class Finished:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


@pytest.fixture
def producer() -> Producer:
    return Producer()


@pytest.fixture
def finished() -> Finished:
    return Finished()


@pytest.fixture
def tasks() -> set[asyncio.Task[None]]:
    return set()


def events(count: int) -> list[Event]:
    return [{"type": "content_block_delta", "index": 0, "n": number} for number in range(count)]


async def drain(tasks: set[asyncio.Task[None]]) -> None:
    if tasks:
        await asyncio.wait(set(tasks), timeout=1)


async def test_events_arrive_in_order_then_end(
    producer: Producer, finished: Finished, tasks: set[asyncio.Task[None]]
) -> None:
    sent = events(5)
    pump = EventPump(producer.stream(sent), on_finished=finished, tasks=tasks)
    received = [await asyncio.wait_for(pump.next(), 0.2) for _ in sent]
    assert received == sent
    assert await asyncio.wait_for(pump.next(), 0.2) is END
    await drain(tasks)
    assert producer.completed
    assert finished.calls == 1


async def test_task_is_registered_and_removed_when_done(
    producer: Producer, finished: Finished, tasks: set[asyncio.Task[None]]
) -> None:
    pump = EventPump(producer.stream(events(1)), on_finished=finished, tasks=tasks)
    assert len(tasks) == 1
    (task,) = tasks
    await asyncio.wait_for(pump.next(), 0.2)
    await asyncio.wait_for(task, 0.2)
    await asyncio.sleep(0)
    assert tasks == set()


async def test_silence_on_timeout_does_not_cancel_the_producer(
    producer: Producer, finished: Finished, tasks: set[asyncio.Task[None]]
) -> None:
    first, late = events(2)
    pump = EventPump(producer.stream([first], [late], wait=True), on_finished=finished, tasks=tasks)
    assert await pump.next(0.2) == first
    assert await pump.next(0.02) is SILENCE
    assert await pump.next(0.02) is SILENCE
    (task,) = tasks
    assert not task.done()
    assert not producer.cancelled
    assert finished.calls == 0

    producer.release.set()
    assert await pump.next(0.2) == late
    assert await pump.next(0.2) is END
    await drain(tasks)
    assert producer.completed
    assert not producer.cancelled
    assert finished.calls == 1


async def test_next_without_a_timeout_waits_for_the_event(
    producer: Producer, finished: Finished, tasks: set[asyncio.Task[None]]
) -> None:
    (late,) = events(1)
    pump = EventPump(producer.stream([], [late], wait=True), on_finished=finished, tasks=tasks)
    reader = asyncio.create_task(pump.next())
    await asyncio.sleep(0.02)
    assert not reader.done()
    producer.release.set()
    assert await asyncio.wait_for(reader, 0.2) == late


async def test_proxy_error_is_raised_to_the_reader_after_the_events(
    producer: Producer, finished: Finished, tasks: set[asyncio.Task[None]]
) -> None:
    error = RateLimitError("slow down", retry_after=7)
    sent = events(2)
    pump = EventPump(producer.stream(sent, error=error), on_finished=finished, tasks=tasks)
    assert [await pump.next(0.2) for _ in sent] == sent
    with pytest.raises(RateLimitError) as info:
        await pump.next(0.2)
    assert info.value is error
    assert info.value.retry_after == 7
    await drain(tasks)
    assert finished.calls == 1
    assert producer.finally_ran


async def test_unexpected_exception_becomes_a_backend_error(
    producer: Producer, finished: Finished, tasks: set[asyncio.Task[None]]
) -> None:
    pump = EventPump(
        producer.stream([], error=RuntimeError("bug in the backend")),
        on_finished=finished,
        tasks=tasks,
    )
    with pytest.raises(BackendError) as info:
        await pump.next(0.2)
    assert info.value.status == 502
    # The internal error text is not passed to the client.
    assert "bug in the backend" not in info.value.message
    await drain(tasks)
    assert finished.calls == 1


async def test_on_finished_is_called_once_after_end(
    producer: Producer, finished: Finished, tasks: set[asyncio.Task[None]]
) -> None:
    pump = EventPump(producer.stream([]), on_finished=finished, tasks=tasks)
    assert await pump.next(0.2) is END
    await drain(tasks)
    pump.abandon()
    await asyncio.sleep(0)
    assert finished.calls == 1


async def test_abandon_cancels_an_unfinished_producer_and_its_finally_runs(
    producer: Producer, finished: Finished, tasks: set[asyncio.Task[None]]
) -> None:
    (first,) = events(1)
    pump = EventPump(
        producer.stream([first], events(3), wait=True), on_finished=finished, tasks=tasks
    )
    assert await pump.next(0.2) == first
    (task,) = tasks
    pump.abandon()
    await asyncio.wait({task}, timeout=0.2)
    assert task.cancelled()
    assert producer.cancelled
    assert producer.finally_ran
    assert not producer.completed
    assert finished.calls == 1


async def test_abandon_after_message_stop_lets_the_backend_clean_up(
    producer: Producer, finished: Finished, tasks: set[asyncio.Task[None]]
) -> None:
    (delta,) = events(1)
    pump = EventPump(
        producer.stream([delta, MESSAGE_STOP], wait=True), on_finished=finished, tasks=tasks
    )
    assert await pump.next(0.2) == delta
    assert await pump.next(0.2) == MESSAGE_STOP
    (task,) = tasks
    pump.abandon()
    await asyncio.sleep(0.01)
    assert not task.done()
    producer.release.set()
    await asyncio.wait({task}, timeout=0.2)
    assert not task.cancelled()
    assert producer.completed
    assert not producer.cancelled
    assert finished.calls == 1


async def test_abandon_after_an_error_does_not_cancel(
    producer: Producer, finished: Finished, tasks: set[asyncio.Task[None]]
) -> None:
    pump = EventPump(
        producer.stream([], error=ProxyError("boom")), on_finished=finished, tasks=tasks
    )
    with pytest.raises(ProxyError):
        await pump.next(0.2)
    pump.abandon()
    await drain(tasks)
    assert not producer.cancelled
    assert finished.calls == 1


async def test_abandon_while_the_reader_waits_on_silence(
    producer: Producer, finished: Finished, tasks: set[asyncio.Task[None]]
) -> None:
    pump = EventPump(producer.stream([], wait=True), on_finished=finished, tasks=tasks)
    assert await pump.next(0.02) is SILENCE
    pump.abandon()
    await drain(tasks)
    assert producer.cancelled
    assert producer.finally_ran
    assert finished.calls == 1


async def test_abandon_before_the_task_starts_still_calls_on_finished(
    producer: Producer, finished: Finished, tasks: set[asyncio.Task[None]]
) -> None:
    pump = EventPump(producer.stream(events(1), wait=True), on_finished=finished, tasks=tasks)
    (task,) = tasks
    pump.abandon()
    await asyncio.wait({task}, timeout=0.2)
    assert task.done()
    assert finished.calls == 1
