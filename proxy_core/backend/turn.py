"""One turn's SDK messages as the Anthropic stream events a client should see.

Forwards the upstream's own events from the first ``message_start`` to its
``message_stop``; turns the CLI's ways of reporting failure (a synthetic
assistant message, a result carrying the HTTP status, a stream closed without
a stop reason) into ProxyErrors; and runs the watchdog.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from claude_agent_sdk import (
    AssistantMessage,
    Message,
    RateLimitEvent,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
)

from proxy_core import errors
from proxy_core.backend.cli_session import SessionEnded, Turn
from proxy_core.backend.failures import DEFAULT_RETRY_AFTER_S, failure_to_error
from proxy_core.events import StreamEventData

log = logging.getLogger(__name__)

SYNTHETIC_MODEL = "<synthetic>"


class Watchdog:
    """Reads a turn's messages, failing when the model is silent or the request too long."""

    def __init__(self, turn: Turn, *, idle_timeout_s: float, total_timeout_s: float) -> None:
        self._turn = turn
        self._idle_timeout_s = idle_timeout_s
        self._deadline = asyncio.get_running_loop().time() + total_timeout_s
        self.started = False

    async def messages(self) -> AsyncIterator[Message]:
        """The turn's messages, without the stream events of sub-agents."""
        while True:
            message = await self.next()
            if not (isinstance(message, StreamEvent) and message.parent_tool_use_id is not None):
                yield message

    async def next(self) -> Message:
        wait = min(self._idle_timeout_s, self._deadline - asyncio.get_running_loop().time())
        try:
            async with asyncio.timeout(max(wait, 0.001)):
                message = await self._turn.next_message()
        except TimeoutError:
            raise errors.BackendTimeoutError(
                "The model sent nothing for too long; the request was ended."
            ) from None
        if isinstance(message, Exception):
            raise message
        if isinstance(message, SessionEnded):
            if self.started:
                raise errors.BackendError("The Claude Code CLI ended in the middle of its answer.")
            raise errors.SessionEndedError("The Claude Code CLI ended without an answer.")
        return message


class FailureWatch:
    """Collects how the CLI announces a failure; its HTTP status arrives with the result."""

    def __init__(self) -> None:
        self.category: str | None = None
        self.text: str | None = None
        self.resets_at: int | None = None

    def observe(self, message: Message) -> bool:
        """Takes what concerns failures; True when the message was a failure report."""
        if isinstance(message, AssistantMessage) and (
            message.error or message.model == SYNTHETIC_MODEL
        ):
            self.category = message.error
            self.text = " ".join(b.text for b in message.content if isinstance(b, TextBlock))
            return True
        if isinstance(message, RateLimitEvent) and message.rate_limit_info.status == "rejected":
            self.resets_at = message.rate_limit_info.resets_at
        elif isinstance(message, SystemMessage) and message.subtype == "api_retry":
            log.info("CLI retrying the upstream call: %s", message.data.get("error_status"))
        return False

    def error(self, status: int | None, fallback: str) -> errors.ProxyError:
        if self.text is None:
            if status is None:
                return errors.OverloadedError(fallback, retry_after=DEFAULT_RETRY_AFTER_S)
            return failure_to_error(None, fallback, status)
        return failure_to_error(
            self.category, self.text, status, rate_limit_resets_at=self.resets_at
        )


async def turn_events(
    turn: Turn, *, idle_timeout_s: float, total_timeout_s: float
) -> AsyncIterator[StreamEventData]:
    watchdog = Watchdog(turn, idle_timeout_s=idle_timeout_s, total_timeout_s=total_timeout_s)
    failures = FailureWatch()
    async for message in watchdog.messages():
        if isinstance(message, StreamEvent):
            event = message.event
            kind = event.get("type")
            if not watchdog.started:
                if kind != "message_start":
                    continue
                watchdog.started = True
            elif kind == "message_delta" and not event.get("delta", {}).get("stop_reason"):
                # The CLI closes a broken stream with a delta that has no stop reason.
                raise failures.error(None, "The upstream stream broke.")
            yield event
            if kind == "message_stop":
                return
        elif failures.observe(message):
            if watchdog.started:
                raise failures.error(None, "The upstream stream broke.")
        elif isinstance(message, ResultMessage):
            if failures.text is not None or message.is_error:
                raise failures.error(message.api_error_status, "The request failed.")
            raise errors.BackendError("The Claude Code CLI finished without a response.")
