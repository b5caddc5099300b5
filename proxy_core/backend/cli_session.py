"""One Claude Code process, owned by one task for its whole life.

claude-agent-sdk ties a client to the task that connected it: disconnecting
from any other task breaks its cancel scopes. A process that outlives one
request (a conversation's next turn, later a warm pool) therefore needs an
owner task of its own. Requests talk to it through queues: a turn goes into
the inbox, the turn's SDK messages come back through that turn's outbox.

Ending a session is always the owner's job: ``abort()`` cancels the owner,
whose cleanup interrupts, disconnects and, if need be, kills the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from claude_agent_sdk import (
    ClaudeAgentOptions,
    ClaudeSDKClient,
    Message,
    RateLimitEvent,
    ResultMessage,
    SystemMessage,
)

from proxy_core import errors
from proxy_core.backend.history import Frame
from proxy_core.backend.orphans import OrphanGuard

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 3.0


class SessionEnded:
    """Put in a turn's outbox when the process ended before the turn did."""


SESSION_ENDED = SessionEnded()
TurnItem = Message | Exception | SessionEnded


VERDICT_WAIT_S = 5.0


@dataclass
class Turn:
    frames: list[Frame]
    outbox: asyncio.Queue[TurnItem] = field(default_factory=asyncio.Queue)
    # Whether the requester keeps the session for a next turn, decided once it had its
    # answer. The owner waits for it after a clean result and ends the session on False.
    verdict: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    async def next_message(self) -> TurnItem:
        return await self.outbox.get()

    def decide(self, keep: bool) -> None:
        if not self.verdict.done():
            self.verdict.set_result(keep)


class CLISession:
    def __init__(
        self,
        options: ClaudeAgentOptions,
        *,
        orphans: OrphanGuard,
        idle_ttl_s: float,
        on_closing: Callable[[CLISession], None] = lambda session: None,
        on_exit: Callable[[CLISession], None] = lambda session: None,
        on_rate_limit: Callable[[dict[str, Any]], object] = lambda raw: None,
    ) -> None:
        self._options = options
        self._on_rate_limit = on_rate_limit
        self._orphans = orphans
        self._idle_ttl_s = idle_ttl_s
        self._on_closing = on_closing
        self._on_exit = on_exit
        self._inbox: asyncio.Queue[Turn | None] = asyncio.Queue()
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None
        self._aborted = asyncio.Event()
        self._current: Turn | None = None
        self._closing = False
        self.session_id: str | None = None
        self.pid: int | None = None
        self.turns = 0

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    @property
    def closing(self) -> bool:
        """Ended or on its way out: a turn sent now would only learn SESSION_ENDED."""
        return self._closing

    async def start(self) -> None:
        """Spawn the CLI and wait until it is connected; raises what the SDK raised if not."""
        self._task = asyncio.get_running_loop().create_task(self._own(), name="cli-session")
        await asyncio.shield(self._ready)

    def send(self, frames: list[Frame]) -> Turn:
        turn = Turn(frames)
        if self._closing:
            turn.outbox.put_nowait(SESSION_ENDED)  # the requester starts over elsewhere
        else:
            self._inbox.put_nowait(turn)
        return turn

    async def wait_closed(self, timeout_s: float) -> None:
        if self._task is not None and not self._task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)

    def abort(self) -> None:
        """End the CLI now, in the middle of a turn if need be."""
        self._aborted.set()
        if not self._ready.done() and self._task is not None:
            # Still connecting: cancelling makes the SDK's connect clean up after itself.
            self._task.cancel()

    def close(self) -> None:
        """End after the current turn, if any."""
        self._inbox.put_nowait(None)

    async def _own(self) -> None:
        client = ClaudeSDKClient(self._options)
        process: Any = None
        try:
            try:
                await client.connect()
            except Exception as error:  # the spawner says what it means (failures.start_failure)
                self._fail_start(error)
                return
            process = _cli_process(client)
            if process is not None:
                self.pid = process.pid
                self._orphans.track(process.pid)
            self._ready.set_result(None)
            await self._serve_until_aborted(client)
        except Exception as exc:
            # The CLI died or broke its protocol. The turn learns it below as SESSION_ENDED,
            # which lets a request that had no answer yet start over in a new CLI.
            log.warning("CLI session failed: %s", exc)
        finally:
            # Before any await: no new turn may be queued for a session on its way out.
            self._closing = True
            self._on_closing(self)
            self._fail_start(errors.BackendUnavailableError("The CLI did not start."))
            if self._current is not None:
                self._current.outbox.put_nowait(SESSION_ENDED)
            while not self._inbox.empty():
                pending = self._inbox.get_nowait()
                if pending is not None:
                    pending.outbox.put_nowait(SESSION_ENDED)
            await _close(client, process)
            if self.pid is not None:
                self._orphans.untrack(self.pid)
            self._on_exit(self)

    def _fail_start(self, error: Exception) -> None:
        if not self._ready.done():
            self._ready.set_exception(error)
            # Marked as seen: when nobody is waiting any more (an aborted start), asyncio
            # would otherwise log "Future exception was never retrieved".
            self._ready.exception()

    async def _serve_until_aborted(self, client: ClaudeSDKClient) -> None:
        # Turns run in a task of their own that an abort cancels, so this owner task is
        # never cancelled itself and its cleanup (disconnect) runs undisturbed.
        serving = asyncio.get_running_loop().create_task(self._serve(client))
        aborting = asyncio.get_running_loop().create_task(self._aborted.wait())
        try:
            await asyncio.wait({serving, aborting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (serving, aborting):
                task.cancel()
            await asyncio.gather(serving, aborting, return_exceptions=True)
        if not serving.cancelled() and serving.exception() is not None:
            raise serving.exception()  # type: ignore[misc]

    async def _serve(self, client: ClaudeSDKClient) -> None:
        while True:
            try:
                # A fresh session gets its first turn at once; an idle one ends after the TTL.
                async with asyncio.timeout(self._idle_ttl_s if self.turns else None):
                    turn = await self._inbox.get()
            except TimeoutError:
                log.debug("CLI session %s idle too long; closing", self.session_id)
                return
            if turn is None:
                return
            self._current = turn
            self.turns += 1
            result = await self._run(client, turn)
            self._current = None
            if result is None or not _is_clean(result):
                return
            try:
                async with asyncio.timeout(VERDICT_WAIT_S):
                    if not await turn.verdict:
                        return
            except TimeoutError:
                return

    async def _run(self, client: ClaudeSDKClient, turn: Turn) -> ResultMessage | None:
        for frame in turn.frames[:-1]:
            await client.query(_one(frame.payload))
            if frame.awaits_ack:
                async for message in client.receive_response():
                    self._note(message)
                    if isinstance(message, ResultMessage) and message.is_error:
                        turn.outbox.put_nowait(
                            errors.BackendError("The CLI refused a history message.")
                        )
                        return None
        await client.query(_one(turn.frames[-1].payload))
        async for message in client.receive_messages():
            self._note(message)
            turn.outbox.put_nowait(message)
            if isinstance(message, ResultMessage):
                return message
        turn.outbox.put_nowait(SESSION_ENDED)
        return None

    def _note(self, message: Message) -> None:
        """What the session keeps of a message, whoever reads the turn."""
        if isinstance(message, SystemMessage) and message.subtype == "init":
            self.session_id = message.data.get("session_id", self.session_id)
        elif isinstance(message, RateLimitEvent):
            # The subscription's windows, often sent after the turn's last stream event.
            try:
                self._on_rate_limit(message.rate_limit_info.raw)
            except Exception:
                log.exception("Could not take the CLI's rate-limit report")


def _is_clean(result: ResultMessage) -> bool:
    """A turn that left the CLI's history exactly as the caller will see it."""
    return not result.is_error and result.stop_reason in (
        "end_turn",
        "tool_deferred",
        "stop_sequence",
    )


async def _one(payload: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield payload


def _cli_process(client: ClaudeSDKClient) -> Any:
    # A private attribute, read defensively: the process handle is only a safety net.
    transport = getattr(client, "_transport", None)
    process = getattr(transport, "_process", None)
    return process if hasattr(process, "returncode") and hasattr(process, "kill") else None


async def _close(client: ClaudeSDKClient, process: Any) -> None:
    """Interrupt, then disconnect; a CLI that outlives both is killed."""
    # The owner may be being cancelled; finish cleaning up regardless.
    with contextlib.suppress(Exception, asyncio.CancelledError):
        async with asyncio.timeout(1.0):
            await client.interrupt()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await client.disconnect()
    if process is not None and process.returncode is None:
        log.warning("CLI process %s outlived its session; killing it", process.pid)
        with contextlib.suppress(ProcessLookupError, OSError):
            process.kill()
