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
    RateLimitEvent,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
)

from proxy_core import errors
from proxy_core.backend.cli_session import SessionEnded, Turn
from proxy_core.backend.failures import failure_to_error
from proxy_core.events import StreamEventData

log = logging.getLogger(__name__)

SYNTHETIC_MODEL = "<synthetic>"


class _Failure:
    """A failure the CLI announced; its HTTP status arrives with the result."""

    def __init__(self, category: str | None, text: str) -> None:
        self.category = category
        self.text = text


def _failure_error(
    failure: _Failure | None, status: int | None, resets_at: int | None, fallback: str
) -> errors.ProxyError:
    if failure is None:
        if status is None:
            return errors.OverloadedError(fallback)
        return failure_to_error(None, fallback, status)
    return failure_to_error(failure.category, failure.text, status, rate_limit_resets_at=resets_at)


def _text_of(message: AssistantMessage) -> str:
    return " ".join(block.text for block in message.content if isinstance(block, TextBlock))


async def turn_events(
    turn: Turn, *, idle_timeout_s: float, total_timeout_s: float
) -> AsyncIterator[StreamEventData]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total_timeout_s
    started = False
    failure: _Failure | None = None
    resets_at: int | None = None
    while True:
        wait = min(idle_timeout_s, deadline - loop.time())
        try:
            async with asyncio.timeout(max(wait, 0.001)):
                message = await turn.next_message()
        except TimeoutError:
            raise errors.BackendTimeoutError(
                "The model sent nothing for too long; the request was ended."
            ) from None
        if isinstance(message, Exception):
            raise message
        if isinstance(message, SessionEnded):
            if started:
                raise errors.BackendError("The Claude Code CLI ended in the middle of its answer.")
            raise errors.SessionEndedError("The Claude Code CLI ended without an answer.")

        if isinstance(message, StreamEvent):
            if message.parent_tool_use_id is not None:
                continue
            event = message.event
            kind = event.get("type")
            if not started:
                if kind != "message_start":
                    continue
                started = True
            elif kind == "message_delta" and not event.get("delta", {}).get("stop_reason"):
                # The CLI closes a broken stream with a delta that has no stop reason.
                raise _failure_error(failure, None, resets_at, "The upstream stream broke.")
            yield event
            if kind == "message_stop":
                return
        elif isinstance(message, AssistantMessage):
            if message.error or message.model == SYNTHETIC_MODEL:
                failure = _Failure(message.error, _text_of(message))
                if started:
                    raise _failure_error(failure, None, resets_at, "The upstream stream broke.")
        elif isinstance(message, RateLimitEvent):
            if message.rate_limit_info.status == "rejected":
                resets_at = message.rate_limit_info.resets_at
        elif isinstance(message, SystemMessage):
            if message.subtype == "api_retry":
                log.info("CLI retrying the upstream call: %s", message.data.get("error_status"))
        elif isinstance(message, ResultMessage):
            if failure is not None or message.is_error:
                raise _failure_error(
                    failure, message.api_error_status, resets_at, "The request failed."
                )
            raise errors.BackendError("The Claude Code CLI finished without a response.")
