"""Conversations that continue: a finished turn's CLI kept for the next turn.

After a clean turn the process holds exactly the conversation the caller
will send back next time, plus the model's reply. It is parked under a key
made from everything fixed at spawn and the normalised conversation. A request
whose earlier messages produce the same key claims it and sends only its last
message: no rebuild, and the upstream prompt cache sees the same prefix as the
turn before. Anything that differs (an edited message, another system prompt,
other tools) gives another key, so one conversation never sees another's
context. Processes cannot outlive the proxy, so the store lives in memory: after
a restart a conversation is rebuilt exactly from the caller's history.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from typing import Any

from proxy_core.backend.cli_session import CLISession

log = logging.getLogger(__name__)

# Keys clients add or drop when they send a message back; none changes what the model saw.
_IGNORED_KEYS = frozenset({"cache_control", "citations"})
_DROPPED_ASSISTANT_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def _normal_block(block: dict[str, Any]) -> dict[str, Any] | None:
    kind = block.get("type")
    if kind == "text":
        text = str(block.get("text", "")).strip()
        return {"type": "text", "text": text} if text else None
    if kind == "tool_use":
        return {
            "type": "tool_use",
            "id": block.get("id"),
            "name": block.get("name"),
            "input": block.get("input") or {},
        }
    if kind == "tool_result":
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": block.get("tool_use_id"),
            "content": _normal_content(block.get("content", ""), "user"),
        }
        if block.get("is_error"):
            result["is_error"] = True
        return result
    return {
        key: value for key, value in block.items() if value is not None and key not in _IGNORED_KEYS
    }


def _normal_content(content: Any, role: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        blocks: list[Any] = [{"type": "text", "text": content}]
    else:
        blocks = list(content or [])
    normal = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if role == "assistant" and block.get("type") in _DROPPED_ASSISTANT_BLOCKS:
            continue  # Claude Code drops them from history too
        kept = _normal_block(block)
        if kept is not None:
            normal.append(kept)
    return normal


def conversation_key(spawn_key: str, messages: list[dict[str, Any]]) -> str:
    normal = [
        {"role": message["role"], "content": _normal_content(message["content"], message["role"])}
        for message in messages
    ]
    text = json.dumps([spawn_key, normal], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ConversationStore:
    """Parked sessions by conversation key; the oldest goes when the store is full."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._parked: OrderedDict[str, CLISession] = OrderedDict()

    def __len__(self) -> int:
        return len(self._parked)

    def park(self, key: str, session: CLISession) -> None:
        if self._capacity <= 0:
            session.close()
            return
        previous = self._parked.pop(key, None)
        if previous is not None and previous is not session:
            previous.close()
        self._parked[key] = session
        while len(self._parked) > self._capacity:
            _, oldest = self._parked.popitem(last=False)
            oldest.close()

    def claim(self, key: str) -> CLISession | None:
        return self._parked.pop(key, None)

    def forget(self, session: CLISession) -> None:
        for key, parked in list(self._parked.items()):
            if parked is session:
                del self._parked[key]

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"id": session.session_id, "turns": session.turns, "pid": session.pid}
            for session in self._parked.values()
        ]

    def close(self, session_id: str) -> bool:
        for key, session in list(self._parked.items()):
            if session.session_id == session_id:
                del self._parked[key]
                session.close()
                return True
        return False

    def close_all(self) -> None:
        while self._parked:
            _, session = self._parked.popitem()
            session.close()
