"""Views of the backend's event stream in the Anthropic dialect: SSE frames and one message.

Both views read the same events. Usage is exact: the upstream's
``message_start`` usage (input and cache tokens) merged with the final
``message_delta`` usage (output tokens), as the API's own clients do.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from typing import Any

from proxy_core.backend.base import StreamEventData
from proxy_core.errors import ProxyError


def error_body(error: ProxyError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error.kind, "message": error.message}}


def sse_frame(event: StreamEventData) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


PING_FRAME = sse_frame({"type": "ping"})


def sse_error_frame(error: ProxyError) -> bytes:
    return sse_frame(error_body(error))


def merged_usage(start_usage: dict[str, Any], delta_usage: dict[str, Any]) -> dict[str, Any]:
    """The final usage: the delta's counts are cumulative and win over the start's."""
    usage = dict(start_usage)
    usage.update({key: value for key, value in delta_usage.items() if value is not None})
    return usage


class SSEView:
    """Turns backend events into SSE frames, making the final delta's usage complete.

    When the upstream is slow to start, :meth:`early_start` sends a ``message_start`` of the
    proxy's own; the upstream's arrives later and only lends its usage to the final delta.
    """

    def __init__(self) -> None:
        self._start_usage: dict[str, Any] = {}
        self._started_early = False

    def early_start(self, *, model: str) -> bytes:
        self._started_early = True
        message: dict[str, Any] = {
            "id": f"msg_{secrets.token_hex(12)}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return sse_frame({"type": "message_start", "message": message})

    def frames(self, event: StreamEventData) -> bytes:
        kind = event.get("type")
        if kind == "message_start":
            self._start_usage = dict(event.get("message", {}).get("usage") or {})
            if self._started_early:
                return b""
        elif kind == "message_delta":
            usage = merged_usage(self._start_usage, event.get("usage") or {})
            event = {**event, "usage": usage}
        return sse_frame(event)


def aggregate(events: Iterable[StreamEventData]) -> dict[str, Any]:
    """Fold a complete event stream into a non-streaming Messages response."""
    message: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    partial_json: dict[int, str] = {}
    for event in events:
        kind = event.get("type")
        if kind == "message_start":
            message = {**event["message"], "content": []}
        elif kind == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif kind == "content_block_delta":
            _apply_delta(blocks[event["index"]], event["delta"], partial_json, event["index"])
        elif kind == "content_block_stop":
            index = event["index"]
            if index in partial_json:
                text = partial_json.pop(index)
                blocks[index]["input"] = json.loads(text) if text else {}
        elif kind == "message_delta":
            message.update(event.get("delta") or {})
            message["usage"] = merged_usage(message.get("usage") or {}, event.get("usage") or {})
    message["content"] = [blocks[index] for index in sorted(blocks)]
    return message


def _apply_delta(
    block: dict[str, Any], delta: dict[str, Any], partial_json: dict[int, str], index: int
) -> None:
    kind = delta.get("type")
    if kind == "text_delta":
        block["text"] = block.get("text", "") + delta["text"]
    elif kind == "input_json_delta":
        partial_json[index] = partial_json.get(index, "") + delta["partial_json"]
    elif kind == "thinking_delta":
        block["thinking"] = block.get("thinking", "") + delta["thinking"]
    elif kind == "signature_delta":
        block["signature"] = delta["signature"]
    elif kind == "citations_delta":
        block.setdefault("citations", []).append(delta["citation"])
