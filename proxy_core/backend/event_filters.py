"""Filters over a turn's event stream, for what Claude Code cannot be told to do.

Each drops whole content blocks and renumbers the ones after them, so the
stream stays a valid Anthropic stream with contiguous block indexes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from proxy_core.events import StreamEventData

THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})


async def _drop_blocks(
    events: AsyncIterator[StreamEventData],
    drop: Callable[[dict[str, object]], bool],
) -> AsyncIterator[StreamEventData]:
    """Drop every content block for which ``drop(block)`` is true when it starts."""
    new_index: dict[int, int] = {}
    kept = 0
    async for event in events:
        kind = event.get("type")
        if kind == "content_block_start":
            if drop(event["content_block"]):
                continue
            new_index[event["index"]] = kept
            kept += 1
        if kind in ("content_block_start", "content_block_delta", "content_block_stop"):
            if event["index"] not in new_index:
                continue
            if new_index[event["index"]] != event["index"]:
                event = {**event, "index": new_index[event["index"]]}
        yield event


def without_thinking(events: AsyncIterator[StreamEventData]) -> AsyncIterator[StreamEventData]:
    """For callers that did not ask for thinking, on models that think regardless."""
    return _drop_blocks(events, lambda block: block.get("type") in THINKING_BLOCKS)


def first_tool_call_only(events: AsyncIterator[StreamEventData]) -> AsyncIterator[StreamEventData]:
    """Drop every content block after the first complete ``tool_use`` block."""
    seen_tool = False

    def after_first_tool(block: dict[str, object]) -> bool:
        nonlocal seen_tool
        if seen_tool:
            return True
        seen_tool = block.get("type") == "tool_use"
        return False

    return _drop_blocks(events, after_first_tool)
