"""The backend that runs each request through claude-agent-sdk and the Claude Code CLI.

It turns a request into a turn: the CLI comes from ``clis`` (a kept conversation's,
a warm spare or a new one, see clis.py), is sent what it lacks of the caller's
history as structured frames, and the model's turn is streamed back as the
upstream's own events. After a clean turn the CLI is given back with the key of
the conversation it now holds, to be kept for the next turn; otherwise without.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions

from proxy_core.backend import caller_tools
from proxy_core.backend.agent_turn import agent_events
from proxy_core.backend.base import BackendRequest, StreamEventData
from proxy_core.backend.clis import CLIs, Lease, Shape
from proxy_core.backend.conversations import conversation_key
from proxy_core.backend.event_filters import first_tool_call_only, without_thinking
from proxy_core.backend.history import history_frames
from proxy_core.backend.options import options_for
from proxy_core.backend.turn import turn_events
from proxy_core.config import Settings
from proxy_core.errors import SessionEndedError
from proxy_core.events import MessageBuilder
from proxy_core.usage.quota import QuotaBoard

# Stops after which the CLI would call the model again by itself: end the process at once.
FOLLOW_UP_STOPS = frozenset({"max_tokens", "refusal", "model_context_window_exceeded"})


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
        self.clis = CLIs(settings, self.options_for, self.quota)

    def options_for(self, request: BackendRequest) -> ClaudeAgentOptions:
        single_use = self._settings.conversations == 0
        return options_for(request, self._settings, self._environ, single_use=single_use)

    async def stream(self, request: BackendRequest) -> AsyncIterator[StreamEventData]:
        with self.clis.request_running():
            # Closed here and now when the client leaves, so the turn's cleanup runs at once.
            async with contextlib.aclosing(self._serve(request)) as events:
                async for event in events:
                    yield event

    async def _serve(self, request: BackendRequest) -> AsyncGenerator[StreamEventData, None]:
        shape = self.clis.shape(request)
        async with contextlib.aclosing(self.clis.leases(request, shape)) as leases:
            async for lease in leases:
                try:
                    if request.agent:
                        async for event in self._agent_run(lease):
                            yield event
                    else:
                        async for event in self._turn(lease, request, shape):
                            yield event
                    return
                except SessionEndedError:
                    if lease.last:
                        raise
                    # The kept CLI or the spare went away before answering: the next one.

    async def _turn(
        self, lease: Lease, request: BackendRequest, shape: Shape
    ) -> AsyncIterator[StreamEventData]:
        turn = lease.session.send(history_frames(lease.to_send))
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
                    lease.session.abort()
                    yield event
                    yield {"type": "message_stop"}
                    finished = True
                    return
                yield event
                if event["type"] == "message_stop":
                    finished = True
                    return
        finally:
            key = self._keep_key(request, shape, reply) if finished else None
            await self.clis.give_back(lease, turn, keep_key=key, answered=finished)

    def _keep_key(self, request: BackendRequest, shape: Shape, reply: MessageBuilder) -> str | None:
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
            return conversation_key(shape.key, history)
        except (TypeError, ValueError, AttributeError):
            return None

    async def _agent_run(self, lease: Lease) -> AsyncIterator[StreamEventData]:
        turn = lease.session.send(history_frames(lease.to_send))
        try:
            async for event in agent_events(
                turn,
                idle_timeout_s=self._settings.idle_timeout_s,
                total_timeout_s=self._settings.timeout_ms / 1000,
            ):
                yield event
        finally:
            await self.clis.give_back(lease, turn, keep_key=None, answered=False)

    async def preload(self) -> None:
        """Loaded already: constructing this backend imported the SDK."""

    def list_sessions(self) -> list[dict[str, Any]]:
        return self.clis.conversations.describe()

    def cli_counts(self) -> dict[str, int]:
        return self.clis.counts()

    def end_session(self, session_id: str) -> bool:
        return self.clis.conversations.close(session_id)

    async def aclose(self) -> None:
        """End every CLI: spares, kept ones and any a request left behind."""
        await self.clis.aclose()


def _stop_reason(event: StreamEventData) -> str | None:
    delta = event.get("delta") or {}
    reason = delta.get("stop_reason")
    return reason if isinstance(reason, str) else None
