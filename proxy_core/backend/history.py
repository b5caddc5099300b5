"""The caller's conversation as the CLI's stdin frames.

Earlier turns are written one frame at a time: assistant frames are appended
at once, user frames carry ``shouldQuery: false`` and are acknowledged by a
result with no turn, so order is kept exactly. The last user message is a
normal frame and starts the model's turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Frame:
    payload: dict[str, Any]
    # A history user frame: the CLI answers it with a result that must be read.
    awaits_ack: bool


def _as_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def history_frames(messages: list[dict[str, Any]]) -> list[Frame]:
    """Frames for every message; the last one (a user message) starts the turn."""
    frames: list[Frame] = []
    last = len(messages) - 1
    for position, message in enumerate(messages):
        if message["role"] == "assistant":
            payload: dict[str, Any] = {
                "type": "assistant",
                "message": {"role": "assistant", "content": _as_blocks(message["content"])},
                "parent_tool_use_id": None,
            }
            frames.append(Frame(payload, awaits_ack=False))
            continue
        payload = {
            "type": "user",
            "message": {"role": "user", "content": message["content"]},
            "parent_tool_use_id": None,
        }
        if position != last:
            payload["shouldQuery"] = False
        frames.append(Frame(payload, awaits_ack=position != last))
    return frames
