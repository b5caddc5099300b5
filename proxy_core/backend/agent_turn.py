"""An agent run (Claude Code's own tools, many model calls) as one Anthropic message.

The caller did not define the tools the agent uses and must not run them, so
only what the agent says reaches it: the text blocks of every model call,
numbered as one message, then one ``message_delta`` with the run's stop reason
and usage summed over all its calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from claude_agent_sdk import ResultMessage, StreamEvent

from proxy_core import errors
from proxy_core.backend.cli_session import Turn
from proxy_core.backend.turn import FailureWatch, Watchdog
from proxy_core.events import StreamEventData

FORWARDED_BLOCKS = frozenset({"text"})
USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


async def agent_events(
    turn: Turn, *, idle_timeout_s: float, total_timeout_s: float
) -> AsyncIterator[StreamEventData]:
    watchdog = Watchdog(turn, idle_timeout_s=idle_timeout_s, total_timeout_s=total_timeout_s)
    failures = FailureWatch()
    # Index of each forwarded block in the current model call -> its index in our message.
    renumbered: dict[int, int] = {}
    next_index = 0
    async for message in watchdog.messages():
        if isinstance(message, StreamEvent):
            event = message.event
            kind = event.get("type")
            if kind == "message_start":
                renumbered = {}
                if not watchdog.started:
                    watchdog.started = True
                    yield event
            elif kind == "content_block_start":
                if event["content_block"].get("type") in FORWARDED_BLOCKS:
                    renumbered[event["index"]] = next_index
                    next_index += 1
                    yield {**event, "index": renumbered[event["index"]]}
            elif kind in ("content_block_delta", "content_block_stop") and (
                event["index"] in renumbered
            ):
                yield {**event, "index": renumbered[event["index"]]}
        elif failures.observe(message):
            continue
        elif isinstance(message, ResultMessage):
            if failures.text is not None or message.is_error or not watchdog.started:
                if message.subtype == "error_max_turns":
                    raise errors.BackendError(
                        "The agent used all its turns before finishing; ask for a smaller step."
                    )
                raise failures.error(message.api_error_status, "The agent run failed.")
            usage = {key: (message.usage or {}).get(key, 0) for key in USAGE_KEYS}
            yield {
                "type": "message_delta",
                "delta": {"stop_reason": message.stop_reason or "end_turn", "stop_sequence": None},
                "usage": usage,
            }
            yield {"type": "message_stop"}
            return
