"""The home of every CLI's life with stand-in sessions: which CLI a request is lent, what
happens when it is given back, and the races around them (a kept CLI that dies, a request
that ends during the shutdown, a start that fails or hangs)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from claude_agent_sdk import CLINotFoundError

from proxy_core.backend import clis as clis_module
from proxy_core.backend.base import BackendRequest
from proxy_core.backend.cli_session import Turn
from proxy_core.backend.clis import CLIs, Lease, NewConversationPace, Pace
from proxy_core.backend.conversations import conversation_key
from proxy_core.config import Settings
from proxy_core.errors import BackendTimeoutError, BackendUnavailableError
from proxy_core.usage.quota import QuotaBoard


class StandInCLI:
    """Enough of a CLISession for the lending rules; ``start_with`` decides how a start goes."""

    start_with: Exception | None = None
    hang = False
    made: list[StandInCLI] = []

    def __init__(self, options: Any, **hooks: Any) -> None:
        self.options = options
        self._on_closing = hooks["on_closing"]
        self._on_exit = hooks["on_exit"]
        self.closing = False
        self.task = None
        self.session_id = f"session-{len(self.made)}"
        self.turns = 0
        self.pid = None
        self.made.append(self)

    async def start(self) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if self.start_with is not None:
            raise self.start_with

    def die(self) -> None:
        if not self.closing:
            self.closing = True
            self._on_closing(self)
            self._on_exit(self)

    abort = close = die

    async def wait_closed(self, timeout_s: float) -> None:
        return None


def stand_in_clis(tmp_path: Path, *, warm_pool: int) -> CLIs:
    StandInCLI.made = []
    StandInCLI.start_with = None
    StandInCLI.hang = False
    settings = Settings(
        port=0, data_dir=tmp_path, conversations=4, warm_pool=warm_pool, idle_timeout_s=0.5
    )
    return CLIs(
        settings,
        lambda request: {"model": request.model},  # type: ignore[arg-type, return-value]
        QuotaBoard(),
        session_class=StandInCLI,  # type: ignore[arg-type]
    )


@pytest.fixture
def clis(tmp_path: Path) -> CLIs:
    return stand_in_clis(tmp_path, warm_pool=0)


def asking(*texts: str) -> BackendRequest:
    roles = ["user", "assistant"]
    return BackendRequest(
        model="sonnet",
        messages=[{"role": roles[i % 2], "content": text} for i, text in enumerate(texts)],
    )


async def leases_for(clis: CLIs, request: BackendRequest) -> list[Lease]:
    """Every lease the request would be offered, as if each CLI were gone before answering."""
    found = []
    async for lease in clis.leases(request, clis.shape(request)):
        found.append(lease)
    return found


async def first_lease(clis: CLIs, request: BackendRequest) -> Lease:
    leases = clis.leases(request, clis.shape(request))
    lease = await anext(leases)
    await leases.aclose()
    return lease


async def answered_and_kept(clis: CLIs, request: BackendRequest, reply: str) -> Lease:
    lease = await first_lease(clis, request)
    history = [*request.messages, {"role": "assistant", "content": reply}]
    key = conversation_key(clis.shape(request).key, history)
    await clis.give_back(lease, Turn([]), keep_key=key, answered=True)
    return lease


async def test_a_next_turn_gets_its_kept_cli_and_sends_only_the_last_message(clis: CLIs) -> None:
    first = await answered_and_kept(clis, asking("hi"), "hello")
    assert clis.counts()["kept"] == 1
    offered = await leases_for(clis, asking("hi", "hello", "and then?"))
    assert offered[0].session is first.session
    assert offered[0].to_send == [{"role": "user", "content": "and then?"}]
    assert not offered[0].last, "should it be gone, a new CLI is offered after it"
    assert offered[1].session is not first.session and offered[1].last
    assert len(offered[1].to_send) == 3, "the new CLI is sent the whole history"


async def test_a_kept_cli_that_dies_is_never_offered(clis: CLIs) -> None:
    first = await answered_and_kept(clis, asking("hi"), "hello")
    first.session.die()  # type: ignore[attr-defined]
    assert clis.counts()["kept"] == 0
    lease = await first_lease(clis, asking("hi", "hello", "and then?"))
    assert lease.session is not first.session and lease.last


async def test_a_cli_given_back_during_the_shutdown_is_ended_not_kept(clis: CLIs) -> None:
    request = asking("hi")
    lease = await first_lease(clis, request)
    closing = asyncio.create_task(clis.aclose())
    await asyncio.sleep(0)  # the shutdown has begun, and ended the kept CLIs there were
    key = conversation_key(clis.shape(request).key, [*request.messages])
    turn = Turn([])
    await clis.give_back(lease, turn, keep_key=key, answered=True)
    await closing
    assert lease.session.closing, "ended"
    assert clis.counts()["kept"] == 0
    assert turn.verdict.result() is False, "its owner is told not to wait for a next turn"
    with pytest.raises(BackendUnavailableError, match="shutting down"):
        await first_lease(clis, asking("one more"))


async def test_a_one_off_is_never_kept_and_ends_by_itself(clis: CLIs) -> None:
    request = BackendRequest(
        model="sonnet", messages=[{"role": "user", "content": "hi"}], keep=False
    )
    (lease,) = await leases_for(clis, request)
    assert not lease.keep and lease.last
    turn = Turn([])
    await clis.give_back(lease, turn, keep_key="anything", answered=True)
    assert clis.counts()["kept"] == 0 and turn.verdict.result() is False


async def test_start_failures_become_the_proxys_errors(clis: CLIs) -> None:
    StandInCLI.start_with = CLINotFoundError("no claude")
    with pytest.raises(BackendUnavailableError, match="CLAUDE_PROXY_CLI_PATH"):
        await first_lease(clis, asking("hi"))
    assert StandInCLI.made[-1].closing, "the half-started CLI is ended"
    StandInCLI.start_with = None
    StandInCLI.hang = True
    with pytest.raises(BackendTimeoutError, match="did not start in time"):
        await first_lease(clis, asking("hi"))
    assert StandInCLI.made[-1].closing


@pytest.fixture
def clis_with_spares(tmp_path: Path) -> CLIs:
    return stand_in_clis(tmp_path, warm_pool=2)


async def spare_ready_for(clis: CLIs, request: BackendRequest) -> StandInCLI:
    shape = clis.shape(request)
    clis.pool.refill(shape.key, lambda: shape.options, at_once=True)
    for _ in range(10):
        await asyncio.sleep(0)
    assert clis.counts()["spares"] == 1
    spare: StandInCLI = StandInCLI.made[-1]
    return spare


async def test_kept_then_spare_then_new_is_the_order_offered(clis_with_spares: CLIs) -> None:
    clis = clis_with_spares
    first = await answered_and_kept(clis, asking("hi"), "hello")
    for _ in range(10):
        await asyncio.sleep(0)
    spare = await spare_ready_for(clis, asking("hi"))
    leases = clis.leases(asking("hi", "hello", "and then?"), clis.shape(asking("hi")))
    offered = [await anext(leases) for _ in range(3)]
    await leases.aclose()
    assert [lease.session for lease in offered[:2]] == [first.session, spare]
    assert offered[2].session not in (first.session, spare) and offered[2].last
    assert [len(lease.to_send) for lease in offered] == [1, 3, 3]
    await clis.aclose()


async def test_a_spare_that_dies_while_parked_is_never_offered(clis_with_spares: CLIs) -> None:
    clis = clis_with_spares
    spare = await spare_ready_for(clis, asking("hi"))
    spare.die()
    lease = await first_lease(clis, asking("hi"))
    assert lease.session is not spare and lease.last, "a fresh CLI, started for the request"
    await clis.aclose()
    assert lease.session.closing, "the shutdown ends the CLI it had lent"


@pytest.mark.parametrize(("fast_gap_s", "beside_the_turn"), [(60.0, True), (0.0, False)])
async def test_a_spare_starts_beside_the_turn_only_for_new_conversations_that_come_fast(
    clis_with_spares: CLIs,
    monkeypatch: pytest.MonkeyPatch,
    fast_gap_s: float,
    beside_the_turn: bool,
) -> None:
    """Both come in a row (the second right as the first ended); with a gap of 0 counted as
    fast it is an agent framework's, else a quick script's, whose spare waits for the end."""
    monkeypatch.setattr(clis_module, "FAST_GAP_S", fast_gap_s)
    clis = clis_with_spares
    await first_lease(clis, asking("one"))  # a new conversation, ended
    leases = clis.leases(asking("two"), clis.shape(asking("two")))
    await anext(leases)
    for _ in range(10):
        await asyncio.sleep(0)
    assert clis.counts()["spares"] == (1 if beside_the_turn else 0)
    await leases.aclose()
    for _ in range(10):
        await asyncio.sleep(0)
    assert clis.counts()["spares"] == 1, "up for the next one as this one ends"
    await clis.aclose()


def test_the_pace_of_new_conversations_is_told_by_the_gap_since_the_last_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(clis_module.time, "monotonic", lambda: now[0])
    pace = NewConversationPace()
    assert pace.begin("shape", new=True) is Pace.APART, "the first of a shape follows nothing"
    assert pace.begin("shape", new=True) is Pace.FAST, "beside the one still running"

    def next_one_after(gap_s: float) -> Pace:
        pace.end("shape", new=True)
        now[0] += gap_s
        return pace.begin("shape", new=True)

    assert next_one_after(0.3) is Pace.FAST, "0.3 s after: an agent framework"
    assert next_one_after(clis_module.FAST_GAP_S) is Pace.IN_A_ROW, "a spare started then is up"
    assert next_one_after(1.0) is Pace.IN_A_ROW, "1 s after: a quick script"
    assert next_one_after(clis_module.IN_A_ROW_GAP_S) is Pace.APART, "the quiet rule is in time"
    pace.end("shape", new=True)
    assert pace.begin("other", new=True) is Pace.APART, "each shape has its own pace"
    assert pace.begin("shape", new=False) is Pace.APART, "a next turn"
    pace.end("shape", new=True)  # a new one that ran beside that next turn
    assert pace.begin("shape", new=True) is Pace.APART, "the client continues conversations"
