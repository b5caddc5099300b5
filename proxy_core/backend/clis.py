"""Every Claude Code process the backend runs, from its spawn to its end, in one place.

A request leases a CLI and gives it back. The lease comes, in this order, from the
conversation the request continues (a CLI kept after its last turn: only the last
message is sent), from the warm spares of the request's shape, or from a fresh spawn;
should a kept or spare CLI turn out to be gone before it answered, the next one is
offered. Given back with a keep key, the CLI is kept for the conversation's next turn;
without one it is ended, and the request's slot is held until it is gone, so the
concurrency limit bounds processes.

Here live the live set (ended at shutdown), the orphan guard (a crashed proxy's CLIs,
ended at the next start), the kept conversations, the spares and when they start, and
the owner's wait for the keep-or-end decision after a clean turn. The backend only
turns a request into a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import shutil
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions

from proxy_core.backend.base import BackendRequest
from proxy_core.backend.cli_session import CLISession, Turn
from proxy_core.backend.conversations import ConversationStore, conversation_key
from proxy_core.backend.failures import start_failure
from proxy_core.backend.options import spawn_key, system_prompt_folder
from proxy_core.backend.orphans import OrphanGuard
from proxy_core.backend.warm_pool import WarmPool
from proxy_core.config import Settings
from proxy_core.errors import BackendTimeoutError, BackendUnavailableError
from proxy_core.usage.quota import QuotaBoard

# Shapes whose last new conversation is remembered (see NewConversationPace).
SHAPES_REMEMBERED = 64
# A new conversation that begins sooner than this after the shape's last one ended comes "in
# a row": the quiet rule would have its spare up only ~1.2 s after that end (0.3 s of quiet,
# then the start), too late for it.
IN_A_ROW_GAP_S = 1.5
# Sooner than this, it comes "fast": a spare started as the last one ended (a start takes
# 0.55-0.7 s alone on two cores, bench/pacing.py) would still be starting.
FAST_GAP_S = 0.7
SHUTDOWN_WAIT_S = 5.0
# Spares kept ready for a shape whose new conversations come fast (see warm_pool).
SPARES_WHEN_FAST = 2


class Shape:
    """What a request's CLI is fixed to at spawn, worked out once per request."""

    def __init__(
        self, request: BackendRequest, options_for: Callable[[BackendRequest], ClaudeAgentOptions]
    ) -> None:
        self._request = request
        self._options_for = options_for
        self.key = spawn_key(request)

    @cached_property
    def options(self) -> ClaudeAgentOptions:
        return self._options_for(self._request)


class Pace(enum.Enum):
    """How a shape's new conversations come, and so when the spare for its next one starts."""

    # Apart, or continued: once turns pause (warm_pool's quiet rule), not to slow a next turn.
    APART = "apart"
    # In a row, a second or so apart (a quick script): as this turn ends. Started beside the
    # turn it would slow it (1 s apart: 120 -> 200 ms to the first text), and it is up in time.
    IN_A_ROW = "in a row"
    # In a row, sooner than a CLI starts (a tool, an agent framework's side calls): now,
    # beside this turn, and two deep once the client outran one (see warm_pool).
    FAST = "fast"


class NewConversationPace:
    """Per shape, when its last new conversation ended, to tell a client that sends new
    conversations in a row from one that pauses or continues conversations."""

    def __init__(self) -> None:
        # key -> when its last new conversation ended; None while one runs.
        self._ended: OrderedDict[str, float | None] = OrderedDict()

    def begin(self, key: str, *, new: bool) -> Pace:
        """Note a request of ``key``: how long after the end of the shape's last new
        conversation it comes, when both are new conversations (beside it: fast)."""
        if not new:
            self._ended.pop(key, None)  # a next turn: this client continues conversations
            return Pace.APART
        pace = Pace.APART
        if key in self._ended:
            ended = self._ended[key]
            gap = 0.0 if ended is None else time.monotonic() - ended
            if gap < FAST_GAP_S:
                pace = Pace.FAST
            elif gap < IN_A_ROW_GAP_S:
                pace = Pace.IN_A_ROW
        self._ended[key] = None
        self._ended.move_to_end(key)
        while len(self._ended) > SHAPES_REMEMBERED:
            self._ended.popitem(last=False)
        return pace

    def end(self, key: str, *, new: bool) -> None:
        if new and key in self._ended:  # else a next turn came meanwhile: not in a row
            self._ended[key] = time.monotonic()


@dataclass
class Lease:
    """A CLI lent to one request: what to send it, and how the request may give it back."""

    session: CLISession
    to_send: list[dict[str, Any]]
    keep: bool  # the request may keep it for a next turn
    last: bool  # no other CLI would be offered should this one be gone


class CLIs:
    def __init__(
        self,
        settings: Settings,
        options_for: Callable[[BackendRequest], ClaudeAgentOptions],
        quota: QuotaBoard,
        *,
        session_class: type[CLISession] = CLISession,  # a stand-in in the unit tests
    ) -> None:
        self._settings = settings
        self._options_for = options_for
        self._quota = quota
        self._session_class = session_class
        self._closed = False
        self._live: set[CLISession] = set()
        self._orphans = OrphanGuard(settings.data_dir / "cli-processes")
        self._orphans.reap()
        # The CLIs that read these files are gone (reaped just now): start with none.
        shutil.rmtree(system_prompt_folder(settings), ignore_errors=True)
        self.conversations = ConversationStore(settings.conversations)
        self._requests_running = 0
        self._pace = NewConversationPace()
        self.pool = WarmPool(
            settings.warm_pool,
            self.spawn,
            ttl_s=settings.conversation_ttl_s,
            quiet=lambda: self._requests_running == 0,
        )

    def shape(self, request: BackendRequest) -> Shape:
        return Shape(request, self._options_for)

    @contextlib.contextmanager
    def request_running(self) -> Iterator[None]:
        """Spares that wait for quiet wait until no request runs (see warm_pool)."""
        self._requests_running += 1
        try:
            yield
        finally:
            self._requests_running -= 1

    async def spawn(self, options: ClaudeAgentOptions) -> CLISession:
        """A new CLI, connected; the SDK's start failures become the proxy's errors here."""
        if self._closed:  # a request wound down by the shutdown must not start a CLI
            raise BackendUnavailableError("The proxy is shutting down.")
        session = self._session_class(
            options,
            orphans=self._orphans,
            idle_ttl_s=self._settings.conversation_ttl_s,
            on_closing=self.conversations.forget,
            on_exit=self._live.discard,
            on_rate_limit=self._quota.report,
        )
        self._live.add(session)
        try:
            async with asyncio.timeout(self._settings.idle_timeout_s):
                await session.start()
        except TimeoutError:
            session.abort()
            raise BackendTimeoutError("The Claude Code CLI did not start in time.") from None
        except Exception as error:
            session.abort()
            raise start_failure(error) from error
        except BaseException:
            session.abort()  # the client left while the CLI was starting
            raise
        return session

    async def leases(self, request: BackendRequest, shape: Shape) -> AsyncGenerator[Lease, None]:
        """The CLIs to try for ``request``, best first; the caller takes the next one only when
        the one before was gone before it answered."""
        if not request.keep or request.agent:
            yield Lease(await self.spawn(shape.options), request.messages, keep=False, last=True)
            return
        kept = self.conversations.claim(conversation_key(shape.key, request.messages[:-1]))
        pace = self._pace.begin(shape.key, new=kept is None)
        try:
            if kept is not None:
                yield Lease(kept, request.messages[-1:], keep=True, last=False)
            spare = await self.pool.take(shape.key)
            if spare is not None:
                self._refill_fast(shape, pace)
                yield Lease(spare, request.messages, keep=True, last=False)
            session = await self.spawn(shape.options)
            self._refill_fast(shape, pace)
            yield Lease(session, request.messages, keep=True, last=True)
        finally:
            self._pace.end(shape.key, new=kept is None)
            # A spare starting beside a turn slows it (bench/pacing): after the turn.
            self.pool.refill(
                shape.key,
                lambda: shape.options,
                at_once=pace is Pace.IN_A_ROW,
                depth=_depth(pace),
            )

    async def give_back(
        self, lease: Lease, turn: Turn, *, keep_key: str | None, answered: bool
    ) -> None:
        """Keep the CLI under ``keep_key`` for the next turn, or end it (always, once the
        shutdown has begun: the kept CLIs are ended already, a late one would outlive it)."""
        if keep_key is not None and lease.keep and not self._closed:
            # Kept at once: the next turn may come before this turn's result. Should the
            # result prove unclean, the session ends and that next turn is rebuilt.
            self.conversations.park(keep_key, lease.session)
            turn.decide(True)
            return
        turn.decide(False)
        if not answered or lease.keep:
            lease.session.abort()
        # else: a one-off that answered ends by itself after its result, which lets the CLI
        # report the subscription's windows first (they come after the answer).
        await lease.session.wait_closed(SHUTDOWN_WAIT_S)
        lease.session.abort()  # should it have outlived the wait

    def _refill_fast(self, shape: Shape, pace: Pace) -> None:
        """New conversations that come fast (an agent framework sends them 0.3 s apart,
        sooner than a CLI starts): the next one's spare starts now, while this turn waits
        for the model, and is taken all the same if it is still starting; the one after it
        starts once that one is up (bench/pacing.py)."""
        if pace is Pace.FAST:
            self.pool.refill(shape.key, lambda: shape.options, at_once=True, depth=_depth(pace))

    def counts(self) -> dict[str, int]:
        return {"kept": len(self.conversations), "spares": len(self.pool)}

    async def aclose(self) -> None:
        """End every CLI: spares, kept ones and any a request left behind."""
        self._closed = True
        await self.pool.aclose()
        self.conversations.close_all()
        live = list(self._live)
        for session in live:
            session.abort()
        tasks = [session.task for session in live if session.task is not None]
        if tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT_S)


def _depth(pace: Pace) -> int:
    return SPARES_WHEN_FAST if pace is Pace.FAST else 1
