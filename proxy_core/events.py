"""Folding an Anthropic event stream into the message it describes.

Neutral ground between the backend (which keeps the reply to recognise the
conversation's next turn) and the HTTP views (the non-streaming response).
Usage is exact: the upstream's ``message_start`` usage (input and cache
tokens) merged with the final ``message_delta`` usage (output tokens).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

StreamEventData = dict[str, Any]


def merged_usage(start_usage: dict[str, Any], delta_usage: dict[str, Any]) -> dict[str, Any]:
    """The final usage: the delta's counts are cumulative and win over the start's."""
    usage = dict(start_usage)
    usage.update({key: value for key, value in delta_usage.items() if value is not None})
    return usage


class MessageBuilder:
    """Builds the message one event at a time."""

    def __init__(self) -> None:
        self._message: dict[str, Any] = {}
        self._blocks: dict[int, dict[str, Any]] = {}
        self._partial_json: dict[int, str] = {}

    def add(self, event: StreamEventData) -> None:
        kind = event.get("type")
        if kind == "message_start":
            self._message = {**event["message"], "content": []}
        elif kind == "content_block_start":
            self._blocks[event["index"]] = dict(event["content_block"])
        elif kind == "content_block_delta":
            self._apply_delta(event["index"], event["delta"])
        elif kind == "content_block_stop":
            index = event["index"]
            if index in self._partial_json:
                self._blocks[index]["input"] = _parsed_input(self._partial_json.pop(index))
        elif kind == "message_delta":
            self._message.update(event.get("delta") or {})
            self._message["usage"] = merged_usage(
                self._message.get("usage") or {}, event.get("usage") or {}
            )

    def _apply_delta(self, index: int, delta: dict[str, Any]) -> None:
        block = self._blocks[index]
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = block.get("text", "") + delta["text"]
        elif kind == "input_json_delta":
            self._partial_json[index] = self._partial_json.get(index, "") + delta["partial_json"]
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta["thinking"]
        elif kind == "signature_delta":
            block["signature"] = delta["signature"]
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta["citation"])

    @property
    def content(self) -> list[dict[str, Any]]:
        return [self._blocks[index] for index in sorted(self._blocks)]

    @property
    def message(self) -> dict[str, Any]:
        return {**self._message, "content": self.content}


def _parsed_input(text: str) -> Any:
    """A tool call's input; {} when its JSON is unreadable, as when a max_tokens stop cut it
    off (such a call never runs anyway)."""
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def aggregate(events: Iterable[StreamEventData]) -> dict[str, Any]:
    """Fold a complete event stream into a non-streaming Messages response."""
    builder = MessageBuilder()
    for event in events:
        builder.add(event)
    return builder.message
