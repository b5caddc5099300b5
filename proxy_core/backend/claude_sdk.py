"""The backend that runs each request through claude-agent-sdk and the Claude Code CLI.

A request continues a parked conversation when its earlier messages match one
exactly (only its last message is sent), and otherwise gets a new CLI (a warm
spare when the pool has one for its spawn key) fed the caller's whole history
as structured frames. The model's turn is streamed back as the upstream's own
events. After a clean turn the CLI is parked for the conversation's next
request; on anything else it is ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions

from proxy_core.backend import caller_tools
from proxy_core.backend.agent_turn import agent_events
from proxy_core.backend.base import BackendRequest, StreamEventData
from proxy_core.backend.cli_session import CLISession
from proxy_core.backend.conversations import ConversationStore, conversation_key
from proxy_core.backend.event_filters import first_tool_call_only, without_thinking
from proxy_core.backend.history import history_frames
from proxy_core.backend.options import options_for, spawn_key, system_prompt_folder
from proxy_core.backend.orphans import OrphanGuard
from proxy_core.backend.turn import turn_events
from proxy_core.backend.warm_pool import WarmPool
from proxy_core.config import Settings
from proxy_core.errors import BackendTimeoutError, SessionEndedError
from proxy_core.events import MessageBuilder
from proxy_core.usage.quota import QuotaBoard

# Spawn keys whose last request the backend remembers (how it began: new or continued).
SHAPES_REMEMBERED = 64
# Stops after which the CLI would call the model again by itself: end the process at once.
FOLLOW_UP_STOPS = frozenset({"max_tokens", "refusal", "model_context_window_exceeded"})
SHUTDOWN_WAIT_S = 5.0


class ClaudeSDKBackend:
    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str] | None = None,
        *,
        quota: QuotaBoard | None = None,
    ) -> None:
        self._settings = settings
        self._environ = os.environ if environ is None else environ
        self.quota = QuotaBoard() if quota is None else quota
        self._sessions: set[CLISession] = set()
        self.conversations = ConversationStore(settings.conversations)
        self._orphans = OrphanGuard(settings.data_dir / "cli-processes")
        self._orphans.reap()
        # The CLIs that read these files are gone (reaped just now): start with none.
        shutil.rmtree(system_prompt_folder(settings), ignore_errors=True)
        self._requests_running = 0
        # Per spawn key, whether its last request began a new conversation: a client sending
        # new conversations in a row (a tool, an agent framework's side calls) gets its next
        # spare started at once; one continuing conversations gets it once turns pause.
        self._new_in_a_row: OrderedDict[str, bool] = OrderedDict()
        self.pool = WarmPool(
            settings.warm_pool,
            self._new_session,
            ttl_s=settings.conversation_ttl_s,
            quiet=lambda: self._requests_running == 0,
        )

    def options_for(self, request: BackendRequest) -> ClaudeAgentOptions:
        single_use = self._settings.conversations == 0
        return options_for(request, self._settings, self._environ, single_use=single_use)

    async def _new_session(self, options: ClaudeAgentOptions) -> CLISession:
        session = CLISession(
            options,
            orphans=self._orphans,
            idle_ttl_s=self._settings.conversation_ttl_s,
            on_closing=self.conversations.forget,
            on_exit=self._sessions.discard,
            on_rate_limit=self.quota.report,
        )
        self._sessions.add(session)
        try:
            async with asyncio.timeout(self._settings.idle_timeout_s):
                await session.start()
        except TimeoutError:
            session.abort()
            raise BackendTimeoutError("The Claude Code CLI did not start in time.") from None
        except BaseException:
            session.abort()  # the client left while the CLI was starting
            raise
        return session

    async def stream(self, request: BackendRequest) -> AsyncIterator[StreamEventData]:
        self._requests_running += 1  # the quiet rule waits for none to run (see warm_pool)
        try:
            # Closed here and now when the client leaves, so the turn's cleanup runs at once.
            async with contextlib.aclosing(self._serve(request)) as events:
                async for event in events:
                    yield event
        finally:
            self._requests_running -= 1

    async def _serve(self, request: BackendRequest) -> AsyncGenerator[StreamEventData, None]:
        if request.agent:
            async for event in self._agent_run(request):
                yield event
            return
        fixed = spawn_key(request)
        if not request.keep:
            session = await self._new_session(self.options_for(request))
            async for event in self._turn(session, request, fixed, request.messages):
                yield event
            return
        parked = self.conversations.claim(conversation_key(fixed, request.messages[:-1]))
        in_a_row = self._note_shape(fixed, new=parked is None)
        if parked is not None:
            try:
                async for event in self._turn(parked, request, fixed, request.messages[-1:]):
                    yield event
                return
            except SessionEndedError:
                pass  # the kept CLI went away before answering: rebuild the conversation
        try:
            spare = await self.pool.take(fixed)
            if spare is not None:
                self._refill_early(request, fixed, in_a_row)
                try:
                    async for event in self._turn(spare, request, fixed, request.messages):
                        yield event
                    return
                except SessionEndedError:
                    pass  # the spare died unused: start one the usual way
            session = await self._new_session(self.options_for(request))
            self._refill_early(request, fixed, in_a_row)
            async for event in self._turn(session, request, fixed, request.messages):
                yield event
        finally:
            # Otherwise after the turn: a spare starting beside a turn slows it (bench/pacing).
            self.pool.refill(fixed, lambda: self.options_for(request))

    def _note_shape(self, fixed: str, *, new: bool) -> bool:
        """Remember how this key's request began; True when it and the one before were new."""
        in_a_row = new and self._new_in_a_row.get(fixed, False)
        self._new_in_a_row[fixed] = new
        self._new_in_a_row.move_to_end(fixed)
        while len(self._new_in_a_row) > SHAPES_REMEMBERED:
            self._new_in_a_row.popitem(last=False)
        return in_a_row

    def _refill_early(self, request: BackendRequest, fixed: str, in_a_row: bool) -> None:
        """New conversations in a row come fast (an agent framework sends them 0.3 s apart):
        the next one's spare starts now, while this turn waits for the model, and is taken
        all the same if it is still starting. One, not two: a second spare starting beside a
        turn slowed that turn more than it saved (bench/pacing.py)."""
        if in_a_row:
            self.pool.refill(fixed, lambda: self.options_for(request), at_once=True)

    async def _turn(
        self,
        session: CLISession,
        request: BackendRequest,
        fixed: str,
        to_send: list[dict[str, Any]],
    ) -> AsyncIterator[StreamEventData]:
        turn = session.send(history_frames(to_send))
        reply = MessageBuilder()
        finished = False
        try:
            events = turn_events(
                turn,
                idle_timeout_s=self._settings.idle_timeout_s,
                total_timeout_s=self._settings.timeout_ms / 1000,
            )
            if not request.parallel_tool_calls:
                events = first_tool_call_only(events)
            if request.thinking is None:
                events = without_thinking(events)
            async for event in events:
                reply.add(event)
                if event["type"] == "message_delta" and _stop_reason(event) in FOLLOW_UP_STOPS:
                    # End the CLI before it asks the model to go on; the message_stop that
                    # would follow carries nothing, so it is ours to send.
                    session.abort()
                    yield event
                    yield {"type": "message_stop"}
                    finished = True
                    return
                yield event
                if event["type"] == "message_stop":
                    finished = True
                    return
        finally:
            key = self._parking_key(request, fixed, reply) if finished else None
            if key is not None:
                # Parked at once: the next turn may come before this turn's result. Should the
                # result prove unclean, the session ends and that next turn is rebuilt.
                self.conversations.park(key, session)
                turn.decide(True)
            else:
                turn.decide(False)
                if not finished or request.keep:
                    session.abort()
                # else: a one-off that answered ends by itself after its result, which lets
                # the CLI report the subscription's windows first (they come after the answer).
                # The request's slot is held until its CLI is gone, so the limit bounds processes.
                await session.wait_closed(SHUTDOWN_WAIT_S)
                session.abort()  # should it have outlived the wait

    def _parking_key(
        self, request: BackendRequest, fixed: str, reply: MessageBuilder
    ) -> str | None:
        """The key to keep this CLI under, or None when its history may differ from the caller's."""
        if self._settings.conversations == 0 or not request.keep:
            return None
        if reply.message.get("stop_reason") in FOLLOW_UP_STOPS:
            return None
        offered = {tool.name for tool in caller_tools.offered_tools(request)}
        if offered and not request.parallel_tool_calls:
            return None  # later calls may have been dropped from the reply but not the CLI
        called = {b.get("name") for b in reply.content if b.get("type") == "tool_use"}
        if not called <= offered:
            return None  # the CLI answered an unknown tool itself, in its own history
        history = [*request.messages, {"role": "assistant", "content": reply.content}]
        try:
            return conversation_key(fixed, history)
        except (TypeError, ValueError, AttributeError):
            return None

    async def _agent_run(self, request: BackendRequest) -> AsyncIterator[StreamEventData]:
        session = await self._new_session(self.options_for(request))
        turn = session.send(history_frames(request.messages))
        try:
            async for event in agent_events(
                turn,
                idle_timeout_s=self._settings.idle_timeout_s,
                total_timeout_s=self._settings.timeout_ms / 1000,
            ):
                yield event
        finally:
            turn.decide(False)
            session.abort()
            await session.wait_closed(SHUTDOWN_WAIT_S)

    async def preload(self) -> None:
        """Loaded already: constructing this backend imported the SDK."""

    def list_sessions(self) -> list[dict[str, Any]]:
        return self.conversations.describe()

    def cli_counts(self) -> dict[str, int]:
        return {"kept": len(self.conversations), "spares": len(self.pool)}

    def end_session(self, session_id: str) -> bool:
        return self.conversations.close(session_id)

    async def aclose(self) -> None:
        """End every CLI: spares, parked ones and any a request left behind."""
        await self.pool.aclose()
        self.conversations.close_all()
        sessions = list(self._sessions)
        for session in sessions:
            session.abort()
        tasks = [s.task for s in sessions if s.task is not None]
        if tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT_S)


def _stop_reason(event: StreamEventData) -> str | None:
    delta = event.get("delta") or {}
    reason = delta.get("stop_reason")
    return reason if isinstance(reason, str) else None
