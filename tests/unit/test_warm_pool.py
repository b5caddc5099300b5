"""The warm pool's rules with stand-in sessions: one spare per key (two, one after the
other, for a key that asks), bounded, single use."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from proxy_core.backend import warm_pool
from proxy_core.backend.warm_pool import WarmPool
from proxy_core.errors import BackendUnavailableError


class StandInSession:
    def __init__(self, options: Any) -> None:
        self.options = options
        self.closing = False
        self.aborted = False

    def abort(self) -> None:
        self.aborted = self.closing = True


class Spawner:
    """Starts stand-in sessions; ``gate`` holds starts until a test lets them finish."""

    def __init__(self) -> None:
        self.started: list[StandInSession] = []
        self.begun = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def __call__(self, options: Any) -> Any:
        self.begun += 1
        await self.gate.wait()
        if self.fail:
            raise BackendUnavailableError("no CLI")
        session = StandInSession(options)
        self.started.append(session)
        return session


async def settled() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def pool_of(size: int, spawn: Spawner, **options: Any) -> WarmPool:
    options = {"ttl_s": 60.0, "quiet_s": 0.0, **options}
    return WarmPool(size, spawn, **options)


async def test_a_spare_is_taken_once_and_only_by_its_key() -> None:
    spawn = Spawner()
    pool = pool_of(2, spawn)
    assert await pool.take("a") is None
    pool.refill("a", lambda: "options-a")
    await settled()
    assert len(pool) == 1
    assert await pool.take("b") is None, "another spawn key never gets it"
    taken = await pool.take("a")
    assert taken is spawn.started[0] and taken.options == "options-a"
    assert await pool.take("a") is None, "a spare serves one conversation"
    await pool.aclose()


async def test_one_spare_per_key() -> None:
    spawn = Spawner()
    pool = pool_of(3, spawn)
    for _ in range(3):
        pool.refill("a", lambda: None)
        await settled()
    assert len(spawn.started) == 1
    await pool.aclose()


async def test_the_pool_is_bounded_and_evicts_the_key_used_least_recently() -> None:
    spawn = Spawner()
    pool = pool_of(2, spawn)
    for key in ("a", "b"):
        pool.refill(key, lambda: None)
        await settled()
    pool.refill("a", lambda: None)  # "a" used again: "b" is now the oldest
    pool.refill("c", lambda: None)
    await settled()
    first_a, first_b, first_c = spawn.started
    assert first_b.aborted and not first_a.aborted
    assert await pool.take("c") is first_c and await pool.take("a") is first_a
    await pool.aclose()


async def test_starting_spares_are_not_evicted() -> None:
    spawn = Spawner()
    spawn.gate.clear()
    pool = pool_of(1, spawn)
    pool.refill("a", lambda: None)
    pool.refill("b", lambda: None)  # full, and "a" is about to be ready: nothing to evict
    spawn.gate.set()
    await settled()
    assert len(spawn.started) == 1 and await pool.take("a") is spawn.started[0]
    await pool.aclose()


async def test_a_failed_start_backs_off(monkeypatch: pytest.MonkeyPatch) -> None:
    spawn = Spawner()
    spawn.fail = True
    pool = pool_of(2, spawn)
    pool.refill("a", lambda: None)
    await settled()
    spawn.fail = False
    pool.refill("a", lambda: None)
    await settled()
    assert spawn.started == [], "no retry storm while the CLI cannot start"
    monkeypatch.setattr(warm_pool, "FAILURE_BACKOFF_S", 0.0)
    pool.refill("a", lambda: None)
    await settled()
    assert len(spawn.started) == 1
    await pool.aclose()


async def test_no_spare_when_memory_is_short_or_the_pool_is_off() -> None:
    spawn = Spawner()
    short = pool_of(2, spawn, available_memory=lambda: warm_pool.MIN_AVAILABLE_BYTES - 1)
    short.refill("a", lambda: None)
    off = pool_of(0, spawn)
    off.refill("a", lambda: None)
    await settled()
    assert spawn.started == []


async def test_an_unused_spare_expires() -> None:
    spawn = Spawner()
    pool = pool_of(2, spawn, ttl_s=0.01)
    pool.refill("a", lambda: None)
    await settled()
    await asyncio.sleep(0.05)
    assert spawn.started[0].aborted and await pool.take("a") is None
    assert len(pool) == 0


async def test_a_spare_that_died_is_not_handed_out() -> None:
    spawn = Spawner()
    pool = pool_of(2, spawn)
    pool.refill("a", lambda: None)
    await settled()
    spawn.started[0].closing = True
    assert await pool.take("a") is None
    await pool.aclose()


async def test_closing_ends_ready_and_starting_spares_and_refuses_new_ones() -> None:
    spawn = Spawner()
    pool = pool_of(2, spawn)
    pool.refill("a", lambda: None)
    await settled()
    spawn.gate.clear()
    pool.refill("b", lambda: None)  # still starting when the pool closes
    await settled()
    await pool.aclose()
    spawn.gate.set()
    await settled()
    assert [s.aborted for s in spawn.started] == [True]
    pool.refill("c", lambda: None)
    await settled()
    assert len(spawn.started) == 1, "a request wound down at shutdown starts no CLI"


async def test_spares_wait_until_no_request_has_run_for_a_while() -> None:
    spawn = Spawner()
    running = [1]
    pool = pool_of(2, spawn, quiet=lambda: running[0] == 0, quiet_s=0.02)
    pool.refill("a", lambda: None)
    await asyncio.sleep(0.06)
    assert spawn.started == [], "no start while a request runs: it would slow that request"
    running[0] = 0
    pool.refill("b", lambda: None)  # a request that just ended restarts the quiet period
    await asyncio.sleep(0.01)
    assert spawn.started == []
    await asyncio.sleep(0.05)
    assert len(spawn.started) == 2, "both wanted keys get their spare once it is quiet"
    await pool.aclose()


async def test_a_spare_still_starting_is_taken_and_waited_for() -> None:
    spawn = Spawner()
    spawn.gate.clear()
    pool = pool_of(2, spawn)
    pool.refill("a", lambda: "options-a")
    await settled()
    taking = asyncio.ensure_future(pool.take("a"))
    await settled()
    assert not taking.done(), "it waits for the rest of the start"
    spawn.gate.set()
    taken = await taking
    assert taken is spawn.started[0] and not taken.aborted
    assert len(spawn.started) == 1, "no second CLI for the same request"
    assert await pool.take("a") is None, "taken while starting: it never returns to the pool"
    await pool.aclose()
    assert not taken.aborted, "closing the pool leaves a taken spare to its request"


async def test_a_taker_that_leaves_while_the_spare_starts_ends_it() -> None:
    spawn = Spawner()
    spawn.gate.clear()
    pool = pool_of(2, spawn)
    pool.refill("a", lambda: None)
    await settled()
    taking = asyncio.ensure_future(pool.take("a"))
    await settled()
    taking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await taking
    spawn.gate.set()
    await settled()
    assert spawn.started == [] or all(s.aborted for s in spawn.started)
    await pool.aclose()


async def test_a_spare_whose_start_fails_while_taken_gives_none() -> None:
    spawn = Spawner()
    spawn.gate.clear()
    spawn.fail = True
    pool = pool_of(2, spawn)
    pool.refill("a", lambda: None)
    await settled()
    taking = asyncio.ensure_future(pool.take("a"))
    await settled()
    spawn.gate.set()
    assert await taking is None, "the request then starts its own and reports why it fails"
    await pool.aclose()


async def test_at_once_skips_the_quiet_period_for_clients_in_a_hurry() -> None:
    spawn = Spawner()
    pool = pool_of(2, spawn, quiet=lambda: False, quiet_s=0.01)
    pool.refill("a", lambda: None)
    await asyncio.sleep(0.05)
    assert spawn.started == [], "a turn is running: the quiet rule waits"
    pool.refill("b", lambda: None, at_once=True)
    await settled()
    assert len(spawn.started) == 1 and await pool.take("b") is spawn.started[0]
    await pool.aclose()


async def outrun(pool: WarmPool, spawn: Spawner, key: str) -> None:
    """Have a request of ``key`` take its spare still starting, as a fast client does."""
    spawn.gate.clear()
    pool.refill(key, lambda: None, at_once=True)
    await settled()
    taking = asyncio.ensure_future(pool.take(key))
    await settled()
    spawn.gate.set()
    assert await taking is not None
    spawn.started.clear()
    spawn.begun = 0


async def asking_two_while_starting(pool: WarmPool, spawn: Spawner, key: str) -> None:
    """A key that outran its spare asks for two; the first is held starting."""
    await outrun(pool, spawn, key)
    spawn.gate.clear()
    pool.refill(key, lambda: None, at_once=True, depth=2)
    await settled()


async def test_a_key_that_outruns_its_spare_gets_a_second_once_the_first_is_up() -> None:
    spawn = Spawner()
    pool = pool_of(3, spawn)
    await asking_two_while_starting(pool, spawn, "a")
    assert spawn.begun == 1, "one start at a time: two would compete with the turn beside them"
    spawn.gate.set()
    await settled()
    assert spawn.begun == 2 and len(pool) == 2
    first, second = spawn.started
    assert await pool.take("a") is first and await pool.take("a") is second
    assert await pool.take("a") is None
    await pool.aclose()


async def test_a_key_whose_spare_keeps_up_gets_one() -> None:
    spawn = Spawner()
    pool = pool_of(3, spawn)
    await outrun(pool, spawn, "a")
    pool.refill("a", lambda: None, at_once=True)
    await settled()
    assert await pool.take("a") is spawn.started[0], "taken ready: the spare kept up"
    pool.refill("a", lambda: None, at_once=True, depth=2)
    await settled()
    assert spawn.begun == 2 and len(pool) == 1, "a second start would only slow its turns"
    await pool.aclose()


async def test_the_second_spare_of_a_key_only_takes_a_free_place() -> None:
    spawn = Spawner()
    pool = pool_of(2, spawn)
    await outrun(pool, spawn, "a")
    pool.refill("b", lambda: None, at_once=True)
    pool.refill("a", lambda: None, at_once=True, depth=2)
    await settled()
    assert len(spawn.started) == 2 and not any(s.aborted for s in spawn.started)
    assert await pool.take("b") is spawn.started[0], "the other key's spare stays"
    await pool.aclose()


async def test_a_keys_second_spare_is_the_first_to_make_room() -> None:
    spawn = Spawner()
    pool = pool_of(2, spawn)
    await outrun(pool, spawn, "a")
    pool.refill("a", lambda: None, at_once=True, depth=2)
    await settled()
    first_a, second_a = spawn.started
    pool.refill("b", lambda: None, at_once=True)  # "a" was used last, yet gives its second
    await settled()
    assert second_a.aborted and not first_a.aborted
    assert await pool.take("a") is first_a and await pool.take("b") is spawn.started[2]
    await pool.aclose()


async def test_a_key_no_longer_in_a_row_wants_one_spare_again() -> None:
    spawn = Spawner()
    pool = pool_of(3, spawn)
    await asking_two_while_starting(pool, spawn, "a")
    pool.refill("a", lambda: None)  # a next turn of the key: one spare is enough
    spawn.gate.set()
    await settled()
    assert spawn.begun == 1 and len(pool) == 1
    await pool.aclose()


async def test_no_second_spare_starts_once_the_pool_closes() -> None:
    spawn = Spawner()
    pool = pool_of(3, spawn)
    await asking_two_while_starting(pool, spawn, "a")
    closing = asyncio.ensure_future(pool.aclose())
    await settled()
    spawn.gate.set()
    await closing
    await settled()
    assert spawn.begun == 1 and all(s.aborted for s in spawn.started)
